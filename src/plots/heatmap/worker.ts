/**
 * Web Worker entry of the heatmap model: aggregating fifty genes over a million cells
 * takes longer than a frame, which must not freeze JupyterLab.
 */
import { serveModelBuilds } from '../modelWorker';
import { buildHeatmapModel } from './model';

serveModelBuilds(buildHeatmapModel);
