/**
 * Web Worker entry of the dual-expression model: correlations with bootstrap intervals
 * over a million cells take seconds, which must not freeze JupyterLab. The worker keeps
 * the last input it was sent, so that option changes only send options, and the model's
 * memos (keyed by the input arrays) keep working across builds here.
 */
import { buildDualModel, IDualInput } from './model';
import type { DualWorkerReply, DualWorkerRequest } from './workerProtocol';

let input: IDualInput | null = null;

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<DualWorkerRequest>) => void) | null;
  postMessage(message: DualWorkerReply): void;
};

scope.onmessage = event => {
  const request = event.data;
  if (request.type === 'input') {
    input = request.input;
    return;
  }
  try {
    if (!input) {
      throw new Error('The worker has no data yet.');
    }
    const model = buildDualModel(input, request.options);
    scope.postMessage({ id: request.id, model });
  } catch (err) {
    scope.postMessage({
      id: request.id,
      error: err instanceof Error ? err.message : String(err)
    });
  }
};
