import { ICellIds, IEmbedding, ObsColumn, Utf8Column } from './arrow';
import { comparisonBytes, IComparison } from './comparison';
import type { IGroupSufficientStats } from './groupStats';

/** Which object version cached data belongs to. */
export interface IObjectScope {
  kernelId: string;
  object: string;
  fingerprint: string;
}

export interface IExpressionCacheOptions {
  /** Byte budget for cached columns; 512 MiB unless given. */
  budgetBytes?: number;
}

export interface ICacheStats {
  entries: number;
  bytes: number;
  budgetBytes: number;
  hits: number;
  misses: number;
  evictions: number;
}

export const DEFAULT_CACHE_BYTES = 512 * 1024 * 1024;

type CachedValue =
  | Float32Array
  | ObsColumn
  | IEmbedding
  | ICellIds
  | IComparison
  | IGroupSufficientStats;

interface IEntry {
  objectKey: string;
  value: CachedValue;
  bytes: number;
}

/** What is known about one object version besides its columns. */
interface IObjectRecord {
  fingerprint: string;
  keys: Set<string>;
  nCells?: number;
  /** Genes known to be missing, keyed by matrix + gene; value = reason. */
  missing: Map<string, string>;
}

/** Rough per-string cost: UTF-16 characters plus object overhead. */
const STRING_OVERHEAD_BYTES = 16;

/**
 * The one cache of fetched columns (and of condition comparisons, which
 * take minutes to compute, and of whole-matrix group statistics), shared by
 * all repositories. Keys are kernel id,
 * object, fingerprint, then matrix + gene / obs column / embedding name /
 * comparison arguments. Storing data under a new fingerprint drops the object's
 * older data, so stale data is never served. Least recently used columns
 * are evicted beyond the byte budget.
 *
 * Decoded columns may be views into their reply buffer (only when they fill
 * most of it, see `decodeFetchPayload`); the budget counts the views' bytes,
 * so it is exact once a reply's columns are all cached or all evicted.
 */
export class ExpressionCache {
  constructor(options: IExpressionCacheOptions = {}) {
    this._budgetBytes = options.budgetBytes ?? DEFAULT_CACHE_BYTES;
  }

  /** Byte budget; lowering it evicts at once. */
  get budgetBytes(): number {
    return this._budgetBytes;
  }

  set budgetBytes(bytes: number) {
    this._budgetBytes = bytes;
    this._evict();
  }

  get stats(): ICacheStats {
    return {
      entries: this._entries.size,
      bytes: this._bytes,
      budgetBytes: this._budgetBytes,
      hits: this._hits,
      misses: this._misses,
      evictions: this._evictions
    };
  }

  getGene(
    scope: IObjectScope,
    matrix: string,
    gene: string
  ): Float32Array | undefined {
    return this._get(scope, geneKey(matrix, gene)) as Float32Array | undefined;
  }

  setGene(
    scope: IObjectScope,
    matrix: string,
    gene: string,
    values: Float32Array
  ): void {
    this._set(scope, geneKey(matrix, gene), values, values.byteLength);
  }

  getObs(scope: IObjectScope, column: string): ObsColumn | undefined {
    return this._get(scope, `obs\0${column}`) as ObsColumn | undefined;
  }

  setObs(scope: IObjectScope, column: string, values: ObsColumn): void {
    const bytes =
      values instanceof Float64Array
        ? values.byteLength
        : values.codes.byteLength + stringBytes(values.categories);
    this._set(scope, `obs\0${column}`, values, bytes);
  }

  getEmbedding(scope: IObjectScope, name: string): IEmbedding | undefined {
    return this._get(scope, `obsm\0${name}`) as IEmbedding | undefined;
  }

  setEmbedding(scope: IObjectScope, embedding: IEmbedding): void {
    const bytes = embedding.dims.reduce((sum, d) => sum + d.byteLength, 0);
    this._set(scope, `obsm\0${embedding.name}`, embedding, bytes);
  }

  getCellIds(scope: IObjectScope): ICellIds | undefined {
    return this._get(scope, 'cell_id') as ICellIds | undefined;
  }

  setCellIds(scope: IObjectScope, cellIds: ICellIds): void {
    const bytes =
      cellIds instanceof Utf8Column
        ? cellIds.byteLength
        : stringBytes([...cellIds]);
    this._set(scope, 'cell_id', cellIds, bytes);
  }

  /** A `compare` reply for these arguments (`comparisonKey`), if cached. */
  getComparison(scope: IObjectScope, key: string): IComparison | undefined {
    return this._get(scope, `compare\0${key}`) as IComparison | undefined;
  }

  setComparison(
    scope: IObjectScope,
    key: string,
    comparison: IComparison
  ): void {
    this._set(
      scope,
      `compare\0${key}`,
      comparison,
      comparisonBytes(comparison)
    );
  }

  /** A `group_stats` reply for these arguments (`groupStatsKey`), if cached. */
  getGroupStats(
    scope: IObjectScope,
    key: string
  ): IGroupSufficientStats | undefined {
    return this._get(scope, `group_stats\0${key}`) as
      IGroupSufficientStats | undefined;
  }

