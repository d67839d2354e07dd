/**
 * What the dual-expression view shows and where its data comes from, separate from its
 * React view. The sidebar's selection gives the object, matrix and dataset / cluster
 * columns; the controller adds the two genes, the embedding, the cluster subset, the
 * plot options and the cells selected by lasso. Only another gene, embedding, matrix or
 * object goes to the kernel (through the shared cache); swapping the genes, recolouring,
 * refaceting or another cluster subset rebuild from the data already here.
 */
import type { ICorrelation } from '../../compute/correlation';
import type { ICellIds } from '../../data/arrow';
import type { IExpressionData } from '../../data/repository';
import type { ExprscopeSession } from '../../session/session';
import { unknownClustersNotes } from '../clusterNotes';
import { codedColumn } from '../grouping';
import { parseClusterList } from '../heatmap/model';
import {
  buildDualModel,
  DualMemo,
  DEFAULT_DUAL_OPTIONS,
  DENSITY_THRESHOLD,
  IDualInput,
  IDualModel,
  IDualOptions
} from './model';
import type { IDualModelBuilder } from './workerProtocol';

import { deltaRCsv, dualCsv, dualStatsCsv } from '../../export/data';
import { markTiming } from '../../timing';
import { IPlotStatusState, PlotControllerBase } from '../controllerBase';
import type { IDataTable } from '../PlotActions';
import { clusterCategoriesOf, plotContextOf } from '../plotContext';
import { dualSettingsFrom, dualSpecFrom, IDualSpec, IPlotSpec } from '../spec';
import { kernelCorrelations } from './kernelStats';

export interface IDualSettings {
  geneX: string | null;
  geneY: string | null;
  /** obsm entry for the blend view; null = none. */
  embedding: string | null;
  /** Clusters to keep as typed ("0,3,7"); blank = all. */
  clusterText: string;
  options: IDualOptions;
}

export interface IDualState extends IPlotStatusState {
  model: IDualModel | null;
  /** Cells picked by lasso / box in either view (1 = selected); null = no selection. */
  selected: Uint8Array | null;
  unknownClusters: string[];
  object: string | null;
  matrixLabel: string | null;
}

export interface IDualControllerOptions {
  /** Builds models off the UI thread (a Web Worker); without it, builds run inline. */
  buildInWorker?: IDualModelBuilder;
  /** Cells from which builds go to the worker. */
  workerThreshold?: number;
}

/** Below this many cells a build takes a blink; the worker's copies would cost more. */
export const DUAL_WORKER_THRESHOLD = 20_000;

export class DualController extends PlotControllerBase<
  IDualSettings,
  IDualState,
  IDualModelBuilder
