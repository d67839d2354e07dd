/**
 * Per-group aggregates of expression values: the numbers behind heatmaps and dot plots.
 *
 * Conventions (DESIGN.md, "Semantics"):
 * - the mean is taken on the stored values, as scanpy (`sc.get.aggregate(func='mean')`);
 *   `linearMean` gives Seurat's convention log1p(mean(expm1(x))) instead;
 * - variance uses ddof = 1. Squares of float32 values are rounded to float32 before being
 *   summed in float64, as scanpy forms them (`_get_mean_var`'s numba kernel,
 *   `sc.get.aggregate`); the Welch p-values then match scanpy's to ~1e-11;
 * - "expressing" means value > 0. On matrices with negative values (scaled, integrated)
 *   that fraction is meaningless: `aggregate` reports NaN for such genes and flags them;
 * - cells with group code −1 (no group, filtered out) are ignored;
 * - NaN values propagate: a gene that is NaN in a matrix is a missing gene, which the
 *   caller reports instead of aggregating.
 */

/** A dense row-major matrix (rows = genes in heatmaps). */
export interface IMatrix {
  nRows: number;
  nCols: number;
  data: Float64Array;
}

/** Sufficient statistics and summaries of one gene per group. */
export interface IGroupStats {
  /** Cells per group. */
  n: Float64Array;
  sum: Float64Array;
  sumSq: Float64Array;
  /** Cells with value > 0. */
  nnz: Float64Array;
  /** Mean of the stored values (NaN for an empty group). */
  mean: Float64Array;
  /** Sample variance, ddof = 1 (NaN below 2 cells). */
  variance: Float64Array;
  /** nnz / n. */
  fracExpressing: Float64Array;
  /** log1p(mean(expm1(x))), only when requested. */
  linearMean?: Float64Array;
  /** Whether any (grouped) value is negative. */
  hasNegative: boolean;
}

export interface IGroupStatsOptions {
  /** Also compute Seurat's linear-space mean log1p(mean(expm1(x))). */
  linearMean?: boolean;
}

/** Per-group statistics of one gene in a single pass over the cells. */
export function groupStats(
  values: Float32Array | Float64Array,
  codes: Int32Array,
  nGroups: number,
  options: IGroupStatsOptions = {}
): IGroupStats {
  if (values.length !== codes.length) {
    throw new RangeError(
      `groupStats: ${values.length} values but ${codes.length} group codes`
    );
  }
  const n = new Float64Array(nGroups);
  const sum = new Float64Array(nGroups);
  const sumSq = new Float64Array(nGroups);
  const nnz = new Float64Array(nGroups);
  const sumExpm1 = options.linearMean ? new Float64Array(nGroups) : null;
  const singlePrecision = values instanceof Float32Array;
  let hasNegative = false;
  for (let i = 0; i < values.length; i++) {
    const group = codes[i];
    if (group < 0) {
      continue;
    }
    if (group >= nGroups) {
      throw new RangeError(
        `groupStats: group code ${group} ≥ nGroups ${nGroups}`
      );
    }
    const v = values[i];
    n[group] += 1;
    sum[group] += v;
    sumSq[group] += singlePrecision ? Math.fround(v * v) : v * v;
    if (v > 0) {
      nnz[group] += 1;
    } else if (v < 0) {
      hasNegative = true;
    }
    if (sumExpm1) {
      sumExpm1[group] += Math.expm1(v);
    }
  }
  const mean = new Float64Array(nGroups);
  const variance = new Float64Array(nGroups);
  const fracExpressing = new Float64Array(nGroups);
  for (let g = 0; g < nGroups; g++) {
    mean[g] = n[g] > 0 ? sum[g] / n[g] : NaN;
    variance[g] = n[g] > 1 ? sampleVariance(n[g], sum[g], sumSq[g]) : NaN;
    fracExpressing[g] = n[g] > 0 ? nnz[g] / n[g] : NaN;
  }
  const stats: IGroupStats = {
    n,
    sum,
    sumSq,
    nnz,
    mean,
    variance,
    fracExpressing,
    hasNegative
  };
  if (sumExpm1) {
    stats.linearMean = sumExpm1.map((s, g) =>
      n[g] > 0 ? Math.log1p(s / n[g]) : NaN
    );
  }
  return stats;
}

/**
 * Sample variance (ddof = 1) from n, Σx, Σx². Clamped at 0 against rounding when all
 * values are equal.
 */
export function sampleVariance(n: number, sum: number, sumSq: number): number {
  const centred = sumSq - (sum * sum) / n;
  return Math.max(centred, 0) / (n - 1);
}

/** Expression columns of several genes, by name (Map) or by position (array). */
export type GeneColumns =
  | ReadonlyArray<Float32Array | Float64Array>
  | ReadonlyMap<string, Float32Array | Float64Array>;

