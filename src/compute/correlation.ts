/**
 * Correlation of two genes per group (dataset, cluster), matching scipy.stats:
 *
 * - Pearson r as `scipy.stats.pearsonr` (centred two-pass sums, clipped to [−1, 1]);
 *   p-value: under H0 r follows a beta distribution, two-sided
 *   p = I_{1−r²}((n − 2)/2, ½) (scipy's beta form and the t form are the same number);
 * - 95% CI by the Fisher transformation as `pearsonr(x, y).confidence_interval()`:
 *   tanh(atanh(r) ± Φ⁻¹(0.975)/√(n − 3)); [−1, 1] when n ≤ 3;
 * - Spearman ρ = Pearson r of average ranks (ties share the mean rank) as
 *   `scipy.stats.spearmanr`, whose t-distribution p-value is the same formula;
 * - Spearman CI: percentile bootstrap (B resamples of the group's cells with
 *   replacement, seeded; quantiles interpolated linearly as numpy.percentile). Each
 *   resample is ranked in O(n) from the group's sort order with multiplicities, so
 *   B = 1000 stays cheap. Resamples in which a gene is constant are skipped.
 *   The draws come from `rng.ts`, shared with the kernel implementation.
 *
 * r and ρ are NaN, with a `reason`, below 3 cells or when a gene is constant.
 */
import { normalCdf, normalQuantile, studentTTwoSidedP } from './distributions';
import { counterHashes, drawIndices, replicateKey } from './rng';

export interface ICorrelationOptions {
  /** Use only cells in which both genes are detected (> 0). */
  detectedOnly?: boolean;
  /** Bootstrap resamples for the Spearman CI (default 1000; 0 for none). */
  nBoot?: number;
  /** Seed of the bootstrap (unsigned 32-bit integer, default 0). */
  seed?: number;
  /** Confidence level of both intervals (default 0.95). */
  confidenceLevel?: number;
}

export interface ICorrelation {
  /** Cells the correlation was computed on. */
  nCells: number;
  pearsonR: number;
  pearsonCiLow: number;
  pearsonCiHigh: number;
  pearsonP: number;
  spearmanRho: number;
  spearmanCiLow: number;
  spearmanCiHigh: number;
  spearmanP: number;
  /** Share of the group's cells (all of them, also with `detectedOnly`) with x > 0 and y > 0. */
  fracDoublePositive: number;
  /** Why the coefficients are NaN, or null. */
  reason: string | null;
}

export interface IGroupCorrelation extends ICorrelation {
  group: number;
}

const MIN_CELLS = 3;

/** Correlations of x and y within each group (cells with code −1 are ignored). */
export function correlateByGroup(
  x: Float32Array | Float64Array,
  y: Float32Array | Float64Array,
  codes: Int32Array,
  nGroups: number,
  options: ICorrelationOptions = {}
): IGroupCorrelation[] {
  if (x.length !== y.length || x.length !== codes.length) {
    throw new RangeError('correlateByGroup: x, y and codes differ in length');
  }
  // Counting sort of the cells by group
  const offsets = new Int32Array(nGroups + 1);
  for (let i = 0; i < codes.length; i++) {
    if (codes[i] >= 0) {
      offsets[codes[i] + 1] += 1;
    }
  }
  for (let g = 0; g < nGroups; g++) {
    offsets[g + 1] += offsets[g];
  }
  const cursor = offsets.slice(0, nGroups);
  const cells = new Int32Array(offsets[nGroups]);
  for (let i = 0; i < codes.length; i++) {
    if (codes[i] >= 0) {
      cells[cursor[codes[i]]++] = i;
    }
  }
  const result: IGroupCorrelation[] = [];
  for (let g = 0; g < nGroups; g++) {
    const members = cells.subarray(offsets[g], offsets[g + 1]);
    const xs = new Float64Array(members.length);
    const ys = new Float64Array(members.length);
    members.forEach((cell, k) => {
      xs[k] = x[cell];
      ys[k] = y[cell];
    });
    result.push({ group: g, ...correlate(xs, ys, options) });
  }
  return result;
}

