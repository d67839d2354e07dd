import * as correlation from '../../../compute/correlation';
import { buildDualModel, DualMemo } from '../model';
import { dualInput } from './fixture';

describe('DualMemo', () => {
  it('reuses cells, bins, blends and correlations of its own builds when options change', () => {
    const input = dualInput();
    const memo = new DualMemo();
    const options = { nBoot: 0, density: 'on' as const };
    const first = buildDualModel(input, options, memo);
    const spy = jest.spyOn(correlation, 'correlateByGroup');
    // Δr per dataset × cluster reads Pearson's r of each: remembered per cell pass too
    const pearsonSpy = jest.spyOn(correlation, 'pearsonByGroup');
    try {
      const recoloured = buildDualModel(
        input,
        { ...options, colorBy: 'cluster' },
        memo
      );
      expect(spy).not.toHaveBeenCalled();
      expect(pearsonSpy).not.toHaveBeenCalled();
      expect(first.deltaR.length).toBeGreaterThan(1);
      expect(recoloured.deltaR).toEqual(first.deltaR);
      expect(recoloured.kept).toBe(first.kept);
      expect(recoloured.facets[0].density).toBe(first.facets[0].density);
      expect(recoloured.blend).toBe(first.blend);
      // Another memo knows nothing of these builds
      const elsewhere = buildDualModel(input, options, new DualMemo());
      expect(spy).toHaveBeenCalled();
      expect(elsewhere.kept).not.toBe(first.kept);
      expect(elsewhere.kept).toEqual(first.kept);
      // Another option of the pass ("detected only") is computed afresh
      buildDualModel(input, { ...options, detectedOnly: true }, memo);
      expect(pearsonSpy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
      pearsonSpy.mockRestore();
    }
  });

  it('keeps a bounded number of cell passes per value array', () => {
    const input = dualInput();
    const memo = new DualMemo();
    const subsets = [['0'], ['1'], ['2'], ['0', '1'], ['1', '2']];
    subsets.forEach(clusters =>
      buildDualModel(input, { nBoot: 0, clusters }, memo)
    );
    expect(memo.cells.get(input.x!)).toHaveLength(DualMemo.CELLS_PER_ARRAY);
    expect(memo.blends.get(input.x!)!.length).toBeLessThanOrEqual(
      DualMemo.BLENDS_PER_ARRAY
    );
  });
});