  setGroupStats(
    scope: IObjectScope,
    key: string,
    stats: IGroupSufficientStats
  ): void {
    const arrays = [
      stats.n,
      stats.sum,
      stats.sumSq,
      stats.nnz,
      stats.sumExpm1,
      stats.total.sum,
      stats.total.sumSq
    ];
    const bytes =
      arrays.reduce((total, a) => total + (a?.byteLength ?? 0), 0) +
      stringBytes(stats.genes);
    this._set(scope, `group_stats\0${key}`, stats, bytes);
  }

  /** Number of cells of the object version, if seen. */
  getNCells(scope: IObjectScope): number | undefined {
    return this._record(scope)?.nCells;
  }

  setNCells(scope: IObjectScope, nCells: number): void {
    this._recordFor(scope).nCells = nCells;
  }

  /** The reason a gene is missing from a matrix ('' if none was given), or undefined if not known missing. */
  getMissing(
    scope: IObjectScope,
    matrix: string,
    gene: string
  ): string | undefined {
    return this._record(scope)?.missing.get(geneKey(matrix, gene));
  }

  setMissing(
    scope: IObjectScope,
    matrix: string,
    gene: string,
    reason = ''
  ): void {
    this._recordFor(scope).missing.set(geneKey(matrix, gene), reason);
  }

  /** Drop everything cached for a kernel (restart, death, switch). */
  invalidateKernel(kernelId: string): void {
    const prefix = objectKey(kernelId, '');
    for (const key of [...this._objects.keys()]) {
      if (key.startsWith(prefix)) {
        this._dropObject(key);
      }
    }
  }

  /** Drop everything cached for one object of a kernel. */
  invalidateObject(kernelId: string, object: string): void {
    this._dropObject(objectKey(kernelId, object));
  }

  clear(): void {
    this._entries.clear();
    this._objects.clear();
    this._bytes = 0;
  }

  private _get(scope: IObjectScope, key: string): CachedValue | undefined {
    const fullKey = entryKey(scope, key);
    const entry = this._entries.get(fullKey);
    if (!entry) {
      this._misses += 1;
      return undefined;
    }
    this._hits += 1;
    // Re-insert so iteration order stays least → most recently used.
    this._entries.delete(fullKey);
    this._entries.set(fullKey, entry);
    return entry.value;
  }

  private _set(
    scope: IObjectScope,
    key: string,
    value: CachedValue,
    bytes: number
  ): void {
    const record = this._recordFor(scope);
    const fullKey = entryKey(scope, key);
    this._delete(fullKey);
    if (bytes > this._budgetBytes) {
      return;
    }
    this._entries.set(fullKey, {
      objectKey: objectKey(scope.kernelId, scope.object),
      value,
      bytes
    });
    record.keys.add(fullKey);
    this._bytes += bytes;
    this._evict();
  }

  private _evict(): void {
    for (const key of this._entries.keys()) {
      if (this._bytes <= this._budgetBytes) {
        return;
      }
      this._delete(key);
      this._evictions += 1;
    }
  }

  private _delete(fullKey: string): void {
    const entry = this._entries.get(fullKey);
    if (!entry) {
      return;
    }
    this._entries.delete(fullKey);
    this._objects.get(entry.objectKey)?.keys.delete(fullKey);
    this._bytes -= entry.bytes;
  }

  private _record(scope: IObjectScope): IObjectRecord | undefined {
    const record = this._objects.get(objectKey(scope.kernelId, scope.object));
    return record?.fingerprint === scope.fingerprint ? record : undefined;
  }

  /** The record for this version; a new fingerprint replaces the old one. */
  private _recordFor(scope: IObjectScope): IObjectRecord {
    const key = objectKey(scope.kernelId, scope.object);
    let record = this._objects.get(key);
    if (record?.fingerprint !== scope.fingerprint) {
      this._dropObject(key);
      record = {
        fingerprint: scope.fingerprint,
        keys: new Set(),
        missing: new Map()
      };
      this._objects.set(key, record);
    }
    return record;
  }

  private _dropObject(key: string): void {
    const record = this._objects.get(key);
    if (!record) {
      return;
    }
    for (const fullKey of [...record.keys]) {
      this._delete(fullKey);
    }
    this._objects.delete(key);
  }

  private _budgetBytes: number;
  private _entries = new Map<string, IEntry>();
  private _objects = new Map<string, IObjectRecord>();
  private _bytes = 0;
  private _hits = 0;
  private _misses = 0;
  private _evictions = 0;
}

// NUL cannot occur in kernel ids and is vanishingly unlikely in names, so it
// separates key parts unambiguously.
function objectKey(kernelId: string, object: string): string {
  return `${kernelId}\0${object}`;
}

function entryKey(scope: IObjectScope, key: string): string {
  return `${scope.kernelId}\0${scope.object}\0${scope.fingerprint}\0${key}`;
}

function geneKey(matrix: string, gene: string): string {
  return `gene\0${matrix}\0${gene}`;
}

function stringBytes(values: readonly string[]): number {
  return values.reduce(
    (sum, value) => sum + 2 * value.length + STRING_OVERHEAD_BYTES,
    0
  );
}
