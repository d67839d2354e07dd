// Over 600 lines: the one decoder of fetch replies (Arrow IPC tables: dense and sparse genes, codes, embeddings, cell ids) shared by the worker and the page; splitting it would split the column layout it documents.
import {
  Data,
  DataType,
  Message,
  Table,
  tableFromIPC,
  Vector
} from 'apache-arrow';

import type { CodeArray } from '../compute/aggregate';
import { allocateColumn, copyColumn, inSharedMemory } from './sharedMemory';

/** A categorical obs column: per-cell codes (at their sent width) into `categories`, -1 = null. */
export interface ICategoricalColumn {
  kind: 'categorical';
  codes: CodeArray;
  categories: string[];
}

/** Cell ids, read one at a time (`at`, as on an array of strings). */
export interface ICellIds extends Iterable<string> {
  readonly length: number;
  at(index: number): string | undefined;
}

/**
 * A UTF-8 string column as Arrow sends it (offsets and bytes), strings made when read:
 * a million barcodes take 20 MB here and 27 MB of heap as JavaScript strings, and are
 * read only for hover text (a few thousand) and CSV downloads.
 */
export class Utf8Column implements ICellIds {
  /** `offsets` has length + 1 entries; string i is bytes[offsets[i], offsets[i + 1]). */
  constructor(
    readonly offsets: Int32Array,
    readonly bytes: Uint8Array
  ) {}

  static fromStrings(values: readonly string[]): Utf8Column {
    const encoder = new TextEncoder();
    const encoded = values.map(value => encoder.encode(value));
    const offsets = new Int32Array(values.length + 1);
    encoded.forEach((part, i) => (offsets[i + 1] = offsets[i] + part.length));
    const bytes = new Uint8Array(offsets[values.length]);
    encoded.forEach((part, i) => bytes.set(part, offsets[i]));
    return new Utf8Column(offsets, bytes);
  }

  get length(): number {
    return this.offsets.length - 1;
  }

  /** Bytes held by the views (the cache's budget counts these). */
  get byteLength(): number {
    return this.offsets.byteLength + this.bytes.byteLength;
  }

  at(index: number): string | undefined {
    const i = index < 0 ? index + this.length : index;
    if (!(i >= 0 && i < this.length)) {
      return undefined;
    }
    const from = this.offsets[i];
    const to = this.offsets[i + 1];
    // Barcodes are short ASCII: building them by hand beats TextDecoder's call overhead.
    if (to - from <= SHORT_STRING_BYTES) {
      let ascii = true;
      for (let k = from; k < to; k++) {
        ascii &&= this.bytes[k] < 0x80;
      }
      if (ascii) {
        return String.fromCharCode(...this.bytes.subarray(from, to));
      }
    }
    return utf8Decoder.decode(this.bytes.subarray(from, to));
  }

  *[Symbol.iterator](): Iterator<string> {
    for (let i = 0; i < this.length; i++) {
      yield this.at(i)!;
    }
  }

  /** A copy that owns its bytes (offsets rebased to 0). */
  copy(): Utf8Column {
    const start = this.offsets[0];
    const end = this.offsets[this.length];
    const offsets = this.offsets.map(offset => offset - start);
    return new Utf8Column(offsets, this.bytes.slice(start, end));
  }
}

const SHORT_STRING_BYTES = 64;
const utf8Decoder = new TextDecoder();

/** An obs column: categorical, or numeric with NaN for missing values. */
export type ObsColumn = ICategoricalColumn | Float64Array;

/** One embedding (obsm entry); `dims[i]` holds dimension i for all cells. */
export interface IEmbedding {
  name: string;
  dims: Float32Array[];
}

/** The columns of a `fetch` payload, keyed by gene / obs column name. */
export interface IDecodedFetch {
  nCells: number;
  genes: Map<string, Float32Array>;
  obs: Map<string, ObsColumn>;
  embedding: IEmbedding | null;
  cellIds: Utf8Column | null;
}