/** Correlation statistics of paired values (one group). */
export function correlate(
  x: Float64Array,
  y: Float64Array,
  options: ICorrelationOptions = {}
): ICorrelation {
  const level = options.confidenceLevel ?? 0.95;
  let doublePositive = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] > 0 && y[i] > 0) {
      doublePositive += 1;
    }
  }
  const fracDoublePositive = x.length > 0 ? doublePositive / x.length : NaN;
  if (options.detectedOnly) {
    const keep: number[] = [];
    for (let i = 0; i < x.length; i++) {
      if (x[i] > 0 && y[i] > 0) {
        keep.push(i);
      }
    }
    x = Float64Array.from(keep, i => x[i]);
    y = Float64Array.from(keep, i => y[i]);
  }
  const n = x.length;
  const reason = undefinedReason(x, y);
  if (reason !== null) {
    return undefinedCorrelation(reason, n, fracDoublePositive);
  }
  const pearsonR = pearson(x, y);
  const [pearsonCiLow, pearsonCiHigh] = fisherInterval(pearsonR, n, level);
  const rankX = new RankOrder(x);
  const rankY = new RankOrder(y);
  const spearmanRho = rankCorrelation(rankX, rankY, null);
  const [spearmanCiLow, spearmanCiHigh] = bootstrapSpearmanInterval(
    rankX,
    rankY,
    options.nBoot ?? 1000,
    options.seed ?? 0,
    level
  );
  return {
    nCells: n,
    pearsonR,
    pearsonCiLow,
    pearsonCiHigh,
    pearsonP: correlationPValue(pearsonR, n),
    spearmanRho,
    spearmanCiLow,
    spearmanCiHigh,
    spearmanP: correlationPValue(spearmanRho, n),
    fracDoublePositive,
    reason: null
  };
}

function undefinedReason(x: Float64Array, y: Float64Array): string | null {
  if (x.length < MIN_CELLS) {
    return `fewer than ${MIN_CELLS} cells`;
  }
  const constantX = x.every(v => v === x[0]);
  const constantY = y.every(v => v === y[0]);
  if (constantX && constantY) {
    return 'both genes are constant';
  }
  if (constantX || constantY) {
    return `${constantX ? 'x' : 'y'} gene is constant`;
  }
  return null;
}

/** Pearson's r from centred sums, clipped to [−1, 1] (scipy.stats.pearsonr). */
/** A correlation that could not be computed, and why (NaN coefficients). */
export function undefinedCorrelation(
  reason: string,
  nCells = 0,
  fracDoublePositive = NaN
): ICorrelation {
  return {
    nCells,
    pearsonR: NaN,
    pearsonCiLow: NaN,
    pearsonCiHigh: NaN,
    pearsonP: NaN,
    spearmanRho: NaN,
    spearmanCiLow: NaN,
    spearmanCiHigh: NaN,
    spearmanP: NaN,
    fracDoublePositive,
    reason
  };
}

export function pearson(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  let meanX = 0;
  let meanY = 0;
  for (let i = 0; i < n; i++) {
    meanX += x[i];
    meanY += y[i];
  }
  meanX /= n;
  meanY /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - meanX;
    const dy = y[i] - meanY;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Two-sided p-value of a correlation coefficient r from n pairs: I_{1−r²}((n−2)/2, ½). */
export function correlationPValue(r: number, n: number): number {
  if (Number.isNaN(r) || n < MIN_CELLS) {
    return NaN;
  }
  const df = n - 2;
  if (Math.abs(r) === 1) {
    return 0;
  }
  // t = r·√(df / (1 − r²)); (1 − r)(1 + r) keeps 1 − r² accurate near |r| = 1
  const t = r * Math.sqrt(df / ((1 - r) * (1 + r)));
  return studentTTwoSidedP(t, df);
}

/** Fisher-z interval of Pearson's r (scipy's `_pearsonr_fisher_ci`, two-sided). */
export function fisherInterval(
  r: number,
  n: number,
  level = 0.95
): [number, number] {
  if (n <= 3) {
    return [-1, 1];
  }
  const z = Math.atanh(r);
  const halfWidth = normalQuantile(0.5 + level / 2) * Math.sqrt(1 / (n - 3));
  return [Math.tanh(z - halfWidth), Math.tanh(z + halfWidth)];
}

/** Sort order of values with their runs of ties, for (weighted) average ranks. */
export class RankOrder {
  readonly order: Int32Array;
  /** Exclusive end, in `order`, of each run of equal values. */
  readonly runEnds: Int32Array;

  constructor(values: Float64Array) {
    const n = values.length;
    this.order = Int32Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => values[a] - values[b] || a - b
    );
    const ends: number[] = [];
    for (let k = 1; k <= n; k++) {
      if (k === n || values[this.order[k]] !== values[this.order[k - 1]]) {
        ends.push(k);
      }
    }
    this.runEnds = Int32Array.from(ends);
  }

  /**
   * Average ranks (1-based, ties share their mean rank) of every value in the sample in
   * which value i occurs weights[i] times (all once when `weights` is null); values of
   * weight 0 get the rank they would have.
   */
  ranks(weights: Int32Array | null, out: Float64Array): Float64Array {
    let before = 0;
    let start = 0;
    for (const end of this.runEnds) {
      let runWeight = 0;
      for (let k = start; k < end; k++) {
        runWeight += weights ? weights[this.order[k]] : 1;
      }
      const rank = before + (runWeight + 1) / 2;
      for (let k = start; k < end; k++) {
        out[this.order[k]] = rank;
      }
      before += runWeight;
      start = end;
    }
    return out;
  }
}

