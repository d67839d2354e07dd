/**
 * Row scaling of a genes × columns matrix for heatmaps and dot plots.
 *
 * - 'none': values as given.
 * - 'zscore': per gene, (x − mean) / sd across columns with the sample sd (n − 1), then
 *   clipped to ±clip (default 2.5). This is Seurat's DotPlot: R's `scale()` per feature
 *   (sample sd) followed by `MinMax(min = col.min = −2.5, max = col.max = 2.5)`.
 * - 'minmax': per gene, (x − min) / (max − min) to 0–1, as scanpy's
 *   `standard_scale='var'` (scanpy fills the 0/0 of constant genes with 0).
 *
 * NaN (masked) columns take no part in the statistics and stay NaN. Rows that are
 * constant over their finite columns (or have fewer than two of them) have no spread to
 * scale: they become 0 and are flagged in `constantRows` so the UI can say so.
 */
import { IMatrix } from './aggregate';

export type RowScaling = 'none' | 'zscore' | 'minmax';

export interface IScaleOptions {
  /** z-scores are clipped to ±clip; null for no clipping. Default 2.5. */
  clip?: number | null;
}

export interface IScaledMatrix extends IMatrix {
  /** 1 where the row had no spread to scale (set to 0 instead). */
  constantRows: Uint8Array;
}

export const DEFAULT_ZSCORE_CLIP = 2.5;

export function scaleRows(
  matrix: IMatrix,
  method: RowScaling,
  options: IScaleOptions = {}
): IScaledMatrix {
  const { nRows, nCols } = matrix;
  const clip = options.clip === undefined ? DEFAULT_ZSCORE_CLIP : options.clip;
  const data = Float64Array.from(matrix.data);
  const constantRows = new Uint8Array(nRows);
  if (method === 'none') {
    return { nRows, nCols, data, constantRows };
  }
  for (let r = 0; r < nRows; r++) {
    const row = data.subarray(r * nCols, (r + 1) * nCols);
    const scaled =
      method === 'zscore' ? zscoreInPlace(row, clip) : minmaxInPlace(row);
    if (!scaled) {
      constantRows[r] = 1;
      for (let c = 0; c < nCols; c++) {
        if (!Number.isNaN(row[c])) {
          row[c] = 0;
        }
      }
    }
  }
  return { nRows, nCols, data, constantRows };
}

/** z-score one row in place over its non-NaN entries; false if it has no spread. */
function zscoreInPlace(row: Float64Array, clip: number | null): boolean {
  let count = 0;
  let sum = 0;
  for (const v of row) {
    if (!Number.isNaN(v)) {
      count += 1;
      sum += v;
    }
  }
  if (count < 2) {
    return false;
  }
  const mean = sum / count;
  let sumSquares = 0;
  for (const v of row) {
    if (!Number.isNaN(v)) {
      sumSquares += (v - mean) * (v - mean);
    }
  }
  const sd = Math.sqrt(sumSquares / (count - 1));
  if (!(sd > 0)) {
    return false;
  }
  for (let c = 0; c < row.length; c++) {
    if (!Number.isNaN(row[c])) {
      const z = (row[c] - mean) / sd;
      row[c] = clip === null ? z : Math.min(clip, Math.max(-clip, z));
    }
  }
  return true;
}

/** Min–max one row in place to 0–1 over its non-NaN entries; false if constant. */
function minmaxInPlace(row: Float64Array): boolean {
  let min = Infinity;
  let max = -Infinity;
  for (const v of row) {
    if (!Number.isNaN(v)) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
  }
  const range = max - min;
  if (!(range > 0)) {
    return false;
  }
  for (let c = 0; c < row.length; c++) {
    if (!Number.isNaN(row[c])) {
      row[c] = (row[c] - min) / range;
    }
  }
  return true;
}
