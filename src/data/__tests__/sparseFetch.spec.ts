/**
 * Genes sent as their non-zeros (docs/protocol.md, "fetch payload"): payloads written by
 * the Python kernel (fixtures/, `scripts/write_fetch_fixtures.py`), payloads built here by
 * hand with Arrow's own builders, and R's "columns" payloads all decode to the dense
 * Float32Array columns the rest of the extension reads.
 */
import { readFileSync } from 'fs';
import { join } from 'path';

import {
  Field,
  Float32,
  Int32,
  List,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableToIPC,
  Utf8,
  vectorFromArray
} from 'apache-arrow';

import {
  decodeFetchPayload,
  ICategoricalColumn,
  IDecodedFetch,
  ipcStreamLength,
  readFetchPayload
} from '../arrow';
import {
  columnsPayloadToIPC,
  IColumnDescriptor
} from '../../bridge/columnsPayload';
import {
  DecodeReply,
  DecodeRequest,
  decodeInTasks,
  IDecodeScope,
  serveFetchDecoding
} from '../fetchDecoding';
import { isShared } from '../sharedMemory';

const FIXTURES = join(__dirname, 'fixtures');

function fixture(name: string): Uint8Array {
  const file = readFileSync(join(FIXTURES, name));
  // An own, aligned buffer, as a reply's payload is
  return new Uint8Array(
    file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength)
  );
}

/** The bits of a float32 column (NaN and −0.0 compare as they are). */
function bits(values: Float32Array): number[] {
  return Array.from(
    new Uint32Array(values.buffer, values.byteOffset, values.length)
  );
}

function expectSameColumns(
  actual: IDecodedFetch,
  expected: IDecodedFetch
): void {
  expect(actual.nCells).toBe(expected.nCells);
  expect([...actual.genes.keys()].sort()).toEqual(
    [...expected.genes.keys()].sort()
  );
  for (const [gene, values] of expected.genes) {
    const decoded = actual.genes.get(gene)!;
    expect(decoded).toBeInstanceOf(Float32Array);
    expect(decoded.length).toBe(expected.nCells);
    expect(bits(decoded)).toEqual(bits(values));
  }
  expect([...actual.obs.keys()]).toEqual([...expected.obs.keys()]);
  for (const [name, column] of expected.obs) {
    const decoded = actual.obs.get(name)!;
    if (column instanceof Float64Array) {
      expect(Array.from(decoded as Float64Array)).toEqual(Array.from(column));
    } else {
      const categorical = decoded as ICategoricalColumn;
      expect(categorical.categories).toEqual(column.categories);
      expect(Array.from(categorical.codes)).toEqual(Array.from(column.codes));
    }
  }
  expect(actual.embedding?.name).toEqual(expected.embedding?.name);
  (expected.embedding?.dims ?? []).forEach((dim, i) =>
    expect(Array.from(actual.embedding!.dims[i])).toEqual(Array.from(dim))
  );
  expect(actual.cellIds ? [...actual.cellIds] : null).toEqual(
    expected.cellIds ? [...expected.cellIds] : null
  );
}

type SparseGene = { indices: number[]; values: number[] };

/**
 * A sparse genes table built with Arrow's builders (not exprscope's), split into record
 * batches of `perBatch` genes.
 */
function sparseGenesTable(
  genes: Record<string, SparseGene>,
  nCells: number,
  perBatch = Infinity
): Table {
  const fields = [
    new Field('gene', new Utf8(), false),
    new Field('indices', new List(new Field('item', new Int32(), false))),
    new Field('values', new List(new Field('item', new Float32(), false)))
  ];
  const schema = new Schema(
    fields,
    new Map([
      ['exprscope.table', 'sparse_genes'],
      ['exprscope.n_obs', String(nCells)]
    ])
  );
  const entries = Object.entries(genes);
  const batches: RecordBatch[] = [];
  for (let start = 0; start < entries.length; start += perBatch) {
    const part = entries.slice(start, start + perBatch);
    const offsets = new Int32Array(part.length + 1);
    part.forEach(
      ([, g], i) => (offsets[i + 1] = offsets[i] + g.indices.length)
    );
    const list = (type: Int32 | Float32, data: Int32Array | Float32Array) =>
      makeData({
        type: new List(new Field('item', type, false)),
        length: part.length,
        nullCount: 0,
        valueOffsets: offsets,
        child: makeVector(data).data[0]
      } as any);
    const data = makeData({
      type: new Struct(fields),
      length: part.length,
      nullCount: 0,
      children: [
        vectorFromArray(
          part.map(([gene]) => gene),
          new Utf8()
        ).data[0],
        list(new Int32(), Int32Array.from(part.flatMap(([, g]) => g.indices))),
        list(
          new Float32(),
          Float32Array.from(part.flatMap(([, g]) => g.values))
        )
      ]
    });
    batches.push(new RecordBatch(schema, data));
  }
  return new Table(schema, batches);
}