/** Average ranks of values (scipy.stats.rankdata(method='average')). */
export function averageRanks(values: Float64Array): Float64Array {
  return new RankOrder(values).ranks(null, new Float64Array(values.length));
}

/**
 * Spearman ρ of the (weighted) sample: Pearson r of the average ranks, whose mean is
 * exactly (N + 1)/2 for N = Σ weights.
 */
function rankCorrelation(
  x: RankOrder,
  y: RankOrder,
  weights: Int32Array | null,
  scratchX = new Float64Array(x.order.length),
  scratchY = new Float64Array(x.order.length)
): number {
  const n = x.order.length;
  const rx = x.ranks(weights, scratchX);
  const ry = y.ranks(weights, scratchY);
  const centre = (n + 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i] : 1;
    if (w === 0) {
      continue;
    }
    const dx = rx[i] - centre;
    const dy = ry[i] - centre;
    sxy += w * dx * dy;
    sxx += w * dx * dx;
    syy += w * dy * dy;
  }
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Percentile-bootstrap interval of Spearman's ρ. */
function bootstrapSpearmanInterval(
  x: RankOrder,
  y: RankOrder,
  nBoot: number,
  seed: number,
  level: number
): [number, number] {
  const n = x.order.length;
  if (nBoot <= 0) {
    return [NaN, NaN];
  }
  const hashes = counterHashes(n);
  const draws = new Int32Array(n);
  const weights = new Int32Array(n);
  const scratchX = new Float64Array(n);
  const scratchY = new Float64Array(n);
  const replicates: number[] = [];
  for (let b = 0; b < nBoot; b++) {
    drawIndices(replicateKey(seed, b), hashes, draws);
    weights.fill(0);
    for (const i of draws) {
      weights[i] += 1;
    }
    const rho = rankCorrelation(x, y, weights, scratchX, scratchY);
    if (!Number.isNaN(rho)) {
      replicates.push(rho);
    }
  }
  replicates.sort((a, b) => a - b);
  const alpha = (1 - level) / 2;
  return [percentile(replicates, alpha), percentile(replicates, 1 - alpha)];
}

/** Quantile q ∈ [0, 1] of sorted values, linear interpolation (numpy's default). */
export function percentile(sorted: readonly number[], q: number): number {
  const m = sorted.length;
  if (m === 0) {
    return NaN;
  }
  const position = q * (m - 1);
  const lower = Math.floor(position);
  if (lower + 1 >= m) {
    return sorted[m - 1];
  }
  const fraction = position - lower;
  return sorted[lower] + (sorted[lower + 1] - sorted[lower]) * fraction;
}

/** Δr of two independent correlations (Fisher's z test, Zou's interval). */
export interface ICorrelationDifference {
  /** r_target − r_reference. */
  deltaR: number;
  ciLow: number;
  ciHigh: number;
  z: number;
  p: number;
}

