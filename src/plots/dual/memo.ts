/**
 * The one memo of dual-model builds: what a build reuses when only options change (the
 * pass over the cells, density bins, correlations per group, blends and their rasters,
 * full scans of a value array). Owned by whoever builds in a row: the worker session
 * (`worker.ts`), a test, a main-thread caller. Every store is keyed weakly by the input
 * arrays (new data lets go of the old), and each is bounded per key as below.
 */
import type { ICorrelation } from '../../compute/correlation';
import type { ICells, ICellsMemo } from './cells';
import type { IBlendMemo } from './embeddingBlend';
import type { IBlendModel } from './modelTypes';

/** A weak map keyed by one input array (or codes) of a memo path. */
export type Nested<T> = WeakMap<object, T>;

export class DualMemo {
  /** Cell passes (and density bin sets) kept per value array of gene X / kept-cells array. */
  static readonly CELLS_PER_ARRAY = 4;
  /** Blends kept per value array of gene X. */
  static readonly BLENDS_PER_ARRAY = 4;
  /** Correlations kept per (x, y, dataset codes, cluster codes) before starting afresh. */
  static readonly GROUPS_PER_PAIR = 2000;

  /** Recent cell passes per value array of gene X. */
  readonly cells = new WeakMap<Float32Array, ICellsMemo[]>();
  /** Density bins per kept-cells array, by drawing options. */
  readonly densities = new WeakMap<Int32Array, Map<string, Uint32Array[]>>();
  /** Correlations by x, y, dataset codes, cluster codes, then group and options. */
  readonly correlations: Nested<
    Nested<Nested<Nested<Map<string, ICorrelation>>>>
  > = new WeakMap();
  /** Pearson's r per dataset × cluster (Δr) per cell pass, by grouping and options. */
  readonly datasetClusterR = new WeakMap<
    ICells,
    Map<
      string,
      { x: Float32Array; y: Float32Array; r: Float64Array; n: Float64Array }
    >
  >();
  /** Recent blends per value array: recolouring or refaceting reuses them. */
  readonly blends = new WeakMap<Float32Array, IBlendMemo[]>();
  /** Blends with their rasters: recolouring a million cells reuses the image too. */
  readonly rasters = new WeakMap<IBlendModel, IBlendModel>();
  /** Whether an array holds only whole numbers (a full scan). */
  readonly wholeNumbers = new WeakMap<Float32Array, boolean>();
  /** Whether an array holds negative values (a full scan). */
  readonly negatives = new WeakMap<Float32Array, boolean>();
}
