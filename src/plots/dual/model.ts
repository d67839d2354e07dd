/**
 * View model of the dual-expression plot: gene X against gene Y, one point per cell,
 * coloured by dataset or cluster, in facets, with the correlation per dataset, per
 * cluster and per facet, and the two-gene blend on an embedding. Pure: no DOM, no
 * Jupyter; typed arrays throughout so that a million cells stay cheap.
 *
 * Numbers (DESIGN.md, "Semantics"): statistics come from `correlateByGroup` on the cells
 * of each group that pass the cluster filter (with `detectedOnly`, the correlation uses
 * those with both genes > 0, the double-positive share all of them). Jitter, density
 * bins, marginals and blend levels are drawing aids and never enter the statistics.
 *
 * Everything is rebuilt from the same input: recolouring, refaceting, another cluster
 * subset or swapping the genes need no new data. Correlations are memoised per group
 * (keyed by the value arrays, the code arrays and the cells' selection), so only groups
 * whose cells changed are recomputed; swapping the genes reuses them, since r and ρ and
 * their intervals are symmetric in x and y. `swapDualModel` transposes a built model.
 * Memos (correlations, blends, "has negatives") are keyed by array identity: hand in
 * new arrays for new data, never mutate ones already used.
 */
import {
  correlateByGroup,
  correlationDifference,
  ICorrelation,
  ICorrelationDifference,
  pearsonByGroup,
  undefinedCorrelation
} from '../../compute/correlation';
import { hash32 } from '../../compute/rng';
import type { CodeArray } from '../../compute/aggregate';
import type { ICellIds } from '../../data/arrow';
import type { ICodedColumn } from '../heatmap/model';
import {
  binning,
  binOf,
  histogram1d,
  histogram2d,
  IBinning,
  transposeCounts
} from './binning';
import { BLEND_LEVELS, blendLevel } from './blend';
import { DualMemo, type Nested } from './memo';

export { DualMemo } from './memo';

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
const AXIS_PADDING = 0.04;
const MIN_CELLS = 3;

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

const NO_DATASET = '(no dataset)';
const NO_CLUSTER = '(no cluster)';

/**
 * The memo of one-off callers that own none (tests, scripts); the dual worker session and
 * each DualController pass their own `DualMemo`.
 */
let sharedMemo = new DualMemo();

