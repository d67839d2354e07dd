/** The facets of the dual scatter: their titles and their places on the grid. */
import { escapeLabel } from '../heatmap/figure';
import { fixed2, formatCount } from './figureParts';
import {
  groupingDrivesPooled,
  IDualFacet,
  IDualModel,
  NOT_COMPUTED
} from './model';

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
export function facetGeometry(
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
