import {
  Data,
  DataType,
  Dictionary,
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
  Vector,
  vectorFromArray
} from 'apache-arrow';

/**
 * "columns" payloads: kernels without an Arrow writer (the R helper) send
 * raw little-endian column bytes plus one descriptor per column in
 * `result.columns` (docs/protocol.md, "Payloads from R"). This module turns
 * them into the Arrow table the Python kernel would have sent, so everything
 * after the reply assembly is the same for both languages.
 */

/** One column of a "columns" payload, in table order. */
export interface IColumnDescriptor {
  name: string;
  type:
    'float32' | 'float64' | 'int32' | 'dictionary' | 'utf8' | 'sparse_float32';
  /** Number of values (rows; for sparse_float32, the cells of the dense column). */
  length: number;
  /** Byte offset in the payload (a multiple of 8); absent for utf8. */
  offset?: number;
  /**
   * sparse_float32 (a `gene:` column sent as its non-zeros): how many. `nnz` int32 cell
   * positions at `offset`, then `nnz` float32 values at the next multiple of 8.
   */
  nnz?: number;
  /** Dictionary columns: the categories the int32 codes point into. */
  categories?: string[];
  /** utf8 columns: the values, sent as JSON strings. */
  values?: string[];
}

/** The result members that mark a "columns" payload. */
export interface IColumnsPayloadResult {
  payload: 'columns';
  columns: IColumnDescriptor[];
}

/** Whether a reply's result describes a "columns" payload. */
export function isColumnsPayload(
  result: unknown
): result is IColumnsPayloadResult {
  return (
    typeof result === 'object' &&
    result !== null &&
    (result as { payload?: unknown }).payload === 'columns'
  );
}

const BYTES_PER_VALUE = { float32: 4, float64: 8, int32: 4, dictionary: 4 };

/**
 * The table described by `columns` over `bytes` (its dense columns; sparse_float32 ones
 * are in `decodeColumnsPayloadTables`'s second table). Numeric columns are views into
 * `bytes` when it is 8-byte aligned (copies otherwise). Throws on a descriptor that does
 * not fit the payload.
 */
export function decodeColumnsPayload(
  columns: IColumnDescriptor[],
  bytes: Uint8Array
): Table {
  return decodeColumnsPayloadTables(columns, bytes).cells;
}

/**
 * The tables a "columns" payload describes, as the Python kernel would send them: the
 * dense columns, and the sparse_float32 genes as the sparse genes table (null when there
 * are none; docs/protocol.md, "fetch payload").
 */
export function decodeColumnsPayloadTables(
  columns: IColumnDescriptor[],
  bytes: Uint8Array
): { cells: Table; sparseGenes: Table | null } {
  if (!Array.isArray(columns)) {
    throw new Error('the reply has no column descriptors');
  }
  const vectors: Record<string, Vector> = {};
  const sparse: ISparseGene[] = [];
  let rows: number | null = null;
  // Arrow JS's stream writer announces 8 body bytes too many for a record batch whose
  // list children are empty, which hides where its stream ends: genes without a single
  // non-zero among them become zero columns here (after the transfer: no wire bytes).
  const allZero = !columns.some(
    column => column?.type === 'sparse_float32' && (column.nnz ?? 0) > 0
  );
  for (const column of columns) {
    let length: number;
    if (column.type === 'sparse_float32') {
      const gene = sparseGene(column, bytes);
      if (allZero) {
        vectors[column.name] = makeVector(new Float32Array(gene.nCells));
      } else {
        sparse.push(gene);
      }
      length = gene.nCells;
    } else {
      const vector = decodeColumn(column, bytes);
      vectors[column.name] = vector;
      length = vector.length;
    }
    if (rows !== null && length !== rows) {
      throw new Error(
        `column '${column.name}' has ${length} values, not ${rows}`
      );
    }
    rows = length;
  }
  const cells = new Table(vectors);
  if (sparse.length === 0) {
    return { cells, sparseGenes: null };
  }
  const nCells = String(rows);
  return {
    cells: withMetadata(cells, { table: 'cells', nCells }),
    sparseGenes: withMetadata(sparseGenesTable(sparse), {
      table: 'sparse_genes',
      nCells
    })
  };
}

