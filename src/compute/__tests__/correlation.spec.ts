import {
  averageRanks,
  correlate,
  correlateByGroup,
  correlationPValue,
  fisherInterval,
  pearson,
  percentile
} from '../correlation';

// scipy.stats documentation example: pearsonr(x, y) and spearmanr(x, y)
const x = Float64Array.from([1, 2, 3, 4, 5, 6, 7]);
const y = Float64Array.from([10, 9, 2.5, 6, 4, 3, 2]);

describe('correlate', () => {
  it('matches scipy.stats.pearsonr, its confidence interval and spearmanr', () => {
    const result = correlate(x, y, { nBoot: 0 });
    expect(result.nCells).toBe(7);
    expect(result.pearsonR).toBeCloseTo(-0.8285038835884277, 14);
    expect(result.pearsonP).toBeCloseTo(0.021280260007523342, 14);
    expect(result.pearsonCiLow).toBeCloseTo(-0.9739212552869811, 14);
    expect(result.pearsonCiHigh).toBeCloseTo(-0.20060647400568454, 14);
    expect(result.spearmanRho).toBeCloseTo(-0.7857142857142859, 14);
    expect(result.spearmanP).toBeCloseTo(0.03623846267982715, 14);
    expect(result.spearmanCiLow).toBeNaN();
    expect(result.reason).toBeNull();
    const ci90 = fisherInterval(result.pearsonR, 7, 0.9);
    expect(ci90[0]).toBeCloseTo(-0.9644331982722841, 14);
    expect(ci90[1]).toBeCloseTo(-0.3460237473272265, 14);
  });

  it('uses average ranks for ties', () => {
    expect(
      Array.from(averageRanks(Float64Array.from([10, 20, 20, 30, 20])))
    ).toEqual([1, 3, 3, 5, 3]);
    // spearmanr([1, 2, 2, 3, 5], [2, 1, 4, 4, 9])
    const tied = correlate(
      Float64Array.from([1, 2, 2, 3, 5]),
      Float64Array.from([2, 1, 4, 4, 9]),
      {
        nBoot: 0
      }
    );
    expect(tied.spearmanRho).toBeCloseTo(0.7631578947368421, 14);
    expect(tied.spearmanP).toBeCloseTo(0.13333911953180624, 13);
  });

  it('gives NaN with a reason below 3 cells or for a constant gene', () => {
    const two = correlate(Float64Array.from([1, 2]), Float64Array.from([2, 1]));
    expect(two.reason).toBe('fewer than 3 cells');
    expect(two.pearsonR).toBeNaN();
    expect(two.spearmanCiHigh).toBeNaN();
    const constant = correlate(
      Float64Array.from([1, 1, 1, 1]),
      Float64Array.from([0, 1, 2, 3])
    );
    expect(constant.reason).toBe('x gene is constant');
    expect(constant.fracDoublePositive).toBe(0.75);
    expect(
      correlate(Float64Array.from([0, 1, 2]), Float64Array.from([5, 5, 5]))
        .reason
    ).toBe('y gene is constant');
    expect(
      correlate(Float64Array.from([3, 3, 3]), Float64Array.from([5, 5, 5]))
        .reason
    ).toBe('both genes are constant');
    expect(
      correlate(new Float64Array(0), new Float64Array(0)).fracDoublePositive
    ).toBeNaN();
  });

  it('restricts to double-positive cells with detectedOnly', () => {
    const gx = Float64Array.from([0, 1, 2, 3, 0, 5, 6]);
    const gy = Float64Array.from([1, 0, 2, 4, 0, 5, 7]);
    const all = correlate(gx, gy, { nBoot: 0 });
    const detected = correlate(gx, gy, { detectedOnly: true, nBoot: 0 });
    expect(all.nCells).toBe(7);
    expect(detected.nCells).toBe(4);
    expect(detected.fracDoublePositive).toBeCloseTo(4 / 7, 15);
    expect(all.fracDoublePositive).toBe(detected.fracDoublePositive);
    expect(detected.pearsonR).toBeCloseTo(
      pearson(Float64Array.from([2, 3, 5, 6]), Float64Array.from([2, 4, 5, 7])),
      15
    );
  });

  it('bootstraps a seeded Spearman interval around ρ', () => {
    const n = 200;
    const gx = Float64Array.from({ length: n }, (_, i) => i % 17);
    const gy = Float64Array.from(gx, (v, i) => v + ((i * 7919) % 13));
    const a = correlate(gx, gy, { nBoot: 400, seed: 1 });
    const b = correlate(gx, gy, { nBoot: 400, seed: 1 });
    const c = correlate(gx, gy, { nBoot: 400, seed: 2 });
    expect(a.spearmanCiLow).toBe(b.spearmanCiLow);
    expect(a.spearmanCiHigh).toBe(b.spearmanCiHigh);
    expect(c.spearmanCiLow).not.toBe(a.spearmanCiLow);
    expect(a.spearmanCiLow).toBeLessThan(a.spearmanRho);
    expect(a.spearmanCiHigh).toBeGreaterThan(a.spearmanRho);
    expect(a.spearmanCiHigh - a.spearmanCiLow).toBeLessThan(0.3);
  });

  it('computes p-values at the edges', () => {
    expect(correlationPValue(1, 10)).toBe(0);
    expect(correlationPValue(0, 10)).toBe(1);
    expect(correlationPValue(NaN, 10)).toBeNaN();
    expect(correlationPValue(0.5, 2)).toBeNaN();
    expect(fisherInterval(0.5, 3)).toEqual([-1, 1]);
    expect(fisherInterval(1, 10)).toEqual([1, 1]);
  });
});

describe('percentile', () => {
  it('interpolates linearly as numpy.percentile', () => {
    const sorted = [1, 2, 3, 4];
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile(sorted, 1)).toBe(4);
    expect(percentile(sorted, 0.5)).toBe(2.5);
    expect(percentile(sorted, 0.1)).toBeCloseTo(1.3, 15);
    expect(percentile([], 0.5)).toBeNaN();
    expect(percentile([7], 0.025)).toBe(7);
  });
});

describe('correlateByGroup', () => {
  it('correlates within each group and ignores cells without a group', () => {
    const gx = Float32Array.from([1, 2, 3, 4, 1, 2, 3, 100]);
    const gy = Float32Array.from([2, 4, 6, 8, 3, 2, 1, -100]);
    const codes = Int32Array.from([0, 0, 0, 0, 1, 1, 1, -1]);
    const [first, second, empty] = correlateByGroup(gx, gy, codes, 3, {
      nBoot: 0
    });
    expect(first.group).toBe(0);
    expect(first.pearsonR).toBe(1);
    expect(first.pearsonCiLow).toBe(1);
    expect(second.nCells).toBe(3);
    expect(second.pearsonR).toBeCloseTo(-1, 15);
    expect(empty.nCells).toBe(0);
    expect(empty.reason).toBe('fewer than 3 cells');
    expect(() => correlateByGroup(gx, gy, Int32Array.from([0]), 1)).toThrow(
      RangeError
    );
  });
});
