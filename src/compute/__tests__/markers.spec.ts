import {
  benjaminiHochberg,
  IGroupMoments,
  momentsFromMeanVar,
  rankMarkers,
  welchTTest
} from '../markers';

describe('welchTTest', () => {
  it('matches scipy.stats.ttest_ind_from_stats(equal_var=False)', () => {
    // ttest_ind_from_stats(2, √1.5, 10, 1, √0.5, 20, equal_var=False)
    const { t, p, df } = welchTTest(2, 1.5, 10, 1, 0.5, 20);
    expect(t).toBeCloseTo(2.3904572186687876, 13);
    expect(p).toBeCloseTo(0.03396504800666772, 13);
    const vn1 = 1.5 / 10;
    const vn2 = 0.5 / 20;
    expect(df).toBeCloseTo(
      (vn1 + vn2) ** 2 / (vn1 ** 2 / 9 + vn2 ** 2 / 19),
      12
    );
  });

  it('gives NaN for equal means with zero variances, with df 1', () => {
    const result = welchTTest(1, 0, 5, 1, 0, 5);
    expect(result.t).toBeNaN();
    expect(result.df).toBe(1);
    const separated = welchTTest(2, 0, 5, 1, 0, 5);
    expect(separated.t).toBe(Infinity);
    expect(separated.p).toBe(0);
  });
});

describe('benjaminiHochberg', () => {
  it("matches statsmodels' fdr_bh, ties included", () => {
    // multipletests([0.01, 0.04, 0.03, 0.2, 0.04], method='fdr_bh')
    const adjusted = benjaminiHochberg(
      Float64Array.from([0.01, 0.04, 0.03, 0.2, 0.04])
    );
    Array.from(adjusted).forEach((v, i) =>
      expect(v).toBeCloseTo([0.05, 0.05, 0.05, 0.2, 0.05][i], 15)
    );
    expect(
      Array.from(benjaminiHochberg(Float64Array.from([0.9, 0.95])))
    ).toEqual([0.95, 0.95]);
    expect(benjaminiHochberg(new Float64Array(0)).length).toBe(0);
  });
});