/** Build the dual-expression model (memoised in `memo`: see DualMemo). */
export function buildDualModel(
  input: IDualInput,
  options: Partial<IDualOptions> = {},
  memo: DualMemo = sharedMemo
): IDualModel {
  const opts: IDualOptions = { ...DEFAULT_DUAL_OPTIONS, ...options };
  const notes: IDualNote[] = [];
  const matrixName = input.matrix ?? 'this matrix';
  const nCells = input.dataset.codes.length;
  if (input.cluster.codes.length !== nCells) {
    throw new RangeError(
      `buildDualModel: ${nCells} dataset codes but ${input.cluster.codes.length} cluster codes`
    );
  }
  for (const [gene, values] of [
    [input.geneX, input.x],
    [input.geneY, input.y]
  ] as const) {
    if (values !== null && values.length !== nCells) {
      throw new RangeError(
        `buildDualModel: gene ${gene} has ${values.length} values for ${nCells} cells`
      );
    }
  }

  // Genes: missing ones are said, never dropped silently
  const missingGenes: string[] = [];
  const described: string[] = [];
  for (const [gene, values] of [
    [input.geneX, input.x],
    [input.geneY, input.y]
  ] as const) {
    const reason =
      values === null
        ? input.missingReason?.[gene]
        : allNaN(values)
          ? 'NaN values'
          : null;
    if ((values === null || reason !== null) && !missingGenes.includes(gene)) {
      missingGenes.push(gene);
      described.push(reason ? `${gene} (${reason})` : gene);
    }
  }
  // Gene pairs are listed by name, so that notes read the same after a swap
  missingGenes.sort();
  described.sort();
  if (missingGenes.length > 0) {
    notes.push({
      kind: 'missing_genes',
      message: `Not in ${matrixName}: ${described.join(', ')}; nothing to correlate.`,
      items: missingGenes
    });
  }
  const x = missingGenes.length === 0 ? input.x : null;
  const y = missingGenes.length === 0 ? input.y : null;
  if (input.geneX === input.geneY && missingGenes.length === 0) {
    notes.push({
      kind: 'same_gene',
      message: `Gene X and gene Y are both ${input.geneX}: every correlation is 1.`,
      items: [input.geneX]
    });
  }

  // Cells: the cluster filter, then finite values of both genes
  const datasets = input.dataset.categories;
  const clusters = input.cluster.categories;
  const nD = datasets.length;
  const nK = clusters.length;
  const keepCluster = clusterFilter(clusters, opts.clusters, notes);
  const { dIndex, cIndex, kept, nonFinite, perDataset, perCluster } = memoCells(
    memo,
    input,
    x,
    y,
    keepCluster,
    filterKeyOf(keepCluster, opts)
  );
  const nKept = kept.length;
  explainCells(
    opts,
    clusters,
    keepCluster,
    perCluster,
    perDataset,
    nKept,
    nonFinite,
    missingGenes.length > 0,
    notes
  );

  const datasetGroups = presentGroups(datasets, perDataset, NO_DATASET);
  const clusterGroups = presentGroups(clusters, perCluster, NO_CLUSTER);
  const axisX = axisOf(memo, input.geneX, input.x);
  const axisY = axisOf(memo, input.geneY, input.y);

  // Statistics per dataset and per cluster (memoised per group)
  const stats = new StatsContext(memo, input, x, y, opts, keepCluster);
  const datasetStats = stats.groups(
    'dataset',
    dIndex,
    nD + 1,
    datasetGroups,
    group => ({
      label: group.label,
      dataset: group.label,
      cluster: null,
      nGroupCells: perDataset[group.index]
    })
  );
  const clusterStats = stats.groups(
    'cluster',
    cIndex,
    nK + 1,
    clusterGroups,
    group => ({
      label: group.label,
      dataset: null,
      cluster: group.label,
      nGroupCells: perCluster[group.index]
    })
  );

  // Facets and their statistics
  const layout = facetLayout(
    opts.facetBy,
    datasetGroups,
    clusterGroups,
    nD,
    nK,
    datasetStats,
    clusterStats,
    stats,
    dIndex,
    cIndex,
    kept
  );

  // Drawn cells: sorted by facet, then colour group (a counting sort, no objects)
  const colorCategories = opts.colorBy === 'dataset' ? datasets : clusters;
  const colorGroups =
    opts.colorBy === 'dataset' ? datasetGroups : clusterGroups;
  const colorIndex = opts.colorBy === 'dataset' ? dIndex : cIndex;
  const colorSlot = new Int32Array(colorCategories.length + 1).fill(-1);
  colorGroups.forEach((group, g) => (colorSlot[group.index] = g));
  const nG = colorGroups.length;
  const nF = layout.facets.length;
  const offsets = new Int32Array(nF * nG + 1);
  const key = new Int32Array(nKept);
  let nShown = 0;
  for (let k = 0; k < nKept; k++) {
    const cell = kept[k];
    if (
      opts.detectedOnly &&
      !((x as Float32Array)[cell] > 0 && (y as Float32Array)[cell] > 0)
    ) {
      key[k] = -1;
      continue;
    }
    const slot = layout.facetOf(cell) * nG + colorSlot[colorIndex[cell]];
    key[k] = slot;
    offsets[slot + 1]++;
    nShown++;
  }
  for (let s = 0; s < nF * nG; s++) {
    offsets[s + 1] += offsets[s];
  }
  const cursor = offsets.slice(0, nF * nG);
  const cells = new Int32Array(nShown);
  for (let k = 0; k < nKept; k++) {
    if (key[k] >= 0) {
      cells[cursor[key[k]]++] = kept[k];
    }
  }

  // Axes over the drawn cells; jitter only moves exact zeros, inside the padding
  const extentX = extent(x, cells);
  const extentY = extent(y, cells);
  finishAxis(axisX, extentX, opts.jitter);
  finishAxis(axisY, extentY, opts.jitter);
  // Density and marginals, per facet (a binned scatter draws no points)
  const densityOn =
    opts.density === 'on' ||
    (opts.density === 'auto' && nShown > opts.densityThreshold);
  const densityReason =
    opts.density === 'auto'
      ? `${fmtInt(nShown)} points ${densityOn ? '>' : '≤'} ${fmtInt(opts.densityThreshold)} (automatic)`
      : `density ${opts.density} (chosen)`;

  // Drawn points, when drawn as points
  const px = densityOn ? null : new Float32Array(nShown);
  const py = densityOn ? null : new Float32Array(nShown);
  if (x !== null && y !== null && px !== null && py !== null) {
    const saltX = jitterSalt(input.geneX, opts.seed);
    const saltY = jitterSalt(input.geneY, opts.seed);
    for (let k = 0; k < nShown; k++) {
      const cell = cells[k];
      px[k] = x[cell];
      py[k] = y[cell];
      if (opts.jitter && (x[cell] === 0 || y[cell] === 0)) {
        const h = hash32(cell);
        if (x[cell] === 0) {
          px[k] = axisX.jitter * jitterUnit(h, saltX);
        }
        if (y[cell] === 0) {
          py[k] = axisY.jitter * jitterUnit(h, saltY);
        }
      }
    }
  }
  const densityX = densityOn
    ? binning(axisX.min, axisX.max, opts.densityBins)
    : null;
  const densityY = densityOn
    ? binning(axisY.min, axisY.max, opts.densityBins)
    : null;
  const marginals =
    opts.marginals && nShown > 0
      ? {
          x: binning(axisX.min, axisX.max, opts.marginalBins),
          y: binning(axisY.min, axisY.max, opts.marginalBins)
        }
      : null;
  // Bins count the cells of each facet, whatever their colour: recolouring reuses them
  const densities =
    densityX && densityY && x && y
      ? memoDensities(
          memo,
          kept,
          [opts.facetBy, opts.detectedOnly, densityX, densityY],
          () =>
            layout.facets.map((_, f) =>
              histogram2d(
                x,
                y,
                cells,
                offsets[f * nG],
                offsets[(f + 1) * nG],
                densityX,
                densityY
              )
            )
        )
      : null;
  const facets: IDualFacet[] = layout.facets.map((facet, f) => {
    const start = offsets[f * nG];
    const end = offsets[(f + 1) * nG];
    const segments = offsets.slice(f * nG, (f + 1) * nG + 1);
    return {
      ...facet,
      start,
      end,
      segments,
      density: densities?.[f] ?? null,
      marginals:
        marginals && x && y
          ? facetMarginals(x, y, cells, segments, marginals, axisX, axisY)
          : null
    };
  });

  explainStatistics(
    input.geneX,
    input.geneY,
    x,
    y,
    cells,
    opts,
    axisX,
    axisY,
    [...datasetStats, ...clusterStats, ...layout.ownStats],
    nKept,
    matrixName,
    notes
  );
  explainDrawing(opts, axisX, axisY, x, y, cells, densityOn, nShown, notes);
  explainPooled(
    layout.facets,
    opts.colorBy === 'dataset' ? datasetStats : clusterStats,
    opts.colorBy,
    notes
  );

  const blend =
    x !== null && y !== null
      ? withRaster(
          memo,
          memoBlend(
            memo,
            input,
            x,
            y,
            kept,
            filterKeyOf(keepCluster, opts),
            notes
          ),
          opts,
          notes
        )
      : null;

  return {
    matrix: input.matrix ?? null,
    options: opts,
    geneX: input.geneX,
    geneY: input.geneY,
    x: input.x,
    y: input.y,
    dataset: input.dataset,
    cluster: input.cluster,
    cellIds: input.cellIds ?? null,
    embedding: input.embedding ?? null,
    nCells,
    kept,
    points: { cells, x: px, y: py },
    colorCategories,
    colorGroups,
    facets,
    grid: layout.grid,
    stats: {
      dataset: datasetStats,
      cluster: clusterStats,
      facet: layout.ownStats
    },
    axes: { x: axisX, y: axisY },
    density: { on: densityOn, reason: densityReason, x: densityX, y: densityY },
    marginals,
    blend,
    valueKind: valueKind(input.matrix ?? null, x, y, axisX, axisY, memo),
    missingGenes,
    notes,
    deltaR: correlationDifferences(
      x,
      y,
      dIndex,
      cIndex,
      nK,
      datasetGroups,
      clusterGroups,
      datasetStats,
      opts.detectedOnly
    )
  };
}

