/**
 * Plotly, loaded on first use: even with only the trace types exprscope draws
 * (./plotlyBundle) it is the largest script of the extension, and most sessions open the
 * sidebar long before they draw anything, so it lives in its own lazily fetched chunk.
 */
import type * as PlotlyTypes from 'plotly.js';

import { nextTask } from '../tasks';

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

/**
 * `next`, with each data array whose content equals the one at the same place in
 * `previous` replaced by that array. Plotly.react compares data arrays by reference: an
 * equal new array still means recomputing and redrawing its trace (a recoloured density
 * view, a million points re-uploaded), a shared one means nothing to do. Traces are
 * matched by position and type; objects are copied where an array is replaced, never
 * changed in place.
 */
export function shareUnchangedArrays(
  previous: IFigure | null,
  next: IFigure
): IFigure {
  if (!previous) {
    return next;
  }
  let changed = false;
  const data = next.data.map((trace, i) => {
    const before = previous.data[i];
    if (!before || before.type !== trace.type) {
      return trace;
    }
    const shared = shareIn(before, trace);
    changed ||= shared !== trace;
    return shared;
  });
  return changed ? { ...next, data } : next;
}

/** Nesting followed into plain objects (marker.line.color is two levels down). */
const MAX_SHARE_DEPTH = 3;

function shareIn<T extends object>(before: T, after: T, depth = 0): T {
  let out: T | null = null;
  for (const [key, value] of Object.entries(after)) {
    const old = (before as Record<string, unknown>)[key];
    let replacement: unknown = value;
    if (old === value || old === undefined || old === null) {
      continue;
    }
    if (isDataArray(value)) {
      replacement = sameContent(old, value) ? old : value;
    } else if (
      depth < MAX_SHARE_DEPTH &&
      isPlainObject(value) &&
      isPlainObject(old)
    ) {
      replacement = shareIn(old, value, depth + 1);
    }
    if (replacement !== value) {
      out ??= { ...after };
      (out as Record<string, unknown>)[key] = replacement;
    }
  }
  return out ?? after;
}

function isDataArray(value: unknown): value is ArrayLike<unknown> {
  return Array.isArray(value) || ArrayBuffer.isView(value);
}

function isPlainObject(value: unknown): value is object {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

/** Same kind, length and elements (nested arrays compared the same way). */
function sameContent(a: unknown, b: ArrayLike<unknown>): boolean {
  if (!isDataArray(a) || a.constructor !== b.constructor) {
    return false;
  }
  if (a.length !== b.length) {
    return false;
  }
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x !== y && !(isDataArray(y) && sameContent(x, y))) {
      return false;
    }
  }
  return true;
}

let loading: Promise<Plotly> | null = null;

export function loadPlotly(): Promise<Plotly> {
  if (!loading) {
    loading = import(
      /* webpackChunkName: "exprscope-plotly" */ './plotlyBundle'
    ).then(module => module.default as Plotly);
    // A failed load (e.g. server gone) may succeed later: do not cache the failure.
    loading.catch(() => (loading = null));
  }
  return loading;
}

type IdleCallback = (
  callback: () => void,
  options: { timeout: number }
) => number;

/** The page's next idle period (or within `timeoutMs`); a timer where there is none. */
function whenIdle(callback: () => void, timeoutMs: number): void {
  const idle = (globalThis as { requestIdleCallback?: IdleCallback })
    .requestIdleCallback;
  if (idle) {
    idle(callback, { timeout: timeoutMs });
  } else {
    setTimeout(callback, 0);
  }
}

/**
 * Load Plotly in the page's next idle period (or within `timeoutMs`), then draw a tiny
 * figure off screen in the idle period after: its script runs for ~180 ms of the UI thread
 * (bench, 2 cores) and its first draw in a page runs much of its code for the first time,
 * both better spent while the user picks genes than between the first plot's click and
 * its draw.
 */
export function loadPlotlyWhenIdle(timeoutMs = 2000): void {
  whenIdle(() => {
    loadPlotly().then(
      Plotly => whenIdle(() => void warmUpPlotly(Plotly), timeoutMs),
      () => undefined
    );
  }, timeoutMs);
}

