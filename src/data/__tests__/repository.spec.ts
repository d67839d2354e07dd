import { Signal } from '@lumino/signaling';
import { tableFromArrays, tableToIPC } from 'apache-arrow';

import type { IRequestOptions, IResponse } from '../../bridge/commClient';
import type { IFetchReply } from '../../bridge/kernelBridge';
import {
  ExprscopeError,
  IFetchArgs,
  MAX_GENES_PER_FETCH
} from '../../bridge/protocol';
import type { ICategoricalColumn } from '../arrow';
import { ExpressionCache } from '../cache';
import { ExpressionRepository, IExpressionSource } from '../repository';
import { groupStatsPayload } from './groupStatsPayload';
import { ColumnValues, encodeFetchTable } from './payloads';

const N_CELLS = 4;

/** A kernel holding one object; records every fetch it answers. */
class FakeSource implements IExpressionSource {
  kernelId: string | null = 'k1';
  reset = new Signal<this, string>(this);
  fingerprint = 'f1';
  /** Fingerprints to report on the next fetches, before `fingerprint`. */
  nextFingerprints: string[] = [];
  requests: IFetchArgs[] = [];
  options: (IRequestOptions | undefined)[] = [];
  genes = new Set(['A', 'B', 'C', 'D']);
  /** Requests other than fetch (op, args). */
  other: { op: string; args: any; options?: IRequestOptions }[] = [];

  async request<R>(
    op: string,
    args: object,
    options?: IRequestOptions
  ): Promise<IResponse<R>> {
    this.other.push({ op, args, options });
    if (op === 'group_stats') {
      const { result, table } = groupStatsPayload(
        [
          [1, 2, 0, 4],
          [0, 0, 3, 1]
        ],
        ['A', 'B'],
        { codes: [0, 0, 1, 1], categories: ['0', '1'] },
        { codes: [0, 1, 0, 1], categories: ['ctrl', 'stim'] }
      );
      return { result: result as R, payload: tableToIPC(table, 'stream') };
    }
    options?.onKernelProgress?.({ done: 1, total: 2, message: 'cluster 0' });
    const table = tableFromArrays({
      gene: ['A', 'B', 'A', 'B'],
      cluster: ['0', '0', '1', '1'],
      log2fc: Float64Array.from([1.5, -2, 0.5, NaN]),
      stat: Float64Array.from([3, -4, 1, NaN]),
      pvalue: Float64Array.from([0.001, 0.0001, 0.3, NaN]),
      padj: Float64Array.from([0.002, 0.0002, 0.3, NaN])
    });
    const result = {
      method: 'pseudobulk',
      caveat: 'pseudobulk DESeq2',
      reference: 'ctrl',
      target: 'stim',
      matrix: 'layers/counts',
      dataset_key: 'dataset',
      cluster_key: 'cluster',
      sample_key: 'sample',
      clusters: [],
      n_genes: 2
    };
    return { result: result as R, payload: tableToIPC(table, 'stream') };
  }

  async fetch(
    args: IFetchArgs,
    options?: IRequestOptions
  ): Promise<IFetchReply> {
    this.requests.push(args);
    this.options.push(options);
    const found = args.genes.filter(g => this.genes.has(g));
    const missing = args.genes.filter(g => !this.genes.has(g));
    const columns: Record<string, ColumnValues> = {};
    for (const gene of found) {
      columns[`gene:${gene}`] = geneValues(gene);
    }
    for (const column of args.obs ?? []) {
      columns[`obs:${column}`] = { categorical: ['a', 'b', 'a', null] };
    }
    if (args.embedding) {
      columns[`obsm:${args.embedding}:0`] = Float32Array.from([1, 2, 3, 4]);
      columns[`obsm:${args.embedding}:1`] = Float32Array.from([5, 6, 7, 8]);
    }
    if (args.cell_ids) {
      columns.cell_id = ['c1', 'c2', 'c3', 'c4'];
    }
    const payload =
      Object.keys(columns).length > 0 ? encodeFetchTable(columns) : null;
    return {
      result: {
        fingerprint: this.nextFingerprints.shift() ?? this.fingerprint,
        n_obs: N_CELLS,
        matrix: args.matrix,
        genes: found,
        missing,
        missing_reason: Object.fromEntries(
          missing.map(g => [g, `${g} is not in ${args.matrix}`])
        )
      },
      payload
    };
  }
}

/** Distinct values per gene so mix-ups show. */
function geneValues(gene: string): Float32Array {
  const base = gene.charCodeAt(0);
  return Float32Array.from([base, base + 0.5, 0, base + 0.25]);
}

