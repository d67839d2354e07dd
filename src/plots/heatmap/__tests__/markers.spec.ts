import {
  Float64,
  makeVector,
  Table,
  tableFromIPC,
  tableToIPC,
  vectorFromArray
} from 'apache-arrow';

import { IGroupMoments, IMarker, rankMarkers } from '../../../compute/markers';
import { groupStatsPayload } from '../../../data/__tests__/groupStatsPayload';
import {
  decodeGroupStats,
  IGroupSufficientStats
} from '../../../data/groupStats';
import {
  IMarkerRow,
  markerGenes,
  storedMarkerRows,
  topMarkers,
  topMarkersReport
} from '../markers';

/**
 * Cells: clusters 0–2 × datasets ctrl/stim, 20 cells each; cluster 3 has a single
 * (ctrl) cell; 6 cells have no cluster and 4 a cluster but no dataset (no group, in
 * every rest). Genes: M0 high in cluster 0, S0 high in cluster 0 of stim only, M1 high
 * in cluster 1, M12 in clusters 1 and 2, M2 in cluster 2, N1–N5 noise.
 */
const GENES = ['N1', 'M0', 'N2', 'S0', 'M1', 'N3', 'M12', 'M2', 'N4', 'N5'];
const CLUSTERS = ['0', '1', '2', '3'];
const DATASETS = ['ctrl', 'stim'];

let state = 12345;
function noise(): number {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return (state / 4294967296) * 0.6;
}

const clusterCodes: number[] = [];
const datasetCodes: number[] = [];
for (let k = 0; k < 3; k++) {
  for (let d = 0; d < 2; d++) {
    for (let c = 0; c < 20; c++) {
      clusterCodes.push(k);
      datasetCodes.push(d);
    }
  }
}
clusterCodes.push(3);
datasetCodes.push(0);
for (let c = 0; c < 6; c++) {
  clusterCodes.push(-1);
  datasetCodes.push(c % 2);
}
for (let c = 0; c < 4; c++) {
  clusterCodes.push(c % 3);
  datasetCodes.push(-1);
}
const N_CELLS = clusterCodes.length;

function level(gene: string, k: number, d: number): number {
  switch (gene) {
    case 'M0':
      return k === 0 ? 4 : 0;
    case 'S0':
      return k === 0 && d === 1 ? 5 : 0;
    case 'M1':
      return k === 1 ? 4 : 0;
    case 'M12':
      return k === 1 || k === 2 ? 3 : 0;
    case 'M2':
      return k === 2 ? 4 : 0;
    default:
      return 0;
  }
}

const VALUES: number[][] = GENES.map(gene =>
  clusterCodes.map((k, i) => level(gene, k, datasetCodes[i]) + noise())
);

function stats(withDataset = true, logBase: number | null = null) {
  const { result, table } = groupStatsPayload(
    VALUES,
    GENES,
    { codes: clusterCodes, categories: CLUSTERS },
    withDataset ? { codes: datasetCodes, categories: DATASETS } : null,
    { log1p_base: logBase }
  );
  return decodeGroupStats(result, table);
}

/** Moments computed straight from the cells: one group per label of `groupOf`. */
function directMoments(
  groupOf: (i: number) => number,
  nGroups: number,
  inTotal: (i: number) => boolean
): IGroupMoments {
  const nGenes = GENES.length;
  const n = new Float64Array(nGroups);
  const sum = new Float64Array(nGroups * nGenes);
  const sumSq = new Float64Array(nGroups * nGenes);
  const total = {
    n: 0,
    sum: new Float64Array(nGenes),
    sumSq: new Float64Array(nGenes)
  };
  for (let i = 0; i < N_CELLS; i++) {
    if (!inTotal(i)) {
      continue;
    }
    const g = groupOf(i);
    total.n += 1;
    if (g >= 0) {
      n[g] += 1;
    }
    VALUES.forEach((row, j) => {
      total.sum[j] += row[i];
      total.sumSq[j] += row[i] * row[i];
      if (g >= 0) {
        sum[g * nGenes + j] += row[i];
        sumSq[g * nGenes + j] += row[i] * row[i];
      }
    });
  }
  return { nGroups, nGenes, n, sum, sumSq, total };
}

// Pooled clusters: a cell is in cluster k's group when it has a dataset too (the
// kernel's groups are cluster × dataset); every cell is in the rest
const pooledDirect = directMoments(
  i => (datasetCodes[i] >= 0 ? clusterCodes[i] : -1),
  CLUSTERS.length,
  () => true
);