const GENE_PREFIX = 'gene:';
const OBS_PREFIX = 'obs:';
const OBSM_PREFIX = 'obsm:';
const CELL_ID_COLUMN = 'cell_id';

type NumericArrayType = Float32ArrayConstructor | Float64ArrayConstructor;

/**
 * A `fetch` reply's tables (docs/protocol.md, "fetch payload"): the cells table (dense
 * genes, obs columns, embedding, cell ids; one row per cell) and, when some genes travel
 * as their non-zeros, the sparse genes table (one row per gene: `gene`, `indices`,
 * `values`).
 */
export interface IFetchTables {
  cells: Table;
  sparseGenes: Table | null;
  /** Cells of the reply (the schemas' `exprscope.n_obs`, else the cells table's rows). */
  nCells: number;
}

const TABLE_KEY = 'exprscope.table';
const N_OBS_KEY = 'exprscope.n_obs';
const SPARSE_GENES_TABLE = 'sparse_genes';

/**
 * Decode the payload of a `fetch` reply (column naming in docs/protocol.md). Numeric
 * columns are views into `bytes` when the stream holds one record batch of the expected
 * type; several batches are copied into one contiguous array. Genes sent as their
 * non-zeros are scattered into zeroed columns. Unknown columns are ignored. On a
 * cross-origin-isolated page, numeric columns and codes are copied into shared memory
 * instead of being views (./sharedMemory.ts); cell ids stay in the reply (the workers
 * never get them).
 */
export function decodeFetchPayload(bytes: Uint8Array): IDecodedFetch {
  return decodeFetchTables(readFetchPayload(bytes));
}

/**
 * The Arrow tables of a `fetch` reply (the first half of `decodeFetchPayload`): one IPC
 * stream (the cells), or two back to back (then the sparse genes).
 */
export function readFetchPayload(bytes: Uint8Array): IFetchTables {
  const end = ipcStreamLength(bytes);
  const cells = tableFromIPC(bytes.subarray(0, end));
  let sparseGenes: Table | null = null;
  if (end < bytes.byteLength) {
    const rest = bytes.subarray(end);
    if (ipcStreamLength(rest) !== rest.byteLength) {
      throw new Error('a fetch payload holds at most two Arrow streams');
    }
    sparseGenes = tableFromIPC(rest);
    if (sparseGenes.schema.metadata.get(TABLE_KEY) !== SPARSE_GENES_TABLE) {
      throw new Error(
        'the second stream of a fetch payload is not the sparse genes'
      );
    }
  }
  const announced = (sparseGenes ?? cells).schema.metadata.get(N_OBS_KEY);
  const nCells = announced === undefined ? cells.numRows : Number(announced);
  if (!Number.isInteger(nCells) || nCells < 0) {
    throw new Error(`the payload announces ${announced} cells`);
  }
  if (cells.numCols > 0 && cells.numRows !== nCells) {
    throw new Error(
      `the payload has ${cells.numRows} rows of cells but announces ${nCells}`
    );
  }
  return { cells, sparseGenes, nCells };
}

/**
 * The byte length of the Arrow IPC stream at the start of `bytes`, through its
 * end-of-stream marker (or all of `bytes` if it has none). Each message is a length-
 * prefixed flatbuffer followed by its body (`bodyLength` bytes): walking them is cheap,
 * no body is read.
 */
export function ipcStreamLength(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 4 <= bytes.byteLength) {
    let metadataLength = view.getInt32(at, true);
    at += 4;
    if (metadataLength === -1) {
      // Continuation marker (format ≥ 0.15), then the length
      if (at + 4 > bytes.byteLength) {
        break;
      }
      metadataLength = view.getInt32(at, true);
      at += 4;
    }
    if (metadataLength === 0) {
      return at; // end-of-stream marker
    }
    if (metadataLength < 0 || at + metadataLength > bytes.byteLength) {
      throw new Error(
        'malformed Arrow stream: a message runs past the payload'
      );
    }
    const message = Message.decode(bytes.subarray(at, at + metadataLength));
    at += metadataLength + Number(message.bodyLength);
  }
  return Math.min(at, bytes.byteLength);
}

