/**
 * The heatmap's own choices beside the sidebar's selection, and their defaults: plain data
 * that the plot spec (`../spec.ts`) reads and writes without the controller.
 */
import { DEFAULT_HEATMAP_OPTIONS, IHeatmapOptions } from './model';

export type GeneSource = 'selected' | 'markers';

/**
 * The test that ranks the top markers. "auto": a result stored in the object for the
 * cluster column when there is one, else the Welch t-test (from group statistics, in the
 * browser); "wilcoxon": the rank-sum test computed in the kernel (scanpy's
 * `rank_genes_groups(method='wilcoxon')` in Python kernels, Seurat's `FindAllMarkers`
 * default in R kernels).
 */
export type MarkerMethod = 'auto' | 't-test' | 'wilcoxon';

/** "auto": pseudobulk DESeq2 with a sample column, else the cell-level Wilcoxon test. */
export type CompareMethodChoice = 'auto' | 'pseudobulk' | 'wilcoxon';

/** The condition comparison behind value 'log2fc'. */
export interface IComparisonSettings {
  /** The dataset compared against; null until chosen (the first dataset is then taken). */
  reference: string | null;
  /** The dataset compared; null: the one other dataset. */
  target: string | null;
  method: CompareMethodChoice;
}

export interface IHeatmapSettings {
  geneSource: GeneSource;
  /** Markers per cluster in 'markers' mode (changed genes per cluster for 'log2fc'). */
  nMarkers: number;
  markerMethod: MarkerMethod;
  /** Clusters to keep as typed ("0,3,7"); blank = all. */
  clusterText: string;
  comparison: IComparisonSettings;
  options: IHeatmapOptions;
}

export const DEFAULT_HEATMAP_SETTINGS: IHeatmapSettings = {
  geneSource: 'selected',
  nMarkers: 10,
  markerMethod: 'auto',
  clusterText: '',
  comparison: { reference: null, target: null, method: 'auto' },
  options: { ...DEFAULT_HEATMAP_OPTIONS }
};

/** The largest "top N" offered (the kernel's stored_markers limit is 200). */
export const MAX_MARKERS = 100;

/** Whether another comparison is asked for (the kernel compares again). */
export function comparisonChanged(
  a: IComparisonSettings,
  b: IComparisonSettings
): boolean {
  return (
    a.reference !== b.reference ||
    a.target !== b.target ||
    a.method !== b.method
  );
}