/**
 * Δr of each other dataset against the first one (`IDualModel.deltaR`): over all kept
 * cells from the per-dataset statistics, and per cluster from Pearson's r of each dataset
 * × cluster (no ranks, no bootstrap: Δr reads r only). Cells without a dataset or a cluster
 * label are left out of the comparisons.
 */
function correlationDifferences(
  x: Float32Array | null,
  y: Float32Array | null,
  dIndex: Int32Array,
  cIndex: Int32Array,
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
  const codes = new Int32Array(dIndex.length);
  for (let i = 0; i < codes.length; i++) {
    codes[i] = dIndex[i] >= 0 ? dIndex[i] * stride + cIndex[i] : -1;
  }
  const nGroups =
    (datasetGroups.length > 0
      ? Math.max(...datasetGroups.map(g => g.index)) + 1
      : 0) * stride;
  const { r, n } = pearsonByGroup(x, y, codes, nGroups, detectedOnly);
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

/** Largest value still read as log-normalised (log1p of counts per 10,000 stays below ~12). */
const LOG_NORMALISED_MAX = 20;

/**
 * What a matrix's values are, from the values (the kernel does not say): negative values
 * are "scaled values" (scaled or integrated data); whole numbers only are "counts";
 * non-negative values up to LOG_NORMALISED_MAX are "log-normalised expression"; larger
 * ones plain "expression". Both genes are read (memoised per value array).
 */
export function valueKind(
  matrix: string | null,
  x: Float32Array | null,
  y: Float32Array | null,
  axisX: IDualAxis,
  axisY: IDualAxis,
  memo: DualMemo = new DualMemo()
): string {
  if (axisX.hasNegative || axisY.hasNegative) {
    return 'scaled values';
  }
  const arrays = [x, y].filter((v): v is Float32Array => v !== null);
  if (arrays.length > 0 && arrays.every(values => wholeNumbers(memo, values))) {
    return 'counts';
  }
  if (/counts/i.test(matrix ?? '')) {
    return 'expression';
  }
  const max = Math.max(axisX.max, axisY.max);
  return max <= LOG_NORMALISED_MAX ? 'log-normalised expression' : 'expression';
}

/** Whether every finite value is a whole number (NaN and infinities are skipped). */
function wholeNumbers(memo: DualMemo, values: Float32Array): boolean {
  let whole = memo.wholeNumbers.get(values);
  if (whole === undefined) {
    whole = true;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v !== Math.floor(v) && Number.isFinite(v)) {
        whole = false;
        break;
      }
    }
    memo.wholeNumbers.set(values, whole);
  }
  return whole;
}

/**
 * The model of the swapped plot (gene Y on the x axis), by transposing: statistics are
 * symmetric in the two genes, so nothing is recomputed. Equal to building the model
 * from the input with x and y exchanged.
 */
export function swapDualModel(model: IDualModel): IDualModel {
  const density = model.density;
  const nx = density.x?.count ?? 0;
  const ny = density.y?.count ?? 0;
  const blend = model.blend;
  return {
    ...model,
    geneX: model.geneY,
    geneY: model.geneX,
    x: model.y,
    y: model.x,
    points: { cells: model.points.cells, x: model.points.y, y: model.points.x },
    facets: model.facets.map(facet => ({
      ...facet,
      density: facet.density ? transposeCounts(facet.density, nx, ny) : null,
      marginals: facet.marginals
        ? {
            x: facet.marginals.y,
            y: facet.marginals.x,
            zerosX: facet.marginals.zerosY,
            zerosY: facet.marginals.zerosX
          }
        : null
    })),
    axes: { x: model.axes.y, y: model.axes.x },
    density: { ...density, x: density.y, y: density.x },
    marginals: model.marginals
      ? { x: model.marginals.y, y: model.marginals.x }
      : null,
    blend: blend ? transposeBlend(blend) : null
  };
}

/** Forget what callers without a memo of their own memoised (tests). */
export function clearDualCaches(): void {
  sharedMemo = new DualMemo();
}

// ---------------------------------------------------------------------------------------
// Cells

/**
 * The cells a build keeps and their groups: the one pass over every cell, which
 * recolouring, refaceting and other drawing options repeat unchanged. Read-only once
 * made (memoised, and kept out of the worker's moved buffers).
 */
export interface ICells {
  /** Dataset / cluster slot per cell (categories.length: no label; −1: not kept). */
  dIndex: Int32Array;
  cIndex: Int32Array;
  /** Kept cells, ascending. */
  kept: Int32Array;
  nonFinite: number;
  perDataset: Float64Array;
  perCluster: Float64Array;
}

export interface ICellsMemo {
  y: Float32Array;
  datasetCodes: CodeArray;
  clusterCodes: CodeArray;
  nD: number;
  nK: number;
  filterKey: string;
  cells: ICells;
}

/** The cluster filter, then finite values of both genes (none when a gene is missing). */
function memoCells(
  memo: DualMemo,
  input: IDualInput,
  x: Float32Array | null,
  y: Float32Array | null,
  keepCluster: Uint8Array,
  filterKey: string
): ICells {
  const nD = input.dataset.categories.length;
  const nK = input.cluster.categories.length;
  const entries = x ? (memo.cells.get(x) ?? []) : [];
  const hit = entries.find(
    e =>
      e.y === y &&
      e.datasetCodes === input.dataset.codes &&
      e.clusterCodes === input.cluster.codes &&
      e.nD === nD &&
      e.nK === nK &&
      e.filterKey === filterKey
  );
  if (hit) {
    return hit.cells;
  }
  const nCells = input.dataset.codes.length;
  const dIndex = new Int32Array(nCells).fill(-1);
  const cIndex = new Int32Array(nCells).fill(-1);
  const keptAll = new Int32Array(nCells);
  let nKept = 0;
  let nonFinite = 0;
  const perDataset = new Float64Array(nD + 1);
  const perCluster = new Float64Array(nK + 1);
  if (x !== null && y !== null) {
    const dCodes = input.dataset.codes;
    const cCodes = input.cluster.codes;
    for (let i = 0; i < nCells; i++) {
      const c = cCodes[i] >= 0 && cCodes[i] < nK ? cCodes[i] : nK;
      if (!keepCluster[c]) {
        continue;
      }
      if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) {
        nonFinite++;
        continue;
      }
      const d = dCodes[i] >= 0 && dCodes[i] < nD ? dCodes[i] : nD;
      dIndex[i] = d;
      cIndex[i] = c;
      perDataset[d]++;
      perCluster[c]++;
      keptAll[nKept++] = i;
    }
  }
  const cells: ICells = {
    dIndex,
    cIndex,
    kept: keptAll.slice(0, nKept),
    nonFinite,
    perDataset,
    perCluster
  };
  if (x !== null && y !== null) {
    entries.unshift({
      y,
      datasetCodes: input.dataset.codes,
      clusterCodes: input.cluster.codes,
      nD,
      nK,
      filterKey,
      cells
    });
    entries.length = Math.min(entries.length, DualMemo.CELLS_PER_ARRAY);
    memo.cells.set(x, entries);
  }
  return cells;
}

