/** From a Plotly selection on a dual-expression figure to cells: point maps and binned regions. */
import type { IPlotSelection } from '../plotly';
import { axisId, ICellRegion, PointCells } from './figureParts';
import { IDualModel } from './model';

/** The cells a view draws binned, per pair of axes (none when it draws points). */
export function binnedRegions(
  model: IDualModel,
  view: 'scatter' | 'blend'
): ICellRegion[] {
  if (view === 'blend') {
    const blend = model.blend;
    const dims = model.embedding?.dims;
    return blend?.raster && dims
      ? [{ xaxis: 'x', yaxis: 'y', cells: blend.cells, x: dims[0], y: dims[1] }]
      : [];
  }
  const { x, y, points } = model;
  if (!model.density.on || !x || !y) {
    return [];
  }
  return model.facets.map((facet, f) => ({
    xaxis: axisId('x', f + 1),
    yaxis: axisId('y', f + 1),
    cells: points.cells.subarray(facet.start, facet.end),
    x,
    y
  }));
}

/**
 * Cells inside a box or lasso drawn on a binned view (Plotly reports the shape on each
 * pair of axes it covers).
 */
export function regionCells(
  regions: readonly ICellRegion[],
  selection: IPlotSelection,
  selected: Uint8Array
): void {
  for (const region of regions) {
    const box = selection.range;
    const lasso = selection.lasso;
    if (box?.[region.xaxis] && box[region.yaxis]) {
      const [x0, x1] = box[region.xaxis];
      const [y0, y1] = box[region.yaxis];
      const { x, y, cells } = region;
      for (let k = 0; k < cells.length; k++) {
        const cell = cells[k];
        if (x[cell] >= x0 && x[cell] <= x1 && y[cell] >= y0 && y[cell] <= y1) {
          selected[cell] = 1;
        }
      }
    } else if (lasso?.[region.xaxis] && lasso[region.yaxis]) {
      cellsInPolygon(
        region,
        lasso[region.xaxis],
        lasso[region.yaxis],
        selected
      );
    }
  }
}

/** Even-odd rule, after a bounding-box test (most cells of a million fail that cheaply). */
function cellsInPolygon(
  region: ICellRegion,
  px: readonly number[],
  py: readonly number[],
  selected: Uint8Array
): void {
  const m = Math.min(px.length, py.length);
  if (m < 3) {
    return;
  }
  const minX = Math.min(...px);
  const maxX = Math.max(...px);
  const minY = Math.min(...py);
  const maxY = Math.max(...py);
  const { x, y, cells } = region;
  for (let k = 0; k < cells.length; k++) {
    const cx = x[cells[k]];
    const cy = y[cells[k]];
    if (cx < minX || cx > maxX || cy < minY || cy > maxY) {
      continue;
    }
    let inside = false;
    for (let i = 0, j = m - 1; i < m; j = i++) {
      if (
        py[i] > cy !== py[j] > cy &&
        cx < ((px[j] - px[i]) * (cy - py[i])) / (py[j] - py[i]) + px[i]
      ) {
        inside = !inside;
      }
    }
    if (inside) {
      selected[cells[k]] = 1;
    }
  }
}

/**
 * Cells selected by a Plotly selection: its points ([curveNumber, pointIndex] pairs) and,
 * on binned views, the cells inside its box or lasso. Null when it picked no cell.
 */
export function selectionToCells(
  pointCells: PointCells,
  regions: readonly ICellRegion[],
  selection: IPlotSelection,
  nCells: number
): Uint8Array | null {
  const selected = new Uint8Array(nCells);
  for (const [trace, point] of selection.points) {
    const cells = pointCells[trace];
    if (cells && point >= 0 && point < cells.length) {
      selected[cells[point]] = 1;
    }
  }
  regionCells(regions, selection, selected);
  return selected.includes(1) ? selected : null;
}
