/**
 * Markers conserved across datasets, and markers specific to one dataset: Seurat's
 * `FindConservedMarkers` in spirit, for every cluster at once, with the browser's marker
 * test. The kernel computes the same numbers (`conserved_statistics` and `conserved_top`
 * in `exprscope/compute/markers.py`, `exprscope.conserved_markers`); the
 * cross-implementation fixture holds the two to agreement.
 *
 * - Per dataset d and cluster k: the cells of k in d against the other cells of d that
 *   have a cluster (one vs rest within the dataset), by scanpy's Welch t-test from
 *   per-group sums (as `rankMarkers`: = `rank_genes_groups(method='t-test')` on d's
 *   cells): score, logFoldChange, p, and p adjusted by Benjamini–Hochberg over the genes
 *   of that test. A dataset where k, or its rest, has fewer than `minCells` cells is left
 *   out of k's combination.
 * - Combined p over the cluster's tested datasets: `'max'` (default), the largest p
 *   (Seurat's `max_pval`, by which `FindConservedMarkers` orders its table): the
 *   intersection–union test of "a marker in every dataset", so that one strong dataset
 *   cannot make a gene look conserved (the plain maximum, not `metap::maximump`'s
 *   max(p)^k). `'fisher'`: Fisher's method, −2 Σ ln p against χ²(2k)
 *   (`scipy.stats.combine_pvalues(method='fisher')`), pooled evidence that one dataset
 *   can carry alone.
 * - Category, in clusters tested in at least two datasets: `'conserved'` when
 *   significantly up (pAdj < alpha and logFoldChange > 0) in every tested dataset;
 *   `'specific'` to d when significantly up in d only (not significant, or down, in the
 *   others); `'mixed'` when up in several but not all; else `'none'`. Clusters tested in
 *   fewer than two datasets are `'untested'`.
 */
import { sampleVariance } from './aggregate';
import { benjaminiHochberg, welchTTest } from './markers';

export type CombineMethod = 'max' | 'fisher';

export type ConservedCategory =
  'conserved' | 'specific' | 'mixed' | 'none' | 'untested';

/**
 * Per-group sums by cluster × dataset, e.g. the kernel's group statistics by
 * [cluster, dataset] (`IGroupSufficientStats` fits). Matrices are group-major.
 */
export interface IClusterDatasetMoments {
  genes: readonly string[];
  /** Per group, its [cluster, dataset] labels. */
  groupLabels: readonly (readonly string[])[];
  n: Float64Array;
  sum: Float64Array;
  sumSq: Float64Array;
  /** Base of the log1p transform; null/undefined for natural log. */
  logBase?: number | null;
}

export interface IConservedOptions {
  /** Rows per cluster (conserved) and per cluster × dataset (specific); default 10. */
  n?: number;
  /** Default 'max'. */
  combine?: CombineMethod;
  /** Level of the per-dataset adjusted p-values; default 0.05. */
  alpha?: number;
  /** Fewest cells in a cluster, and in its rest, for a dataset to count; default 3. */
  minCells?: number;
  /**
   * Cluster order, listing every cluster of the groups; default: order of first
   * appearance (the kernel sends groups in category order, cluster-major, as Python's).
   */
  clusterOrder?: readonly string[] | null;
  /** Dataset order, listing every dataset of the groups; default as `clusterOrder`. */
  datasetOrder?: readonly string[] | null;
}

export const DEFAULT_CONSERVED_OPTIONS = {
  n: 10,
  combine: 'max' as CombineMethod,
  alpha: 0.05,
  minCells: 3
};

