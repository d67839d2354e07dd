import {
  Dictionary,
  Float64,
  Int8,
  Int16,
  Int32,
  Table,
  tableToIPC,
  Uint8,
  Utf8,
  vectorFromArray
} from 'apache-arrow';

import {
  codeArray,
  decodeFetchPayload,
  ICategoricalColumn,
  Utf8Column
} from '../arrow';
import {
  allocateColumn,
  copyColumn,
  inSharedMemory,
  isShared,
  sharedMemoryAvailable
} from '../sharedMemory';
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
    expect([...decoded.cellIds!]).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
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

  it('keeps cell ids as UTF-8 views into the reply, strings made when read', () => {
    const n = 20_000;
    const values = Float32Array.from({ length: n }, (_, i) => i % 7);
    const ids = Array.from({ length: n }, (_, i) => `AAACCTGAGC-${i}`);
    ids[5] = 'ünïcödé-细胞-🧬';
    const bytes = encodeFetchTable({ 'gene:A': values, cell_id: ids });
    const decoded = decodeFetchPayload(bytes);
    const cellIds = decoded.cellIds as Utf8Column;
    expect(cellIds).toBeInstanceOf(Utf8Column);
    expect(cellIds.bytes.buffer).toBe(bytes.buffer);
    expect(decoded.genes.get('A')!.buffer).toBe(bytes.buffer);
    expect(cellIds.length).toBe(n);
    expect(cellIds.at(0)).toBe('AAACCTGAGC-0');
    expect(cellIds.at(5)).toBe('ünïcödé-细胞-🧬');
    expect(cellIds.at(n - 1)).toBe(`AAACCTGAGC-${n - 1}`);
    expect(cellIds.at(-1)).toBe(`AAACCTGAGC-${n - 1}`);
    expect(cellIds.at(n)).toBeUndefined();
    expect([...cellIds]).toEqual(ids);
    const owned = cellIds.copy();
    expect(owned.bytes.buffer).not.toBe(bytes.buffer);
    expect([...owned]).toEqual(ids);
  });

  it('writes null cell ids as empty strings', () => {
    const decoded = decodeFetchPayload(
      encodeFetchTable({ cell_id: ['a', null, 'c'] })
    );
    expect([...decoded.cellIds!]).toEqual(['a', '', 'c']);
  });

  it('copies columns out of a reply they leave mostly unused, so it can be freed', () => {
    const n = 100_000;
    const values = Float32Array.from({ length: n }, (_, i) => i % 7);
    const codes = Array.from({ length: n }, (_, i) => (i % 3 ? 'a' : 'b'));
    const ids = Array.from({ length: n }, (_, i) => `AAACCTGAGC-${i}`);
    // A float64 embedding is converted to float32: its 1.6 MB are unused once decoded
    const wide = encodeFetchTable({
      'gene:A': values,
      'obs:c': { categorical: codes },
      'obsm:X_umap:0': Float64Array.from(values),
      'obsm:X_umap:1': Float64Array.from(values),
      cell_id: ids
    });
    const decoded = decodeFetchPayload(wide);
    const gene = decoded.genes.get('A')!;
    const cluster = decoded.obs.get('c') as ICategoricalColumn;
    const cellIds = decoded.cellIds as Utf8Column;
    expect(gene.buffer).not.toBe(wide.buffer);
    expect(cluster.codes.buffer).not.toBe(wide.buffer);
    expect(cellIds.bytes.buffer).not.toBe(wide.buffer);
    expect(cellIds.offsets.buffer).not.toBe(wide.buffer);
    expect(gene).toEqual(values);
    expect(cluster.codes[0]).toBe(cluster.categories.indexOf('b'));
    expect(decoded.embedding!.dims[1]).toEqual(values);
    expect([...cellIds]).toEqual(ids);
    // With every column used as sent the columns fill the reply: views, no copy
    const plain = encodeFetchTable({
      'gene:A': values,
      'obs:c': { categorical: codes },
      cell_id: ids
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
        cell_id: ['a', 'b', 'ç-3']
      },
      {
        'gene:A': Float32Array.from([4, 5]),
        // A replacement dictionary in the second batch.
        'obs:sample': { categorical: ['s3', 's1'] },
        'obs:score': Float64Array.from([3.5, NaN]),
        'obsm:X_pca:0': Float32Array.from([6, 5]),
        cell_id: [null, 'é-5']
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
    // Cell ids: the batches' bytes joined, null as ''
    expect(decoded.cellIds).toBeInstanceOf(Utf8Column);
    expect([...decoded.cellIds!]).toEqual(['a', 'b', 'ç-3', '', 'é-5']);
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
    // Copied for its null, at the narrowest width that holds the codes
    expect(leiden.codes).toBeInstanceOf(Int8Array);
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

  it('keeps codes at the width they were sent in', () => {
    const labels = ['b', 'a', 'b', 'c'];
    const table = new Table({
      'obs:int8': vectorFromArray(
        labels,
        new Dictionary(new Utf8(), new Int8())
      ),
      'obs:int16': vectorFromArray(
        labels,
        new Dictionary(new Utf8(), new Int16())
      ),
      'obs:uint8': vectorFromArray(
        labels,
        new Dictionary(new Utf8(), new Uint8())
      )
    });
    const bytes = tableToIPC(table, 'stream');
    const decoded = decodeFetchPayload(bytes);
    const int8 = decoded.obs.get('int8') as ICategoricalColumn;
    const int16 = decoded.obs.get('int16') as ICategoricalColumn;
    const uint8 = decoded.obs.get('uint8') as ICategoricalColumn;
    expect(int8.codes).toBeInstanceOf(Int8Array);
    expect(int16.codes).toBeInstanceOf(Int16Array);
    // Unsigned codes cannot hold −1: copied into signed ones
    expect(uint8.codes).toBeInstanceOf(Int8Array);
    for (const column of [int8, int16, uint8]) {
      expect(column.categories).toEqual(['b', 'a', 'c']);
      expect(Array.from(column.codes)).toEqual([0, 1, 0, 2]);
    }
  });

  it('widens copied codes to fit the categories', () => {
    const labels = Array.from({ length: 300 }, (_, i) => `c${i}`);
    const table = new Table({
      'obs:many': vectorFromArray(
        [...labels, null],
        new Dictionary(new Utf8(), new Int32())
      )
    });
    const many = decodeFetchPayload(tableToIPC(table, 'stream')).obs.get(
      'many'
    ) as ICategoricalColumn;
    expect(many.codes).toBeInstanceOf(Int16Array);
    expect(many.codes[299]).toBe(299);
    expect(many.codes[300]).toBe(-1);
    expect(codeArray(127, 1)).toBeInstanceOf(Int8Array);
    expect(codeArray(128, 1)).toBeInstanceOf(Int16Array);
    expect(codeArray(40_000, 1)).toBeInstanceOf(Int32Array);
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

describe('decodeFetchPayload on a cross-origin-isolated page', () => {
  // What the page's `crossOriginIsolated` says when the server sends COOP/COEP headers;
  // and, as in browsers (not Node), TextDecoder refuses views of shared memory.
  const decode = TextDecoder.prototype.decode;
  beforeEach(() => {
    (globalThis as any).crossOriginIsolated = true;
    TextDecoder.prototype.decode = function (input, options) {
      if (input && ArrayBuffer.isView(input) && isShared(input)) {
        throw new TypeError(
          'The provided ArrayBufferView value must not be shared.'
        );
      }
      return decode.call(this, input, options);
    };
  });
  afterEach(() => {
    delete (globalThis as any).crossOriginIsolated;
    TextDecoder.prototype.decode = decode;
  });

  const values = Float32Array.from({ length: 1000 }, (_, i) => i / 7);
  const labels = Array.from({ length: 1000 }, (_, i) => (i % 3 ? 'a' : 'b'));

  it('decodes numeric columns and codes into shared memory, so workers share them', () => {
    const bytes = encodeFetchTable({
      'gene:A': values,
      'obs:c': { categorical: labels },
      'obsm:X_umap:0': values,
      cell_id: ['AAAC-ç', ...labels.slice(1)]
    });
    const one = decodeFetchPayload(bytes);
    const { codes, categories } = one.obs.get('c') as ICategoricalColumn;
    // One record batch: each column copied once into shared memory, not a view
    expect(isShared(one.genes.get('A')!)).toBe(true);
    expect(isShared(codes)).toBe(true);
    expect(isShared(one.embedding!.dims[0])).toBe(true);
    expect(one.genes.get('A')).toEqual(values);
    expect(Array.from(codes, code => categories[code])).toEqual(labels);
    // Cell ids (never sent to a worker) stay in the reply's plain memory
    expect(isShared(one.cellIds!.bytes)).toBe(false);
    expect(one.cellIds!.at(0)).toBe('AAAC-ç');
    // Several record batches are joined into shared columns
    const half = { 'gene:A': values, 'obs:c': { categorical: labels } };
    const two = decodeFetchPayload(encodeFetchTable(half, half));
    expect(isShared(two.genes.get('A')!)).toBe(true);
    expect(isShared((two.obs.get('c') as ICategoricalColumn).codes)).toBe(true);
    expect(Array.from(two.genes.get('A')!.subarray(1000))).toEqual(
      Array.from(values)
    );
  });

  it('copies a column into shared memory only where it is not there already', () => {
    const shared = copyColumn(values);
    expect(isShared(shared)).toBe(true);
    expect(inSharedMemory(shared)).toBe(shared);
    const copy = inSharedMemory(values);
    expect(copy).not.toBe(values);
    expect(copy).toEqual(values);
  });

  it('allocates plain memory where the page is not isolated', () => {
    delete (globalThis as any).crossOriginIsolated;
    expect(sharedMemoryAvailable()).toBe(false);
    expect(isShared(allocateColumn(Float32Array, 4))).toBe(false);
    expect(isShared(codeArray(3, 4))).toBe(false);
    expect(inSharedMemory(values)).toBe(values);
    const bytes = encodeFetchTable({ 'gene:A': values });
    expect(decodeFetchPayload(bytes).genes.get('A')!.buffer).toBe(bytes.buffer);
  });
});
