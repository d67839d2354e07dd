/**
 * What the heatmap shows and where its data comes from, separate from its React view.
 *
 * The sidebar's selection (object, matrix, dataset and cluster columns, genes) is the
 * source; the controller adds the heatmap's own choices (gene source, grouping, value,
 * scaling, clusters kept, ordering). Kernel round trips happen only when the data needed
 * changes (other genes, matrix or object); every other change rebuilds the model from the
 * data already here. The steps live beside it (markerSearch, kernelSums, differenceView);
 * what every plot controller does, in ../controllerBase.
 */
import type { IGroupSufficientStats } from '../../data/groupStats';
import type { IComparison } from '../../data/comparison';
import type { IExpressionData } from '../../data/repository';
import { comparisonPlan, differenceView } from './differenceView';
import type { ExprscopeSession } from '../../session/session';
import { unknownClustersNotes } from '../clusterNotes';
import { codedColumn } from '../grouping';
import { kernelGroupSums, pooledGroups, unlabelledCells } from './kernelSums';
import { IMarkerRow } from './markers';
import {
  IMarkerSource,
  MarkerSearchMemo,
  markerSearchKey,
  searchMarkers
} from './markerSearch';
import {
  buildHeatmapModel,
  IHeatmapInput,
  IHeatmapModel,
  IHeatmapOptions,
  parseClusterList
} from './model';

import { conservedCsv, heatmapCsv } from '../../export/data';
import {
  ConservedMarkersController,
  IConservedBuilder
} from './conservedController';
import { IPlotStatusState, PlotControllerBase } from '../controllerBase';
import type { IDataTable } from '../PlotActions';
import {
  clusterCategoriesOf,
  plotContextOf,
  selectionOf
} from '../plotContext';
import {
  heatmapSettingsFrom,
  heatmapSpecFrom,
  IHeatmapSpec,
  IPlotSpec
} from '../spec';
import type { IHeatmapModelBuilder } from './workerProtocol';

import {
  comparisonChanged,
  DEFAULT_HEATMAP_SETTINGS,
  IComparisonSettings,
  IHeatmapSettings
} from './settings';

// Where markers come from is said on the plot (the view reads it from here).
export type { IMarkerSource } from './markerSearch';

// The settings and their defaults live apart (the spec reads them without this module).
export {
  DEFAULT_HEATMAP_SETTINGS,
  MAX_MARKERS,
  type CompareMethodChoice,
  type GeneSource,
  type IComparisonSettings,
  type IHeatmapSettings,
  type MarkerMethod
} from './settings';
import { markTiming } from '../../timing';

export interface IHeatmapState extends IPlotStatusState {
  model: IHeatmapModel | null;
  markers: IMarkerRow[];
  markerSource: IMarkerSource | null;
  /** Typed cluster names that are not clusters of the object. */
  unknownClusters: string[];
  /** Object and matrix the model was built from (for titles). */
  object: string | null;
  matrixLabel: string | null;
}

export interface IHeatmapControllerOptions {
  /** Builds models off the UI thread (a Web Worker); without it, builds run inline. */
  buildInWorker?: IHeatmapModelBuilder;
  /** Cells from which builds go to the worker. */
  workerThreshold?: number;
  /** Runs the conserved-markers table's tests off the UI thread; without it, inline. */
  conservedInWorker?: IConservedBuilder;
}

/**
 * From this many cells a build (aggregating every gene over every cell) takes longer than
 * a frame (~10 ms per 50 genes × 50,000 cells in Node), so it goes to the worker.
 */
export const HEATMAP_WORKER_THRESHOLD = 50_000;

export class HeatmapController extends PlotControllerBase<
  IHeatmapSettings,
  IHeatmapState,
  IHeatmapModelBuilder
