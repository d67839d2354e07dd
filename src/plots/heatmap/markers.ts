/**
 * Top-N marker genes per cluster for the heatmap rows.
 *
 * Computed: one-vs-rest Welch t-test (`rankMarkers`, scanpy's `t-test`) from the kernel's
 * per-group sufficient statistics. A cluster's groups (one per dataset) are pooled; the
 * rest is every other cell, cells without a group included, as scanpy. Each dataset is
 * also tested on its own (the cluster's cells of that dataset against the dataset's other
 * grouped cells) so that every marker says in which datasets it is a top-N marker of the
 * same cluster too: a marker of the pooled data that no single dataset shares is driven
 * by the pooling, one shared by all is robust.
 *
 * Stored: a `rank_genes_groups` / Seurat marker table from the kernel (`stored_markers`),
 * shown as stored and said so.
 */
import { Table, Vector } from 'apache-arrow';

import { IGroupMoments, rankMarkers } from '../../compute/markers';
import type { IGroupSufficientStats } from '../../data/groupStats';

export interface IMarkerRow {
  gene: string;
  /** The cluster the gene is a marker of. */
  cluster: string;
  /** 1 for the top marker of the cluster. */
  rank: number;
  score: number;
  logFoldChange: number;
  pvalAdj: number;
  /** Datasets in whose own top N of the same cluster the gene also is. */
  sharedDatasets: string[];
  source: 'computed' | 'stored';
}

/** A heatmap row from the marker list: a gene and the clusters it is a marker of. */
export interface IMarkerGene {
  gene: string;
  clusters: string[];
}

export interface ITopMarkerOptions {
  /** Markers per cluster (default 10). */
  n?: number;
  /** Keep only these clusters (null / undefined = all). */
  clusters?: readonly string[] | null;
}

export interface ITopMarkers {
  /** Per kept cluster (cluster order), its markers by rank. */
  rows: IMarkerRow[];
  /** Heatmap genes: rows in order, each gene once (first occurrence), all its clusters. */
  genes: IMarkerGene[];
  /** Kept clusters in the order of the statistics' groups. */
  clusters: string[];
  /** Datasets of the per-dataset tests (empty when grouped by cluster only). */
  datasets: string[];
  /** Kept clusters without markers: fewer than 2 cells in them or outside them. */
  skippedClusters: string[];
  /** Requested clusters not in the statistics. */
  unknownClusters: string[];
  /** Genes the kernel left out. */
  excludedGenes: string[];
}

export const DEFAULT_N_MARKERS = 10;

/**
 * Top-N markers per kept cluster, pooled over datasets, with the datasets sharing each:
 * rows in cluster order, then rank. `markerGenes(rows)` gives the heatmap's genes.
 */
export function topMarkers(
  stats: IGroupSufficientStats,
  options: ITopMarkerOptions = {}
): IMarkerRow[] {
  return topMarkersReport(stats, options).rows;
}

/** `topMarkers` with what a caller may want to say about them. */
export function topMarkersReport(
  stats: IGroupSufficientStats,
  options: ITopMarkerOptions = {}
): ITopMarkers {
  const n = options.n ?? DEFAULT_N_MARKERS;
  const clusterOf = stats.groupLabels.map(labels => labels[0]);
  const datasetOf = stats.groupLabels.map(labels =>
    labels.length > 1 ? labels[1] : null
  );
  const allClusters = unique(clusterOf);
  const requested = options.clusters ?? null;
  const clusters =
    requested === null
      ? allClusters
      : allClusters.filter(cluster => requested.includes(cluster));
  const unknownClusters =
    requested === null
      ? []
      : unique(requested.filter(cluster => !allClusters.includes(cluster)));
  const datasets = unique(datasetOf.filter((d): d is string => d !== null));

  // Pooled over datasets: one group per kept cluster; the rest comes from the totals
  const pooled = rankMarkers(
    subsetMoments(
      stats,
      clusters.map(cluster => groupsWhere(clusterOf, c => c === cluster)),
      stats.total
    ),
    { nTop: n, logBase: stats.logBase }
  );

  // Within each dataset: the cluster's group against the dataset's other groups
  const topInDataset = new Map<string, Set<string>[]>();
  for (const dataset of datasets) {
    const inDataset = groupsWhere(datasetOf, d => d === dataset);
    const ranked = rankMarkers(
      subsetMoments(
        stats,
        clusters.map(cluster =>
          inDataset.filter(g => clusterOf[g] === cluster)
        ),
        totalsOf(stats, inDataset)
      ),
      // only membership in the top N is used: the ranking needs no p-values
      { nTop: n, logBase: stats.logBase, scoresOnly: true }
    );
    topInDataset.set(
      dataset,
      ranked.map(markers => new Set(markers.map(m => stats.genes[m.gene])))
    );
  }

  const rows: IMarkerRow[] = [];
  const skippedClusters: string[] = [];
  clusters.forEach((cluster, k) => {
    if (pooled[k].length === 0) {
      skippedClusters.push(cluster);
    }
    for (const marker of pooled[k]) {
      const gene = stats.genes[marker.gene];
      rows.push({
        gene,
        cluster,
        rank: marker.rank,
        score: marker.score,
        logFoldChange: marker.logFoldChange,
        pvalAdj: marker.pvalAdj,
        sharedDatasets: datasets.filter(dataset =>
          topInDataset.get(dataset)![k].has(gene)
        ),
        source: 'computed'
      });
    }
  });
  return {
    rows,
    genes: markerGenes(rows),
    clusters,
    datasets,
    skippedClusters,
    unknownClusters,
    excludedGenes: [...stats.excludedGenes]
  };
}