> {
  constructor(panel: ExprscopeSession, options: IDualControllerOptions = {}) {
    super(
      panel,
      {
        settings: {
          geneX: null,
          geneY: null,
          embedding: null,
          clusterText: '',
          options: { ...DEFAULT_DUAL_OPTIONS }
        },
        state: {
          status: 'idle',
          message: '',
          model: null,
          selected: null,
          unknownClusters: [],
          object: null,
          matrixLabel: null
        }
      },
      {
        builder: options.buildInWorker,
        workerThreshold: options.workerThreshold ?? DUAL_WORKER_THRESHOLD
      }
    );
    this._genesKey = panel.selection.genes.slice(0, 2).join('\u0000');
    this._object = panel.selection.object;
  }

  /**
   * Changes whenever the model does. Views key what they derive from the model on this
   * rather than on the model itself, so that what they keep of past renders does not
   * keep past models (a million cells each) alive.
   */
  get modelVersion(): number {
    return this._modelVersion;
  }

  /** The plot's parameters (docs/plot-spec.md), or null until both genes are chosen. */
  spec(): IDualSpec | null {
    const context = plotContextOf(this._panel);
    if (!context || !this._settings.geneX || !this._settings.geneY) {
      return null;
    }
    try {
      return dualSpecFrom(
        this._settings,
        context,
        clusterCategoriesOf(this._panel)
      );
    } catch {
      return null;
    }
  }

  /** Show the plot a spec describes: its object, matrix, columns, genes and options. */
  applySpec(spec: IPlotSpec): void {
    if (spec.kind !== 'dual_expression') {
      throw new Error(
        'These parameters describe a heatmap, not a dual-expression plot.'
      );
    }
    const { settings } = dualSettingsFrom(spec, this._settings);
    this.update(settings);
    // The sidebar's gene list is not the dual plot's: keep it as it is.
    void this._panel.applySelection({
      object: spec.object,
      matrix: spec.matrix,
      datasetColumn: spec.dataset_column,
      clusterColumn: spec.cluster_column,
      sampleColumn: spec.sample_column,
      genes: this._panel.selection.genes
    });
  }

  tables(): IDataTable[] {
    const model = this._state.model;
    return model
      ? [
          {
            name: 'cells',
            rows: model.points.cells.length,
            csv: () => dualCsv(model)
          },
          {
            name: 'statistics',
            rows:
              model.stats.dataset.length +
              model.stats.cluster.length +
              model.stats.facet.length,
            csv: () => dualStatsCsv(model)
          },
          ...(model.deltaR.length > 0
            ? [
                {
                  name: 'delta_r',
                  rows: model.deltaR.length,
                  csv: () => deltaRCsv(model)
                }
              ]
            : [])
        ]
      : [];
  }

  notes(): string[] {
    return this._state.model?.notes.map(note => note.message) ?? [];
  }

  update(
    patch: Partial<Omit<IDualSettings, 'options'>> & {
      options?: Partial<IDualOptions>;
    }
  ): void {
    this._settings = {
      ...this._settings,
      ...patch,
      options: { ...this._settings.options, ...(patch.options ?? {}) }
    };
    if (this._hasData()) {
      this._rebuild();
    } else {
      void this.refresh();
    }
  }

  /** Exchange the axes; the data is here already. */
  swap(): void {
    const { geneX, geneY } = this._settings;
    this.update({ geneX: geneY, geneY: geneX });
  }

  /** Highlight these cells in both views (null clears the selection). */
  select(selected: Uint8Array | null): void {
    this._set({ selected });
  }

  /** Fetch (cache first) what the current settings need, then rebuild. */
  async refresh(): Promise<void> {
    const abort = this._startRequest();
    this._supersedeBuilds(); // a build still running in the worker is for the old data
    markTiming('exprscope:dual:refresh');
    const panel = this._panel;
    if (!panel.description || !panel.selection.object) {
      this._data = null;
      this._showNothing('idle', 'Pick an object in the exprscope sidebar.');
      return;
    }
    this._fillDefaults();
    const { geneX, geneY, embedding } = this._settings;
    if (!geneX || !geneY) {
      this._data = null;
      this._showNothing(
        'idle',
        'Choose gene X and gene Y (or two genes in the sidebar).'
      );
      return;
    }
    this._set({ status: 'loading', message: `Loading ${geneX} and ${geneY}…` });
    this._prepareWorker(panel.description.n_obs);
    try {
      // Cell names serve the hover of single points and the CSV. Above the density
      // threshold the first draw is binned (no point shows its name): unless cached,
      // they come after it (a million names were 14 of the view's 31 MB).
      const namesLater = panel.description.n_obs > DENSITY_THRESHOLD;
      const expression = await panel.expression(
        [geneX, geneY],
        { signal: abort.signal },
        { embedding, cellIds: namesLater ? 'cached' : true }
      );
      if (abort.signal.aborted) {
        return;
      }
      markTiming('exprscope:dual:data');
      this._data = {
        expression,
        embedding,
        kernelStats: null,
        kernelStatsKey: '',
        cellIds: expression.cellIds
      };
      this._rebuild();
      if (this._kernelPath()) {
        // Out of core or very large: the points are drawn first; the statistics are
        // computed over all cells in the kernel (Spearman ranked there).
        const key = this._kernelStatsKey();
        const kernelStats = await kernelCorrelations(panel, {
          geneX,
          geneY,
          detectedOnly: this._settings.options.detectedOnly,
          signal: abort.signal
        });
        if (abort.signal.aborted || this._data?.expression !== expression) {
          return;
        }
        this._data = { ...this._data, kernelStats, kernelStatsKey: key };
        this._rebuild();
      }
      if (expression.cellIds === null) {
        await this._fetchCellIds(expression, abort.signal);
      }
    } catch (err) {
      this._failUnlessCancelled(err, abort.signal);
    }
  }

  /**
   * The cells' names after the first draw. The same arrays otherwise, so the worker gets
   * a patch and keeps its memos. Without them (the request failed) the view stands:
   * hover and the CSV name cells by position.
   */
  private async _fetchCellIds(
    expression: IExpressionData,
    signal: AbortSignal
  ): Promise<void> {
    const { geneX, geneY, embedding } = this._settings;
    let cellIds: ICellIds | null = null;
    try {
      cellIds = (
        await this._panel.expression(
          [geneX!, geneY!],
          { signal },
          { embedding, cellIds: true }
        )
      ).cellIds;
    } catch (err) {
      if (!signal.aborted) {
        console.warn('exprscope: cell names not loaded', err);
      }
      return;
    }
    if (signal.aborted || this._data?.expression !== expression || !cellIds) {
      return;
    }
    this._data = { ...this._data, cellIds };
    // The same drawing with names for hover and the CSV: no progress to show
    this._rebuild(true);
  }

  dispose(): void {
    super.dispose();
    // Let go of the data (a million cells), even while something still holds us.
    this._data = null;
    this._input = null;
    this._state = { ...this._state, model: null, selected: null };
  }

  /** Gene X / Y default to the sidebar's first two genes; the embedding to a UMAP. */
  private _fillDefaults(): void {
    const genes = this._panel.selection.genes;
    const embeddings = this._panel.description?.embeddings ?? [];
    const s = this._settings;
    const embedding =
      s.embedding !== null && embeddings.some(e => e.name === s.embedding)
        ? s.embedding
        : (embeddings.find(e => /umap/i.test(e.name))?.name ??
          embeddings.find(e => e.n_dims >= 2)?.name ??
          null);
    this._settings = {
      ...s,
      geneX: s.geneX ?? genes[0] ?? null,
      geneY: s.geneY ?? genes.find(g => g !== (s.geneX ?? genes[0])) ?? null,
      embedding
    };
  }

  private _hasData(): boolean {
    const data = this._data;
    const { geneX, geneY, embedding } = this._settings;
    if (!data || !geneX || !geneY || data.embedding !== embedding) {
      return false;
    }
    const known = (gene: string) =>
      data.expression.genes.has(gene) || data.expression.missing.includes(gene);
    if (
      this._kernelPath() &&
      data.kernelStats !== null &&
      data.kernelStatsKey !== this._kernelStatsKey()
    ) {
      return false; // other genes or "detected only": ask the kernel again
    }
    return known(geneX) && known(geneY);
  }

  /** Whether the object's statistics are computed in the kernel (`describe.execution`). */
  private _kernelPath(): boolean {
    return this._panel.description?.execution?.path === 'kernel';
  }

  private _kernelStatsKey(): string {
    const { geneX, geneY, options } = this._settings;
    return [geneX, geneY, options.detectedOnly].join('\u0000');
  }

  /** Build the model from the data here; `quietly`, without saying "Drawing…" meanwhile. */
  private _rebuild(quietly = false): void {
    const data = this._data;
    if (!data) {
      return;
    }
    const build = this._nextBuild();
    try {
      const { expression } = data;
      const { geneX, geneY, clusterText, options } = this._settings;
      const { datasetColumn, clusterColumn } = this._panel.selection;
      const cluster = codedColumn(expression, clusterColumn);
      const parsed = parseClusterList(clusterText, cluster.categories);
      const matrixLabel = this._panel.matrixLabel;
      const object = this._panel.selection.object;
      // The same input object while only options change: the worker keeps it, and
      // the model's memos are keyed by its arrays.
      const key = [
        geneX,
        geneY,
        datasetColumn,
        clusterColumn,
        matrixLabel
      ].join('\u0000');
      const previous = this._input;
      if (
        previous?.key === key &&
        previous.data !== data &&
        previous.data.expression === data.expression
      ) {
        // Only the kernel's correlations or the cells' names arrived: the same arrays, so
        // the worker gets a patch and keeps its memos (cells, density, blend) and the
        // view its blend picture
        this._input = {
          data,
          key,
          input: {
            ...previous.input,
            kernelStats: data.kernelStats,
            cellIds: data.cellIds
          }
        };
      } else if (previous?.data !== data || previous.key !== key) {
        this._input = {
          data,
          key,
          input: {
            x: expression.genes.get(geneX!) ?? null,
            y: expression.genes.get(geneY!) ?? null,
            geneX: geneX!,
            geneY: geneY!,
            dataset: codedColumn(expression, datasetColumn),
            cluster,
            embedding: expression.embedding,
            cellIds: data.cellIds,
            matrix: matrixLabel,
            missingReason: expression.missingReason,
            kernelStats: data.kernelStats
          }
        };
      }
      const input = this._input!.input; // set by one of the branches above
      // On the kernel path the browser never correlates a million cells itself.
      const kernelPending = this._kernelPath() && !data.kernelStats;
      const buildOptions = {
        ...options,
        clusters: parsed.clusters,
        statistics: options.statistics && !kernelPending
      };
      const finish = (model: IDualModel, pending = kernelPending) => {
        if (!this._isLatestBuild(build)) {
          return; // a newer build superseded this one
        }
        markTiming('exprscope:dual:model');
        if (data.kernelStats) {
          model.notes.unshift({
            kind: 'kernel_statistics',
            message:
              'Correlations computed in the kernel over all cells (Spearman ranked there; no bootstrap interval).' +
              (parsed.clusters !== null
                ? ' Per-dataset values need every cell of the kept clusters: not computed for a cluster subset.'
                : ''),
            items: []
          });
        }
        model.notes.unshift(
          ...unknownClustersNotes(parsed.unknown, cluster.categories)
        );
        const nCells = expression.nCells;
        const selected =
          this._state.selected?.length === nCells ? this._state.selected : null;
        this._set({
          status: pending ? 'loading' : 'ready',
          message: pending
            ? `Correlating ${nCells.toLocaleString('en-US')} cells…`
            : '',
          model,
          selected,
          unknownClusters: parsed.unknown,
          object,
          matrixLabel
        });
      };
      const worker = this._workerFor(expression.nCells);
      if (worker) {
        if (!quietly) {
          this._set({
            status: 'loading',
            message: `Drawing ${expression.nCells.toLocaleString('en-US')} cells…`
          });
        }
        // Draw first (correlations already known are shown), then correlate what is
        // still unknown: the statistics of a million cells take long, the points do not.
        // Recolouring or refaceting finds every correlation memoised: one build.
        const fail = this._failBuild(build);
        worker
          .build(input, { ...buildOptions, statistics: false })
          .then(drawn => {
            const pending =
              buildOptions.statistics &&
              drawn.notes.some(note => note.kind === 'statistics_pending');
            finish(drawn, pending || kernelPending);
            if (pending && this._isLatestBuild(build)) {
              worker.build(input, buildOptions).then(finish, fail);
            }
          }, fail);
      } else {
        finish(buildDualModel(input, buildOptions, this._memo));
      }
    } catch (err) {
      this._fail(err);
    }
  }

  protected emptyResult(): Partial<IDualState> {
    return { model: null };
  }

  /** Follow the sidebar: its first two genes stand in for genes not chosen here. */
  protected onPanelChanged(moved: boolean): void {
    const s = this._panel.selection;
    const genesKey = s.genes.slice(0, 2).join('\u0000');
    if (moved) {
      // Another object: what was picked may not exist there; start over.
      if (s.object !== this._object) {
        this._settings = { ...this._settings, geneX: null, geneY: null };
      }
      this._genesKey = genesKey;
      this._object = s.object;
      this._data = null;
      this._set({ selected: null });
      void this.refresh();
    } else if (
      genesKey !== this._genesKey &&
      (!this._settings.geneX || !this._settings.geneY)
    ) {
      this._genesKey = genesKey;
      void this.refresh();
    }
  }

  /** Counts the models shown (see `modelVersion`). */
  protected _set(patch: Partial<IDualState>): void {
    if ('model' in patch && patch.model !== this._state.model) {
      this._modelVersion++;
    }
    super._set(patch);
  }

  /** Reuses what a rebuild that only changes options leaves alike (inline builds). */
  private readonly _memo = new DualMemo();
  private _modelVersion = 0;

  private _input: {
    data: NonNullable<DualController['_data']>;
    key: string;
    input: IDualInput;
  } | null = null;
  private _data: {
    expression: IExpressionData;
    embedding: string | null;
    /** Kernel path: correlations computed in the kernel, and for which genes/option. */
    kernelStats: ReadonlyMap<string, ICorrelation> | null;
    kernelStatsKey: string;
    /** The cells' names: from the cache with the data, or fetched after the first draw. */
    cellIds: ICellIds | null;
  } | null = null;
  private _genesKey = '';
  private _object: string | null = null;
}
