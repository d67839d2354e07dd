/**
 * "Download data": the numbers a plot shows, as CSV tables built from its model.
 */
import type { IConservedMarkers } from '../compute/conserved';
import type { IDualModel } from '../plots/dual/model';
import type { IHeatmapModel } from '../plots/heatmap/model';
import { CsvCell, toCsv } from './csv';

/**
 * One row per gene and column of the heatmap: the column's dataset / cluster and cells,
 * the mean and fraction expressing, and the value coloured (after scaling). Masked
 * columns have empty values.
 */
export function heatmapCsv(model: IHeatmapModel): string {
  if (model.difference) {
    return differenceCsv(model, model.difference);
  }
  const rows: CsvCell[][] = [];
  model.genes.forEach((gene, g) => {
    model.columns.forEach((column, c) => {
      rows.push([
        gene,
        column.label,
        column.dataset,
        column.cluster,
        column.nCells,
        model.mean[g][c],
        model.fraction[g][c],
        model.color[g][c]
      ]);
    });
  });
  return toCsv(
    [
      'gene',
      'column',
      'dataset',
      'cluster',
      'n_cells',
      'mean',
      'fraction_expressing',
      `plotted_${model.options.value}_${model.scaling}`
    ],
    rows
  );
}

/**
 * One row per drawn cell: its id, dataset, cluster and the two genes' values (as stored,
 * not jittered). Float32 values are written exactly (their full double expansion).
 */
export function dualCsv(model: IDualModel): string {
  const { dataset, cluster, x, y, cellIds } = model;
  const label = (col: typeof dataset, cell: number): string | null => {
    const code = col.codes[cell];
    return code < 0 ? null : col.categories[code];
  };
  const rows: CsvCell[][] = [];
  for (const cell of model.points.cells) {
    rows.push([
      cellIds ? (cellIds.at(cell) ?? cell) : cell,
      label(dataset, cell),
      label(cluster, cell),
      x ? x[cell] : null,
      y ? y[cell] : null
    ]);
  }
  return toCsv(['cell', 'dataset', 'cluster', model.geneX, model.geneY], rows);
}

/** One row per correlation group shown in the statistics table. */
export function dualStatsCsv(model: IDualModel): string {
  const stats = [
    ...model.stats.dataset,
    ...model.stats.cluster,
    ...model.stats.facet
  ];
  return toCsv(
    [
      'section',
      'group',
      'n_cells',
      'n_group_cells',
      'pearson_r',
      'pearson_ci_low',
      'pearson_ci_high',
      'pearson_p',
      'spearman_rho',
      'spearman_ci_low',
      'spearman_ci_high',
      'spearman_p',
      'frac_double_positive',
      'reason'
    ],
    stats.map(s => [
      s.section,
      s.label,
      s.nCells,
      s.nGroupCells,
      s.pearsonR,
      s.pearsonCiLow,
      s.pearsonCiHigh,
      s.pearsonP,
      s.spearmanRho,
      s.spearmanCiLow,
      s.spearmanCiHigh,
      s.spearmanP,
      s.fracDoublePositive,
      s.reason
    ])
  );
}

/** Δr between datasets (`IDualModel.deltaR`): one row per cluster (or all cells) and dataset. */
export function deltaRCsv(model: IDualModel): string {
  return toCsv(
    [
      'cluster',
      'target',
      'reference',
      'r_target',
      'n_target',
      'r_reference',
      'n_reference',
      'delta_r',
      'delta_r_ci_low',
      'delta_r_ci_high',
      'z',
      'p'
    ],
    model.deltaR.map(d => [
      d.cluster,
      d.target,
      d.reference,
      d.rTarget,
      d.nTarget,
      d.rReference,
      d.nReference,
      d.deltaR,
      d.ciLow,
      d.ciHigh,
      d.z,
      d.p
    ])
  );
}

/**
 * A log2 fold change heatmap's numbers: one row per gene × cluster in plot order, the
 * comparison's statistics (as `exprscope.heatmap(value="log2fc").data`) and the counts.
 */
function differenceCsv(
  model: IHeatmapModel,
  difference: NonNullable<IHeatmapModel['difference']>
): string {
  const rows: CsvCell[][] = [];
  model.genes.forEach((gene, g) => {
    model.columns.forEach((column, c) => {
      const counts = difference.columns[c];
      rows.push([
        gene,
        column.cluster,
        model.color[g][c],
        difference.stat[g][c],
        difference.pvalue[g][c],
        difference.padj[g][c],
        difference.marks[g][c],
        counts.nCellsA,
        counts.nCellsB,
        counts.nSamplesA,
        counts.nSamplesB,
        column.masked,
        difference.method,
        difference.reference,
        difference.target
      ]);
    });
  });
  return toCsv(
    [
      'gene',
      'cluster',
      'log2fc',
      'stat',
      'pvalue',
      'padj',
      'mark',
      'n_cells_a',
      'n_cells_b',
      'n_samples_a',
      'n_samples_b',
      'masked',
      'method',
      'reference',
      'target'
    ],
    rows
  );
}

/**
 * The conserved-markers table with the columns of `exprscope.conserved_markers`: cluster,
 * gene, category, specific_to, rank, combined_p, combine, then per dataset d
 * `logfc_<d>`, `pval_<d>`, `padj_<d>` (empty where d was left out of the cluster).
 */
export function conservedCsv(table: IConservedMarkers): string {
  const header = [
    'cluster',
    'gene',
    'category',
    'specific_to',
    'rank',
    'combined_p',
    'combine',
    ...table.datasets.flatMap(d => [`logfc_${d}`, `pval_${d}`, `padj_${d}`])
  ];
  const finite = (x: number): number | null => (Number.isNaN(x) ? null : x);
  const rows = table.rows.map(row => [
    row.cluster,
    row.gene,
    row.category,
    row.specificTo,
    row.rank,
    finite(row.combinedP),
    row.combine,
    ...row.perDataset.flatMap(v => [
      finite(v.logFoldChange),
      finite(v.pval),
      finite(v.pvalAdj)
    ])
  ]);
  return toCsv(header, rows);
}