function memoDensities(
  memo: DualMemo,
  kept: Int32Array,
  key: readonly unknown[],
  count: () => Uint32Array[]
): Uint32Array[] {
  const text = JSON.stringify(key);
  let entries = memo.densities.get(kept);
  const hit = entries?.get(text);
  if (hit) {
    return hit;
  }
  const densities = count();
  if (!entries || entries.size >= DualMemo.CELLS_PER_ARRAY) {
    entries = new Map();
    memo.densities.set(kept, entries);
  }
  entries.set(text, densities);
  return densities;
}

// ---------------------------------------------------------------------------------------
// Statistics

type Cache = Map<string, ICorrelation>;

function nestedGet<T>(
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
class StatsContext {
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

// ---------------------------------------------------------------------------------------
// Cells, groups, facets

/** keep[k] for cluster k, and keep[nK] for cells without a cluster (kept with "all"). */
function clusterFilter(
  clusters: readonly string[],
  wanted: string[] | null,
  notes: IDualNote[]
): Uint8Array {
  const nK = clusters.length;
  const keep = new Uint8Array(nK + 1).fill(wanted === null ? 1 : 0);
  if (wanted === null) {
    return keep;
  }
  const index = new Map(clusters.map((name, k) => [name, k]));
  const unknown = wanted.filter(name => !index.has(name));
  for (const name of wanted) {
    const k = index.get(name);
    if (k !== undefined) {
      keep[k] = 1;
    }
  }
  if (unknown.length > 0) {
    notes.push({
      kind: 'unknown_clusters',
      message: `Unknown cluster${unknown.length > 1 ? 's' : ''} ignored: ${unknown.join(', ')}.`,
      items: unknown
    });
  }
  return keep;
}

/** Categories with kept cells in category order, then the unlabelled cells. */
function presentGroups(
  categories: readonly string[],
  counts: Float64Array,
  missingLabel: string
): IDualGroup[] {
  const groups: IDualGroup[] = [];
  categories.forEach((label, index) => {
    if (counts[index] > 0) {
      groups.push({ index, label, missing: false });
    }
  });
  if (counts[categories.length] > 0) {
    groups.push({
      index: categories.length,
      label: missingLabel,
      missing: true
    });
  }
  return groups;
}

interface IFacetLayout {
  facets: Omit<
    IDualFacet,
    'start' | 'end' | 'segments' | 'density' | 'marginals'
  >[];
  grid: { rows: number; columns: number };
  /** Facet of a kept cell. */
  facetOf: (cell: number) => number;
  /** Statistics computed for the facets themselves (pooled or combinations). */
  ownStats: IDualStats[];
}

function facetLayout(
  facetBy: DualFacetBy,
  datasetGroups: IDualGroup[],
  clusterGroups: IDualGroup[],
  nD: number,
  nK: number,
  datasetStats: IDualStats[],
  clusterStats: IDualStats[],
  stats: StatsContext,
  dIndex: Int32Array,
  cIndex: Int32Array,
  kept: Int32Array
): IFacetLayout {
  const wrap = (n: number) => {
    const columns = Math.max(1, Math.ceil(Math.sqrt(n)));
    return { rows: Math.max(1, Math.ceil(n / columns)), columns };
  };
  if (facetBy === 'dataset' || facetBy === 'cluster') {
    const byDataset = facetBy === 'dataset';
    const groups = byDataset ? datasetGroups : clusterGroups;
    const groupStats = byDataset ? datasetStats : clusterStats;
    const slot = new Int32Array((byDataset ? nD : nK) + 1);
    groups.forEach((group, f) => (slot[group.index] = f));
    const grid = wrap(groups.length);
    const index = byDataset ? dIndex : cIndex;
    return {
      facets: groups.map((group, f) => ({
        label: group.label,
        dataset: byDataset ? group.label : null,
        cluster: byDataset ? null : group.label,
        row: Math.floor(f / grid.columns),
        column: f % grid.columns,
        nKept: groupStats[f].nGroupCells,
        stats: groupStats[f]
      })),
      grid,
      facetOf: cell => slot[index[cell]],
      ownStats: []
    };
  }
  if (facetBy === 'dataset_cluster') {
    // Rows: clusters; columns: datasets; empty combinations stay, to keep the grid
    const stride = nK + 1;
    const codes = new Int32Array(dIndex.length).fill(-1);
    const counts = new Float64Array((nD + 1) * stride);
    for (const cell of kept) {
      const code = dIndex[cell] * stride + cIndex[cell];
      codes[cell] = code;
      counts[code]++;
    }
    const combos: IDualGroup[] = [];
    const places: [number, number, IDualGroup, IDualGroup][] = [];
    clusterGroups.forEach((cluster, row) =>
      datasetGroups.forEach((dataset, column) => {
        const group = {
          index: dataset.index * stride + cluster.index,
          label: `${dataset.label} · ${cluster.label}`,
          missing: dataset.missing || cluster.missing
        };
        combos.push(group);
        places.push([row, column, dataset, cluster]);
      })
    );
    const ownStats = stats.groups(
      'dataset_cluster',
      codes,
      (nD + 1) * stride,
      combos,
      group => {
        const [, , dataset, cluster] = places[combos.indexOf(group)];
        return {
          label: group.label,
          dataset: dataset.label,
          cluster: cluster.label,
          nGroupCells: counts[group.index]
        };
      }
    );
    const slot = new Int32Array((nD + 1) * stride);
    combos.forEach((group, f) => (slot[group.index] = f));
    return {
      facets: combos.map((group, f) => ({
        label: group.label,
        dataset: places[f][2].label,
        cluster: places[f][3].label,
        row: places[f][0],
        column: places[f][1],
        nKept: counts[group.index],
        stats: ownStats[f]
      })),
      grid: {
        rows: Math.max(1, clusterGroups.length),
        columns: Math.max(1, datasetGroups.length)
      },
      facetOf: cell => slot[dIndex[cell] * stride + cIndex[cell]],
      ownStats
    };
  }
  // One panel: the pooled statistics of every kept cell (codes made only when computed:
  // a recolouring finds the statistics known)
  const allCells = () => {
    const codes = new Int32Array(dIndex.length).fill(-1);
    for (let k = 0; k < kept.length; k++) {
      codes[kept[k]] = 0;
    }
    return codes;
  };
  const all: IDualGroup = { index: 0, label: 'all cells', missing: false };
  const ownStats = stats.groups('all', allCells, 1, [all], () => ({
    label: 'all cells',
    dataset: null,
    cluster: null,
    nGroupCells: kept.length
  }));
  return {
    facets: [
      {
        label: 'all cells',
        dataset: null,
        cluster: null,
        row: 0,
        column: 0,
        nKept: kept.length,
        stats: ownStats[0]
      }
    ],
    grid: { rows: 1, columns: 1 },
    facetOf: () => 0,
    ownStats
  };
}

// ---------------------------------------------------------------------------------------
// Axes, jitter, marginals

function axisOf(
  memo: DualMemo,
  gene: string,
  values: Float32Array | null
): IDualAxis {
  let hasNegative = values !== null ? memo.negatives.get(values) : false;
  if (hasNegative === undefined && values !== null) {
    hasNegative = false;
    for (let i = 0; i < values.length; i++) {
      if (values[i] < 0) {
        hasNegative = true;
        break;
      }
    }
    memo.negatives.set(values, hasNegative);
  }
  return {
    gene,
    min: 0,
    max: 1,
    range: [0, 1],
    jitter: 0,
    hasNegative: hasNegative === true,
    marginalSkipsZeros: hasNegative !== true
  };
}

function extent(
  values: Float32Array | null,
  cells: Int32Array
): [number, number] | null {
  if (values === null || cells.length === 0) {
    return null;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < cells.length; k++) {
    const v = values[cells[k]];
    if (v < lo) {
      lo = v;
    }
    if (v > hi) {
      hi = v;
    }
  }
  return [lo, hi];
}

function finishAxis(
  axis: IDualAxis,
  valueExtent: [number, number] | null,
  jitter: boolean
): void {
  const [lo, hi] = valueExtent ?? [0, 1];
  const span = hi > lo ? hi - lo : 1;
  axis.min = lo;
  axis.max = hi;
  axis.jitter = jitter ? JITTER_FRACTION * span : 0;
  const pad = hi > lo ? AXIS_PADDING * span : 0.5;
  axis.range = [lo - pad, hi + pad];
}

/** Per-gene salt: the jitter of a value depends on its gene, not on its axis (swaps). */
function jitterSalt(gene: string, seed: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < gene.length; i++) {
    h = Math.imul(h ^ gene.charCodeAt(i), 0x01000193) >>> 0;
  }
  return hash32((h ^ hash32(seed >>> 0)) >>> 0);
}

/** A uniform number in [−1, 1) from the cell's hash and the gene's salt. */
function jitterUnit(cellHash: number, salt: number): number {
  return (2 * hash32((cellHash ^ salt) >>> 0)) / 4294967296 - 1;
}

/** The zero jitter of `values` at each cell (0 where the value is not 0). */
export function zeroJitter(
  values: Float32Array,
  cells: Int32Array,
  gene: string,
  seed: number,
  halfWidth: number
): Float32Array {
  const salt = jitterSalt(gene, seed);
  const out = new Float32Array(cells.length);
  for (let k = 0; k < cells.length; k++) {
    if (values[cells[k]] === 0) {
      out[k] = halfWidth * jitterUnit(hash32(cells[k]), salt);
    }
  }
  return out;
}

function facetMarginals(
  x: Float32Array,
  y: Float32Array,
  cells: Int32Array,
  segments: Int32Array,
  bins: { x: IBinning; y: IBinning },
  axisX: IDualAxis,
  axisY: IDualAxis
): IDualMarginals {
  const nG = segments.length - 1;
  const result: IDualMarginals = {
    x: [],
    y: [],
    zerosX: new Float64Array(nG),
    zerosY: new Float64Array(nG)
  };
  for (let g = 0; g < nG; g++) {
    const from = segments[g];
    const to = segments[g + 1];
    const n = to - from;
    const hx = histogram1d(
      x,
      cells,
      from,
      to,
      bins.x,
      axisX.marginalSkipsZeros
    );
    const hy = histogram1d(
      y,
      cells,
      from,
      to,
      bins.y,
      axisY.marginalSkipsZeros
    );
    result.x.push(hx.fraction);
    result.y.push(hy.fraction);
    result.zerosX[g] = n > 0 ? hx.zeros / n : NaN;
    result.zerosY[g] = n > 0 ? hy.zeros / n : NaN;
  }
  return result;
}

// ---------------------------------------------------------------------------------------
// Blend on the embedding

/** Which cells the cluster filter keeps, as a memo key. */
function filterKeyOf(keepCluster: Uint8Array, opts: IDualOptions): string {
  if (opts.clusters === null) {
    return 'all';
  }
  const kept: number[] = [];
  keepCluster.forEach((keep, k) => keep && kept.push(k));
  return kept.join(',');
}

export interface IBlendMemo {
  y: Float32Array;
  dims: readonly (Float32Array | Float64Array)[];
  clusterCodes: CodeArray;
  filterKey: string;
  blend: IBlendModel | null;
  notes: IDualNote[];
}

/** buildBlend, remembered for the same genes, embedding and cluster filter. */
function memoBlend(
  memo: DualMemo,
  input: IDualInput,
  x: Float32Array,
  y: Float32Array,
  kept: Int32Array,
  filterKey: string,
  notes: IDualNote[]
): IBlendModel | null {
  const dims = input.embedding?.dims ?? [];
  const matches = (entry: IBlendMemo, other: Float32Array) =>
    entry.y === other &&
    entry.clusterCodes === input.cluster.codes &&
    entry.filterKey === filterKey &&
    entry.dims.length === dims.length &&
    entry.dims.every((d, k) => d === dims[k]);
  const forward = memo.blends.get(x)?.find(e => matches(e, y));
  const backward = forward
    ? undefined
    : memo.blends.get(y)?.find(e => matches(e, x));
  const hit = forward ?? backward;
  if (hit && input.embedding) {
    notes.push(...hit.notes.map(n => ({ ...n, items: n.items.slice() })));
    return hit.blend && backward ? transposeBlend(hit.blend) : hit.blend;
  }
  const own: IDualNote[] = [];
  const blend = buildBlend(input, x, y, kept, own);
  notes.push(...own);
  if (input.embedding) {
    const entries = memo.blends.get(x) ?? [];
    entries.unshift({
      y,
      dims,
      clusterCodes: input.cluster.codes,
      filterKey,
      blend,
      notes: own.map(n => ({ ...n, items: n.items.slice() }))
    });
    entries.length = Math.min(entries.length, DualMemo.BLENDS_PER_ARRAY);
    memo.blends.set(x, entries);
  }
  return blend;
}

/** The blend with the genes exchanged: levels swap, drawing order stays. */
function transposeBlend(blend: IBlendModel): IBlendModel {
  const L = blend.levels;
  const swap = (c: number) => (c % L) * L + Math.floor(c / L);
  return {
    ...blend,
    key: blend.key.endsWith(SWAPPED)
      ? blend.key.slice(0, -SWAPPED.length)
      : blend.key + SWAPPED,
    code: blend.code && blend.code.map(swap),
    counts: transposeCounts(blend.counts, L, L),
    scaleX: blend.scaleY,
    scaleY: blend.scaleX,
    raster: blend.raster && {
      ...blend.raster,
      code: blend.raster.code.map(c => (c === EMPTY_PIXEL ? c : swap(c)))
    }
  };
}

const SWAPPED = '/swapped';
/** Blend keys: unique across workers and reloads (a counter alone restarts at 0). */
const BLEND_KEY_PREFIX = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
let blendCount = 0;

/** The blend with its raster when the density option asks for one (see IBlendRaster). */
function withRaster(
  memo: DualMemo,
  blend: IBlendModel | null,
  opts: IDualOptions,
  notes: IDualNote[]
): IBlendModel | null {
  if (!blend) {
    return null;
  }
  const n = blend.cells.length;
  const on =
    n > 0 &&
    (opts.density === 'on' ||
      (opts.density === 'auto' && n > opts.densityThreshold));
  if (!on) {
    return blend;
  }
  let drawn = memo.rasters.get(blend);
  if (!drawn) {
    drawn = {
      ...blend,
      key: `${blend.key}/raster`,
      raster: blendRaster(blend, BLEND_RASTER_PIXELS),
      x: null,
      y: null,
      code: null
    };
    memo.rasters.set(blend, drawn);
  }
  const raster = drawn.raster!;
  notes.push({
    kind: 'blend_raster',
    message:
      `${fmtInt(n)} cells on ${blend.embedding} drawn as ${raster.x.count} × ${raster.y.count} pixels, ` +
      'each showing the blend of the cell on top' +
      (opts.density === 'auto'
        ? ` (more than ${fmtInt(opts.densityThreshold)} cells)`
        : '') +
      '.',
    items: []
  });
  return drawn;
}

/**
 * The blend drawn into square pixels, `pixels` along the longer side of the embedding:
 * cells are visited in drawing order, so each pixel keeps the code of the cell on top.
 */
export function blendRaster(blend: IBlendModel, pixels: number): IBlendRaster {
  const { x, y, code: cellCode } = blend;
  if (!x || !y || !cellCode) {
    throw new Error('blendRaster: the blend is already a raster.');
  }
  let loX = Infinity;
  let hiX = -Infinity;
  let loY = Infinity;
  let hiY = -Infinity;
  for (let k = 0; k < x.length; k++) {
    loX = Math.min(loX, x[k]);
    hiX = Math.max(hiX, x[k]);
    loY = Math.min(loY, y[k]);
    hiY = Math.max(hiY, y[k]);
  }
  const span = Math.max(hiX - loX, hiY - loY);
  const side = (lo: number, hi: number): IBinning =>
    span > 0
      ? {
          start: lo,
          size: span / pixels,
          count: Math.max(1, Math.ceil(((hi - lo) / span) * pixels))
        }
      : binning(lo, hi, 1);
  const bx = side(loX, hiX);
  const by = side(loY, hiY);
  const nx = bx.count;
  const code = new Uint8Array(nx * by.count).fill(EMPTY_PIXEL);
  const count = new Uint32Array(nx * by.count);
  for (let k = 0; k < x.length; k++) {
    const p = binOf(y[k], by) * nx + binOf(x[k], bx);
    code[p] = cellCode[k];
    count[p]++;
  }
  return { x: bx, y: by, code, count };
}

function buildBlend(
  input: IDualInput,
  x: Float32Array,
  y: Float32Array,
  kept: Int32Array,
  notes: IDualNote[]
): IBlendModel | null {
  const embedding = input.embedding;
  if (!embedding) {
    notes.push({
      kind: 'no_embedding',
      message:
        'No embedding (UMAP, t-SNE or another obsm entry): the co-expression view needs one.',
      items: []
    });
    return null;
  }
  const [d1, d2] = embedding.dims;
  if (!d1 || !d2 || d1.length !== x.length || d2.length !== x.length) {
    notes.push({
      kind: 'no_embedding',
      message: `Embedding ${embedding.name} needs two dimensions over all ${fmtInt(x.length)} cells; it has ${embedding.dims.length} of ${fmtInt(d1?.length ?? 0)}.`,
      items: [embedding.name]
    });
    return null;
  }
  // Kept cells with coordinates, and each gene's extent over them (Seurat scales over
  // the cells drawn)
  const drawn = new Int32Array(kept.length);
  let n = 0;
  let loX = Infinity;
  let hiX = -Infinity;
  let loY = Infinity;
  let hiY = -Infinity;
  for (let k = 0; k < kept.length; k++) {
    const cell = kept[k];
    if (!Number.isFinite(d1[cell]) || !Number.isFinite(d2[cell])) {
      continue;
    }
    drawn[n++] = cell;
    loX = Math.min(loX, x[cell]);
    hiX = Math.max(hiX, x[cell]);
    loY = Math.min(loY, y[cell]);
    hiY = Math.max(hiY, y[cell]);
  }
  if (n < kept.length) {
    notes.push({
      kind: 'embedding_partial',
      message: `${fmtInt(kept.length - n)} cell${kept.length - n > 1 ? 's have' : ' has'} no coordinates in ${embedding.name} and ${kept.length - n > 1 ? 'are' : 'is'} not drawn on it.`,
      items: [embedding.name]
    });
  }
  const constant = byName(
    { gene: input.geneX, lo: loX, hi: hiX },
    { gene: input.geneY, lo: loY, hi: hiY },
    g => g.gene
  )
    .filter(g => n > 0 && !(g.hi > g.lo))
    .map(g => g.gene);
  if (constant.length > 0) {
    notes.push({
      kind: 'blend_constant',
      message: `${constant.join(' and ')} ${constant.length > 1 ? 'have' : 'has'} one value in every cell drawn: level 0 everywhere in the blend.`,
      items: constant
    });
  }
  // Levels, then a counting sort by levelX + levelY so co-expressing cells draw on top
  const levels = BLEND_LEVELS;
  const codes = new Uint8Array(n);
  const counts = new Uint32Array(levels * levels);
  const bySum = new Int32Array(2 * levels);
  for (let k = 0; k < n; k++) {
    const cell = drawn[k];
    const lx = blendLevel(x[cell], loX, hiX, levels);
    const ly = blendLevel(y[cell], loY, hiY, levels);
    codes[k] = lx + levels * ly;
    counts[codes[k]]++;
    bySum[lx + ly + 1]++;
  }
  for (let s = 1; s < bySum.length; s++) {
    bySum[s] += bySum[s - 1];
  }
  const cells = new Int32Array(n);
  const code = new Uint8Array(n);
  const ex = new Float32Array(n);
  const ey = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const c = codes[k];
    const at = bySum[(c % levels) + Math.floor(c / levels)]++;
    const cell = drawn[k];
    cells[at] = cell;
    code[at] = c;
    ex[at] = d1[cell];
    ey[at] = d2[cell];
  }
  return {
    key: `${BLEND_KEY_PREFIX}-${blendCount++}`,
    embedding: embedding.name,
    dimLabels: [`${embedding.name} 1`, `${embedding.name} 2`],
    levels,
    cells,
    x: ex,
    y: ey,
    code,
    counts,
    scaleX: { min: n > 0 ? loX : 0, max: n > 0 ? hiX : 0 },
    scaleY: { min: n > 0 ? loY : 0, max: n > 0 ? hiY : 0 },
    raster: null,
    clusterLabels: clusterLabels(input.cluster, drawn.subarray(0, n), d1, d2)
  };
}

