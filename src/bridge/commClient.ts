import type { KernelMessage } from '@jupyterlab/services';
import type { JSONObject } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { columnsPayloadToIPC, isColumnsPayload } from './columnsPayload';
import { PartsAssembler } from './partsAssembler';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  ErrorCode,
  ExprscopeError,
  IErrorInfo,
  IReplyMessage,
  IRequest
} from './protocol';

type Buffer = ArrayBuffer | ArrayBufferView;

/**
 * The part of `Kernel.IComm` the client uses, so tests can pass a fake.
 */
export interface ICommLike {
  readonly commId: string;
  readonly isDisposed: boolean;
  send(data: JSONObject, metadata?: JSONObject, buffers?: Buffer[]): unknown;
  onMsg: (msg: KernelMessage.ICommMsgMsg) => void | PromiseLike<void>;
  onClose: (msg: KernelMessage.ICommCloseMsg) => void | PromiseLike<void>;
  close(): unknown;
}

/** Progress of a chunked reply. */
export type ProgressCallback = (
  receivedBytes: number,
  partsReceived: number,
  partsTotal: number
) => void;

/** What the kernel reports while it works on a request (docs/protocol.md, "Progress"). */
export interface IKernelProgress {
  done: number;
  total: number;
  message: string;
}

export interface IRequestOptions {
  /**
   * Overrides the client's default; 0 or Infinity disables the timeout. Each
   * progress message from the kernel starts it again.
   */
  timeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: ProgressCallback;
  /** Called for each progress message the kernel sends before the reply. */
  onKernelProgress?: (progress: IKernelProgress) => void;
}

/** A complete reply: part 0's result and the reassembled payload. */
export interface IResponse<R> {
  result: R;
  /**
   * The receiver's own bytes: no view of a kernel message (which other listeners of the
   * kernel's messages also see), so its buffer may be moved to a worker.
   */
  payload: Uint8Array | null;
}

export interface ICommClientOptions {
  /** Default request timeout; 60 s unless given. */
  timeoutMs?: number;
}

interface IPending {
  id: string;
  op: string;
  resolve: (response: IResponse<any>) => void;
  reject: (err: ExprscopeError) => void;
  result: unknown;
  parts: PartsAssembler | null;
  partsReceived: number;
  onProgress?: ProgressCallback;
  onKernelProgress?: (progress: IKernelProgress) => void;
  /** Start the timeout again (a progress message arrived). */
  restartTimer: () => void;
  cleanup: () => void;
}

/**
 * Request/response over one comm: ids, timeouts, cancellation and
 * reassembly of chunked replies. Every request settles exactly once.
 */
export class CommClient implements IDisposable {
  constructor(comm: ICommLike, options: ICommClientOptions = {}) {
    this._comm = comm;
    this._defaultTimeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    comm.onMsg = msg => this._onMsg(msg);
    comm.onClose = () => this._onClose();
  }

  /** Number of requests waiting for their reply. */
  get pendingCount(): number {
    return this._pending.size;
  }

  /** Emits the new pending count whenever it changes. */
  get pendingChanged(): ISignal<this, number> {
    return this._pendingChanged;
  }

