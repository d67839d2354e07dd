import type { IDisposable } from '@lumino/disposable';
import type { ISignal } from '@lumino/signaling';

import { tableFromIPC } from 'apache-arrow';

import type { IRequestOptions, IResponse } from '../bridge/commClient';
import {
  ExprscopeError,
  IFetchArgs,
  MAX_GENES_PER_FETCH
} from '../bridge/protocol';
import type { ICellIds, IEmbedding, ObsColumn } from './arrow';
import type { ExpressionCache, IObjectScope } from './cache';
import {
  fetchDecoded,
  IFetchDecoder,
  IFetchSource,
  inlineFetchDecoder
} from './fetchDecoding';
import {
  comparisonKey,
  decodeComparison,
  ICompareArgs,
  ICompareResult,
  IComparison
} from './comparison';
import {
  decodeGroupStats,
  IGroupStatsResult,
  IGroupSufficientStats
} from './groupStats';

/** What the repository needs from a KernelBridge (a fake in tests). */
export interface IExpressionSource extends IFetchSource {
  readonly kernelId: string | null;
  /** Emits a kernel id whose data must be dropped. */
  readonly reset: ISignal<any, string>;
  request<R>(
    op: string,
    args: object,
    options?: IRequestOptions
  ): Promise<IResponse<R>>;
}

export interface IExpressionRequest {
  object: string;
  /** The fingerprint the caller saw in `list`/`describe`. */
  fingerprint: string;
  matrix: string;
  genes: string[];
  obs?: string[];
  embedding?: string | null;
  /**
   * The cells' names (obs_names): true fetches them if the cache lacks them, 'cached'
   * takes them only from the cache (null otherwise; a million names are 10–20 MB, which
   * a first draw need not wait for).
   */
  cellIds?: boolean | 'cached';
}

/** A `group_stats` request: every gene (or `genes`), grouped by obs columns. */
export interface IGroupStatsArgs {
  matrix: string;
  /** One to three obs columns, e.g. [cluster, dataset]; groups are their label combinations. */
  groupby: string[];
  /** Only these genes (the heatmap's); absent: every gene of the matrix. */
  genes?: string[];
  /** With `genes`: also Σ expm1(x) per group (linear-space means). */
  expm1?: boolean;
}

export interface IExpressionData {
  nCells: number;
  /** The object version the data belongs to (may differ from the request's). */
  fingerprint: string;
  matrix: string;
  /** Found genes, in request order. */
  genes: Map<string, Float32Array>;
  /** Requested genes the matrix does not hold, in request order. */
  missing: string[];
  /** Kernel explanations for missing genes, where given. */
  missingReason: Record<string, string>;
  obs: Map<string, ObsColumn>;
  embedding: IEmbedding | null;
  cellIds: ICellIds | null;
}

/**
 * Serves expression columns for one kernel bridge from the shared cache,
 * fetching only what is not cached yet. One repository per bridge, so it
 * can drop the kernel's data on the bridge's `reset`; all repositories share
 * one ExpressionCache.
 */