function cellsTable(
  columns: Record<string, Float32Array>,
  nCells: number
): Table {
  const table = new Table(
    Object.fromEntries(
      Object.entries(columns).map(([name, v]) => [name, makeVector(v)])
    )
  );
  const schema = new Schema(
    table.schema.fields,
    new Map([
      ['exprscope.table', 'cells'],
      ['exprscope.n_obs', String(nCells)]
    ])
  );
  return new Table(
    schema,
    table.batches.map(b => new RecordBatch(schema, b.data))
  );
}

function payload(...tables: Table[]): Uint8Array {
  const streams = tables.map(table => tableToIPC(table, 'stream'));
  const bytes = new Uint8Array(streams.reduce((n, s) => n + s.byteLength, 0));
  let at = 0;
  for (const stream of streams) {
    bytes.set(stream, at);
    at += stream.byteLength;
  }
  return bytes;
}

function dense(gene: SparseGene, nCells: number): Float32Array {
  const column = new Float32Array(nCells);
  gene.indices.forEach((cell, k) => (column[cell] = gene.values[k]));
  return column;
}

describe('fetch payloads written by the Python kernel', () => {
  it.each(['fetch-mixed', 'fetch-genes-only'])(
    '%s decodes to the dense columns pyarrow wrote',
    name => {
      const bytes = fixture(`${name}.arrow`);
      const tables = readFetchPayload(bytes);
      expect(tables.sparseGenes).not.toBeNull();
      const decoded = decodeFetchPayload(bytes);
      expectSameColumns(
        decoded,
        decodeFetchPayload(fixture(`${name}.expected.arrow`))
      );
      expect(decoded.nCells).toBe(1000);
    }
  );

  it('keeps the dense genes in the cells table and the sparse ones as non-zeros', () => {
    const { cells, sparseGenes } = readFetchPayload(
      fixture('fetch-mixed.arrow')
    );
    // G4 has no zero and G6 one non-zero more than half its cells: dense. G5, exactly half
    // non-zero, is sparse (nnz × 8 ≤ n × 4)
    expect(
      cells.schema.fields
        .filter(f => f.name.startsWith('gene:'))
        .map(f => f.name)
    ).toEqual(['gene:G4', 'gene:G6']);
    expect(sparseGenes!.getChild('gene')!.toArray()).toEqual([
      'G0',
      'G1',
      'G2',
      'G3',
      'G5',
      'G7'
    ]);
  });

  it('decodes on the page in two tasks like in the worker', async () => {
    const bytes = fixture('fetch-mixed.arrow');
    expectSameColumns(
      await decodeInTasks(bytes.slice()),
      decodeFetchPayload(bytes)
    );
  });
});

