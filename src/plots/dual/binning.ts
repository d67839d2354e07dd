/**
 * Equal-width binning into typed arrays, for the density mode (2-D counts) and the
 * marginal histograms of the dual-expression scatter. Values are read through a list
 * of cell indices so that a million cells never become per-point objects.
 */

/** `count` bins of width `size` from `start`; the last bin includes its upper edge. */
export interface IBinning {
  start: number;
  size: number;
  count: number;
}

/** Bins covering [min, max]; a single value gets a bin of width 1 around it. */
export function binning(min: number, max: number, count: number): IBinning {
  const n = Math.max(1, Math.floor(count));
  if (!(max > min)) {
    const centre = Number.isFinite(min) ? min : 0;
    return { start: centre - 0.5, size: 1 / n, count: n };
  }
  return { start: min, size: (max - min) / n, count: n };
}

/** Bin of a value (values outside the range go to the first / last bin). */
export function binOf(value: number, bins: IBinning): number {
  const k = Math.floor((value - bins.start) / bins.size);
  return k < 0 ? 0 : k >= bins.count ? bins.count - 1 : k;
}

/** Centre of bin k. */
export function binCentre(bins: IBinning, k: number): number {
  return bins.start + (k + 0.5) * bins.size;
}

/**
 * Cells per 2-D bin of (x[cell], y[cell]) for cells[from..to): counts[iy · nx + ix], the
 * row-major layout of a heatmap's z (rows = y bins).
 */
export function histogram2d(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  cells: Int32Array,
  from: number,
  to: number,
  xBins: IBinning,
  yBins: IBinning
): Uint32Array {
  const nx = xBins.count;
  const counts = new Uint32Array(nx * yBins.count);
  for (let k = from; k < to; k++) {
    const cell = cells[k];
    counts[binOf(y[cell], yBins) * nx + binOf(x[cell], xBins)] += 1;
  }
  return counts;
}

/**
 * Histogram of values[cell] for cells[from..to) as fractions of the values counted;
 * with `skipZeros`, exact zeros are left out (and counted in `zeros`).
 */
export function histogram1d(
  values: ArrayLike<number>,
  cells: Int32Array,
  from: number,
  to: number,
  bins: IBinning,
  skipZeros: boolean
): { fraction: Float64Array; counted: number; zeros: number } {
  const fraction = new Float64Array(bins.count);
  let counted = 0;
  let zeros = 0;
  for (let k = from; k < to; k++) {
    const v = values[cells[k]];
    if (v === 0) {
      zeros++;
      if (skipZeros) {
        continue;
      }
    }
    fraction[binOf(v, bins)] += 1;
    counted++;
  }
  if (counted > 0) {
    for (let b = 0; b < fraction.length; b++) {
      fraction[b] /= counted;
    }
  }
  return { fraction, counted, zeros };
}

/** counts (ny rows of nx) transposed to nx rows of ny: the bins of swapped axes. */
export function transposeCounts(
  counts: Uint32Array,
  nx: number,
  ny: number
): Uint32Array {
  const out = new Uint32Array(counts.length);
  for (let iy = 0; iy < ny; iy++) {
    for (let ix = 0; ix < nx; ix++) {
      out[ix * ny + iy] = counts[iy * nx + ix];
    }
  }
  return out;
}