/** Every gene of every cluster × dataset test, and their combination. */
export interface IConservedStatistics {
  clusters: string[];
  datasets: string[];
  genes: string[];
  /** [k · nDatasets + d] */
  nCells: Float64Array;
  nRest: Float64Array;
  tested: boolean[];
  /** [(k · nDatasets + d) · nGenes + gene]; NaN where not tested. */
  score: Float64Array;
  logFoldChange: Float64Array;
  pval: Float64Array;
  pvalAdj: Float64Array;
  /** [k · nGenes + gene]: datasets where the gene is significantly up. */
  nSignificant: Int32Array;
  /** [k · nGenes + gene]; NaN for untested clusters. */
  combinedP: Float64Array;
  category: ConservedCategory[];
  /** [k · nGenes + gene]: dataset index of a 'specific' gene, else −1. */
  specificTo: Int32Array;
  combine: CombineMethod;
  alpha: number;
  minCells: number;
}

export interface IConservedDatasetValues {
  dataset: string;
  /** False when the dataset was left out of the cluster (values NaN). */
  tested: boolean;
  logFoldChange: number;
  pval: number;
  pvalAdj: number;
}

export interface IConservedRow {
  cluster: string;
  gene: string;
  category: 'conserved' | 'specific';
  /** The dataset of a specific gene, null for conserved ones. */
  specificTo: string | null;
  /** 1 for the top gene of its cluster, category and dataset. */
  rank: number;
  combinedP: number;
  combine: CombineMethod;
  /** In dataset order. */
  perDataset: IConservedDatasetValues[];
}

export interface ILeftOutDataset {
  cluster: string;
  dataset: string;
  nCells: number;
  nRest: number;
}

export interface IConservedMarkers {
  /** Per cluster: its conserved genes by rank, then per dataset its specific ones. */
  rows: IConservedRow[];
  clusters: string[];
  datasets: string[];
  /** Cluster × dataset pairs left out of the combination (too few cells). */
  leftOut: ILeftOutDataset[];
  /** Clusters tested in fewer than two datasets: no rows. */
  untestedClusters: string[];
  combine: CombineMethod;
  alpha: number;
  minCells: number;
}

