/**
 * Web Worker entry of the dual-expression model: correlations with bootstrap intervals
 * over a million cells take seconds, which must not freeze JupyterLab.
 */
import { serveModelBuilds } from '../modelWorker';
import { buildDualModel, DualMemo, IDualInput, IDualOptions } from './model';
import { dualReplies, freshBuffers } from './workerProtocol';

// The worker session's memo: builds after the first reuse what only options leave alike
const memo = new DualMemo();

serveModelBuilds(
  (input: IDualInput, options: Partial<IDualOptions>) =>
    buildDualModel(input, options, memo),
  {
    strip: dualReplies().strip,
    transfer: freshBuffers
  }
);
