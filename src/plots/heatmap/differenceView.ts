/**
 * The heatmap's difference path (value 'log2fc') apart from its controller: what to ask
 * the kernel's `compare` for, and the rows, clusters and notes shown from its answer.
 */
import type { ICompareArgs, IComparison } from '../../data/comparison';
import type { ExprscopeSession } from '../../session/session';
import { unknownClustersNotes } from '../clusterNotes';
import { buildDifferenceModel, changedGeneRows } from './difference';
import type { IMarkerRow } from './markers';
import type { IMarkerSource } from './markerSearch';
import { IHeatmapModel, parseClusterList } from './model';
import type { IHeatmapSettings } from './settings';

/**
 * The kernel's `compare` arguments for the sidebar's selection and the settings, or the
 * problem that stops the comparison (and whether the data here may stay). A reference
 * not chosen is the first dataset, written into the settings: the spec then says what is
 * shown.
 */
export function comparisonPlan(
  panel: ExprscopeSession,
  settings: IHeatmapSettings
):
  | { problem: string; keepData: boolean }
  | { args: ICompareArgs; versus: string; method: ICompareArgs['method'] } {
  const { datasetColumn, clusterColumn, sampleColumn, matrix } =
    panel.selection;
  if (!datasetColumn || !clusterColumn) {
    return {
      problem:
        'A log2 fold change heatmap compares datasets within clusters: choose a dataset column and a cluster column in the sidebar.',
      keepData: false
    };
  }
  const datasets =
    panel.groupingColumns
      .find(c => c.name === datasetColumn)
      ?.categories?.map(c => c.name) ?? [];
  if (settings.comparison.reference === null && datasets.length > 0) {
    // Written into the settings: the spec then says what is shown.
    settings.comparison = { ...settings.comparison, reference: datasets[0] };
  }
  const { reference, target } = settings.comparison;
  if (reference === null) {
    return {
      problem: `Choose the reference dataset: '${datasetColumn}' lists no datasets.`,
      keepData: true
    };
  }
  const method =
    settings.comparison.method === 'auto'
      ? sampleColumn
        ? 'pseudobulk'
        : 'wilcoxon'
      : settings.comparison.method;
  const versus = `${target ?? 'the other dataset'} vs ${reference}`;
  return {
    args: {
      matrix,
      reference,
      target,
      dataset_key: datasetColumn,
      cluster_key: clusterColumn,
      sample_key: sampleColumn,
      method,
      clusters: null,
      genes: null,
      min_cells: Math.max(1, settings.options.minCells)
    },
    versus,
    method
  };
}

/**
 * The difference heatmap from a comparison already here: its rows (the chosen genes, or
 * the top changed genes of each kept cluster), the clusters kept and the notes.
 */
export function differenceView(
  comparison: IComparison,
  settings: IHeatmapSettings,
  chosen: {
    /** The sidebar's genes, and those of them the matrix does not hold. */
    genes: readonly string[];
    requestedMissing: readonly string[];
    matrix: string;
  }
): {
  model: IHeatmapModel;
  markers: IMarkerRow[];
  markerSource: IMarkerSource | null;
  unknownClusters: string[];
} {
  const clusters = comparison.result.clusters.map(c => c.cluster);
  const parsed = parseClusterList(settings.clusterText, clusters);
  const kept = parsed.clusters;
  let genes: string[];
  let markers: IMarkerRow[] = [];
  let markerSource: IMarkerSource | null = null;
  if (settings.geneSource === 'markers') {
    const keptComparison =
      kept === null
        ? comparison
        : {
            ...comparison,
            result: {
              ...comparison.result,
              clusters: comparison.result.clusters.filter(c =>
                kept.includes(c.cluster)
              )
            }
          };
    const top = changedGeneRows(keptComparison, settings.nMarkers);
    genes = top.genes;
    markers = top.rows.map(row => ({
      gene: row.gene,
      cluster: row.cluster,
      rank: row.rank,
      score: Number.NaN,
      logFoldChange: row.log2fc,
      pvalAdj: row.padj,
      sharedDatasets: [],
      source: 'computed' as const
    }));
    markerSource = {
      kind: 'computed',
      text: `Rows: the top ${settings.nMarkers} changed genes per cluster (smallest adjusted p, then largest |log2FC|)`
    };
  } else {
    const asked = chosen.requestedMissing.filter(
      g => !chosen.genes.includes(g)
    );
    genes = [...chosen.genes, ...asked];
  }
  const model = buildDifferenceModel(
    { comparison, genes, matrix: chosen.matrix },
    { ...settings.options, clusters: kept }
  );
  model.notes.unshift(...unknownClustersNotes(parsed.unknown, clusters));
  return {
    model,
    markers,
    markerSource,
    unknownClusters: parsed.unknown
  };
}
