/** Correlations of the dual model: memoised per group, Δr between datasets, the pooled-r check. */
import {
  correlateByGroup,
  correlationDifference,
  ICorrelation,
  pearsonByGroup,
  undefinedCorrelation
} from '../../compute/correlation';
import { filterKeyOf, type ICells } from './cells';
import { byName } from './format';
import { DualMemo, Nested } from './memo';
import {
  DualStatsSection,
  IDeltaR,
  IDualGroup,
  IDualInput,
  IDualOptions,
  IDualStats,
  MIN_CELLS
} from './modelTypes';

// ---------------------------------------------------------------------------------------
// Statistics

export type Cache = Map<string, ICorrelation>;

export function nestedGet<T>(
  map: Nested<T>,
  key: object,
  make: () => T,
  create: boolean
): T | undefined {
  let value = map.get(key);
  if (value === undefined && create) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/**
 * Memoised `correlateByGroup` of one model build. Results are stored under the
 * (x, y) orientation first seen; read in the other orientation only the wording of a
 * constant-gene reason changes.
 */
export class StatsContext {
  constructor(
    memo: DualMemo,
    private readonly input: IDualInput,
    private readonly x: Float32Array | null,
    private readonly y: Float32Array | null,
    private readonly opts: IDualOptions,
    keepCluster: Uint8Array
  ) {
    this.filterKey = filterKeyOf(keepCluster, opts);
    this.optionKey = `${opts.detectedOnly ? 1 : 0}|${opts.nBoot}|${opts.seed}`;
    if (x !== null && y !== null) {
      const path = (a: object, b: object, create: boolean) => {
        const l1 = nestedGet(memo.correlations, a, () => new WeakMap(), create);
        const l2 = l1 && nestedGet(l1, b, () => new WeakMap(), create);
        const l3 =
          l2 && nestedGet(l2, input.dataset.codes, () => new WeakMap(), create);
        return (
          l3 && nestedGet(l3, input.cluster.codes, () => new Map(), create)
        );
      };
      const forward = path(x, y, false);
      const backward = forward ? undefined : path(y, x, false);
      this.reversed = backward !== undefined && x !== y;
      this.cache = forward ?? backward ?? (path(x, y, true) as Cache);
      if (this.cache.size > DualMemo.GROUPS_PER_PAIR) {
        this.cache.clear();
      }
    } else {
      this.cache = new Map();
      this.reversed = false;
    }
  }

  /**
   * Correlations of the listed groups of each cell's code (−1: not kept), through the
   * memo: the groups not yet known are computed in one `correlateByGroup` call with the
   * others masked out (a group's result depends on its own cells only). `codesOf` is the
   * codes, or a function that makes them, called only when something is computed.
   */
  groups(
    section: DualStatsSection,
    codesOf: Int32Array | (() => Int32Array),
    nGroups: number,
    groups: readonly IDualGroup[],
    describe: (
      group: IDualGroup
    ) => Pick<IDualStats, 'label' | 'dataset' | 'cluster' | 'nGroupCells'>
  ): IDualStats[] {
    const filterDependent = section === 'dataset' || section === 'all';
    const keyOf = (g: number) =>
      `${section}:${g}|${filterDependent ? this.filterKey : '-'}|${this.optionKey}`;
    const results = new Map<number, ICorrelation>();
    const todo = new Uint8Array(nGroups);
    let nTodo = 0;
    const kernelStats = this.input.kernelStats;
    for (const group of groups) {
      // Kernel statistics cover all cells of a group: not a dataset under a cluster subset.
      const fromKernel =
        kernelStats && !(filterDependent && this.filterKey !== 'all')
          ? kernelStats.get(`${section}|${describe(group).label}`)
          : undefined;
      if (fromKernel) {
        results.set(group.index, fromKernel);
        continue;
      }
      const cached = this.cache.get(keyOf(group.index));
      if (cached !== undefined) {
        results.set(group.index, this.oriented(cached));
      } else {
        todo[group.index] = 1;
        nTodo++;
      }
    }
    if (
      nTodo > 0 &&
      this.x !== null &&
      this.y !== null &&
      this.opts.statistics &&
      !kernelStats
    ) {
      const codes = typeof codesOf === 'function' ? codesOf() : codesOf;
      let masked = codes;
      if (nTodo < groups.length) {
        masked = new Int32Array(codes.length);
        for (let i = 0; i < codes.length; i++) {
          masked[i] = codes[i] >= 0 && todo[codes[i]] ? codes[i] : -1;
        }
      }
      const computed = correlateByGroup(this.x, this.y, masked, nGroups, {
        detectedOnly: this.opts.detectedOnly,
        nBoot: this.opts.nBoot,
        seed: this.opts.seed
      });
      for (const group of groups) {
        if (todo[group.index]) {
          // eslint-disable-next-line @typescript-eslint/no-unused-vars
          const { group: _, ...correlation } = computed[group.index];
          this.cache.set(keyOf(group.index), this.oriented(correlation));
          results.set(group.index, correlation);
        }
      }
    }
    return groups.map(group => {
      const correlation =
        results.get(group.index) ??
        undefinedCorrelation(this.x === null ? 'gene missing' : NOT_COMPUTED);
      return {
        ...correlation,
        reason: this.describeReason(correlation.reason),
        section,
        ...describe(group)
      };
    });
  }

  private oriented(correlation: ICorrelation): ICorrelation {
    if (!this.reversed || correlation.reason === null) {
      return correlation;
    }
    const flip: Record<string, string> = {
      'x gene is constant': 'y gene is constant',
      'y gene is constant': 'x gene is constant'
    };
    return {
      ...correlation,
      reason: flip[correlation.reason] ?? correlation.reason
    };
  }

  /** correlate()'s reason in gene names, so that it survives a swap. */
  private describeReason(reason: string | null): string | null {
    const { geneX, geneY } = this.input;
    switch (reason) {
      case null:
        return null;
      case `fewer than ${MIN_CELLS} cells`:
        return this.opts.detectedOnly
          ? `fewer than ${MIN_CELLS} cells with both genes > 0`
          : reason;
      case 'x gene is constant':
        return `${geneX} is constant`;
      case 'y gene is constant':
        return `${geneY} is constant`;
      case 'both genes are constant':
        return geneX === geneY
          ? `${geneX} is constant`
          : `${byName(geneX, geneY).join(' and ')} are constant`;
      default:
        return reason;
    }
  }

  private readonly filterKey: string;
  private readonly optionKey: string;
  private readonly cache: Cache;
  private readonly reversed: boolean;
}

/** Reason of the statistics skipped with `statistics: false`. */
export const NOT_COMPUTED = 'not computed';

/**
 * Δr of each other dataset against the first one (`IDualModel.deltaR`): over all kept
 * cells from the per-dataset statistics, and per cluster from Pearson's r of each dataset
 * × cluster (no ranks, no bootstrap: Δr reads r only). Cells without a dataset or a cluster
 * label are left out of the comparisons.
 */
export function correlationDifferences(
  memo: DualMemo,
  x: Float32Array | null,
  y: Float32Array | null,
  cells: ICells,
  nK: number,
  datasetGroups: readonly IDualGroup[],
  clusterGroups: readonly IDualGroup[],
  datasetStats: readonly IDualStats[],
  detectedOnly: boolean
): IDeltaR[] {
  const datasets = datasetGroups.filter(g => !g.missing);
  if (datasets.length < 2) {
    return [];
  }
  const [reference, ...targets] = datasets;
  const statsOf = (group: IDualGroup) =>
    datasetStats.find(s => s.dataset === group.label && s.cluster === null);
  const rows: IDeltaR[] = [];
  const row = (
    cluster: string | null,
    target: IDualGroup,
    rT: number,
    nT: number,
    rR: number,
    nR: number
  ): IDeltaR => ({
    cluster,
    reference: reference.label,
    target: target.label,
    rReference: rR,
    nReference: nR,
    rTarget: rT,
    nTarget: nT,
    ...correlationDifference(rT, nT, rR, nR)
  });
  const refStats = statsOf(reference);
  for (const target of targets) {
    const t = statsOf(target);
    if (t && refStats) {
      rows.push(
        row(
          null,
          target,
          t.pearsonR,
          t.nCells,
          refStats.pearsonR,
          refStats.nCells
        )
      );
    }
  }
  if (x === null || y === null) {
    return rows;
  }
  const stride = nK + 1;
  const nGroups =
    (datasetGroups.length > 0
      ? Math.max(...datasetGroups.map(g => g.index)) + 1
      : 0) * stride;
  const { r, n } = memoDatasetClusterR(
    memo,
    x,
    y,
    cells,
    stride,
    nGroups,
    detectedOnly
  );
  for (const cluster of clusterGroups.filter(g => !g.missing)) {
    const ref = reference.index * stride + cluster.index;
    for (const target of targets) {
      const at = target.index * stride + cluster.index;
      if (n[at] > 0 || n[ref] > 0) {
        rows.push(row(cluster.label, target, r[at], n[at], r[ref], n[ref]));
      }
    }
  }
  return rows;
}

/**
 * How far (in r) a pooled correlation must lie beyond every group's before the grouping is
 * said to drive it: pooled r > max(group r) + gap, or < min(group r) − gap.
 */
export const POOLED_GAP = 0.1;

/**
 * Whether a pooled Pearson r says more about the groups than about the genes (Simpson's
 * paradox): at least two groups have a defined r, and the pooled r lies more than
 * `POOLED_GAP` beyond all of them (above the highest or below the lowest). Then the pooled
 * value comes from the differences between the groups' means, not from the correlation
 * within them (e.g. pooled 0.80 with ctrl 0.26 and stim 0.31).
 */
export function groupingDrivesPooled(
  pooled: number,
  groups: readonly number[]
): boolean {
  const defined = groups.filter(r => Number.isFinite(r));
  if (!Number.isFinite(pooled) || defined.length < 2) {
    return false;
  }
  const lo = Math.min(...defined);
  const hi = Math.max(...defined);
  return pooled > hi + POOLED_GAP || pooled < lo - POOLED_GAP;
}

/**
 * Pearson's r of each dataset × cluster (code dataset · stride + cluster), remembered per
 * pass over the cells: a cell pass belongs to one gene pair, grouping and cluster
 * filter, so recolouring or refaceting a million cells reuses the r of every group.
 */
function memoDatasetClusterR(
  memo: DualMemo,
  x: Float32Array,
  y: Float32Array,
  cells: ICells,
  stride: number,
  nGroups: number,
  detectedOnly: boolean
): { r: Float64Array; n: Float64Array } {
  const key = `${stride}/${nGroups}/${detectedOnly}`;
  const known = memo.datasetClusterR.get(cells);
  const hit = known?.get(key);
  if (hit && hit.x === x && hit.y === y) {
    return hit;
  }
  const { dIndex, cIndex } = cells;
  const codes = new Int32Array(dIndex.length);
  for (let i = 0; i < codes.length; i++) {
    codes[i] = dIndex[i] >= 0 ? dIndex[i] * stride + cIndex[i] : -1;
  }
  const { r, n } = pearsonByGroup(x, y, codes, nGroups, detectedOnly);
  const entry = { x, y, r, n };
  memo.datasetClusterR.set(cells, new Map([...(known ?? []), [key, entry]]));
  return entry;
}