/**
 * Each cluster's name at the median of its drawn cells on the embedding (the median, not
 * the mean: a few cells far away do not move the label off the cluster).
 */
export function clusterLabels(
  cluster: ICodedColumn,
  cells: Int32Array,
  d1: ArrayLike<number>,
  d2: ArrayLike<number>
): IClusterLabel[] {
  const nK = cluster.categories.length;
  const counts = new Int32Array(nK + 1);
  for (let k = 0; k < cells.length; k++) {
    const c = cluster.codes[cells[k]];
    counts[c >= 0 && c < nK ? c : nK]++;
  }
  const start = new Int32Array(nK + 2);
  for (let c = 0; c <= nK; c++) {
    start[c + 1] = start[c] + counts[c];
  }
  const cursor = start.slice(0, nK + 1);
  const xs = new Float64Array(cells.length);
  const ys = new Float64Array(cells.length);
  for (let k = 0; k < cells.length; k++) {
    const cell = cells[k];
    const code = cluster.codes[cell];
    const at = cursor[code >= 0 && code < nK ? code : nK]++;
    xs[at] = d1[cell];
    ys[at] = d2[cell];
  }
  const median = (values: Float64Array) => {
    values.sort();
    const m = values.length >> 1;
    return values.length % 2 ? values[m] : (values[m - 1] + values[m]) / 2;
  };
  const labels: IClusterLabel[] = [];
  // Cells without a cluster get no label
  for (let c = 0; c < nK; c++) {
    if (counts[c] > 0) {
      labels.push({
        label: cluster.categories[c],
        x: median(xs.subarray(start[c], start[c + 1])),
        y: median(ys.subarray(start[c], start[c + 1])),
        nCells: counts[c]
      });
    }
  }
  return labels;
}