/**
 * Δr = r_target − r_reference of two independent Pearson correlations: Fisher's z test
 * z = (atanh r₁ − atanh r₂) / √(1/(n₁ − 3) + 1/(n₂ − 3)) with a two-sided normal p, and
 * Zou's (2007) interval for Δr from the two Fisher-z intervals (l, u):
 * [Δr − √((r₁ − l₁)² + (u₂ − r₂)²), Δr + √((u₁ − r₁)² + (r₂ − l₂)²)].
 * NaN where either group has n ≤ 3 or r is NaN. The same numbers as
 * `exprscope.compute.compare.fisher_z_difference` (a cross-implementation test).
 */
export function correlationDifference(
  rTarget: number,
  nTarget: number,
  rReference: number,
  nReference: number,
  level = 0.95
): ICorrelationDifference {
  if (
    !(nTarget > 3 && nReference > 3) ||
    !Number.isFinite(rTarget) ||
    !Number.isFinite(rReference)
  ) {
    return { deltaR: NaN, ciLow: NaN, ciHigh: NaN, z: NaN, p: NaN };
  }
  const clip = (r: number) => Math.max(-1, Math.min(1, r));
  const z1 = Math.atanh(clip(rTarget));
  const z2 = Math.atanh(clip(rReference));
  const z = (z1 - z2) / Math.sqrt(1 / (nTarget - 3) + 1 / (nReference - 3));
  const crit = normalQuantile(0.5 + level / 2);
  const l1 = Math.tanh(z1 - crit / Math.sqrt(nTarget - 3));
  const u1 = Math.tanh(z1 + crit / Math.sqrt(nTarget - 3));
  const l2 = Math.tanh(z2 - crit / Math.sqrt(nReference - 3));
  const u2 = Math.tanh(z2 + crit / Math.sqrt(nReference - 3));
  const deltaR = rTarget - rReference;
  return {
    deltaR,
    ciLow: deltaR - Math.sqrt((rTarget - l1) ** 2 + (u2 - rReference) ** 2),
    ciHigh: deltaR + Math.sqrt((u1 - rTarget) ** 2 + (rReference - l2) ** 2),
    z,
    // Two-sided: 2·Φ(−|z|) (NaN stays NaN; |z| = ∞ gives 0)
    p: 2 * normalCdf(-Math.abs(z))
  };
}

/**
 * Pearson's r and the cells correlated in each group (code −1: ignored); with
 * `detectedOnly` only cells with both values > 0, as `correlate`. NaN r where a group has
 * fewer than 3 cells or a constant gene. Cheaper than `correlateByGroup` (no ranks, no
 * bootstrap): what a Δr needs.
 */
export function pearsonByGroup(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  codes: Int32Array,
  nGroups: number,
  detectedOnly = false
): { r: Float64Array; n: Float64Array } {
  // Centred sums in two passes, as `pearson` (one-pass sums lose digits on large means)
  const n = new Float64Array(nGroups);
  const sx = new Float64Array(nGroups);
  const sy = new Float64Array(nGroups);
  const use = (i: number) =>
    codes[i] >= 0 &&
    codes[i] < nGroups &&
    (!detectedOnly || (x[i] > 0 && y[i] > 0));
  for (let i = 0; i < codes.length; i++) {
    if (use(i)) {
      const g = codes[i];
      n[g] += 1;
      sx[g] += x[i];
      sy[g] += y[i];
    }
  }
  const sxy = new Float64Array(nGroups);
  const sxx = new Float64Array(nGroups);
  const syy = new Float64Array(nGroups);
  for (let i = 0; i < codes.length; i++) {
    if (use(i)) {
      const g = codes[i];
      const dx = x[i] - sx[g] / n[g];
      const dy = y[i] - sy[g] / n[g];
      sxy[g] += dx * dy;
      sxx[g] += dx * dx;
      syy[g] += dy * dy;
    }
  }
  const r = new Float64Array(nGroups);
  for (let g = 0; g < nGroups; g++) {
    r[g] =
      n[g] < MIN_CELLS || sxx[g] === 0 || syy[g] === 0
        ? NaN
        : Math.max(-1, Math.min(1, sxy[g] / Math.sqrt(sxx[g] * syy[g])));
  }
  return { r, n };
}
