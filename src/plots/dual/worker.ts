/**
 * Web Worker entry of the dual-expression model: correlations with bootstrap intervals
 * over a million cells take seconds, which must not freeze JupyterLab.
 */
import { serveModelBuilds } from '../modelWorker';
import { buildDualModel } from './model';
import { dualReplies, freshBuffers } from './workerProtocol';

serveModelBuilds(buildDualModel, {
  strip: dualReplies().strip,
  transfer: freshBuffers
});
