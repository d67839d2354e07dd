import { statsTableRows } from '../figure';
import { buildDualModel, clearDualCaches } from '../model';
import {
  DELTA_R_COLUMNS,
  nextSort,
  sortByState,
  sortRows,
  STATS_COLUMNS
} from '../tableSort';
import { dualInput } from './fixture';

beforeEach(() => clearDualCaches());

describe('sortRows', () => {
  it('orders numbers both ways, keeps ties in order and puts missing values last', () => {
    const rows = [
      { id: 'a', v: 0.5 },
      { id: 'b', v: NaN },
      { id: 'c', v: -0.25 },
      { id: 'd', v: 0.5 },
      { id: 'e', v: 0.9 },
      { id: 'f', v: null }
    ];
    const ids = (sorted: typeof rows) => sorted.map(r => r.id).join('');
    expect(ids(sortRows(rows, r => r.v, 'ascending'))).toBe('cadebf');
    expect(ids(sortRows(rows, r => r.v, 'descending'))).toBe('eadcbf');
    // A new array: the rows given keep their order
    expect(ids(rows)).toBe('abcdef');
  });

  it('orders labels naturally (cluster 10 after 9) and without regard to case', () => {
    const labels = ['10', '9', 'B cells', 'a cells', '1', ''];
    expect(sortRows(labels, l => l, 'ascending')).toEqual([
      '1',
      '9',
      '10',
      'a cells',
      'B cells',
      ''
    ]);
  });
});

describe('nextSort', () => {
  it('goes ascending, descending, then back to the rows’ own order', () => {
    const first = nextSort(null, 'pearson');
    expect(first).toEqual({ column: 'pearson', direction: 'ascending' });
    const second = nextSort(first, 'pearson');
    expect(second).toEqual({ column: 'pearson', direction: 'descending' });
    expect(nextSort(second, 'pearson')).toBeNull();
    // Another column starts ascending
    expect(nextSort(second, 'nCells')).toEqual({
      column: 'nCells',
      direction: 'ascending'
    });
  });
});

describe('the statistics tables’ columns', () => {
  it('sort the correlation table by the numbers, undefined r last', () => {
    const model = buildDualModel(dualInput(), { nBoot: 0 });
    const rows = statsTableRows(model);
    const r = rows.map(row => row.stats.pearsonR);
    expect(r.some(Number.isNaN)).toBe(true); // the "(no dataset)" group
    const byR = sortByState(
      rows,
      { column: 'pearson', direction: 'descending' },
      STATS_COLUMNS
    );
    const defined = r.filter(v => !Number.isNaN(v)).sort((a, b) => b - a);
    expect(byR.map(row => row.stats.pearsonR)).toEqual([
      ...defined,
      ...r.filter(Number.isNaN)
    ]);
    const byN = sortByState(
      rows,
      { column: 'nCells', direction: 'ascending' },
      STATS_COLUMNS
    );
    const n = byN.map(row => row.stats.nCells);
    expect(n).toEqual([...n].sort((a, b) => a - b));
    // No state: the table as built (dataset, cluster, pooled)
    expect(sortByState(rows, null, STATS_COLUMNS)).toBe(rows);
  });

  it('sort groups by section, then by label in natural order', () => {
    const model = buildDualModel(dualInput(), { nBoot: 0 });
    const rows = statsTableRows(model);
    const byGroup = sortByState(
      [...rows].reverse(),
      { column: 'group', direction: 'ascending' },
      STATS_COLUMNS
    );
    // Within a section alphabetical ("(" before letters and digits)
    expect(byGroup.map(row => `${row.section}:${row.group}`)).toEqual([
      'dataset:(no dataset)',
      'dataset:ctrl',
      'dataset:stim',
      'cluster:(no cluster)',
      'cluster:0',
      'cluster:1',
      'cluster:2',
      'all:all cells'
    ]);
  });

  it('sort the Δr table by p and by cells, all cells first', () => {
    const model = buildDualModel(dualInput(), { nBoot: 0 });
    expect(model.deltaR.length).toBeGreaterThan(2);
    const byP = sortByState(
      model.deltaR,
      { column: 'p', direction: 'ascending' },
      DELTA_R_COLUMNS
    );
    const p = byP.map(row => row.p).filter(v => !Number.isNaN(v));
    expect(p).toEqual([...p].sort((a, b) => a - b));
    const byCells = sortByState(
      [...model.deltaR].reverse(),
      { column: 'cells', direction: 'ascending' },
      DELTA_R_COLUMNS
    );
    expect(byCells.map(row => row.cluster)).toEqual(
      model.deltaR.map(row => row.cluster)
    );
  });
});
