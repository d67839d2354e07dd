/** Traces of the dual scatter besides its points: the density bins and the marginals. */
import { escapeLabel } from '../heatmap/figure';
import type { PlotData } from '../plotly';
import { IPlotTheme, SEQUENTIAL_SCALE } from '../theme';
import { binCentre } from './binning';
import { axisId } from './figureParts';
import { IDualFacet, IDualModel } from './model';

export function maxOf(counts: Uint32Array | null): number {
  let max = 0;
  if (counts) {
    for (let i = 0; i < counts.length; i++) {
      max = counts[i] > max ? counts[i] : max;
    }
  }
  return max;
}

/**
 * A facet's binned counts as a heatmap of log10(count) (empty bins blank). Every facet
 * uses the same zmax, so one colour bar (on the first) holds for all.
 */
export function densityTrace(
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

export function marginalTraces(
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

function withAlpha(hex: string, alpha: number): string {
  const value = hex.replace('#', '');
  const [r, g, b] = [0, 2, 4].map(i => parseInt(value.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}
