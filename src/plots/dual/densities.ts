/** Density bins (memoised per kept cells) and marginal histograms per facet. */
import { histogram1d, IBinning } from './binning';
import { DualMemo } from './memo';
import { IDualAxis, IDualMarginals } from './modelTypes';

export function memoDensities(
  memo: DualMemo,
  kept: Int32Array,
  key: readonly unknown[],
  count: () => Uint32Array[]
): Uint32Array[] {
  const text = JSON.stringify(key);
  let entries = memo.densities.get(kept);
  const hit = entries?.get(text);
  if (hit) {
    return hit;
  }
  const densities = count();
  if (!entries || entries.size >= DualMemo.CELLS_PER_ARRAY) {
    entries = new Map();
    memo.densities.set(kept, entries);
  }
  entries.set(text, densities);
  return densities;
}

export function facetMarginals(
  x: Float32Array,
  y: Float32Array,
  cells: Int32Array,
  segments: Int32Array,
  bins: { x: IBinning; y: IBinning },
  axisX: IDualAxis,
  axisY: IDualAxis
): IDualMarginals {
  const nG = segments.length - 1;
  const result: IDualMarginals = {
    x: [],
    y: [],
    zerosX: new Float64Array(nG),
    zerosY: new Float64Array(nG)
  };
  for (let g = 0; g < nG; g++) {
    const from = segments[g];
    const to = segments[g + 1];
    const n = to - from;
    const hx = histogram1d(
      x,
      cells,
      from,
      to,
      bins.x,
      axisX.marginalSkipsZeros
    );
    const hy = histogram1d(
      y,
      cells,
      from,
      to,
      bins.y,
      axisY.marginalSkipsZeros
    );
    result.x.push(hx.fraction);
    result.y.push(hy.fraction);
    result.zerosX[g] = n > 0 ? hx.zeros / n : NaN;
    result.zerosY[g] = n > 0 ? hy.zeros / n : NaN;
  }
  return result;
}
