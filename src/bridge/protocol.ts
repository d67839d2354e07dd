/**
 * Types and constants of the exprscope comm protocol (docs/protocol.md).
 *
 * Field names of messages and results are the wire names (snake_case) so
 * they can be used as-is on both sides.
 */

/** Comm target name registered in the kernel by the setup snippet. */
export const COMM_TARGET = 'exprscope';

/** Protocol version sent when opening the comm and checked in `hello`. */
export const PROTOCOL_VERSION = 2;

/** Maximum number of genes a single `fetch` may ask for. */
export const MAX_GENES_PER_FETCH = 2000;

/** Default request timeout (the `requestTimeoutMs` setting). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/** Operations understood by the kernel. */
export type Operation =
  | 'hello'
  | 'list'
  | 'describe'
  | 'fetch'
  | 'group_stats'
  | 'pair_stats'
  | 'stored_markers'
  | 'compare'
  | 'cancel';

/** Error codes a kernel may send. */
export type KernelErrorCode =
  | 'bad_request'
  | 'unknown_op'
  | 'not_found'
  | 'not_supported'
  | 'unknown_matrix'
  | 'unknown_column'
  | 'too_large'
  | 'not_installed'
  | 'internal';

/** Error codes raised by the frontend itself, never sent by a kernel. */
export type FrontendErrorCode =
  | 'timeout'
  | 'cancelled'
  | 'kernel_restarted'
  | 'kernel_dead'
  | 'no_kernel'
  | 'comm_closed'
  | 'unsupported_language'
  | 'protocol_mismatch'
  | 'object_changed';

export type ErrorCode = KernelErrorCode | FrontendErrorCode;

/** Frontend → kernel message (`msg.content.data`). */
export interface IRequest {
  id: string;
  op: Operation;
  args: Record<string, unknown>;
}

/** Error payload of a failed reply. */
export interface IErrorInfo {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * One kernel → frontend comm message. A reply is one or more of these with
 * the same `id`; `result` is in part 0 only, errors are a single message.
 */
export interface IReplyMessage {
  id: string | null;
  ok: boolean;
  part?: number;
  parts?: number;
  result?: unknown;
  error?: IErrorInfo;
  /** Base64 slice of the payload, for kernels without binary buffers (R). */
  b64?: string;
  /** A progress message before the reply (no `part`): `{done, total, message}`. */
  progress?: unknown;
}

/** Result of `hello`. */
export interface IHelloResult {
  protocol: number;
  version: string;
  language: string;
}

/** One supported object in the kernel namespace (`list`). */
export interface IObjectInfo {
  name: string;
  type: string;
  n_obs: number;
  n_vars: number;
  fingerprint: string;
}

/** Result of `list`. */
export interface IListResult {
  objects: IObjectInfo[];
}

export interface ICategory {
  name: string;
  n_cells: number;
}

export interface IObsColumn {
  name: string;
  kind: 'categorical' | 'numeric' | 'other';
  n_unique: number;
  categories?: ICategory[];
}

/** Storage of a matrix; more values may appear (e.g. zarr, dask). */
export type MatrixStorage =
  | 'dense'
  | 'csr'
  | 'csc'
  | 'backed-csr'
  | 'backed-csc'
  | (string & Record<never, never>);

export interface IMatrixInfo {
  /** `X`, `raw` or `layers/<name>`. */
  id: string;
  label: string;
  n_vars: number;
  dtype: string;
  storage: MatrixStorage;
  /** Only where the genes differ from the object's var_names (raw). */
  genes?: string[];
}

export interface IEmbeddingInfo {
  name: string;
  n_dims: number;
}

/** A stored marker-gene result (e.g. `adata.uns['rank_genes_groups']`). */
export interface IStoredMarkerInfo {
  /** Where it is stored (the `uns` key for AnnData). */
  key: string;
  groupby: string;
  method: string;
  /** The matrix it was computed on (`X`, `raw`, `layers/<name>`). */
  matrix: string;
}

/** Result of `describe`. */
export interface IDescribeResult extends IObjectInfo {
  obs: IObsColumn[];
  genes: string[];
  matrices: IMatrixInfo[];
  embeddings: IEmbeddingInfo[];
  guesses: {
    dataset: string | null;
    cluster: string | null;
    /** The sample (replicate, donor) column; absent from older kernels. */
    sample?: string | null;
  };
  stored_markers: IStoredMarkerInfo[];
  /**
   * Where plots of this object are computed: `kernel` for out-of-core sources and very
   * large objects (per-group statistics cross the comm, not cells). Absent: `browser`.
   */
  execution?: { path: 'browser' | 'kernel'; reason: string };
}

/** Arguments of `fetch`. */
export interface IFetchArgs {
  object: string;
  matrix: string;
  genes: string[];
  obs?: string[];
  embedding?: string;
  cell_ids?: boolean;
}

/** JSON result of `fetch`; the columns come in the Arrow payload. */
export interface IFetchResult {
  fingerprint: string;
  n_obs: number;
  matrix: string;
  /** Found genes, in request order. */
  genes: string[];
  /** Requested genes that the matrix does not hold. */
  missing: string[];
  /** Optional reason per missing gene: a MissingReason code. */
  missing_reason?: Record<string, string>;
}

/** Known `missing_reason` codes; kernels may send others. */
export type MissingReason = 'not_in_matrix' | 'all_nan';

/** A short phrase for why a gene is missing from a matrix. */
export function describeMissingReason(
  reason: string | undefined,
  matrix: string
): string {
  switch (reason) {
    case 'all_nan':
      return `${matrix} stores no values for it (all NaN)`;
    case 'not_in_matrix':
    case '':
    case undefined:
      return `not in ${matrix}`;
    default:
      return reason;
  }
}

/** Error with a protocol error code; every bridge rejection is one. */
export class ExprscopeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>
  ) {
    super(message);
    this.name = 'ExprscopeError';
  }
}