describe('ExpressionRepository', () => {
  let source: FakeSource;
  let cache: ExpressionCache;
  let repository: ExpressionRepository;
  const request = { object: 'adata', fingerprint: 'f1', matrix: 'X' };

  beforeEach(() => {
    source = new FakeSource();
    cache = new ExpressionCache();
    repository = new ExpressionRepository(source, cache);
  });

  it('fetches only the genes and obs columns that are not cached', async () => {
    const first = await repository.getExpression({
      ...request,
      genes: ['A', 'B'],
      obs: ['cluster']
    });
    expect(first.nCells).toBe(N_CELLS);
    expect(first.genes.get('A')).toEqual(geneValues('A'));
    expect((first.obs.get('cluster') as ICategoricalColumn).codes).toEqual(
      Int8Array.from([0, 1, 0, -1])
    );

    const second = await repository.getExpression({
      ...request,
      genes: ['B', 'C', 'A'],
      obs: ['cluster', 'sample']
    });
    expect(source.requests).toEqual([
      { object: 'adata', matrix: 'X', genes: ['A', 'B'], obs: ['cluster'] },
      { object: 'adata', matrix: 'X', genes: ['C'], obs: ['sample'] }
    ]);
    expect([...second.genes.keys()]).toEqual(['B', 'C', 'A']);
    expect(second.genes.get('C')).toEqual(geneValues('C'));
    expect(second.genes.get('A')).toBe(first.genes.get('A'));
    expect([...second.obs.keys()]).toEqual(['cluster', 'sample']);

    const third = await repository.getExpression({
      ...request,
      genes: ['C', 'A'],
      obs: ['sample']
    });
    expect(source.requests).toHaveLength(2);
    expect(third.nCells).toBe(N_CELLS);
    expect(cache.stats.hits).toBeGreaterThan(0);
  });

  it('keeps the matrix in the key', async () => {
    await repository.getExpression({ ...request, genes: ['A'] });
    await repository.getExpression({ ...request, matrix: 'raw', genes: ['A'] });
    expect(source.requests.map(r => r.matrix)).toEqual(['X', 'raw']);
  });

  it('reports missing genes with reasons and does not ask for them again', async () => {
    const first = await repository.getExpression({
      ...request,
      genes: ['NOPE', 'A', 'ALSO_NOPE']
    });
    expect([...first.genes.keys()]).toEqual(['A']);
    expect(first.missing).toEqual(['NOPE', 'ALSO_NOPE']);
    expect(first.missingReason).toEqual({
      NOPE: 'NOPE is not in X',
      ALSO_NOPE: 'ALSO_NOPE is not in X'
    });

    const second = await repository.getExpression({
      ...request,
      genes: ['A', 'NOPE', 'B']
    });
    expect(source.requests[1].genes).toEqual(['B']);
    expect(second.missing).toEqual(['NOPE']);
    expect(second.missingReason).toEqual({ NOPE: 'NOPE is not in X' });

    await repository.getExpression({ ...request, genes: ['NOPE'] });
    expect(source.requests).toHaveLength(2);
  });

  it('asks for each duplicated gene once', async () => {
    const data = await repository.getExpression({
      ...request,
      genes: ['A', 'A', 'B']
    });
    expect(source.requests[0].genes).toEqual(['A', 'B']);
    expect([...data.genes.keys()]).toEqual(['A', 'B']);
  });

  it('fetches and caches the embedding and cell ids', async () => {
    const first = await repository.getExpression({
      ...request,
      genes: ['A'],
      embedding: 'X_umap',
      cellIds: true
    });
    expect(source.requests[0]).toEqual({
      object: 'adata',
      matrix: 'X',
      genes: ['A'],
      embedding: 'X_umap',
      cell_ids: true
    });
    expect(first.embedding?.dims[1]).toEqual(Float32Array.from([5, 6, 7, 8]));
    expect([...first.cellIds!]).toEqual(['c1', 'c2', 'c3', 'c4']);

    const second = await repository.getExpression({
      ...request,
      genes: ['A'],
      embedding: 'X_umap',
      cellIds: true
    });
    expect(source.requests).toHaveLength(1);
    expect(second.embedding).toBe(first.embedding);
    expect(second.cellIds).toBe(first.cellIds);
  });

  it("takes cell ids only from the cache with cellIds: 'cached'", async () => {
    const before = await repository.getExpression({
      ...request,
      genes: ['A'],
      cellIds: 'cached'
    });
    // Not cached: none, and none asked for
    expect(before.cellIds).toBeNull();
    expect(source.requests[0].cell_ids).toBeUndefined();
    const fetched = await repository.getExpression({
      ...request,
      genes: ['A'],
      cellIds: true
    });
    // Only the names travel: the gene is cached
    expect(source.requests[1]).toEqual({
      object: 'adata',
      matrix: 'X',
      genes: [],
      cell_ids: true
    });
    const after = await repository.getExpression({
      ...request,
      genes: ['A'],
      cellIds: 'cached'
    });
    expect(source.requests).toHaveLength(2);
    expect(after.cellIds).toBe(fetched.cellIds);
  });

  it('asks for the cell count when everything requested is known missing', async () => {
    await repository.getExpression({ ...request, genes: ['NOPE'] });
    cache.clear();
    cache.setMissing(
      { kernelId: 'k1', object: 'adata', fingerprint: 'f1' },
      'X',
      'NOPE'
    );
    const data = await repository.getExpression({
      ...request,
      genes: ['NOPE']
    });
    expect(source.requests[1].genes).toEqual([]);
    expect(data.nCells).toBe(N_CELLS);
    expect(data.missing).toEqual(['NOPE']);
  });

  it(`splits more than ${MAX_GENES_PER_FETCH} genes into several requests`, async () => {
    const genes = Array.from(
      { length: 2 * MAX_GENES_PER_FETCH + 5 },
      (_, i) => `G${i}`
    );
    source.genes = new Set(genes);
    const data = await repository.getExpression({
      ...request,
      genes,
      obs: ['cluster']
    });
    expect(source.requests.map(r => r.genes.length)).toEqual([
      MAX_GENES_PER_FETCH,
      MAX_GENES_PER_FETCH,
      5
    ]);
    expect(source.requests.map(r => r.obs)).toEqual([
      ['cluster'],
      undefined,
      undefined
    ]);
    expect([...data.genes.keys()]).toEqual(genes);
  });

  it('passes the request options (signal, progress) to the bridge', async () => {
    const controller = new AbortController();
    const options = { signal: controller.signal, timeoutMs: 5 };
    await repository.getExpression({ ...request, genes: ['A'] }, options);
    expect(source.options[0]).toBe(options);
  });

  it('drops stale data and refetches everything once when the fingerprint changed', async () => {
    await repository.getExpression({ ...request, genes: ['A', 'B'] });
    source.fingerprint = 'f2';
    const data = await repository.getExpression({
      ...request,
      genes: ['A', 'B', 'C'],
      obs: ['cluster']
    });
    expect(data.fingerprint).toBe('f2');
    expect(source.requests.slice(1).map(r => r.genes)).toEqual([
      ['C'],
      ['A', 'B', 'C']
    ]);
    expect([...data.genes.keys()]).toEqual(['A', 'B', 'C']);
    const old = { kernelId: 'k1', object: 'adata', fingerprint: 'f1' };
    expect(cache.getGene(old, 'X', 'A')).toBeUndefined();

    // The caller now knows f2: served from the cache.
    await repository.getExpression({
      ...request,
      fingerprint: 'f2',
      genes: ['A', 'C']
    });
    expect(source.requests).toHaveLength(3);
  });

  it('fails with object_changed if the fingerprint changes again during the retry', async () => {
    source.nextFingerprints = ['f2', 'f3'];
    const error = await repository
      .getExpression({ ...request, genes: ['A'] })
      .catch((e: ExprscopeError) => e);
    expect(error).toBeInstanceOf(ExprscopeError);
    expect((error as ExprscopeError).code).toBe('object_changed');
    expect(source.requests).toHaveLength(2);
  });

  it("drops the kernel's data when the bridge resets", async () => {
    await repository.getExpression({ ...request, genes: ['A'] });
    cache.setGene(
      { kernelId: 'k2', object: 'adata', fingerprint: 'f1' },
      'X',
      'A',
      new Float32Array(4)
    );
    source.reset.emit('k1');
    expect(cache.stats.entries).toBe(1);
    await repository.getExpression({ ...request, genes: ['A'] });
    expect(source.requests).toHaveLength(2);

    repository.dispose();
    source.reset.emit('k1');
    expect(cache.stats.entries).toBe(2);
  });

  it('rejects with no_kernel when the bridge has no kernel', async () => {
    source.kernelId = null;
    await expect(
      repository.getExpression({ ...request, genes: ['A'] })
    ).rejects.toMatchObject({
      code: 'no_kernel'
    });
    expect(source.requests).toHaveLength(0);
  });

  it('propagates bridge errors', async () => {
    source.fetch = () =>
      Promise.reject(new ExprscopeError('unknown_matrix', 'No layer x.'));
    await expect(
      repository.getExpression({ ...request, matrix: 'layers/x', genes: ['A'] })
    ).rejects.toMatchObject({ code: 'unknown_matrix' });
  });

  it('rejects a reply that lacks a requested obs column', async () => {
    const fetch = source.fetch.bind(source);
    // The kernel answers as if the column had not been asked for
    source.fetch = (args, options) => fetch({ ...args, obs: [] }, options);
    await expect(
      repository.getExpression({ ...request, genes: ['A'], obs: ['cluster'] })
    ).rejects.toMatchObject({ code: 'internal' });
  });

  it('serves identical concurrent requests with one fetch', async () => {
    const [a, b] = await Promise.all([
      repository.getExpression({ ...request, genes: ['A', 'B'] }),
      repository.getExpression({ ...request, genes: ['B', 'A'] })
    ]);
    expect(source.requests).toHaveLength(1);
    expect(b.genes.get('A')).toBe(a.genes.get('A'));
  });

  it('fetches again for a joiner whose leader was cancelled', async () => {
    const leader = new AbortController();
    const fetch = source.fetch.bind(source);
    source.fetch = async (args, options) => {
      if (options?.signal?.aborted) {
        throw new ExprscopeError('cancelled', 'Cancelled.');
      }
      await new Promise(resolve => setTimeout(resolve, 5));
      if (options?.signal?.aborted) {
        throw new ExprscopeError('cancelled', 'Cancelled.');
      }
      return fetch(args, options);
    };
    const first = repository.getExpression(
      { ...request, genes: ['C'] },
      { signal: leader.signal }
    );
    const second = repository.getExpression({ ...request, genes: ['C'] });
    leader.abort();
    await expect(first).rejects.toMatchObject({ code: 'cancelled' });
    await expect(second).resolves.toMatchObject({ nCells: N_CELLS });
  });
});

