/** Hover text of the cells drawn as points in the dual-expression figures. */
import { escapeLabel } from '../heatmap/figure';
import type { PlotData } from '../plotly';
import { formatValue } from './figureParts';
import { IDualModel } from './model';

/** Above this many points, hover shows no per-cell text (building it costs, hover lags). */
export const HOVER_TEXT_LIMIT = 100_000;

/**
 * Hover of cell points: per-point text (cell id, exact values, dataset and cluster)
 * up to HOVER_TEXT_LIMIT points; above, the values Plotly knows, unless jitter moved
 * them (then only the group).
 */
export class PointHover {
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
