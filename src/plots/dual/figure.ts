// Over 600 lines: scatter, embedding and statistics table figures share the facet layout and hover helpers; a split (figureParts / selection / table) is pending.
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
import { encodePalettePng, Rgba, toBase64 } from '../../export/png';
import { escapeLabel } from '../heatmap/figure';
import type { IFigure, IPlotSelection, PlotData, PlotLayout } from '../plotly';
import { categoryColors, missingCategoryColor } from '../palette';
import { IPlotTheme, markerOutline, SEQUENTIAL_SCALE } from '../theme';
import { binCentre } from './binning';
import { blendColorscale, blendCorners, blendRgbs } from './blend';
import {
  DualStatsSection,
  EMPTY_PIXEL,
  groupingDrivesPooled,
  IBlendRaster,
  IClusterLabel,
  IDualFacet,
  IDualModel,
  IDualStats,
  NOT_COMPUTED
} from './model';

/** Per trace of a figure, the cell of each point (null: the trace's points are not cells). */
export type PointCells = (Int32Array | null)[];

/**
 * Cells drawn binned on a pair of axes (Plotly axis ids "x", "y2"): cell c is at
 * (x[c], y[c]), the values the bins count (the input's, over all cells).
 */
export interface ICellRegion {
  xaxis: string;
  yaxis: string;
  cells: Int32Array;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

/** A figure and the map from its points to cells. */
export interface ICellFigure {
  figure: IFigure;
  pointCells: PointCells;
}

export interface IDualFigureOptions {
  theme: IPlotTheme;
  /** Per cell, 1 = selected: others are faded (null: no selection). */
  selected?: Uint8Array | null;
  /** Title line (defaults to the genes and the matrix). */
  title?: string;
  /** Height of one facet in pixels. */
  panelHeight?: number;
}

export interface IBlendFigureOptions {
  theme: IPlotTheme;
  selected?: Uint8Array | null;
  title?: string;
}

/** The right margin of a density view: its colour bar, tick labels up to "1,000,000", title. */
const COLORBAR_MARGIN = 110;

/** Above this many points, hover shows no per-cell text (building it costs, hover lags). */
export const HOVER_TEXT_LIMIT = 100_000;
const UNSELECTED_OPACITY = 0.08;

export function dualScatterFigure(
  model: IDualModel,
  options: IDualFigureOptions
): ICellFigure {
  const { theme } = options;
  const selected = options.selected ?? null;
  const title =
    options.title ??
    `${model.geneY} vs ${model.geneX}${model.matrix ? ` · ${model.matrix}` : ''}`;
  if (model.kept.length === 0) {
    return emptyFigure(model, theme, title);
  }
  const { points, facets } = model;
  const nFacets = facets.length;
  const nShown = points.cells.length;
  const colors = model.colorGroups.map(group =>
    group.missing
      ? missingCategoryColor(theme)
      : (categoryColors(model.colorCategories, theme).get(group.label) ??
        missingCategoryColor(theme))
  );
  const markerSize = nShown > 50_000 ? 2 : nShown > 5_000 ? 3 : 5;
  const opacity = nShown > 50_000 ? 0.5 : 0.75;
  const hover = new PointHover(model, nShown <= HOVER_TEXT_LIMIT);
  const geometry = facetGeometry(
    model,
    options.panelHeight ?? (nFacets > 4 ? 280 : 380)
  );

  const data: PlotData[] = [];
  const pointCells: PointCells = [];
  const inLegend = new Set<number>();
  const densityMax = model.density.on
    ? Math.max(1, ...facets.map(f => maxOf(f.density)))
    : 1;
  facets.forEach((facet, f) => {
    const xa = axisId('x', f + 1);
    const ya = axisId('y', f + 1);
    if (model.density.on) {
      data.push(densityTrace(model, facet, xa, ya, densityMax, f === 0, theme));
      pointCells.push(null);
      const chosen = selected
        ? selectedIn(points.cells, facet.start, facet.end, selected)
        : null;
      // Where the bins count them: at their values, not jittered
      if (chosen && chosen.cells.length > 0 && model.x && model.y) {
        data.push({
          type: 'scattergl',
          mode: 'markers',
          name: 'selected',
          legendgroup: 'selected',
          showlegend: !inLegend.has(-1),
          x: atCells(model.x, chosen.cells),
          y: atCells(model.y, chosen.cells),
          xaxis: xa,
          yaxis: ya,
          marker: { color: theme.font, size: 3, opacity: 0.9 },
          ...hover.trace(chosen.cells, 'selected', facet.label)
        } as PlotData);
        pointCells.push(chosen.cells);
        inLegend.add(-1);
      }
    } else if (points.x && points.y) {
      const { x: px, y: py } = points;
      model.colorGroups.forEach((group, g) => {
        const from = facet.segments[g];
        const to = facet.segments[g + 1];
        if (to === from) {
          return;
        }
        const cells = points.cells.subarray(from, to);
        data.push({
          type: 'scattergl',
          mode: 'markers',
          name: escapeLabel(group.label),
          legendgroup: `group-${g}`,
          showlegend: !inLegend.has(g),
          x: px.subarray(from, to),
          y: py.subarray(from, to),
          xaxis: xa,
          yaxis: ya,
          marker: {
            color: colors[g],
            size: markerSize,
            opacity,
            line: markerOutline(theme)
          },
          ...hover.trace(cells, group.label, facet.label),
          ...selectionStyle(cells, selected)
        } as PlotData);
        inLegend.add(g);
        pointCells.push(cells);
      });
    }
    if (model.marginals && facet.marginals) {
      for (const trace of marginalTraces(model, facet, f, colors, inLegend)) {
        data.push(trace);
        pointCells.push(null);
      }
    }
  });

  const layout: PlotLayout = {
    ...baseLayout(theme, title),
    height: geometry.height,
    // The density's colour bar in a margin made for it: a bar that pushes the margin
    // makes Plotly draw everything twice.
    margin: {
      l: 60,
      r: model.density.on ? COLORBAR_MARGIN : 20,
      t: geometry.top,
      b: 50
    },
    showlegend: data.some(trace => trace.showlegend),
    legend: { itemsizing: 'constant', tracegroupgap: 2 },
    annotations: facets.map((facet, f) => ({
      text: facetTitle(facet, model),
      xref: 'paper' as const,
      yref: 'paper' as const,
      x: (geometry.cells[f].x0 + geometry.cells[f].x1) / 2,
      y: geometry.cells[f].y1,
      xanchor: 'center' as const,
      yanchor: 'bottom' as const,
      showarrow: false,
      font: { size: 11, color: theme.font }
    })),
    uirevision: `dual|${model.geneX}|${model.geneY}|${model.options.facetBy}`
  };
  const axes = layout as Record<string, unknown>;
  facets.forEach((facet, f) => {
    const cell = geometry.cells[f];
    const grid = {
      showgrid: true,
      gridcolor: theme.grid,
      zeroline: false,
      linecolor: theme.grid,
      // Not 'hide past div' (Plotly's default here), which measures every tick label
      // after each draw: the margins hold them.
      ticklabeloverflow: 'allow',
      tickfont: { color: theme.font, size: theme.fontSize - 1 }
    };
    axes[axisKey('x', f + 1)] = {
      ...grid,
      domain: [cell.x0, cell.xMain],
      anchor: axisId('y', f + 1),
      range: model.axes.x.range.slice(),
      ...(f > 0 ? { matches: 'x' } : {}),
      ...(geometry.bottomOfColumn[f]
        ? { title: { text: escapeLabel(model.geneX), standoff: 4 } }
        : {})
    };
    axes[axisKey('y', f + 1)] = {
      ...grid,
      domain: [cell.y0, cell.yMain],
      anchor: axisId('x', f + 1),
      range: model.axes.y.range.slice(),
      ...(f > 0 ? { matches: 'y' } : {}),
      ...(facet.column === 0
        ? { title: { text: escapeLabel(model.geneY), standoff: 4 } }
        : {})
    };
    if (model.marginals) {
      const strip = { visible: false, rangemode: 'tozero', fixedrange: true };
      axes[axisKey('y', nFacets + f + 1)] = {
        ...strip,
        domain: [cell.yStrip, cell.y1],
        anchor: axisId('x', f + 1)
      };
      axes[axisKey('x', nFacets + f + 1)] = {
        ...strip,
        domain: [cell.xStrip, cell.x1],
        anchor: axisId('y', f + 1)
      };
    }
  });
  return { figure: { data, layout }, pointCells };
}

/** The embedding coloured by the two genes' blend, with its 2-D colour key. */
export function blendEmbeddingFigure(
  model: IDualModel,
  options: IBlendFigureOptions
): ICellFigure {
  const { theme } = options;
  const blend = model.blend;
  const corners = blendCorners(theme);
  const title =
    options.title ??
    (blend
      ? `${model.geneX} (red) and ${model.geneY} (blue) on ${blend.embedding}` +
        (model.matrix ? ` · ${model.matrix}` : '')
      : `${model.geneX} and ${model.geneY}`);
  if (!blend || blend.cells.length === 0) {
    return emptyFigure(model, theme, title, [
      'missing_genes',
      'no_cells',
      'no_embedding'
    ]);
  }
  const L = blend.levels;
  const colorscale = blendColorscale(theme, L);
  const n = blend.cells.length;
  const hover = new PointHover(model, n <= HOVER_TEXT_LIMIT);
  const levelOf = (code: number) => [code % L, Math.floor(code / L)];
  const selected = options.selected ?? null;
  const cellTraces: PlotData[] = [];
  const pointCells: PointCells = [];
  const embedding = model.embedding;
  if (blend.raster) {
    cellTraces.push(blendRasterTrace(model, blend.raster, L, theme));
    pointCells.push(null);
    const chosen = selected ? selectedIn(blend.cells, 0, n, selected) : null;
    if (chosen && chosen.cells.length > 0 && embedding) {
      cellTraces.push({
        type: 'scattergl',
        mode: 'markers',
        name: 'selected',
        showlegend: false,
        x: atCells(embedding.dims[0], chosen.cells),
        y: atCells(embedding.dims[1], chosen.cells),
        marker: { color: theme.font, size: 2, opacity: 0.9 },
        ...hover.trace(chosen.cells, 'selected', '')
      } as PlotData);
      pointCells.push(chosen.cells);
    }
  } else if (blend.x && blend.y && blend.code) {
    cellTraces.push({
      type: 'scattergl',
      mode: 'markers',
      name: 'cells',
      x: blend.x,
      y: blend.y,
      showlegend: false,
      marker: {
        color: blend.code,
        colorscale,
        cmin: -0.5,
        cmax: L * L - 0.5,
        showscale: false,
        size: n > 50_000 ? 2 : n > 5_000 ? 3 : 5,
        line: markerOutline(theme)
      },
      ...hover.trace(blend.cells, '', '', blend.code, levelOf),
      ...selectionStyle(blend.cells, selected)
    } as PlotData);
    pointCells.push(blend.cells);
  }
  const levelRange = (scale: { min: number; max: number }, level: number) => {
    const step = (scale.max - scale.min) / (L - 1);
    const lo = Math.max(scale.min, scale.min + (level - 0.5) * step);
    const hi = Math.min(scale.max, scale.min + (level + 0.5) * step);
    return `${formatValue(lo)}–${formatValue(hi)}`;
  };
  const levels = Array.from({ length: L }, (_, k) => k);
  const key: PlotData = {
    type: 'heatmap',
    name: 'colour key',
    x: levels,
    y: levels,
    z: levels.map(ly => levels.map(lx => lx + L * ly)) as any,
    zmin: -0.5,
    zmax: L * L - 0.5,
    colorscale,
    showscale: false,
    xaxis: 'x2',
    yaxis: 'y2',
    xgap: 1,
    ygap: 1,
    customdata: levels.map(ly =>
      levels.map(lx => [
        blend.counts[lx + L * ly],
        levelRange(blend.scaleX, lx),
        levelRange(blend.scaleY, ly)
      ])
    ) as any,
    hovertemplate:
      `${escapeLabel(model.geneX)} level %{x} (%{customdata[1]})<br>` +
      `${escapeLabel(model.geneY)} level %{y} (%{customdata[2]})<br>` +
      '%{customdata[0]:,} cells<extra></extra>'
  } as PlotData;
  const hidden = {
    showgrid: false,
    zeroline: false,
    showticklabels: false,
    ticks: '' as const
  };
  const layout: PlotLayout = {
    ...baseLayout(theme, title),
    height: 480,
    // r: room for the key's "both" label, right of its top corner
    margin: { l: 30, r: 44, t: 50, b: 40 },
    showlegend: false,
    xaxis: {
      ...hidden,
      domain: [0, 0.74],
      title: { text: escapeLabel(blend.dimLabels[0]) },
      linecolor: theme.grid
    },
    yaxis: {
      ...hidden,
      domain: [0, 1],
      // Upwards, also with the raster's picture (images turn Plotly's default downwards)
      autorange: true,
      scaleanchor: 'x',
      title: { text: escapeLabel(blend.dimLabels[1]) },
      linecolor: theme.grid
    },
    xaxis2: {
      domain: [0.8, 1],
      anchor: 'y2',
      range: [-0.5, L - 0.5],
      tickvals: [0, L - 1],
      ticktext: [keyValue(blend.scaleX.min), keyValue(blend.scaleX.max)],
      title: {
        text: keyAxisTitle(model.geneX, model.valueKind),
        font: { color: corners.geneX },
        standoff: 2
      },
      showgrid: false,
      zeroline: false,
      fixedrange: true
    },
    yaxis2: {
      domain: [0, 0.34],
      anchor: 'x2',
      range: [-0.5, L - 0.5],
      scaleanchor: 'x2',
      tickvals: [0, L - 1],
      ticktext: [keyValue(blend.scaleY.min), keyValue(blend.scaleY.max)],
      title: {
        text: keyAxisTitle(model.geneY, model.valueKind),
        font: { color: corners.geneY },
        standoff: 2
      },
      showgrid: false,
      zeroline: false,
      fixedrange: true
    },
    annotations: [
      {
        text: 'blend levels (0–9)',
        xref: 'x2 domain' as any,
        yref: 'y2 domain' as any,
        x: 0.5,
        y: 1.02,
        xanchor: 'center',
        yanchor: 'bottom',
        showarrow: false,
        font: { size: 11, color: theme.mutedFont }
      },
      // The corner where both genes are high
      {
        text: 'both',
        xref: 'x2',
        yref: 'y2',
        x: L - 1,
        y: L - 1,
        ax: 14,
        ay: -14,
        arrowhead: 0,
        arrowwidth: 1,
        arrowcolor: theme.mutedFont,
        xanchor: 'left',
        yanchor: 'bottom',
        showarrow: true,
        font: { size: 10, color: theme.font }
      },
      ...clusterAnnotations(blend.clusterLabels, theme)
    ] as PlotLayout['annotations'],
    uirevision: `blend|${blend.embedding}`
  };
  return {
    figure: { data: [...cellTraces, key], layout },
    pointCells: [...pointCells, null]
  };
}

/** Cluster names on the embedding, at each cluster's median (hover and clicks pass through). */
function clusterAnnotations(
  labels: readonly IClusterLabel[],
  theme: IPlotTheme
): NonNullable<PlotLayout['annotations']> {
  return labels.map(label => ({
    text: `<b>${escapeLabel(label.label)}</b>`,
    xref: 'x' as const,
    yref: 'y' as const,
    x: label.x,
    y: label.y,
    showarrow: false,
    captureevents: false,
    font: { size: 11, color: theme.font }
  }));
}

/**
 * A blend key's end value as users read it: two significant digits ("5.2", "0.31"), whole
 * numbers from 100 on ("1,234").
 */
export function keyValue(v: number): string {
  if (!Number.isFinite(v) || v === 0) {
    return Number.isFinite(v) ? '0' : '—';
  }
  if (Math.abs(v) >= 100) {
    return Math.round(v).toLocaleString('en-US');
  }
  return String(Number(v.toPrecision(2)));
}

/** A blend key axis: the gene, then what its values are ("log-normalised expression"). */
export function keyAxisTitle(gene: string, kind: string): string {
  return `${escapeLabel(gene)} →<br><span style="font-size:10px">${escapeLabel(kind)}</span>`;
}

/** The values of these cells, from values over all cells (the input's genes or embedding). */
function atCells(values: ArrayLike<number>, cells: Int32Array): Float32Array {
  const out = new Float32Array(cells.length);
  for (let k = 0; k < cells.length; k++) {
    out[k] = values[cells[k]];
  }
  return out;
}

/**
 * The raster as a picture: an `image` trace showing a PNG of its pixels (each cell on top
 * in its blend colour, empty pixels transparent), which Plotly only places. As a heatmap,
 * Plotly coloured the ~160,000 pixels itself on every draw (~50 ms of the UI thread).
 * Hover per pixel: the levels (one shared string per code) and the cells (views of the
 * raster's counts, one per row), nothing built per pixel.
 */
function blendRasterTrace(
  model: IDualModel,
  raster: IBlendRaster,
  L: number,
  theme: IPlotTheme
): PlotData {
  const { source, hovertext, customdata } = rasterDrawing(
    raster,
    L,
    theme,
    escapeLabel(model.geneX),
    escapeLabel(model.geneY)
  );
  return {
    type: 'image',
    name: 'cells',
    source,
    // Row 0 of the picture is the raster's lowest row: Plotly places row r at y0 + r · dy
    x0: binCentre(raster.x, 0),
    dx: raster.x.size,
    y0: binCentre(raster.y, 0),
    dy: raster.y.size,
    hovertext,
    customdata,
    hovertemplate:
      '%{customdata:,} cells in this pixel%{hovertext}<extra></extra>'
  } as unknown as PlotData;
}

interface IRasterDrawing {
  /** A data: URL of the PNG. */
  source: string;
  hovertext: string[][];
  customdata: Uint32Array[];
}

/**
 * The last drawing of each raster, by palette and gene labels. The same raster drawn again
 * (the kernel's correlations arrived, another theme's labels) gives the same arrays, which
 * Plotly then skips (shareUnchangedArrays finds them by reference).
 */
const rasterDrawings = new WeakMap<
  IBlendRaster,
  { key: string; drawing: IRasterDrawing }
>();

/** The raster's PNG (pixels in blend colours, empty pixels transparent) and hover arrays. */
export function rasterDrawing(
  raster: IBlendRaster,
  L: number,
  theme: IPlotTheme,
  geneX: string,
  geneY: string
): IRasterDrawing {
  const colors = blendRgbs(theme, L);
  const key = [colors.join(';'), geneX, geneY].join('\u0000');
  const known = rasterDrawings.get(raster);
  if (known?.key === key) {
    return known.drawing;
  }
  const palette: Rgba[] = Array.from({ length: 256 }, (_, index) =>
    index < colors.length ? [...colors[index], 255] : [0, 0, 0, 0]
  );
  const nx = raster.x.count;
  const png = encodePalettePng(nx, raster.y.count, raster.code, palette);
  const levelText = Array.from(
    { length: L * L },
    (_, code) =>
      `<br>${geneX} level ${code % L}, ${geneY} level ${Math.floor(code / L)} (cell on top)`
  );
  const hovertext: string[][] = [];
  const customdata: Uint32Array[] = [];
  for (let iy = 0; iy < raster.y.count; iy++) {
    const row: string[] = new Array(nx);
    for (let ix = 0; ix < nx; ix++) {
      const code = raster.code[iy * nx + ix];
      row[ix] = code === EMPTY_PIXEL ? '' : levelText[code];
    }
    hovertext.push(row);
    customdata.push(raster.count.subarray(iy * nx, (iy + 1) * nx));
  }
  const drawing = {
    source: `data:image/png;base64,${toBase64(png)}`,
    hovertext,
    customdata
  };
  rasterDrawings.set(raster, { key, drawing });
  return drawing;
}

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

// ---------------------------------------------------------------------------------------
// Statistics table

export interface IStatsTableRow {
  section: DualStatsSection;
  group: string;
  /** Cells correlated; "312 of 1,234" with detected-only. */
  nCells: string;
  /** r with its 95% Fisher-z interval: "0.42 [0.37, 0.47]". */
  pearson: string;
  pearsonP: string;
  /** ρ with its 95% bootstrap interval. */
  spearman: string;
  spearmanP: string;
  /** Share of the group's cells with both genes > 0 ("—" on data with negatives). */
  doublePositive: string;
  /** Why r / ρ are undefined, or ''. */
  note: string;
  /** The numbers behind the row (for CSV). */
  stats: IDualStats;
}

/** Rows per dataset, per cluster, then per facet when facets are something else. */
export function statsTableRows(model: IDualModel): IStatsTableRow[] {
  const negative = model.axes.x.hasNegative || model.axes.y.hasNegative;
  const rows = [
    ...model.stats.dataset,
    ...model.stats.cluster,
    ...model.stats.facet
  ];
  return rows.map(stats => ({
    section: stats.section,
    group: stats.label,
    nCells:
      stats.reason === NOT_COMPUTED
        ? formatCount(stats.nGroupCells)
        : model.options.detectedOnly
          ? `${formatCount(stats.nCells)} of ${formatCount(stats.nGroupCells)}`
          : formatCount(stats.nCells),
    pearson: formatCorrelation(
      stats.pearsonR,
      stats.pearsonCiLow,
      stats.pearsonCiHigh
    ),
    pearsonP: formatP(stats.pearsonP),
    spearman: formatCorrelation(
      stats.spearmanRho,
      stats.spearmanCiLow,
      stats.spearmanCiHigh
    ),
    spearmanP: formatP(stats.spearmanP),
    doublePositive:
      negative || Number.isNaN(stats.fracDoublePositive)
        ? '—'
        : `${(100 * stats.fracDoublePositive).toFixed(1)}%`,
    note: stats.reason ?? fewCellsNote(stats),
    stats
  }));
}

/**
 * Groups correlated over fewer cells than this get a note in the statistics table: their
 * 95% intervals are wide (at n = 15 a Pearson r of 0.3 spans about −0.25 to 0.70).
 */
export const FEW_CELLS = 30;

function fewCellsNote(stats: IDualStats): string {
  return stats.nCells > 0 && stats.nCells < FEW_CELLS
    ? `few cells (< ${FEW_CELLS}): wide interval`
    : '';
}

/** "0.42 [0.37, 0.47]"; "0.42" without an interval; "—" when undefined. */
export function formatCorrelation(
  r: number,
  low: number,
  high: number
): string {
  if (Number.isNaN(r)) {
    return '—';
  }
  if (Number.isNaN(low) || Number.isNaN(high)) {
    return fixed2(r);
  }
  return `${fixed2(r)} [${fixed2(low)}, ${fixed2(high)}]`;
}

/** p-values: two significant digits, scientific below 0.001. */
export function formatP(p: number): string {
  if (Number.isNaN(p)) {
    return '—';
  }
  if (p === 0 || p < 1e-300) {
    return '< 1e-300';
  }
  return p < 0.001 ? p.toExponential(1) : String(Number(p.toPrecision(2)));
}

// ---------------------------------------------------------------------------------------
// Pieces

function fixed2(v: number): string {
  const text = v.toFixed(2);
  return text === '-0.00' ? '0.00' : text;
}

function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** Values as users read them: integers whole, others with 4 significant digits. */
function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

function axisId(letter: 'x' | 'y', n: number): string {
  return n === 1 ? letter : `${letter}${n}`;
}

function axisKey(letter: 'x' | 'y', n: number): string {
  return n === 1 ? `${letter}axis` : `${letter}axis${n}`;
}

function baseLayout(theme: IPlotTheme, title: string): PlotLayout {
  return {
    title: { text: escapeLabel(title), font: { size: 13 }, x: 0 },
    paper_bgcolor: theme.background,
    plot_bgcolor: theme.background,
    font: { family: theme.fontFamily, color: theme.font, size: theme.fontSize },
    hoverlabel: { bgcolor: theme.background, font: { color: theme.font } },
    // Picking cells is the point of these views: dragging lassoes, the toolbar zooms.
    dragmode: 'lasso'
  };
}

/** Per-group r listed in a facet's title up to this many groups (a range beyond). */
export const TITLE_GROUPS = 4;

/**
 * A facet's title: its label, cells and correlations. A facet that pools several colour
 * groups leads with the r within each group ("r: ctrl 0.26 · stim 0.31", where the model
 * has them: the one-panel view) and labels its own number "pooled r"; when the grouping
 * drives the pooled r (`groupingDrivesPooled`) it says so.
 */
export function facetTitle(facet: IDualFacet, model: IDualModel): string {
  const s = facet.stats;
  const n = `n=${formatCount(s.reason === NOT_COMPUTED ? s.nGroupCells : s.nCells)}`;
  const head = `<b>${escapeLabel(facet.label)}</b>  ${n}`;
  if (s.reason !== null) {
    return `${head} · ${escapeLabel(s.reason)}`;
  }
  const own = `r=${fixed2(s.pearsonR)} · ρ=${fixed2(s.spearmanRho)}`;
  let nGroups = 0;
  for (let g = 0; g + 1 < facet.segments.length; g++) {
    nGroups += facet.segments[g + 1] > facet.segments[g] ? 1 : 0;
  }
  if (nGroups < 2) {
    return `${head} · ${own}`;
  }
  const pooled = `pooled ${own}`;
  const onePanel = facet.dataset === null && facet.cluster === null;
  const groups = onePanel
    ? model.options.colorBy === 'dataset'
      ? model.stats.dataset
      : model.stats.cluster
    : [];
  const defined = groups.filter(g => Number.isFinite(g.pearsonR));
  if (defined.length < 2) {
    return `${head} · ${pooled}`;
  }
  const rs = defined.map(g => g.pearsonR);
  const perGroup =
    defined.length <= TITLE_GROUPS
      ? `r: ${defined.map(g => `${escapeLabel(g.label)} ${fixed2(g.pearsonR)}`).join(' · ')}`
      : `r per ${model.options.colorBy} ${fixed2(Math.min(...rs))} to ${fixed2(Math.max(...rs))}`;
  const warning = groupingDrivesPooled(s.pearsonR, rs)
    ? `<br>pooled r is driven by the ${model.options.colorBy === 'dataset' ? 'datasets' : 'clusters'} (Simpson's paradox)`
    : '';
  return `${head} · ${perGroup} · ${pooled}${warning}`;
}

function maxOf(counts: Uint32Array | null): number {
  let max = 0;
  if (counts) {
    for (let i = 0; i < counts.length; i++) {
      max = counts[i] > max ? counts[i] : max;
    }
  }
  return max;
}

interface ICellGeometry {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  /** Right / top end of the main panel (the strips, if any, lie beyond). */
  xMain: number;
  yMain: number;
  xStrip: number;
  yStrip: number;
}

/** Paper domains of the facets on their grid (titles take the gap above each row). */
function facetGeometry(
  model: IDualModel,
  panelHeight: number
): {
  cells: ICellGeometry[];
  height: number;
  top: number;
  bottomOfColumn: boolean[];
} {
  const { rows, columns } = model.grid;
  const gapPx = 44;
  const plotHeight = rows * panelHeight + (rows - 1) * gapPx;
  const vgap = gapPx / plotHeight;
  const h = panelHeight / plotHeight;
  const hgap = columns > 1 ? 0.05 : 0;
  const w = (1 - (columns - 1) * hgap) / columns;
  const main = model.marginals ? 0.8 : 1;
  const strip = model.marginals ? 0.84 : 1;
  const taken = new Set(model.facets.map(f => `${f.row},${f.column}`));
  const cells = model.facets.map(facet => {
    const x0 = facet.column * (w + hgap);
    const y1 = 1 - facet.row * (h + vgap);
    const y0 = y1 - h;
    return {
      x0,
      x1: x0 + w,
      y0: Math.max(0, y0),
      y1,
      xMain: x0 + main * w,
      yMain: y0 + main * h,
      xStrip: x0 + strip * w,
      yStrip: y0 + strip * h
    };
  });
  const top = 60;
  return {
    cells,
    height: plotHeight + top + 50,
    top,
    bottomOfColumn: model.facets.map(
      f => !taken.has(`${f.row + 1},${f.column}`)
    )
  };
}

/** The selected cells among cells[from, to), in that order. */
function selectedIn(
  cells: Int32Array,
  from: number,
  to: number,
  selected: Uint8Array
): { cells: Int32Array } {
  let n = 0;
  for (let k = from; k < to; k++) {
    n += selected[cells[k]] ? 1 : 0;
  }
  const out = new Int32Array(n);
  n = 0;
  for (let k = from; k < to; k++) {
    if (selected[cells[k]]) {
      out[n++] = cells[k];
    }
  }
  return { cells: out };
}

/** Plotly's selection of a trace's points from the per-cell selection. */
function selectionStyle(
  cells: Int32Array,
  selected: Uint8Array | null
): Partial<PlotData> {
  if (!selected) {
    return {};
  }
  const chosen: number[] = [];
  for (let k = 0; k < cells.length; k++) {
    if (selected[cells[k]]) {
      chosen.push(k);
    }
  }
  return {
    selectedpoints: chosen,
    selected: { marker: { opacity: 1 } },
    unselected: { marker: { opacity: UNSELECTED_OPACITY } }
  } as Partial<PlotData>;
}

/**
 * A facet's binned counts as a heatmap of log10(count) (empty bins blank). Every facet
 * uses the same zmax, so one colour bar (on the first) holds for all.
 */
function densityTrace(
  model: IDualModel,
  facet: IDualFacet,
  xa: string,
  ya: string,
  maxCount: number,
  showscale: boolean,
  theme: IPlotTheme
): PlotData {
  const bx = model.density.x;
  const by = model.density.y;
  const counts = facet.density;
  if (!bx || !by || !counts) {
    throw new Error('densityTrace: the model has no density bins');
  }
  const z: (number | null)[][] = [];
  const customdata: number[][] = [];
  for (let iy = 0; iy < by.count; iy++) {
    const row: (number | null)[] = new Array(bx.count);
    const countRow: number[] = new Array(bx.count);
    for (let ix = 0; ix < bx.count; ix++) {
      const c = counts[iy * bx.count + ix];
      row[ix] = c > 0 ? Math.log10(c) : null;
      countRow[ix] = c;
    }
    z.push(row);
    customdata.push(countRow);
  }
  const ticks = Array.from(
    { length: Math.floor(Math.log10(maxCount)) + 1 },
    (_, k) => k
  );
  return {
    type: 'heatmap',
    name: `density ${escapeLabel(facet.label)}`,
    x0: binCentre(bx, 0),
    dx: bx.size,
    y0: binCentre(by, 0),
    dy: by.size,
    z: z as any,
    customdata: customdata as any,
    colorscale: SEQUENTIAL_SCALE,
    zmin: 0,
    zmax: Math.max(Math.log10(maxCount), 1e-9),
    showscale,
    ...(showscale
      ? {
          colorbar: {
            // Against the plot, inside the margin kept for it (not Plotly's x = 1.02)
            x: 1,
            xanchor: 'left',
            xpad: 10,
            ticklabeloverflow: 'allow',
            title: { text: 'cells per bin', side: 'right' },
            tickvals: ticks,
            ticktext: ticks.map(k => (10 ** k).toLocaleString('en-US')),
            thickness: 12,
            outlinewidth: 0,
            tickfont: { color: theme.font }
          }
        }
      : {}),
    hoverongaps: false,
    xaxis: xa,
    yaxis: ya,
    showlegend: false,
    hovertemplate:
      `${escapeLabel(model.geneX)} ≈ %{x:.3~g}, ${escapeLabel(model.geneY)} ≈ %{y:.3~g}<br>` +
      `%{customdata:,} cells<extra>${escapeLabel(facet.label)}</extra>`
  } as PlotData;
}

function marginalTraces(
  model: IDualModel,
  facet: IDualFacet,
  f: number,
  colors: string[],
  inLegend: Set<number>
): PlotData[] {
  const bins = model.marginals;
  const marginals = facet.marginals;
  if (!bins || !marginals) {
    return [];
  }
  const centresX = Array.from({ length: bins.x.count }, (_, k) =>
    binCentre(bins.x, k)
  );
  const centresY = Array.from({ length: bins.y.count }, (_, k) =>
    binCentre(bins.y, k)
  );
  const nFacets = model.facets.length;
  const traces: PlotData[] = [];
  const zeros = (skip: boolean, share: number, gene: string) =>
    skip && !Number.isNaN(share)
      ? `<br>${(100 * share).toFixed(1)}% of its cells have ${escapeLabel(gene)} = 0 (not binned)`
      : '';
  model.colorGroups.forEach((group, g) => {
    if (facet.segments[g + 1] === facet.segments[g]) {
      return;
    }
    const label = escapeLabel(group.label);
    const line = { color: colors[g], width: 1.2 };
    const fillcolor = withAlpha(colors[g], 0.15);
    const common = {
      type: 'scatter',
      mode: 'lines',
      name: label,
      legendgroup: `group-${g}`,
      fillcolor,
      line
    };
    const showlegend = model.density.on && !inLegend.has(g);
    inLegend.add(g);
    traces.push({
      ...common,
      showlegend,
      x: centresX,
      y: Array.from(marginals.x[g]),
      xaxis: axisId('x', f + 1),
      yaxis: axisId('y', nFacets + f + 1),
      line: { ...line, shape: 'hvh' },
      fill: 'tozeroy',
      hovertemplate:
        `${label}: %{y:.1%} of ${model.axes.x.marginalSkipsZeros ? 'non-zero ' : ''}values` +
        ` at ${escapeLabel(model.geneX)} ≈ %{x:.3~g}` +
        zeros(
          model.axes.x.marginalSkipsZeros,
          marginals.zerosX[g],
          model.geneX
        ) +
        '<extra></extra>'
    } as PlotData);
    traces.push({
      ...common,
      showlegend: false,
      x: Array.from(marginals.y[g]),
      y: centresY,
      xaxis: axisId('x', nFacets + f + 1),
      yaxis: axisId('y', f + 1),
      line: { ...line, shape: 'vhv' },
      fill: 'tozerox',
      hovertemplate:
        `${label}: %{x:.1%} of ${model.axes.y.marginalSkipsZeros ? 'non-zero ' : ''}values` +
        ` at ${escapeLabel(model.geneY)} ≈ %{y:.3~g}` +
        zeros(
          model.axes.y.marginalSkipsZeros,
          marginals.zerosY[g],
          model.geneY
        ) +
        '<extra></extra>'
    } as PlotData);
  });
  return traces;
}

/**
 * Hover of cell points: per-point text (cell id, exact values, dataset and cluster)
 * up to HOVER_TEXT_LIMIT points; above, the values Plotly knows, unless jitter moved
 * them (then only the group).
 */
class PointHover {
  constructor(
    private readonly model: IDualModel,
    private readonly perPoint: boolean
  ) {
    const escape = (labels: readonly string[], missing: string) => [
      ...labels.map(escapeLabel),
      missing
    ];
    this.datasets = escape(model.dataset.categories, '(no dataset)');
    this.clusters = escape(model.cluster.categories, '(no cluster)');
    this.geneX = escapeLabel(model.geneX);
    this.geneY = escapeLabel(model.geneY);
  }

