/** The faceted dual scatter (or binned density), with its marginals. */
import { escapeLabel } from '../heatmap/figure';
import type { PlotData, PlotLayout } from '../plotly';
import { categoryColors, missingCategoryColor } from '../palette';
import { IPlotTheme, markerOutline } from '../theme';
import {
  atCells,
  axisId,
  axisKey,
  baseLayout,
  emptyFigure,
  ICellFigure,
  PointCells,
  selectedIn,
  selectionStyle
} from './figureParts';
import { IDualModel } from './model';
import { HOVER_TEXT_LIMIT, PointHover } from './pointHover';
import { facetGeometry, facetTitle } from './scatterFacets';
import { densityTrace, marginalTraces, maxOf } from './scatterTraces';

export interface IDualFigureOptions {
  theme: IPlotTheme;
  /** Per cell, 1 = selected: others are faded (null: no selection). */
  selected?: Uint8Array | null;
  /** Title line (defaults to the genes and the matrix). */
  title?: string;
  /** Height of one facet in pixels. */
  panelHeight?: number;
}

/** The right margin of a density view: its colour bar, tick labels up to "1,000,000", title. */
const COLORBAR_MARGIN = 110;

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
