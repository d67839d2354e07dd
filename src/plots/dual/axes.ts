/** Axes of the dual plot and what kind of values a matrix holds. */
import { DualMemo } from './memo';
import { AXIS_PADDING, IDualAxis, JITTER_FRACTION } from './modelTypes';

export function axisOf(
  memo: DualMemo,
  gene: string,
  values: Float32Array | null
): IDualAxis {
  let hasNegative = values !== null ? memo.negatives.get(values) : false;
  if (hasNegative === undefined && values !== null) {
    hasNegative = false;
    for (let i = 0; i < values.length; i++) {
      if (values[i] < 0) {
        hasNegative = true;
        break;
      }
    }
    memo.negatives.set(values, hasNegative);
  }
  return {
    gene,
    min: 0,
    max: 1,
    range: [0, 1],
    jitter: 0,
    hasNegative: hasNegative === true,
    marginalSkipsZeros: hasNegative !== true
  };
}

export function extent(
  values: Float32Array | null,
  cells: Int32Array
): [number, number] | null {
  if (values === null || cells.length === 0) {
    return null;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < cells.length; k++) {
    const v = values[cells[k]];
    if (v < lo) {
      lo = v;
    }
    if (v > hi) {
      hi = v;
    }
  }
  return [lo, hi];
}

export function finishAxis(
  axis: IDualAxis,
  valueExtent: [number, number] | null,
  jitter: boolean
): void {
  const [lo, hi] = valueExtent ?? [0, 1];
  const span = hi > lo ? hi - lo : 1;
  axis.min = lo;
  axis.max = hi;
  axis.jitter = jitter ? JITTER_FRACTION * span : 0;
  const pad = hi > lo ? AXIS_PADDING * span : 0.5;
  axis.range = [lo - pad, hi + pad];
}

/** Largest value still read as log-normalised (log1p of counts per 10,000 stays below ~12). */
export const LOG_NORMALISED_MAX = 20;

/**
 * What a matrix's values are, from the values (the kernel does not say): negative values
 * are "scaled values" (scaled or integrated data); whole numbers only are "counts";
 * non-negative values up to LOG_NORMALISED_MAX are "log-normalised expression"; larger
 * ones plain "expression". Both genes are read (memoised per value array).
 */
export function valueKind(
  matrix: string | null,
  x: Float32Array | null,
  y: Float32Array | null,
  axisX: IDualAxis,
  axisY: IDualAxis,
  memo: DualMemo = new DualMemo()
): string {
  if (axisX.hasNegative || axisY.hasNegative) {
    return 'scaled values';
  }
  const arrays = [x, y].filter((v): v is Float32Array => v !== null);
  if (arrays.length > 0 && arrays.every(values => wholeNumbers(memo, values))) {
    return 'counts';
  }
  if (/counts/i.test(matrix ?? '')) {
    return 'expression';
  }
  const max = Math.max(axisX.max, axisY.max);
  return max <= LOG_NORMALISED_MAX ? 'log-normalised expression' : 'expression';
}

/** Whether every finite value is a whole number (NaN and infinities are skipped). */
export function wholeNumbers(memo: DualMemo, values: Float32Array): boolean {
  let whole = memo.wholeNumbers.get(values);
  if (whole === undefined) {
    whole = true;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v !== Math.floor(v) && Number.isFinite(v)) {
        whole = false;
        break;
      }
    }
    memo.wholeNumbers.set(values, whole);
  }
  return whole;
}
