import { IMatrix } from '../aggregate';
import {
  averageLinkage,
  dendrogram,
  hclust,
  pairwiseDistances
} from '../hclust';

function matrix(rows: number[][]): IMatrix {
  return {
    nRows: rows.length,
    nCols: rows[0].length,
    data: Float64Array.from(rows.flat())
  };
}

function linkageRows(linkage: Float64Array): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < linkage.length; i += 4) {
    rows.push(Array.from(linkage.subarray(i, i + 4)));
  }
  return rows;
}

describe('hclust (scipy average linkage + dendrogram)', () => {
  it('reproduces scipy on points of a line', () => {
    // scipy 1.17: linkage([[0], [1], [5], [6], [20]], 'average') and its dendrogram
    const result = hclust(matrix([[0], [1], [5], [6], [20]]));
    expect(linkageRows(result.linkage)).toEqual([
      [0, 1, 1, 2],
      [2, 3, 1, 2],
      [5, 6, 5, 4],
      [4, 7, 17, 5]
    ]);
    expect(result.leaves).toEqual([4, 0, 1, 2, 3]);
    expect(result.icoord).toEqual([
      [15, 15, 25, 25],
      [35, 35, 45, 45],
      [20, 20, 40, 40],
      [5, 5, 30, 30]
    ]);
    expect(result.dcoord).toEqual([
      [0, 1, 1, 0],
      [0, 1, 1, 0],
      [1, 5, 5, 1],
      [0, 17, 17, 5]
    ]);
  });

  it('breaks ties among equal distances as scipy does', () => {
    // Corners of a unit square: four distances of 1
    const result = hclust(
      matrix([
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1]
      ])
    );
    expect(linkageRows(result.linkage)).toEqual([
      [0, 1, 1, 2],
      [2, 3, 1, 2],
      [4, 5, (1 + 1 + Math.SQRT2 + Math.SQRT2) / 4, 4]
    ]);
    expect(result.leaves).toEqual([0, 1, 2, 3]);
  });

  it('clusters columns and uses 1 − Pearson r as the correlation metric', () => {
    const rows = [
      [1, 2, 3, 4],
      [2, 4, 6, 8.5],
      [4, 3, 2, 1],
      [1, 3, 2, 4]
    ];
    // scipy: linkage(M, 'average', metric='correlation')
    const expected = [
      [0, 1, 0.00161856054297016, 2],
      [3, 4, 0.19368197231399958, 3],
      [2, 5, 1.9327938131523432, 4]
    ];
    const byRows = hclust(matrix(rows), { metric: 'correlation' });
    linkageRows(byRows.linkage).forEach((row, i) =>
      row.forEach((v, j) => expect(v).toBeCloseTo(expected[i][j], 12))
    );
    expect(byRows.leaves).toEqual([2, 3, 0, 1]);
    const transposed = rows[0].map((_, c) => rows.map(row => row[c]));
    const byColumns = hclust(matrix(transposed), {
      metric: 'correlation',
      axis: 'columns'
    });
    expect(byColumns.leaves).toEqual(byRows.leaves);
  });

  it('gives constant observations a correlation distance of 1 (0 between them)', () => {
    const { distances, constantObservations } = pairwiseDistances(
      matrix([
        [1, 2, 3],
        [0.1, 0.1, 0.1],
        [3, 2, 1],
        [5, 5, 5]
      ]),
      'correlation'
    );
    expect(constantObservations).toEqual([1, 3]);
    // pairs (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    expect(distances[0]).toBe(1);
    expect(distances[1]).toBeCloseTo(2, 15);
    expect(distances[2]).toBe(1);
    expect(distances[3]).toBe(1);
    expect(distances[4]).toBe(0);
    expect(distances[5]).toBe(1);
  });

  it('refuses non-finite values', () => {
    expect(() =>
      hclust(
        matrix([
          [1, NaN],
          [2, 3]
        ])
      )
    ).toThrow(/masked columns/);
  });

  it('handles one and two observations', () => {
    expect(hclust(matrix([[1, 2]])).leaves).toEqual([0]);
    expect(hclust(matrix([[1, 2]])).linkage.length).toBe(0);
    const two = hclust(
      matrix([
        [0, 0],
        [3, 4]
      ])
    );
    expect(linkageRows(two.linkage)).toEqual([[0, 1, 5, 2]]);
    expect(two.leaves).toEqual([0, 1]);
    expect(dendrogram(new Float64Array(0), 0).leaves).toEqual([]);
    expect(() => averageLinkage(new Float64Array(2), 2)).toThrow(RangeError);
  });
});
