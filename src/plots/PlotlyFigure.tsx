/**
 * A React host for one Plotly figure: loads Plotly lazily, redraws with `Plotly.react`
 * (which diffs, so option changes are cheap) in a task of its own (`drawInTurn`), follows
 * the container's width and frees the WebGL/DOM resources when unmounted.
 *
 * Browsers allow about 16 live WebGL contexts per page; a notebook with many scatter plots
 * would lose the oldest ones (blank plots). With `releaseOffscreen`, a figure scrolled out
 * of view is replaced by a picture of itself and its context freed, and redrawn when it
 * comes back.
 */
import * as React from 'react';

import {
  drawInTurn,
  IFigure,
  IPlotSelection,
  loadPlotly,
  PlotConfig,
  shareUnchangedArrays
} from './plotly';
import { markTiming } from '../timing';

export interface IPlotlyFigureProps {
  figure: IFigure;
  config?: PlotConfig;
  className?: string;
  /** Accessible description of the plot. */
  label: string;
  /**
   * Lasso / box selection: the selected points as [curveNumber, pointIndex] pairs and the
   * shape drawn, or null when the selection is cleared (double click).
   */
  onSelect?: (selection: IPlotSelection | null) => void;
  /** Called with the plot element after every completed draw (export, snapshots). */
  onRendered?: (graph: HTMLElement) => void;
  /** Swap for a picture while out of view, freeing the WebGL context (see above). */
  releaseOffscreen?: boolean;
}

/** How far outside the viewport a figure stays live (avoids churn while scrolling). */
const OFFSCREEN_MARGIN = '400px';

/**
 * Give back the WebGL contexts of a purged figure now. Browsers count a context as active
 * until it is garbage collected, and past ~16 they drop the oldest, which may be one still
 * on screen.
 */
function releaseWebGL(node: HTMLElement): void {
  node.querySelectorAll('canvas').forEach(canvas => {
    const gl = canvas.getContext('webgl') ?? canvas.getContext('webgl2');
    gl?.getExtension('WEBGL_lose_context')?.loseContext();
  });
}

const DEFAULT_CONFIG: PlotConfig = {
  displaylogo: false,
  responsive: true,
  modeBarButtonsToRemove: ['autoScale2d']
};