describe('hand-built sparse fetch payloads', () => {
  const nCells = 50;
  const genes: Record<string, SparseGene> = {
    A: { indices: [0, 7, 49], values: [1.5, -2, 3.25] },
    B: { indices: [], values: [] },
    C: { indices: [3], values: [NaN] },
    D: { indices: [10, 11, 12, 13], values: [-0, 1e-40, 7, 8] }
  };

  it('decodes sparse genes next to dense ones, across record batches', () => {
    const denseE = Float32Array.from({ length: nCells }, (_, i) => i + 0.5);
    // Not B alone in a batch: Arrow JS's writer (not the kernels') mis-sizes batches whose
    // lists are all empty (columnsPayload.ts)
    for (const perBatch of [2, 3, 10]) {
      const bytes = payload(
        cellsTable({ 'gene:E': denseE }, nCells),
        sparseGenesTable(genes, nCells, perBatch)
      );
      const decoded = decodeFetchPayload(bytes);
      expect(decoded.nCells).toBe(nCells);
      expect(bits(decoded.genes.get('E')!)).toEqual(bits(denseE));
      for (const [gene, g] of Object.entries(genes)) {
        expect(bits(decoded.genes.get(gene)!)).toEqual(bits(dense(g, nCells)));
      }
    }
  });

  it('sizes the columns from the metadata when no column travels dense', () => {
    const bytes = payload(
      cellsTable({}, nCells),
      sparseGenesTable(genes, nCells)
    );
    const decoded = decodeFetchPayload(bytes);
    expect(decoded.nCells).toBe(nCells);
    expect(decoded.genes.get('A')!.length).toBe(nCells);
  });

  it('finds where the first stream ends', () => {
    const first = tableToIPC(
      cellsTable({ 'gene:E': new Float32Array(nCells) }, nCells),
      'stream'
    );
    const bytes = payload(
      cellsTable({ 'gene:E': new Float32Array(nCells) }, nCells),
      sparseGenesTable(genes, nCells)
    );
    expect(ipcStreamLength(bytes)).toBe(first.byteLength);
    expect(ipcStreamLength(first)).toBe(first.byteLength);
  });

  it('rejects cells outside the column and a gene sent twice', () => {
    const outside = payload(
      cellsTable({}, nCells),
      sparseGenesTable({ A: { indices: [50], values: [1] } }, nCells)
    );
    expect(() => decodeFetchPayload(outside)).toThrow(/cell 50 of 50/);
    const negative = payload(
      cellsTable({}, nCells),
      sparseGenesTable({ A: { indices: [-1], values: [1] } }, nCells)
    );
    expect(() => decodeFetchPayload(negative)).toThrow(/cell -1 of 50/);
    const twice = payload(
      cellsTable({ 'gene:A': new Float32Array(nCells) }, nCells),
      sparseGenesTable({ A: { indices: [1], values: [1] } }, nCells)
    );
    expect(() => decodeFetchPayload(twice)).toThrow(/sent twice/);
    const third = payload(
      cellsTable({}, nCells),
      sparseGenesTable(genes, nCells),
      sparseGenesTable(genes, nCells)
    );
    expect(() => decodeFetchPayload(third)).toThrow(/at most two/);
  });

  it('decodes in the worker and moves the scattered columns back', async () => {
    const bytes = payload(
      cellsTable({}, nCells),
      sparseGenesTable(genes, nCells)
    );
    const posted: { message: DecodeReply; transfer?: Transferable[] }[] = [];
    const scope: IDecodeScope = {
      onmessage: null,
      postMessage: (message, transfer) =>
        posted.push({ message: message as DecodeReply, transfer })
    };
    serveFetchDecoding(scope);
    const request: DecodeRequest = {
      id: 1,
      method: 'decode',
      payload: {
        buffer: bytes.buffer as ArrayBuffer,
        byteOffset: bytes.byteOffset,
        byteLength: bytes.byteLength
      }
    };
    scope.onmessage!({ data: request } as MessageEvent<DecodeRequest>);
    await new Promise(resolve => setTimeout(resolve, 0));
    const reply = posted[1];
    expect((reply.message as { ok: boolean }).ok).toBe(true);
    const decoded = (reply.message as { value: IDecodedFetch }).value;
    for (const [gene, g] of Object.entries(genes)) {
      const column = decoded.genes.get(gene)!;
      expect(bits(column)).toEqual(bits(dense(g, nCells)));
      expect(reply.transfer).toContain(column.buffer);
    }
  });
});

describe('sparse genes on a cross-origin-isolated page', () => {
  beforeEach(() => ((globalThis as any).crossOriginIsolated = true));
  afterEach(() => delete (globalThis as any).crossOriginIsolated);

  it('are scattered into shared memory', () => {
    const decoded = decodeFetchPayload(fixture('fetch-mixed.arrow'));
    for (const values of decoded.genes.values()) {
      expect(isShared(values)).toBe(true);
    }
    expectSameColumns(
      decoded,
      decodeFetchPayload(fixture('fetch-mixed.expected.arrow'))
    );
  });
});

