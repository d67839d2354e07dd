/**
 * Decoding of the kernel's `group_stats` reply: per-group sufficient statistics
 * (n, Σx, Σx², #x>0) of every gene, computed in the kernel so that big or backed
 * matrices ship kilobytes instead of cells (DESIGN.md, "Facts").
 *
 * Arrow table: one row per gene; column `gene` (utf8), per group i `sum:<i>`, `sumsq:<i>`,
 * `nnz:<i>`, and `total_sum`, `total_sumsq` over all cells, cells in no group included
 * (the "rest" of a one-vs-rest test counts them, as scanpy does).
 */
import { Table, Vector } from 'apache-arrow';

import type { IGroupMoments } from '../compute/markers';

/** JSON result of `group_stats`; the numbers come in the Arrow table. */
export interface IGroupStatsResult {
  matrix: string;
  /** obs columns grouped by: [cluster] or [cluster, dataset]. */
  groupby: string[];
  /** One entry per group, `labels` in `groupby` order. */
  groups: { labels: string[]; n: number }[];
  n_cells_total: number;
  /** Genes left out by the kernel (e.g. NaN values). */
  excluded_genes: string[];
  /** Whether the matrix holds negative values (fraction expressing meaningless). */
  has_negative: boolean;
  /** `adata.uns['log1p']['base']`; null for natural log or unknown. */
  log1p_base: number | null;
  /** Whether `sumexpm1:<i>` columns were sent (asked with `expm1: true`). */
  expm1?: boolean;
  /** Requested genes the matrix does not hold (requests with `genes`). */
  missing?: string[];
  /** Text for the user, e.g. a CSR-backed file scanned for genes. */
  warnings?: string[];
}

/**
 * Group-major sufficient statistics ([g · nGenes + gene]), usable as `IGroupMoments`
 * by `rankMarkers`.
 */
export interface IGroupSufficientStats extends IGroupMoments {
  matrix: string;
  genes: string[];
  groupby: string[];
  /** Per group, its labels in `groupby` order (e.g. ["3", "ctrl"]). */
  groupLabels: string[][];
  /** Cells with value > 0, group-major. */
  nnz: Float64Array;
  /** Σ expm1(x), group-major, when the kernel sent it. */
  sumExpm1: Float64Array | null;
  /** Requested genes the matrix does not hold. */
  missing: string[];
  warnings: string[];
  total: { n: number; sum: Float64Array; sumSq: Float64Array };
  excludedGenes: string[];
  hasNegative: boolean;
  logBase: number | null;
}

/** Combine the JSON result and the Arrow table of a `group_stats` reply. */
export function decodeGroupStats(
  result: IGroupStatsResult,
  table: Table
): IGroupSufficientStats {
  const nGenes = table.numRows;
  const nGroups = result.groups.length;
  const geneVector = requireColumn(table, 'gene');
  const genes = Array.from(geneVector, value =>
    value === null ? '' : String(value)
  );
  const n = Float64Array.from(result.groups, group => group.n);
  const sum = new Float64Array(nGroups * nGenes);
  const sumSq = new Float64Array(nGroups * nGenes);
  const nnz = new Float64Array(nGroups * nGenes);
  const sumExpm1 = result.expm1 ? new Float64Array(nGroups * nGenes) : null;
  for (let g = 0; g < nGroups; g++) {
    sum.set(float64Column(table, `sum:${g}`), g * nGenes);
    sumSq.set(float64Column(table, `sumsq:${g}`), g * nGenes);
    nnz.set(float64Column(table, `nnz:${g}`), g * nGenes);
    sumExpm1?.set(float64Column(table, `sumexpm1:${g}`), g * nGenes);
  }
  return {
    matrix: result.matrix,
    genes,
    groupby: [...result.groupby],
    groupLabels: result.groups.map(group => group.labels.map(String)),
    nGroups,
    nGenes,
    n,
    sum,
    sumSq,
    nnz,
    sumExpm1,
    missing: [...(result.missing ?? [])],
    warnings: [...(result.warnings ?? [])],
    total: {
      n: result.n_cells_total,
      sum: Float64Array.from(float64Column(table, 'total_sum')),
      sumSq: Float64Array.from(float64Column(table, 'total_sumsq'))
    },
    excludedGenes: [...(result.excluded_genes ?? [])],
    hasNegative: !!result.has_negative,
    logBase: result.log1p_base ?? null
  };
}

function requireColumn(table: Table, name: string): Vector {
  const vector = table.getChild(name);
  if (!vector) {
    throw new Error(
      `The kernel's group statistics lack the column '${name}'. ` +
        'The exprscope package in the kernel may not match this extension.'
    );
  }
  return vector;
}

/** A numeric column as float64 (a view when it already is one), NaN for nulls. */
function float64Column(table: Table, name: string): Float64Array {
  const vector = requireColumn(table, name);
  const chunks = vector.data;
  if (
    chunks.length === 1 &&
    chunks[0].nullCount === 0 &&
    chunks[0].values instanceof Float64Array
  ) {
    return chunks[0].values.subarray(0, chunks[0].length);
  }
  // Several batches, other numeric types (int64 arrives as bigint) or nulls
  const out = new Float64Array(vector.length);
  let i = 0;
  for (const value of vector) {
    out[i++] = value === null ? NaN : Number(value);
  }
  return out;
}