/**
 * The heatmap's gene list from marker rows: concatenated in row order (clusters, then
 * rank), each gene once at its first occurrence, labelled with all its clusters.
 */
export function markerGenes(rows: readonly IMarkerRow[]): IMarkerGene[] {
  const genes: IMarkerGene[] = [];
  const byGene = new Map<string, IMarkerGene>();
  for (const row of rows) {
    let entry = byGene.get(row.gene);
    if (!entry) {
      entry = { gene: row.gene, clusters: [] };
      byGene.set(row.gene, entry);
      genes.push(entry);
    }
    if (!entry.clusters.includes(row.cluster)) {
      entry.clusters.push(row.cluster);
    }
  }
  return genes;
}

/**
 * Row-label tags of marker genes: the clusters each marks, and ★ when it is also a top
 * marker of that cluster in several datasets (robust, not an effect of pooling).
 */
export function markerRowTags(
  rows: readonly IMarkerRow[]
): Map<string, string> {
  const shared = new Set(
    rows.filter(row => row.sharedDatasets.length > 1).map(row => row.gene)
  );
  return new Map(
    markerGenes(rows).map(({ gene, clusters }) => [
      gene,
      `(${clusters.join(', ')})${shared.has(gene) ? ' ★' : ''}`
    ])
  );
}

/**
 * Rows of a `stored_markers` payload (columns group, rank, gene, score, logfoldchange,
 * pval_adj), in the order of first appearance of each group, then rank. Optionally the
 * top `n` per group and only some groups. Missing numeric columns give NaN.
 */
export function storedMarkerRows(
  table: Table,
  options: ITopMarkerOptions = {}
): IMarkerRow[] {
  const group = stringColumn(table, 'group', true) as string[];
  const gene = stringColumn(table, 'gene', true) as string[];
  const rank = numberColumn(table, 'rank');
  const score = numberColumn(table, 'score');
  const logFoldChange = numberColumn(table, 'logfoldchange');
  const pvalAdj = numberColumn(table, 'pval_adj');
  const order = unique(group);
  const rows: IMarkerRow[] = group.map((cluster, i) => ({
    gene: gene[i],
    cluster,
    rank: rank[i],
    score: score[i],
    logFoldChange: logFoldChange[i],
    pvalAdj: pvalAdj[i],
    sharedDatasets: [],
    source: 'stored'
  }));
  const position = new Map(order.map((cluster, k) => [cluster, k]));
  const sorted = rows
    .map((row, i) => ({ row, i }))
    .sort(
      (a, b) =>
        (position.get(a.row.cluster) as number) -
          (position.get(b.row.cluster) as number) ||
        a.row.rank - b.row.rank ||
        0 ||
        a.i - b.i
    )
    .map(({ row }) => row);
  const perCluster = new Map<string, number>();
  const kept = options.clusters ?? null;
  return sorted.filter(row => {
    if (kept !== null && !kept.includes(row.cluster)) {
      return false;
    }
    const count = (perCluster.get(row.cluster) ?? 0) + 1;
    perCluster.set(row.cluster, count);
    if (Number.isNaN(row.rank)) {
      row.rank = count; // without ranks, the stored order is the rank order
    }
    return options.n === undefined || count <= options.n;
  });
}

/** Moments of unions of groups (each union becomes one group), with the given totals. */
function subsetMoments(
  stats: IGroupSufficientStats,
  unions: number[][],
  total: IGroupMoments['total']
): IGroupMoments {
  const { nGenes } = stats;
  const nGroups = unions.length;
  const n = new Float64Array(nGroups);
  const sum = new Float64Array(nGroups * nGenes);
  const sumSq = new Float64Array(nGroups * nGenes);
  unions.forEach((members, k) => {
    for (const g of members) {
      n[k] += stats.n[g];
      for (let j = 0; j < nGenes; j++) {
        sum[k * nGenes + j] += stats.sum[g * nGenes + j];
        sumSq[k * nGenes + j] += stats.sumSq[g * nGenes + j];
      }
    }
  });
  return { nGroups, nGenes, n, sum, sumSq, total };
}

/** Sums over some groups, as the totals of a one-vs-rest test among them. */
function totalsOf(
  stats: IGroupSufficientStats,
  groups: number[]
): { n: number; sum: Float64Array; sumSq: Float64Array } {
  const pooled = subsetMoments(stats, [groups], undefined);
  return { n: pooled.n[0], sum: pooled.sum, sumSq: pooled.sumSq };
}

function groupsWhere<T>(labels: T[], test: (label: T) => boolean): number[] {
  const groups: number[] = [];
  labels.forEach((label, g) => {
    if (test(label)) {
      groups.push(g);
    }
  });
  return groups;
}

function unique<T>(values: readonly T[]): T[] {
  return Array.from(new Set(values));
}

function stringColumn(
  table: Table,
  name: string,
  required: boolean
): string[] | null {
  const vector = table.getChild(name);
  if (!vector) {
    if (required) {
      throw new Error(
        `The stored marker table lacks the column '${name}'. ` +
          'The exprscope package in the kernel may not match this extension.'
      );
    }
    return null;
  }
  return Array.from(vector as Vector, value =>
    value === null ? '' : String(value)
  );
}

/** A numeric column as numbers (int64 arrives as bigint); NaN for nulls or no column. */
function numberColumn(table: Table, name: string): number[] {
  const vector = table.getChild(name);
  if (!vector) {
    return new Array(table.numRows).fill(NaN);
  }
  return Array.from(vector as Vector, value =>
    value === null ? NaN : Number(value)
  );
}
