/**
 * Seeded, counter-based random numbers for the bootstrap.
 *
 * Draw i of bootstrap replicate b is a pure function of (seed, b, i), so the kernel
 * (`exprscope/compute/correlation.py`, same constants) draws exactly the same resamples
 * and the browser and Python bootstrap intervals agree to rounding. The mixing function
 * is C. Wellons' "lowbias32" integer hash, a bijection on 32-bit integers.
 */

/** lowbias32 hash of a 32-bit unsigned integer. */
export function hash32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Key of bootstrap replicate `replicate` under `seed` (both unsigned 32-bit integers). */
export function replicateKey(seed: number, replicate: number): number {
  const seedKey = hash32((seed ^ 0x9e3779b9) >>> 0);
  return hash32((seedKey + Math.imul(replicate, 0x85ebca6b)) >>> 0);
}

/**
 * Fill `out` with the n indices drawn with replacement from 0..n−1 for the replicate
 * with key `key`. `counterHashes[i]` must be `hash32(i)` (precomputed once per n).
 * The index is ⌊u·n / 2³²⌋ for the 32-bit draw u, in float64 arithmetic as in Python.
 */
export function drawIndices(
  key: number,
  counterHashes: Uint32Array,
  out: Int32Array
): void {
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const u = hash32((counterHashes[i] ^ key) >>> 0);
    out[i] = Math.floor((u * n) / 4294967296);
  }
}

/** hash32(i) for i = 0..n−1, the per-draw counters shared by every replicate. */
export function counterHashes(n: number): Uint32Array {
  const hashes = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    hashes[i] = hash32(i);
  }
  return hashes;
}
