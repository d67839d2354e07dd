// Over 600 lines: one pipeline (aggregate, scale, order, dendrograms, notes, difference layer) sharing its intermediate arrays; to be split by stage like dual/model.ts.
/**
 * View model of the expression heatmap and dot plot: from per-gene expression columns and
 * the dataset / cluster codes of the cells to the matrices, orderings, dendrograms,
 * colour scale and explanations a renderer draws. Pure: no DOM, no Jupyter.
 *
 * Numbers (DESIGN.md, "Semantics"): per column, the mean of the stored values (or
 * Seurat's linear-space mean) and the share of cells with value > 0, over the cells of
 * the kept clusters; columns with fewer than `minCells` cells are masked (null); rows are
 * scaled across the unmasked columns with `scaleRows`; clustering is average linkage
 * (`hclust`, scipy's) on the coloured values of the unmasked columns.
 *
 * Regrouping is the interactive step (another grouping, another cluster subset), so the
 * dense columns handed in are converted once to sparse ones (remembered per array) and
 * aggregated over their non-zeros only.
 */
import {
  aggregate,
  aggregatePooled,
  CodeArray,
  combineCodes,
  IPooledSums,
  combineLabels,
  countGroups,
  ExpressionColumn,
  IAggregate,
  IMatrix,
  isSparseColumn,
  sparseColumn
} from '../../compute/aggregate';
import { hclust, IDendrogram } from '../../compute/hclust';
import {
  DEFAULT_ZSCORE_CLIP,
  RowScaling,
  scaleRows
} from '../../compute/scale';

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
   * The kernel path: instead of cells, sums per fine group (dataset × cluster, from the
   * kernel's `group_stats`). `dataset` and `cluster` then code the fine groups, one entry
   * each, `weights` holds their cells, and `values` is empty.
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

type Cell = number | null;

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

/** Build the heatmap / dot plot model. */
export function buildHeatmapModel(
  input: IHeatmapInput,
  options: Partial<IHeatmapOptions> = {}
): IHeatmapModel {
  const opts: IHeatmapOptions = { ...DEFAULT_HEATMAP_OPTIONS, ...options };
  const notes: IHeatmapNote[] = [];
  const matrixName = input.matrix ?? 'this matrix';
  const nCells = input.dataset.codes.length;
  if (input.cluster.codes.length !== nCells) {
    throw new RangeError(
      `buildHeatmapModel: ${nCells} dataset codes but ${input.cluster.codes.length} cluster codes`
    );
  }

  // Genes: found ones become rows, the others are listed, never dropped silently
  const requested = Array.from(new Set(input.genes));
  const pooled = input.groupSums;
  const holds = (gene: string) =>
    pooled ? pooled.genes.has(gene) : input.values.has(gene);
  const found = requested.filter(holds);
  const missing = requested.filter(gene => !holds(gene));

  const grouping = groupCells(input, opts, notes);
  const samplesPerGroup =
    input.sample && !pooled ? countSamples(grouping, input.sample) : null;
  let aggregated: IAggregate;
  if (pooled) {
    aggregated = aggregatePooled(
      new Map(found.map(gene => [gene, pooled.genes.get(gene)!])),
      grouping.codes,
      pooled.weights,
      grouping.nGroups,
      pooled.hasNegative,
      { linearMean: opts.value === 'linear_mean' }
    );
  } else {
    const columns = new Map<string, ExpressionColumn>();
    for (const gene of found) {
      const column = input.values.get(gene) as ExpressionColumn;
      if (column.length !== nCells) {
        throw new RangeError(
          `buildHeatmapModel: gene ${gene} has ${column.length} values for ${nCells} cells`
        );
      }
      columns.set(gene, forAggregation(column));
    }
    aggregated = aggregate(columns, grouping.codes, grouping.nGroups, {
      linearMean: opts.value === 'linear_mean'
    });
  }
  const selected = grouping.columns;
  const nCols = selected.length;
  const masked = selected.map(column => column.nCells < opts.minCells);

  // A gene with NaN values has no mean: the matrix does not hold it
  const nanGenes = new Set<number>();
  found.forEach((_, row) => {
    if (
      selected.some(
        c => c.nCells > 0 && Number.isNaN(at(aggregated, row, c.group))
      )
    ) {
      nanGenes.add(row);
    }
  });
  const rows = found.map((_, row) => row).filter(row => !nanGenes.has(row));
  const missingGenes = [...missing, ...[...nanGenes].map(row => found[row])];
  if (missingGenes.length > 0) {
    notes.push(
      missingNote(
        missingGenes,
        input.missingReason,
        nanGenes,
        found,
        matrixName
      )
    );
  }
  const genes = rows.map(row => found[row]);
  if (genes.length === 0) {
    notes.push({
      kind: 'no_genes',
      message:
        requested.length === 0
          ? 'No genes chosen: pick genes or use the top markers.'
          : `None of the requested genes is in ${matrixName}.`,
      items: []
    });
  }

  // genes × columns matrices of the shown rows and columns (NaN = not shown)
  const nRows = rows.length;
  const meanData = new Float64Array(nRows * nCols);
  const fracData = new Float64Array(nRows * nCols);
  const negative = rows.map(row => aggregated.hasNegative[row] === 1);
  rows.forEach((row, r) => {
    selected.forEach((column, j) => {
      const k = r * nCols + j;
      meanData[k] = masked[j]
        ? NaN
        : aggregated.mean.data[row * aggregated.nGroups + column.group];
      fracData[k] =
        masked[j] || negative[r]
          ? NaN
          : aggregated.fracExpressing.data[
              row * aggregated.nGroups + column.group
            ];
    });
  });
  const valueData = opts.value === 'fraction' ? fracData : meanData;

  explainGenes(
    genes,
    rows,
    aggregated,
    selected,
    negative,
    opts,
    matrixName,
    notes
  );
  explainColumns(selected, masked, opts, notes);

  // Scaling needs a spread across columns: with one unmasked column, show raw values
  const nUnmasked = masked.filter(m => !m).length;
  let scaling = opts.scaling;
  if (scaling !== 'none' && nUnmasked < 2 && nCols > 0) {
    notes.push({
      kind: 'single_column',
      message:
        `${scaling === 'zscore' ? 'z-scores' : 'Min–max scaling'} across columns need at ` +
        `least two columns with enough cells; ${nUnmasked === 1 ? 'only one remains' : 'none remains'}, ` +
        'so values are shown unscaled.',
      items: selected.filter((_, j) => !masked[j]).map(c => c.label)
    });
    scaling = 'none';
  }
  const clip =
    Number.isFinite(opts.zscoreClip) && opts.zscoreClip > 0
      ? opts.zscoreClip
      : null;
  const scaled = scaleRows({ nRows, nCols, data: valueData }, scaling, {
    clip
  });
  if (scaling !== 'none') {
    const unexpressed = new Set(
      notes.find(note => note.kind === 'unexpressed_genes')?.items ?? []
    );
    const constant = genes.filter(
      (gene, r) =>
        scaled.constantRows[r] === 1 &&
        !unexpressed.has(gene) &&
        rowHasValues(valueData, r, nCols)
    );
    if (constant.length > 0) {
      notes.push({
        kind: 'constant_genes',
        message: `Same value in every column, nothing to scale (shown as 0): ${constant.join(', ')}.`,
        items: constant
      });
    }
  }

  // Clustering on the coloured values of the unmasked columns
  const keptColumns = selected.map((_, j) => j).filter(j => !masked[j]);
  let rowOrder = rows.map((_, r) => r);
  let columnOrder = selected.map((_, j) => j);
  let rowDendrogram: IDendrogramGeometry | null = null;
  let columnDendrogram: IDendrogramGeometry | null = null;
  if (opts.clusterGenes && nRows > 1 && keptColumns.length > 0) {
    const clusterable = rowOrder.filter(r =>
      keptColumns.every(j => Number.isFinite(scaled.data[r * nCols + j]))
    );
    const result = clusterOrder(
      scaled,
      clusterable,
      keptColumns,
      'rows',
      opts.metric
    );
    rowOrder = [
      ...result.order,
      ...rowOrder.filter(r => !clusterable.includes(r))
    ];
    rowDendrogram = result.geometry;
    const left = rowOrder.slice(clusterable.length).map(r => genes[r]);
    if (left.length > 0) {
      notes.push({
        kind: 'clustering_partial',
        message: `Genes without a value in every column are not clustered and come last: ${left.join(', ')}.`,
        items: left
      });
    }
  }
  if (opts.clusterColumns && keptColumns.length > 1) {
    const clusterableRows = rows
      .map((_, r) => r)
      .filter(r =>
        keptColumns.every(j => Number.isFinite(scaled.data[r * nCols + j]))
      );
    if (clusterableRows.length > 0) {
      const result = clusterOrder(
        scaled,
        clusterableRows,
        keptColumns,
        'columns',
        opts.metric
      );
      columnOrder = [...result.order, ...columnOrder.filter(j => masked[j])];
      columnDendrogram = result.geometry;
      const left = selected.filter((_, j) => masked[j]).map(c => c.label);
      if (left.length > 0) {
        notes.push({
          kind: 'clustering_partial',
          message: `Masked columns are not clustered and come last: ${left.join(', ')}.`,
          items: left
        });
      }
    }
  }

  const pick = (data: Float64Array): Cell[][] =>
    rowOrder.map(r =>
      columnOrder.map(j => {
        const v = data[r * nCols + j];
        return Number.isNaN(v) ? null : v;
      })
    );
  const color = pick(scaled.data);
  return {
    matrix: input.matrix ?? null,
    options: opts,
    scaling,
    genes: rowOrder.map(r => genes[r]),
    columns: columnOrder.map(j => {
      const { group, label, dataset, cluster, nCells: n } = selected[j];
      return {
        label,
        dataset,
        cluster,
        nCells: n,
        nSamples: samplesPerGroup ? samplesPerGroup[group] : null,
        masked: masked[j]
      };
    }),
    color,
    mean: pick(meanData),
    fraction: pick(fracData),
    size: opts.value === 'dot' ? pick(fracData) : null,
    colorScale: colorScale(color, scaling, clip, opts.value),
    sizeScale:
      opts.value === 'dot'
        ? { min: 0, max: 1, label: 'fraction of cells expressing (> 0)' }
        : null,
    rowDendrogram,
    columnDendrogram,
    missingGenes,
    nCellsKept: grouping.nKept,
    notes,
    difference: null
  };
}

/**
 * Parse a typed cluster list ("0,3,7", "0, 3 7"): commas and whitespace separate
 * names; runs of words that form a known name ("B cells") are taken whole; names match
 * exactly, else case-insensitively. Blank text means all clusters (null).
 */
export function parseClusterList(
  text: string,
  knownClusters: readonly string[]
): { clusters: string[] | null; unknown: string[] } {
  if (text.trim() === '') {
    return { clusters: null, unknown: [] };
  }
  const exact = new Set(knownClusters);
  const folded = new Map<string, string | null>();
  for (const name of knownClusters) {
    const key = name.toLowerCase();
    // Two names differing only in case: a case-insensitive match would be a guess
    folded.set(key, folded.has(key) ? null : name);
  }
  const resolve = (name: string): string | null =>
    exact.has(name) ? name : (folded.get(name.toLowerCase()) ?? null);
  const clusters: string[] = [];
  const unknown: string[] = [];
  const add = (list: string[], name: string): void => {
    if (!list.includes(name)) {
      list.push(name);
    }
  };
  for (const part of text.split(',')) {
    const whole = resolve(part.trim());
    if (whole !== null) {
      add(clusters, whole);
      continue;
    }
    const words = part.split(/\s+/).filter(word => word !== '');
    for (let i = 0; i < words.length;) {
      // Longest run of words starting at i that names a cluster
      let end = words.length;
      let name: string | null = null;
      for (; end > i; end--) {
        name = resolve(words.slice(i, end).join(' '));
        if (name !== null) {
          break;
        }
      }
      if (name !== null) {
        add(clusters, name);
        i = end;
      } else {
        add(unknown, words[i]);
        i += 1;
      }
    }
  }
  return { clusters, unknown };
}

/** Distinct samples (codes ≥ 0) among the cells of each group of the grouping. */
function countSamples(grouping: IGrouping, sample: ICodedColumn): Int32Array {
  const nS = sample.categories.length;
  const seen = new Uint8Array(grouping.nGroups * nS);
  const counts = new Int32Array(grouping.nGroups);
  const codes = grouping.codes;
  for (let i = 0; i < codes.length; i++) {
    const g = codes[i];
    const s = sample.codes[i];
    if (g >= 0 && s >= 0 && s < nS && !seen[g * nS + s]) {
      seen[g * nS + s] = 1;
      counts[g]++;
    }
  }
  return counts;
}

/** A column of the heatmap and the aggregate group it reads. */
interface ISelectedColumn {
  group: number;
  label: string;
  dataset: string | null;
  cluster: string | null;
  nCells: number;
}

interface IGrouping {
  codes: CodeArray;
  nGroups: number;
  columns: ISelectedColumn[];
  nKept: number;
}

/**
 * Group codes of the cells for the chosen columns (cells of dropped clusters: −1) and
 * the columns shown: categories with kept cells, in category order. Dataset × cluster
 * columns go cluster by cluster ("ctrl · 0", "stim · 0", "ctrl · 1", …) so that the
 * datasets of a cluster sit side by side; empty combinations of present datasets and
 * clusters stay, as masked columns, to keep that grid regular.
 */
function groupCells(
  input: IHeatmapInput,
  opts: IHeatmapOptions,
  notes: IHeatmapNote[]
): IGrouping {
  const datasetCodes = input.dataset.codes;
  const datasets = input.dataset.categories;
  const clusters = input.cluster.categories;
  const nD = datasets.length;
  const nK = clusters.length;

  // Which clusters are kept
  const keepCluster = new Uint8Array(nK).fill(opts.clusters === null ? 1 : 0);
  if (opts.clusters !== null) {
    const index = new Map(clusters.map((name, k) => [name, k]));
    const unknown: string[] = [];
    for (const name of opts.clusters) {
      const k = index.get(name);
      if (k === undefined) {
        unknown.push(name);
      } else {
        keepCluster[k] = 1;
      }
    }
    if (unknown.length > 0) {
      notes.push({
        kind: 'unknown_clusters',
        message: `Unknown cluster${unknown.length > 1 ? 's' : ''} ignored: ${unknown.join(', ')}.`,
        items: unknown
      });
    }
  }
  // Cluster codes with dropped clusters at −1; cells of kept clusters per dataset and
  // per cluster; kept cells lacking a label. Plain loops: typed-array `from` with a
  // callback is several times slower on a million cells.
  const allClusters = opts.clusters === null;
  const weights = input.groupSums?.weights;
  const originalClusters = input.cluster.codes;
  const clusterCodes = new Int32Array(originalClusters.length);
  const perDataset = new Float64Array(nD);
  const perCluster = new Float64Array(nK);
  let noDataset = 0;
  let noCluster = 0;
  for (let i = 0; i < clusterCodes.length; i++) {
    const original = originalClusters[i];
    const c = original >= 0 && keepCluster[original] ? original : -1;
    clusterCodes[i] = c;
    if (c < 0 && !(allClusters && original < 0)) {
      continue; // a dropped cluster
    }
    const w = weights ? weights[i] : 1;
    if (c < 0) {
      noCluster += w;
    } else {
      perCluster[c] += w;
    }
    const d = datasetCodes[i];
    if (d < 0) {
      noDataset += w;
    } else {
      perDataset[d] += w;
    }
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

  let codes: CodeArray;
  let nGroups: number;
  const columns: ISelectedColumn[] = [];
  let unlabelled = 0;
  if (opts.groupBy === 'cluster') {
    codes = clusterCodes;
    nGroups = nK;
    clusters.forEach((label, k) => {
      if (keepCluster[k] && perCluster[k] > 0) {
        columns.push({
          group: k,
          label,
          dataset: null,
          cluster: label,
          nCells: perCluster[k]
        });
      }
    });
    unlabelled = noCluster;
  } else if (opts.groupBy === 'dataset') {
    codes =
      opts.clusters === null
        ? datasetCodes
        : keepWhere(datasetCodes, clusterCodes);
    nGroups = nD;
    datasets.forEach((label, d) => {
      if (perDataset[d] > 0) {
        columns.push({
          group: d,
          label,
          dataset: label,
          cluster: null,
          nCells: perDataset[d]
        });
      }
    });
    unlabelled = noDataset;
  } else {
    codes = combineCodes(datasetCodes, nD, clusterCodes, nK);
    nGroups = nD * nK;
    const labels = combineLabels(datasets, clusters);
    const counts = countGroups(codes, nGroups, weights);
    clusters.forEach((cluster, k) => {
      if (!keepCluster[k] || perCluster[k] === 0) {
        return;
      }
      datasets.forEach((dataset, d) => {
        if (perDataset[d] > 0) {
          const group = d * nK + k;
          columns.push({
            group,
            label: labels[group],
            dataset,
            cluster,
            nCells: counts[group]
          });
        }
      });
    });
    // Cells passing the cluster filter that miss either label
    const considered = perCluster.reduce((a, b) => a + b, noCluster);
    unlabelled = considered - counts.reduce((a, b) => a + b, 0);
  }
  const nKept = columns.reduce((total, column) => total + column.nCells, 0);
  if (unlabelled > 0) {
    const what =
      opts.groupBy === 'cluster'
        ? 'a cluster'
        : opts.groupBy === 'dataset'
          ? 'a dataset'
          : 'a dataset or a cluster';
    notes.push({
      kind: 'unlabelled_cells',
      message: `${unlabelled} cell${unlabelled > 1 ? 's' : ''} without ${what} label ${unlabelled > 1 ? 'are' : 'is'} not shown.`,
      items: []
    });
  }
  if (nKept === 0) {
    notes.push({
      kind: 'no_cells',
      message:
        opts.clusters !== null
          ? 'No cells in the chosen clusters: nothing to show.'
          : 'No cells with the labels needed for these columns: nothing to show.',
      items: []
    });
  }
  return { codes, nGroups, columns, nKept };
}

/** codes where `filter` ≥ 0, else −1. */
function keepWhere(codes: CodeArray, filter: CodeArray): Int32Array {
  const out = new Int32Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    out[i] = filter[i] >= 0 ? codes[i] : -1;
  }
  return out;
}

function at(aggregated: IAggregate, row: number, group: number): number {
  return aggregated.mean.data[row * aggregated.nGroups + group];
}

/** Sparse form of a dense column, made once per array: regrouping then reads non-zeros. */
const sparseForms = new WeakMap<
  Float32Array | Float64Array,
  ExpressionColumn
>();
/** Above this share of non-zeros the dense column is as fast and smaller. */
const MAX_SPARSE_DENSITY = 0.5;

function forAggregation(column: ExpressionColumn): ExpressionColumn {
  if (isSparseColumn(column)) {
    return column;
  }
  let form = sparseForms.get(column);
  if (form === undefined) {
    const sparse = sparseColumn(column);
    form =
      sparse.indices.length > MAX_SPARSE_DENSITY * column.length
        ? column
        : sparse;
    sparseForms.set(column, form);
  }
  return form;
}

function missingNote(
  missingGenes: string[],
  reasons: Readonly<Record<string, string>> | undefined,
  nanRows: Set<number>,
  found: string[],
  matrixName: string
): IHeatmapNote {
  const nan = new Set([...nanRows].map(row => found[row]));
  const described = missingGenes.map(gene => {
    const reason = nan.has(gene) ? 'NaN values' : reasons?.[gene];
    return reason ? `${gene} (${reason})` : gene;
  });
  const n = missingGenes.length;
  return {
    kind: 'missing_genes',
    message: `${n} requested gene${n > 1 ? 's are' : ' is'} not in ${matrixName}: ${described.join(', ')}.`,
    items: missingGenes
  };
}

/** Notes on genes: not expressed in any kept cell; fraction or linear mean meaningless. */
function explainGenes(
  genes: string[],
  rows: number[],
  aggregated: IAggregate,
  selected: ISelectedColumn[],
  negative: boolean[],
  opts: IHeatmapOptions,
  matrixName: string,
  notes: IHeatmapNote[]
): void {
  const unexpressed = genes.filter(
    (_, r) =>
      !negative[r] &&
      selected.length > 0 &&
      selected.every(column => {
        const k = rows[r] * aggregated.nGroups + column.group;
        return column.nCells === 0 || aggregated.fracExpressing.data[k] === 0;
      })
  );
  if (unexpressed.length > 0) {
    notes.push({
      kind: 'unexpressed_genes',
      message: `Not expressed (all zero) in any cell shown: ${unexpressed.join(', ')}.`,
      items: unexpressed
    });
  }
  const withNegative = genes.filter((_, r) => negative[r]);
  if (withNegative.length === 0) {
    return;
  }
  const all = withNegative.length === genes.length;
  const subject = all
    ? `${matrixName} holds negative values (scaled or integrated data)`
    : `Genes with negative values in ${matrixName} (${withNegative.join(', ')})`;
  if (opts.value === 'fraction' || opts.value === 'dot') {
    const consequence =
      opts.value === 'fraction'
        ? 'so the fraction of cells expressing (> 0) means nothing and is not shown'
        : 'so the fraction expressing (> 0) means nothing: dots are drawn without size';
    notes.push({
      kind: 'fraction_meaningless',
      message: `${subject}, ${consequence}. Choose a log-normalised matrix for fractions.`,
      items: withNegative
    });
  } else {
    notes.push({
      kind: 'fraction_meaningless',
      message: `${subject}: fraction expressing is not shown.`,
      items: withNegative
    });
  }
  if (opts.value === 'linear_mean') {
    notes.push({
      kind: 'linear_mean_negative',
      message:
        'The linear-space mean log1p(mean(expm1(x))) assumes log1p-transformed counts; ' +
        `${all ? 'these values are' : 'some genes are'} negative, so it is not meaningful here.`,
      items: withNegative
    });
  }
}

function explainColumns(
  selected: ISelectedColumn[],
  masked: boolean[],
  opts: IHeatmapOptions,
  notes: IHeatmapNote[]
): void {
  const maskedColumns = selected.filter((_, j) => masked[j]);
  if (maskedColumns.length === 0) {
    return;
  }
  const listed = maskedColumns.map(c => `${c.label} (${c.nCells})`);
  const n = maskedColumns.length;
  const subject =
    n === selected.length
      ? 'Every column has'
      : n > 1
        ? `${n} columns have`
        : '1 column has';
  notes.push({
    kind: 'masked_columns',
    message:
      `${subject} fewer than the minimum of ${opts.minCells} cells and ` +
      `${n > 1 ? 'are' : 'is'} masked: ${listed.join(', ')}.`,
    items: maskedColumns.map(c => c.label)
  });
}

function rowHasValues(data: Float64Array, r: number, nCols: number): boolean {
  for (let j = 0; j < nCols; j++) {
    if (!Number.isNaN(data[r * nCols + j])) {
      return true;
    }
  }
  return false;
}

/**
 * Average-linkage order of some rows (or columns) of `matrix` over some columns (or
 * rows), and the dendrogram in display positions (leaf k at k).
 */
export function clusterOrder(
  matrix: IMatrix,
  rows: number[],
  columns: number[],
  axis: 'rows' | 'columns',
  metric: 'euclidean' | 'correlation'
): { order: number[]; geometry: IDendrogramGeometry | null } {
  const observations = axis === 'rows' ? rows : columns;
  if (observations.length < 2) {
    return { order: observations, geometry: null };
  }
  const sub = new Float64Array(rows.length * columns.length);
  rows.forEach((r, a) =>
    columns.forEach((c, b) => {
      sub[a * columns.length + b] = matrix.data[r * matrix.nCols + c];
    })
  );
  const result = hclust(
    { nRows: rows.length, nCols: columns.length, data: sub },
    { metric, axis }
  );
  return {
    order: result.leaves.map(leaf => observations[leaf]),
    geometry: geometryOf(result, observations.length)
  };
}

/** scipy's dendrogram coordinates (leaves at 5, 15, …) in display positions. */
function geometryOf(
  dendrogram: IDendrogram,
  nLeaves: number
): IDendrogramGeometry {
  const links = dendrogram.icoord.map((xs, i) => ({
    x: xs.map(x => (x - 5) / 10),
    y: dendrogram.dcoord[i].slice()
  }));
  const maxHeight = links.reduce(
    (height, link) => Math.max(height, ...link.y),
    0
  );
  return { links, maxHeight, nLeaves };
}

function colorScale(
  color: Cell[][],
  scaling: RowScaling,
  clip: number | null,
  value: HeatmapValue
): IColorScale {
  const quantity =
    value === 'fraction'
      ? 'fraction expressing'
      : value === 'linear_mean'
        ? 'linear-space mean'
        : 'mean';
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of color) {
    for (const v of row) {
      if (v !== null && Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  const extent = Number.isFinite(lo) ? Math.max(Math.abs(lo), Math.abs(hi)) : 0;
  if (scaling === 'zscore') {
    const bound = clip ?? (extent > 0 ? extent : 1);
    return {
      kind: 'diverging',
      min: -bound,
      max: bound,
      label:
        clip === null
          ? `z-score of ${quantity}`
          : `z-score of ${quantity} (clipped ±${clip})`
    };
  }
  if (scaling === 'minmax') {
    return {
      kind: 'sequential',
      min: 0,
      max: 1,
      label: `${quantity}, scaled 0–1 per gene`
    };
  }
  const label =
    value === 'fraction'
      ? 'fraction of cells expressing (> 0)'
      : value === 'linear_mean'
        ? 'mean expression, linear space: log1p(mean(expm1(x)))'
        : 'mean expression';
  if (value === 'fraction') {
    return { kind: 'sequential', min: 0, max: 1, label };
  }
  if (lo < 0 && hi > 0) {
    // Scaled or integrated values: centre on 0
    return { kind: 'diverging', min: -extent, max: extent, label };
  }
  if (!Number.isFinite(lo)) {
    return { kind: 'sequential', min: 0, max: 1, label };
  }
  const min = Math.min(0, lo);
  return { kind: 'sequential', min, max: hi > min ? hi : min + 1, label };
}
