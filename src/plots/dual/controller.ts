/**
 * What the dual-expression view shows and where its data comes from, separate from its
 * React view. The sidebar's selection gives the object, matrix and dataset / cluster
 * columns; the controller adds the two genes, the embedding, the cluster subset, the
 * plot options and the cells selected by lasso. Only another gene, embedding, matrix or
 * object goes to the kernel (through the shared cache); swapping the genes, recolouring,
 * refaceting or another cluster subset rebuild from the data already here.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { describeError, ExprscopeError } from '../../bridge/protocol';
import type { IExpressionData } from '../../data/repository';
import type { ExprscopePanelModel } from '../../panel/model';
import { codedColumn, unknownClustersMessage } from '../grouping';
import { parseClusterList } from '../heatmap/model';
import {
  buildDualModel,
  DEFAULT_DUAL_OPTIONS,
  IDualInput,
  IDualModel,
  IDualOptions
} from './model';
import type { IDualModelBuilder } from './workerProtocol';

export interface IDualSettings {
  geneX: string | null;
  geneY: string | null;
  /** obsm entry for the blend view; null = none. */
  embedding: string | null;
  /** Clusters to keep as typed ("0,3,7"); blank = all. */
  clusterText: string;
  options: IDualOptions;
}

export interface IDualState {
  status: 'idle' | 'loading' | 'ready' | 'error';
  message: string;
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

export class DualController {
  constructor(
    panel: ExprscopePanelModel,
    options: IDualControllerOptions = {}
  ) {
    this._panel = panel;
    this._buildInWorker = options.buildInWorker ?? null;
    this._workerThreshold = options.workerThreshold ?? DUAL_WORKER_THRESHOLD;
    this._selectionKey = this._panelKey();
    this._genesKey = panel.selection.genes.slice(0, 2).join('\u0000');
    this._object = panel.selection.object;
    panel.changed.connect(this._onPanelChanged, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get panel(): ExprscopePanelModel {
    return this._panel;
  }

  get settings(): IDualSettings {
    return this._settings;
  }

  get state(): IDualState {
    return this._state;
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
    this._abort?.abort();
    this._buildId++; // a build still running in the worker is for the old data
    const abort = new AbortController();
    this._abort = abort;
    const panel = this._panel;
    if (!panel.description || !panel.selection.object) {
      this._data = null;
      this._set({
        status: 'idle',
        message: 'Pick an object in the exprscope sidebar.',
        model: null
      });
      return;
    }
    this._fillDefaults();
    const { geneX, geneY, embedding } = this._settings;
    if (!geneX || !geneY) {
      this._data = null;
      this._set({
        status: 'idle',
        message: 'Choose gene X and gene Y (or two genes in the sidebar).',
        model: null
      });
      return;
    }
    this._set({ status: 'loading', message: `Loading ${geneX} and ${geneY}…` });
    try {
      const expression = await panel.expression(
        [geneX, geneY],
        { signal: abort.signal },
        { embedding, cellIds: true }
      );
      if (abort.signal.aborted) {
        return;
      }
      this._data = { expression, embedding };
      this._rebuild();
    } catch (err) {
      if (
        abort.signal.aborted ||
        (err instanceof ExprscopeError && err.code === 'cancelled')
      ) {
        return;
      }
      this._set({ status: 'error', message: describeError(err), model: null });
    }
  }

  dispose(): void {
    this._abort?.abort();
    this._buildInWorker?.dispose();
    this._panel.changed.disconnect(this._onPanelChanged, this);
    Signal.clearData(this);
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
    return known(geneX) && known(geneY);
  }

  private _rebuild(): void {
    const data = this._data;
    if (!data) {
      return;
    }
    const build = ++this._buildId;
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
      if (this._input?.data !== data || this._input.key !== key) {
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
            cellIds: expression.cellIds,
            matrix: matrixLabel,
            missingReason: expression.missingReason
          }
        };
      }
      const input = this._input.input;
      const buildOptions = { ...options, clusters: parsed.clusters };
      const finish = (model: IDualModel, pending = false) => {
        if (build !== this._buildId) {
          return; // a newer build superseded this one
        }
        if (parsed.unknown.length > 0) {
          model.notes.unshift({
            kind: 'unknown_clusters',
            message: unknownClustersMessage(parsed.unknown, cluster.categories),
            items: parsed.unknown
          });
        }
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
      if (this._buildInWorker && expression.nCells >= this._workerThreshold) {
        this._set({
          status: 'loading',
          message: `Drawing ${expression.nCells.toLocaleString('en-US')} cells…`
        });
        // Draw first (correlations already known are shown), then correlate: the
        // statistics of a million cells take long, the points do not.
        const worker = this._buildInWorker;
        if (buildOptions.statistics) {
          void worker
            .build(input, { ...buildOptions, statistics: false })
            .then(model => finish(model, true))
            .catch(() => undefined); // the full build reports errors
        }
        worker.build(input, buildOptions).then(
          model => finish(model),
          err => {
            if (build === this._buildId) {
              this._set({
                status: 'error',
                message: describeError(err),
                model: null
              });
            }
          }
        );
      } else {
        finish(buildDualModel(input, buildOptions));
      }
    } catch (err) {
      this._set({ status: 'error', message: describeError(err), model: null });
    }
  }

  /** What the view's data depends on in the sidebar's selection. */
  private _panelKey(): string {
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

  private _onPanelChanged(): void {
    const s = this._panel.selection;
    const key = this._panelKey();
    const genesKey = s.genes.slice(0, 2).join('\u0000');
    if (key !== this._selectionKey) {
      // Another object: what was picked may not exist there; start over.
      if (s.object !== this._object) {
        this._settings = { ...this._settings, geneX: null, geneY: null };
      }
      this._selectionKey = key;
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

  private _set(patch: Partial<IDualState>): void {
    this._state = { ...this._state, ...patch };
    this._changed.emit();
  }

  private readonly _panel: ExprscopePanelModel;
  private readonly _buildInWorker: IDualModelBuilder | null;
  private readonly _workerThreshold: number;
  private readonly _changed = new Signal<this, void>(this);
  private _buildId = 0;
  private _input: {
    data: NonNullable<DualController['_data']>;
    key: string;
    input: IDualInput;
  } | null = null;
  private _settings: IDualSettings = {
    geneX: null,
    geneY: null,
    embedding: null,
    clusterText: '',
    options: { ...DEFAULT_DUAL_OPTIONS }
  };
  private _state: IDualState = {
    status: 'idle',
    message: '',
    model: null,
    selected: null,
    unknownClusters: [],
    object: null,
    matrixLabel: null
  };
  private _data: {
    expression: IExpressionData;
    embedding: string | null;
  } | null = null;
  private _selectionKey = '';
  private _genesKey = '';
  private _object: string | null = null;
  private _abort: AbortController | null = null;
}