> {
  constructor(
    panel: ExprscopeSession,
    options: IHeatmapControllerOptions = {}
  ) {
    super(
      panel,
      {
        settings: {
          ...DEFAULT_HEATMAP_SETTINGS,
          options: { ...DEFAULT_HEATMAP_SETTINGS.options }
        },
        state: {
          status: 'idle',
          message: '',
          model: null,
          markers: [],
          markerSource: null,
          unknownClusters: [],
          object: null,
          matrixLabel: null
        }
      },
      {
        builder: options.buildInWorker,
        workerThreshold: options.workerThreshold ?? HEATMAP_WORKER_THRESHOLD
      }
    );
    this.conserved = new ConservedMarkersController(panel, {
      buildInWorker: options.conservedInWorker
    });
    // The view and its actions (the table's CSV) redraw with the table.
    this.conserved.changed.connect(() => this._emitChanged(), this);
  }

  /** The table of markers conserved across datasets or specific to one. */
  readonly conserved: ConservedMarkersController;

  /** The plot's parameters (docs/plot-spec.md), or null while no object is chosen. */
  spec(): IHeatmapSpec | null {
    const context = plotContextOf(this._panel);
    if (!context) {
      return null;
    }
    try {
      return heatmapSpecFrom(
        this._settings,
        context,
        clusterCategoriesOf(this._panel)
      );
    } catch {
      return null; // e.g. a typed cluster list that keeps no cluster: nothing to describe
    }
  }

  /** Show the plot a spec describes: its object, matrix, columns, genes and options. */
  applySpec(spec: IPlotSpec): void {
    if (spec.kind !== 'heatmap') {
      throw new Error(
        'These parameters describe a dual-expression plot, not a heatmap.'
      );
    }
    const { settings, context } = heatmapSettingsFrom(spec, this._settings);
    this.update(settings);
    void this._panel.applySelection(selectionOf(context));
  }

  tables(): IDataTable[] {
    const model = this._state.model;
    const tables: IDataTable[] = model
      ? [
          {
            name: 'data',
            rows: model.genes.length * model.columns.length,
            csv: () => heatmapCsv(model)
          }
        ]
      : [];
    const conserved = this.conserved.state.result;
    if (conserved && this.conserved.settings.open) {
      tables.push({
        name: 'conserved markers',
        rows: conserved.rows.length,
        csv: () => conservedCsv(conserved)
      });
    }
    return tables;
  }

  notes(): string[] {
    return this._state.model?.notes.map(note => note.message) ?? [];
  }

  /** Change what is shown; only a change of the data needed goes to the kernel. */
  update(
    patch: Partial<Omit<IHeatmapSettings, 'options' | 'comparison'>> & {
      options?: Partial<IHeatmapOptions>;
      comparison?: Partial<IComparisonSettings>;
    }
  ): void {
    const before = this._settings;
    this._settings = {
      ...before,
      ...patch,
      comparison: { ...before.comparison, ...(patch.comparison ?? {}) },
      options: { ...before.options, ...(patch.options ?? {}) }
    };
    const after = this._settings;
    const difference = after.options.value === 'log2fc';
    const needsData =
      before.geneSource !== after.geneSource ||
      (!difference && before.nMarkers !== after.nMarkers) ||
      (!difference &&
        after.geneSource === 'markers' &&
        before.markerMethod !== after.markerMethod) ||
      difference !== (before.options.value === 'log2fc') ||
      (difference &&
        (comparisonChanged(before.comparison, after.comparison) ||
          before.options.minCells !== after.options.minCells));
    if (needsData) {
      void this.refresh();
    } else {
      this._rebuild();
    }
  }

  /** Gather the data for the current selection (cache first) and rebuild the model. */
  async refresh(): Promise<void> {
    markTiming('exprscope:heatmap:refresh');
    const abort = this._startRequest();
    const panel = this._panel;
    const selection = panel.selection;
    const description = panel.description;
    if (!description || !selection.object) {
      this._data = null;
      this._showNothing('idle', 'Pick an object in the exprscope sidebar.');
      return;
    }
    const { geneSource, nMarkers } = this._settings;
    if (geneSource === 'selected' && selection.genes.length === 0) {
      this._data = null;
      this._showNothing(
        'idle',
        'Choose genes in the sidebar, or show the top markers per cluster.'
      );
      return;
    }
    if (geneSource === 'markers' && !selection.clusterColumn) {
      this._data = null;
      this._showNothing(
        'error',
        'Top markers need a cluster column: choose one in the sidebar.'
      );
      return;
    }
    if (this._settings.options.value === 'log2fc') {
      await this._refreshDifference(abort);
      return;
    }
    try {
      let markers: IMarkerRow[] = [];
      let markerSource: IMarkerSource | null = null;
      let genes = selection.genes;
      if (geneSource === 'markers') {
        this._set({
          status: 'loading',
          message: `Finding the top ${nMarkers} markers per cluster…`
        });
        ({ markers, source: markerSource } = await this._markers());
        if (abort.signal.aborted) {
          return;
        }
        genes = [...new Set(markers.map(m => m.gene))];
      }
      this._set({
        status: 'loading',
        message: `Loading ${genes.length} gene${genes.length === 1 ? '' : 's'}…`
      });
      // Statistics first, at every size: the kernel's per-group sums (the sidebar asked for
      // the selected genes' ahead of the click).
      const loading = (message: string) =>
        this._set({ status: 'loading', message });
      let sums = await kernelGroupSums(panel, genes, abort.signal, loading);
      if (abort.signal.aborted) {
        return;
      }
      if (unlabelledCells(sums) > 0) {
        // Cells without a dataset, cluster or sample label are in no group of the sums, but
        // still count in the columns they do have a label for.
        if (description.execution?.path !== 'kernel') {
          // In memory (small): read cells
          await this._refreshFromCells(genes, markers, markerSource, abort);
          return;
        }
        if (panel.selection.sampleColumn) {
          // Out of core: without the sample column, only cells lacking a dataset or
          // cluster label are left out (samples are then not counted)
          sums = await kernelGroupSums(panel, genes, abort.signal, loading, {
            samples: false
          });
          if (abort.signal.aborted) {
            return;
          }
        }
      }
      this._data = { genes, sums, markers, markerSource };
      markTiming('exprscope:heatmap:data');
      this._rebuild();
    } catch (err) {
      this._failUnlessCancelled(err, abort.signal);
    }
  }

  /** The cells of the genes (in-memory objects whose sums would leave cells out). */
  private async _refreshFromCells(
    genes: string[],
    markers: IMarkerRow[],
    markerSource: IMarkerSource | null,
    abort: AbortController
  ): Promise<void> {
    const expression = await this._panel.expression(genes, {
      signal: abort.signal,
      onProgress: (done, total) =>
        this._set({
          status: 'loading',
          message: `Loading ${genes.length} genes… ${Math.round((100 * done) / Math.max(total, 1))}%`
        })
    });
    if (abort.signal.aborted) {
      return;
    }
    this._data = { genes, expression, markers, markerSource };
    markTiming('exprscope:heatmap:data');
    this._rebuild();
  }

  /** Stop what the plot is waiting for (a comparison's DESeq2 fits stop in the kernel). */
  cancel(): void {
    if (this._state.status !== 'loading') {
      return;
    }
    this._abortRequest();
    // A marker search still running (the kernel's Wilcoxon test) stops too
    this._markerSearch.cancel();
    this._data = null;
    this._showNothing(
      'idle',
      'Cancelled. Change an option or press Redraw to try again.'
    );
  }

  /** Redraw from scratch (e.g. after a cancel). */
  redraw(): void {
    void this.refresh();
  }

  dispose(): void {
    this.conserved.dispose();
    super.dispose();
    // Let go of the data (a million cells), even while something still holds us.
    this._data = null;
    this._input = null;
    this._state = { ...this._state, model: null };
  }

  /**
   * Value 'log2fc': the comparison of the target with the reference dataset in every
   * cluster (the kernel's `compare`; cached in the one cache by object version and
   * arguments), then the rows: the chosen genes or the top changed genes per cluster.
   * Every gene and every cluster is compared, so that adjusted p values are those of the
   * whole test (as DESeq2 and scanpy report them) and DESeq2's size factors come from all
   * genes; genes and clusters shown are picked here.
   */
  private async _refreshDifference(abort: AbortController): Promise<void> {
    const plan = comparisonPlan(this._panel, this._settings);
    if ('problem' in plan) {
      if (!plan.keepData) {
        this._data = null;
      }
      this._showNothing('error', plan.problem);
      return;
    }
    const { args, versus, method } = plan;
    const panel = this._panel;
    try {
      this._set({
        status: 'loading',
        message: `Comparing ${versus} in each cluster (${method === 'pseudobulk' ? 'DESeq2 on pseudobulk counts' : 'Wilcoxon rank-sum'})…`
      });
      const comparison = await panel.comparison(args, {
        signal: abort.signal,
        onKernelProgress: progress =>
          this._set({
            status: 'loading',
            message: `Comparing ${versus}: ${progress.message} (${progress.done} of ${progress.total} clusters)…`
          })
      });
      if (abort.signal.aborted) {
        return;
      }
      this._data = { genes: [], comparison, markers: [], markerSource: null };
      this._rebuild();
    } catch (err) {
      this._failUnlessCancelled(err, abort.signal);
    }
  }

  /** The difference model from the comparison here: rows, clusters kept, order. */
  private _rebuildDifference(comparison: IComparison): void {
    const view = differenceView(comparison, this._settings, {
      genes: this._panel.selection.genes,
      requestedMissing: this._requestedMissing(),
      matrix: this._panel.matrixLabel
    });
    this._supersedeBuilds();
    this._set({
      status: 'ready',
      message: '',
      ...view,
      object: this._panel.selection.object,
      matrixLabel: this._panel.matrixLabel
    });
  }

  /** Markers of every cluster (the cluster subset is applied when building the model). */
  private async _markers(): Promise<{
    markers: IMarkerRow[];
    source: IMarkerSource;
  }> {
    const method = this._settings.markerMethod;
    const key = markerSearchKey(this._panel, method);
    const search = await this._markerSearch.get(key, signal =>
      searchMarkers(this._panel, method, signal, message => {
        // Progress only while the plot waits (a search may outlive its refresh).
        if (this._state.status === 'loading') {
          this._set({ status: 'loading', message });
        }
      })
    );
    return {
      markers: search.rank(this._settings.nMarkers),
      source: search.source
    };
  }

  /** Build the model from the data already here (no kernel). */
  private _rebuild(): void {
    const data = this._data;
    if (!data) {
      if (this._state.status !== 'loading') {
        void this.refresh();
      }
      return;
    }
    if (data.comparison) {
      if (this._settings.options.value !== 'log2fc') {
        void this.refresh();
        return;
      }
      this._rebuildDifference(data.comparison);
      return;
    }
    if (this._settings.options.value === 'log2fc') {
      void this.refresh();
      return;
    }
    try {
      const { markers, markerSource } = data;
      const { datasetColumn, clusterColumn, sampleColumn } =
        this._panel.selection;
      const pooled = data.sums ? pooledGroups(this._panel, data.sums) : null;
      const sample = pooled
        ? pooled.sample
        : sampleColumn && data.expression?.obs.has(sampleColumn)
          ? codedColumn(data.expression, sampleColumn)
          : undefined;
      const dataset = pooled
        ? pooled.dataset
        : codedColumn(data.expression!, datasetColumn);
      const cluster = pooled
        ? pooled.cluster
        : codedColumn(data.expression!, clusterColumn);
      const parsed = parseClusterList(
        this._settings.clusterText,
        cluster.categories
      );
      const kept = parsed.clusters;
      let genes = data.genes;
      let shown = markers;
      if (this._settings.geneSource === 'markers' && kept !== null) {
        shown = markers.filter(m => kept.includes(m.cluster));
        genes = [...new Set(shown.map(m => m.gene))];
      }
      if (this._settings.geneSource === 'selected') {
        // Genes asked for that the matrix does not hold: the model lists them in its notes
        // (and so the exports and the saved notebook do), not only the sidebar.
        const asked = this._requestedMissing().filter(g => !genes.includes(g));
        genes = asked.length > 0 ? [...genes, ...asked] : genes;
      }
      // The same input object while only options change: the worker then keeps its copy
      // (200 MB at a million cells × 50 genes) and gets only the options.
      const inputKey = [
        genes.join('\u0001'),
        datasetColumn,
        clusterColumn,
        sampleColumn,
        this._panel.matrixLabel
      ].join('\u0000');
      if (this._input?.data !== data || this._input.key !== inputKey) {
        this._input = {
          data,
          key: inputKey,
          input: {
            genes,
            values: data.expression?.genes ?? new Map(),
            missingReason: data.expression?.missingReason,
            dataset,
            cluster,
            sample,
            matrix: this._panel.matrixLabel,
            groupSums: pooled?.groupSums
          }
        };
      }
      const input = this._input.input;
      const options = { ...this._settings.options, clusters: kept };
      const build = this._nextBuild();
      const execution = this._panel.description?.execution;
      const finish = (model: IHeatmapModel) => {
        if (!this._isLatestBuild(build)) {
          return; // a newer build (other options or data) is on its way
        }
        markTiming('exprscope:heatmap:model');
        if (data.sums && execution?.path === 'kernel') {
          model.notes.unshift({
            kind: 'kernel_path',
            message: `Computed in the kernel from per-group sums (${execution.reason}).`,
            items: []
          });
          const left = unlabelledCells(data.sums);
          if (left > 0) {
            model.notes.unshift({
              kind: 'kernel_warning',
              message: `${left.toLocaleString('en-US')} cells without a dataset or cluster label are left out.`,
              items: []
            });
          }
          if (sampleColumn && !pooled?.sample) {
            model.notes.unshift({
              kind: 'kernel_warning',
              message: `Samples are not counted: some cells have no ${sampleColumn} label.`,
              items: []
            });
          }
        }
        if (data.sums) {
          for (const warning of data.sums.warnings) {
            model.notes.unshift({
              kind: 'kernel_warning',
              message: warning,
              items: []
            });
          }
        }
        model.notes.unshift(
          ...unknownClustersNotes(parsed.unknown, cluster.categories)
        );
        this._set({
          status: 'ready',
          message: '',
          model,
          markers: shown,
          markerSource,
          unknownClusters: parsed.unknown,
          object: this._panel.selection.object,
          matrixLabel: this._panel.matrixLabel
        });
      };
      // Cells, or the sums' groups (pseudo-cells): the build's size
      const nCells = data.expression?.nCells ?? data.sums?.nGroups ?? 0;
      const worker = this._workerFor(nCells);
      if (worker) {
        this._set({
          status: 'loading',
          message: `Aggregating ${nCells.toLocaleString('en-US')} cells…`
        });
        worker.build(input, options).then(finish, this._failBuild(build));
      } else {
        finish(buildHeatmapModel(input, options));
      }
    } catch (err) {
      this._fail(err);
    }
  }

  protected emptyResult(): Partial<IHeatmapState> {
    return { model: null };
  }

  /** What the plot's data depends on in the sidebar's selection: the genes too. */
  protected selectionKey(): string {
    const s = this._panel.selection;
    return [
      super.selectionKey(),
      s.sampleColumn,
      s.genes.join('\u0001'),
      this._requestedMissing().join('\u0001')
    ].join('\u0000');
  }

  /** Genes the sidebar was asked for that the matrix does not hold. */
  private _requestedMissing(): string[] {
    return this._panel.requestedMissing ?? [];
  }

  /** Refetch when the sidebar's selection (or the object) changed what the plot needs. */
  protected onPanelChanged(moved: boolean): void {
    if (moved) {
      this._data = null; // never redraw old data under the new selection
      void this.refresh();
    }
  }

  private _data: {
    genes: string[];
    /** The kernel's per-group sums of the genes, or their cells (see `_refreshFromCells`). */
    expression?: IExpressionData;
    sums?: IGroupSufficientStats;
    /** Value 'log2fc': the comparison of the datasets in every cluster. */
    comparison?: IComparison;
    markers: IMarkerRow[];
    markerSource: IMarkerSource | null;
  } | null = null;
  /** One marker search per object, matrix, grouping and method (it serves every N). */
  private readonly _markerSearch = new MarkerSearchMemo();
  private _input: {
    data: NonNullable<HeatmapController['_data']>;
    key: string;
    input: IHeatmapInput;
  } | null = null;
}
