import { dualInput } from '../../plots/dual/__tests__/fixture';
import { buildDualModel } from '../../plots/dual/model';
import { buildHeatmapModel } from '../../plots/heatmap/model';
import { dualCsv, heatmapCsv } from '../data';

function lines(csv: string): string[][] {
  expect(csv.endsWith('\r\n')).toBe(true);
  return csv
    .slice(0, -2)
    .split('\r\n')
    .map(line => line.split(','));
}

describe('plot data as CSV', () => {
  it('writes one row per heatmap cell with the values shown', () => {
    const model = buildHeatmapModel(
      {
        genes: ['A', '=B'],
        values: new Map([
          ['A', Float32Array.from([1, 3, 0, 0.5])],
          ['=B', Float32Array.from([0, 0, 2, 4])]
        ]),
        dataset: {
          codes: Int32Array.from([0, 0, 1, 1]),
          categories: ['c', 's']
        },
        cluster: {
          codes: Int32Array.from([0, 1, 0, 1]),
          categories: ['0', '1']
        },
        matrix: 'X'
      },
      { groupBy: 'cluster', scaling: 'none', minCells: 0 }
    );
    const rows = lines(heatmapCsv(model));
    expect(rows[0]).toEqual([
      'gene',
      'column',
      'dataset',
      'cluster',
      'n_cells',
      'mean',
      'fraction_expressing',
      'plotted_mean_none'
    ]);
    expect(rows).toHaveLength(1 + 2 * 2);
    const a0 = rows.find(r => r[0] === 'A' && r[3] === '0')!;
    expect(a0.slice(4)).toEqual(['2', '0.5', '0.5', '0.5']);
    expect(a0[5]).toBe('0.5');
    // The gene "=B" is guarded against formula injection
    expect(rows.some(r => r[0] === "'=B")).toBe(true);
  });

  it('writes one row per drawn cell of the dual plot', () => {
    const model = buildDualModel(dualInput());
    const rows = lines(dualCsv(model));
    expect(rows[0]).toEqual(['cell', 'dataset', 'cluster', 'CD3E', 'CD8A']);
    expect(rows).toHaveLength(1 + model.points.cells.length);
    const cell = model.points.cells[0];
    const row = rows.find(r => r[0] === `AAAC-${cell}`)!;
    expect(Number(row[3])).toBe(model.x![cell]);
    expect(Number(row[4])).toBe(model.y![cell]);
    expect(rows.find(r => r[0] === 'AAAC-58')![2]).toBe('');
  });
});