describe('ExpressionRepository.getComparison', () => {
  const args = {
    matrix: 'X',
    reference: 'ctrl',
    dataset_key: 'dataset',
    cluster_key: 'cluster',
    sample_key: 'sample'
  };

  it('decodes the reply and serves the same arguments from the cache', async () => {
    const source = new FakeSource();
    const repository = new ExpressionRepository(source, new ExpressionCache());
    const progress: unknown[] = [];
    const first = await repository.getComparison('adata', 'f1', args, {
      onKernelProgress: p => progress.push(p)
    });
    expect(first.gene).toEqual(['A', 'B', 'A', 'B']);
    expect(first.cluster).toEqual(['0', '0', '1', '1']);
    expect(Array.from(first.padj.slice(0, 3))).toEqual([0.002, 0.0002, 0.3]);
    expect(Number.isNaN(first.log2fc[3])).toBe(true);
    expect(first.result.method).toBe('pseudobulk');
    expect(progress).toEqual([{ done: 1, total: 2, message: 'cluster 0' }]);
    expect(source.other).toHaveLength(1);
    expect(source.other[0].op).toBe('compare');
    expect(source.other[0].args).toEqual({ object: 'adata', ...args });

    expect(await repository.getComparison('adata', 'f1', { ...args })).toBe(
      first
    );
    expect(source.other).toHaveLength(1);
    // Other arguments or another object version: asked again
    await repository.getComparison('adata', 'f1', {
      ...args,
      method: 'wilcoxon'
    });
    await repository.getComparison('adata', 'f2', args);
    expect(source.other).toHaveLength(3);
  });

  it('needs a kernel', async () => {
    const source = new FakeSource();
    source.kernelId = null;
    const repository = new ExpressionRepository(source, new ExpressionCache());
    await expect(
      repository.getComparison('adata', 'f1', args)
    ).rejects.toMatchObject({ code: 'no_kernel' });
  });
});

