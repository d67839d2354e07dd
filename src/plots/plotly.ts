/**
 * Plotly, loaded on first use: the bundle is large (~4.6 MB) and most sessions open the
 * sidebar long before they draw anything, so it lives in its own lazily fetched chunk.
 */
import type * as PlotlyTypes from 'plotly.js';

export type Plotly = typeof PlotlyTypes;
export type PlotData = Partial<PlotlyTypes.PlotData>;
export type PlotLayout = Partial<PlotlyTypes.Layout>;
export type PlotConfig = Partial<PlotlyTypes.Config>;

/** A figure as Plotly takes it: what the pure figure builders return. */
export interface IFigure {
  data: PlotData[];
  layout: PlotLayout;
}

/**
 * A Plotly selection: the points picked ([curveNumber, pointIndex]), and the box
 * (`range`) or lasso polygon (`lasso`) in data coordinates by axis id ("x", "y2"), as
 * `plotly_selected` reports them.
 */
export interface IPlotSelection {
  points: readonly (readonly [number, number])[];
  range?: Readonly<Record<string, readonly number[]>>;
  lasso?: Readonly<Record<string, readonly number[]>>;
}

let loading: Promise<Plotly> | null = null;

export function loadPlotly(): Promise<Plotly> {
  if (!loading) {
    loading = import(
      /* webpackChunkName: "exprscope-plotly" */ 'plotly.js-dist-min'
    ).then(module => ((module as any).default ?? module) as Plotly);
    // A failed load (e.g. server gone) may succeed later: do not cache the failure.
    loading.catch(() => (loading = null));
  }
  return loading;
}
