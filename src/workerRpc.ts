/**
 * One typed request/reply protocol for the extension's Web Workers: numbered requests,
 * typed method maps, errors carried as messages and rethrown as `Error`, transfer lists,
 * abort and worker crashes rejecting the calls still pending. A served worker says it is
 * ready once its script has run (`RpcClient.ready`), and one-way notifications
 * (`RpcClient.notify`) carry what needs no reply.
 */

/** Each method's request and reply types, e.g. `{ run: { request: A; reply: B } }`. */
export type RpcMethods = Record<string, { request: unknown; reply: unknown }>;

export interface IRpcRequest<M extends RpcMethods = RpcMethods> {
  /** 0: a notification, which gets no reply. */
  id: number;
  method: keyof M & string;
  payload: M[keyof M]['request'];
}

export type RpcResponse =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string };

/** What a served worker posts once, when its script has run and it serves requests. */
export const RPC_READY = { rpc: 'ready' } as const;

/** What both a `Worker` and a worker's `self` (or a test's fake port) offer. */
export interface IRpcPort {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

export interface IRpcWorker extends IRpcPort {
  onerror: ((event: ErrorEvent) => void) | null;
  /** A reply that could not be read (a browser `Worker` has it; fakes may not). */
  onmessageerror?: ((event: MessageEvent) => void) | null;
  terminate(): void;
}

export interface IRpcClientOptions {
  /**
   * Called once when the worker failed (a crash, a script that did not load, a reply
   * that could not be read), after the pending calls were rejected.
   */
  onFailure?: (error: Error) => void;
}

export interface IRpcCallOptions {
  transfer?: Transferable[];
  /** Aborting rejects the call; the worker's eventual reply is ignored. */
  signal?: AbortSignal;
}

export class RpcAbortError extends Error {
  constructor() {
    super('The worker call was aborted.');
    this.name = 'AbortError';
  }
}

/** The client side of one worker: typed `call`s, `terminate` rejects what is pending. */
export class RpcClient<M extends RpcMethods> {
  constructor(
    private readonly _worker: IRpcWorker,
    private readonly _name = 'worker',
    private readonly _options: IRpcClientOptions = {}
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this._readyResolve = resolve;
      this._readyReject = reject;
    });
    // Nobody need wait for `ready`: its failure is reported through the calls too
    this.ready.catch(() => undefined);
    _worker.onmessage = event => this._receive(event.data);
    _worker.onerror = event => {
      // A crash loses every request in flight: say so rather than hang.
      this._fail(
        new Error(
          `The ${this._name} failed: ${event?.message || 'unknown error'}`
        )
      );
    };
    _worker.onmessageerror = () =>
      this._fail(
        new Error(`A message from the ${this._name} could not be read.`)
      );
  }

  /**
   * Settles once: resolved when the worker said it serves requests, rejected when it
   * failed or was terminated before.
   */
  readonly ready: Promise<void>;

  get pending(): number {
    return this._pending.size;
  }

  /** The worker failed or was terminated: calls are rejected from now on. */
  get closed(): boolean {
    return this._terminated;
  }

  /**
   * `ready`, or rejected after `timeoutMs` (the client is then terminated: a worker whose
   * script never loads is given up).
   */
  whenReady(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`The ${this._name} did not start.`);
        this._fail(error);
        reject(error);
      }, timeoutMs);
    });
    return Promise.race([this.ready, timeout]).finally(() =>
      clearTimeout(timer)
    );
  }

  /** Post a request that gets no reply (its handler's errors are not reported). */
  notify<K extends keyof M & string>(
    method: K,
    payload: M[K]['request'],
    transfer: Transferable[] = []
  ): void {
    if (this._terminated) {
      return;
    }
    const request: IRpcRequest<M> = { id: 0, method, payload };
    this._worker.postMessage(request, transfer);
  }

  call<K extends keyof M & string>(
    method: K,
    payload: M[K]['request'],
    options: IRpcCallOptions = {}
  ): Promise<M[K]['reply']> {
    if (this._terminated) {
      return Promise.reject(new Error(`The ${this._name} was terminated.`));
    }
    const { signal, transfer = [] } = options;
    if (signal?.aborted) {
      return Promise.reject(new RpcAbortError());
    }
    const id = this._nextId++;
    return new Promise<M[K]['reply']>((resolve, reject) => {
      const onAbort = () => {
        this._pending.delete(id);
        reject(new RpcAbortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this._pending.set(id, {
        resolve: value => resolve(value as M[K]['reply']),
        reject,
        done: () => signal?.removeEventListener('abort', onAbort)
      });
      const request: IRpcRequest<M> = { id, method, payload };
      this._worker.postMessage(request, transfer);
    });
  }

  /** Stop the worker; pending and later calls reject with `reason`. */
  terminate(reason = `The ${this._name} was terminated.`): void {
    if (this._terminated) {
      return;
    }
    this._terminated = true;
    this._worker.terminate();
    const error = new Error(reason);
    this._readyReject(error);
    this._rejectAll(error);
  }

  /** The worker is lost: reject what waits, stop it, tell the owner (once). */
  private _fail(error: Error): void {
    if (this._terminated) {
      return;
    }
    this._terminated = true;
    this._worker.terminate();
    this._readyReject(error);
    this._rejectAll(error);
    this._options.onFailure?.(error);
  }

  private _receive(data: unknown): void {
    if ((data as typeof RPC_READY | null)?.rpc === RPC_READY.rpc) {
      this._readyResolve();
      return;
    }
    this._settle(data as RpcResponse);
  }

  private _settle(response: RpcResponse): void {
    const entry = this._pending.get(response.id);
    if (!entry) {
      return; // aborted: the late reply has nobody waiting
    }
    this._pending.delete(response.id);
    entry.done();
    if (response.ok) {
      entry.resolve(response.value);
    } else {
      entry.reject(new Error(response.error));
    }
  }

  private _rejectAll(error: Error): void {
    const entries = [...this._pending.values()];
    this._pending.clear();
    for (const entry of entries) {
      entry.done();
      entry.reject(error);
    }
  }

  private _nextId = 1;
  private _terminated = false;
  private _readyResolve: () => void = () => undefined;
  private _readyReject: (error: Error) => void = () => undefined;
  private readonly _pending = new Map<
    number,
    {
      resolve: (value: unknown) => void;
      reject: (error: Error) => void;
      done: () => void;
    }
  >();
}

/** A handler's reply with the buffers to move rather than copy. */
export class RpcTransfer<T> {
  constructor(
    readonly value: T,
    readonly transfer: Transferable[]
  ) {}
}

export type RpcHandlers<M extends RpcMethods> = {
  [K in keyof M]: (
    payload: M[K]['request']
  ) =>
    | M[K]['reply']
    | RpcTransfer<M[K]['reply']>
    | Promise<M[K]['reply'] | RpcTransfer<M[K]['reply']>>;
};

/**
 * The worker side: answer each request with its handler's value or error message (a
 * notification, id 0, gets no reply), then say it is ready (`RPC_READY`). Handlers run in
 * the order requests arrive (each is called as its message is received).
 */
export function serveRpc<M extends RpcMethods>(
  port: IRpcPort,
  handlers: RpcHandlers<M>
): void {
  port.onmessage = async (event: MessageEvent) => {
    const { id, method, payload } = event.data as IRpcRequest<M>;
    let response: RpcResponse;
    let transfer: Transferable[] = [];
    try {
      const handler = handlers[method];
      if (!handler) {
        throw new Error(`Unknown worker method: ${String(method)}`);
      }
      const called = handler(payload);
      if (id === 0) {
        void Promise.resolve(called).catch(() => undefined);
        return;
      }
      const result: unknown = await called;
      let value = result;
      if (result instanceof RpcTransfer) {
        transfer = result.transfer;
        value = result.value;
      }
      response = { id, ok: true, value };
    } catch (err) {
      response = {
        id,
        ok: false,
        error: err instanceof Error ? err.message : String(err)
      };
    }
    if (id !== 0) {
      port.postMessage(response, transfer);
    }
  };
  port.postMessage(RPC_READY);
}