/**
 * Arrow IPC bytes for a "columns" payload (what Python sends): one stream, or two back
 * to back when some genes are sparse.
 */
export function columnsPayloadToIPC(
  result: IColumnsPayloadResult,
  bytes: Uint8Array | null
): Uint8Array {
  const { cells, sparseGenes } = decodeColumnsPayloadTables(
    result.columns,
    bytes ?? new Uint8Array(0)
  );
  const first = tableToIPC(cells, 'stream');
  if (!sparseGenes) {
    return first;
  }
  const second = tableToIPC(sparseGenes, 'stream');
  const joined = new Uint8Array(first.byteLength + second.byteLength);
  joined.set(first, 0);
  joined.set(second, first.byteLength);
  return joined;
}

/** A sparse_float32 column: its gene, cells and values (views into the payload). */
interface ISparseGene {
  gene: string;
  nCells: number;
  indices: Int32Array;
  values: Float32Array;
}

const GENE_PREFIX = 'gene:';

function sparseGene(column: IColumnDescriptor, bytes: Uint8Array): ISparseGene {
  const { name, length, nnz } = column;
  const offset = column.offset ?? -1;
  if (
    typeof name !== 'string' ||
    !name.startsWith(GENE_PREFIX) ||
    !Number.isInteger(length) ||
    length < 0 ||
    !Number.isInteger(nnz) ||
    nnz! < 0 ||
    nnz! > length
  ) {
    throw new Error(
      `malformed sparse column descriptor ${JSON.stringify(column)}`
    );
  }
  if (!Number.isInteger(offset) || offset < 0 || offset % 8 !== 0) {
    throw new Error(
      `column '${name}' starts at byte ${offset}, not a multiple of 8`
    );
  }
  const valuesAt = offset + Math.ceil((nnz! * 4) / 8) * 8;
  if (valuesAt + nnz! * 4 > bytes.byteLength) {
    throw new Error(
      `column '${name}' (${nnz} non-zeros at byte ${offset}) lies outside the ${bytes.byteLength}-byte payload`
    );
  }
  const copy = (from: number) => bytes.slice(from, from + nnz! * 4).buffer;
  // Typed arrays need an aligned start; base64-decoded payloads always are.
  const aligned = (bytes.byteOffset + offset) % 4 === 0;
  return {
    gene: name.slice(GENE_PREFIX.length),
    nCells: length,
    indices: aligned
      ? new Int32Array(bytes.buffer, bytes.byteOffset + offset, nnz)
      : new Int32Array(copy(offset)),
    values: aligned
      ? new Float32Array(bytes.buffer, bytes.byteOffset + valuesAt, nnz)
      : new Float32Array(copy(valuesAt))
  };
}

/** The sparse genes table: gene (utf8), indices (List<Int32>), values (List<Float32>). */
function sparseGenesTable(genes: ISparseGene[]): Table {
  const offsets = new Int32Array(genes.length + 1);
  genes.forEach((g, i) => (offsets[i + 1] = offsets[i] + g.indices.length));
  const total = offsets[genes.length];
  const indices = new Int32Array(total);
  const values = new Float32Array(total);
  genes.forEach((g, i) => {
    indices.set(g.indices, offsets[i]);
    values.set(g.values, offsets[i]);
  });
  const indexList = makeData({
    type: new List(new Field('item', new Int32(), false)),
    length: genes.length,
    nullCount: 0,
    valueOffsets: offsets,
    child: makeData({
      type: new Int32(),
      length: total,
      nullCount: 0,
      data: indices
    })
  });
  const valueList = makeData({
    type: new List(new Field('item', new Float32(), false)),
    length: genes.length,
    nullCount: 0,
    valueOffsets: offsets,
    child: makeData({
      type: new Float32(),
      length: total,
      nullCount: 0,
      data: values
    })
  });
  const names = vectorFromArray(
    genes.map(g => g.gene),
    new Utf8()
  );
  const fields = [
    new Field('gene', new Utf8(), false),
    new Field('indices', new List(new Field('item', new Int32(), false))),
    new Field('values', new List(new Field('item', new Float32(), false)))
  ];
  const schema = new Schema(fields);
  const data = makeData({
    type: new Struct(fields),
    length: genes.length,
    nullCount: 0,
    children: [names.data[0], indexList, valueList]
  });
  return new Table([new RecordBatch(schema, data)]);
}