/**
 * The columns of a `fetch` reply's tables (the second half of `decodeFetchPayload`; the
 * decoder that runs on the page, where no worker can, runs the halves in two tasks: at a
 * million cells each is tens of milliseconds, see ./fetchDecoding.ts). A single table is
 * a reply without sparse genes.
 */
export function decodeFetchTables(tables: IFetchTables | Table): IDecodedFetch {
  const {
    cells: table,
    sparseGenes,
    nCells
  } = tables instanceof Table
    ? { cells: tables, sparseGenes: null, nCells: tables.numRows }
    : tables;
  const decoded: IDecodedFetch = {
    nCells,
    genes: new Map(),
    obs: new Map(),
    embedding: null,
    cellIds: null
  };
  const embeddingDims = new Map<number, Float32Array>();
  table.schema.fields.forEach((field, index) => {
    const vector = table.getChildAt(index);
    if (!vector) {
      return;
    }
    const name = field.name;
    if (name.startsWith(GENE_PREFIX)) {
      decoded.genes.set(
        name.slice(GENE_PREFIX.length),
        numericColumn(vector, Float32Array)
      );
    } else if (name.startsWith(OBS_PREFIX)) {
      decoded.obs.set(
        name.slice(OBS_PREFIX.length),
        DataType.isDictionary(vector.type)
          ? categoricalColumn(vector)
          : numericColumn(vector, Float64Array)
      );
    } else if (name.startsWith(OBSM_PREFIX)) {
      // `obsm:<name>:<i>`; the embedding name itself may contain ':'.
      const rest = name.slice(OBSM_PREFIX.length);
      const sep = rest.lastIndexOf(':');
      const embeddingName = rest.slice(0, sep);
      const dim = Number(rest.slice(sep + 1));
      if (sep < 0 || !Number.isInteger(dim) || dim < 0) {
        return;
      }
      // A fetch names at most one embedding.
      decoded.embedding ??= { name: embeddingName, dims: [] };
      if (decoded.embedding.name === embeddingName) {
        embeddingDims.set(dim, numericColumn(vector, Float32Array));
      }
    } else if (name === CELL_ID_COLUMN) {
      decoded.cellIds = utf8Column(vector);
    }
  });
  if (decoded.embedding) {
    decoded.embedding.dims = [...embeddingDims.keys()]
      .sort((a, b) => a - b)
      .map(dim => embeddingDims.get(dim)!);
  }
  if (sparseGenes) {
    addSparseGenes(sparseGenes, nCells, decoded.genes);
  }
  ownColumnsUnlessTheyFillTheReply(decoded);
  return decoded;
}

/**
 * The sparse genes table's rows as dense columns: zeroed (in shared memory where the
 * page has it), then each non-zero written at its cell. Throws on a cell outside
 * [0, nCells), lists of different lengths, nulls or a gene sent twice.
 */
