import { Data, DataType, tableFromIPC, Vector } from 'apache-arrow';

/** A categorical obs column: per-cell codes into `categories`, -1 = null. */
export interface ICategoricalColumn {
  kind: 'categorical';
  codes: Int32Array;
  categories: string[];
}

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
  cellIds: string[] | null;
}

const GENE_PREFIX = 'gene:';
const OBS_PREFIX = 'obs:';
const OBSM_PREFIX = 'obsm:';
const CELL_ID_COLUMN = 'cell_id';

type NumericArrayType = Float32ArrayConstructor | Float64ArrayConstructor;

/**
 * Decode the Arrow IPC stream of a `fetch` reply (column naming in
 * docs/protocol.md). Numeric columns are views into `bytes` when the stream
 * holds one record batch of the expected type; several batches are copied
 * into one contiguous array. Unknown columns are ignored.
 */
export function decodeFetchPayload(bytes: Uint8Array): IDecodedFetch {
  const table = tableFromIPC(bytes);
  const decoded: IDecodedFetch = {
    nCells: table.numRows,
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
      decoded.cellIds = Array.from(vector, value =>
        value === null ? '' : String(value)
      );
    }
  });
  if (decoded.embedding) {
    decoded.embedding.dims = [...embeddingDims.keys()]
      .sort((a, b) => a - b)
      .map(dim => embeddingDims.get(dim)!);
  }
  ownColumnsUnlessTheyFillTheReply(decoded);
  return decoded;
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
  const columns: ArrayBufferView[] = [
    ...decoded.genes.values(),
    ...[...decoded.obs.values()].map(column =>
      column instanceof Float64Array ? column : column.codes
    ),
    ...(decoded.embedding?.dims ?? [])
  ];
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
  const own = <T extends Float32Array | Float64Array | Int32Array>(array: T) =>
    wasteful.has(array.buffer) ? (array.slice() as T) : array;
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
}

/**
 * A numeric column as `ArrayType`, NaN where null. Zero-copy for a single
 * null-free chunk already of that type.
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
    return chunk.values.subarray(0, chunk.length) as InstanceType<T>;
  }
  const out = new ArrayType(vector.length) as InstanceType<T>;
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
 * single null-free chunk with int32 indices.
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
    if (
      identity &&
      chunk.nullCount === 0 &&
      chunk.values instanceof Int32Array
    ) {
      return {
        kind: 'categorical',
        codes: chunk.values.subarray(0, chunk.length),
        categories
      };
    }
  }
  const codes = new Int32Array(vector.length);
  let offset = 0;
  for (const chunk of chunks) {
    const remap = remapFor(chunk.dictionary);
    const indices = chunk.values as ArrayLike<number | bigint>;
    for (let i = 0; i < chunk.length; i++) {
      codes[offset + i] = chunk.getValid(i)
        ? (remap[Number(indices[i])] ?? -1)
        : -1;
    }
    offset += chunk.length;
  }
  return { kind: 'categorical', codes, categories };
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