/** `table` with the schema metadata of a fetch payload's tables. */
function withMetadata(
  table: Table,
  { table: name, nCells }: { table: string; nCells: string }
): Table {
  const metadata = new Map([
    ['exprscope.table', name],
    ['exprscope.n_obs', nCells]
  ]);
  const schema = new Schema(table.schema.fields, metadata);
  return new Table(
    schema,
    table.batches.map(batch => new RecordBatch(schema, batch.data))
  );
}

function decodeColumn(column: IColumnDescriptor, bytes: Uint8Array): Vector {
  const { name, type, length } = column;
  if (typeof name !== 'string' || !Number.isInteger(length) || length < 0) {
    throw new Error(`malformed column descriptor ${JSON.stringify(column)}`);
  }
  if (type === 'sparse_float32') {
    throw new Error(`sparse column '${name}' in a dense position`);
  }
  if (type === 'utf8') {
    const values = column.values ?? [];
    if (!Array.isArray(values) || values.length !== length) {
      throw new Error(`utf8 column '${name}' lacks its ${length} values`);
    }
    return vectorFromArray(values, new Utf8());
  }
  const size = BYTES_PER_VALUE[type];
  const offset = column.offset ?? -1;
  if (size === undefined) {
    throw new Error(`column '${name}' has unknown type '${type}'`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset % 8 !== 0) {
    throw new Error(
      `column '${name}' starts at byte ${offset}, not a multiple of 8`
    );
  }
  if (offset + length * size > bytes.byteLength) {
    throw new Error(
      `column '${name}' (${length} × ${type} at byte ${offset}) lies outside the ${bytes.byteLength}-byte payload`
    );
  }
  const start = bytes.byteOffset + offset;
  // Typed arrays need an aligned start; base64-decoded payloads always are.
  const buffer =
    start % size === 0
      ? bytes.buffer
      : bytes.slice(offset, offset + length * size).buffer;
  const at = start % size === 0 ? start : 0;
  switch (type) {
    case 'float32':
      return makeVector(new Float32Array(buffer, at, length));
    case 'float64':
      return makeVector(new Float64Array(buffer, at, length));
    case 'int32':
      return makeVector(new Int32Array(buffer, at, length));
    case 'dictionary':
      return dictionaryVector(
        name,
        new Int32Array(buffer, at, length),
        column.categories
      );
  }
}

/** dictionary<int32, utf8> with null where the code is -1, as pyarrow's. */
function dictionaryVector(
  name: string,
  codes: Int32Array,
  categories: string[] | undefined
): Vector {
  if (!Array.isArray(categories)) {
    throw new Error(`dictionary column '${name}' has no categories`);
  }
  const dictionary = vectorFromArray(categories, new Utf8());
  let nullCount = 0;
  const validity = new Uint8Array(Math.ceil(codes.length / 8));
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i];
    if (code < 0) {
      nullCount++;
    } else if (code >= categories.length) {
      throw new Error(
        `dictionary column '${name}' has code ${code} for ${categories.length} categories`
      );
    } else {
      validity[i >> 3] |= 1 << (i & 7);
    }
  }
  const type: DataType = new Dictionary(new Utf8(), new Int32());
  const data: Data = makeData({
    type: type as Dictionary<Utf8, Int32>,
    length: codes.length,
    nullCount,
    nullBitmap: nullCount > 0 ? validity : null,
    data: codes,
    dictionary
  });
  return makeVector(data);
}
