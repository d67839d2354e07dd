/**
 * The dataset and cluster columns of fetched data as the plot models take them, and the
 * note for typed cluster names that do not exist. Shared by the heatmap and dual views.
 */
import { codeArray, type ICategoricalColumn } from '../data/arrow';
import type { IExpressionData } from '../data/repository';
import type { ICodedColumn } from './heatmap/model';

/** The categorical obs column `name`, or every cell in one group `fallback` without one. */
export function codedColumn(
  expression: IExpressionData,
  name: string | null,
  fallback = 'all cells'
): ICodedColumn {
  const column = name ? expression.obs.get(name) : undefined;
  if (column && !(column instanceof Float64Array)) {
    const categorical = column as ICategoricalColumn;
    return { codes: categorical.codes, categories: categorical.categories };
  }
  return {
    codes: codeArray(1, expression.nCells),
    categories: [fallback]
  };
}

// The notes on typed clusters live apart (the plot models use them, and this imports one).
export { unknownClustersMessage } from './clusterNotes';
