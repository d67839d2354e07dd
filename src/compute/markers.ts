/**
 * One-vs-rest marker genes by Welch's t-test from per-group sufficient statistics,
 * reproducing scanpy's `rank_genes_groups(method='t-test')` (scanpy 1.11,
 * `tools/_rank_genes_groups.py`, `_RankGenes.t_test` and `compute_statistics`):
 *
 * - group and rest mean/variance per gene, variance with ddof = 1 (`_get_mean_var`);
 *   the rest is every cell outside the group, including cells without a group;
 * - `scipy.stats.ttest_ind_from_stats(equal_var=False)`:
 *   score = (mean_g − mean_r) / √(var_g/n_g + var_r/n_r), Welch–Satterthwaite df
 *   (NaN df → 1), p = 2·P(T_df ≥ |score|);
 * - NaN scores → 0 and NaN p-values → 1;
 * - Benjamini–Hochberg over all genes of the group (statsmodels `fdr_bh`);
 * - logfoldchange = log2((expm1(mean_g) + 1e-9) / (expm1(mean_r) + 1e-9)), with expm1
 *   in base `logBase` when the data were log1p-transformed in another base
 *   (`adata.uns['log1p']['base']`);
 * - ranking by score, descending. scanpy's order among exactly equal scores is whatever
 *   numpy's argpartition/argsort give; here ties go to the lower gene index.
 */
import { sampleVariance } from './aggregate';
import { studentTTwoSidedP } from './distributions';

/** Per-group sums over all genes. Matrices are group-major: [g · nGenes + gene]. */
export interface IGroupMoments {
  nGroups: number;
  nGenes: number;
  /** Cells per group. */
  n: Float64Array;
  sum: Float64Array;
  sumSq: Float64Array;
  /**
   * Sums over all cells, including cells in no group (scanpy counts them in every rest).
   * Defaults to the sum over the groups.
   */
  total?: { n: number; sum: Float64Array; sumSq: Float64Array };
}

export interface IMarkerOptions {
  /** Markers kept per group (default 10). */
  nTop?: number;
  /** Base of the log1p transform; null/undefined for natural log. */
  logBase?: number | null;
  /**
   * Rank by score without p-values (pval, pvalAdj NaN): the ranking is the same, and
   * the incomplete beta function behind each p-value is most of the cost.
   */
  scoresOnly?: boolean;
}

export interface IMarker {
  group: number;
  /** 1 for the top marker. */
  rank: number;
  /** Gene index. */
  gene: number;
  score: number;
  logFoldChange: number;
  pval: number;
  pvalAdj: number;
}

export interface IWelchResult {
  t: number;
  df: number;
  p: number;
}

/** Welch's t statistic (mean1 − mean2) / √(var1/n1 + var2/n2). */
export function welchScore(
  mean1: number,
  var1: number,
  n1: number,
  mean2: number,
  var2: number,
  n2: number
): number {
  return (mean1 - mean2) / Math.sqrt(var1 / n1 + var2 / n2);
}

/** Welch's two-sample t-test from summary statistics (scipy's ttest_ind_from_stats). */
export function welchTTest(
  mean1: number,
  var1: number,
  n1: number,
  mean2: number,
  var2: number,
  n2: number
): IWelchResult {
  const vn1 = var1 / n1;
  const vn2 = var2 / n2;
  let df = (vn1 + vn2) ** 2 / (vn1 ** 2 / (n1 - 1) + vn2 ** 2 / (n2 - 1));
  if (Number.isNaN(df)) {
    df = 1;
  }
  const t = welchScore(mean1, var1, n1, mean2, var2, n2);
  return { t, df, p: studentTTwoSidedP(t, df) };
}

/** Benjamini–Hochberg adjusted p-values (statsmodels multipletests 'fdr_bh'). */
export function benjaminiHochberg(pvals: Float64Array): Float64Array {
  const m = pvals.length;
  const order = Array.from({ length: m }, (_, i) => i).sort(
    (a, b) => pvals[a] - pvals[b]
  );
  const adjusted = new Float64Array(m);
  let running = Infinity;
  for (let k = m - 1; k >= 0; k--) {
    const i = order[k];
    running = Math.min(running, (pvals[i] * m) / (k + 1));
    adjusted[i] = Math.min(running, 1);
  }
  return adjusted;
}

