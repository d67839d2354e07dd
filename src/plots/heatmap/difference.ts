/**
 * View model of the condition difference heatmap (value 'log2fc'): rows genes, columns
 * clusters, colour the log2 fold change of the target over the reference dataset within
 * each cluster, as the kernel's `compare` computed it (DESeq2 on pseudobulk counts, or a
 * cell-level Wilcoxon test). Pure: no DOM, no Jupyter.
 *
 * One shared symmetric colour scale around 0 for every cluster (Seurat's split dot plots
 * scale each split on its own); clusters the comparison could not test (too few cells or
 * samples in either dataset, absent from one) are masked columns whose note says why.
 */
import { differenceMatrix, topChangedGenes } from '../../compute/difference';
import type { IComparison } from '../../data/comparison';
import {
  clusterOrder,
  DEFAULT_HEATMAP_OPTIONS,
  IDendrogramGeometry,
  IDifferenceColumn,
  IHeatmapModel,
  IHeatmapNote,
  IHeatmapOptions
} from './model';

type Cell = number | null;

/** The smallest half-range of the colour scale: |log2FC| < 1 is not stretched to full colour. */
export const MIN_LOG2FC_LIMIT = 1;

export interface IDifferenceInput {
  comparison: IComparison;
  /** Requested genes, in display order; those the comparison lacks are reported missing. */
  genes: readonly string[];
  /** The matrix the plot was asked on, as shown to users. */
  matrix?: string;
}

/** A row of "top N changed genes per cluster". */
export interface IChangedGeneRow {
  gene: string;
  cluster: string;
  /** 1 for the most changed gene of the cluster. */
  rank: number;
  log2fc: number;
  padj: number;
}

/**
 * "Top N changed genes per cluster" of the tested clusters: the ranked rows, and the
 * heatmap's genes (deduplicated, in cluster order).
 */
export function changedGeneRows(
  comparison: IComparison,
  n: number
): { genes: string[]; rows: IChangedGeneRow[] } {
  const tested = comparison.result.clusters
    .filter(c => c.tested)
    .map(c => c.cluster);
  const top = topChangedGenes(comparison, n, tested);
  const rank = new Map<string, number>();
  const rows = top.map(row => {
    const k = (rank.get(row.cluster) ?? 0) + 1;
    rank.set(row.cluster, k);
    return { ...row, rank: k };
  });
  return { genes: [...new Set(rows.map(row => row.gene))], rows };
}