describe('sparse columns of R "columns" payloads', () => {
  /** R's layout: nnz int32 cells at `offset`, nnz float32 values at the next multiple of 8. */
  function rSparse(
    specs: { name: string; gene?: SparseGene; dense?: number[] }[],
    nCells: number
  ): { columns: IColumnDescriptor[]; bytes: Uint8Array } {
    const columns: IColumnDescriptor[] = [];
    const pieces: Uint8Array[] = [];
    let offset = 0;
    const pad = (n: number) => Math.ceil(n / 8) * 8;
    for (const spec of specs) {
      if (spec.gene) {
        const nnz = spec.gene.indices.length;
        const piece = new Uint8Array(pad(nnz * 4) + pad(nnz * 4));
        new Int32Array(piece.buffer, 0, nnz).set(spec.gene.indices);
        new Float32Array(piece.buffer, pad(nnz * 4), nnz).set(spec.gene.values);
        columns.push({
          name: spec.name,
          type: 'sparse_float32',
          length: nCells,
          nnz,
          offset
        });
        pieces.push(piece);
        offset += piece.byteLength;
      } else {
        const piece = new Uint8Array(pad(nCells * 4));
        new Float32Array(piece.buffer, 0, nCells).set(spec.dense!);
        columns.push({
          name: spec.name,
          type: 'float32',
          length: nCells,
          offset
        });
        pieces.push(piece);
        offset += piece.byteLength;
      }
    }
    const bytes = new Uint8Array(offset);
    let at = 0;
    for (const piece of pieces) {
      bytes.set(piece, at);
      at += piece.byteLength;
    }
    return { columns, bytes };
  }

  it('become the sparse genes table Python sends', () => {
    const nCells = 6;
    const A = { indices: [1, 4], values: [2.5, NaN] };
    const { columns, bytes } = rSparse(
      [
        { name: 'gene:A', gene: A },
        { name: 'gene:B', dense: [1, 2, 3, 4, 5, 6] },
        { name: 'gene:C', gene: { indices: [], values: [] } }
      ],
      nCells
    );
    const ipc = columnsPayloadToIPC({ payload: 'columns', columns }, bytes);
    const tables = readFetchPayload(ipc);
    expect(tables.sparseGenes!.getChild('gene')!.toArray()).toEqual(['A', 'C']);
    const decoded = decodeFetchPayload(ipc);
    expect(decoded.nCells).toBe(nCells);
    expect(bits(decoded.genes.get('A')!)).toEqual(bits(dense(A, nCells)));
    expect(Array.from(decoded.genes.get('B')!)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(decoded.genes.get('C')!)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('become zero columns when no sparse gene has a non-zero', () => {
    const { columns, bytes } = rSparse(
      [{ name: 'gene:A', gene: { indices: [], values: [] } }],
      4
    );
    const ipc = columnsPayloadToIPC({ payload: 'columns', columns }, bytes);
    expect(readFetchPayload(ipc).sparseGenes).toBeNull();
    expect(Array.from(decodeFetchPayload(ipc).genes.get('A')!)).toEqual([
      0, 0, 0, 0
    ]);
  });

  it('keep their cell count when every gene is sparse', () => {
    const { columns, bytes } = rSparse(
      [{ name: 'gene:A', gene: { indices: [2], values: [1] } }],
      9
    );
    const decoded = decodeFetchPayload(
      columnsPayloadToIPC({ payload: 'columns', columns }, bytes)
    );
    expect(decoded.nCells).toBe(9);
    expect(Array.from(decoded.genes.get('A')!)).toEqual([
      0, 0, 1, 0, 0, 0, 0, 0, 0
    ]);
  });

  it('are refused when they do not fit the payload', () => {
    const { columns, bytes } = rSparse(
      [{ name: 'gene:A', gene: { indices: [2, 3], values: [1, 2] } }],
      9
    );
    expect(() =>
      columnsPayloadToIPC(
        { payload: 'columns', columns },
        bytes.subarray(0, 12)
      )
    ).toThrow(/outside the 12-byte payload/);
    expect(() =>
      columnsPayloadToIPC(
        { payload: 'columns', columns: [{ ...columns[0], nnz: 10 }] },
        bytes
      )
    ).toThrow(/malformed sparse column/);
  });
});