/**
 * What a heatmap and a scatter plot of exprscope use: a heatmap trace with a colour bar
 * on categorical axes, a shape, an annotation, SVG markers with a legend. Drawn once, it
 * shortens the page's first real draw (10⁴-cell heatmap, medians of six bench runs:
 * Plotly's draw 120 → 81 ms; later draws take 40–55 ms). A new object per call: Plotly
 * writes into the figures it draws.
 */
const warmUpFigure = (): IFigure => ({
  data: [
    {
      type: 'heatmap',
      x: ['a', 'b'],
      y: ['g1', 'g2'],
      z: [
        [0, 1],
        [1, 0]
      ],
      colorbar: { title: { text: 'mean' } },
      hovertemplate: '%{z}<extra></extra>'
    },
    {
      type: 'scatter',
      mode: 'markers',
      x: [0, 1],
      y: [0, 1],
      xaxis: 'x2',
      yaxis: 'y2',
      name: 'cells'
    }
  ],
  layout: {
    width: 400,
    height: 300,
    showlegend: true,
    xaxis: { domain: [0, 0.45], type: 'category', ticklabeloverflow: 'allow' },
    yaxis: { type: 'category' },
    xaxis2: { domain: [0.55, 1], anchor: 'y2' },
    yaxis2: { anchor: 'x2' },
    shapes: [
      {
        type: 'rect',
        xref: 'paper',
        yref: 'paper',
        x0: 0,
        x1: 0.1,
        y0: 0,
        y1: 0.1
      }
    ],
    annotations: [{ text: 'warm-up', xref: 'paper', yref: 'paper', x: 0, y: 1 }]
  }
});

/**
 * Draw `figure` in a hidden element outside the layout and remove it, in a draw turn of
 * its own. It is only worth it before the page's first plot: a turn that finds a real
 * draw waiting, or one already made, draws nothing. It does not count as a draw
 * (`plotDrawCount`).
 */
export function warmUpPlotly(
  Plotly: Pick<Plotly, 'newPlot' | 'purge'>,
  figure: IFigure = warmUpFigure()
): Promise<boolean> {
  return queueDraw(async () => {
    if (
      drawsQueued > 1 ||
      drawsStarted > 0 ||
      typeof document === 'undefined'
    ) {
      return false;
    }
    const host = document.createElement('div');
    host.setAttribute('aria-hidden', 'true');
    host.dataset.exprscopeWarmUp = 'true';
    // Laid out (Plotly measures its text) but neither seen nor in the page's flow
    host.style.cssText =
      'position: fixed; left: -10000px; top: 0; visibility: hidden; pointer-events: none;';
    document.body.appendChild(host);
    try {
      await Plotly.newPlot(host, figure.data as any, figure.layout, {
        staticPlot: false,
        displaylogo: false
      });
      return true;
    } catch {
      // A warm-up that fails costs nothing but its time: the real draw reports errors.
      return false;
    } finally {
      Plotly.purge(host);
      host.remove();
    }
  }, false);
}

/**
 * Plotly draws run one at a time: a draw asked for while another is waiting or running
 * starts after it, in a task of its own (input and painting in between). A view's figures
 * drawn in one task block the UI thread for their sum: at a million cells the dual view's
 * scatter and embedding took ~150 ms together, less than half each apart. A draw with none
 * before it starts at once (no delay for a single redraw). A draw may return a promise
 * (Plotly.react's); the next waits for it.
 */
export function drawInTurn<T>(draw: () => T | Promise<T>): Promise<T> {
  return queueDraw(draw, true);
}

function queueDraw<T>(
  draw: () => T | Promise<T>,
  counted: boolean
): Promise<T> {
  const wait = drawsQueued > 0 ? lastDraw.then(nextTask) : Promise.resolve();
  drawsQueued++;
  const turn = wait.then(() => {
    if (counted) {
      drawsStarted++;
    }
    return draw();
  });
  lastDraw = turn.then(
    () => drawsQueued--,
    () => drawsQueued--
  );
  return turn;
}

let lastDraw: Promise<unknown> = Promise.resolve();
let drawsQueued = 0;
let drawsStarted = 0;

/** How many draws have had their turn in this page (the bench counts draws per click). */
export function plotDrawCount(): number {
  return drawsStarted;
}
