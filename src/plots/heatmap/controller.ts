/**
 * What the heatmap shows and where its data comes from, separate from its React view.
 *
 * The sidebar's selection (object, matrix, dataset and cluster columns, genes) is the
 * source; the controller adds the heatmap's own choices (gene source, grouping, value,
 * scaling, clusters kept, ordering). Kernel round trips happen only when the data needed
 * changes (other genes, matrix or object); every other change rebuilds the model from the
 * data already here.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { tableFromIPC } from 'apache-arrow';

import { describeError, ExprscopeError } from '../../bridge/protocol';
import {
  decodeGroupStats,
  IGroupStatsResult,
  IGroupSufficientStats
} from '../../data/groupStats';
import type { IExpressionData } from '../../data/repository';
import type { ExprscopePanelModel } from '../../panel/model';
import { codedColumn, unknownClustersMessage } from '../grouping';
import { IMarkerRow, storedMarkerRows, topMarkers } from './markers';
import {
  buildHeatmapModel,
  DEFAULT_HEATMAP_OPTIONS,
  IHeatmapModel,
  IHeatmapOptions,
  parseClusterList
} from './model';

export type GeneSource = 'selected' | 'markers';

export interface IHeatmapSettings {
  geneSource: GeneSource;
  /** Markers per cluster in 'markers' mode. */
  nMarkers: number;
  /** Clusters to keep as typed ("0,3,7"); blank = all. */
  clusterText: string;
  options: IHeatmapOptions;
}

export const DEFAULT_HEATMAP_SETTINGS: IHeatmapSettings = {
  geneSource: 'selected',
  nMarkers: 10,
  clusterText: '',
  options: { ...DEFAULT_HEATMAP_OPTIONS }
};

/** Where the marker genes came from, said on the plot. */
export interface IMarkerSource {
  kind: 'stored' | 'computed';
  text: string;
}

/** The largest "top N" offered (the kernel's stored_markers limit is 200). */
export const MAX_MARKERS = 100;

/** A marker search done once per object, matrix and grouping, ranked for any N. */
interface IMarkerSearch {
  rank: (n: number) => IMarkerRow[];
  source: IMarkerSource;
}

export interface IHeatmapState {
  status: 'idle' | 'loading' | 'ready' | 'error';
  /** What is happening or what went wrong. */
  message: string;
  model: IHeatmapModel | null;
  markers: IMarkerRow[];
  markerSource: IMarkerSource | null;
  /** Typed cluster names that are not clusters of the object. */
  unknownClusters: string[];
  /** Object and matrix the model was built from (for titles). */
  object: string | null;
  matrixLabel: string | null;
}

