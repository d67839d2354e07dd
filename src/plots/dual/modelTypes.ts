/** Options, inputs and the built model of the dual-expression plot (types and defaults). */
import {
  ICorrelation,
  ICorrelationDifference
} from '../../compute/correlation';
import { ICellIds } from '../../data/arrow';
import { ICodedColumn } from '../heatmap/model';
import { IBinning } from './binning';

export type DualColorBy = 'dataset' | 'cluster';
/** Facets: one panel, one per dataset, per cluster, or a clusters × datasets grid. */
export type DualFacetBy = 'none' | 'dataset' | 'cluster' | 'dataset_cluster';
export type DualDensity = 'auto' | 'on' | 'off';

export interface IDualOptions {
  colorBy: DualColorBy;
  /** Keep only these clusters (null = all cells, also those without a cluster). */
  clusters: string[] | null;
  facetBy: DualFacetBy;
  /** Correlate, and draw, only cells where both genes are detected (> 0). */
  detectedOnly: boolean;
  /** Spread exact zeros a little for display (seeded; statistics unchanged). */
  jitter: boolean;
  /** Binned 2-D density instead of points; 'auto' above `densityThreshold` points. */
  density: DualDensity;
  /** Histograms of x and y per colour group beside each facet. */
  marginals: boolean;
  /** Bootstrap resamples of the Spearman interval (0: none). */
  nBoot: number;
  /** Seed of the bootstrap and of the jitter. */
  seed: number;
  /**
   * Compute correlations not yet known (false: only memoised ones are shown, the rest
   * are NaN "not computed"; lets a view draw a million cells first and correlate after).
   */
  statistics: boolean;
  densityThreshold: number;
  /** Bins per axis of the density mode. */
  densityBins: number;
  /** Bins of each marginal histogram. */
  marginalBins: number;
}

/** Points above which 'auto' draws a binned density (WebGL stays fluid below). */
export const DENSITY_THRESHOLD = 200_000;
/** Half-width of the zero jitter, as a share of the axis' value span. */
export const JITTER_FRACTION = 0.015;
/** Padding of the axis ranges, as a share of the value span (holds the jitter). */
export const AXIS_PADDING = 0.04;
export const MIN_CELLS = 3;

export const DEFAULT_DUAL_OPTIONS: Readonly<IDualOptions> = {
  colorBy: 'dataset',
  clusters: null,
  facetBy: 'none',
  detectedOnly: false,
  jitter: false,
  density: 'auto',
  marginals: false,
  nBoot: 1000,
  seed: 0,
  statistics: true,
  densityThreshold: DENSITY_THRESHOLD,
  densityBins: 100,
  marginalBins: 40
};

export interface IEmbeddingInput {
  /** The obsm key or reduction name ("X_umap"). */
  name: string;
  /** Coordinates per dimension over all cells; the first two are drawn. */
  dims: readonly (Float32Array | Float64Array)[];
}

export interface IDualInput {
  /** Gene X over all cells; null when the matrix does not hold it. */
  x: Float32Array | null;
  y: Float32Array | null;
  geneX: string;
  geneY: string;
  dataset: ICodedColumn;
  cluster: ICodedColumn;
  embedding?: IEmbeddingInput | null;
  /** Cell names (obs_names), for hover. */
  cellIds?: ICellIds | null;
  /** The matrix the values come from ("X", "raw", "layers/counts"). */
  matrix?: string;
  /** Why a gene is missing, where the data layer knows. */
  missingReason?: Readonly<Record<string, string>>;
  /**
   * The kernel path: correlations the kernel computed over all cells (`pair_stats`), by
   * `${section}|${label}` ("dataset|stim", "cluster|3", "dataset_cluster|stim · 3"). Used
   * instead of computing in the browser; groups without an entry stay "not computed".
   */
  kernelStats?: ReadonlyMap<string, ICorrelation> | null;
}

/** A dataset, cluster or combination, or the cells lacking a label. */
export interface IDualGroup {
  /** Position in the column's categories; categories.length for "no label". */
  index: number;
  label: string;
  missing: boolean;
}

export type DualStatsSection =
  'dataset' | 'cluster' | 'dataset_cluster' | 'all';

export interface IDualStats extends ICorrelation {
  section: DualStatsSection;
  label: string;
  dataset: string | null;
  cluster: string | null;
  /** Cells of the group after the cluster filter (`nCells`: those correlated). */
  nGroupCells: number;
}

export interface IDualFacet {
  label: string;
  dataset: string | null;
  cluster: string | null;
  /** Grid position (row 0 at the top). */
  row: number;
  column: number;
  /** Cells of the facet after the cluster filter. */
  nKept: number;
  /** Its points are points[start, end), by colour group: points[segments[g], segments[g + 1]). */
  start: number;
  end: number;
  segments: Int32Array;
  stats: IDualStats;
  /** Density mode: cells per bin, counts[iy · nx + ix] (bins in `model.density`). */
  density: Uint32Array | null;
  /** Marginal histograms per colour group (bins in `model.marginals`). */
  marginals: IDualMarginals | null;
}

export interface IDualMarginals {
  /** Per colour group: share of the counted values in each bin. */
  x: Float64Array[];
  y: Float64Array[];
  /** Per colour group: share of the group's points that are exactly 0. */
  zerosX: Float64Array;
  zerosY: Float64Array;
}

export interface IDualAxis {
  gene: string;
  /** Extent of the drawn values (unjittered). */
  min: number;
  max: number;
  /** The displayed range: the extent with padding that holds the jitter. */
  range: [number, number];
  /** Half-width of the zero jitter (0: none). */
  jitter: number;
  /** Negative values somewhere (scaled / integrated data): "detected" means little. */
  hasNegative: boolean;
  /** Marginal histograms leave out exact zeros (non-negative genes). */
  marginalSkipsZeros: boolean;
}