// ---------------------------------------------------------------------------------------
// Notes

function explainCells(
  opts: IDualOptions,
  clusters: readonly string[],
  keepCluster: Uint8Array,
  perCluster: Float64Array,
  perDataset: Float64Array,
  nKept: number,
  nonFinite: number,
  geneMissing: boolean,
  notes: IDualNote[]
): void {
  if (geneMissing) {
    return;
  }
  if (opts.clusters !== null) {
    const empty = clusters.filter(
      (_, k) => keepCluster[k] && perCluster[k] === 0
    );
    if (empty.length > 0) {
      notes.push({
        kind: 'empty_clusters',
        message: `No cells in cluster${empty.length > 1 ? 's' : ''} ${empty.join(', ')}.`,
        items: empty
      });
    }
  }
  if (nonFinite > 0) {
    notes.push({
      kind: 'nonfinite_values',
      message: `${fmtInt(nonFinite)} cell${nonFinite > 1 ? 's' : ''} with a NaN or infinite value ${nonFinite > 1 ? 'are' : 'is'} left out.`,
      items: []
    });
  }
  const noDataset = perDataset[perDataset.length - 1];
  const noCluster = perCluster[perCluster.length - 1];
  if (noDataset > 0 || noCluster > 0) {
    const parts = [
      noDataset > 0 ? `${fmtInt(noDataset)} without a dataset` : '',
      noCluster > 0 ? `${fmtInt(noCluster)} without a cluster` : ''
    ].filter(Boolean);
    notes.push({
      kind: 'unlabelled_cells',
      message: `Cells lacking a label (${parts.join(', ')}) are drawn in grey and have their own rows, "${NO_DATASET}" / "${NO_CLUSTER}".`,
      items: []
    });
  }
  if (nKept === 0) {
    notes.push({
      kind: 'no_cells',
      message:
        opts.clusters !== null
          ? 'No cells in the chosen clusters: nothing to show.'
          : 'No cells with values of both genes: nothing to show.',
      items: []
    });
  }
}

