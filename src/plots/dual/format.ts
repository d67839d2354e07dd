/** Formatting helpers of the dual model's notes and reasons. */

export function fmtR(r: number): string {
  const text = r.toFixed(2);
  return text === '-0.00' ? '0.00' : text;
}

// ---------------------------------------------------------------------------------------

/** The two items ordered by name (notes about a gene pair must not depend on the axes). */
export function byName<T>(
  a: T,
  b: T,
  name: (item: T) => string = String
): [T, T] {
  return name(a) <= name(b) ? [a, b] : [b, a];
}

export function allNaN(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isNaN(values[i])) {
      return false;
    }
  }
  return values.length > 0;
}

export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

export function fmtNum(v: number): string {
  return Number(v.toPrecision(2)).toString();
}
