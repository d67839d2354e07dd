/**
 * Runs `buildDualModel` in a Web Worker. Kept apart from the controller because creating
 * the worker uses `import.meta.url`, which only the bundler understands (jest does not).
 */
import type { IDualInput, IDualModel, IDualOptions } from './model';
import type {
  IDualModelBuilder,
  DualWorkerReply,
  DualWorkerRequest
} from './workerProtocol';

export function createDualWorkerBuilder(): IDualModelBuilder {
  let worker: Worker | null = null;
  let sent: IDualInput | null = null;
  let nextId = 0;
  const pending = new Map<
    number,
    { resolve: (model: IDualModel) => void; reject: (err: Error) => void }
  >();

  const start = (): Worker => {
    const created = new Worker(new URL('./worker.js', import.meta.url));
    created.onmessage = (event: MessageEvent<DualWorkerReply>) => {
      const reply = event.data;
      const waiter = pending.get(reply.id);
      pending.delete(reply.id);
      if ('error' in reply) {
        waiter?.reject(new Error(reply.error));
      } else {
        waiter?.resolve(reply.model);
      }
    };
    // A dead worker fails what waits on it; the next build starts a new one.
    created.onerror = event => stop(event.message || 'The worker failed.');
    created.onmessageerror = () =>
      stop('A message from the worker could not be read.');
    return created;
  };

  const stop = (reason: string) => {
    pending.forEach(w => w.reject(new Error(reason)));
    pending.clear();
    worker?.terminate();
    worker = null;
    sent = null;
  };

  const build = (input: IDualInput, options: Partial<IDualOptions>) => {
    worker = worker ?? start();
    if (input !== sent) {
      // Cell ids stay here: a million strings cost more to copy than to re-attach.
      const request: DualWorkerRequest = {
        type: 'input',
        input: { ...input, cellIds: null }
      };
      worker.postMessage(request);
      sent = input;
    }
    const id = nextId++;
    const request: DualWorkerRequest = { type: 'build', id, options };
    const result = new Promise<IDualModel>((resolve, reject) =>
      pending.set(id, { resolve, reject })
    );
    worker.postMessage(request);
    return result.then((model: IDualModel): IDualModel => ({
      ...model,
      cellIds: input.cellIds ?? null
    }));
  };

  return {
    build,
    dispose: () => stop('The view was closed.')
  };
}
