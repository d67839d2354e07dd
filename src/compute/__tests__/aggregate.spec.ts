import {
  aggregate,
  combineCodes,
  combineLabels,
  countGroups,
  groupStats,
  isSparseColumn,
  sampleVariance,
  sparseColumn
} from '../aggregate';

describe('groupStats', () => {
  // group 0: 0, 2, 4   group 1: 1, 0   group 2: empty   (cell 5 has no group)
  const values = Float64Array.from([0, 2, 1, 4, 0, 100]);
  const codes = Int32Array.from([0, 0, 1, 0, 1, -1]);

  it('computes the sufficient statistics and summaries per group', () => {
    const stats = groupStats(values, codes, 3);
    expect(Array.from(stats.n)).toEqual([3, 2, 0]);
    expect(Array.from(stats.sum)).toEqual([6, 1, 0]);
    expect(Array.from(stats.sumSq)).toEqual([20, 1, 0]);
    expect(Array.from(stats.nnz)).toEqual([2, 1, 0]);
    expect(stats.mean[0]).toBe(2);
    expect(stats.mean[1]).toBe(0.5);
    expect(stats.mean[2]).toBeNaN();
    expect(stats.variance[0]).toBe(4); // ((0−2)² + 0 + (4−2)²) / 2
    expect(stats.variance[1]).toBe(0.5);
    expect(stats.variance[2]).toBeNaN();
    expect(stats.fracExpressing[0]).toBeCloseTo(2 / 3, 15);
    expect(stats.fracExpressing[2]).toBeNaN();
    expect(stats.hasNegative).toBe(false);
    expect(stats.linearMean).toBeUndefined();
  });

  it("gives Seurat's linear-space mean on request", () => {
    const stats = groupStats(values, codes, 3, { linearMean: true });
    const expected = Math.log1p(
      (Math.expm1(0) + Math.expm1(2) + Math.expm1(4)) / 3
    );
    expect(stats.linearMean?.[0]).toBeCloseTo(expected, 14);
    expect(stats.linearMean?.[2]).toBeNaN();
  });

  it('has NaN variance for a single cell and flags negative values', () => {
    const stats = groupStats(
      Float64Array.from([-1.5, 2]),
      Int32Array.from([0, 1]),
      2
    );
    expect(stats.variance[0]).toBeNaN();
    expect(stats.hasNegative).toBe(true);
    expect(stats.nnz[0]).toBe(0);
  });

  it('flags negative values of cells outside every group too (a matrix property)', () => {
    const stats = groupStats(
      Float32Array.from([1, -0.5]),
      Int32Array.from([0, -1]),
      1
    );
    expect(stats.hasNegative).toBe(true);
    expect(stats.sum[0]).toBe(1);
  });

  it('rounds squares of float32 values to float32, as scanpy', () => {
    const x = Math.fround(1.1);
    const stats = groupStats(Float32Array.from([x]), Int32Array.from([0]), 1);
    expect(stats.sumSq[0]).toBe(Math.fround(x * x));
    expect(stats.sumSq[0]).not.toBe(x * x);
    const double = groupStats(Float64Array.from([x]), Int32Array.from([0]), 1);
    expect(double.sumSq[0]).toBe(x * x);
  });

  it('rejects mismatched lengths and out-of-range codes', () => {
    expect(() => groupStats(values, Int32Array.from([0]), 3)).toThrow(
      RangeError
    );
    expect(() => groupStats(values, codes, 1)).toThrow(/≥ nGroups/);
  });
});

describe('sampleVariance', () => {
  it('never goes below zero from rounding', () => {
    const v = 0.1;
    expect(sampleVariance(3, 3 * v, 3 * v * v)).toBeGreaterThanOrEqual(0);
    expect(sampleVariance(4, 10, 30)).toBeCloseTo(5 / 3, 15);
  });
});

