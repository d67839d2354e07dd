/** The dual-expression model builder that runs in a Web Worker (`worker.ts`). */
import type { IModelBuilder } from '../modelWorker';
import type { IDualInput, IDualModel, IDualOptions } from './model';

export type IDualModelBuilder = IModelBuilder<
  IDualInput,
  Partial<IDualOptions>,
  IDualModel
>;
