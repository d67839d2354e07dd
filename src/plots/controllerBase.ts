/**
 * What every plot controller (heatmap, dual expression, conserved markers) does alike,
 * whatever its pipeline: it holds its settings and state and says when they change,
 * follows the sidebar's selection, lets a newer request or build supersede an older one,
 * sends large builds to its Web Worker, and shows a failure as the plot's error. Each
 * kind adds only its own steps: what to fetch and how to build its model.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { describeError, ExprscopeError } from '../bridge/protocol';
import type { ExprscopeSession } from '../session/session';

/** The part of a plot's state the status line shows. */
export interface IPlotStatusState {
  status: 'idle' | 'loading' | 'ready' | 'error';
  /** What is happening or what went wrong. */
  message: string;
}

export interface IPlotControllerBaseOptions<B> {
  /** Builds off the UI thread (a Web Worker); without it, builds run inline. */
  builder?: B | null;
  /** Cells from which builds go to the worker (0: every build does). */
  workerThreshold?: number;
}

export abstract class PlotControllerBase<
  TSettings,
  TState extends IPlotStatusState,
  TBuilder extends { dispose(): void; prepare?(): void } = {
    dispose(): void;
  }
> {
  constructor(
    panel: ExprscopeSession,
    initial: { settings: TSettings; state: TState },
    options: IPlotControllerBaseOptions<TBuilder> = {}
  ) {
    this._panel = panel;
    this._settings = initial.settings;
    this._state = initial.state;
    this._builder = options.builder ?? null;
    this._workerThreshold = options.workerThreshold ?? 0;
    this._selectionKey = this.selectionKey();
    panel.changed.connect(this._onPanelChanged, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get panel(): ExprscopeSession {
    return this._panel;
  }

  get settings(): TSettings {
    return this._settings;
  }

  get state(): TState {
    return this._state;
  }

  /** Stop what is under way and let go of the session and the worker. */
  dispose(): void {
    this._abortRequest();
    this._supersedeBuilds();
    this._builder?.dispose();
    this._panel.changed.disconnect(this._onPanelChanged, this);
    Signal.clearData(this);
  }

  /**
   * What the plot's data depends on in the sidebar's selection: the object (and its
   * version), the matrix and the grouping columns. Called by the constructor too, so an
   * override reads only the session.
   */
  protected selectionKey(): string {
    const panel = this._panel;
    const s = panel.selection;
    return [
      s.object,
      panel.description?.fingerprint ?? '',
      s.matrix,
      s.datasetColumn,
      s.clusterColumn
    ].join('\u0000');
  }

  /**
   * The sidebar's selection changed; `moved`: in what the plot's data depends on
   * (`selectionKey`), so the data here is stale.
   */
  protected abstract onPanelChanged(moved: boolean): void;

  /** What a failure leaves of the result (the model, the table): nothing stale. */
  protected abstract emptyResult(): Partial<TState>;

  protected _set(patch: Partial<TState>): void {
    this._state = { ...this._state, ...patch };
    this._changed.emit();
  }

  /** Say that the settings (or something the view shows beside the state) changed. */
  protected _emitChanged(): void {
    this._changed.emit();
  }

  /** A new request replaces the one under way: its kernel requests are aborted. */
  protected _startRequest(): AbortController {
    this._abort?.abort();
    const abort = new AbortController();
    this._abort = abort;
    return abort;
  }

  protected _abortRequest(): void {
    this._abort?.abort();
    this._abort = null;
  }

  /**
   * Show a request's failure, unless it only failed because a newer request superseded
   * it or the user cancelled it (nothing went wrong then).
   */
  protected _failUnlessCancelled(err: unknown, signal: AbortSignal): void {
    if (
      signal.aborted ||
      (err instanceof ExprscopeError && err.code === 'cancelled')
    ) {
      return;
    }
    this._fail(err);
  }

  protected _fail(err: unknown): void {
    this._showNothing('error', describeError(err));
  }

  /** No result, and the status line says why (a choice to make, a problem found). */
  protected _showNothing(status: 'idle' | 'error', message: string): void {
    this._set({ status, message, ...this.emptyResult() } as Partial<TState>);
  }

  /**
   * Number a new build (or computation): what an older one brings back later is then
   * dropped, since the settings or data changed meanwhile.
   */
  protected _nextBuild(): number {
    return ++this._buildId;
  }

  protected _isLatestBuild(build: number): boolean {
    return build === this._buildId;
  }

  /** Whatever is being built is for old data: drop its result when it comes. */
  protected _supersedeBuilds(): void {
    this._buildId++;
  }

  /** A worker build's failure handler: shown unless a newer build superseded it. */
  protected _failBuild(build: number): (err: unknown) => void {
    return err => {
      if (this._isLatestBuild(build)) {
        this._fail(err);
      }
    };
  }

  /**
   * The worker for a build of this many cells, or null to build inline: small builds
   * take a blink, and copying them to the worker would cost more. Without a size: the
   * worker whenever there is one.
   */
  protected _workerFor(nCells = Infinity): TBuilder | null {
    return nCells >= this._workerThreshold ? this._builder : null;
  }

  /** Start the worker a build of this many cells will use, while its data is fetched. */
  protected _prepareWorker(nCells: number): void {
    this._workerFor(nCells)?.prepare?.();
  }

  private _onPanelChanged(): void {
    const key = this.selectionKey();
    const moved = key !== this._selectionKey;
    this._selectionKey = key;
    this.onPanelChanged(moved);
  }

  protected readonly _panel: ExprscopeSession;
  protected _settings: TSettings;
  protected _state: TState;
  private readonly _builder: TBuilder | null;
  private readonly _workerThreshold: number;
  private readonly _changed = new Signal<this, void>(this);
  private _selectionKey: string;
  private _abort: AbortController | null = null;
  private _buildId = 0;
}
