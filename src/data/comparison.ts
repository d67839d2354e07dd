/**
 * The kernel's `compare` reply (docs/protocol.md): target vs reference dataset within each
 * cluster, by pseudobulk DESeq2 or a cell-level Wilcoxon test, decoded for the plots.
 */
import type { Table } from 'apache-arrow';

import type { IComparisonRows } from '../compute/difference';

/** Arguments of `compare` besides the object (the session adds it). */
export interface ICompareArgs {
  matrix: string;
  reference: string;
  target?: string | null;
  dataset_key: string;
  cluster_key: string;
  sample_key?: string | null;
  method?: 'pseudobulk' | 'wilcoxon' | null;
  clusters?: string[] | null;
  genes?: string[] | null;
  min_cells?: number;
  counts?: string | null;
}

/** One cluster's cells and samples in the two datasets (a: reference, b: target). */
export interface ICompareCluster {
  cluster: string;
  n_cells_a: number;
  n_cells_b: number;
  n_samples_a: number | null;
  n_samples_b: number | null;
  tested: boolean;
  /** Why the cluster was not tested ("" when it was). */
  note: string;
}

/** JSON result of `compare`; the per-gene numbers come in the Arrow table. */
export interface ICompareResult {
  method: 'pseudobulk' | 'wilcoxon';
  /** What the method means for the reading (e.g. cells are not replicates). */
  caveat: string;
  reference: string;
  target: string;
  matrix: string;
  dataset_key: string;
  cluster_key: string;
  sample_key: string | null;
  clusters: ICompareCluster[];
  n_genes: number;
}

/** A decoded `compare` reply. */
export interface IComparison extends IComparisonRows {
  result: ICompareResult;
}

/** Combine the JSON result and the Arrow table of a `compare` reply. */
export function decodeComparison(
  result: ICompareResult,
  table: Table
): IComparison {
  const text = (name: string): string[] => {
    const column = table.getChild(name);
    if (!column) {
      throw new Error(`The comparison lacks its '${name}' column.`);
    }
    // Iterating a dictionary vector yields its decoded values.
    return Array.from(column as Iterable<unknown>, value => String(value));
  };
  const numbers = (name: string): Float64Array => {
    const column = table.getChild(name);
    if (!column) {
      throw new Error(`The comparison lacks its '${name}' column.`);
    }
    return Float64Array.from(column.toArray() as ArrayLike<number>);
  };
  return {
    result,
    gene: text('gene'),
    cluster: text('cluster'),
    log2fc: numbers('log2fc'),
    stat: numbers('stat'),
    pvalue: numbers('pvalue'),
    padj: numbers('padj')
  };
}

/** Bytes a comparison holds, for the cache's budget. */
export function comparisonBytes(comparison: IComparison): number {
  const strings = comparison.gene.length * 2 * 16;
  return strings + 4 * comparison.log2fc.byteLength;
}

/** The cache key of a request: its arguments in a fixed order. */
export function comparisonKey(args: ICompareArgs): string {
  return JSON.stringify([
    args.matrix,
    args.reference,
    args.target ?? null,
    args.dataset_key,
    args.cluster_key,
    args.sample_key ?? null,
    args.method ?? null,
    args.clusters ?? null,
    args.genes ?? null,
    args.min_cells ?? 10,
    args.counts ?? null
  ]);
}