function explainStatistics(
  geneX: string,
  geneY: string,
  x: Float32Array | null,
  y: Float32Array | null,
  cells: Int32Array,
  opts: IDualOptions,
  axisX: IDualAxis,
  axisY: IDualAxis,
  rows: IDualStats[],
  nKept: number,
  matrixName: string,
  notes: IDualNote[]
): void {
  if (x === null || y === null) {
    return;
  }
  if (opts.detectedOnly) {
    notes.push({
      kind: 'detected_only',
      message: `Only cells where both genes are detected (> 0) are correlated and drawn: ${fmtInt(cells.length)} of ${fmtInt(nKept)} cells. Double-positive shares are over all cells of each group.`,
      items: []
    });
  }
  const negative = byName(axisX, axisY, a => a.gene)
    .filter(a => a.hasNegative)
    .map(a => a.gene);
  if (negative.length > 0) {
    notes.push({
      kind: 'negative_values',
      message:
        `${negative.join(' and ')} ${negative.length > 1 ? 'have' : 'has'} negative values in ${matrixName} ` +
        '(scaled or integrated data): "detected" (> 0) means little, so the double-positive share is not shown' +
        (opts.detectedOnly
          ? ', and the detected-only filter keeps cells by an arbitrary cut. Choose a log-normalised matrix.'
          : '. Choose a log-normalised matrix for it.'),
      items: negative
    });
  }
  const constant = byName(axisX, axisY, a => a.gene)
    .filter(axis => cells.length > 0 && axis.max === axis.min)
    .map(axis => `${axis.gene} (${axis.min})`);
  if (constant.length > 0 && geneX !== geneY) {
    notes.push({
      kind: 'constant_gene',
      message: `One value in every cell drawn, so no correlation: ${constant.join(', ')}.`,
      items: constant
    });
  }
  const undefinedRows = new Map<string, string>();
  let pending = 0;
  for (const row of rows) {
    if (row.reason === NOT_COMPUTED) {
      pending++;
    } else if (row.reason !== null && row.nGroupCells > 0) {
      const what =
        row.section === 'dataset' || row.section === 'cluster'
          ? `${row.section} ${row.label}`
          : row.label;
      undefinedRows.set(what, row.reason);
    }
  }
  if (pending > 0) {
    notes.push({
      kind: 'statistics_pending',
      message: `Correlations not computed yet for ${pending} group${pending > 1 ? 's' : ''}.`,
      items: []
    });
  }
  if (undefinedRows.size > 0) {
    const listed = [...undefinedRows].map(
      ([label, reason]) => `${label} (${reason})`
    );
    notes.push({
      kind: 'undefined_correlation',
      message: `r and ρ undefined for ${listed.join(', ')}.`,
      items: [...undefinedRows.keys()]
    });
  }
  if (opts.nBoot <= 0) {
    notes.push({
      kind: 'no_bootstrap',
      message:
        'No bootstrap resamples: the Spearman ρ interval is not computed.',
      items: []
    });
  }
}