describe('ExpressionRepository.getGroupStats', () => {
  const args = { matrix: 'X', groupby: ['cluster', 'dataset'] };

  it('asks the kernel for every gene once per object version and grouping', async () => {
    const source = new FakeSource();
    const cache = new ExpressionCache();
    const repository = new ExpressionRepository(source, cache);
    const first = await repository.getGroupStats('adata', 'f1', args);
    expect(first.genes).toEqual(['A', 'B']);
    expect(first.groupLabels).toEqual([
      ['0', 'ctrl'],
      ['0', 'stim'],
      ['1', 'ctrl'],
      ['1', 'stim']
    ]);
    expect(source.other).toEqual([
      {
        op: 'group_stats',
        args: { object: 'adata', matrix: 'X', groupby: ['cluster', 'dataset'] },
        options: {}
      }
    ]);
    expect(cache.stats.bytes).toBeGreaterThan(0);
    expect(await repository.getGroupStats('adata', 'f1', { ...args })).toBe(
      first
    );
    expect(source.other).toHaveLength(1);
    await repository.getGroupStats('adata', 'f1', {
      ...args,
      groupby: ['cluster']
    });
    await repository.getGroupStats('adata', 'f2', args);
    expect(source.other).toHaveLength(3);
  });

  it('needs a kernel', async () => {
    const source = new FakeSource();
    source.kernelId = null;
    const repository = new ExpressionRepository(source, new ExpressionCache());
    await expect(
      repository.getGroupStats('adata', 'f1', args)
    ).rejects.toMatchObject({ code: 'no_kernel' });
  });
});