/** Moments from per-group means and variances (ddof = 1), e.g. from a stored table. */
export function momentsFromMeanVar(
  n: Float64Array,
  mean: Float64Array,
  variance: Float64Array,
  nGenes: number
): IGroupMoments {
  const nGroups = n.length;
  const sum = new Float64Array(nGroups * nGenes);
  const sumSq = new Float64Array(nGroups * nGenes);
  for (let g = 0; g < nGroups; g++) {
    for (let j = 0; j < nGenes; j++) {
      const k = g * nGenes + j;
      sum[k] = n[g] * mean[k];
      sumSq[k] =
        (n[g] > 1 ? (n[g] - 1) * variance[k] : 0) + n[g] * mean[k] ** 2;
    }
  }
  return { nGroups, nGenes, n, sum, sumSq };
}

/**
 * Top markers of every group against the rest. Groups with fewer than two cells get no
 * markers (scanpy refuses to test them), nor do groups whose rest has fewer than two.
 */
export function rankMarkers(
  moments: IGroupMoments,
  options: IMarkerOptions = {}
): IMarker[][] {
  const { nGroups, nGenes, n, sum, sumSq } = moments;
  const nTop = Math.min(options.nTop ?? 10, nGenes);
  const total = moments.total ?? sumOverGroups(moments);
  const logScale = options.logBase ? Math.log(options.logBase) : 1;
  const expm1 = (x: number): number => Math.expm1(x * logScale);

  const result: IMarker[][] = [];
  for (let g = 0; g < nGroups; g++) {
    const nGroup = n[g];
    const nRest = total.n - nGroup;
    if (nGroup < 2 || nRest < 2) {
      result.push([]);
      continue;
    }
    const scores = new Float64Array(nGenes);
    const pvals = new Float64Array(nGenes);
    const logFoldChanges = new Float64Array(nGenes);
    for (let j = 0; j < nGenes; j++) {
      const k = g * nGenes + j;
      const meanGroup = sum[k] / nGroup;
      const varGroup = sampleVariance(nGroup, sum[k], sumSq[k]);
      const restSum = total.sum[j] - sum[k];
      const restSumSq = total.sumSq[j] - sumSq[k];
      const meanRest = restSum / nRest;
      const varRest = sampleVariance(nRest, restSum, restSumSq);
      const { t, p } = options.scoresOnly
        ? {
            t: welchScore(
              meanGroup,
              varGroup,
              nGroup,
              meanRest,
              varRest,
              nRest
            ),
            p: NaN
          }
        : welchTTest(meanGroup, varGroup, nGroup, meanRest, varRest, nRest);
      scores[j] = Number.isNaN(t) ? 0 : t;
      pvals[j] = Number.isNaN(p) && !options.scoresOnly ? 1 : p;
      logFoldChanges[j] = Math.log2(
        (expm1(meanGroup) + 1e-9) / (expm1(meanRest) + 1e-9)
      );
    }
    const adjusted = options.scoresOnly ? pvals : benjaminiHochberg(pvals);
    const top = topIndices(scores, nTop);
    result.push(
      top.map((gene, index) => ({
        group: g,
        rank: index + 1,
        gene,
        score: scores[gene],
        logFoldChange: logFoldChanges[gene],
        pval: pvals[gene],
        pvalAdj: adjusted[gene]
      }))
    );
  }
  return result;
}

/**
 * Indices of the `k` highest scores, highest first, ties to the lower index: the first
 * k of a full sort, by insertion into a k-long list (k ≪ n genes, one pass).
 */
function topIndices(scores: Float64Array, k: number): number[] {
  const top: number[] = [];
  // a ranks before b
  const before = (a: number, b: number): boolean =>
    scores[a] > scores[b] || (scores[a] === scores[b] && a < b);
  for (let j = 0; j < scores.length; j++) {
    if (top.length === k && !before(j, top[k - 1])) {
      continue;
    }
    let position = top.length === k ? k - 1 : top.length;
    while (position > 0 && before(j, top[position - 1])) {
      position--;
    }
    top.splice(position, 0, j);
    if (top.length > k) {
      top.pop();
    }
  }
  return top;
}

function sumOverGroups(moments: IGroupMoments): {
  n: number;
  sum: Float64Array;
  sumSq: Float64Array;
} {
  const { nGroups, nGenes } = moments;
  const sum = new Float64Array(nGenes);
  const sumSq = new Float64Array(nGenes);
  let n = 0;
  for (let g = 0; g < nGroups; g++) {
    n += moments.n[g];
    for (let j = 0; j < nGenes; j++) {
      sum[j] += moments.sum[g * nGenes + j];
      sumSq[j] += moments.sumSq[g * nGenes + j];
    }
  }
  return { n, sum, sumSq };
}
