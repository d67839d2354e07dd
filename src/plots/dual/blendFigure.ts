/** The embedding coloured by the blend of the two genes, with its colour key. */
import { escapeLabel } from '../heatmap/figure';
import type { PlotData, PlotLayout } from '../plotly';
import { IPlotTheme, markerOutline } from '../theme';
import { blendColorscale, blendCorners } from './blend';
import { blendRasterTrace } from './blendRaster';
import {
  atCells,
  baseLayout,
  emptyFigure,
  formatValue,
  ICellFigure,
  PointCells,
  selectedIn,
  selectionStyle
} from './figureParts';
import { IClusterLabel, IDualModel } from './model';
import { HOVER_TEXT_LIMIT, PointHover } from './pointHover';

export interface IBlendFigureOptions {
  theme: IPlotTheme;
  selected?: Uint8Array | null;
  title?: string;
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
