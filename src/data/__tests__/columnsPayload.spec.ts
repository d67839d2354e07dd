import { DataType, tableFromIPC, Type } from 'apache-arrow';

import { CommClient } from '../../bridge/commClient';
import { ExprscopeError } from '../../bridge/protocol';
import { FakeComm } from '../../bridge/__tests__/fakeComm';
import { decodeFetchPayload } from '../arrow';
import {
  columnsPayloadToIPC,
  decodeColumnsPayload,
  IColumnDescriptor,
  isColumnsPayload
} from '../../bridge/columnsPayload';
import { encodeFetchTable } from './payloads';

type Spec =
  | { name: string; type: 'float32' | 'float64' | 'int32'; values: number[] }
  | {
      name: string;
      type: 'dictionary';
      codes: number[];
      categories: string[];
    }
  | { name: string; type: 'utf8'; values: string[] };

/** Build a "columns" payload the way the R helper writes it. */
function rPayload(specs: Spec[]): {
  columns: IColumnDescriptor[];
  bytes: Uint8Array;
} {
  const columns: IColumnDescriptor[] = [];
  const pieces: Uint8Array[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.type === 'utf8') {
      columns.push({
        name: spec.name,
        type: 'utf8',
        length: spec.values.length,
        values: spec.values
      });
      continue;
    }
    const values = spec.type === 'dictionary' ? spec.codes : spec.values;
    const size = spec.type === 'float64' ? 8 : 4;
    const padded = Math.ceil((values.length * size) / 8) * 8;
    const piece = new Uint8Array(padded);
    const view = new DataView(piece.buffer);
    values.forEach((value, i) => {
      if (spec.type === 'float32') {
        view.setFloat32(i * 4, value, true);
      } else if (spec.type === 'float64') {
        view.setFloat64(i * 8, value, true);
      } else {
        view.setInt32(i * 4, value, true);
      }
    });
    columns.push({
      name: spec.name,
      type: spec.type,
      length: values.length,
      offset,
      ...(spec.type === 'dictionary' ? { categories: spec.categories } : {})
    });
    pieces.push(piece);
    offset += padded;
  }
  const bytes = new Uint8Array(offset);
  let at = 0;
  for (const piece of pieces) {
    bytes.set(piece, at);
    at += piece.byteLength;
  }
  return { columns, bytes };
}

const FETCH_SPECS: Spec[] = [
  { name: 'gene:ISG15', type: 'float32', values: [0, 1.5, 2.25] },
  {
    name: 'obs:stim',
    type: 'dictionary',
    codes: [1, -1, 0],
    categories: ['ctrl', 'stim', 'unused']
  },
  { name: 'obs:nCount_RNA', type: 'float64', values: [1000.125, NaN, 3] },
  { name: 'obsm:umap:0', type: 'float32', values: [0.5, -1, 2] },
  { name: 'obsm:umap:1', type: 'float32', values: [1, 2, 3] },
  { name: 'cell_id', type: 'utf8', values: ['c1', 'c2', 'c3'] }
];

function toBase64(data: Uint8Array): string {
  let binary = '';
  data.forEach(byte => (binary += String.fromCharCode(byte)));
  return btoa(binary);
}

