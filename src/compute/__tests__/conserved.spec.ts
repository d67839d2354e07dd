import type { IGroupSufficientStats } from '../../data/groupStats';
import {
  chiSquareSurvivalEvenDf,
  combinePValues,
  conservedMarkers,
  conservedStatistics,
  IClusterDatasetMoments
} from '../conserved';
import { IGroupMoments, rankMarkers } from '../markers';

/**
 * Moments by [cluster, dataset] from cell values: `cells[g]` are the cells of group g,
 * each a value per gene.
 */
function momentsOf(
  genes: string[],
  groups: { labels: [string, string]; cells: number[][] }[]
): IClusterDatasetMoments {
  const nGenes = genes.length;
  const n = new Float64Array(groups.length);
  const sum = new Float64Array(groups.length * nGenes);
  const sumSq = new Float64Array(groups.length * nGenes);
  groups.forEach(({ cells }, g) => {
    n[g] = cells.length;
    for (const cell of cells) {
      cell.forEach((value, j) => {
        sum[g * nGenes + j] += value;
        sumSq[g * nGenes + j] += value * value;
      });
    }
  });
  return { genes, groupLabels: groups.map(g => g.labels), n, sum, sumSq };
}

/** `count` cells: gene values cycling through `levels` (plus a small per-cell wobble). */
function cells(count: number, levels: number[]): number[][] {
  return Array.from({ length: count }, (_, i) =>
    levels.map((level, j) => level + ((i * (j + 3)) % 5) * 0.1)
  );
}

// Genes: 'conserved' up in A everywhere, 'stimOnly' up in A in stim only, 'flat'
const genes = ['conserved', 'stimOnly', 'flat'];
const example = momentsOf(genes, [
  { labels: ['A', 'ctrl'], cells: cells(20, [3, 0.2, 1]) },
  { labels: ['A', 'stim'], cells: cells(20, [3, 3, 1]) },
  { labels: ['A', 'late'], cells: cells(1, [3, 3, 1]) },
  { labels: ['B', 'ctrl'], cells: cells(30, [0.2, 0.2, 1]) },
  { labels: ['B', 'stim'], cells: cells(30, [0.2, 0.2, 1]) },
  { labels: ['B', 'late'], cells: cells(30, [0.2, 0.2, 1]) }
]);

describe('chiSquareSurvivalEvenDf', () => {
  it.each([
    // scipy.stats.chi2.sf(x, 2k)
    [3.2, 1, 0.2018965179946554],
    [10, 2, 0.04042768199451279],
    [50, 3, 4.701068998290324e-9],
    [0.5, 5, 0.999993388289439],
    [80, 30, 0.043228682151735594],
    [1200, 10, 7.472427257336308e-242],
    [1400, 2, 6.911633257175853e-302]
  ])('matches scipy at x = %d, 2k = 2·%d', (x, k, expected) => {
    expect(Math.abs(chiSquareSurvivalEvenDf(x, k) / expected - 1)).toBeLessThan(
      1e-12
    );
  });

  it('is 1 at 0 and 0 at infinity (a p-value of 0)', () => {
    expect(chiSquareSurvivalEvenDf(0, 3)).toBe(1);
    expect(chiSquareSurvivalEvenDf(Infinity, 3)).toBe(0);
  });
});

describe('combinePValues', () => {
  it.each([
    // scipy.stats.combine_pvalues(p, method='fisher').pvalue
    [[0.01, 0.2], 0.014429216196844381],
    [[1e-30, 0.5, 0.9], 1.130493588754651e-27],
    [[0.3], 0.2999999999999999]
  ])("Fisher's method matches scipy: %j", (pvals, expected) => {
    expect(
      Math.abs(combinePValues(pvals, 'fisher') / expected - 1)
    ).toBeLessThan(1e-12);
  });

  it('max is the largest p; a zero p makes Fisher 0', () => {
    expect(combinePValues([0.01, 0.2, 0.03], 'max')).toBe(0.2);
    expect(combinePValues([0, 0.3], 'fisher')).toBe(0);
    expect(combinePValues([], 'max')).toBeNaN();
  });
});

