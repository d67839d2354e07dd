import { IMatrix } from '../aggregate';
import { scaleRows } from '../scale';

function matrix(rows: number[][]): IMatrix {
  return {
    nRows: rows.length,
    nCols: rows[0].length,
    data: Float64Array.from(rows.flat())
  };
}

function rowOf(m: IMatrix, r: number): number[] {
  return Array.from(m.data.subarray(r * m.nCols, (r + 1) * m.nCols));
}

describe('scaleRows', () => {
  it("z-scores with the sample sd (R's scale) and clips at ±2.5", () => {
    const input = matrix([[1, 2, 3, 4, 5]]);
    const result = scaleRows(input, 'zscore');
    const sd = Math.sqrt(2.5); // Σ(x − 3)² / (n − 1) = 10 / 4
    rowOf(result, 0).forEach((z, c) =>
      expect(z).toBeCloseTo((c + 1 - 3) / sd, 14)
    );
    const outlier = scaleRows(
      matrix([[0, 0, 0, 0, 0, 0, 0, 0, 0, 10]]),
      'zscore'
    );
    expect(Math.max(...rowOf(outlier, 0))).toBe(2.5);
    const unclipped = scaleRows(
      matrix([[0, 0, 0, 0, 0, 0, 0, 0, 0, 10]]),
      'zscore',
      {
        clip: null
      }
    );
    expect(Math.max(...rowOf(unclipped, 0))).toBeCloseTo(9 / Math.sqrt(10), 12);
    const tight = scaleRows(input, 'zscore', { clip: 1 });
    expect(rowOf(tight, 0)[0]).toBe(-1);
  });

  it('min–max scales to 0–1 per gene, as standard_scale="var"', () => {
    const result = scaleRows(
      matrix([
        [2, 4, 3],
        [10, 0, 5]
      ]),
      'minmax'
    );
    expect(rowOf(result, 0)).toEqual([0, 1, 0.5]);
    expect(rowOf(result, 1)).toEqual([1, 0, 0.5]);
  });

  it('ignores NaN (masked) columns, which stay NaN', () => {
    const input = matrix([[1, NaN, 3, 5]]);
    const z = rowOf(scaleRows(input, 'zscore'), 0);
    expect(z[1]).toBeNaN();
    expect(z[0]).toBeCloseTo(-1, 14);
    expect(z[2]).toBeCloseTo(0, 14);
    expect(z[3]).toBeCloseTo(1, 14);
    const mm = rowOf(scaleRows(input, 'minmax'), 0);
    expect(mm[1]).toBeNaN();
    expect([mm[0], mm[2], mm[3]]).toEqual([0, 0.5, 1]);
  });

  it('sets rows without spread to 0 and flags them', () => {
    const input = matrix([
      [2, 2, 2],
      [1, NaN, NaN],
      [NaN, NaN, NaN],
      [0, 1, 2]
    ]);
    for (const method of ['zscore', 'minmax'] as const) {
      const result = scaleRows(input, method);
      expect(Array.from(result.constantRows)).toEqual([1, 1, 1, 0]);
      expect(rowOf(result, 0)).toEqual([0, 0, 0]);
      expect(rowOf(result, 1)[0]).toBe(0);
      expect(rowOf(result, 1)[1]).toBeNaN();
      expect(rowOf(result, 2).every(Number.isNaN)).toBe(true);
    }
  });

  it('copies the values unchanged for "none"', () => {
    const input = matrix([[1, 2]]);
    const result = scaleRows(input, 'none');
    expect(rowOf(result, 0)).toEqual([1, 2]);
    expect(result.data).not.toBe(input.data);
    expect(Array.from(result.constantRows)).toEqual([0]);
  });
});
