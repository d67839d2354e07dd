/**
 * The condition difference heatmap's numbers, from a comparison table (one row per gene ×
 * tested cluster: log2 fold change of the target over the reference dataset, the test's
 * statistic and p values, as the kernel's `compare` op computed them with DESeq2 or a
 * Wilcoxon test). Plain functions: no DOM, no Jupyter.
 */

/** A comparison table, column-wise. */
export interface IComparisonRows {
  gene: readonly string[];
  cluster: readonly string[];
  log2fc: Float64Array;
  stat: Float64Array;
  pvalue: Float64Array;
  padj: Float64Array;
}

/** Significance marks by adjusted p, strictest first (the usual * / ** / *** reading). */
export const SIGNIFICANCE_LEVELS: readonly { below: number; mark: string }[] = [
  { below: 0.001, mark: '***' },
  { below: 0.01, mark: '**' },
  { below: 0.05, mark: '*' }
];

/** The mark for an adjusted p value ('' when not significant or untested). */
export function significanceMark(padj: number): string {
  if (!Number.isFinite(padj)) {
    return '';
  }
  return SIGNIFICANCE_LEVELS.find(level => padj < level.below)?.mark ?? '';
}

/** One changed gene of a cluster. */
export interface IChangedGene {
  gene: string;
  cluster: string;
  log2fc: number;
  padj: number;
}

/**
 * The `n` most changed genes of each cluster: smallest adjusted p first, ties (and genes
 * without a p value, last) by the largest |log2 fold change|, as "top markers" rank.
 * Clusters in `clusters` order; genes of clusters not in it are left out.
 */
export function topChangedGenes(
  rows: IComparisonRows,
  n: number,
  clusters: readonly string[]
): IChangedGene[] {
  const byCluster = new Map<string, number[]>(clusters.map(c => [c, []]));
  rows.cluster.forEach((cluster, i) => byCluster.get(cluster)?.push(i));
  const out: IChangedGene[] = [];
  for (const cluster of clusters) {
    const indices = byCluster.get(cluster)!;
    const key = (i: number) =>
      Number.isFinite(rows.padj[i]) ? rows.padj[i] : Infinity;
    const size = (i: number) =>
      Number.isFinite(rows.log2fc[i]) ? Math.abs(rows.log2fc[i]) : -1;
    indices.sort((a, b) => key(a) - key(b) || size(b) - size(a) || a - b);
    for (const i of indices.slice(0, Math.max(0, n))) {
      out.push({
        gene: rows.gene[i],
        cluster,
        log2fc: rows.log2fc[i],
        padj: rows.padj[i]
      });
    }
  }
  return out;
}

export interface IDifferenceMatrix {
  genes: string[];
  clusters: string[];
  /** genes × clusters; null where the cluster was not tested or the gene has no value. */
  log2fc: (number | null)[][];
  padj: (number | null)[][];
  /** genes × clusters significance marks ('' for none). */
  marks: string[][];
  /** The shared symmetric colour range: [−limit, +limit]. */
  limit: number;
  /** Requested genes the comparison does not hold. */
  missingGenes: string[];
}

/**
 * Rows `genes`, columns `clusters`: the log2 fold changes on one symmetric scale around 0
 * (the largest |log2FC| shown, at least `minLimit`), with significance marks. Clusters the
 * comparison did not test stay as all-null columns, so the plot can mask them and say why.
 */
export function differenceMatrix(
  rows: IComparisonRows,
  genes: readonly string[],
  clusters: readonly string[],
  minLimit = 1
): IDifferenceMatrix {
  const index = new Map<string, number>();
  rows.gene.forEach((gene, i) =>
    index.set(`${rows.cluster[i]}\u0000${gene}`, i)
  );
  const known = new Set(rows.gene);
  const shown = [...new Set(genes)];
  const missingGenes = shown.filter(gene => !known.has(gene));
  const kept = shown.filter(gene => known.has(gene));
  let limit = 0;
  const cell = (values: Float64Array, gene: string, cluster: string) => {
    const i = index.get(`${cluster}\u0000${gene}`);
    return i === undefined || !Number.isFinite(values[i]) ? null : values[i];
  };
  const log2fc = kept.map(gene =>
    clusters.map(cluster => {
      const value = cell(rows.log2fc, gene, cluster);
      if (value !== null) {
        limit = Math.max(limit, Math.abs(value));
      }
      return value;
    })
  );
  const padj = kept.map(gene =>
    clusters.map(cluster => cell(rows.padj, gene, cluster))
  );
  const marks = padj.map(row =>
    row.map(value => (value === null ? '' : significanceMark(value)))
  );
  return {
    genes: kept,
    clusters: [...clusters],
    log2fc,
    padj,
    marks,
    limit: Math.max(limit, minLimit),
    missingGenes
  };
}
