/**
 * A plot as saved in the notebook: the saved figure, still zoomable and hoverable, its
 * notes, and the actions that need no kernel (export, parameters, plotted numbers).
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import type { ISignal } from '@lumino/signaling';
import * as React from 'react';

import { IPlotActionSource, PlotActions } from '../plots/PlotActions';
import { PlotlyFigure } from '../plots/PlotlyFigure';
import { IPlotSpec, parseSpec } from '../plots/spec';
import type { IPlotPayload, ISavedPlot } from './saved';

export class SavedPlotWidget extends ReactWidget {
  constructor(options: {
    payload: IPlotPayload;
    /** The output's base64 picture, shown when the figure was too large to keep. */
    png: string | null;
    themeChanged?: ISignal<any, any>;
  }) {
    super();
    this.addClass('jp-exprscope-saved-plot');
    this._saved = options.payload.saved!;
    this._png = options.png;
    let spec: IPlotSpec | null = null;
    try {
      spec = parseSpec(options.payload.spec);
    } catch {
      spec = null;
    }
    const saved = this._saved;
    this._source = {
      spec: () => spec,
      applySpec: () => {
        throw new Error(
          'This is the saved copy of the plot: run its cell to change it.'
        );
      },
      tables: () =>
        saved.tables.map(table => ({
          name: table.name,
          rows: table.csv.split('\n').length - 1,
          csv: () => table.csv
        }))
    };
  }

  get graph(): HTMLElement | null {
    return this._graph;
  }

  protected render(): JSX.Element {
    const saved = this._saved;
    return (
      <div className="jp-exprscope-plot-panel">
        <p className="jp-exprscope-saved-banner" role="note">
          Saved plot, shown from the notebook: zoom and hover work; run the cell
          to change it.
        </p>
        {saved.figure && (
          <PlotActions source={this._source} graph={() => this._graph} />
        )}
        {saved.notes.length > 0 && (
          <ul className="jp-exprscope-notes" aria-label="Notes on this plot">
            {saved.notes.map(note => (
              <li key={note}>{note}</li>
            ))}
          </ul>
        )}
        {saved.figure ? (
          <PlotlyFigure
            figure={saved.figure}
            className="jp-exprscope-saved-figure"
            label="Saved exprscope plot"
            releaseOffscreen={true}
            onRendered={graph => (this._graph = graph)}
          />
        ) : (
          <>
            {saved.omitted && <p>{saved.omitted}</p>}
            {this._png && (
              <img
                className="jp-exprscope-saved-picture"
                alt="Saved exprscope plot"
                src={`data:image/png;base64,${this._png}`}
                width={saved.width}
              />
            )}
          </>
        )}
      </div>
    );
  }

  private readonly _saved: ISavedPlot;
  private readonly _png: string | null;
  private readonly _source: IPlotActionSource;
  private _graph: HTMLElement | null = null;
}
