/**
 * Decoding a `fetch` reply away from the UI thread. At a million cells, reading the Arrow
 * stream and making the columns takes 60–100 ms, which froze JupyterLab for as long. The
 * reply's buffer is handed to a Web Worker (transferred: moved, not copied), the worker
 * decodes it, and the columns come back the same way: their buffers are moved to the page
 * (or, on a cross-origin-isolated page, allocated in shared memory by the worker). The UI
 * thread only posts and receives.
 *
 * Where no worker can run (jest, a page that refuses worker scripts), the reply is
 * decoded on the UI thread in two tasks (`decodeInTasks`).
 */

import type { IRequestOptions } from '../bridge/commClient';
import type { IFetchReply } from '../bridge/kernelBridge';
import {
  describeError,
  ExprscopeError,
  IFetchArgs,
  IFetchResult
} from '../bridge/protocol';
import { nextTask } from '../tasks';
import {
  columnViews,
  decodeFetchPayload,
  decodeFetchTables,
  IDecodedFetch,
  readFetchPayload,
  Utf8Column
} from './arrow';
import { isShared } from './sharedMemory';
import {
  type IRpcPort,
  type IRpcRequest,
  RPC_READY,
  RpcClient,
  type RpcResponse,
  RpcTransfer,
  serveRpc
} from '../workerRpc';

/** Turns a `fetch` reply's Arrow stream into columns. */
export interface IFetchDecoder {
  /**
   * The columns of `bytes`. The bytes are handed over: their buffer may be moved to a
   * worker, so the caller must own it (no one else holds a view of it) and not read it
   * afterwards.
   */
  decode(bytes: Uint8Array): Promise<IDecodedFetch>;
  /** Start the worker now, so that it is ready when the reply arrives. */
  warm(): void;
  dispose(): void;
}

/** A `fetch` reply with its payload decoded. */
export interface IFetchResponse {
  result: IFetchResult;
  table: IDecodedFetch;
}

/** Where `fetch` requests go (a KernelBridge; a fake in tests). */
export interface IFetchSource {
  fetch(args: IFetchArgs, options?: IRequestOptions): Promise<IFetchReply>;
}

/**
 * One kernel `fetch`, decoded by `decoder`, with no cache in between (the repository's
 * batches and the benchmark's transfer figure).
 */
export async function fetchDecoded(
  source: IFetchSource,
  args: IFetchArgs,
  decoder: IFetchDecoder,
  options?: IRequestOptions
): Promise<IFetchResponse> {
  // The decoding worker starts while the kernel reads the data
  decoder.warm();
  const { result, payload } = await source.fetch(args, options);
  if (!payload) {
    return { result, table: emptyTable(result.n_obs) };
  }
  let table: IDecodedFetch;
  try {
    // The payload is ours alone (CommClient's contract), so it may be moved to a worker
    table = await decoder.decode(payload);
  } catch (err) {
    throw new ExprscopeError(
      'internal',
      `Could not decode the data sent by the kernel: ${describeError(err)}`
    );
  }
  if (table.nCells !== result.n_obs) {
    throw new ExprscopeError(
      'internal',
      `The kernel sent ${table.nCells} cells but announced ${result.n_obs}.`
    );
  }
  return { result, table };
}

function emptyTable(nCells: number): IDecodedFetch {
  return {
    nCells,
    genes: new Map(),
    obs: new Map(),
    embedding: null,
    cellIds: null
  };
}

/** Where replies were decoded since the page loaded (for the benchmark and the UI tests). */
export interface IFetchDecodings {
  inWorker: number;
  onPage: number;
  /** Reply bytes moved to the worker. */
  movedBytes: number;
}

const decodings: IFetchDecodings = { inWorker: 0, onPage: 0, movedBytes: 0 };

export function fetchDecodings(): IFetchDecodings {
  return { ...decodings };
}

/** The UI-thread decoder: reading the stream and making the columns, a task each. */
export async function decodeInTasks(bytes: Uint8Array): Promise<IDecodedFetch> {
  decodings.onPage++;
  await nextTask();
  const tables = readFetchPayload(bytes);
  await nextTask();
  return decodeFetchTables(tables);
}

/** The decoder used where no worker is given. */
export const inlineFetchDecoder: IFetchDecoder = {
  decode: decodeInTasks,
  warm: () => undefined,
  dispose: () => undefined
};