function explainDrawing(
  opts: IDualOptions,
  axisX: IDualAxis,
  axisY: IDualAxis,
  x: Float32Array | null,
  y: Float32Array | null,
  cells: Int32Array,
  densityOn: boolean,
  nShown: number,
  notes: IDualNote[]
): void {
  if (x === null || y === null) {
    return;
  }
  if (opts.jitter && !densityOn) {
    let zeros = 0;
    for (let k = 0; k < cells.length; k++) {
      if (x[cells[k]] === 0 || y[cells[k]] === 0) {
        zeros++;
      }
    }
    if (zeros > 0) {
      const [a, b] = byName(axisX, axisY, axis => axis.gene);
      notes.push({
        kind: 'jitter',
        message:
          `Zeros are spread by up to ±${fmtNum(a.jitter)} (${a.gene}) and ` +
          `±${fmtNum(b.jitter)} (${b.gene}) for display only (${fmtInt(zeros)} cells); ` +
          'statistics and hover use the exact values.',
        items: []
      });
    }
  }
  if (densityOn) {
    notes.push({
      kind: 'density',
      message:
        `${fmtInt(nShown)} points drawn as a binned density (cells per bin, log colour)` +
        (opts.density === 'auto'
          ? ` since there are more than ${fmtInt(opts.densityThreshold)}`
          : '') +
        '; colour groups are not told apart in it (use facets or marginals).',
      items: []
    });
  } else if (nShown > opts.densityThreshold) {
    notes.push({
      kind: 'many_points',
      message: `${fmtInt(nShown)} points drawn one by one: hover is limited; the density mode is faster.`,
      items: []
    });
  }
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
 * The one-panel view pools every colour group: say so when the grouping drives that
 * pooled r (see `groupingDrivesPooled`).
 */
function explainPooled(
  facets: IFacetLayout['facets'],
  groupStats: IDualStats[],
  colorBy: DualColorBy,
  notes: IDualNote[]
): void {
  if (facets.length !== 1 || facets[0].dataset !== null) {
    return;
  }
  const pooled = facets[0].stats;
  if (
    facets[0].cluster !== null ||
    !groupingDrivesPooled(
      pooled.pearsonR,
      groupStats.map(s => s.pearsonR)
    )
  ) {
    return;
  }
  const defined = groupStats.filter(s => Number.isFinite(s.pearsonR));
  const rs = defined.map(s => s.pearsonR);
  notes.push({
    kind: 'pooled_by_grouping',
    message:
      `Pooled r (${fmtR(pooled.pearsonR)}) lies outside the r within each ${colorBy} ` +
      `(${fmtR(Math.min(...rs))} to ${fmtR(Math.max(...rs))}): the differences between the ` +
      `${colorBy === 'dataset' ? 'datasets' : 'clusters'} drive it, not the correlation within them ` +
      "(Simpson's paradox). Read the per-group r.",
    items: defined.map(s => s.label)
  });
}

function fmtR(r: number): string {
  const text = r.toFixed(2);
  return text === '-0.00' ? '0.00' : text;
}

// ---------------------------------------------------------------------------------------

/** The two items ordered by name (notes about a gene pair must not depend on the axes). */
function byName<T>(a: T, b: T, name: (item: T) => string = String): [T, T] {
  return name(a) <= name(b) ? [a, b] : [b, a];
}

function allNaN(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isNaN(values[i])) {
      return false;
    }
  }
  return values.length > 0;
}

function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

function fmtNum(v: number): string {
  return Number(v.toPrecision(2)).toString();
}
