// Over 600 lines: one class: the comm lifecycle, request/response, chunked fetch and kernel restarts share its state (a split would expose that state).
import type { ISessionContext } from '@jupyterlab/apputils';
import { CommsOverSubshells } from '@jupyterlab/services';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { IChangedArgs } from '@jupyterlab/coreutils';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { CommClient, IRequestOptions, IResponse } from './commClient';
import {
  COMM_TARGET,
  DEFAULT_REQUEST_TIMEOUT_MS,
  describeError,
  ErrorCode,
  ExprscopeError,
  IDescribeResult,
  IFetchArgs,
  IFetchResult,
  IHelloResult,
  IListResult,
  IObjectInfo,
  MAX_GENES_PER_FETCH,
  PROTOCOL_VERSION
} from './protocol';
import { setupSnippetFor } from './setup';

/**
 * Connection state shown to the user. `busy` means ready while the kernel
 * runs a cell: requests are accepted but wait for the cell to finish.
 */
export type BridgeStatus =
  | 'no-kernel'
  | 'connecting'
  | 'ready'
  | 'busy'
  | 'restarting'
  | 'dead'
  | 'unsupported-language'
  | 'not-installed'
  | 'error';

export interface IKernelBridgeOptions {
  sessionContext: ISessionContext;
  /** Default request timeout, read at every request so setting changes apply at once; 60 s unless given. */
  requestTimeoutMs?: () => number;
}

/**
 * A `fetch` reply as it came over the comm: the result and the Arrow stream, reassembled
 * but not decoded (decoding is the data layer's: `src/data/fetchDecoding.ts`).
 */
export interface IFetchReply {
  result: IFetchResult;
  /** The reply's Arrow stream, owned by the caller; null when the kernel sent none. */
  payload: Uint8Array | null;
}

/**
 * Connects one notebook or console session to the exprscope comm of its
 * kernel, and keeps it connected across kernel starts, restarts and
 * switches: each new kernel gets the constant setup snippet, a fresh comm
 * and a `hello`.
 */
export class KernelBridge implements IDisposable {
  constructor(options: IKernelBridgeOptions) {
    this._sessionContext = options.sessionContext;
    this._requestTimeoutMs =
      options.requestTimeoutMs ?? (() => DEFAULT_REQUEST_TIMEOUT_MS);
    const context = this._sessionContext;
    context.kernelChanged.connect(this._onKernelChanged, this);
    context.statusChanged.connect(this._onKernelStatus, this);
    context.iopubMessage.connect(this._onIopub, this);
    const kernel = context.session?.kernel ?? null;
    if (kernel) {
      this._kernel = kernel;
      void this._connect(kernel);
    } else if (!context.isReady) {
      // The session is still starting; a kernel may arrive via kernelChanged.
      this._status = 'connecting';
      this._statusMessage = 'Waiting for the kernel…';
      context.ready
        .then(() => {
          if (!this._kernel && this._status === 'connecting') {
            this._setStatus('no-kernel', NO_KERNEL_MESSAGE);
          }
        })
        .catch(() => undefined);
    }
  }

  get sessionContext(): ISessionContext {
    return this._sessionContext;
  }

  get status(): BridgeStatus {
    return this._status;
  }

  get statusMessage(): string {
    return this._statusMessage;
  }

  get kernelId(): string | null {
    return this._kernel?.id ?? null;
  }

  /** `language_info.name` of the kernel, once known. */
  get language(): string | null {
    return this._language;
  }

  /** Requests waiting for readiness or for their reply. */
  get pendingCount(): number {
    const connected = this._status === 'ready' || this._status === 'busy';
    return (
      this._waiters.size + (connected ? (this._client?.pendingCount ?? 0) : 0)
    );
  }

  get statusChanged(): ISignal<this, BridgeStatus> {
    return this._statusChanged;
  }

  /** Emitted after a cell execution finished (any client), to re-`list`. */
  get executed(): ISignal<this, void> {
    return this._executed;
  }

  get kernelChanged(): ISignal<this, Kernel.IKernelConnection | null> {
    return this._kernelChanged;
  }