  trace(
    cells: Int32Array,
    group: string,
    facet: string,
    codes?: Uint8Array,
    levelOf?: (code: number) => number[]
  ): Partial<PlotData> {
    const { model } = this;
    const x = model.x;
    const y = model.y;
    if (!this.perPoint || x === null || y === null) {
      const where = [group, facet].filter(Boolean).map(escapeLabel).join(' · ');
      return model.options.jitter || codes
        ? ({ hovertemplate: `${where}<extra></extra>` } as Partial<PlotData>)
        : ({
            hovertemplate:
              `${this.geneX}: %{x:.4~g}<br>${this.geneY}: %{y:.4~g}` +
              `<br>${where}<extra></extra>`
          } as Partial<PlotData>);
    }
    const ids = model.cellIds;
    const dCodes = model.dataset.codes;
    const cCodes = model.cluster.codes;
    const nD = model.dataset.categories.length;
    const nK = model.cluster.categories.length;
    const text: string[] = new Array(cells.length);
    for (let k = 0; k < cells.length; k++) {
      const cell = cells[k];
      const id = ids?.at(cell);
      const name =
        id === undefined
          ? `cell ${cell}`
          : /[<>&]/.test(id)
            ? escapeLabel(id)
            : id;
      const d = dCodes[cell] >= 0 && dCodes[cell] < nD ? dCodes[cell] : nD;
      const c = cCodes[cell] >= 0 && cCodes[cell] < nK ? cCodes[cell] : nK;
      let levels = ['', ''];
      if (codes && levelOf) {
        const [lx, ly] = levelOf(codes[k]);
        levels = [` (level ${lx})`, ` (level ${ly})`];
      }
      text[k] =
        `<b>${name}</b><br>${this.geneX}: ${formatValue(x[cell])}${levels[0]}` +
        `<br>${this.geneY}: ${formatValue(y[cell])}${levels[1]}` +
        `<br>${this.datasets[d]} · ${this.clusters[c]}`;
    }
    return {
      text,
      hovertemplate: '%{text}<extra></extra>'
    } as Partial<PlotData>;
  }

  private readonly datasets: string[];
  private readonly clusters: string[];
  private readonly geneX: string;
  private readonly geneY: string;
}

function withAlpha(hex: string, alpha: number): string {
  const value = hex.replace('#', '');
  const [r, g, b] = [0, 2, 4].map(i => parseInt(value.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

/** A figure without data that says why (the first relevant note). */
function emptyFigure(
  model: IDualModel,
  theme: IPlotTheme,
  title: string,
  kinds: string[] = ['missing_genes', 'no_cells']
): ICellFigure {
  const note =
    model.notes.find(n => kinds.includes(n.kind)) ??
    model.notes.find(n => n.kind === 'no_cells');
  return {
    figure: {
      data: [],
      layout: {
        ...baseLayout(theme, title),
        height: 320,
        xaxis: { visible: false },
        yaxis: { visible: false },
        annotations: [
          {
            text: escapeLabel(note?.message ?? 'Nothing to show.'),
            xref: 'paper',
            yref: 'paper',
            x: 0.5,
            y: 0.5,
            showarrow: false,
            font: { color: theme.mutedFont }
          }
        ]
      }
    },
    pointCells: []
  };
}
