/** Options, inputs and the built model of the heatmap and dot plot (types and defaults). */
import type {
  CodeArray,
  ExpressionColumn,
  IPooledSums
} from '../../compute/aggregate';
import { DEFAULT_ZSCORE_CLIP, RowScaling } from '../../compute/scale';

export type HeatmapGroupBy = 'dataset' | 'cluster' | 'dataset_cluster';
/**
 * What is coloured. 'log2fc' is the condition difference (target over reference dataset
 * within each cluster, from the kernel's `compare`): built by `buildDifferenceModel`, not
 * from cells.
 */
export type HeatmapValue =
  'mean' | 'linear_mean' | 'fraction' | 'dot' | 'log2fc';

export interface IHeatmapOptions {
  /** Columns: datasets, clusters, or dataset × cluster (labelled "stim · 3"). */
  groupBy: HeatmapGroupBy;
  /** Keep only these clusters (null = all); other cells are dropped before aggregating. */
  clusters: string[] | null;
  /** What is coloured; 'dot' colours the mean and sizes the fraction expressing. */
  value: HeatmapValue;
  scaling: RowScaling;
  /** z-scores are clipped to ±zscoreClip (≤ 0 or non-finite: no clipping). */
  zscoreClip: number;
  /** Columns with fewer cells are masked (null). */
  minCells: number;
  clusterGenes: boolean;
  clusterColumns: boolean;
  /** Distance of the average-linkage clustering. */
  metric: 'euclidean' | 'correlation';
}

export const DEFAULT_HEATMAP_OPTIONS: Readonly<IHeatmapOptions> = {
  groupBy: 'cluster',
  clusters: null,
  value: 'mean',
  scaling: 'zscore',
  zscoreClip: DEFAULT_ZSCORE_CLIP,
  minCells: 10,
  clusterGenes: false,
  clusterColumns: false,
  metric: 'euclidean'
};

/** Per-cell category codes (−1 = missing) and the category labels. */
export interface ICodedColumn {
  codes: CodeArray;
  categories: readonly string[];
}

export interface IHeatmapInput {
  /** Requested genes, in display order; those without values are reported missing. */
  genes: readonly string[];
  /** Values over all cells of each gene the matrix holds (dense or sparse). */
  values: ReadonlyMap<string, ExpressionColumn>;
  /** Why a gene is missing, where the data layer knows (e.g. "all NaN"). */
  missingReason?: Readonly<Record<string, string>>;
  dataset: ICodedColumn;
  cluster: ICodedColumn;
  /** The sample (replicate, donor) of each cell, when chosen: columns count their samples. */
  sample?: ICodedColumn;
  /** The matrix the values come from, as shown to users ("X", "raw", "layers/counts"). */
  matrix?: string;
  /**
   * Instead of cells (what heatmaps are drawn from): sums per fine group (dataset × cluster
   * [× sample], from the kernel's `group_stats`). `dataset`, `cluster` and `sample` then
   * code the fine groups, one entry each, `weights` holds their cells, `values` is empty.
   */
  groupSums?: {
    weights: Float64Array;
    genes: ReadonlyMap<string, IPooledSums>;
    hasNegative: boolean;
  };
}

export interface IHeatmapColumn {
  label: string;
  /** Dataset label of the column (null when grouped by cluster only). */
  dataset: string | null;
  /** Cluster label of the column (null when grouped by dataset only). */
  cluster: string | null;
  nCells: number;
  /** Distinct samples among the column's cells (null: no sample column, or kernel sums). */
  nSamples?: number | null;
  /** Fewer than `minCells` cells: every value of the column is null. */
  masked: boolean;
}

/** A dendrogram in display units: leaf k (k-th row/column shown) sits at position k. */
export interface IDendrogramGeometry {
  /** Each link as four points (left leg, bar, right leg): x in positions, y in heights. */
  links: { x: number[]; y: number[] }[];
  /** Height of the root. */
  maxHeight: number;
  /** Number of clustered leaves (positions 0 … nLeaves − 1; excluded ones follow). */
  nLeaves: number;
}

export interface IColorScale {
  /** Diverging scales are centred on 0 (blue low, red high). */
  kind: 'diverging' | 'sequential';
  min: number;
  max: number;
  label: string;
}

export type HeatmapNoteKind =
  | 'missing_genes'
  | 'no_genes'
  | 'unexpressed_genes'
  | 'constant_genes'
  | 'fraction_meaningless'
  | 'linear_mean_negative'
  | 'single_column'
  | 'masked_columns'
  | 'unknown_clusters'
  | 'empty_clusters'
  | 'no_cells'
  | 'unlabelled_cells'
  | 'clustering_partial'
  | 'kernel_path'
  | 'kernel_warning'
  | 'untested_clusters'
  | 'comparison_caveat';

export interface IHeatmapNote {
  kind: HeatmapNoteKind;
  /** A sentence for users. */
  message: string;
  /** The genes / columns / clusters concerned. */
  items: string[];
}

export type Cell = number | null;

export interface IHeatmapModel {
  /** The matrix used, as given in the input (null if not given). */
  matrix: string | null;
  /** The options the model was built with (defaults filled in). */
  options: IHeatmapOptions;
  /** The scaling applied (none when there are fewer than two unmasked columns). */
  scaling: RowScaling;
  /** Row genes in display order. */
  genes: string[];
  columns: IHeatmapColumn[];
  /** genes × columns, what is coloured (after scaling); null = masked / not shown. */
  color: Cell[][];
  /** Mean per column: of the stored values, or linear-space for value 'linear_mean'. */
  mean: Cell[][];
  /** Fraction of cells > 0; null for masked columns and genes with negative values. */
  fraction: Cell[][];
  /** Dot sizes (fraction expressing, 0–1) in 'dot' mode, else null. */
  size: Cell[][] | null;
  colorScale: IColorScale;
  sizeScale: { min: number; max: number; label: string } | null;
  rowDendrogram: IDendrogramGeometry | null;
  columnDendrogram: IDendrogramGeometry | null;
  /** Requested genes the matrix does not hold (or holds only NaN for). */
  missingGenes: string[];
  /** Cells aggregated (kept clusters, labelled). */
  nCellsKept: number;
  /** Why parts of the heatmap are empty, uniform or missing. */
  notes: IHeatmapNote[];
  /** Value 'log2fc': the comparison's own numbers per cell and column (else null). */
  difference: IDifferenceLayer | null;
}

/** What a condition difference heatmap shows beyond the colour (see `difference.ts`). */
export interface IDifferenceLayer {
  reference: string;
  target: string;
  method: 'pseudobulk' | 'wilcoxon';
  /** The sample column of a pseudobulk comparison (null: none). */
  sampleColumn: string | null;
  /** genes × columns in display order, null where not tested. */
  padj: Cell[][];
  pvalue: Cell[][];
  stat: Cell[][];
  /** Significance marks by adjusted p ('' for none). */
  marks: string[][];
  /** Per column (display order): cells and samples in each dataset, and why untested. */
  columns: IDifferenceColumn[];
}

export interface IDifferenceColumn {
  /** Reference dataset ("a") and target ("b"). */
  nCellsA: number;
  nCellsB: number;
  nSamplesA: number | null;
  nSamplesB: number | null;
  tested: boolean;
  note: string;
}