function addSparseGenes(
  table: Table,
  nCells: number,
  genes: Map<string, Float32Array>
): void {
  const names = table.getChild('gene');
  const indices = table.getChild('indices');
  const values = table.getChild('values');
  if (!names || !indices || !values) {
    throw new Error('the sparse genes table lacks gene, indices or values');
  }
  if (
    !DataType.isList(indices.type) ||
    !DataType.isInt(indices.type.children[0].type) ||
    indices.type.children[0].type.bitWidth !== 32 ||
    !DataType.isList(values.type) ||
    !DataType.isFloat(values.type.children[0].type)
  ) {
    throw new Error(
      `sparse genes have indices ${indices.type} and values ${values.type}, not List<Int32> and List<Float32>`
    );
  }
  let row = 0;
  for (let b = 0; b < indices.data.length; b++) {
    const indexChunk = indices.data[b];
    const valueChunk = values.data[b];
    if (
      valueChunk === undefined ||
      valueChunk.length !== indexChunk.length ||
      indexChunk.nullCount > 0 ||
      valueChunk.nullCount > 0
    ) {
      throw new Error('sparse genes: indices and values do not match');
    }
    const indexOffsets: Int32Array = indexChunk.valueOffsets;
    const valueOffsets: Int32Array = valueChunk.valueOffsets;
    const indexChild = indexChunk.children[0];
    const valueChild = valueChunk.children[0];
    const cells = (indexChild.values as Int32Array).subarray(indexChild.offset);
    const nonzeros = (
      valueChild.values as Float32Array | Float64Array
    ).subarray(valueChild.offset);
    for (let i = 0; i < indexChunk.length; i++, row++) {
      const gene = names.get(row);
      if (typeof gene !== 'string') {
        throw new Error(`sparse gene ${row} has no name`);
      }
      if (genes.has(gene)) {
        throw new Error(`gene '${gene}' is sent twice`);
      }
      const from = indexOffsets[indexChunk.offset + i];
      const to = indexOffsets[indexChunk.offset + i + 1];
      const valuesFrom = valueOffsets[valueChunk.offset + i];
      if (valueOffsets[valueChunk.offset + i + 1] - valuesFrom !== to - from) {
        throw new Error(
          `sparse gene '${gene}' has ${to - from} cells but a different number of values`
        );
      }
      const column = allocateColumn(Float32Array, nCells);
      const shift = valuesFrom - from;
      for (let k = from; k < to; k++) {
        const cell = cells[k];
        // One unsigned comparison rejects negative and too large cells
        if (cell >>> 0 >= nCells) {
          throw new Error(
            `sparse gene '${gene}' has cell ${cell} of ${nCells}`
          );
        }
        column[cell] = nonzeros[k + shift];
      }
      genes.set(gene, column);
    }
  }
}

/** The typed arrays `decoded`'s columns are made of. */
export function columnViews(decoded: IDecodedFetch): ArrayBufferView[] {
  return [
    ...decoded.genes.values(),
    ...[...decoded.obs.values()].map(column =>
      column instanceof Float64Array ? column : column.codes
    ),
    ...(decoded.embedding?.dims ?? []),
    ...(decoded.cellIds ? [decoded.cellIds.offsets, decoded.cellIds.bytes] : [])
  ];
}

/** Zero-copy views may leave this much of a buffer unused (share and bytes), else copied. */
const MAX_UNUSED_REPLY_SHARE = 0.1;
const MAX_UNUSED_REPLY_BYTES = 1024 * 1024;

/**
 * A view keeps its whole buffer alive: the reply, or Arrow's copy of it. When views
 * leave much of their buffer unused (cell ids turned into strings, int8 codes or
 * float64 coordinates converted), they are copied out so the buffer can be freed: one
 * copy now instead of holding the unused part as long as the data is cached.
 */
