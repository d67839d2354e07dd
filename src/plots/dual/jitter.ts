/** Display-only jitter of exact zeros, per gene and seed (survives a swap). */
import { hash32 } from '../../compute/rng';

/** Per-gene salt: the jitter of a value depends on its gene, not on its axis (swaps). */
export function jitterSalt(gene: string, seed: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < gene.length; i++) {
    h = Math.imul(h ^ gene.charCodeAt(i), 0x01000193) >>> 0;
  }
  return hash32((h ^ hash32(seed >>> 0)) >>> 0);
}

/** A uniform number in [−1, 1) from the cell's hash and the gene's salt. */
export function jitterUnit(cellHash: number, salt: number): number {
  return (2 * hash32((cellHash ^ salt) >>> 0)) / 4294967296 - 1;
}

/** The zero jitter of `values` at each cell (0 where the value is not 0). */
export function zeroJitter(
  values: Float32Array,
  cells: Int32Array,
  gene: string,
  seed: number,
  halfWidth: number
): Float32Array {
  const salt = jitterSalt(gene, seed);
  const out = new Float32Array(cells.length);
  for (let k = 0; k < cells.length; k++) {
    if (values[cells[k]] === 0) {
      out[k] = halfWidth * jitterUnit(hash32(cells[k]), salt);
    }
  }
  return out;
}
