/**
 * One mechanism for building plot models in a Web Worker, used by every view: the view
 * sends its input once, then only options, and awaits models. Heavy builds (a million
 * cells) then never freeze JupyterLab's UI thread.
 *
 * The input is sent to the worker once per dataset; later builds send only options. Its
 * arrays are shared with the worker where they live in shared memory (a cross-origin-
 * isolated page, ../data/sharedMemory.ts), otherwise copied (structured clone, ~0.1 s
 * per 200 MB of the UI thread).
 */

import { isShared } from '../data/sharedMemory';
import {
  type IRpcPort,
  type IRpcRequest,
  RpcClient,
  RpcTransfer,
  serveRpc
} from '../workerRpc';

/**
 * A model worker's methods (../workerRpc.ts): `input` and `patch` are notifications
 * (no reply), `build` answers with the model.
 */
export type ModelWorkerMethods<I, O, M> = {
  input: { request: I; reply: void };
  patch: { request: Partial<I>; reply: void };
  build: { request: O; reply: M };
};

export type ModelWorkerRequest<I, O, M = unknown> = IRpcRequest<
  ModelWorkerMethods<I, O, M>
>;

/** How long a new worker may take to say it is ready before its builds fail (generous: a
 * cold chunk load on a busy machine is slow, and a failed build shows the user an error). */
export const MODEL_WORKER_READY_TIMEOUT_MS = 60_000;

/** Bytes of input the views have sent to workers: shared, or copied (whole buffers). */
export interface IWorkerInputTraffic {
  inputs: number;
  sharedBytes: number;
  copiedBytes: number;
}

const traffic: IWorkerInputTraffic = {
  inputs: 0,
  sharedBytes: 0,
  copiedBytes: 0
};

/** Since the page loaded (for the benchmark and the UI tests). */
export function workerInputTraffic(): IWorkerInputTraffic {
  return { ...traffic };
}

/**
 * Count what posting `value` costs: a view of shared memory is shared; any other view
 * copies its whole buffer, once per message however many views it has.
 */
function countTraffic(value: unknown): void {
  const copied = new Set<ArrayBufferLike>();
  for (const view of viewsIn(value)) {
    if (isShared(view)) {
      traffic.sharedBytes += view.byteLength;
    } else {
      copied.add(view.buffer);
    }
  }
  traffic.inputs++;
  copied.forEach(buffer => (traffic.copiedBytes += buffer.byteLength));
}

/** The typed arrays in an input or a field of one (objects, arrays and maps followed). */
function viewsIn(
  value: unknown,
  out: ArrayBufferView[] = []
): ArrayBufferView[] {
  if (ArrayBuffer.isView(value)) {
    out.push(value);
  } else if (value instanceof Map) {
    value.forEach(entry => viewsIn(entry, out));
  } else if (Array.isArray(value)) {
    // Arrays of strings (categories, gene names) hold no buffers
    if (value.length > 0 && typeof value[0] !== 'string') {
      value.forEach(entry => viewsIn(entry, out));
    }
  } else if (value !== null && typeof value === 'object') {
    Object.values(value).forEach(entry => viewsIn(entry, out));
  }
  return out;
}

/**
 * The fields of `next` that differ from `previous` (by reference), when none of them holds
 * an array buffer; null when an array changed (the input must be sent whole).
 */
export function lightPatch<I>(previous: I, next: I): Partial<I> | null {
  if (
    typeof previous !== 'object' ||
    previous === null ||
    typeof next !== 'object' ||
    next === null
  ) {
    return null;
  }
  const before = previous as Record<string, unknown>;
  const after = next as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (before[key] !== after[key]) {
      if (viewsIn(before[key]).length > 0 || viewsIn(after[key]).length > 0) {
        return null;
      }
      patch[key] = after[key];
    }
  }
  return patch as Partial<I>;
}