/**
 * Messages for errors that arrive without one. Kernel messages and the
 * frontend's own are written for users, so they take precedence.
 */
const FALLBACK_MESSAGES: Partial<Record<ErrorCode, string>> = {
  cancelled: 'The request was cancelled.',
  kernel_restarted:
    'The kernel restarted before it answered. Re-run the cells that create your data, then try again.',
  kernel_dead: 'The kernel died. Restart it to continue.',
  no_kernel:
    'No kernel is running for this notebook or console. Start a kernel to continue.',
  comm_closed: 'The connection to the kernel was closed.',
  bad_request: 'The kernel rejected a malformed request.',
  unknown_op:
    'The exprscope package in the kernel is too old for this extension. Upgrade it.',
  not_found: 'The object is no longer in the kernel.',
  not_supported: 'This object type is not supported.',
  unknown_matrix: 'The matrix does not exist on this object.',
  unknown_column: 'The column or embedding does not exist on this object.',
  too_large: `Too many genes requested at once (at most ${MAX_GENES_PER_FETCH}).`,
  not_installed:
    "The exprscope Python package is not installed in this kernel's environment. Install it with 'pip install exprscope' and restart the kernel.",
  unsupported_language: "exprscope does not support this kernel's language.",
  protocol_mismatch:
    'The exprscope package in the kernel does not match this extension. Install the same version in both.',
  object_changed:
    'The object changed in the kernel while its data was being read. Try again.'
};

/** Turn any thrown value into a clear one-line message for the user. */
export function describeError(err: unknown): string {
  let message: string;
  if (err instanceof ExprscopeError) {
    message = messageFor(err);
  } else if (err instanceof Error) {
    message = err.message || err.name;
  } else if (typeof err === 'string') {
    message = err;
  } else {
    message = 'An unknown error occurred.';
  }
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

function messageFor(err: ExprscopeError): string {
  if (err.code === 'timeout') {
    const ms = err.details?.timeoutMs;
    const within =
      typeof ms === 'number' ? ` within ${formatSeconds(ms)}` : ' in time';
    return `The kernel did not answer${within}. It may be busy running a cell or stuck.`;
  }
  if (err.code === 'internal') {
    return `The kernel failed: ${err.message || 'unknown error'}`;
  }
  return err.message || FALLBACK_MESSAGES[err.code] || err.code;
}

function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}
