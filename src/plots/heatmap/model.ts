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
  ExpressionColumn,
  IAggregate,
  isSparseColumn,
  sparseColumn
} from '../../compute/aggregate';
import { scaleRows } from '../../compute/scale';
import { countSamples, groupCells } from './cellGroups';
import { clusterOrder } from './clustering';
import { colorScale } from './colorScale';
import { explainColumns, explainGenes, missingNote } from './modelNotes';
import {
  Cell,
  DEFAULT_HEATMAP_OPTIONS,
  IDendrogramGeometry,
  IHeatmapInput,
  IHeatmapModel,
  IHeatmapNote,
  IHeatmapOptions
} from './modelTypes';

export { parseClusterList } from './clusterList';
export { clusterOrder } from './clustering';
export {
  DEFAULT_HEATMAP_OPTIONS,
  HeatmapGroupBy,
  HeatmapNoteKind,
  HeatmapValue,
  ICodedColumn,
  IColorScale,
  IDendrogramGeometry,
  IDifferenceColumn,
  IDifferenceLayer,
  IHeatmapColumn,
  IHeatmapInput,
  IHeatmapModel,
  IHeatmapNote,
  IHeatmapOptions
} from './modelTypes';

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
  // Samples seen per column (of cells, or of the kernel's groups, one sample each)
  const samplesPerGroup = input.sample
    ? countSamples(grouping, input.sample)
    : null;
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

function rowHasValues(data: Float64Array, r: number, nCols: number): boolean {
  for (let j = 0; j < nCols; j++) {
    if (!Number.isNaN(data[r * nCols + j])) {
      return true;
    }
  }
  return false;
}
