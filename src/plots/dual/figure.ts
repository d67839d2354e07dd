/**
 * Plotly figures of a dual-expression model: the faceted scatter (or binned density)
 * and the blend-coloured embedding, plus the statistics table. Pure: model + theme in,
 * figure out.
 *
 * Points are handed to Plotly as typed-array views of the model (no per-point objects).
 * Each figure comes with `pointCells`: for trace t of `figure.data`, the cell index of
 * each of its points (null for traces that are not cells), which turns a Plotly
 * selection ([curveNumber, pointIndex] pairs) into cells and back
 * (`selectionToCells`, and `selected` → `selectedpoints` here). Binned views (the
 * density scatter, the blend raster) have no points: `binnedRegions` gives the cells
 * drawn on each pair of axes, so that a lasso or box there still selects cells. It is
 * read from the model when a selection is made: figures do not hold per-cell arrays
 * (a view keeps its previous figure a while, which must not keep a million cells).
 */
export { blendEmbeddingFigure, keyAxisTitle, keyValue } from './blendFigure';
export type { IBlendFigureOptions } from './blendFigure';
export { rasterDrawing } from './blendRaster';
export type { ICellFigure, ICellRegion, PointCells } from './figureParts';
export {
  binnedRegions,
  regionCells,
  selectionToCells
} from './figureSelection';
export { HOVER_TEXT_LIMIT } from './pointHover';
export { facetTitle, TITLE_GROUPS } from './scatterFacets';
export { dualScatterFigure } from './scatterFigure';
export type { IDualFigureOptions } from './scatterFigure';
export {
  FEW_CELLS,
  formatCorrelation,
  formatP,
  statsTableRows
} from './statsTable';
export type { IStatsTableRow } from './statsTable';