/** Build the model of a log2 fold change heatmap. */
export function buildDifferenceModel(
  input: IDifferenceInput,
  options: Partial<IHeatmapOptions> = {}
): IHeatmapModel {
  const opts: IHeatmapOptions = {
    ...DEFAULT_HEATMAP_OPTIONS,
    ...options,
    value: 'log2fc',
    groupBy: 'cluster'
  };
  const { comparison } = input;
  const result = comparison.result;
  const notes: IHeatmapNote[] = [];
  const kept =
    opts.clusters === null ? null : new Set<string>(opts.clusters ?? []);
  const clusters = result.clusters.filter(
    c => kept === null || kept.has(c.cluster)
  );
  const matrix = differenceMatrix(
    comparison,
    input.genes,
    clusters.map(c => c.cluster),
    MIN_LOG2FC_LIMIT
  );
  if (matrix.missingGenes.length > 0) {
    const n = matrix.missingGenes.length;
    notes.push({
      kind: 'missing_genes',
      message: `${n} requested gene${n > 1 ? 's are' : ' is'} not in ${input.matrix ?? result.matrix}: ${matrix.missingGenes.join(', ')}.`,
      items: matrix.missingGenes
    });
  }
  if (matrix.genes.length === 0) {
    notes.push({
      kind: 'no_genes',
      message:
        input.genes.length === 0
          ? 'No changed genes to show: no cluster could be tested.'
          : `None of the requested genes is in ${input.matrix ?? result.matrix}.`,
      items: []
    });
  }
  const untested = clusters.filter(c => !c.tested);
  if (untested.length > 0) {
    notes.push({
      kind: 'untested_clusters',
      message: `Not compared (masked): ${untested.map(c => `${c.cluster} (${c.note || 'not tested'})`).join('; ')}.`,
      items: untested.map(c => c.cluster)
    });
  }
  notes.push({
    kind: 'comparison_caveat',
    message: comparisonSentence(comparison),
    items: []
  });

  // Average-linkage ordering on the log2FC values of the tested columns
  const nRows = matrix.genes.length;
  const nCols = clusters.length;
  const data = new Float64Array(nRows * nCols);
  matrix.log2fc.forEach((row, r) =>
    row.forEach((v, j) => (data[r * nCols + j] = v === null ? NaN : v))
  );
  const grid = { nRows, nCols, data };
  const testedColumns = clusters
    .map((_, j) => j)
    .filter(j => clusters[j].tested);
  const complete = (r: number) =>
    testedColumns.every(j => Number.isFinite(data[r * nCols + j]));
  let rowOrder = matrix.genes.map((_, r) => r);
  let columnOrder = clusters.map((_, j) => j);
  let rowDendrogram: IDendrogramGeometry | null = null;
  let columnDendrogram: IDendrogramGeometry | null = null;
  if (opts.clusterGenes && nRows > 1 && testedColumns.length > 0) {
    const clusterable = rowOrder.filter(complete);
    const ordered = clusterOrder(
      grid,
      clusterable,
      testedColumns,
      'rows',
      opts.metric
    );
    rowOrder = [
      ...ordered.order,
      ...rowOrder.filter(r => !clusterable.includes(r))
    ];
    rowDendrogram = ordered.geometry;
    const left = rowOrder.slice(clusterable.length).map(r => matrix.genes[r]);
    if (left.length > 0) {
      notes.push({
        kind: 'clustering_partial',
        message: `Genes without a log2FC in every tested cluster are not clustered and come last: ${left.join(', ')}.`,
        items: left
      });
    }
  }
  if (opts.clusterColumns && testedColumns.length > 1) {
    const rows = matrix.genes.map((_, r) => r).filter(complete);
    if (rows.length > 0) {
      const ordered = clusterOrder(
        grid,
        rows,
        testedColumns,
        'columns',
        opts.metric
      );
      columnOrder = [
        ...ordered.order,
        ...columnOrder.filter(j => !clusters[j].tested)
      ];
      columnDendrogram = ordered.geometry;
    }
  }

  const pick = <T>(values: T[][]): T[][] =>
    rowOrder.map(r => columnOrder.map(j => values[r][j]));
  const color = pick(matrix.log2fc);
  const atRows = (values: Float64Array): Cell[][] => {
    const index = new Map<string, number>();
    comparison.gene.forEach((gene, i) =>
      index.set(`${comparison.cluster[i]}\u0000${gene}`, i)
    );
    return rowOrder.map(r =>
      columnOrder.map(j => {
        const i = index.get(`${clusters[j].cluster}\u0000${matrix.genes[r]}`);
        return i === undefined || !Number.isFinite(values[i])
          ? null
          : values[i];
      })
    );
  };
  const columns = columnOrder.map(j => clusters[j]);
  const differenceColumns: IDifferenceColumn[] = columns.map(c => ({
    nCellsA: c.n_cells_a,
    nCellsB: c.n_cells_b,
    nSamplesA: c.n_samples_a,
    nSamplesB: c.n_samples_b,
    tested: c.tested,
    note: c.note
  }));
  return {
    matrix: input.matrix ?? result.matrix,
    options: opts,
    scaling: 'none',
    genes: rowOrder.map(r => matrix.genes[r]),
    columns: columns.map(c => ({
      label: c.cluster,
      dataset: null,
      cluster: c.cluster,
      nCells: c.n_cells_a + c.n_cells_b,
      masked: !c.tested
    })),
    color,
    mean: color,
    fraction: color.map(row => row.map(() => null)),
    size: null,
    colorScale: {
      kind: 'diverging',
      min: -matrix.limit,
      max: matrix.limit,
      label: `log2FC ${result.target} vs ${result.reference}`
    },
    sizeScale: null,
    rowDendrogram,
    columnDendrogram,
    missingGenes: matrix.missingGenes,
    nCellsKept: columns.reduce((n, c) => n + c.n_cells_a + c.n_cells_b, 0),
    notes,
    difference: {
      reference: result.reference,
      target: result.target,
      method: result.method,
      sampleColumn: result.sample_key,
      padj: pick(matrix.padj),
      pvalue: atRows(comparison.pvalue),
      stat: atRows(comparison.stat),
      marks: pick(matrix.marks),
      columns: differenceColumns
    }
  };
}

/** What was compared, how, and what it means for the reading (shown with the plot). */
export function comparisonSentence(comparison: IComparison): string {
  const r = comparison.result;
  const how =
    r.method === 'pseudobulk'
      ? `DESeq2 on pseudobulk counts of ${r.matrix} per ${r.sample_key ?? 'sample'} (Wald test)`
      : `Wilcoxon rank-sum test on the cells of ${r.matrix}`;
  const marks =
    '* padj < 0.05, ** < 0.01, *** < 0.001 (Benjamini–Hochberg per cluster)';
  // DESeq2's caveat repeats the method; the Wilcoxon one says what the p values mean.
  const caveat =
    r.method === 'wilcoxon' && r.caveat
      ? ` Note: ${r.caveat.charAt(0).toUpperCase()}${r.caveat.slice(1).replace(/\.$/, '')}.`
      : '';
  return `log2 fold change of ${r.target} over ${r.reference} within each cluster: ${how}; ${marks}.${caveat}`;
}
