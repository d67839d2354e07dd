/**
 * The model builders that run in Web Workers. Kept apart because creating a worker uses
 * `import.meta.url`, which only the bundler understands (jest does not).
 */
import { createModelBuilder } from './modelWorker';
import { dualReplies, type IDualModelBuilder } from './dual/workerProtocol';
import type { IConservedBuilder } from './heatmap/conservedController';
import type { IHeatmapModelBuilder } from './heatmap/workerProtocol';

export function createDualWorkerBuilder(): IDualModelBuilder {
  return createModelBuilder(
    () => new Worker(new URL('./dual/worker.js', import.meta.url)),
    {
      // Cell ids stay here: a million strings cost more to copy than to re-attach.
      strip: input => ({ ...input, cellIds: null }),
      attach: dualReplies().attach
    }
  );
}

export function createHeatmapWorkerBuilder(): IHeatmapModelBuilder {
  return createModelBuilder(
    () => new Worker(new URL('./heatmap/worker.js', import.meta.url))
  );
}

export function createConservedWorkerBuilder(): IConservedBuilder {
  return createModelBuilder(
    () => new Worker(new URL('./heatmap/conservedWorker.js', import.meta.url))
  );
}