/** Builds models away from the UI thread. */
export interface IModelBuilder<I, O, M> {
  build(input: I, options: O): Promise<M>;
  /**
   * Start the worker if none runs: its script loads and compiles while the view's data
   * is fetched, instead of after (a build starts it anyway).
   */
  prepare(): void;
  /** Stop the worker and fail what waits on it. */
  dispose(): void;
}

export interface IModelWorkerOptions<I, M> {
  /** What is sent instead of the input (e.g. without strings that are cheap to re-attach). */
  strip?: (input: I) => I;
  /** The model as the view gets it back (re-attach what `strip` left out). */
  attach?: (model: M, input: I) => M;
}

/**
 * A builder on a worker made by `start` (which must be written
 * `() => new Worker(new URL('./worker.js', import.meta.url))` at the call site, so the
 * bundler finds the worker's entry).
 */
export function createModelBuilder<I, O, M>(
  start: () => Worker,
  options: IModelWorkerOptions<I, M> = {}
): IModelBuilder<I, O, M> {
  let client: RpcClient<ModelWorkerMethods<I, O, M>> | null = null;
  // The input as the view gave it, and as it went to the worker (stripped)
  let sent: I | null = null;
  let sentForm: I | null = null;

  const launch = (): RpcClient<ModelWorkerMethods<I, O, M>> => {
    // A dead worker (or one whose script does not load) fails what waits on it; the
    // next build starts a new one.
    const created = new RpcClient<ModelWorkerMethods<I, O, M>>(
      start(),
      'model worker',
      {
        onFailure: () => {
          if (client === created) {
            client = null;
            sent = null;
            sentForm = null;
          }
        }
      }
    );
    // A script that never loads nor fails (a stalled request) must not hang builds
    created.whenReady(MODEL_WORKER_READY_TIMEOUT_MS).catch(() => undefined);
    return created;
  };

  const build = (input: I, buildOptions: O): Promise<M> => {
    const worker = (client = client ?? launch());
    if (input !== sent) {
      const form = options.strip ? options.strip(input) : input;
      const patch = sentForm === null ? null : lightPatch(sentForm, form);
      if (patch) {
        // Same arrays, other small fields (correlations from the kernel): the worker keeps
        // its arrays, so its memos (keyed by them) still hold
        worker.notify('patch', patch);
      } else {
        countTraffic(form);
        worker.notify('input', form);
      }
      sent = input;
      sentForm = form;
    }
    const result = worker.call('build', buildOptions);
    return options.attach
      ? result.then(model => options.attach!(model, input))
      : result;
  };

  return {
    build,
    prepare: () => {
      client = client ?? launch();
    },
    dispose: () => {
      client?.terminate('The view was closed.');
      client = null;
      sent = null;
      sentForm = null;
    }
  };
}

/** How the worker sends a model back. */
export interface IModelReplyOptions<M> {
  /** What is sent instead of the model (without what the view already holds). */
  strip?: (model: M) => M;
  /**
   * Buffers moved to the view instead of copied: only ones the worker made for this
   * model and keeps nowhere (a moved buffer is empty on the worker's side).
   */
  transfer?: (model: M) => ArrayBuffer[];
}

/**
 * The worker side: keep the last input (so the model's memos, keyed by the input arrays,
 * keep working across builds) and answer each build.
 */
export function serveModelBuilds<I, O, M>(
  buildModel: (input: I, options: O) => M,
  reply: IModelReplyOptions<M> = {},
  scope: IRpcPort = self as unknown as IRpcPort
): void {
  const strip = reply.strip ?? ((model: M) => model);
  let input: I | null = null;
  serveRpc<ModelWorkerMethods<I, O, M>>(scope, {
    input: next => {
      input = next;
    },
    patch: patch => {
      input = input === null ? null : { ...input, ...patch };
    },
    build: options => {
      if (input === null) {
        throw new Error('The worker has no data yet.');
      }
      const model = strip(buildModel(input, options));
      return new RpcTransfer(
        model,
        reply.transfer ? reply.transfer(model) : []
      );
    }
  });
}