export interface IDualPoints {
  /** Drawn cells, sorted by facet, then colour group, then cell index. */
  cells: Int32Array;
  /**
   * Drawn coordinates (zeros jittered when asked); null when the scatter is binned
   * (density): nothing draws them, and binned views read the input's values by cell.
   */
  x: Float32Array | null;
  y: Float32Array | null;
}

export interface IBlendModel {
  /**
   * Names this blend's content (a memo entry; swapped genes and the raster are other
   * content). Lets a view that gets models as copies (from the worker) keep its drawing.
   */
  key: string;
  embedding: string;
  dimLabels: [string, string];
  levels: number;
  /** Kept cells with coordinates, in drawing order: higher levelX + levelY on top. */
  cells: Int32Array;
  /**
   * Coordinates and Seurat's blend code levelX + levels · levelY per cell of `cells`;
   * null when drawn as a raster (the image holds what is drawn, and selections read the
   * embedding by cell).
   */
  x: Float32Array | null;
  y: Float32Array | null;
  code: Uint8Array | null;
  /** Cells per code. */
  counts: Uint32Array;
  /** Value extent that the levels of each gene scale. */
  scaleX: { min: number; max: number };
  scaleY: { min: number; max: number };
  /** Above the density threshold: the embedding drawn as pixels, not points. */
  raster: IBlendRaster | null;
  /** Where to name each cluster on the embedding (clusters with cells drawn). */
  clusterLabels: IClusterLabel[];
}

/** A cluster's name at the median of its drawn cells' coordinates. */
export interface IClusterLabel {
  label: string;
  x: number;
  y: number;
  nCells: number;
}

/**
 * The blend embedding as an image: what one-pixel points drawn in the blend's order would
 * show. A million WebGL points take seconds to draw in software and to restyle; an image
 * of the same look takes milliseconds. Pixels are square (the embedding keeps its aspect).
 */
export interface IBlendRaster {
  x: IBinning;
  y: IBinning;
  /** Per pixel (iy · nx + ix): blend code of the cell drawn last (on top); EMPTY_PIXEL if none. */
  code: Uint8Array;
  /** Cells per pixel. */
  count: Uint32Array;
}

/** Raster pixel without cells. */
export const EMPTY_PIXEL = 255;
/** Raster pixels along the embedding's longer side. */
export const BLEND_RASTER_PIXELS = 400;

export type DualNoteKind =
  | 'missing_genes'
  | 'same_gene'
  | 'nonfinite_values'
  | 'unknown_clusters'
  | 'empty_clusters'
  | 'no_cells'
  | 'unlabelled_cells'
  | 'constant_gene'
  | 'undefined_correlation'
  | 'detected_only'
  | 'negative_values'
  | 'no_bootstrap'
  | 'statistics_pending'
  | 'kernel_statistics'
  | 'jitter'
  | 'density'
  | 'blend_raster'
  | 'many_points'
  | 'no_embedding'
  | 'embedding_partial'
  | 'blend_constant'
  | 'pooled_by_grouping';

export interface IDualNote {
  kind: DualNoteKind;
  message: string;
  items: string[];
}

export interface IDualModel {
  matrix: string | null;
  options: IDualOptions;
  geneX: string;
  geneY: string;
  /** The input values (null: gene missing). */
  x: Float32Array | null;
  y: Float32Array | null;
  dataset: ICodedColumn;
  cluster: ICodedColumn;
  cellIds: ICellIds | null;
  /** The input's embedding: binned selections on the blend image read it by cell. */
  embedding: IEmbeddingInput | null;
  /** Cells in the input. */
  nCells: number;
  /** Cells passing the cluster filter with finite values of both genes, ascending. */
  kept: Int32Array;
  /** Drawn cells (kept; with `detectedOnly`, both genes > 0). */
  points: IDualPoints;
  /** Categories of the colour column (positions give palette colours). */
  colorCategories: readonly string[];
  colorGroups: IDualGroup[];
  facets: IDualFacet[];
  grid: { rows: number; columns: number };
  stats: {
    dataset: IDualStats[];
    cluster: IDualStats[];
    /** Per facet when facets are not datasets or clusters (pooled, or combinations). */
    facet: IDualStats[];
  };
  axes: { x: IDualAxis; y: IDualAxis };
  density: {
    on: boolean;
    reason: string;
    x: IBinning | null;
    y: IBinning | null;
  };
  marginals: { x: IBinning; y: IBinning } | null;
  blend: IBlendModel | null;
  /**
   * What the values are, as far as they tell ("log-normalised expression", "counts",
   * "scaled values"; see `valueKind`): the unit of the blend key.
   */
  valueKind: string;
  missingGenes: string[];
  notes: IDualNote[];
  /**
   * Δr of Pearson's r between each other dataset and the first one, over all cells and
   * within each cluster (Fisher's z test; `correlationDifference`). Empty with fewer than
   * two datasets, or on the kernel path (no cells here).
   */
  deltaR: IDeltaR[];
}

/** A difference of correlations: target dataset minus the reference, in a cluster or all cells. */
export interface IDeltaR extends ICorrelationDifference {
  /** null: all cells the plot keeps. */
  cluster: string | null;
  reference: string;
  target: string;
  rReference: number;
  nReference: number;
  rTarget: number;
  nTarget: number;
}

export const NO_DATASET = '(no dataset)';
export const NO_CLUSTER = '(no cluster)';