function ownColumnsUnlessTheyFillTheReply(decoded: IDecodedFetch): void {
  const columns = columnViews(decoded);
  const used = new Map<ArrayBufferLike, number>();
  for (const column of columns) {
    used.set(column.buffer, (used.get(column.buffer) ?? 0) + column.byteLength);
  }
  const wasteful = new Set(
    [...used]
      .filter(([buffer, bytes]) => {
        const unused = buffer.byteLength - bytes;
        return (
          unused > MAX_UNUSED_REPLY_BYTES &&
          unused > buffer.byteLength * MAX_UNUSED_REPLY_SHARE
        );
      })
      .map(([buffer]) => buffer)
  );
  if (wasteful.size === 0) {
    return;
  }
  const own = <T extends Float32Array | Float64Array | CodeArray>(array: T) =>
    wasteful.has(array.buffer) ? copyColumn(array) : array;
  for (const [gene, values] of decoded.genes) {
    decoded.genes.set(gene, own(values));
  }
  for (const [name, column] of decoded.obs) {
    decoded.obs.set(
      name,
      column instanceof Float64Array
        ? own(column)
        : { ...column, codes: own(column.codes) }
    );
  }
  if (decoded.embedding) {
    decoded.embedding.dims = decoded.embedding.dims.map(own);
  }
  const ids = decoded.cellIds;
  if (
    ids &&
    (wasteful.has(ids.bytes.buffer) || wasteful.has(ids.offsets.buffer))
  ) {
    decoded.cellIds = ids.copy();
  }
}

/**
 * A string column as offsets and bytes: zero-copy for one null-free utf8 chunk; the
 * chunks' bytes joined (null as '') for several record batches; other string types
 * through their strings.
 */
function utf8Column(vector: Vector): Utf8Column {
  const chunks = vector.data;
  const plainUtf8 = chunks.every(
    chunk =>
      DataType.isUtf8(chunk.type) &&
      chunk.offset === 0 &&
      chunk.valueOffsets instanceof Int32Array &&
      chunk.values instanceof Uint8Array
  );
  if (!plainUtf8) {
    return Utf8Column.fromStrings(
      Array.from(vector, value => (value === null ? '' : String(value)))
    );
  }
  if (chunks.length === 1 && chunks[0].nullCount === 0) {
    const chunk = chunks[0];
    return new Utf8Column(
      chunk.valueOffsets.subarray(0, chunk.length + 1),
      chunk.values
    );
  }
  let total = 0;
  for (const chunk of chunks) {
    total += chunk.valueOffsets[chunk.length] - chunk.valueOffsets[0];
  }
  const offsets = new Int32Array(vector.length + 1);
  const bytes = new Uint8Array(total);
  let row = 0;
  let at = 0;
  for (const chunk of chunks) {
    const from: Int32Array = chunk.valueOffsets;
    const values: Uint8Array = chunk.values;
    const n = chunk.length;
    if (chunk.nullCount === 0) {
      // One copy of the chunk's bytes, its offsets shifted
      bytes.set(values.subarray(from[0], from[n]), at);
      const shift = at - from[0];
      for (let i = 1; i <= n; i++) {
        offsets[++row] = from[i] + shift;
      }
      at += from[n] - from[0];
      continue;
    }
    for (let i = 0; i < n; i++) {
      if (chunk.getValid(i)) {
        bytes.set(values.subarray(from[i], from[i + 1]), at);
        at += from[i + 1] - from[i];
      }
      offsets[++row] = at;
    }
  }
  return new Utf8Column(offsets, bytes.subarray(0, at));
}

/**
 * A numeric column as `ArrayType`, NaN where null. Zero-copy for a single
 * null-free chunk already of that type (unless it goes to shared memory).
 */
function numericColumn<T extends NumericArrayType>(
  vector: Vector,
  ArrayType: T
): InstanceType<T> {
  const chunks = vector.data;
  if (
    chunks.length === 1 &&
    chunks[0].nullCount === 0 &&
    chunks[0].values instanceof ArrayType
  ) {
    const chunk = chunks[0];
    return inSharedMemory(
      chunk.values.subarray(0, chunk.length)
    ) as InstanceType<T>;
  }
  const out = allocateColumn<Float32Array | Float64Array>(
    ArrayType,
    vector.length
  ) as InstanceType<T>;
  let offset = 0;
  for (const chunk of chunks) {
    copyNumericChunk(chunk, out, offset);
    offset += chunk.length;
  }
  return out;
}