export interface IAggregateOptions {
  /** Report Seurat's linear-space mean log1p(mean(expm1(x))) as `mean`. */
  linearMean?: boolean;
  /** Groups with fewer cells are masked: NaN in mean, variance and fraction. */
  minCells?: number;
}

/** Genes × groups aggregates; every matrix is row-major with one row per gene. */
export interface IAggregate {
  /** Gene names (Map keys) or "0", "1", … for positional input. */
  genes: string[];
  nGroups: number;
  /** Cells per group (before masking). */
  nCells: Float64Array;
  /** Whether each group is masked (fewer than `minCells` cells). */
  masked: Uint8Array;
  mean: IMatrix;
  variance: IMatrix;
  /** Fraction of cells with value > 0; NaN for genes with negative values. */
  fracExpressing: IMatrix;
  /** Per gene: whether the gene has negative values (fraction expressing not shown). */
  hasNegative: Uint8Array;
}

/** Aggregate several genes over the same grouping (one pass per gene). */
export function aggregate(
  genes: GeneColumns,
  codes: Int32Array,
  nGroups: number,
  options: IAggregateOptions = {}
): IAggregate {
  const entries: [string, Float32Array | Float64Array][] = isGeneMap(genes)
    ? Array.from(genes.entries())
    : genes.map((column, index) => [String(index), column]);
  const nGenes = entries.length;
  const minCells = options.minCells ?? 1;
  const mean = new Float64Array(nGenes * nGroups);
  const variance = new Float64Array(nGenes * nGroups);
  const fracExpressing = new Float64Array(nGenes * nGroups);
  const hasNegative = new Uint8Array(nGenes);
  entries.forEach(([, column], row) => {
    const stats = groupStats(column, codes, nGroups, {
      linearMean: options.linearMean
    });
    hasNegative[row] = stats.hasNegative ? 1 : 0;
    const means = stats.linearMean ?? stats.mean;
    const offset = row * nGroups;
    for (let g = 0; g < nGroups; g++) {
      const keep = stats.n[g] >= minCells;
      mean[offset + g] = keep ? means[g] : NaN;
      variance[offset + g] = keep ? stats.variance[g] : NaN;
      fracExpressing[offset + g] =
        keep && !stats.hasNegative ? stats.fracExpressing[g] : NaN;
    }
  });
  const nCells = countGroups(codes, nGroups);
  const masked = new Uint8Array(nGroups);
  for (let g = 0; g < nGroups; g++) {
    masked[g] = nCells[g] < minCells ? 1 : 0;
  }
  const asMatrix = (data: Float64Array): IMatrix => ({
    nRows: nGenes,
    nCols: nGroups,
    data
  });
  return {
    genes: entries.map(([name]) => name),
    nGroups,
    nCells,
    masked,
    mean: asMatrix(mean),
    variance: asMatrix(variance),
    fracExpressing: asMatrix(fracExpressing),
    hasNegative
  };
}

/** Cells per group (code −1 ignored). */
export function countGroups(codes: Int32Array, nGroups: number): Float64Array {
  const counts = new Float64Array(nGroups);
  for (let i = 0; i < codes.length; i++) {
    const group = codes[i];
    if (group >= 0 && group < nGroups) {
      counts[group] += 1;
    }
  }
  return counts;
}

function isGeneMap(
  genes: GeneColumns
): genes is ReadonlyMap<string, Float32Array | Float64Array> {
  return !Array.isArray(genes);
}

/**
 * Codes of the crossed grouping a × b: a·nB + b, the order of scanpy's
 * `sc.get.aggregate(by=[a, b])` categories; −1 where either code is −1.
 */
export function combineCodes(
  a: Int32Array,
  nA: number,
  b: Int32Array,
  nB: number
): Int32Array {
  if (a.length !== b.length) {
    throw new RangeError(
      `combineCodes: groupings have ${a.length} and ${b.length} cells`
    );
  }
  const combined = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const codeA = a[i];
    const codeB = b[i];
    if (codeA >= nA || codeB >= nB) {
      throw new RangeError(`combineCodes: code out of range at cell ${i}`);
    }
    combined[i] = codeA < 0 || codeB < 0 ? -1 : codeA * nB + codeB;
  }
  return combined;
}

/** Labels of the crossed grouping, in `combineCodes` order, e.g. "stim · 3". */
export function combineLabels(
  labelsA: readonly string[],
  labelsB: readonly string[],
  separator = ' · '
): string[] {
  const labels: string[] = [];
  for (const a of labelsA) {
    for (const b of labelsB) {
      labels.push(`${a}${separator}${b}`);
    }
  }
  return labels;
}