/** All genes of every cluster × dataset test, combined and classified. */
export function conservedStatistics(
  moments: IClusterDatasetMoments,
  options: IConservedOptions = {}
): IConservedStatistics {
  const combine = options.combine ?? DEFAULT_CONSERVED_OPTIONS.combine;
  const alpha = options.alpha ?? DEFAULT_CONSERVED_OPTIONS.alpha;
  const minCells = options.minCells ?? DEFAULT_CONSERVED_OPTIONS.minCells;
  if (combine !== 'max' && combine !== 'fisher') {
    throw new Error(`combine must be 'max' or 'fisher', not '${combine}'.`);
  }
  if (!(alpha > 0 && alpha < 1)) {
    throw new Error(`alpha must be between 0 and 1, not ${alpha}.`);
  }
  if (!(minCells >= 2)) {
    throw new Error(
      `minCells must be at least 2 (a t-test needs two cells), not ${minCells}.`
    );
  }
  const layout = clusterDatasetLayout(moments, options);
  const { clusters, datasets, groupOf } = layout;
  const genes = [...moments.genes];
  const nGenes = genes.length;
  const nClusters = clusters.length;
  const nDatasets = datasets.length;
  const nPairs = nClusters * nDatasets;

  // Sums per cluster × dataset (groups of the same pair are pooled)
  const n = new Float64Array(nPairs);
  const sum = new Float64Array(nPairs * nGenes);
  const sumSq = new Float64Array(nPairs * nGenes);
  groupOf.forEach((pair, g) => {
    if (pair < 0) {
      return;
    }
    n[pair] += moments.n[g];
    for (let j = 0; j < nGenes; j++) {
      sum[pair * nGenes + j] += moments.sum[g * nGenes + j];
      sumSq[pair * nGenes + j] += moments.sumSq[g * nGenes + j];
    }
  });

  const score = new Float64Array(nPairs * nGenes).fill(NaN);
  const logFoldChange = new Float64Array(nPairs * nGenes).fill(NaN);
  const pval = new Float64Array(nPairs * nGenes).fill(NaN);
  const pvalAdj = new Float64Array(nPairs * nGenes).fill(NaN);
  const nRest = new Float64Array(nPairs);
  const tested: boolean[] = new Array(nPairs).fill(false);
  const logScale = moments.logBase ? Math.log(moments.logBase) : 1;
  const expm1 = (x: number): number => Math.expm1(x * logScale);

  for (let d = 0; d < nDatasets; d++) {
    // The rest of a cluster: the dataset's other clustered cells
    let totalN = 0;
    const totalSum = new Float64Array(nGenes);
    const totalSumSq = new Float64Array(nGenes);
    for (let k = 0; k < nClusters; k++) {
      const pair = k * nDatasets + d;
      totalN += n[pair];
      for (let j = 0; j < nGenes; j++) {
        totalSum[j] += sum[pair * nGenes + j];
        totalSumSq[j] += sumSq[pair * nGenes + j];
      }
    }
    for (let k = 0; k < nClusters; k++) {
      const pair = k * nDatasets + d;
      const nGroup = n[pair];
      nRest[pair] = totalN - nGroup;
      if (nGroup < minCells || nRest[pair] < minCells) {
        continue;
      }
      tested[pair] = true;
      const pvals = new Float64Array(nGenes);
      for (let j = 0; j < nGenes; j++) {
        const i = pair * nGenes + j;
        const meanGroup = sum[i] / nGroup;
        const varGroup = sampleVariance(nGroup, sum[i], sumSq[i]);
        const restSum = totalSum[j] - sum[i];
        const restSumSq = totalSumSq[j] - sumSq[i];
        const meanRest = restSum / nRest[pair];
        const varRest = sampleVariance(nRest[pair], restSum, restSumSq);
        const { t, p } = welchTTest(
          meanGroup,
          varGroup,
          nGroup,
          meanRest,
          varRest,
          nRest[pair]
        );
        score[i] = Number.isNaN(t) ? 0 : t;
        pvals[j] = Number.isNaN(p) ? 1 : p;
        logFoldChange[i] = Math.log2(
          (expm1(meanGroup) + 1e-9) / (expm1(meanRest) + 1e-9)
        );
      }
      pval.set(pvals, pair * nGenes);
      pvalAdj.set(benjaminiHochberg(pvals), pair * nGenes);
    }
  }

  const nSignificant = new Int32Array(nClusters * nGenes);
  const combinedP = new Float64Array(nClusters * nGenes).fill(NaN);
  const category: ConservedCategory[] = new Array(nClusters * nGenes);
  const specificTo = new Int32Array(nClusters * nGenes).fill(-1);
  for (let k = 0; k < nClusters; k++) {
    const testedIn: number[] = [];
    for (let d = 0; d < nDatasets; d++) {
      if (tested[k * nDatasets + d]) {
        testedIn.push(d);
      }
    }
    for (let j = 0; j < nGenes; j++) {
      const at = k * nGenes + j;
      if (testedIn.length < 2) {
        category[at] = 'untested';
        continue;
      }
      let significant = 0;
      let upIn = -1;
      const ps: number[] = [];
      for (const d of testedIn) {
        const i = (k * nDatasets + d) * nGenes + j;
        ps.push(pval[i]);
        if (pvalAdj[i] < alpha && logFoldChange[i] > 0) {
          significant++;
          upIn = upIn < 0 ? d : upIn;
        }
      }
      nSignificant[at] = significant;
      combinedP[at] = combinePValues(ps, combine);
      if (significant === 0) {
        category[at] = 'none';
      } else if (significant === testedIn.length) {
        category[at] = 'conserved';
      } else if (significant === 1) {
        category[at] = 'specific';
        specificTo[at] = upIn;
      } else {
        category[at] = 'mixed';
      }
    }
  }
  return {
    clusters,
    datasets,
    genes,
    nCells: n,
    nRest,
    tested,
    score,
    logFoldChange,
    pval,
    pvalAdj,
    nSignificant,
    combinedP,
    category,
    specificTo,
    combine,
    alpha,
    minCells
  };
}

