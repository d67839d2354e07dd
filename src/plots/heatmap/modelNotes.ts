/** Notes of the heatmap model on its genes and columns. */
import { IAggregate } from '../../compute/aggregate';
import type { ISelectedColumn } from './cellGroups';
import { IHeatmapNote, IHeatmapOptions } from './modelTypes';

export function missingNote(
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
export function explainGenes(
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

export function explainColumns(
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
