/**
 * What the main-area plots share: a React widget that re-renders when its controller
 * changes and redraws in the new colours when the JupyterLab theme changes, and the status
 * line (progress, errors) above the plot.
 */
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import { exprscopeIcon } from '../icons';
import { IPlotActionSource, PlotActions } from './PlotActions';
import { loadPlotly } from './plotly';
import type { IPlotSpec } from './spec';

/** What a plot controller offers its widget. */
export interface IPlotController extends IPlotActionSource {
  readonly changed: ISignal<any, void>;
  /** The notes shown on the plot, as text (kept with saved plots). */
  notes(): string[];
  dispose(): void;
}

export interface IPlotWidgetOptions<C extends IPlotController> {
  controller: C;
  /** Emits when the JupyterLab theme changes, to redraw in its colours. */
  themeChanged?: ISignal<any, any>;
  /**
   * In a notebook output rather than the main area: no fixed id (there may be many), and
   * the plot's own controls choose genes (there is no sidebar selection to follow).
   */
  embedded?: boolean;
  /** Insert a reproducing cell below the active notebook cell (sidebar views). */
  insertCell?: (spec: IPlotSpec) => void;
}

/** What a plot's view gets from its widget (the same for every plot kind). */
export interface IPlotViewProps<C extends IPlotController> {
  controller: C;
  /** Changes with the JupyterLab theme: figures read its colours anew. */
  themeVersion: number;
  embedded: boolean;
  controlId: (name: string) => string;
  /** For the main figure's `onRendered`: exports draw from its element. */
  onRendered: (graph: HTMLElement) => void;
}

/** A plot kind's widget: its tab's id, label and CSS class, and its React view. */
export interface IPlotWidgetIdentity<C extends IPlotController> {
  id: string;
  label: string;
  className: string;
  view: React.ComponentType<IPlotViewProps<C>>;
}

let embeddedCount = 0;

export abstract class PlotWidget<
  C extends IPlotController
> extends ReactWidget {
  constructor(
    options: IPlotWidgetOptions<C>,
    identity: IPlotWidgetIdentity<C>
  ) {
    super();
    this._controller = options.controller;
    this._view = identity.view;
    this._themeChanged = options.themeChanged;
    this._insertCell = options.insertCell;
    this.embedded = options.embedded ?? false;
    const instance = this.embedded ? ++embeddedCount : 0;
    this.id = this.embedded
      ? `${identity.id}-embedded-${instance}`
      : identity.id;
    // Element ids and radio group names must not repeat across the plots of a notebook:
    // a <label for> would name another plot's control, and radios would form one group.
    this.controlId = (name: string) =>
      this.embedded
        ? `jp-exprscope-${name}-${instance}`
        : `jp-exprscope-${name}`;
    this.addClass('jp-exprscope-plot-widget');
    this.addClass(identity.className);
    this.title.label = identity.label;
    this.title.icon = exprscopeIcon;
    this.title.closable = true;
    this._themeChanged?.connect(this._onThemeChanged, this);
    // Usually loaded already (the views plugin loads it once an object is picked); if not
    // (a plot restored with the layout), it loads while the kernel reads the data.
    loadPlotly().catch(() => undefined);
  }

  get controller(): C {
    return this._controller;
  }

  /** The main figure's element after its latest draw (what exports use). */
  get graph(): HTMLElement | null {
    return this._graph;
  }

  /** Emits the main figure's element after every draw. */
  get rendered(): ISignal<this, HTMLElement> {
    return this._rendered;
  }

  readonly embedded: boolean;

  /** This plot's id for one of its controls ("group-by" → "jp-exprscope-group-by"). */
  readonly controlId: (name: string) => string;

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._themeChanged?.disconnect(this._onThemeChanged, this);
    this._controller.dispose();
    super.dispose();
  }

  /** A closed tab is gone for good (and the sidebar's button makes a new one). */
  protected onCloseRequest(msg: Message): void {
    super.onCloseRequest(msg);
    this.dispose();
  }

  /** The view; `themeVersion` changes with the theme (figures read colours anew). */
  protected renderView(themeVersion: number): JSX.Element {
    const View = this._view;
    return (
      <View
        controller={this._controller}
        themeVersion={themeVersion}
        embedded={this.embedded}
        controlId={this.controlId}
        onRendered={this.onMainRendered}
      />
    );
  }

  /** Views pass this to the main figure's `onRendered`. */
  protected readonly onMainRendered = (graph: HTMLElement): void => {
    this._graph = graph;
    this._rendered.emit(graph);
  };

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this._controller.changed}>
        {() => (
          <>
            <PlotActions
              source={this._controller}
              graph={() => this._graph}
              insertCell={this._insertCell}
            />
            {this.renderView(this._themeVersion)}
          </>
        )}
      </UseSignal>
    );
  }

  private _onThemeChanged(): void {
    this._themeVersion++;
    this.update();
  }

  private readonly _controller: C;
  // Typed loosely: a widget of one kind still passes for a PlotWidget<IPlotController>.
  private readonly _view: React.ComponentType<IPlotViewProps<any>>;
  private readonly _themeChanged?: ISignal<any, any>;
  private readonly _insertCell?: (spec: IPlotSpec) => void;
  private readonly _rendered = new Signal<this, HTMLElement>(this);
  private _graph: HTMLElement | null = null;
  private _themeVersion = 0;
}

/** Progress and errors of a plot: a spinner while loading, the message, extra content. */
export function PlotStatus(props: {
  status: 'idle' | 'loading' | 'ready' | 'error';
  message: string;
  children?: React.ReactNode;
}): JSX.Element {
  const { status, message } = props;
  return (
    <div
      className="jp-exprscope-plot-status"
      data-status={status}
      role="status"
    >
      {status === 'loading' && (
        <span
          className="jp-exprscope-spinner"
          role="progressbar"
          aria-label={message}
        />
      )}
      {message && (
        <span
          className={status === 'error' ? 'jp-exprscope-error-text' : undefined}
        >
          {message}
        </span>
      )}
      {props.children}
    </div>
  );
}

/** Notes that explain a plot (missing genes, masked columns, ...). */
export function PlotNotes(props: {
  notes: readonly { kind: string; message: string }[];
}): JSX.Element | null {
  if (props.notes.length === 0) {
    return null;
  }
  return (
    <ul className="jp-exprscope-notes" aria-label="Notes on this plot">
      {props.notes.map(note => (
        <li key={note.kind} data-kind={note.kind}>
          {note.message}
        </li>
      ))}
    </ul>
  );
}