describe('aggregate', () => {
  const codes = Int32Array.from([0, 0, 1, 1, 1, -1]);
  const genes = new Map<string, Float32Array>([
    ['A', Float32Array.from([1, 3, 0, 0, 6, 9])],
    ['B', Float32Array.from([0.5, -0.5, 2, 2, 2, 0])]
  ]);

  it('returns genes × groups matrices in the given gene order', () => {
    const result = aggregate(genes, codes, 2);
    expect(result.genes).toEqual(['A', 'B']);
    expect(Array.from(result.nCells)).toEqual([2, 3]);
    expect(result.mean.nRows).toBe(2);
    expect(result.mean.nCols).toBe(2);
    expect(Array.from(result.mean.data)).toEqual([2, 2, 0, 2]);
    expect(Array.from(result.variance.data)).toEqual([2, 12, 0.5, 0]);
    expect(result.fracExpressing.data[0]).toBe(1);
    expect(result.fracExpressing.data[1]).toBeCloseTo(1 / 3, 15);
    // gene B has a negative value: its fraction expressing is not shown
    expect(result.fracExpressing.data[2]).toBeNaN();
    expect(Array.from(result.hasNegative)).toEqual([0, 1]);
    expect(Array.from(result.masked)).toEqual([0, 0]);
  });

  it('accepts positional columns and masks small groups', () => {
    const result = aggregate(Array.from(genes.values()), codes, 3, {
      minCells: 3
    });
    expect(result.genes).toEqual(['0', '1']);
    expect(Array.from(result.masked)).toEqual([1, 0, 1]);
    expect(result.mean.data[0]).toBeNaN();
    expect(result.mean.data[1]).toBe(2);
    expect(result.mean.data[2]).toBeNaN(); // empty group
    expect(Array.from(result.nCells)).toEqual([2, 3, 0]);
  });

  it('reports the linear-space mean as the mean', () => {
    const result = aggregate(genes, codes, 2, { linearMean: true });
    expect(result.mean.data[0]).toBeCloseTo(
      Math.log1p((Math.expm1(1) + Math.expm1(3)) / 2),
      6
    );
  });

  it('counts cells even without genes', () => {
    const result = aggregate([], codes, 2);
    expect(Array.from(result.nCells)).toEqual([2, 3]);
    expect(result.mean.data.length).toBe(0);
    expect(Array.from(countGroups(codes, 2))).toEqual([2, 3]);
  });
});

describe('sparseColumn', () => {
  it('keeps the non-zero entries (NaN and −0 handled) of float32 and float64 columns', () => {
    const dense = Float32Array.from([0, 1.5, -0, -2, 0, NaN, 3]);
    const sparse = sparseColumn(dense);
    expect(sparse.length).toBe(7);
    expect(Array.from(sparse.indices)).toEqual([1, 3, 5, 6]);
    expect(Array.from(sparse.values)).toEqual([1.5, -2, NaN, 3]);
    expect(sparse.values).toBeInstanceOf(Float32Array);
    const double = sparseColumn(Float64Array.from(dense));
    expect(Array.from(double.indices)).toEqual([1, 3, 5, 6]);
    expect(double.values).toBeInstanceOf(Float64Array);
    expect(sparseColumn(new Float32Array(3)).indices.length).toBe(0);
    expect(isSparseColumn(sparse)).toBe(true);
    expect(isSparseColumn(dense)).toBe(false);
  });

  it('aggregates exactly as the dense column', () => {
    const codes = Int32Array.from([0, 1, -1, 1, 0, 2, 2, 1]);
    const dense = Float32Array.from([0, 1.25, 7, 0, 3.5, 0, 0.1, 2]);
    const negative = Float32Array.from([0, -1, 0, 2, 0, 1, 0, 0]);
    const fromDense = aggregate([dense, negative], codes, 3, {
      linearMean: true
    });
    const fromSparse = aggregate(
      [sparseColumn(dense), sparseColumn(negative)],
      codes,
      3,
      { linearMean: true }
    );
    expect(fromSparse).toEqual(fromDense);
    expect(groupStats(sparseColumn(dense), codes, 3)).toEqual(
      groupStats(dense, codes, 3)
    );
    expect(() =>
      aggregate([sparseColumn(dense)], codes.subarray(1), 3)
    ).toThrow(RangeError);
  });
});

describe('combineCodes / combineLabels', () => {
  it('crosses groupings a-major, as sc.get.aggregate', () => {
    const dataset = Int32Array.from([0, 1, 1, 0, -1]);
    const cluster = Int32Array.from([2, 0, 2, -1, 1]);
    expect(Array.from(combineCodes(dataset, 2, cluster, 3))).toEqual([
      2, 3, 5, -1, -1
    ]);
    expect(combineLabels(['ctrl', 'stim'], ['0', '1', '2'])).toEqual([
      'ctrl · 0',
      'ctrl · 1',
      'ctrl · 2',
      'stim · 0',
      'stim · 1',
      'stim · 2'
    ]);
    expect(combineLabels(['a'], ['b'], '/')).toEqual(['a/b']);
  });

  it('rejects mismatched groupings', () => {
    expect(() =>
      combineCodes(Int32Array.from([0]), 1, Int32Array.from([0, 0]), 1)
    ).toThrow(RangeError);
    expect(() =>
      combineCodes(Int32Array.from([2]), 2, Int32Array.from([0]), 1)
    ).toThrow(/out of range/);
  });
});
