import {
  Data,
  DataType,
  Dictionary,
  Int32,
  makeData,
  makeVector,
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
  type: 'float32' | 'float64' | 'int32' | 'dictionary' | 'utf8';
  /** Number of values (rows). */
  length: number;
  /** Byte offset in the payload (a multiple of 8); absent for utf8. */
  offset?: number;
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
 * The table described by `columns` over `bytes`. Numeric columns are views
 * into `bytes` when it is 8-byte aligned (copies otherwise). Throws on a
 * descriptor that does not fit the payload.
 */
export function decodeColumnsPayload(
  columns: IColumnDescriptor[],
  bytes: Uint8Array
): Table {
  if (!Array.isArray(columns)) {
    throw new Error('the reply has no column descriptors');
  }
  const vectors: Record<string, Vector> = {};
  let rows: number | null = null;
  for (const column of columns) {
    const vector = decodeColumn(column, bytes);
    if (rows !== null && vector.length !== rows) {
      throw new Error(
        `column '${column.name}' has ${vector.length} values, not ${rows}`
      );
    }
    rows = vector.length;
    vectors[column.name] = vector;
  }
  return new Table(vectors);
}

/** Arrow IPC stream bytes for a "columns" payload (what Python sends). */
export function columnsPayloadToIPC(
  result: IColumnsPayloadResult,
  bytes: Uint8Array | null
): Uint8Array {
  const table = decodeColumnsPayload(
    result.columns,
    bytes ?? new Uint8Array(0)
  );
  return tableToIPC(table, 'stream');
}

function decodeColumn(column: IColumnDescriptor, bytes: Uint8Array): Vector {
  const { name, type, length } = column;
  if (typeof name !== 'string' || !Number.isInteger(length) || length < 0) {
    throw new Error(`malformed column descriptor ${JSON.stringify(column)}`);
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