/**
 * The conserved-markers table: per cluster (in order), its top `n` conserved genes by
 * combined p, then per dataset (in order) its top `n` genes specific to that dataset by
 * their p there. Ties: conserved genes by their smallest per-dataset score (higher
 * first), specific genes by their score in their dataset, then the lower gene index.
 */
export function conservedMarkers(
  moments: IClusterDatasetMoments,
  options: IConservedOptions = {}
): IConservedMarkers {
  const n = options.n ?? DEFAULT_CONSERVED_OPTIONS.n;
  if (!(Number.isInteger(n) && n >= 1)) {
    throw new Error(`n must be a positive integer, not ${n}.`);
  }
  const stats = conservedStatistics(moments, options);
  const { clusters, datasets, genes } = stats;
  const nGenes = genes.length;
  const nDatasets = datasets.length;
  const at = (k: number, d: number, j: number): number =>
    (k * nDatasets + d) * nGenes + j;

  const rows: IConservedRow[] = [];
  const leftOut: ILeftOutDataset[] = [];
  const untestedClusters: string[] = [];
  clusters.forEach((cluster, k) => {
    const testedIn = datasets
      .map((_, d) => d)
      .filter(d => stats.tested[k * nDatasets + d]);
    datasets.forEach((dataset, d) => {
      if (!stats.tested[k * nDatasets + d]) {
        leftOut.push({
          cluster,
          dataset,
          nCells: stats.nCells[k * nDatasets + d],
          nRest: stats.nRest[k * nDatasets + d]
        });
      }
    });
    if (testedIn.length < 2) {
      untestedClusters.push(cluster);
      return;
    }
    const weakestScore = (j: number): number =>
      Math.min(...testedIn.map(d => stats.score[at(k, d, j)]));
    const row = (
      j: number,
      rank: number,
      specificTo: number
    ): IConservedRow => ({
      cluster,
      gene: genes[j],
      category: specificTo < 0 ? 'conserved' : 'specific',
      specificTo: specificTo < 0 ? null : datasets[specificTo],
      rank,
      combinedP: stats.combinedP[k * nGenes + j],
      combine: stats.combine,
      perDataset: datasets.map((dataset, d) => ({
        dataset,
        tested: stats.tested[k * nDatasets + d],
        logFoldChange: stats.logFoldChange[at(k, d, j)],
        pval: stats.pval[at(k, d, j)],
        pvalAdj: stats.pvalAdj[at(k, d, j)]
      }))
    });

    const conserved = genesWhere(
      nGenes,
      j => stats.category[k * nGenes + j] === 'conserved'
    );
    const weakest = new Map(conserved.map(j => [j, weakestScore(j)]));
    conserved
      .sort(
        (a, b) =>
          stats.combinedP[k * nGenes + a] - stats.combinedP[k * nGenes + b] ||
          (weakest.get(b) as number) - (weakest.get(a) as number) ||
          a - b
      )
      .slice(0, n)
      .forEach((j, index) => rows.push(row(j, index + 1, -1)));

    datasets.forEach((_, d) => {
      genesWhere(
        nGenes,
        j =>
          stats.category[k * nGenes + j] === 'specific' &&
          stats.specificTo[k * nGenes + j] === d
      )
        .sort(
          (a, b) =>
            stats.pval[at(k, d, a)] - stats.pval[at(k, d, b)] ||
            stats.score[at(k, d, b)] - stats.score[at(k, d, a)] ||
            a - b
        )
        .slice(0, n)
        .forEach((j, index) => rows.push(row(j, index + 1, d)));
    });
  });
  return {
    rows,
    clusters,
    datasets,
    leftOut,
    untestedClusters,
    combine: stats.combine,
    alpha: stats.alpha,
    minCells: stats.minCells
  };
}

