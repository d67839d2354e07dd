/**
 * A React host for one Plotly figure: loads Plotly lazily, redraws with `Plotly.react`
 * (which diffs, so option changes are cheap), follows the container's width and frees the
 * WebGL/DOM resources when unmounted.
 */
import * as React from 'react';

import { IFigure, loadPlotly, PlotConfig } from './plotly';

export interface IPlotlyFigureProps {
  figure: IFigure;
  config?: PlotConfig;
  className?: string;
  /** Accessible description of the plot. */
  label: string;
}

const DEFAULT_CONFIG: PlotConfig = {
  displaylogo: false,
  responsive: true,
  // Export has its own path (issue-free DPI control); keep the camera button for quick PNGs.
  modeBarButtonsToRemove: ['select2d', 'lasso2d', 'autoScale2d']
};

export function PlotlyFigure(props: IPlotlyFigureProps): JSX.Element {
  const host = React.useRef<HTMLDivElement>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [drawing, setDrawing] = React.useState(true);

  React.useEffect(() => {
    let cancelled = false;
    const node = host.current;
    if (!node) {
      return;
    }
    setDrawing(true);
    loadPlotly()
      .then(Plotly =>
        cancelled
          ? undefined
          : Plotly.react(node, props.figure.data as any, props.figure.layout, {
              ...DEFAULT_CONFIG,
              ...(props.config ?? {})
            })
      )
      .then(
        () => {
          if (!cancelled) {
            setError(null);
            setDrawing(false);
            node.dataset.rendered = 'true';
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
  }, [props.figure, props.config]);

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
      void loadPlotly().then(Plotly => Plotly.purge(node));
    };
  }, []);

  return (
    <div className={`jp-exprscope-figure ${props.className ?? ''}`}>
      {drawing && (
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
      <div
        ref={host}
        className="jp-exprscope-plot"
        role="img"
        aria-label={props.label}
      />
    </div>
  );
}
