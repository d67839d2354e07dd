/**
 * The heatmap's table of markers conserved across datasets and markers specific to one
 * (Seurat's `FindConservedMarkers` in spirit, `src/compute/conserved.ts`), apart from the
 * heatmap itself: it needs every gene's statistics by cluster × dataset, which the kernel
 * sums once (`group_stats`, kept in the one cache), and its tests run in a Web Worker.
 * Nothing is computed until the table is opened.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { describeError, ExprscopeError } from '../../bridge/protocol';
import {
  CombineMethod,
  conservedMarkers,
  DEFAULT_CONSERVED_OPTIONS,
  IClusterDatasetMoments,
  IConservedMarkers,
  IConservedOptions
} from '../../compute/conserved';
import type { ExprscopeSession } from '../../session/session';
import type { IModelBuilder } from '../modelWorker';

export type IConservedBuilder = IModelBuilder<
  IClusterDatasetMoments,
  IConservedOptions,
  IConservedMarkers
>;

export interface IConservedSettings {
  /** Whether the table is shown (and so computed). */
  open: boolean;
  combine: CombineMethod;
  /** Rows per cluster (conserved) and per cluster × dataset (specific). */
  n: number;
}

export interface IConservedState {
  status: 'idle' | 'loading' | 'ready' | 'error';
  message: string;
  result: IConservedMarkers | null;
  /** Matrix the table was computed on (its label, for the caption). */
  matrix: string | null;
  /** The arguments of `exprscope.conserved_markers` giving the same table. */
  call: IConservedCall | null;
}

/** What the table was computed from, for the reproduce line and the CSV. */
export interface IConservedCall {
  object: string;
  matrix: string;
  clusterColumn: string;
  datasetColumn: string;
  n: number;
  combine: CombineMethod;
}

export const DEFAULT_CONSERVED_SETTINGS: IConservedSettings = {
  open: false,
  combine: DEFAULT_CONSERVED_OPTIONS.combine,
  n: DEFAULT_CONSERVED_OPTIONS.n
};

export class ConservedMarkersController {
  constructor(
    panel: ExprscopeSession,
    options: { buildInWorker?: IConservedBuilder | null } = {}
  ) {
    this._panel = panel;
    this._builder = options.buildInWorker ?? null;
    this._key = this._selectionKey();
    panel.changed.connect(this._onPanelChanged, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get settings(): IConservedSettings {
    return this._settings;
  }

  get state(): IConservedState {
    return this._state;
  }

  /**
   * Why the table cannot be computed for the sidebar's selection, or null when it can:
   * it needs a cluster column and a dataset column with at least two datasets.
   */
  unavailableReason(): string | null {
    const { selection } = this._panel;
    if (!selection.object) {
      return 'Pick an object in the sidebar first.';
    }
    if (!selection.clusterColumn) {
      return 'Conserved markers need a cluster column: choose one in the sidebar.';
    }
    if (!selection.datasetColumn) {
      return 'Conserved markers compare datasets: choose a dataset column in the sidebar.';
    }
    if (selection.datasetColumn === selection.clusterColumn) {
      return 'The dataset and cluster columns are the same: choose two columns.';
    }
    const datasets = this._panel.groupingColumns.find(
      c => c.name === selection.datasetColumn
    )?.categories;
    if (datasets && datasets.length < 2) {
      return `Conserved markers compare datasets: '${selection.datasetColumn}' has ${datasets.length === 0 ? 'no datasets' : 'one dataset only'}.`;
    }
    return null;
  }

  /** Change the settings; opening the table (or changing them while open) computes it. */
  update(patch: Partial<IConservedSettings>): void {
    const before = this._settings;
    this._settings = { ...before, ...patch };
    const after = this._settings;
    const changed =
      before.open !== after.open ||
      before.combine !== after.combine ||
      before.n !== after.n;
    this._changed.emit();
    if (after.open && (changed || this._state.status === 'idle')) {
      void this.refresh();
    }
  }

  /** Compute the table for the current selection (the statistics from the cache first). */
  async refresh(): Promise<void> {
    const run = ++this._run;
    const reason = this.unavailableReason();
    if (reason !== null) {
      this._set({ status: 'idle', message: reason, result: null, call: null });
      return;
    }
    const panel = this._panel;
    const { object, matrix, clusterColumn, datasetColumn } = panel.selection;
    const call: IConservedCall = {
      object: object!,
      matrix,
      clusterColumn: clusterColumn!,
      datasetColumn: datasetColumn!,
      n: this._settings.n,
      combine: this._settings.combine
    };
    this._set({
      status: 'loading',
      message: 'Summing every gene per cluster × dataset in the kernel…'
    });
    try {
      const stats = await panel.groupStats({
        matrix,
        groupby: [call.clusterColumn, call.datasetColumn]
      });
      if (run !== this._run) {
        return;
      }
      this._set({
        message: `Testing ${stats.genes.length.toLocaleString('en-US')} genes in every cluster of every dataset…`
      });
      const moments: IClusterDatasetMoments = {
        genes: stats.genes,
        groupLabels: stats.groupLabels,
        n: stats.n,
        sum: stats.sum,
        sumSq: stats.sumSq,
        logBase: stats.logBase
      };
      const options: IConservedOptions = {
        n: call.n,
        combine: call.combine,
        clusterOrder: this._categories(call.clusterColumn, stats, 0),
        datasetOrder: this._categories(call.datasetColumn, stats, 1)
      };
      const result = this._builder
        ? await this._builder.build(moments, options)
        : conservedMarkers(moments, options);
      if (run !== this._run) {
        return;
      }
      this._set({
        status: 'ready',
        message: '',
        result,
        matrix: stats.matrix,
        call
      });
    } catch (err) {
      if (run !== this._run) {
        return;
      }
      this._set({
        status: 'error',
        message:
          err instanceof ExprscopeError || err instanceof Error
            ? describeError(err)
            : String(err),
        result: null,
        call: null
      });
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._run++;
    this._panel.changed.disconnect(this._onPanelChanged, this);
    this._builder?.dispose();
    Signal.clearData(this);
  }

  /**
   * The object's category order of a grouping column, restricted to the labels the
   * kernel's groups hold (empty categories have no group); null: the kernel's order.
   */
  private _categories(
    column: string,
    stats: { groupLabels: readonly (readonly string[])[] },
    position: number
  ): string[] | null {
    const categories = this._panel.groupingColumns
      .find(c => c.name === column)
      ?.categories?.map(c => c.name);
    if (!categories) {
      return null;
    }
    const present = new Set(stats.groupLabels.map(labels => labels[position]));
    const ordered = categories.filter(c => present.has(c));
    return ordered.length === present.size ? ordered : null;
  }

  private _selectionKey(): string {
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

  /** A new object version, matrix or grouping: the table is computed again if shown. */
  private _onPanelChanged(): void {
    const key = this._selectionKey();
    if (key === this._key) {
      return;
    }
    this._key = key;
    if (this._settings.open) {
      void this.refresh();
    } else {
      this._run++;
      this._set({ status: 'idle', message: '', result: null, call: null });
    }
  }

  private _set(patch: Partial<IConservedState>): void {
    this._state = { ...this._state, ...patch };
    this._changed.emit();
  }

  private _panel: ExprscopeSession;
  private _builder: IConservedBuilder | null;
  private _settings: IConservedSettings = { ...DEFAULT_CONSERVED_SETTINGS };
  private _state: IConservedState = {
    status: 'idle',
    message: '',
    result: null,
    matrix: null,
    call: null
  };
  private _key: string;
  private _run = 0;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}