function expectRowsMatch(rows: IMarkerRow[], expected: IMarker[]): void {
  expect(rows.map(r => [r.gene, r.rank])).toEqual(
    expected.map(m => [GENES[m.gene], m.rank])
  );
  rows.forEach((row, i) => {
    expect(row.score).toBeCloseTo(expected[i].score, 10);
    expect(row.logFoldChange).toBeCloseTo(expected[i].logFoldChange, 10);
    expect(row.pvalAdj).toBeCloseTo(expected[i].pvalAdj, 12);
    expect(row.source).toBe('computed');
  });
}

function byCluster(rows: IMarkerRow[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const row of rows) {
    (out[row.cluster] ??= []).push(row.gene);
  }
  return out;
}

describe('topMarkers', () => {
  it('finds the planted markers, pooled over datasets, in cluster order', () => {
    const rows = topMarkers(stats(), { n: 2, clusters: null });
    expect(byCluster(rows)).toEqual({
      '0': ['M0', 'S0'],
      '1': ['M1', 'M12'],
      '2': ['M2', 'M12']
    });
    expect(rows.map(r => r.rank)).toEqual([1, 2, 1, 2, 1, 2]);
    expect(rows[0].score).toBeGreaterThan(10);
    expect(rows[0].logFoldChange).toBeGreaterThan(4);
    expect(rows[0].pvalAdj).toBeLessThan(1e-10);
  });

  it('marks the datasets in whose own top N the marker also is', () => {
    const rows = topMarkers(stats(), { n: 2 });
    const shared = (gene: string, cluster: string) =>
      rows.find(r => r.gene === gene && r.cluster === cluster)?.sharedDatasets;
    expect(shared('M0', '0')).toEqual(['ctrl', 'stim']);
    expect(shared('S0', '0')).toEqual(['stim']);
    expect(shared('M1', '1')).toEqual(['ctrl', 'stim']);
    expect(shared('M2', '2')).toEqual(['ctrl', 'stim']);
  });

  it('equals rankMarkers on moments computed from the cells, cells without a group in the rest', () => {
    const expected = rankMarkers(pooledDirect, { nTop: 3 });
    const rows = topMarkers(stats(), { n: 3 });
    const grouped = CLUSTERS.map(c => rows.filter(r => r.cluster === c));
    [0, 1, 2].forEach(k => expectRowsMatch(grouped[k], expected[k]));
    expect(grouped[3]).toEqual([]);
    expect(expected[3]).toEqual([]);
  });

  it('computes the shared datasets as one-vs-rest within each dataset', () => {
    const n = 3;
    const rows = topMarkers(stats(), { n });
    const topIn = DATASETS.map((_, d) =>
      rankMarkers(
        directMoments(
          i => clusterCodes[i],
          CLUSTERS.length,
          i => datasetCodes[i] === d && clusterCodes[i] >= 0
        ),
        { nTop: n }
      ).map(markers => markers.map(m => GENES[m.gene]))
    );
    for (const row of rows) {
      const k = CLUSTERS.indexOf(row.cluster);
      expect(row.sharedDatasets).toEqual(
        DATASETS.filter((_, d) => topIn[d][k].includes(row.gene))
      );
    }
  });

  it('keeps a subset of clusters without changing their markers', () => {
    const all = topMarkers(stats(), { n: 3 });
    const subset = topMarkers(stats(), { n: 3, clusters: ['2', '0'] });
    expect(subset).toEqual(
      all.filter(r => r.cluster === '0' || r.cluster === '2')
    );
  });

  it('reports skipped and unknown clusters and the heatmap genes', () => {
    const report = topMarkersReport(stats(), {
      n: 2,
      clusters: ['0', '1', '2', '3', '42']
    });
    expect(report.clusters).toEqual(['0', '1', '2', '3']);
    expect(report.datasets).toEqual(['ctrl', 'stim']);
    expect(report.skippedClusters).toEqual(['3']);
    expect(report.unknownClusters).toEqual(['42']);
    expect(report.genes).toEqual([
      { gene: 'M0', clusters: ['0'] },
      { gene: 'S0', clusters: ['0'] },
      { gene: 'M1', clusters: ['1'] },
      { gene: 'M12', clusters: ['1', '2'] },
      { gene: 'M2', clusters: ['2'] }
    ]);
  });

  it('works on statistics grouped by cluster only (nothing shared)', () => {
    const rows = topMarkers(stats(false), { n: 2 });
    expect(byCluster(rows)['0']).toEqual(['M0', 'S0']);
    expect(rows.every(r => r.sharedDatasets.length === 0)).toBe(true);
    // by cluster only, cells without a dataset are in their cluster's group
    const direct = directMoments(
      i => clusterCodes[i],
      CLUSTERS.length,
      () => true
    );
    expectRowsMatch(
      rows.filter(r => r.cluster === '1'),
      rankMarkers(direct, { nTop: 2 })[1]
    );
  });

  it('uses the log1p base for the fold change', () => {
    const natural = topMarkers(stats(), { n: 1 })[0];
    const base2 = topMarkers(stats(true, 2), { n: 1 })[0];
    expect(base2.score).toBe(natural.score);
    expect(base2.logFoldChange).not.toBeCloseTo(natural.logFoldChange, 3);
  });

  it('takes excluded genes along', () => {
    const decoded: IGroupSufficientStats = {
      ...stats(),
      excludedGenes: ['NaNGene']
    };
    expect(topMarkersReport(decoded).excludedGenes).toEqual(['NaNGene']);
  });
});

