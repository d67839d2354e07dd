/**
 * Sorting the dual view's tables (correlation per group, Δr between datasets) by a column.
 * Pure: the widget keeps which column and direction, these functions order the rows.
 */
import type { IStatsTableRow } from './figure';
import type { DualStatsSection, IDeltaR } from './model';

export type SortDirection = 'ascending' | 'descending';

/** The column a table is sorted by, or null for the rows' own order. */
export interface ISortState<K extends string> {
  column: K;
  direction: SortDirection;
}

/** What a row is sorted by in one column: a number, a text, or null (no value). */
export type SortValue = number | string | null;

// Natural order for labels: cluster "10" after "9", "B cells" after "b cells" only by case.
const collator = new Intl.Collator('en', {
  numeric: true,
  sensitivity: 'base'
});

/**
 * The rows ordered by `value` in `direction`, a new array. Rows without a value (null,
 * NaN, '') go last in either direction (an undefined r is not the "lowest" r), and rows
 * that tie keep their order, so sorting by a second column refines the first.
 */
export function sortRows<T>(
  rows: readonly T[],
  value: (row: T) => SortValue,
  direction: SortDirection
): T[] {
  const sign = direction === 'ascending' ? 1 : -1;
  const keyed = rows.map((row, index) => ({ row, index, key: value(row) }));
  keyed.sort((a, b) => {
    const aMissing = isMissing(a.key);
    const bMissing = isMissing(b.key);
    if (aMissing || bMissing) {
      return aMissing === bMissing ? a.index - b.index : aMissing ? 1 : -1;
    }
    const order = compareValues(a.key!, b.key!);
    return order !== 0 ? sign * order : a.index - b.index;
  });
  return keyed.map(entry => entry.row);
}

/**
 * The next state after a click on `column`'s header: ascending, then descending, then
 * the rows' own order again (so a reader can get back the dataset → cluster layout).
 */
export function nextSort<K extends string>(
  current: ISortState<K> | null,
  column: K
): ISortState<K> | null {
  if (!current || current.column !== column) {
    return { column, direction: 'ascending' };
  }
  return current.direction === 'ascending'
    ? { column, direction: 'descending' }
    : null;
}

/** `sortRows` for a state (null: the rows as given). */
export function sortByState<T, K extends string>(
  rows: readonly T[],
  state: ISortState<K> | null,
  columns: Record<K, (row: T) => SortValue>
): readonly T[] {
  return state ? sortRows(rows, columns[state.column], state.direction) : rows;
}

function isMissing(value: SortValue): boolean {
  return (
    value === null ||
    value === '' ||
    (typeof value === 'number' && Number.isNaN(value))
  );
}

function compareValues(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return collator.compare(String(a), String(b));
}

// ---------------------------------------------------------------------------------------
// The two tables' columns

export type StatsColumn =
  'group' | 'nCells' | 'pearson' | 'spearman' | 'doublePositive' | 'note';

// The table's own order of sections: per dataset, per cluster, per facet, pooled.
const SECTION_ORDER: Record<DualStatsSection, number> = {
  dataset: 0,
  cluster: 1,
  dataset_cluster: 2,
  all: 3
};

/** What each column of the correlation table sorts by: the numbers, not their text. */
export const STATS_COLUMNS: Record<
  StatsColumn,
  (row: IStatsTableRow) => SortValue
> = {
  // "dataset: ctrl" before "cluster: 0": the section first, then the label
  group: row => `${SECTION_ORDER[row.section]} ${row.group}`,
  nCells: row => row.stats.nCells,
  pearson: row => row.stats.pearsonR,
  spearman: row => row.stats.spearmanRho,
  // "—" on data with negative values, where the share is not shown
  doublePositive: row =>
    row.doublePositive === '—' ? null : row.stats.fracDoublePositive,
  note: row => row.note
};

export type DeltaRColumn = 'cells' | 'datasets' | 'r' | 'deltaR' | 'z' | 'p';

/** What each column of the Δr table sorts by. */
export const DELTA_R_COLUMNS: Record<
  DeltaRColumn,
  (row: IDeltaR) => SortValue
> = {
  // "all cells" (no cluster) before the clusters
  cells: row => (row.cluster === null ? '0' : `1 ${row.cluster}`),
  datasets: row => `${row.target} ${row.reference}`,
  r: row => row.rTarget,
  deltaR: row => row.deltaR,
  z: row => row.z,
  p: row => row.p
};