export class ExpressionRepository implements IDisposable {
  /** `decoder` decodes fetch replies: on the UI thread unless given (the app gives a worker's). */
  constructor(
    source: IExpressionSource,
    cache: ExpressionCache,
    decoder: IFetchDecoder = inlineFetchDecoder
  ) {
    this._source = source;
    this._cache = cache;
    this._decoder = decoder;
    source.reset.connect(this._onReset, this);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The requested columns. Genes are fetched in batches of at most
   * MAX_GENES_PER_FETCH (progress is reported per batch); genes known to be
   * missing are not asked for again. If the kernel reports a new
   * fingerprint, the object's cached data is dropped and everything is
   * fetched again once.
   */
  async getExpression(
    request: IExpressionRequest,
    options: IRequestOptions = {}
  ): Promise<IExpressionData> {
    // The sidebar and a plot often ask for the same new genes at once: one fetch serves
    // both.
    return this._joined(
      JSON.stringify(['fetch', requestKey(this._source.kernelId, request)]),
      options,
      () => this._getExpression(request, options)
    );
  }

  /**
   * A condition comparison (`compare` op) of one object version: from the cache when the
   * same arguments were asked before, else from the kernel (progress through
   * `options.onKernelProgress`; cancelling through `options.signal` stops its DESeq2 fits).
   */
  async getComparison(
    object: string,
    fingerprint: string,
    args: ICompareArgs,
    options: IRequestOptions = {}
  ): Promise<IComparison> {
    const kernelId = this._source.kernelId;
    if (kernelId === null) {
      throw new ExprscopeError(
        'no_kernel',
        'No kernel is running for this notebook or console. Start a kernel to continue.'
      );
    }
    const scope = { kernelId, object, fingerprint };
    const key = comparisonKey(args);
    const cached = this._cache.getComparison(scope, key);
    if (cached) {
      return cached;
    }
    const { result, payload } = await this._source.request<ICompareResult>(
      'compare',
      { object, ...args },
      options
    );
    if (!payload) {
      throw new ExprscopeError('internal', 'The kernel sent no comparison.');
    }
    const comparison = decodeComparison(result, tableFromIPC(payload));
    this._cache.setComparison(scope, key, comparison);
    return comparison;
  }

  /**
   * Per-group sufficient statistics of a matrix (`group_stats`): of every gene (what
   * whole-matrix marker tests start from) or of `args.genes` (what heatmaps are drawn
   * from), from the cache or the kernel. The sidebar asks for the heatmap's ahead of the
   * click; a heatmap opened while that request runs joins it.
   */
  async getGroupStats(
    object: string,
    fingerprint: string,
    args: IGroupStatsArgs,
    options: IRequestOptions = {}
  ): Promise<IGroupSufficientStats> {
    const kernelId = this._source.kernelId;
    if (kernelId === null) {
      throw new ExprscopeError(
        'no_kernel',
        'No kernel is running for this notebook or console. Start a kernel to continue.'
      );
    }
    const scope = { kernelId, object, fingerprint };
    const key = JSON.stringify([
      args.matrix,
      args.groupby,
      args.genes ?? null,
      !!args.expm1
    ]);
    const cached = this._cache.getGroupStats(scope, key);
    if (cached) {
      return cached;
    }
    return this._joined(
      JSON.stringify(['group_stats', kernelId, object, fingerprint, key]),
      options,
      async () => {
        const { result, payload } =
          await this._source.request<IGroupStatsResult>(
            'group_stats',
            {
              object,
              matrix: args.matrix,
              groupby: args.groupby,
              ...(args.genes ? { genes: args.genes, expm1: !!args.expm1 } : {})
            },
            options
          );
        if (!payload) {
          throw new ExprscopeError(
            'internal',
            'The kernel sent no statistics.'
          );
        }
        const stats = decodeGroupStats(result, tableFromIPC(payload));
        this._cache.setGroupStats(scope, key, stats);
        return stats;
      }
    );
  }

  /**
   * One request for callers asking the same thing at once: the first runs `start`, the
   * others wait for it. A joiner whose leader was cancelled asks again (its own signal
   * still live); a joiner's own signal only stops its wait.
   */
  private async _joined<T>(
    key: string,
    options: IRequestOptions,
    start: () => Promise<T>
  ): Promise<T> {
    const running = this._inflight.get(key) as Promise<T> | undefined;
    if (running) {
      try {
        return await abortable(running, options.signal);
      } catch (err) {
        if (
          err instanceof ExprscopeError &&
          err.code === 'cancelled' &&
          !options.signal?.aborted
        ) {
          return this._joined(key, options, start);
        }
        throw err;
      }
    }
    const promise = start();
    this._inflight.set(key, promise);
    const forget = () => {
      if (this._inflight.get(key) === promise) {
        this._inflight.delete(key);
      }
    };
    promise.then(forget, forget);
    return promise;
  }

  private async _getExpression(
    request: IExpressionRequest,
    options: IRequestOptions
  ): Promise<IExpressionData> {
    const kernelId = this._source.kernelId;
    if (kernelId === null) {
      throw new ExprscopeError(
        'no_kernel',
        'No kernel is running for this notebook or console. Start a kernel to continue.'
      );
    }
    const scope = { kernelId, object: request.object, fingerprint: '' };
    try {
      return await this._load(
        { ...scope, fingerprint: request.fingerprint },
        request,
        options
      );
    } catch (err) {
      if (!(err instanceof FingerprintChanged)) {
        throw err;
      }
      this._cache.invalidateObject(kernelId, request.object);
      try {
        return await this._load(
          { ...scope, fingerprint: err.fingerprint },
          request,
          options
        );
      } catch (retryErr) {
        if (retryErr instanceof FingerprintChanged) {
          throw new ExprscopeError(
            'object_changed',
            `'${request.object}' changed in the kernel while its data was being read. Try again.`
          );
        }
        throw retryErr;
      }
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._source.reset.disconnect(this._onReset, this);
  }

  private async _load(
    scope: IObjectScope,
    request: IExpressionRequest,
    options: IRequestOptions
  ): Promise<IExpressionData> {
    const cache = this._cache;
    const { matrix } = request;
    const genes = unique(request.genes);
    const obsColumns = unique(request.obs ?? []);
    const embeddingName = request.embedding ?? null;

    const found = new Map<string, Float32Array>();
    const missingReason = new Map<string, string>();
    const genesToFetch: string[] = [];
    for (const gene of genes) {
      const values = cache.getGene(scope, matrix, gene);
      const reason = values ? undefined : cache.getMissing(scope, matrix, gene);
      if (values) {
        found.set(gene, values);
      } else if (reason !== undefined) {
        missingReason.set(gene, reason);
      } else {
        genesToFetch.push(gene);
      }
    }
    const obs = new Map<string, ObsColumn>();
    for (const column of obsColumns) {
      const values = cache.getObs(scope, column);
      if (values) {
        obs.set(column, values);
      }
    }
    const obsToFetch = obsColumns.filter(column => !obs.has(column));
    let embedding =
      embeddingName === null
        ? null
        : (cache.getEmbedding(scope, embeddingName) ?? null);
    let cellIds = request.cellIds ? (cache.getCellIds(scope) ?? null) : null;
    let nCells = cache.getNCells(scope);

    const extrasNeeded =
      obsToFetch.length > 0 ||
      (embeddingName !== null && embedding === null) ||
      (request.cellIds === true && cellIds === null);
    const batches = chunk(genesToFetch, MAX_GENES_PER_FETCH);
    if (batches.length === 0 && (extrasNeeded || nCells === undefined)) {
      batches.push([]);
    }

    for (let i = 0; i < batches.length; i++) {
      const args: IFetchArgs = {
        object: request.object,
        matrix,
        genes: batches[i]
      };
      // Obs columns, embedding and cell ids travel with the first batch.
      if (i === 0) {
        if (obsToFetch.length > 0) {
          args.obs = obsToFetch;
        }
        if (embeddingName !== null && embedding === null) {
          args.embedding = embeddingName;
        }
        if (request.cellIds === true && cellIds === null) {
          args.cell_ids = true;
        }
      }
      const { result, table } = await fetchDecoded(
        this._source,
        args,
        this._decoder,
        options
      );
      if (result.fingerprint !== scope.fingerprint) {
        throw new FingerprintChanged(result.fingerprint);
      }
      nCells = result.n_obs;
      cache.setNCells(scope, nCells);
      table.genes.forEach((values, gene) => {
        cache.setGene(scope, matrix, gene, values);
        found.set(gene, values);
      });
      for (const gene of result.missing) {
        const reason = result.missing_reason?.[gene] ?? '';
        cache.setMissing(scope, matrix, gene, reason);
        missingReason.set(gene, reason);
      }
      table.obs.forEach((values, column) => {
        cache.setObs(scope, column, values);
        obs.set(column, values);
      });
      if (args.embedding !== undefined && table.embedding) {
        cache.setEmbedding(scope, table.embedding);
        embedding = table.embedding;
      }
      if (args.cell_ids && table.cellIds) {
        cache.setCellIds(scope, table.cellIds);
        cellIds = table.cellIds;
      }
    }

    const lacking = [
      ...obsColumns
        .filter(column => !obs.has(column))
        .map(c => `obs column '${c}'`),
      ...(embeddingName !== null && embedding === null
        ? [`embedding '${embeddingName}'`]
        : []),
      ...(request.cellIds === true && cellIds === null ? ['cell ids'] : [])
    ];
    if (lacking.length > 0) {
      throw new ExprscopeError(
        'internal',
        `The kernel's reply lacks the ${lacking.join(', ')}.`
      );
    }

    const data: IExpressionData = {
      nCells: nCells ?? 0,
      fingerprint: scope.fingerprint,
      matrix,
      genes: new Map(),
      missing: [],
      missingReason: {},
      obs: new Map(obsColumns.map(column => [column, obs.get(column)!])),
      embedding,
      cellIds
    };
    for (const gene of genes) {
      const values = found.get(gene);
      if (values) {
        data.genes.set(gene, values);
        continue;
      }
      // Genes neither found nor reported missing are missing too.
      data.missing.push(gene);
      const reason = missingReason.get(gene);
      if (reason) {
        data.missingReason[gene] = reason;
      }
    }
    return data;
  }

  private _onReset(_sender: unknown, kernelId: string): void {
    this._cache.invalidateKernel(kernelId);
  }

  private _source: IExpressionSource;
  private _decoder: IFetchDecoder;
  private _cache: ExpressionCache;
  private _isDisposed = false;
  private readonly _inflight = new Map<string, Promise<unknown>>();
}

/** Internal signal to retry with the fingerprint the kernel reported. */
class FingerprintChanged extends Error {
  constructor(readonly fingerprint: string) {
    super(`Fingerprint changed to ${fingerprint}`);
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function chunk<T>(values: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < values.length; i += size) {
    chunks.push(values.slice(i, i + size));
  }
  return chunks;
}

/** Identity of a request, for sharing one fetch between identical concurrent requests. */
function requestKey(kernelId: string | null, r: IExpressionRequest): string {
  return JSON.stringify([
    kernelId,
    r.object,
    r.fingerprint,
    r.matrix,
    [...r.genes].sort(),
    [...(r.obs ?? [])].sort(),
    r.embedding ?? null,
    r.cellIds ?? false
  ]);
}

/** `promise`, rejected with `cancelled` as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) {
    return promise;
  }
  if (signal.aborted) {
    return Promise.reject(new ExprscopeError('cancelled', 'Cancelled.'));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ExprscopeError('cancelled', 'Cancelled.'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      value => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      err => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      }
    );
  });
}