/** The reply's bytes as sent to the worker (their buffer is moved). */
export interface IDecodePayload {
  buffer: ArrayBuffer;
  byteOffset: number;
  byteLength: number;
}

/** The decoding worker's methods (./workerRpc.ts). */
export type DecodeMethods = {
  decode: { request: IDecodePayload; reply: IDecodedFetch };
};

/** Page → worker. */
export type DecodeRequest = IRpcRequest<DecodeMethods>;

/** Worker → page: `RPC_READY` once on start, then one reply per request. */
export type DecodeReply = RpcResponse | typeof RPC_READY;

/**
 * The distinct buffers of `decoded`'s columns that can be moved (shared memory is not
 * moved: it is shared by posting it).
 */
export function movableBuffers(decoded: IDecodedFetch): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const view of columnViews(decoded)) {
    if (!isShared(view)) {
      buffers.add(view.buffer as ArrayBuffer);
    }
  }
  return [...buffers];
}

/**
 * `decoded` as posted by the worker, made whole again: a posted class instance arrives
 * as a plain object (the cell ids' `Utf8Column`).
 */
export function revive(decoded: IDecodedFetch): IDecodedFetch {
  const cellIds = decoded.cellIds as {
    offsets: Int32Array;
    bytes: Uint8Array;
  } | null;
  return {
    ...decoded,
    cellIds:
      cellIds === null || cellIds instanceof Utf8Column
        ? cellIds
        : new Utf8Column(cellIds.offsets, cellIds.bytes)
  };
}

/** The worker's side of `decode` (what a worker scope offers). */
export type IDecodeScope = IRpcPort;

/** Answer decode requests in a worker (its entry calls this with `self`). */
export function serveFetchDecoding(scope: IDecodeScope): void {
  serveRpc<DecodeMethods>(scope, {
    decode: ({ buffer, byteOffset, byteLength }) => {
      const decoded = decodeFetchPayload(
        new Uint8Array(buffer, byteOffset, byteLength)
      );
      // Nothing here keeps the columns: all their buffers (the reply's among them) move
      return new RpcTransfer(decoded, movableBuffers(decoded));
    }
  });
}

/** How long a new worker may take to say it is ready before replies are decoded here. */
export const WORKER_READY_TIMEOUT_MS = 10_000;

/**
 * A decoder on one worker made by `start` (written
 * `() => new Worker(new URL('./decodeWorker.js', import.meta.url))` at the call site, for
 * the bundler). Nothing is moved to the worker before it said it is ready: a worker
 * whose script never loads would lose the replies moved to it. Replies wait for it (at
 * most `readyTimeoutMs`); once it failed, they are decoded here for good (`decodeInTasks`).
 */
export function createWorkerFetchDecoder(
  start: () => Worker,
  readyTimeoutMs = WORKER_READY_TIMEOUT_MS
): IFetchDecoder {
  let client: RpcClient<DecodeMethods> | null = null;
  let ready: Promise<boolean> | null = null;
  let failed = false;

  const launch = (): Promise<boolean> => {
    if (ready) {
      return ready;
    }
    let worker: Worker;
    try {
      worker = start();
    } catch {
      failed = true;
      ready = Promise.resolve(false);
      return ready;
    }
    // Before `ready`: the script did not load (or stalled); after: the worker died (out
    // of memory). Either way what it held is rejected and replies are decoded here.
    const created = new RpcClient<DecodeMethods>(worker, 'decoding worker', {
      onFailure: () => (failed = true)
    });
    client = created;
    ready = created.whenReady(readyTimeoutMs).then(
      () => true,
      () => {
        failed = true;
        return false;
      }
    );
    return ready;
  };

  const decode = async (bytes: Uint8Array): Promise<IDecodedFetch> => {
    if (failed || !(await launch()) || client === null || client.closed) {
      return decodeInTasks(bytes);
    }
    const payload: IDecodePayload = {
      buffer: bytes.buffer as ArrayBuffer,
      byteOffset: bytes.byteOffset,
      byteLength: bytes.byteLength
    };
    decodings.inWorker++;
    decodings.movedBytes += payload.buffer.byteLength;
    const decoded = await client.call('decode', payload, {
      transfer: [payload.buffer]
    });
    return revive(decoded);
  };

  return {
    decode,
    warm: () => void launch(),
    dispose: () => {
      failed = true;
      client?.terminate();
      client = null;
    }
  };
}