describe('decodeColumnsPayload', () => {
  it('builds the schema the Python kernel sends for a fetch', () => {
    const { columns, bytes } = rPayload(FETCH_SPECS);
    const table = decodeColumnsPayload(columns, bytes);
    expect(table.numRows).toBe(3);
    expect(table.schema.fields.map(f => f.name)).toEqual(
      FETCH_SPECS.map(s => s.name)
    );
    const types = table.schema.fields.map(f => f.type);
    expect(types[0].typeId).toBe(Type.Float);
    expect(types[0].toString()).toBe('Float32');
    expect(DataType.isDictionary(types[1])).toBe(true);
    expect(types[1].toString()).toBe('Dictionary<Int32, Utf8>');
    expect(types[2].toString()).toBe('Float64');
    expect(types[5].toString()).toBe('Utf8');
    expect(table.getChild('obs:stim')!.toArray()).toEqual([
      'stim',
      null,
      'ctrl'
    ]);
    expect(Array.from(table.getChild('gene:ISG15')!.toArray())).toEqual([
      0, 1.5, 2.25
    ]);
  });

  it('decodes to the same columns as the equivalent Arrow stream from Python', () => {
    const { columns, bytes } = rPayload(FETCH_SPECS);
    const fromR = decodeFetchPayload(
      columnsPayloadToIPC({ payload: 'columns', columns }, bytes)
    );
    const fromPython = decodeFetchPayload(
      encodeFetchTable({
        'gene:ISG15': Float32Array.from([0, 1.5, 2.25]),
        'obs:stim': { categorical: ['stim', null, 'ctrl'] },
        'obs:nCount_RNA': Float64Array.from([1000.125, NaN, 3]),
        'obsm:umap:0': Float32Array.from([0.5, -1, 2]),
        'obsm:umap:1': Float32Array.from([1, 2, 3]),
        cell_id: ['c1', 'c2', 'c3']
      })
    );
    expect(fromR.nCells).toBe(3);
    expect(fromR.genes).toEqual(fromPython.genes);
    expect(fromR.obs.get('obs:nCount_RNA')).toEqual(
      fromPython.obs.get('obs:nCount_RNA')
    );
    expect(fromR.embedding).toEqual(fromPython.embedding);
    expect(fromR.cellIds).toEqual(fromPython.cellIds);
    // R sends every category in order (unused ones too) with -1 for missing.
    expect(fromR.obs.get('stim')).toEqual({
      kind: 'categorical',
      codes: Int8Array.from([1, -1, 0]),
      categories: ['ctrl', 'stim', 'unused']
    });
  });

  it('keeps int32 and float64 columns of stored_markers and group_stats payloads', () => {
    const { columns, bytes } = rPayload([
      { name: 'group', type: 'utf8', values: ['0', '0', '1'] },
      { name: 'rank', type: 'int32', values: [1, 2, 1] },
      { name: 'score', type: 'float64', values: [2.5, 1.25, 0.1] }
    ]);
    const table = tableFromIPC(
      columnsPayloadToIPC({ payload: 'columns', columns }, bytes)
    );
    expect(table.schema.fields.map(f => f.type.toString())).toEqual([
      'Utf8',
      'Int32',
      'Float64'
    ]);
    expect(Array.from(table.getChild('rank')!.toArray())).toEqual([1, 2, 1]);
    expect(Array.from(table.getChild('score')!.toArray())).toEqual([
      2.5, 1.25, 0.1
    ]);
  });

  it('reads columns from a payload that is not 8-byte aligned in memory', () => {
    const { columns, bytes } = rPayload(FETCH_SPECS.slice(0, 3));
    const shifted = new Uint8Array(bytes.byteLength + 3);
    shifted.set(bytes, 3);
    const table = decodeColumnsPayload(columns, shifted.subarray(3));
    expect(Array.from(table.getChild('obs:nCount_RNA')!.toArray())).toEqual([
      1000.125,
      NaN,
      3
    ]);
  });

  it('gives an empty table for no columns', () => {
    const table = tableFromIPC(
      columnsPayloadToIPC({ payload: 'columns', columns: [] }, null)
    );
    expect(table.numCols).toBe(0);
  });

  it.each([
    [
      'lies outside the 8-byte payload',
      [{ name: 'gene:A', type: 'float32', length: 4, offset: 8 }]
    ],
    [
      'not a multiple of 8',
      [{ name: 'gene:A', type: 'float32', length: 1, offset: 4 }]
    ],
    ['unknown type', [{ name: 'x', type: 'int64', length: 1, offset: 0 }]],
    [
      'code 2 for 2 categories',
      [
        {
          name: 'obs:x',
          type: 'dictionary',
          length: 2,
          offset: 0,
          categories: ['a', 'b']
        }
      ]
    ],
    [
      'has 1 values, not 2',
      [
        { name: 'gene:A', type: 'float32', length: 2, offset: 0 },
        { name: 'cell_id', type: 'utf8', length: 1, values: ['c1'] }
      ]
    ]
  ])('rejects descriptors that do not fit (%s)', (message, columns) => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setInt32(4, 2, true);
    expect(() =>
      decodeColumnsPayload(columns as IColumnDescriptor[], bytes)
    ).toThrow(message);
  });

  it('recognises columns results only', () => {
    expect(isColumnsPayload({ payload: 'columns', columns: [] })).toBe(true);
    expect(isColumnsPayload({ n_obs: 3 })).toBe(false);
    expect(isColumnsPayload(null)).toBe(false);
  });
});

describe('CommClient with R replies', () => {
  let comm: FakeComm;
  let client: CommClient;

  beforeEach(() => {
    comm = new FakeComm();
    client = new CommClient(comm, { timeoutMs: 1000 });
  });

  afterEach(() => client.dispose());

  it('turns base64 parts of a columns payload into an Arrow stream', async () => {
    const { columns, bytes } = rPayload(FETCH_SPECS);
    const promise = client.request('fetch', {});
    const id = comm.lastRequest().id;
    const result = { n_obs: 3, payload: 'columns', columns };
    comm.reply({
      id,
      ok: true,
      part: 1,
      parts: 2,
      b64: toBase64(bytes.subarray(40))
    });
    comm.reply({
      id,
      ok: true,
      part: 0,
      parts: 2,
      result,
      b64: toBase64(bytes.subarray(0, 40))
    });
    const response = await promise;
    expect(response.result).toEqual(result);
    const decoded = decodeFetchPayload(response.payload!);
    expect(Array.from(decoded.genes.get('ISG15')!)).toEqual([0, 1.5, 2.25]);
    expect([...decoded.cellIds!]).toEqual(['c1', 'c2', 'c3']);
  });

  it('rejects a malformed columns payload with an internal error', async () => {
    const promise = client.request('fetch', {});
    comm.reply({
      id: comm.lastRequest().id,
      ok: true,
      result: {
        payload: 'columns',
        columns: [{ name: 'gene:A', type: 'float32', length: 9, offset: 0 }]
      },
      b64: ''
    });
    const error = await promise.catch(e => e);
    expect(error).toBeInstanceOf(ExprscopeError);
    expect(error.code).toBe('internal');
    expect(error.message).toMatch(/Malformed columns payload.*gene:A/);
  });
});
