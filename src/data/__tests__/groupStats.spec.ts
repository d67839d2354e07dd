import {
  Float64,
  Int64,
  makeVector,
  Table,
  tableFromArrays,
  tableFromIPC,
  tableToIPC,
  vectorFromArray
} from 'apache-arrow';

import { rankMarkers } from '../../compute/markers';
import { decodeGroupStats, IGroupStatsResult } from '../groupStats';
import { groupStatsPayload } from './groupStatsPayload';

const result: IGroupStatsResult = {
  matrix: 'raw',
  groupby: ['louvain', 'sample'],
  groups: [
    { labels: ['0', 'ctrl'], n: 4 },
    { labels: ['0', 'stim'], n: 3 }
  ],
  n_cells_total: 9,
  excluded_genes: ['MT-ND6'],
  has_negative: false,
  log1p_base: 2
};

function wire(table: Table): Table {
  return tableFromIPC(tableToIPC(table, 'stream'));
}

describe('decodeGroupStats', () => {
  it('lays the per-group columns out group-major, as IGroupMoments', () => {
    const table = wire(
      tableFromArrays({
        gene: ['CD3E', 'LYZ'],
        'sum:0': Float64Array.from([1, 2]),
        'sumsq:0': Float64Array.from([3, 4]),
        'nnz:0': Float64Array.from([1, 2]),
        'sum:1': Float64Array.from([5, 6]),
        'sumsq:1': Float64Array.from([7, 8]),
        'nnz:1': Float64Array.from([3, 0]),
        total_sum: Float64Array.from([9, 10]),
        total_sumsq: Float64Array.from([11, 12])
      })
    );
    const stats = decodeGroupStats(result, table);
    expect(stats.genes).toEqual(['CD3E', 'LYZ']);
    expect(stats.nGroups).toBe(2);
    expect(stats.nGenes).toBe(2);
    expect(Array.from(stats.n)).toEqual([4, 3]);
    expect(Array.from(stats.sum)).toEqual([1, 2, 5, 6]);
    expect(Array.from(stats.sumSq)).toEqual([3, 4, 7, 8]);
    expect(Array.from(stats.nnz)).toEqual([1, 2, 3, 0]);
    expect(stats.total.n).toBe(9);
    expect(Array.from(stats.total.sum)).toEqual([9, 10]);
    expect(Array.from(stats.total.sumSq)).toEqual([11, 12]);
    expect(stats.groupby).toEqual(['louvain', 'sample']);
    expect(stats.groupLabels).toEqual([
      ['0', 'ctrl'],
      ['0', 'stim']
    ]);
    expect(stats.excludedGenes).toEqual(['MT-ND6']);
    expect(stats.logBase).toBe(2);
    expect(stats.hasNegative).toBe(false);
    expect(stats.matrix).toBe('raw');
  });

  it('converts integer columns, nulls and several record batches', () => {
    const first = new Table({
      gene: vectorFromArray(['A']),
      'sum:0': makeVector(Float64Array.from([1])),
      'sumsq:0': makeVector(Float64Array.from([1])),
      'nnz:0': makeVector(BigInt64Array.from([1n])),
      total_sum: vectorFromArray([null], new Float64()),
      total_sumsq: makeVector(Float64Array.from([2]))
    });
    const second = new Table({
      gene: vectorFromArray(['B']),
      'sum:0': makeVector(Float64Array.from([3])),
      'sumsq:0': makeVector(Float64Array.from([9])),
      'nnz:0': vectorFromArray([1n], new Int64()),
      total_sum: vectorFromArray([4], new Float64()),
      total_sumsq: makeVector(Float64Array.from([16]))
    });
    const stats = decodeGroupStats(
      { ...result, groups: [{ labels: ['0', 'ctrl'], n: 2 }] },
      wire(first.concat(second))
    );
    expect(stats.genes).toEqual(['A', 'B']);
    expect(Array.from(stats.sum)).toEqual([1, 3]);
    expect(Array.from(stats.nnz)).toEqual([1, 1]);
    expect(Array.from(stats.total.sum)).toEqual([NaN, 4]);
  });

  it('says which column is missing', () => {
    const table = wire(
      tableFromArrays({
        gene: ['A'],
        'sum:0': Float64Array.from([1]),
        'nnz:0': Float64Array.from([1]),
        total_sum: Float64Array.from([1]),
        total_sumsq: Float64Array.from([1])
      })
    );
    expect(() =>
      decodeGroupStats({ ...result, groups: [{ labels: ['0'], n: 1 }] }, table)
    ).toThrow(/lack the column 'sumsq:0'/);
  });

  it('feeds rankMarkers directly', () => {
    // gene 0 is high in cluster 0; cell 5 has no group but counts in the rest
    const values = [
      [5, 6, 5, 0, 1, 0],
      [1, 1, 2, 2, 1, 1]
    ];
    const { result: json, table } = groupStatsPayload(values, ['hi', 'flat'], {
      codes: [0, 0, 0, 1, 1, -1],
      categories: ['0', '1']
    });
    const stats = decodeGroupStats(json, table);
    expect(stats.total.n).toBe(6);
    const [cluster0] = rankMarkers(stats, { nTop: 1 });
    expect(stats.genes[cluster0[0].gene]).toBe('hi');
  });
});