describe('rankMarkers', () => {
  // 3 genes; group 0: 4 cells, group 1: 3 cells, group 2: 1 cell (not testable)
  const cells: number[][] = [
    [3, 0, 1],
    [4, 0, 1],
    [5, 1, 1],
    [4, 0, 1],
    [0, 2, 1],
    [1, 3, 1],
    [0, 2, 1],
    [0, 0, 1]
  ];
  const codes = [0, 0, 0, 0, 1, 1, 1, 2];

  function moments(extraRestCell?: number[]): IGroupMoments {
    const nGenes = 3;
    const n = new Float64Array(3);
    const sum = new Float64Array(3 * nGenes);
    const sumSq = new Float64Array(3 * nGenes);
    const total = {
      n: 0,
      sum: new Float64Array(nGenes),
      sumSq: new Float64Array(nGenes)
    };
    const add = (cell: number[], group: number | null): void => {
      total.n += 1;
      cell.forEach((v, j) => {
        total.sum[j] += v;
        total.sumSq[j] += v * v;
        if (group !== null) {
          sum[group * nGenes + j] += v;
          sumSq[group * nGenes + j] += v * v;
        }
      });
      if (group !== null) {
        n[group] += 1;
      }
    };
    cells.forEach((cell, i) => add(cell, codes[i]));
    if (extraRestCell) {
      add(extraRestCell, null);
    }
    return { nGroups: 3, nGenes, n, sum, sumSq, total };
  }

  it('ranks by Welch score, with scanpy’s log fold change and NaN rules', () => {
    const [group0, group1, group2] = rankMarkers(moments(), { nTop: 3 });
    expect(group2).toEqual([]);
    expect(group0.map(m => m.gene)).toEqual([0, 2, 1]);
    expect(group0.map(m => m.rank)).toEqual([1, 2, 3]);
    // gene 0 in group 0: mean 4, var 2/3 vs rest (0, 1, 0, 0): mean 0.25, var 0.25
    const expected = welchTTest(4, 2 / 3, 4, 0.25, 0.25, 4);
    expect(group0[0].score).toBeCloseTo(expected.t, 12);
    expect(group0[0].pval).toBeCloseTo(expected.p, 14);
    expect(group0[0].logFoldChange).toBeCloseTo(
      Math.log2((Math.expm1(4) + 1e-9) / (Math.expm1(0.25) + 1e-9)),
      12
    );
    // gene 2 is 1 everywhere: NaN score → 0, p → 1
    expect(group0[1].score).toBe(0);
    expect(group0[1].pval).toBe(1);
    expect(group1[0].gene).toBe(1);
    expect(group0[0].pvalAdj).toBeGreaterThanOrEqual(group0[0].pval);
  });

  it('keeps the top N and breaks score ties by gene index', () => {
    const tied: IGroupMoments = {
      nGroups: 2,
      nGenes: 3,
      n: Float64Array.from([2, 2]),
      sum: Float64Array.from([2, 2, 2, 0, 0, 0]),
      sumSq: Float64Array.from([2.5, 2.5, 2.5, 0.5, 0.5, 0.5])
    };
    const [top] = rankMarkers(tied, { nTop: 2 });
    expect(top.map(m => m.gene)).toEqual([0, 1]);
    expect(top[0].score).toBe(top[1].score);
  });

  it('counts cells outside every group in the rest, as scanpy', () => {
    const without = rankMarkers(moments(), { nTop: 1 })[0][0];
    const withExtra = rankMarkers(moments([10, 0, 1]), { nTop: 1 })[0][0];
    expect(withExtra.score).not.toBeCloseTo(without.score, 3);
  });

  it('applies the log1p base to the fold change', () => {
    const natural = rankMarkers(moments(), { nTop: 1 })[0][0];
    const base2 = rankMarkers(moments(), { nTop: 1, logBase: 2 })[0][0];
    expect(base2.logFoldChange).toBeCloseTo(
      Math.log2(
        (Math.expm1(4 * Math.LN2) + 1e-9) / (Math.expm1(0.25 * Math.LN2) + 1e-9)
      ),
      12
    );
    expect(base2.score).toBe(natural.score);
  });

  it('orders every gene as a full sort by score, then gene index', () => {
    // 40 genes in 3 groups, with many exactly equal scores (repeated columns)
    const nGenes = 40;
    const n = Float64Array.from([5, 6, 7]);
    const sum = new Float64Array(3 * nGenes);
    const sumSq = new Float64Array(3 * nGenes);
    for (let g = 0; g < 3; g++) {
      for (let j = 0; j < nGenes; j++) {
        const m = ((j * 7 + g * 3) % 5) / 2;
        sum[g * nGenes + j] = m * n[g];
        sumSq[g * nGenes + j] = (0.5 + (j % 3) + m * m) * n[g];
      }
    }
    const moments = { nGroups: 3, nGenes, n, sum, sumSq };
    const all = rankMarkers(moments, { nTop: nGenes });
    const top7 = rankMarkers(moments, { nTop: 7 });
    all.forEach((markers, g) => {
      const sorted = markers
        .map(m => m.gene)
        .sort((a, b) => {
          const sa = markers.find(m => m.gene === a)!.score;
          const sb = markers.find(m => m.gene === b)!.score;
          return sb - sa || a - b;
        });
      expect(markers.map(m => m.gene)).toEqual(sorted);
      expect(new Set(markers.map(m => m.score)).size).toBeLessThan(nGenes);
      expect(top7[g]).toEqual(markers.slice(0, 7));
    });
  });

  it('ranks alike without p-values when asked for scores only', () => {
    const full = rankMarkers(moments([9, 9, 9]), { nTop: 3 });
    const scores = rankMarkers(moments([9, 9, 9]), {
      nTop: 3,
      scoresOnly: true
    });
    expect(scores.map(g => g.map(m => [m.gene, m.rank, m.score]))).toEqual(
      full.map(g => g.map(m => [m.gene, m.rank, m.score]))
    );
    expect(scores[0][0].pval).toBeNaN();
    expect(scores[0][0].pvalAdj).toBeNaN();
    expect(scores[0][0].logFoldChange).toBe(full[0][0].logFoldChange);
  });

  it('round-trips means and variances into moments', () => {
    const original = moments();
    const mean = new Float64Array(9);
    const variance = new Float64Array(9);
    for (let g = 0; g < 3; g++) {
      for (let j = 0; j < 3; j++) {
        const k = g * 3 + j;
        const ng = original.n[g];
        mean[k] = original.sum[k] / ng;
        variance[k] =
          ng > 1
            ? (original.sumSq[k] - original.sum[k] ** 2 / ng) / (ng - 1)
            : NaN;
      }
    }
    const rebuilt = momentsFromMeanVar(original.n, mean, variance, 3);
    Array.from(rebuilt.sumSq).forEach((v, k) =>
      expect(v).toBeCloseTo(original.sumSq[k], 12)
    );
    const a = rankMarkers(rebuilt, { nTop: 3 });
    const b = rankMarkers(original, { nTop: 3 });
    expect(a[0].map(m => m.gene)).toEqual(b[0].map(m => m.gene));
    expect(a[0][0].score).toBeCloseTo(b[0][0].score, 10);
  });
});
