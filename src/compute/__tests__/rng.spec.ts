import { counterHashes, drawIndices, hash32, replicateKey } from '../rng';

describe('counter-based bootstrap draws', () => {
  it('reproduces the values the Python implementation gives', () => {
    // Same numbers in exprscope/tests/test_compute_reference.py
    expect([0, 1, 0xdeadbeef].map(hash32)).toEqual([0, 1753845952, 3861431939]);
    expect(replicateKey(0, 0)).toBe(2926543089);
    expect(replicateKey(42, 999)).toBe(534800740);
  });

  it('returns unsigned 32-bit integers', () => {
    for (const value of [0, 1, 2 ** 31, 2 ** 32 - 1, 123456789]) {
      const h = hash32(value);
      expect(Number.isInteger(h)).toBe(true);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThan(2 ** 32);
    }
  });

  it('draws indices in range, reproducibly, differently per replicate and seed', () => {
    const n = 1000;
    const hashes = counterHashes(n);
    const first = new Int32Array(n);
    const again = new Int32Array(n);
    const other = new Int32Array(n);
    const otherSeed = new Int32Array(n);
    drawIndices(replicateKey(3, 0), hashes, first);
    drawIndices(replicateKey(3, 0), hashes, again);
    drawIndices(replicateKey(3, 1), hashes, other);
    drawIndices(replicateKey(4, 0), hashes, otherSeed);
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
    expect(otherSeed).not.toEqual(first);
    expect(Math.min(...first)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...first)).toBeLessThan(n);
  });

  it('resamples like a multinomial draw: about 1/e of the values left out', () => {
    const n = 100000;
    const draws = new Int32Array(n);
    drawIndices(replicateKey(0, 0), counterHashes(n), draws);
    const counts = new Int32Array(n);
    draws.forEach(i => (counts[i] += 1));
    const leftOut = counts.filter(c => c === 0).length / n;
    expect(Math.abs(leftOut - Math.exp(-1))).toBeLessThan(0.01);
  });
});
