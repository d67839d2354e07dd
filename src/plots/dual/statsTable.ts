/** The dual-expression statistics table: its rows and number formats. */
import { fixed2, formatCount } from './figureParts';
import {
  DualStatsSection,
  IDualModel,
  IDualStats,
  NOT_COMPUTED
} from './model';

export interface IStatsTableRow {
  section: DualStatsSection;
  group: string;
  /** Cells correlated; "312 of 1,234" with detected-only. */
  nCells: string;
  /** r with its 95% Fisher-z interval: "0.42 [0.37, 0.47]". */
  pearson: string;
  pearsonP: string;
  /** ρ with its 95% bootstrap interval. */
  spearman: string;
  spearmanP: string;
  /** Share of the group's cells with both genes > 0 ("—" on data with negatives). */
  doublePositive: string;
  /** Why r / ρ are undefined, or ''. */
  note: string;
  /** The numbers behind the row (for CSV). */
  stats: IDualStats;
}

/** Rows per dataset, per cluster, then per facet when facets are something else. */
export function statsTableRows(model: IDualModel): IStatsTableRow[] {
  const negative = model.axes.x.hasNegative || model.axes.y.hasNegative;
  const rows = [
    ...model.stats.dataset,
    ...model.stats.cluster,
    ...model.stats.facet
  ];
  return rows.map(stats => ({
    section: stats.section,
    group: stats.label,
    nCells:
      stats.reason === NOT_COMPUTED
        ? formatCount(stats.nGroupCells)
        : model.options.detectedOnly
          ? `${formatCount(stats.nCells)} of ${formatCount(stats.nGroupCells)}`
          : formatCount(stats.nCells),
    pearson: formatCorrelation(
      stats.pearsonR,
      stats.pearsonCiLow,
      stats.pearsonCiHigh
    ),
    pearsonP: formatP(stats.pearsonP),
    spearman: formatCorrelation(
      stats.spearmanRho,
      stats.spearmanCiLow,
      stats.spearmanCiHigh
    ),
    spearmanP: formatP(stats.spearmanP),
    doublePositive:
      negative || Number.isNaN(stats.fracDoublePositive)
        ? '—'
        : `${(100 * stats.fracDoublePositive).toFixed(1)}%`,
    note: stats.reason ?? fewCellsNote(stats),
    stats
  }));
}

/**
 * Groups correlated over fewer cells than this get a note in the statistics table: their
 * 95% intervals are wide (at n = 15 a Pearson r of 0.3 spans about −0.25 to 0.70).
 */
export const FEW_CELLS = 30;

function fewCellsNote(stats: IDualStats): string {
  return stats.nCells > 0 && stats.nCells < FEW_CELLS
    ? `few cells (< ${FEW_CELLS}): wide interval`
    : '';
}

/** "0.42 [0.37, 0.47]"; "0.42" without an interval; "—" when undefined. */
export function formatCorrelation(
  r: number,
  low: number,
  high: number
): string {
  if (Number.isNaN(r)) {
    return '—';
  }
  if (Number.isNaN(low) || Number.isNaN(high)) {
    return fixed2(r);
  }
  return `${fixed2(r)} [${fixed2(low)}, ${fixed2(high)}]`;
}

/** p-values: two significant digits, scientific below 0.001. */
export function formatP(p: number): string {
  if (Number.isNaN(p)) {
    return '—';
  }
  if (p === 0 || p < 1e-300) {
    return '< 1e-300';
  }
  return p < 0.001 ? p.toExponential(1) : String(Number(p.toPrecision(2)));
}
