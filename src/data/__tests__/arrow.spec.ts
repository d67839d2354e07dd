import {
  Dictionary,
  Float64,
  Int8,
  Int32,
  Table,
  tableToIPC,
  Utf8,
  vectorFromArray
} from 'apache-arrow';

import { decodeFetchPayload, ICategoricalColumn } from '../arrow';
import { encodeFetchTable } from './payloads';

describe('decodeFetchPayload', () => {
  const geneA = Float32Array.from([0.1, 0, 2.5, 1e-7, 3.3333]);
  const geneB = Float32Array.from([0, 0, 0, 7.25, -1.5]);

  it('decodes genes, obs, embedding and cell ids of one record batch exactly', () => {
    const bytes = encodeFetchTable({
      'gene:ISG15': geneA,
      'gene:MT-CO1': geneB,
      'obs:cluster': { categorical: ['3', null, '0', '3', '0'] },
      'obs:n_counts': Float64Array.from([1200.5, 800, NaN, 1e6, 0.125]),
      'obsm:X_umap:0': Float32Array.from([1, 2, 3, 4, 5]),
      'obsm:X_umap:1': Float32Array.from([-1, -2, -3, -4, -5]),
      cell_id: ['c1', 'c2', 'c3', 'c4', 'c5']
    });
    const decoded = decodeFetchPayload(bytes);

    expect(decoded.nCells).toBe(5);
    expect([...decoded.genes.keys()]).toEqual(['ISG15', 'MT-CO1']);
    expect(decoded.genes.get('ISG15')).toEqual(geneA);
    expect(decoded.genes.get('MT-CO1')).toEqual(geneB);
    expect(decoded.genes.get('ISG15')).toBeInstanceOf(Float32Array);

    const cluster = decoded.obs.get('cluster') as ICategoricalColumn;
    expect(cluster.kind).toBe('categorical');
    expect(cluster.categories).toEqual(['3', '0']);
    expect(Array.from(cluster.codes)).toEqual([0, -1, 1, 0, 1]);

    const counts = decoded.obs.get('n_counts') as Float64Array;
    expect(counts).toBeInstanceOf(Float64Array);
    expect(Array.from(counts)).toEqual([1200.5, 800, NaN, 1e6, 0.125]);

    expect(decoded.embedding?.name).toBe('X_umap');
    expect(decoded.embedding?.dims).toEqual([
      Float32Array.from([1, 2, 3, 4, 5]),
      Float32Array.from([-1, -2, -3, -4, -5])
    ]);
    expect(decoded.cellIds).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
  });

  it('returns views into the payload for a single aligned batch', () => {
    const bytes = encodeFetchTable({
      'gene:A': geneA,
      'obs:x': Float64Array.from([1, 2, 3, 4, 5]),
      'obs:c': { categorical: ['a', 'b', 'a', 'b', 'a'] }
    });
    const decoded = decodeFetchPayload(bytes);
    expect(decoded.genes.get('A')!.buffer).toBe(bytes.buffer);
    expect((decoded.obs.get('x') as Float64Array).buffer).toBe(bytes.buffer);
    const codes = (decoded.obs.get('c') as ICategoricalColumn).codes;
    expect(codes.buffer).toBe(bytes.buffer);
    expect(Array.from(codes)).toEqual([0, 1, 0, 1, 0]);
  });

  it('copies columns out of a reply they leave mostly unused, so it can be freed', () => {
    const n = 200_000;
    const values = Float32Array.from({ length: n }, (_, i) => i % 7);
    const codes = Array.from({ length: n }, (_, i) => (i % 3 ? 'a' : 'b'));
    // Cell ids become strings: their UTF-8 (~2.4 MB) is unused once decoded
    const withIds = encodeFetchTable({
      'gene:A': values,
      'obs:c': { categorical: codes },
      cell_id: Array.from({ length: n }, (_, i) => `AAACCTGAGC-${i}`)
    });
    const decoded = decodeFetchPayload(withIds);
    const gene = decoded.genes.get('A')!;
    const cluster = decoded.obs.get('c') as ICategoricalColumn;
    expect(gene.buffer).not.toBe(withIds.buffer);
    expect(cluster.codes.buffer).not.toBe(withIds.buffer);
    expect(gene).toEqual(values);
    expect(cluster.codes[0]).toBe(cluster.categories.indexOf('b'));
    expect(decoded.cellIds![n - 1]).toBe(`AAACCTGAGC-${n - 1}`);
    // Without the ids the columns fill the reply: views, no copy
    const plain = encodeFetchTable({
      'gene:A': values,
      'obs:c': { categorical: codes }
    });
    expect(decodeFetchPayload(plain).genes.get('A')!.buffer).toBe(plain.buffer);
  });

  it('decodes a payload that starts at an unaligned offset', () => {
    const bytes = encodeFetchTable({ 'gene:A': geneA });
    const shifted = new Uint8Array(bytes.byteLength + 1);
    shifted.set(bytes, 1);
    const decoded = decodeFetchPayload(shifted.subarray(1));
    expect(decoded.genes.get('A')).toEqual(geneA);
  });

  it('joins several record batches into contiguous columns', () => {
    const bytes = encodeFetchTable(
      {
        'gene:A': Float32Array.from([1, 2, 3]),
        'obs:sample': { categorical: ['s1', null, 's2'] },
        'obs:score': Float64Array.from([0.5, 1.5, 2.5]),
        'obsm:X_pca:0': Float32Array.from([9, 8, 7]),
        cell_id: ['a', 'b', 'c']
      },
      {
        'gene:A': Float32Array.from([4, 5]),
        // A replacement dictionary in the second batch.
        'obs:sample': { categorical: ['s3', 's1'] },
        'obs:score': Float64Array.from([3.5, NaN]),
        'obsm:X_pca:0': Float32Array.from([6, 5]),
        cell_id: ['d', 'e']
      }
    );
    const decoded = decodeFetchPayload(bytes);
    expect(decoded.nCells).toBe(5);
    const gene = decoded.genes.get('A')!;
    expect(gene).toEqual(Float32Array.from([1, 2, 3, 4, 5]));
    expect(gene.buffer).not.toBe(bytes.buffer);
    const sample = decoded.obs.get('sample') as ICategoricalColumn;
    expect(sample.categories).toEqual(['s1', 's2', 's3']);
    expect(Array.from(sample.codes)).toEqual([0, -1, 1, 2, 0]);
    expect(Array.from(decoded.obs.get('score') as Float64Array)).toEqual([
      0.5,
      1.5,
      2.5,
      3.5,
      NaN
    ]);
    expect(decoded.embedding).toEqual({
      name: 'X_pca',
      dims: [Float32Array.from([9, 8, 7, 6, 5])]
    });
    expect(decoded.cellIds).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('keeps a shared dictionary across batches', () => {
    const table = new Table({
      'obs:c': vectorFromArray(
        ['x', 'y', null, 'y', 'x', 'x'],
        new Dictionary(new Utf8(), new Int32())
      )
    });
    const sliced = table.slice(0, 2).concat(table.slice(2));
    const decoded = decodeFetchPayload(tableToIPC(sliced, 'stream'));
    const column = decoded.obs.get('c') as ICategoricalColumn;
    expect(column.categories).toEqual(['x', 'y']);
    expect(Array.from(column.codes)).toEqual([0, 1, -1, 1, 0, 0]);
  });

  it('accepts int8 dictionary indices and other numeric obs types', () => {
    const table = new Table({
      'obs:leiden': vectorFromArray(
        ['1', '0', null],
        new Dictionary(new Utf8(), new Int8())
      ),
      'obs:n_genes': vectorFromArray([10, null, 30], new Int32()),
      'obs:frac': vectorFromArray([0.25, null, 1], new Float64())
    });
    const decoded = decodeFetchPayload(tableToIPC(table, 'stream'));
    const leiden = decoded.obs.get('leiden') as ICategoricalColumn;
    expect(leiden.codes).toBeInstanceOf(Int32Array);
    expect(leiden.categories).toEqual(['1', '0']);
    expect(Array.from(leiden.codes)).toEqual([0, 1, -1]);
    expect(Array.from(decoded.obs.get('n_genes') as Float64Array)).toEqual([
      10,
      NaN,
      30
    ]);
    expect(Array.from(decoded.obs.get('frac') as Float64Array)).toEqual([
      0.25,
      NaN,
      1
    ]);
  });

  it('parses names containing colons and orders embedding dimensions', () => {
    const bytes = encodeFetchTable({
      'gene:HLA:A': Float32Array.from([1, 2]),
      'obsm:spatial:hires:1': Float32Array.from([30, 40]),
      'obsm:spatial:hires:0': Float32Array.from([10, 20]),
      'obs:batch:id': { categorical: ['b', 'b'] },
      unrelated: Float32Array.from([0, 0])
    });
    const decoded = decodeFetchPayload(bytes);
    expect([...decoded.genes.keys()]).toEqual(['HLA:A']);
    expect([...decoded.obs.keys()]).toEqual(['batch:id']);
    expect(decoded.embedding).toEqual({
      name: 'spatial:hires',
      dims: [Float32Array.from([10, 20]), Float32Array.from([30, 40])]
    });
    expect(decoded.cellIds).toBeNull();
  });

  it('decodes an empty selection with its cell count', () => {
    const decoded = decodeFetchPayload(
      encodeFetchTable({ 'gene:A': new Float32Array(0) })
    );
    expect(decoded.nCells).toBe(0);
    expect(decoded.genes.get('A')).toEqual(new Float32Array(0));
    expect(decoded.embedding).toBeNull();
  });
});