/**
 * Combined p of independent p-values: the largest ('max'), or Fisher's method
 * (−2 Σ ln p is χ² with 2k degrees of freedom under the null).
 */
export function combinePValues(
  pvals: readonly number[],
  method: CombineMethod
): number {
  if (pvals.length === 0) {
    return NaN;
  }
  if (method === 'max') {
    return Math.max(...pvals);
  }
  let statistic = 0;
  for (const p of pvals) {
    statistic -= 2 * Math.log(p);
  }
  return chiSquareSurvivalEvenDf(statistic, pvals.length);
}

/**
 * P(χ² with 2k degrees of freedom > x) = e^(−x/2) Σ_{i<k} (x/2)^i / i! (the Poisson
 * form of the upper incomplete gamma function at integer order), summed in log space
 * so that large x and k neither overflow nor lose the tail.
 */
export function chiSquareSurvivalEvenDf(x: number, k: number): number {
  if (Number.isNaN(x)) {
    return NaN;
  }
  if (x <= 0) {
    return 1;
  }
  if (x === Infinity) {
    return 0;
  }
  const half = x / 2;
  const logHalf = Math.log(half);
  const logTerms: number[] = [];
  let logFactorial = 0;
  for (let i = 0; i < k; i++) {
    if (i > 0) {
      logFactorial += Math.log(i);
    }
    logTerms.push(i * logHalf - logFactorial);
  }
  const largest = Math.max(...logTerms);
  let scaled = 0;
  for (const term of logTerms) {
    scaled += Math.exp(term - largest);
  }
  return Math.min(Math.exp(-half + largest + Math.log(scaled)), 1);
}

interface ILayout {
  clusters: string[];
  datasets: string[];
  /** Per group, its cluster × dataset pair (k · nDatasets + d), −1 if not kept. */
  groupOf: number[];
}

function clusterDatasetLayout(
  moments: IClusterDatasetMoments,
  options: IConservedOptions
): ILayout {
  const labels = moments.groupLabels;
  if (labels.some(group => group.length < 2)) {
    throw new Error(
      'Conserved markers need groups by cluster and dataset ([cluster, dataset] labels).'
    );
  }
  const clusters = ordered(
    labels.map(group => group[0]),
    options.clusterOrder,
    'clusters'
  );
  const datasets = ordered(
    labels.map(group => group[1]),
    options.datasetOrder,
    'datasets'
  );
  const withCells = datasets.filter(dataset =>
    labels.some((group, g) => group[1] === dataset && moments.n[g] > 0)
  );
  if (withCells.length < 2) {
    throw new Error(
      'Conserved markers compare datasets: ' +
        (withCells.length === 0
          ? 'no dataset has cells.'
          : `only one dataset (${withCells[0]}) has cells.`)
    );
  }
  const clusterIndex = new Map(clusters.map((cluster, k) => [cluster, k]));
  const datasetIndex = new Map(datasets.map((dataset, d) => [dataset, d]));
  const groupOf = labels.map(group => {
    const k = clusterIndex.get(group[0]);
    const d = datasetIndex.get(group[1]);
    return k === undefined || d === undefined ? -1 : k * datasets.length + d;
  });
  return { clusters, datasets, groupOf };
}

/** The labels in the given order (which must list them all), else as first seen. */
function ordered(
  labels: readonly string[],
  order: readonly string[] | null | undefined,
  what: string
): string[] {
  const seen = unique(labels);
  if (!order) {
    return seen;
  }
  const missing = seen.filter(label => !order.includes(label));
  if (missing.length > 0) {
    throw new Error(`The ${what} order lacks ${missing.join(', ')}.`);
  }
  return unique(order);
}

function genesWhere(nGenes: number, test: (gene: number) => boolean): number[] {
  const genes: number[] = [];
  for (let j = 0; j < nGenes; j++) {
    if (test(j)) {
      genes.push(j);
    }
  }
  return genes;
}

function unique<T>(values: readonly T[]): T[] {
  return Array.from(new Set(values));
}
