/**
 * The median of an array by selection (quickselect), not by sorting: the dual view places
 * each cluster's label at the median of its cells on the embedding, and sorting a
 * million coordinates (`Float64Array.prototype.sort`) took ~160 ms of every build.
 */

/**
 * The median of finite `values`, reordering them in place (NaN for none). Equal to the
 * middle of the sorted values (the mean of the two middle ones for an even count), to
 * the last bit (a zero may come out as −0): selection only reorders, the arithmetic is
 * the same.
 */
export function medianInPlace(values: Float64Array): number {
  const n = values.length;
  if (n === 0) {
    return NaN;
  }
  const middle = n >> 1;
  const upper = selectInPlace(values, middle);
  if (n % 2 === 1) {
    return upper;
  }
  // Everything before `middle` is ≤ upper: the largest of them is the lower middle
  let lower = values[0];
  for (let i = 1; i < middle; i++) {
    if (values[i] > lower) {
      lower = values[i];
    }
  }
  return (lower + upper) / 2;
}

/**
 * The k-th smallest of `values` (0-based), placed at k with smaller or equal values
 * before it and larger or equal ones after (Hoare partitions around a median of three).
 * Ranges that keep failing to shrink fast are sorted instead, so adversarial orders
 * cost O(n log n), not O(n²).
 */
export function selectInPlace(values: Float64Array, k: number): number {
  if (!(k >= 0 && k < values.length)) {
    throw new RangeError(
      `selectInPlace: index ${k} outside 0…${values.length - 1}`
    );
  }
  let lo = 0;
  let hi = values.length - 1;
  // Each partition should at least halve the range on average: past this many, sort
  let budget = 2 * Math.ceil(Math.log2(values.length + 1)) + 8;
  while (hi > lo) {
    if (budget-- === 0) {
      values.subarray(lo, hi + 1).sort();
      return values[k];
    }
    const pivot = medianOfThree(values[lo], values[(lo + hi) >> 1], values[hi]);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) {
        i++;
      }
      while (values[j] > pivot) {
        j--;
      }
      if (i <= j) {
        const swap = values[i];
        values[i] = values[j];
        values[j] = swap;
        i++;
        j--;
      }
    }
    // Now [lo, j] ≤ pivot, (j, i) = pivot, [i, hi] ≥ pivot
    if (k <= j) {
      hi = j;
    } else if (k >= i) {
      lo = i;
    } else {
      return values[k];
    }
  }
  return values[k];
}

function medianOfThree(a: number, b: number, c: number): number {
  if (a < b) {
    return b < c ? b : a < c ? c : a;
  }
  return a < c ? a : b < c ? c : b;
}
