import { medianInPlace, selectInPlace } from '../median';
import { hash32, replicateKey } from '../rng';

/** A seeded stream (the bootstrap's counter hashes), so every run checks the same arrays. */
function seeded(seed: number): () => number {
  const key = replicateKey(seed, 0);
  let counter = 0;
  return () => hash32((key + counter++) >>> 0) / 4294967296;
}

/** The definition: the middle of the sorted values (mean of the two middle ones). */
function sortedMedian(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

describe('medianInPlace', () => {
  const random = seeded(11);
  const cases: [string, Float64Array][] = [];
  for (const n of [1, 2, 3, 4, 5, 8, 9, 100, 101, 4096, 10_001]) {
    cases.push([
      `random ${n}`,
      Float64Array.from({ length: n }, () => random() * 40 - 20)
    ]);
    // Few distinct values: long runs equal to the pivot
    cases.push([
      `ties ${n}`,
      Float64Array.from({ length: n }, () => Math.floor(random() * 3))
    ]);
  }
  const n = 10_000;
  cases.push(['sorted', Float64Array.from({ length: n }, (_, i) => i)]);
  cases.push(['reversed', Float64Array.from({ length: n }, (_, i) => n - i)]);
  cases.push(['constant', new Float64Array(n).fill(2.5)]);
  // Organ pipe: rises then falls, a classic bad order for median-of-three pivots
  cases.push([
    'organ pipe',
    Float64Array.from({ length: n }, (_, i) => Math.min(i, n - i))
  ]);

  it.each(cases)('equals the sorted median exactly (%s)', (_, values) => {
    const expected = sortedMedian(values);
    const copy = Float64Array.from(values);
    expect(medianInPlace(copy)).toBe(expected);
    // Only reordered: the same values
    expect(Float64Array.from(copy).sort()).toEqual(
      Float64Array.from(values).sort()
    );
  });

  it('treats −0 and 0 as equal, as comparisons do', () => {
    // The sorted median is 0 here, the selected one may be −0: the same position
    const median = medianInPlace(Float64Array.from([0, -0, 0, -0, 1, -1]));
    expect(median === 0).toBe(true);
  });

  it('is NaN without values', () => {
    expect(medianInPlace(new Float64Array(0))).toBeNaN();
  });
});

describe('selectInPlace', () => {
  it('puts the k-th smallest at k, smaller or equal before, larger or equal after', () => {
    const random = seeded(5);
    for (const k of [0, 1, 499, 500, 998, 999]) {
      const values = Float64Array.from({ length: 1000 }, () =>
        Math.floor(random() * 50)
      );
      const sorted = Float64Array.from(values).sort();
      const kth = selectInPlace(values, k);
      expect(kth).toBe(sorted[k]);
      expect(values[k]).toBe(kth);
      expect(values.subarray(0, k).every(v => v <= kth)).toBe(true);
      expect(values.subarray(k + 1).every(v => v >= kth)).toBe(true);
    }
  });

  it('refuses an index outside the array', () => {
    expect(() => selectInPlace(new Float64Array(3), 3)).toThrow(RangeError);
    expect(() => selectInPlace(new Float64Array(0), 0)).toThrow(RangeError);
  });
});
