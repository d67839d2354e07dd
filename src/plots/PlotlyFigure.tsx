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
  /**
   * Lasso / box selection: the selected points as [curveNumber, pointIndex] pairs, or null
   * when the selection is cleared (double click).
   */
  onSelect?: (points: [number, number][] | null) => void;
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
  const listening = React.useRef(false);
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
            if (!listening.current) {
              listening.current = true;
              const plot = node as any;
              plot.on('plotly_selected', (event: any) =>
                onSelect.current?.(
                  event?.points
                    ? event.points.map((p: any) => [
                        p.curveNumber,
                        p.pointIndex ?? p.pointNumber
                      ])
                    : null
                )
              );
              plot.on('plotly_deselect', () => onSelect.current?.(null));
            }
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
