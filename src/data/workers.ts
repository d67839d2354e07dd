/**
 * The data layer's Web Worker. Kept apart because creating a worker uses
 * `import.meta.url`, which only the bundler understands (jest does not).
 */
import { createWorkerFetchDecoder, IFetchDecoder } from './fetchDecoding';

export function createFetchDecoder(): IFetchDecoder {
  return createWorkerFetchDecoder(
    () => new Worker(new URL('./decodeWorker.js', import.meta.url))
  );
}
