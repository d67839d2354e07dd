/**
 * One typed request/reply protocol for the extension's Web Workers: numbered requests,
 * typed method maps, errors carried as messages and rethrown as `Error`, transfer lists,
 * abort and worker crashes rejecting the calls still pending.
 */

/** Each method's request and reply types, e.g. `{ run: { request: A; reply: B } }`. */
export type RpcMethods = Record<string, { request: unknown; reply: unknown }>;

export interface IRpcRequest<M extends RpcMethods = RpcMethods> {
  id: number;
  method: keyof M & string;
  payload: M[keyof M]['request'];
}

export type RpcResponse =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string };

/** What both a `Worker` and a worker's `self` (or a test's fake port) offer. */
export interface IRpcPort {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

export interface IRpcWorker extends IRpcPort {
  onerror: ((event: ErrorEvent) => void) | null;
  terminate(): void;
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
    private readonly _name = 'worker'
  ) {
    _worker.onmessage = event => this._settle(event.data as RpcResponse);
    _worker.onerror = event => {
      // A crash loses every request in flight: say so rather than hang.
      this._rejectAll(
        new Error(
          `The ${this._name} failed: ${event?.message || 'unknown error'}`
        )
      );
    };
  }

  get pending(): number {
    return this._pending.size;
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

  terminate(): void {
    if (this._terminated) {
      return;
    }
    this._terminated = true;
    this._worker.terminate();
    this._rejectAll(new Error(`The ${this._name} was terminated.`));
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

/** The worker side: answer each request with its handler's value or error message. */
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
      const result: unknown = await handler(payload);
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
    port.postMessage(response, transfer);
  };
}