describe('conservedStatistics', () => {
  it('tests each cluster within each dataset, as rankMarkers on that dataset', () => {
    const stats = conservedStatistics(example);
    expect(stats.clusters).toEqual(['A', 'B']);
    expect(stats.datasets).toEqual(['ctrl', 'stim', 'late']);
    // A has 1 cell in 'late', and B's rest there is that cell: both left out
    expect(stats.tested).toEqual([true, true, false, true, true, false]);
    const d = 1; // stim: the same numbers as rankMarkers on stim's groups alone
    const nGenes = genes.length;
    const stimGroups: IGroupMoments = {
      nGroups: 2,
      nGenes,
      n: Float64Array.from([example.n[1], example.n[4]]),
      sum: Float64Array.from([
        ...example.sum.subarray(nGenes, 2 * nGenes),
        ...example.sum.subarray(4 * nGenes, 5 * nGenes)
      ]),
      sumSq: Float64Array.from([
        ...example.sumSq.subarray(nGenes, 2 * nGenes),
        ...example.sumSq.subarray(4 * nGenes, 5 * nGenes)
      ])
    };
    const ranked = rankMarkers(stimGroups, { nTop: nGenes });
    for (const marker of ranked[0]) {
      const at = (0 * 3 + d) * nGenes + marker.gene;
      expect(stats.score[at]).toBeCloseTo(marker.score, 12);
      expect(stats.pval[at]).toBe(marker.pval);
      expect(stats.pvalAdj[at]).toBe(marker.pvalAdj);
      expect(stats.logFoldChange[at]).toBeCloseTo(marker.logFoldChange, 12);
    }
  });

  it('classifies conserved, specific and unmarked genes; left-out datasets do not count', () => {
    const stats = conservedStatistics(example, { minCells: 2 });
    // A in 'late' (1 cell), B in 'late' (a rest of 1 cell): left out, even at minCells 2
    expect(stats.tested).toEqual([true, true, false, true, true, false]);
    const nGenes = genes.length;
    expect(stats.category.slice(0, nGenes)).toEqual([
      'conserved',
      'specific',
      'none'
    ]);
    expect(stats.specificTo[1]).toBe(1); // stim
    // Combined over ctrl and stim only
    const p = (d: number, j: number): number =>
      stats.pval[(0 * 3 + d) * nGenes + j];
    expect(stats.combinedP[0]).toBe(Math.max(p(0, 0), p(1, 0)));
    const fisher = conservedStatistics(example, {
      minCells: 2,
      combine: 'fisher'
    });
    expect(fisher.combinedP[1]).toBe(
      chiSquareSurvivalEvenDf(-2 * (Math.log(p(0, 1)) + Math.log(p(1, 1))), 2)
    );
  });

  it('marks clusters with fewer than two tested datasets untested', () => {
    const twoDatasets = momentsOf(genes, [
      { labels: ['A', 'ctrl'], cells: cells(2, [3, 0, 1]) },
      { labels: ['A', 'stim'], cells: cells(20, [3, 3, 1]) },
      { labels: ['B', 'ctrl'], cells: cells(30, [0, 0, 1]) },
      { labels: ['B', 'stim'], cells: cells(30, [0, 0, 1]) },
      { labels: ['C', 'ctrl'], cells: cells(30, [0, 0, 2]) },
      { labels: ['C', 'stim'], cells: cells(30, [0, 0, 2]) }
    ]);
    const result = conservedMarkers(twoDatasets);
    expect(result.untestedClusters).toEqual(['A']);
    expect(result.leftOut).toEqual([
      { cluster: 'A', dataset: 'ctrl', nCells: 2, nRest: 60 }
    ]);
    expect(result.rows.some(row => row.cluster === 'C')).toBe(true);
    expect(result.rows.every(row => row.cluster !== 'A')).toBe(true);
    const stats = conservedStatistics(twoDatasets);
    expect(stats.category.slice(0, 3)).toEqual([
      'untested',
      'untested',
      'untested'
    ]);
    expect(stats.combinedP[0]).toBeNaN();
  });

  it('pools groups of the same cluster × dataset and takes an order', () => {
    const split = momentsOf(genes, [
      { labels: ['B', 'stim'], cells: cells(30, [0.2, 0.2, 1]) },
      { labels: ['A', 'ctrl'], cells: cells(10, [3, 0.2, 1]) },
      { labels: ['A', 'ctrl'], cells: cells(10, [3, 0.2, 1]) },
      { labels: ['A', 'stim'], cells: cells(20, [3, 3, 1]) },
      { labels: ['B', 'ctrl'], cells: cells(30, [0.2, 0.2, 1]) }
    ]);
    const stats = conservedStatistics(split, {
      clusterOrder: ['A', 'B'],
      datasetOrder: ['ctrl', 'stim']
    });
    expect(Array.from(stats.nCells)).toEqual([20, 20, 30, 30]);
    expect(stats.category.slice(0, 3)).toEqual([
      'conserved',
      'specific',
      'none'
    ]);
    expect(() =>
      conservedStatistics(split, { datasetOrder: ['ctrl'] })
    ).toThrow('The datasets order lacks stim');
  });

  it('refuses what it cannot compare, saying why', () => {
    const oneDataset = momentsOf(genes, [
      { labels: ['A', 'ctrl'], cells: cells(5, [1, 1, 1]) },
      { labels: ['B', 'ctrl'], cells: cells(5, [0, 0, 1]) }
    ]);
    expect(() => conservedStatistics(oneDataset)).toThrow(
      'only one dataset (ctrl) has cells'
    );
    const byClusterOnly = { ...example, groupLabels: [['A'], ['B']] };
    expect(() => conservedStatistics(byClusterOnly)).toThrow(
      'groups by cluster and dataset'
    );
    expect(() => conservedStatistics(example, { minCells: 1 })).toThrow(
      'minCells must be at least 2'
    );
    expect(() => conservedStatistics(example, { alpha: 1.5 })).toThrow(
      'alpha must be between 0 and 1'
    );
    expect(() =>
      conservedStatistics(example, { combine: 'stouffer' as 'max' })
    ).toThrow("combine must be 'max' or 'fisher'");
    expect(() => conservedMarkers(example, { n: 0 })).toThrow(
      'n must be a positive integer'
    );
  });
});

