/**
 * The heatmap's table of markers conserved across datasets and markers specific to one
 * (Seurat's `FindConservedMarkers` in spirit, `src/compute/conserved.ts`), apart from the
 * heatmap itself: it needs every gene's statistics by cluster × dataset, which the kernel
 * sums once (`group_stats`, kept in the one cache), and its tests run in a Web Worker.
 * Nothing is computed until the table is opened.
 */
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
import { IPlotStatusState, PlotControllerBase } from '../controllerBase';
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

export interface IConservedState extends IPlotStatusState {
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

export class ConservedMarkersController extends PlotControllerBase<
  IConservedSettings,
  IConservedState,
  IConservedBuilder
> {
  constructor(
    panel: ExprscopeSession,
    options: { buildInWorker?: IConservedBuilder | null } = {}
  ) {
    super(
      panel,
      {
        settings: { ...DEFAULT_CONSERVED_SETTINGS },
        state: {
          status: 'idle',
          message: '',
          result: null,
          matrix: null,
          call: null
        }
      },
      { builder: options.buildInWorker }
    );
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
    this._emitChanged();
    if (after.open && (changed || this._state.status === 'idle')) {
      void this.refresh();
    }
  }

  /** Compute the table for the current selection (the statistics from the cache first). */
  async refresh(): Promise<void> {
    const run = this._nextBuild();
    const reason = this.unavailableReason();
    if (reason !== null) {
      this._showNothing('idle', reason);
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
      if (!this._isLatestBuild(run)) {
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
      const worker = this._workerFor();
      const result = worker
        ? await worker.build(moments, options)
        : conservedMarkers(moments, options);
      if (!this._isLatestBuild(run)) {
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
      if (!this._isLatestBuild(run)) {
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
    super.dispose();
  }

  protected emptyResult(): Partial<IConservedState> {
    return { result: null, call: null };
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

  /** A new object version, matrix or grouping: the table is computed again if shown. */
  protected onPanelChanged(moved: boolean): void {
    if (!moved) {
      return;
    }
    if (this._settings.open) {
      void this.refresh();
    } else {
      this._supersedeBuilds();
      this._showNothing('idle', '');
    }
  }

  private _isDisposed = false;
}
