/** The colour scale of the heatmap: its kind, range and label. */
import { RowScaling } from '../../compute/scale';
import { Cell, HeatmapValue, IColorScale } from './modelTypes';

export function colorScale(
  color: Cell[][],
  scaling: RowScaling,
  clip: number | null,
  value: HeatmapValue
): IColorScale {
  const quantity =
    value === 'fraction'
      ? 'fraction expressing'
      : value === 'linear_mean'
        ? 'linear-space mean'
        : 'mean';
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of color) {
    for (const v of row) {
      if (v !== null && Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  const extent = Number.isFinite(lo) ? Math.max(Math.abs(lo), Math.abs(hi)) : 0;
  if (scaling === 'zscore') {
    const bound = clip ?? (extent > 0 ? extent : 1);
    return {
      kind: 'diverging',
      min: -bound,
      max: bound,
      label:
        clip === null
          ? `z-score of ${quantity}`
          : `z-score of ${quantity} (clipped ±${clip})`
    };
  }
  if (scaling === 'minmax') {
    return {
      kind: 'sequential',
      min: 0,
      max: 1,
      label: `${quantity}, scaled 0–1 per gene`
    };
  }
  const label =
    value === 'fraction'
      ? 'fraction of cells expressing (> 0)'
      : value === 'linear_mean'
        ? 'mean expression, linear space: log1p(mean(expm1(x)))'
        : 'mean expression';
  if (value === 'fraction') {
    return { kind: 'sequential', min: 0, max: 1, label };
  }
  if (lo < 0 && hi > 0) {
    // Scaled or integrated values: centre on 0
    return { kind: 'diverging', min: -extent, max: extent, label };
  }
  if (!Number.isFinite(lo)) {
    return { kind: 'sequential', min: 0, max: 1, label };
  }
  const min = Math.min(0, lo);
  return { kind: 'sequential', min, max: hi > min ? hi : min + 1, label };
}