  /** Emitted once when the kernel closes the comm. */
  get closed(): ISignal<this, void> {
    return this._closed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Send `op` and resolve with its reply; rejects with ExprscopeError. */
  request<R>(
    op: string,
    args: object,
    options: IRequestOptions = {}
  ): Promise<IResponse<R>> {
    if (this._isDisposed || this._isClosed) {
      return Promise.reject(
        new ExprscopeError(
          'comm_closed',
          'The connection to the kernel is closed.'
        )
      );
    }
    const { signal, onProgress, onKernelProgress } = options;
    if (signal?.aborted) {
      return Promise.reject(cancelledError());
    }
    const id = this._nextId();
    return new Promise<IResponse<R>>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this._defaultTimeoutMs;
      const startTimer = () =>
        timeoutMs > 0 && Number.isFinite(timeoutMs)
          ? setTimeout(() => {
              this._settle(
                id,
                new ExprscopeError(
                  'timeout',
                  `The kernel did not answer '${op}' within ${timeoutMs} ms.`,
                  { timeoutMs }
                )
              );
            }, timeoutMs)
          : null;
      let timer = startTimer();
      const onAbort = () => {
        if (this._settle(id, cancelledError())) {
          this._sendCancel(id);
        }
      };
      signal?.addEventListener('abort', onAbort);
      this._pending.set(id, {
        id,
        op,
        resolve,
        reject,
        result: undefined,
        parts: null,
        partsReceived: 0,
        onProgress,
        onKernelProgress,
        restartTimer: () => {
          if (timer !== null) {
            clearTimeout(timer);
            timer = startTimer();
          }
        },
        cleanup: () => {
          if (timer !== null) {
            clearTimeout(timer);
          }
          signal?.removeEventListener('abort', onAbort);
        }
      });
      this._pendingChanged.emit(this._pending.size);
      try {
        this._comm.send({ id, op, args } as IRequest as unknown as JSONObject);
      } catch (err) {
        this._settle(
          id,
          new ExprscopeError(
            'comm_closed',
            `Could not send the request to the kernel: ${String(err)}`
          )
        );
      }
    });
  }

  /** Reject every pending request (kernel restart, death, switch). */
  rejectAll(code: ErrorCode, message: string): void {
    for (const id of [...this._pending.keys()]) {
      this._settle(id, new ExprscopeError(code, message));
    }
  }

  /** Reject pending requests with `comm_closed` and close the comm. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.rejectAll('comm_closed', 'The connection to the kernel was closed.');
    if (!this._isClosed && !this._comm.isDisposed) {
      try {
        this._comm.close();
      } catch {
        // The kernel connection is already gone; nothing left to close.
      }
    }
    Signal.clearData(this);
  }

  private _nextId(): string {
    this._counter += 1;
    return `${this._comm.commId}:${this._counter}`;
  }

  private _onMsg(msg: KernelMessage.ICommMsgMsg): void {
    const data = msg.content.data as unknown as IReplyMessage;
    if (typeof data !== 'object' || data === null) {
      return;
    }
    const pending =
      typeof data.id === 'string' ? this._pending.get(data.id) : undefined;
    if (!pending) {
      // Late reply for a request that already timed out or was cancelled.
      return;
    }
    if (data.ok !== true) {
      this._settle(pending.id, kernelError(data.error));
      return;
    }
    if (data.progress !== undefined && data.part === undefined) {
      this._onKernelProgress(pending, data.progress);
      return;
    }
    const parts = data.parts ?? 1;
    const part = data.part ?? 0;
    if (
      !Number.isInteger(parts) ||
      !Number.isInteger(part) ||
      part < 0 ||
      part >= parts ||
      (pending.parts !== null && parts !== pending.parts.parts)
    ) {
      this._settle(
        pending.id,
        new ExprscopeError(
          'internal',
          `Malformed reply to '${pending.op}': part ${part} of ${parts}.`
        )
      );
      return;
    }
    pending.parts ??= new PartsAssembler(parts);
    if (pending.parts.has(part)) {
      return;
    }
    if (part === 0) {
      pending.result = data.result;
    }
    pending.parts.add(part, chunkOf(msg.buffers, data.b64));
    pending.partsReceived += 1;
    if (pending.onProgress) {
      try {
        pending.onProgress(
          pending.parts.receivedBytes,
          pending.partsReceived,
          parts
        );
      } catch (err) {
        console.error('exprscope: progress callback failed', err);
      }
    }
    if (pending.partsReceived === parts) {
      let payload = pending.parts.bytes();
      if (isColumnsPayload(pending.result)) {
        // R kernels send raw columns: from here on, the same Arrow stream as Python's.
        try {
          payload = columnsPayloadToIPC(pending.result, payload);
        } catch (err) {
          this._settle(
            pending.id,
            new ExprscopeError(
              'internal',
              `Malformed columns payload in the reply to '${pending.op}': ${String(err instanceof Error ? err.message : err)}`
            )
          );
          return;
        }
      }
      this._settle(pending.id, { result: pending.result, payload });
    }
  }

  /** A progress message: the kernel is working on the request (not stuck). */
  private _onKernelProgress(pending: IPending, progress: unknown): void {
    if (pending.parts !== null) {
      return; // the reply has begun: a late progress message means nothing
    }
    pending.restartTimer();
    const p = progress as Partial<IKernelProgress> | null;
    if (
      !pending.onKernelProgress ||
      typeof p !== 'object' ||
      p === null ||
      typeof p.done !== 'number' ||
      typeof p.total !== 'number'
    ) {
      return;
    }
    try {
      pending.onKernelProgress({
        done: p.done,
        total: p.total,
        message: typeof p.message === 'string' ? p.message : ''
      });
    } catch (err) {
      console.error('exprscope: progress callback failed', err);
    }
  }

  private _onClose(): void {
    if (this._isClosed) {
      return;
    }
    this._isClosed = true;
    if (this._isDisposed) {
      return;
    }
    this.rejectAll(
      'comm_closed',
      'The kernel closed the exprscope connection.'
    );
    this._closed.emit();
  }

  /** Settle a pending request once; returns false if it already settled. */
  private _settle(
    id: string,
    outcome: IResponse<unknown> | ExprscopeError
  ): boolean {
    const pending = this._pending.get(id);
    if (!pending) {
      return false;
    }
    this._pending.delete(id);
    pending.cleanup();
    if (outcome instanceof ExprscopeError) {
      pending.reject(outcome);
    } else {
      pending.resolve(outcome);
    }
    this._pendingChanged.emit(this._pending.size);
    return true;
  }

  /** Best effort: kernels may answer `unknown_op`, which is dropped. */
  private _sendCancel(requestId: string): void {
    if (this._isDisposed || this._isClosed) {
      return;
    }
    try {
      const cancel: IRequest = {
        id: this._nextId(),
        op: 'cancel',
        args: { id: requestId }
      };
      this._comm.send(cancel as unknown as JSONObject);
    } catch {
      // The request already rejected; a lost cancel only costs kernel time.
    }
  }

  private _comm: ICommLike;
  private _defaultTimeoutMs: number;
  private _counter = 0;
  private _pending = new Map<string, IPending>();
  private _isDisposed = false;
  private _isClosed = false;
  private _pendingChanged = new Signal<this, number>(this);
  private _closed = new Signal<this, void>(this);
}

function cancelledError(): ExprscopeError {
  return new ExprscopeError('cancelled', 'The request was cancelled.');
}

function kernelError(error: IErrorInfo | undefined): ExprscopeError {
  if (typeof error !== 'object' || error === null) {
    return new ExprscopeError(
      'internal',
      'The kernel sent an error without details.'
    );
  }
  return new ExprscopeError(
    error.code ?? 'internal',
    typeof error.message === 'string' ? error.message : '',
    error.details
  );
}

/** The payload slice of one part: its first buffer, or base64 text. */
function chunkOf(
  buffers: Buffer[] | undefined,
  b64: string | undefined
): Uint8Array | null {
  const buffer = buffers?.[0];
  if (buffer !== undefined) {
    return buffer instanceof ArrayBuffer
      ? new Uint8Array(buffer)
      : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  if (typeof b64 === 'string') {
    return decodeBase64(b64);
  }
  return null;
}

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}