export function PlotlyFigure(props: IPlotlyFigureProps): JSX.Element {
  const host = React.useRef<HTMLDivElement>(null);
  // The latest handler, read by the listeners attached once per plot element.
  const onSelect = React.useRef(props.onSelect);
  onSelect.current = props.onSelect;
  const onRendered = React.useRef(props.onRendered);
  onRendered.current = props.onRendered;
  // With `releaseOffscreen`, nothing is drawn until the figure is seen: a notebook that
  // opens with twenty scatter plots must not ask for twenty WebGL contexts at once.
  const [visible, setVisible] = React.useState(!props.releaseOffscreen);
  const [snapshot, setSnapshot] = React.useState<string | null>(null);
  // Bumped to draw again from scratch (after the browser took our WebGL context away).
  const [generation, setGeneration] = React.useState(0);
  const listening = React.useRef(false);
  const [error, setError] = React.useState<string | null>(null);
  const [drawing, setDrawing] = React.useState(true);
  // What Plotly holds now: arrays of the next figure equal to its own are passed as its own.
  const drawn = React.useRef<IFigure | null>(null);

  React.useEffect(() => {
    let cancelled = false;
    const node = host.current;
    if (!node || !visible) {
      return;
    }
    setDrawing(true);
    loadPlotly()
      .then(Plotly =>
        drawInTurn(() => {
          // Replaced or unmounted while waiting for its turn: nothing to draw
          if (cancelled) {
            return;
          }
          const figure = shareUnchangedArrays(drawn.current, props.figure);
          drawn.current = figure;
          markTiming('exprscope:plot:draw');
          return Plotly.react(node, figure.data as any, figure.layout, {
            ...DEFAULT_CONFIG,
            ...(props.config ?? {})
          });
        })
      )
      .then(
        () => {
          if (!cancelled) {
            markTiming('exprscope:plot:drawn');
            setError(null);
            setDrawing(false);
            setSnapshot(null);
            node.dataset.rendered = 'true';
            if (!listening.current) {
              listening.current = true;
              const plot = node as any;
              plot.on('plotly_selected', (event: any) =>
                onSelect.current?.(
                  event
                    ? {
                        points: (event.points ?? []).map((p: any) => [
                          p.curveNumber,
                          p.pointIndex ?? p.pointNumber
                        ]),
                        range: event.range,
                        lasso: event.lassoPoints
                      }
                    : null
                )
              );
              plot.on('plotly_deselect', () => onSelect.current?.(null));
            }
            onRendered.current?.(node);
          }
        },
        err => {
          if (!cancelled) {
            setError(`Could not draw the plot: ${err?.message ?? err}`);
            setDrawing(false);
          }
        }
      );
    return () => {
      cancelled = true;
    };
  }, [props.figure, props.config, visible, generation]);

  React.useEffect(() => {
    const node = host.current;
    if (!node) {
      return;
    }
    // A context lost while the figure is shown leaves it blank: draw it again.
    const onLost = (event: Event) => {
      if (
        node.dataset.rendered !== 'true' ||
        !node.contains(event.target as Node)
      ) {
        return;
      }
      event.preventDefault();
      void loadPlotly().then(Plotly => {
        Plotly.purge(node);
        drawn.current = null;
        delete node.dataset.rendered;
        listening.current = false;
        setGeneration(g => g + 1);
      });
    };
    node.addEventListener('webglcontextlost', onLost, true);
    return () => node.removeEventListener('webglcontextlost', onLost, true);
  }, []);

  React.useEffect(() => {
    const node = host.current;
    if (!node || !props.releaseOffscreen) {
      return;
    }
    const observer = new IntersectionObserver(
      entries => {
        const inView = entries.some(e => e.isIntersecting);
        if (inView) {
          setVisible(true);
          return;
        }
        if (node.dataset.rendered !== 'true') {
          return;
        }
        // Take the picture first, then free the context; the picture keeps the place.
        void loadPlotly().then(async Plotly => {
          try {
            const rect = node.getBoundingClientRect();
            const url = await Plotly.toImage(node, {
              format: 'png',
              width: Math.max(1, Math.round(rect.width)),
              height: Math.max(1, Math.round(rect.height))
            });
            setSnapshot(url);
          } catch {
            setSnapshot(null);
          }
          // Not "rendered" first, so our context-lost handler leaves this loss alone.
          delete node.dataset.rendered;
          releaseWebGL(node);
          Plotly.purge(node);
          drawn.current = null;
          listening.current = false;
          setVisible(false);
        });
      },
      { rootMargin: OFFSCREEN_MARGIN }
    );
    // The wrapper holds the plot or its picture, so it keeps its size either way.
    observer.observe(node.parentElement ?? node);
    return () => observer.disconnect();
  }, [props.releaseOffscreen]);

  React.useEffect(() => {
    const node = host.current;
    if (!node) {
      return;
    }
    // Plotly's own `responsive` only listens to window resizes; panels resize on their own.
    const observer = new ResizeObserver(() => {
      if (node.dataset.rendered === 'true') {
        void loadPlotly().then(Plotly => Plotly.Plots.resize(node));
      }
    });
    observer.observe(node);
    return () => {
      observer.disconnect();
      delete node.dataset.rendered;
      releaseWebGL(node);
      drawn.current = null;
      void loadPlotly().then(Plotly => Plotly.purge(node));
    };
  }, []);

  return (
    <div className={`jp-exprscope-figure ${props.className ?? ''}`}>
      {drawing && visible && (
        <div
          className="jp-exprscope-spinner"
          role="progressbar"
          aria-label="Drawing the plot"
        />
      )}
      {error && (
        <div className="jp-exprscope-message jp-mod-error" role="alert">
          {error}
        </div>
      )}
      {snapshot && !visible && (
        <img
          className="jp-exprscope-plot-snapshot"
          src={snapshot}
          alt={props.label}
        />
      )}
      <div
        ref={host}
        className="jp-exprscope-plot"
        role="img"
        aria-label={props.label}
        data-live={visible ? 'true' : 'false'}
        style={
          visible || snapshot
            ? undefined
            : { minHeight: `${props.figure.layout.height ?? 400}px` }
        }
      />
    </div>
  );
}