export class HeatmapController {
  constructor(panel: ExprscopePanelModel) {
    this._panel = panel;
    this._selectionKey = this._panelKey();
    panel.changed.connect(this._onPanelChanged, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get settings(): IHeatmapSettings {
    return this._settings;
  }

  get state(): IHeatmapState {
    return this._state;
  }

  get panel(): ExprscopePanelModel {
    return this._panel;
  }

  /** Change what is shown; only a change of the data needed goes to the kernel. */
  update(
    patch: Partial<Omit<IHeatmapSettings, 'options'>> & {
      options?: Partial<IHeatmapOptions>;
    }
  ): void {
    const before = this._settings;
    this._settings = {
      ...before,
      ...patch,
      options: { ...before.options, ...(patch.options ?? {}) }
    };
    const needsData =
      before.geneSource !== this._settings.geneSource ||
      before.nMarkers !== this._settings.nMarkers;
    if (needsData) {
      void this.refresh();
    } else {
      this._rebuild();
    }
  }

  /** Gather the data for the current selection (cache first) and rebuild the model. */
  async refresh(): Promise<void> {
    this._abort?.abort();
    const abort = new AbortController();
    this._abort = abort;
    const panel = this._panel;
    const selection = panel.selection;
    const description = panel.description;
    if (!description || !selection.object) {
      this._data = null;
      this._set({
        status: 'idle',
        message: 'Pick an object in the exprscope sidebar.',
        model: null
      });
      return;
    }
    const { geneSource, nMarkers } = this._settings;
    if (geneSource === 'selected' && selection.genes.length === 0) {
      this._data = null;
      this._set({
        status: 'idle',
        message:
          'Choose genes in the sidebar, or show the top markers per cluster.',
        model: null
      });
      return;
    }
    if (geneSource === 'markers' && !selection.clusterColumn) {
      this._data = null;
      this._set({
        status: 'error',
        message:
          'Top markers need a cluster column: choose one in the sidebar.',
        model: null
      });
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
      const expression = await panel.expression(genes, {
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
    this._panel.changed.disconnect(this._onPanelChanged, this);
    Signal.clearData(this);
  }

  /** Markers of every cluster (the cluster subset is applied when building the model). */
  private async _markers(): Promise<{
    markers: IMarkerRow[];
    source: IMarkerSource;
  }> {
    const panel = this._panel;
    const description = panel.description!;
    const { object, matrix, clusterColumn, datasetColumn } = panel.selection;
    // N is not in the key: the statistics (or the stored table) serve every N.
    const key = [
      object,
      description.fingerprint,
      matrix,
      clusterColumn,
      datasetColumn
    ].join('\u0000');
    // Shared by overlapping refreshes, so one marker search is one kernel request; not
    // cancelled with the refresh that started it, since a newer refresh may be waiting on it.
    if (this._markerMemo?.key !== key) {
      const value = this._searchMarkers();
      this._markerMemo = { key, value };
      value.catch(() => {
        if (this._markerMemo?.value === value) {
          this._markerMemo = null;
        }
      });
    }
    const search = await this._markerMemo.value;
    return {
      markers: search.rank(this._settings.nMarkers),
      source: search.source
    };
  }

  /** Ask the kernel for a stored marker table or for the statistics of every gene. */
  private async _searchMarkers(): Promise<IMarkerSearch> {
    const panel = this._panel;
    const description = panel.description!;
    const { object, matrix, clusterColumn, datasetColumn } = panel.selection;
    const stored = (description.stored_markers ?? []).find(
      entry => entry.groupby === clusterColumn
    );
    if (stored) {
      const { result, payload } = await panel.request<{
        available: boolean;
        reason?: string;
        method?: string;
        matrix?: string;
      }>('stored_markers', {
        object,
        groupby: clusterColumn,
        n: MAX_MARKERS,
        key: stored.key
      });
      if (!result.available || !payload) {
        throw new ExprscopeError(
          'internal',
          `Stored markers could not be read: ${result.reason ?? 'no data'}.`
        );
      }
      const table = tableFromIPC(payload);
      return {
        rank: n => storedMarkerRows(table, { n }),
        source: {
          kind: 'stored',
          text: `Markers: stored in uns['${stored.key}'] (${result.method ?? stored.method}, on ${result.matrix ?? stored.matrix})`
        }
      };
    }
    const groupby = [clusterColumn!, datasetColumn].filter(
      (c): c is string => c !== null && c !== undefined
    );
    const { result, payload } = await panel.request<IGroupStatsResult>(
      'group_stats',
      { object, matrix, groupby: [...new Set(groupby)] }
    );
    if (!payload) {
      throw new ExprscopeError('internal', 'The kernel sent no statistics.');
    }
    const stats: IGroupSufficientStats = decodeGroupStats(
      result,
      tableFromIPC(payload)
    );
    const excluded = result.excluded_genes.length;
    const ranked = new Map<number, IMarkerRow[]>();
    return {
      rank: n => {
        let rows = ranked.get(n);
        if (!rows) {
          rows = topMarkers(stats, { n, clusters: null });
          ranked.set(n, rows);
        }
        return rows;
      },
      source: {
        kind: 'computed',
        text:
          `Markers: Welch t-test, each cluster vs the rest, on ${this._panel.matrixLabel}` +
          (excluded > 0 ? ` (${excluded} genes without values left out)` : '')
      }
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
    try {
      const { expression, markers, markerSource } = data;
      const { datasetColumn, clusterColumn } = this._panel.selection;
      const dataset = codedColumn(expression, datasetColumn);
      const cluster = codedColumn(expression, clusterColumn);
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
      const model = buildHeatmapModel(
        {
          genes,
          values: expression.genes,
          missingReason: expression.missingReason,
          dataset,
          cluster,
          matrix: this._panel.matrixLabel
        },
        { ...this._settings.options, clusters: kept }
      );
      if (parsed.unknown.length > 0) {
        model.notes.unshift({
          kind: 'unknown_clusters',
          message: unknownClustersMessage(parsed.unknown, cluster.categories),
          items: parsed.unknown
        });
      }
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
    } catch (err) {
      this._set({ status: 'error', message: describeError(err), model: null });
    }
  }

  /** What the plot's data depends on in the sidebar's selection. */
  private _panelKey(): string {
    const panel = this._panel;
    const s = panel.selection;
    return [
      s.object,
      panel.description?.fingerprint ?? '',
      s.matrix,
      s.datasetColumn,
      s.clusterColumn,
      s.genes.join('\u0001')
    ].join('\u0000');
  }

  /** Refetch when the sidebar's selection (or the object) changed what the plot needs. */
  private _onPanelChanged(): void {
    const key = this._panelKey();
    if (key !== this._selectionKey) {
      this._selectionKey = key;
      this._data = null; // never redraw old data under the new selection
      void this.refresh();
    }
  }

  private _set(patch: Partial<IHeatmapState>): void {
    this._state = { ...this._state, ...patch };
    this._changed.emit();
  }

  private readonly _panel: ExprscopePanelModel;
  private readonly _changed = new Signal<this, void>(this);
  private _settings: IHeatmapSettings = {
    ...DEFAULT_HEATMAP_SETTINGS,
    options: { ...DEFAULT_HEATMAP_SETTINGS.options }
  };
  private _state: IHeatmapState = {
    status: 'idle',
    message: '',
    model: null,
    markers: [],
    markerSource: null,
    unknownClusters: [],
    object: null,
    matrixLabel: null
  };
  private _data: {
    genes: string[];
    expression: IExpressionData;
    markers: IMarkerRow[];
    markerSource: IMarkerSource | null;
  } | null = null;
  private _markerMemo: { key: string; value: Promise<IMarkerSearch> } | null =
    null;
  private _selectionKey = '';
  private _abort: AbortController | null = null;
}
