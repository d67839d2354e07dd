/**
 * Where the heatmap's marker genes come from: the kernel's Wilcoxon test, a marker table
 * stored with the object, or every gene's statistics for the browser's t-test. One search
 * serves every N (it is ranked afterwards); the controller keeps it per object, matrix
 * and grouping.
 */
import { tableFromIPC } from 'apache-arrow';

import { ExprscopeError } from '../../bridge/protocol';
import {
  decodeGroupStats,
  IGroupStatsResult,
  IGroupSufficientStats
} from '../../data/groupStats';
import type { ExprscopeSession } from '../../session/session';
import { IMarkerRow, storedMarkerRows, topMarkers } from './markers';
import { MarkerMethod, MAX_MARKERS } from './settings';

/** Where the marker genes came from, said on the plot. */
export interface IMarkerSource {
  kind: 'stored' | 'computed';
  text: string;
}

/** A marker search done once per object, matrix and grouping, ranked for any N. */
export interface IMarkerSearch {
  rank: (n: number) => IMarkerRow[];
  source: IMarkerSource;
}

/** What a marker search depends on; not N: the statistics (or the stored table) serve every N. */
export function markerSearchKey(
  panel: ExprscopeSession,
  method: MarkerMethod
): string {
  const { object, matrix, clusterColumn, datasetColumn } = panel.selection;
  return [
    object,
    panel.description!.fingerprint,
    matrix,
    clusterColumn,
    datasetColumn,
    method
  ].join('\u0000');
}

/**
 * Ask the kernel for the markers: its Wilcoxon test ("wilcoxon"), a stored marker table
 * ("auto", when the object has one for the cluster column) or the statistics of every
 * gene for the browser's t-test.
 */
export async function searchMarkers(
  panel: ExprscopeSession,
  method: MarkerMethod,
  signal: AbortSignal,
  onProgress: (message: string) => void
): Promise<IMarkerSearch> {
  const description = panel.description!;
  const { object, matrix, clusterColumn, datasetColumn } = panel.selection;
  if (method === 'wilcoxon') {
    return kernelWilcoxon(panel, signal, onProgress);
  }
  const stored =
    method === 'auto'
      ? (description.stored_markers ?? []).find(
          entry => entry.groupby === clusterColumn
        )
      : undefined;
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
        `Markers: Welch t-test, each cluster vs the rest, on ${panel.matrixLabel}` +
        (excluded > 0 ? ` (${excluded} genes without values left out)` : '')
    }
  };
}

/**
 * The kernel's one-vs-rest Wilcoxon rank-sum markers (`markers` op): scanpy's
 * `rank_genes_groups(method='wilcoxon')` in Python, Seurat's `FindAllMarkers` default
 * in R; its progress shown while the plot waits for it.
 */
async function kernelWilcoxon(
  panel: ExprscopeSession,
  signal: AbortSignal,
  onProgress: (message: string) => void
): Promise<IMarkerSearch> {
  const { object, matrix, clusterColumn } = panel.selection;
  const { result, payload } = await panel.request<{
    test?: string;
    n_genes: number;
    skipped_groups: string[];
    excluded_genes: string[];
  }>(
    'markers',
    {
      object,
      matrix,
      groupby: clusterColumn,
      method: 'wilcoxon',
      n: MAX_MARKERS
    },
    {
      signal,
      onKernelProgress: progress =>
        onProgress(
          `Ranking markers (Wilcoxon rank-sum, in the kernel): ${progress.done} of ${progress.total} genes…`
        )
    }
  );
  if (!payload) {
    throw new ExprscopeError('internal', 'The kernel sent no markers.');
  }
  const table = tableFromIPC(payload);
  const notes = [
    result.skipped_groups.length > 0
      ? `clusters with too few cells: ${result.skipped_groups.join(', ')}`
      : null,
    result.excluded_genes.length > 0
      ? `${result.excluded_genes.length} genes without values left out`
      : null
  ].filter(Boolean);
  return {
    rank: n => storedMarkerRows(table, { n }),
    source: {
      kind: 'computed',
      text:
        'Markers: Wilcoxon rank-sum, each cluster vs the rest, computed in the kernel' +
        `${result.test ? ` (${result.test})` : ''} on ${panel.matrixLabel}` +
        (notes.length > 0 ? ` (${notes.join('; ')})` : '')
    }
  };
}

/**
 * The latest marker search, shared by overlapping refreshes so that one search is one
 * kernel request. Not cancelled with the refresh that started it, since a newer refresh
 * may be waiting on it, but by the user's Cancel (`cancel`).
 */
export class MarkerSearchMemo {
  /** The search under `key`: the one kept, or a new one from `start`. */
  get(
    key: string,
    start: (signal: AbortSignal) => Promise<IMarkerSearch>
  ): Promise<IMarkerSearch> {
    if (this._memo?.key !== key) {
      const abort = new AbortController();
      const value = start(abort.signal);
      const memo = { key, value, abort, done: false };
      this._memo = memo;
      value.then(
        () => (memo.done = true),
        () => {
          if (this._memo === memo) {
            this._memo = null;
          }
        }
      );
    }
    return this._memo.value;
  }

  /** Stop a search still running (the kernel's Wilcoxon test); a finished one stays. */
  cancel(): void {
    if (this._memo && !this._memo.done) {
      this._memo.abort.abort();
      this._memo = null;
    }
  }

  private _memo: {
    key: string;
    value: Promise<IMarkerSearch>;
    abort: AbortController;
    done: boolean;
  } | null = null;
}
