/** Messages between the dual-expression view and its Web Worker (`worker.ts`). */
import type { IDualInput, IDualModel, IDualOptions } from './model';

export type DualWorkerRequest =
  | { type: 'input'; input: IDualInput }
  | { type: 'build'; id: number; options: Partial<IDualOptions> };

export type DualWorkerReply =
  { id: number; model: IDualModel } | { id: number; error: string };

/** Builds models away from the UI thread. */
export interface IDualModelBuilder {
  build(input: IDualInput, options: Partial<IDualOptions>): Promise<IDualModel>;
  /** Stop the worker and fail what waits on it. */
  dispose(): void;
}
