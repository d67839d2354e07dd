/** With a sample column, every heatmap column says how many samples its cells come from. */
import { LIGHT_PLOT_THEME } from '../../theme';
import { heatmapFigure } from '../figure';
import { buildHeatmapModel } from '../model';

// 8 cells: clusters a/b, datasets ctrl/stim, samples s1..s4 (s1, s2 in ctrl; s3, s4 in stim)
const input = {
  genes: ['G'],
  values: new Map([['G', Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8])]]),
  dataset: {
    codes: Int32Array.from([0, 0, 1, 1, 0, 0, 1, 1]),
    categories: ['ctrl', 'stim']
  },
  cluster: {
    codes: Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1]),
    categories: ['a', 'b']
  },
  sample: {
    codes: Int32Array.from([0, 1, 2, 3, 0, 0, 2, -1]),
    categories: ['s1', 's2', 's3', 's4']
  }
};

describe('samples per heatmap column', () => {
  it('counts distinct samples per column, for each grouping', () => {
    const byCluster = buildHeatmapModel(input, { minCells: 0 });
    expect(byCluster.columns.map(c => [c.label, c.nSamples])).toEqual([
      ['a', 4],
      ['b', 2]
    ]);
    const both = buildHeatmapModel(input, {
      minCells: 0,
      groupBy: 'dataset_cluster'
    });
    expect(both.columns.map(c => c.nSamples)).toEqual([2, 2, 1, 1]);
    // Said in the hover of each column's n-cells bar
    const hover = (
      heatmapFigure(both, { theme: LIGHT_PLOT_THEME }).data.find(
        t => t.name === 'n cells'
      ) as any
    ).customdata as string[][];
    expect(hover[0][2]).toBe(' · 2 samples');
    expect(hover[3][2]).toBe(' · 1 sample');
  });

  it('says nothing about samples without a sample column', () => {
    const { sample, ...without } = input;
    void sample;
    const model = buildHeatmapModel(without, { minCells: 0 });
    expect(model.columns.every(c => c.nSamples === null)).toBe(true);
    const hover = (
      heatmapFigure(model, { theme: LIGHT_PLOT_THEME }).data.find(
        t => t.name === 'n cells'
      ) as any
    ).customdata as string[][];
    expect(hover[0][2]).toBe('');
  });
});
