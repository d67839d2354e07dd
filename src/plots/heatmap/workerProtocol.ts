/** The heatmap model builder that runs in a Web Worker (`worker.ts`). */
import type { IModelBuilder } from '../modelWorker';
import type { IHeatmapInput, IHeatmapModel, IHeatmapOptions } from './model';

export type IHeatmapModelBuilder = IModelBuilder<
  IHeatmapInput,
  Partial<IHeatmapOptions>,
  IHeatmapModel
>;
