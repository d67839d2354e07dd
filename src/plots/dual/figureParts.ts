/**
 * Pieces shared by the dual-expression figures: the point-to-cell types, number formats,
 * axis names, the base layout, the selection styling of points and the empty figure.
 */
import { escapeLabel } from '../heatmap/figure';
import type { IFigure, PlotData, PlotLayout } from '../plotly';
import { IPlotTheme } from '../theme';
import { IDualModel } from './model';

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

const UNSELECTED_OPACITY = 0.08;

export function fixed2(v: number): string {
  const text = v.toFixed(2);
  return text === '-0.00' ? '0.00' : text;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** Values as users read them: integers whole, others with 4 significant digits. */
export function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

export function axisId(letter: 'x' | 'y', n: number): string {
  return n === 1 ? letter : `${letter}${n}`;
}

export function axisKey(letter: 'x' | 'y', n: number): string {
  return n === 1 ? `${letter}axis` : `${letter}axis${n}`;
}

export function baseLayout(theme: IPlotTheme, title: string): PlotLayout {
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

/** The values of these cells, from values over all cells (the input's genes or embedding). */
export function atCells(
  values: ArrayLike<number>,
  cells: Int32Array
): Float32Array {
  const out = new Float32Array(cells.length);
  for (let k = 0; k < cells.length; k++) {
    out[k] = values[cells[k]];
  }
  return out;
}

/** The selected cells among cells[from, to), in that order. */
export function selectedIn(
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
export function selectionStyle(
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

/** A figure without data that says why (the first relevant note). */
export function emptyFigure(
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