function copyNumericChunk(
  chunk: Data,
  out: Float32Array | Float64Array,
  offset: number
): void {
  const values = chunk.values as ArrayLike<number | bigint>;
  const typedValues = values as Float32Array | Float64Array;
  if (chunk.nullCount === 0 && typedValues.constructor === out.constructor) {
    out.set(typedValues.subarray(0, chunk.length), offset);
    return;
  }
  // Other numeric types (ints, int64 as bigint) and nulls: convert per value.
  for (let i = 0; i < chunk.length; i++) {
    out[offset + i] = chunk.getValid(i) ? Number(values[i]) : NaN;
  }
}

/**
 * A dictionary-encoded column as codes + categories. Chunks normally share
 * one dictionary (possibly grown by delta batches); chunks with a different
 * dictionary are remapped onto the union of categories. Zero-copy for a
 * single null-free chunk with signed indices (int8, int16 or int32), unless it goes to
 * shared memory; otherwise copied into the narrowest signed type that holds every code
 * and -1.
 */
function categoricalColumn(vector: Vector): ICategoricalColumn {
  const categories: string[] = [];
  const indexOf = new Map<string, number>();
  const remaps = new Map<Vector | undefined, Int32Array>();
  const remapFor = (dictionary: Vector | undefined): Int32Array => {
    let remap = remaps.get(dictionary);
    if (!remap) {
      remap = mergeCategories(dictionary, categories, indexOf);
      remaps.set(dictionary, remap);
    }
    return remap;
  };
  const chunks = vector.data;
  if (chunks.length === 1) {
    const chunk = chunks[0];
    const identity = remapFor(chunk.dictionary).every(
      (global, local) => global === local
    );
    const values = chunk.values;
    if (
      identity &&
      chunk.nullCount === 0 &&
      (values instanceof Int8Array ||
        values instanceof Int16Array ||
        values instanceof Int32Array)
    ) {
      return {
        kind: 'categorical',
        codes: inSharedMemory(values.subarray(0, chunk.length)),
        categories
      };
    }
  }
  // Every dictionary is merged first, so the width fits the final categories.
  chunks.forEach(chunk => remapFor(chunk.dictionary));
  const codes = codeArray(categories.length, vector.length);
  let offset = 0;
  for (const chunk of chunks) {
    const remap = remapFor(chunk.dictionary);
    const indices = chunk.values as ArrayLike<number | bigint>;
    if (
      chunk.nullCount === 0 &&
      !(
        indices instanceof BigInt64Array || indices instanceof BigUint64Array
      ) &&
      remap.every((global, local) => global === local)
    ) {
      // The usual record batch of a long reply: its codes as they are, one typed copy
      codes.set((indices as Int32Array).subarray(0, chunk.length), offset);
    } else {
      for (let i = 0; i < chunk.length; i++) {
        codes[offset + i] = chunk.getValid(i)
          ? (remap[Number(indices[i])] ?? -1)
          : -1;
      }
    }
    offset += chunk.length;
  }
  return { kind: 'categorical', codes, categories };
}

/**
 * The narrowest signed code array for `nCategories` categories and -1 (in shared memory
 * where the page has it).
 */
export function codeArray(nCategories: number, length: number): CodeArray {
  return nCategories <= 0x7f
    ? allocateColumn(Int8Array, length)
    : nCategories <= 0x7fff
      ? allocateColumn(Int16Array, length)
      : allocateColumn(Int32Array, length);
}

/** Add a dictionary's values to `categories`; returns local → global codes. */
function mergeCategories(
  dictionary: Vector | undefined,
  categories: string[],
  indexOf: Map<string, number>
): Int32Array {
  const values = dictionary ? Array.from(dictionary) : [];
  const remap = new Int32Array(values.length);
  values.forEach((value, local) => {
    const label = value === null ? '' : String(value);
    let global = indexOf.get(label);
    if (global === undefined) {
      global = categories.length;
      categories.push(label);
      indexOf.set(label, global);
    }
    remap[local] = global;
  });
  return remap;
}
