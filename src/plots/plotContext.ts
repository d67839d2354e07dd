/** What the plot specs take from the panel model, and give back to it. */
import type { ExprscopeSession, ISelection } from '../session/session';
import { PACKAGE_VERSION } from '../version';
import type { IPlotContext, IPlotSpec } from './spec';

/** The panel's selection as a spec context, or null while no object is chosen. */
export function plotContextOf(panel: ExprscopeSession): IPlotContext | null {
  const selection = panel.selection;
  if (!selection.object) {
    return null;
  }
  return {
    object: selection.object,
    matrix: selection.matrix,
    datasetColumn: selection.datasetColumn,
    clusterColumn: selection.clusterColumn,
    sampleColumn: selection.sampleColumn ?? null,
    genes: selection.genes,
    version: PACKAGE_VERSION
  };
}

/** The cluster column's categories, to read typed cluster lists as the plot does. */
export function clusterCategoriesOf(panel: ExprscopeSession): string[] | null {
  const column = panel.groupingColumns.find(
    c => c.name === panel.selection.clusterColumn
  );
  return column?.categories?.map(c => c.name) ?? null;
}

/** A spec context as the panel's selection. */
export function selectionOf(context: IPlotContext): ISelection {
  return {
    object: context.object,
    matrix: context.matrix,
    datasetColumn: context.datasetColumn,
    clusterColumn: context.clusterColumn,
    sampleColumn: context.sampleColumn,
    genes: [...context.genes]
  };
}

/** The panel selection a spec starts from (a dual plot's genes are its own, not the list). */
export function selectionFromSpec(spec: IPlotSpec): ISelection {
  return {
    object: spec.object,
    matrix: spec.matrix,
    datasetColumn: spec.dataset_column,
    clusterColumn: spec.cluster_column,
    sampleColumn: spec.sample_column,
    genes: spec.kind === 'heatmap' ? [...spec.genes] : []
  };
}