  /** Emits a kernel id whose cached data is no longer valid. */
  get reset(): ISignal<this, string> {
    return this._reset;
  }

  get pendingChanged(): ISignal<this, number> {
    return this._pendingChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Send a request once the bridge is ready. Waiting for readiness counts
   * against the request's timeout.
   */
  async request<R>(
    op: string,
    args: object,
    options: IRequestOptions = {}
  ): Promise<IResponse<R>> {
    const timeoutMs = options.timeoutMs ?? this._requestTimeoutMs();
    const limited = timeoutMs > 0 && Number.isFinite(timeoutMs);
    const deadline = Date.now() + timeoutMs;
    const remaining = () =>
      limited ? Math.max(1, deadline - Date.now()) : timeoutMs;
    let client = await this._whenReady(remaining(), options.signal);
    // The kernel may have restarted or died while this promise resolved.
    while (client.isDisposed) {
      client = await this._whenReady(remaining(), options.signal);
    }
    return client.request<R>(op, args, {
      ...options,
      timeoutMs: remaining()
    });
  }

  async hello(options?: IRequestOptions): Promise<IHelloResult> {
    return (await this.request<IHelloResult>('hello', {}, options)).result;
  }

  /** The supported objects in the kernel namespace. */
  async list(options?: IRequestOptions): Promise<IObjectInfo[]> {
    const response = await this.request<IListResult>('list', {}, options);
    return response.result.objects;
  }

  async describe(
    object: string,
    options?: IRequestOptions
  ): Promise<IDescribeResult> {
    const response = await this.request<IDescribeResult>(
      'describe',
      { object },
      options
    );
    return response.result;
  }

  /** Fetch columns and decode the Arrow payload. */
  async fetch(
    args: IFetchArgs,
    options?: IRequestOptions
  ): Promise<IFetchReply> {
    if (args.genes.length > MAX_GENES_PER_FETCH) {
      throw new ExprscopeError(
        'too_large',
        `At most ${MAX_GENES_PER_FETCH} genes can be fetched at once; ${args.genes.length} were asked for.`
      );
    }
    const { result, payload } = await this.request<IFetchResult>(
      'fetch',
      args,
      options
    );
    return { result, payload: payload ?? null };
  }

  /** Set up the current kernel again (e.g. after installing the package). */
  async reconnect(): Promise<void> {
    const kernel = this._kernel;
    this._disconnect('comm_closed', 'Reconnecting to the kernel.');
    if (kernel) {
      await this._connect(kernel);
    } else {
      this._setStatus('no-kernel', NO_KERNEL_MESSAGE);
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._generation += 1;
    this._client?.dispose();
    this._client = null;
    this._notifyWaiters();
    Signal.clearData(this);
  }

  /** Run the setup snippet, open the comm and say hello. */
  private async _connect(kernel: Kernel.IKernelConnection): Promise<void> {
    this._dropClient('comm_closed', 'Reconnecting to the kernel.');
    // Every path that makes this setup obsolete also drops `this._client`.
    const generation = ++this._generation;
    const isCurrent = () =>
      generation === this._generation && !this._isDisposed;
    if (kernel.isDisposed || kernel.status === 'dead') {
      this._setStatus('dead', DEAD_MESSAGE);
      return;
    }
    this._setStatus('connecting', 'Connecting to the kernel…');
    try {
      const info = await withTimeout(
        kernel.info,
        this._requestTimeoutMs(),
        'The kernel did not say which language it runs in time. Press Refresh to try again.'
      );
      if (!isCurrent()) {
        return;
      }
      const language = info.language_info.name;
      this._language = language;
      const code = setupSnippetFor(language);
      if (code === null) {
        this._error = new ExprscopeError(
          'unsupported_language',
          `exprscope does not support ${language} kernels yet. Use a Python kernel.`
        );
        this._setStatus('unsupported-language', this._error.message);
        return;
      }
      const reply = await this._runSetup(kernel, code, isCurrent);
      if (!isCurrent()) {
        return;
      }
      if (reply.content.status !== 'ok') {
        const detail =
          reply.content.status === 'error'
            ? `${reply.content.ename}: ${reply.content.evalue}`
            : reply.content.status;
        throw new ExprscopeError(
          'internal',
          `The exprscope setup failed in the kernel (${detail}).`
        );
      }
      const comm = kernel.createComm(COMM_TARGET);
      // Serve exprscope on the main shell, between cells, not on a JupyterLab 4.6 comm
      // subshell: the handlers read the user's objects, which a running cell may be
      // changing, and comm subshells do not survive a kernel restart in JupyterLab 4.6.
      comm.commsOverSubshells = CommsOverSubshells.Disabled;
      const client = new CommClient(comm, {
        timeoutMs: this._requestTimeoutMs()
      });
      this._client = client;
      comm.open({ protocol: PROTOCOL_VERSION });
      const { result } = await client.request<IHelloResult>('hello', {});
      if (!isCurrent()) {
        return;
      }
      if (result.protocol !== PROTOCOL_VERSION) {
        throw new ExprscopeError(
          'protocol_mismatch',
          `The kernel speaks exprscope protocol ${result.protocol}; this extension needs ${PROTOCOL_VERSION}. Install matching versions.`
        );
      }
      client.pendingChanged.connect(this._emitPending, this);
      client.closed.connect(this._onCommClosed, this);
      this._error = null;
      this._readyMessage = `Connected to the ${language} kernel (exprscope ${result.version}).`;
      if (this._executions.size > 0) {
        this._setStatus('busy', BUSY_MESSAGE);
      } else {
        this._setStatus('ready', this._readyMessage);
      }
    } catch (err) {
      if (!isCurrent()) {
        return;
      }
      this._dropClient('comm_closed', 'The kernel connection failed.');
      const error =
        err instanceof ExprscopeError
          ? err
          : new ExprscopeError('internal', describeError(err));
      this._error = error;
      this._setStatus(
        error.code === 'not_installed' ? 'not-installed' : 'error',
        describeError(error)
      );
    }
  }

  /**
   * Run the (idempotent) setup snippet and wait for its shell reply. Right after a restart
   * JupyterLab may lose a request sent while it reconnects to the new process, so an
   * unanswered request is sent again while the kernel is idle; a kernel busy with a cell
   * is waited for. Bounded by the request timeout, so the panel never stays "connecting".
   */
  private async _runSetup(
    kernel: Kernel.IKernelConnection,
    code: string,
    isCurrent: () => boolean
  ): Promise<KernelMessage.IExecuteReplyMsg> {
    const timeoutMs = this._requestTimeoutMs();
    const deadline =
      timeoutMs > 0 && Number.isFinite(timeoutMs)
        ? Date.now() + timeoutMs
        : Infinity;
    for (;;) {
      // Only the shell reply: `future.done` also waits for an iopub 'idle' that a
      // just-restarted kernel may publish before JupyterLab listens again.
      const future = kernel.requestExecute({
        code,
        silent: true,
        store_history: false,
        allow_stdin: false,
        stop_on_error: false
      });
      const reply = new Promise<KernelMessage.IExecuteReplyMsg>(resolve => {
        future.onReply = resolve;
      });
      try {
        for (;;) {
          const answered = await withTimeout(
            reply,
            Math.max(1, Math.min(SETUP_RETRY_MS, deadline - Date.now())),
            ''
          ).catch(() => null);
          if (answered) {
            return answered;
          }
          if (!isCurrent()) {
            throw new ExprscopeError('cancelled', 'Superseded.');
          }
          if (Date.now() >= deadline) {
            throw new ExprscopeError(
              'timeout',
              'The kernel did not run the exprscope setup in time. Is a long cell running? Press Refresh to try again.'
            );
          }
          if (kernel.status === 'idle') {
            break; // idle without an answer: the request was lost, send it again
          }
        }
      } finally {
        future.dispose();
      }
    }
  }

  /** Drop the comm and any setup in progress, rejecting pending requests. */
  private _disconnect(code: ErrorCode, message: string): void {
    this._generation += 1;
    this._executions.clear();
    this._dropClient(code, message);
    if (this._kernel) {
      this._reset.emit(this._kernel.id);
    }
  }

  private _dropClient(code: ErrorCode, message: string): void {
    const client = this._client;
    this._client = null;
    client?.rejectAll(code, message);
    client?.dispose();
  }

  private _onKernelChanged(
    _sender: ISessionContext,
    change: IChangedArgs<
      Kernel.IKernelConnection | null,
      Kernel.IKernelConnection | null,
      'kernel'
    >
  ): void {
    const kernel = change.newValue;
    if (kernel === this._kernel) {
      // A completed restart re-announces the same kernel; connect unless
      // the restart's idle status already did.
      if (kernel && !CONNECTED.has(this._status)) {
        void this._connect(kernel);
      }
      return;
    }
    this._disconnect(
      'comm_closed',
      'The notebook or console switched to another kernel.'
    );
    this._kernel = kernel;
    this._language = null;
    this._kernelChanged.emit(kernel);
    if (kernel) {
      void this._connect(kernel);
    } else {
      this._setStatus('no-kernel', NO_KERNEL_MESSAGE);
    }
  }

  private _onKernelStatus(
    _sender: ISessionContext,
    status: Kernel.Status
  ): void {
    if (status === 'restarting' || status === 'autorestarting') {
      if (this._status !== 'restarting') {
        this._disconnect(
          'kernel_restarted',
          'The kernel restarted before it answered. Re-run the cells that create your data, then try again.'
        );
        this._setStatus('restarting', 'The kernel is restarting…');
      }
    } else if (status === 'dead') {
      if (this._status !== 'dead') {
        this._disconnect('kernel_dead', DEAD_MESSAGE);
        this._setStatus('dead', DEAD_MESSAGE);
      }
    } else if (status === 'idle' && this._status === 'restarting') {
      if (this._kernel) {
        void this._connect(this._kernel);
      }
    } else if (
      status === 'idle' &&
      this._status === 'error' &&
      this._error?.code === 'timeout' &&
      this._kernel
    ) {
      // The setup timed out behind a long cell (e.g. loading a big object): the kernel is
      // free now, so set up again instead of leaving the panel in an error.
      void this._connect(this._kernel);
    }
  }

  /** Track user executions: execute_input opens one, status idle closes it. */
  private _onIopub(
    _sender: ISessionContext,
    msg: KernelMessage.IMessage
  ): void {
    const parentId = (msg.parent_header as Partial<KernelMessage.IHeader>)
      .msg_id;
    if (!parentId) {
      return;
    }
    if (msg.header.msg_type === 'execute_input') {
      this._executions.add(parentId);
      this._updateBusy();
    } else if (
      msg.header.msg_type === 'status' &&
      (msg as KernelMessage.IStatusMsg).content.execution_state === 'idle' &&
      this._executions.delete(parentId)
    ) {
      this._updateBusy();
      this._executed.emit();
    }
  }

  private _updateBusy(): void {
    const busy = this._executions.size > 0;
    if (busy && this._status === 'ready') {
      this._setStatus('busy', BUSY_MESSAGE);
    } else if (!busy && this._status === 'busy') {
      this._setStatus('ready', this._readyMessage);
    }
  }

  private _onCommClosed(): void {
    this._dropClient('comm_closed', 'The kernel closed the connection.');
    this._error = new ExprscopeError(
      'comm_closed',
      'The kernel closed the exprscope connection. Reconnect to continue.'
    );
    this._setStatus('error', this._error.message);
  }

  private _setStatus(status: BridgeStatus, message: string): void {
    if (status === this._status && message === this._statusMessage) {
      return;
    }
    this._status = status;
    this._statusMessage = message;
    this._statusChanged.emit(status);
    this._notifyWaiters();
  }

  /** The ready client, an error to reject with, or null to keep waiting. */
  private _readiness(): CommClient | ExprscopeError | null {
    if (this._isDisposed) {
      return new ExprscopeError('comm_closed', 'The kernel bridge was closed.');
    }
    switch (this._status) {
      case 'ready':
      case 'busy':
        return this._client;
      case 'connecting':
      case 'restarting':
        return null;
      case 'no-kernel':
        return new ExprscopeError('no_kernel', NO_KERNEL_MESSAGE);
      case 'dead':
        return new ExprscopeError('kernel_dead', this._statusMessage);
      default:
        return (
          this._error ?? new ExprscopeError('internal', this._statusMessage)
        );
    }
  }

  private _whenReady(
    timeoutMs: number,
    signal: AbortSignal | undefined
  ): Promise<CommClient> {
    const now = this._readiness();
    if (now instanceof ExprscopeError) {
      return Promise.reject(now);
    }
    if (now) {
      return Promise.resolve(now);
    }
    if (signal?.aborted) {
      return Promise.reject(
        new ExprscopeError('cancelled', 'The request was cancelled.')
      );
    }
    return new Promise<CommClient>((resolve, reject) => {
      const finish = (outcome: CommClient | ExprscopeError) => {
        this._waiters.delete(check);
        this._emitPending();
        if (timer !== null) {
          clearTimeout(timer);
        }
        signal?.removeEventListener('abort', onAbort);
        if (outcome instanceof ExprscopeError) {
          reject(outcome);
        } else {
          resolve(outcome);
        }
      };
      const check = () => {
        const outcome = this._readiness();
        if (outcome) {
          finish(outcome);
        }
      };
      const onAbort = () =>
        finish(new ExprscopeError('cancelled', 'The request was cancelled.'));
      const timer =
        timeoutMs > 0 && Number.isFinite(timeoutMs)
          ? setTimeout(
              () =>
                finish(
                  new ExprscopeError(
                    'timeout',
                    `The kernel was not ready within ${timeoutMs} ms.`,
                    { timeoutMs }
                  )
                ),
              timeoutMs
            )
          : null;
      signal?.addEventListener('abort', onAbort);
      this._waiters.add(check);
      this._emitPending();
    });
  }

  private _notifyWaiters(): void {
    for (const check of [...this._waiters]) {
      check();
    }
  }

  private _emitPending(): void {
    this._pendingChanged.emit(this.pendingCount);
  }

  private _sessionContext: ISessionContext;
  private _requestTimeoutMs: () => number;
  private _kernel: Kernel.IKernelConnection | null = null;
  private _language: string | null = null;
  private _client: CommClient | null = null;
  private _status: BridgeStatus = 'no-kernel';
  private _statusMessage = NO_KERNEL_MESSAGE;
  private _readyMessage = '';
  private _error: ExprscopeError | null = null;
  /** Incremented whenever a setup in progress becomes obsolete. */
  private _generation = 0;
  /** Parent ids of user executions seen on iopub and not yet idle. */
  private _executions = new Set<string>();
  private _waiters = new Set<() => void>();
  private _isDisposed = false;
  private _statusChanged = new Signal<this, BridgeStatus>(this);
  private _executed = new Signal<this, void>(this);
  private _kernelChanged = new Signal<this, Kernel.IKernelConnection | null>(
    this
  );
  private _reset = new Signal<this, string>(this);
  private _pendingChanged = new Signal<this, number>(this);
}

const BUSY_MESSAGE =
  'The kernel is running a cell; requests wait until it finishes.';

const DEAD_MESSAGE = 'The kernel died. Restart it to continue.';

const NO_KERNEL_MESSAGE =
  'No kernel is running for this notebook or console. Start a kernel to continue.';

/** Statuses in which a setup has started or finished for the kernel. */
/** How long to wait for the setup reply before sending it again to an idle kernel. */
const SETUP_RETRY_MS = 3000;

const CONNECTED = new Set<BridgeStatus>(['connecting', 'ready', 'busy']);

/** `promise`, or a `timeout` ExprscopeError after `ms` (no limit for 0 or Infinity). */
function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  message: string
): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) {
    return promise;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ExprscopeError('timeout', message)),
      ms
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