describe('markerGenes', () => {
  it('keeps the first occurrence and lists every cluster', () => {
    const row = (gene: string, cluster: string): IMarkerRow => ({
      gene,
      cluster,
      rank: 1,
      score: 0,
      logFoldChange: 0,
      pvalAdj: 1,
      sharedDatasets: [],
      source: 'stored'
    });
    expect(
      markerGenes([row('A', '0'), row('B', '0'), row('A', '3'), row('C', '3')])
    ).toEqual([
      { gene: 'A', clusters: ['0', '3'] },
      { gene: 'B', clusters: ['0'] },
      { gene: 'C', clusters: ['3'] }
    ]);
  });
});

describe('storedMarkerRows', () => {
  function stored(columns: Record<string, unknown[] | BigInt64Array>): Table {
    const vectors = Object.fromEntries(
      Object.entries(columns).map(([name, values]) => [
        name,
        values instanceof BigInt64Array
          ? makeVector(values)
          : typeof values[0] === 'string'
            ? vectorFromArray(values as string[])
            : vectorFromArray(values as (number | null)[], new Float64())
      ])
    );
    return tableFromIPC(tableToIPC(new Table(vectors), 'stream'));
  }

  const table = stored({
    group: ['3', '3', '0', '0', '3'],
    rank: BigInt64Array.from([2n, 1n, 1n, 2n, 3n]),
    gene: ['B', 'A', 'C', 'A', 'D'],
    score: [5, 9, 7, 6, 1],
    logfoldchange: [1.5, 2.5, 0.5, 1, 0.1],
    pval_adj: [0.01, 0.001, null, 0.02, 0.5]
  });

  it('reads the payload in group order (first appearance), then rank', () => {
    const rows = storedMarkerRows(table);
    expect(rows.map(r => [r.cluster, r.rank, r.gene])).toEqual([
      ['3', 1, 'A'],
      ['3', 2, 'B'],
      ['3', 3, 'D'],
      ['0', 1, 'C'],
      ['0', 2, 'A']
    ]);
    expect(rows[0]).toEqual({
      gene: 'A',
      cluster: '3',
      rank: 1,
      score: 9,
      logFoldChange: 2.5,
      pvalAdj: 0.001,
      sharedDatasets: [],
      source: 'stored'
    });
    expect(rows[3].pvalAdj).toBeNaN();
    expect(markerGenes(rows).map(g => g.gene)).toEqual(['A', 'B', 'D', 'C']);
  });

  it('keeps the top n of chosen groups', () => {
    const rows = storedMarkerRows(table, { n: 1, clusters: ['0'] });
    expect(rows.map(r => [r.cluster, r.gene])).toEqual([['0', 'C']]);
  });

  it('ranks by stored order without a rank column; refuses a table without genes', () => {
    const rows = storedMarkerRows(
      stored({ group: ['1', '1'], gene: ['X', 'Y'], score: [2, 3] })
    );
    expect(rows.map(r => [r.gene, r.rank])).toEqual([
      ['X', 1],
      ['Y', 2]
    ]);
    expect(rows[0].logFoldChange).toBeNaN();
    expect(() => storedMarkerRows(stored({ group: ['1'] }))).toThrow(
      /lacks the column 'gene'/
    );
  });
});
