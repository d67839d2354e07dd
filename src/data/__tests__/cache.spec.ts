import { ExpressionCache, IObjectScope } from '../cache';

const scope: IObjectScope = {
  kernelId: 'k1',
  object: 'adata',
  fingerprint: 'f1'
};

/** A gene column of `n` float32 values (4 bytes each). */
function column(n: number, fill = 1): Float32Array {
  return new Float32Array(n).fill(fill);
}

describe('ExpressionCache', () => {
  it('counts hits and misses', () => {
    const cache = new ExpressionCache();
    expect(cache.getGene(scope, 'X', 'A')).toBeUndefined();
    const values = column(10);
    cache.setGene(scope, 'X', 'A', values);
    expect(cache.getGene(scope, 'X', 'A')).toBe(values);
    expect(cache.stats).toMatchObject({
      entries: 1,
      bytes: 40,
      hits: 1,
      misses: 1
    });
  });

  it('keys genes by kernel, object, fingerprint and matrix', () => {
    const cache = new ExpressionCache();
    cache.setGene(scope, 'X', 'A', column(1, 1));
    cache.setGene(scope, 'raw', 'A', column(1, 2));
    cache.setGene({ ...scope, kernelId: 'k2' }, 'X', 'A', column(1, 3));
    cache.setGene({ ...scope, object: 'other' }, 'X', 'A', column(1, 4));
    expect(cache.getGene(scope, 'X', 'A')![0]).toBe(1);
    expect(cache.getGene(scope, 'raw', 'A')![0]).toBe(2);
    expect(cache.getGene({ ...scope, kernelId: 'k2' }, 'X', 'A')![0]).toBe(3);
    expect(cache.getGene({ ...scope, object: 'other' }, 'X', 'A')![0]).toBe(4);
    expect(
      cache.getGene({ ...scope, fingerprint: 'f0' }, 'X', 'A')
    ).toBeUndefined();
    expect(cache.stats.entries).toBe(4);
  });

  it('evicts least recently used columns beyond the budget', () => {
    const cache = new ExpressionCache({ budgetBytes: 1200 });
    cache.setGene(scope, 'X', 'A', column(100));
    cache.setGene(scope, 'X', 'B', column(100));
    cache.setGene(scope, 'X', 'C', column(100));
    expect(cache.getGene(scope, 'X', 'A')).toBeDefined();
    cache.setGene(scope, 'X', 'D', column(100));
    expect(cache.getGene(scope, 'X', 'B')).toBeUndefined();
    expect(cache.getGene(scope, 'X', 'A')).toBeDefined();
    expect(cache.getGene(scope, 'X', 'C')).toBeDefined();
    expect(cache.getGene(scope, 'X', 'D')).toBeDefined();
    expect(cache.stats).toMatchObject({
      entries: 3,
      bytes: 1200,
      evictions: 1
    });

    // C, A, D were used in that order after the eviction; shrink to one.
    cache.getGene(scope, 'X', 'C');
    cache.budgetBytes = 400;
    expect(cache.getGene(scope, 'X', 'C')).toBeDefined();
    expect(cache.stats).toMatchObject({ entries: 1, bytes: 400, evictions: 3 });
  });

  it('does not store a column larger than the whole budget', () => {
    const cache = new ExpressionCache({ budgetBytes: 100 });
    cache.setGene(scope, 'X', 'small', column(10));
    cache.setGene(scope, 'X', 'huge', column(1000));
    expect(cache.getGene(scope, 'X', 'huge')).toBeUndefined();
    expect(cache.getGene(scope, 'X', 'small')).toBeDefined();
  });

  it('replaces a column stored twice without double counting', () => {
    const cache = new ExpressionCache();
    cache.setGene(scope, 'X', 'A', column(10));
    cache.setGene(scope, 'X', 'A', column(20));
    expect(cache.stats).toMatchObject({ entries: 1, bytes: 80 });
  });

  it('counts bytes of obs columns, embeddings and cell ids', () => {
    const cache = new ExpressionCache();
    cache.setObs(scope, 'n_counts', new Float64Array(10));
    cache.setObs(scope, 'cluster', {
      kind: 'categorical',
      codes: new Int32Array(10),
      categories: ['a', 'bb']
    });
    cache.setEmbedding(scope, {
      name: 'X_umap',
      dims: [column(10), column(10)]
    });
    cache.setCellIds(scope, ['c1', 'c2']);
    // 80 + (40 + 2*1+16 + 2*2+16) + 80 + 2*(2*2+16)
    expect(cache.stats.bytes).toBe(80 + 78 + 80 + 40);
    expect(cache.getObs(scope, 'cluster')).toMatchObject({
      categories: ['a', 'bb']
    });
    expect(cache.getEmbedding(scope, 'X_umap')?.dims).toHaveLength(2);
    expect(cache.getCellIds(scope)).toEqual(['c1', 'c2']);
  });

  it('remembers missing genes with their reason per matrix', () => {
    const cache = new ExpressionCache();
    cache.setMissing(
      scope,
      'layers/integrated',
      'ISG15',
      'not among the 2000 integrated genes'
    );
    cache.setMissing(scope, 'X', 'NOPE');
    expect(cache.getMissing(scope, 'layers/integrated', 'ISG15')).toBe(
      'not among the 2000 integrated genes'
    );
    expect(cache.getMissing(scope, 'X', 'NOPE')).toBe('');
    expect(cache.getMissing(scope, 'X', 'ISG15')).toBeUndefined();
  });

  it('drops an object’s older data when data arrives under a new fingerprint', () => {
    const cache = new ExpressionCache();
    cache.setGene(scope, 'X', 'A', column(10));
    cache.setObs(scope, 'n', new Float64Array(10));
    cache.setMissing(scope, 'X', 'NOPE');
    cache.setNCells(scope, 10);
    cache.setGene({ ...scope, object: 'other' }, 'X', 'A', column(10));

    const next = { ...scope, fingerprint: 'f2' };
    cache.setGene(next, 'X', 'B', column(5));
    expect(cache.getGene(scope, 'X', 'A')).toBeUndefined();
    expect(cache.getObs(scope, 'n')).toBeUndefined();
    expect(cache.getMissing(next, 'X', 'NOPE')).toBeUndefined();
    expect(cache.getNCells(scope)).toBeUndefined();
    expect(
      cache.getGene({ ...scope, object: 'other' }, 'X', 'A')
    ).toBeDefined();
    expect(cache.stats).toMatchObject({ entries: 2, bytes: 60 });
  });

  it('invalidates a kernel or one object', () => {
    const cache = new ExpressionCache();
    const k2 = { ...scope, kernelId: 'k2' };
    const other = { ...scope, object: 'other' };
    cache.setGene(scope, 'X', 'A', column(10));
    cache.setMissing(scope, 'X', 'NOPE');
    cache.setGene(other, 'X', 'A', column(10));
    cache.setGene(k2, 'X', 'A', column(10));
    // A kernel id that is a prefix of another must not match it.
    cache.setGene({ ...scope, kernelId: 'k1x' }, 'X', 'A', column(10));

    cache.invalidateObject('k1', 'other');
    expect(cache.getGene(other, 'X', 'A')).toBeUndefined();
    expect(cache.getGene(scope, 'X', 'A')).toBeDefined();

    cache.invalidateKernel('k1');
    expect(cache.getGene(scope, 'X', 'A')).toBeUndefined();
    expect(cache.getMissing(scope, 'X', 'NOPE')).toBeUndefined();
    expect(cache.getGene(k2, 'X', 'A')).toBeDefined();
    expect(
      cache.getGene({ ...scope, kernelId: 'k1x' }, 'X', 'A')
    ).toBeDefined();
    expect(cache.stats).toMatchObject({ entries: 2, bytes: 80 });
  });
});