describe('conservedMarkers', () => {
  it('lists conserved genes, then specific ones per dataset, with every dataset', () => {
    const result = conservedMarkers(example, { minCells: 2, n: 5 });
    const a = result.rows.filter(row => row.cluster === 'A');
    expect(
      a.map(row => [row.gene, row.category, row.specificTo, row.rank])
    ).toEqual([
      ['conserved', 'conserved', null, 1],
      ['stimOnly', 'specific', 'stim', 1]
    ]);
    const [conserved] = a;
    expect(conserved.combine).toBe('max');
    expect(conserved.perDataset.map(v => v.dataset)).toEqual([
      'ctrl',
      'stim',
      'late'
    ]);
    expect(conserved.perDataset[2].tested).toBe(false);
    expect(conserved.perDataset[2].pval).toBeNaN();
    expect(conserved.combinedP).toBe(
      Math.max(conserved.perDataset[0].pval, conserved.perDataset[1].pval)
    );
    expect(result.leftOut.map(l => [l.cluster, l.dataset])).toEqual([
      ['A', 'late'],
      ['B', 'late']
    ]);
  });

  it('takes the group statistics the kernel sends', () => {
    // Type check: IGroupSufficientStats is a valid input
    const fromKernel = (stats: IGroupSufficientStats): number =>
      conservedMarkers(stats).rows.length;
    expect(typeof fromKernel).toBe('function');
  });
});
