import { sparseColumn } from '../../../compute/aggregate';
import { hclust } from '../../../compute/hclust';
import { scaleRows } from '../../../compute/scale';
import {
  buildHeatmapModel,
  HeatmapNoteKind,
  IHeatmapInput,
  IHeatmapModel,
  parseClusterList
} from '../model';

/**
 * 12 cells: datasets ctrl/stim, clusters 0/1/2 (cluster 2 only in stim, one cell
 * without a cluster, one without a dataset).
 */
const dataset = Int32Array.from([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, -1]);
const cluster = Int32Array.from([0, 0, 1, 1, -1, 0, 0, 1, 2, 2, 2, 1]);
const A = [1, 3, 0, 0, 5, 2, 2, 1, 4, 0, 8, 9];
const B = [0, 0, 2, 4, 0, 0, 1, 3, 0, 0, 0, 1];
const ZERO = new Array(12).fill(0);
const NEG = [-3, 1, 0.5, 0.5, 0, -1, 1, 0.5, 2, 2, 2, 0];

function input(
  genes: Record<string, number[]>,
  requested = Object.keys(genes)
): IHeatmapInput {
  return {
    genes: requested,
    values: new Map(
      Object.entries(genes).map(([g, v]) => [g, Float32Array.from(v)])
    ),
    dataset: { codes: dataset, categories: ['ctrl', 'stim'] },
    cluster: { codes: cluster, categories: ['0', '1', '2'] },
    matrix: 'raw'
  };
}

function note(model: IHeatmapModel, kind: HeatmapNoteKind) {
  return model.notes.find(n => n.kind === kind);
}

function meanOf(values: number[], cells: number[]): number {
  return cells.reduce((s, i) => s + values[i], 0) / cells.length;
}

describe('buildHeatmapModel: grouping and aggregates', () => {
  it('aggregates per cluster with n cells, mean and fraction expressing', () => {
    const model = buildHeatmapModel(input({ A, B }), {
      groupBy: 'cluster',
      scaling: 'none',
      minCells: 1
    });
    expect(model.genes).toEqual(['A', 'B']);
    expect(model.columns.map(c => [c.label, c.cluster, c.nCells])).toEqual([
      ['0', '0', 4],
      ['1', '1', 4],
      ['2', '2', 3]
    ]);
    expect(model.mean[0][0]).toBeCloseTo(meanOf(A, [0, 1, 5, 6]), 12);
    expect(model.mean[0][1]).toBeCloseTo(meanOf(A, [2, 3, 7, 11]), 12);
    expect(model.fraction[1][1]).toBe(1);
    expect(model.fraction[0][2]).toBeCloseTo(2 / 3, 12);
    expect(model.color).toEqual(model.mean);
    expect(model.size).toBeNull();
    expect(model.nCellsKept).toBe(11);
    expect(note(model, 'unlabelled_cells')?.message).toBe(
      '1 cell without a cluster label is not shown.'
    );
    expect(model.matrix).toBe('raw');
  });

  it('groups by dataset × cluster, cluster-major, labelled "stim · 2"', () => {
    const model = buildHeatmapModel(input({ A }), {
      groupBy: 'dataset_cluster',
      scaling: 'none',
      minCells: 2
    });
    expect(model.columns.map(c => c.label)).toEqual([
      'ctrl · 0',
      'stim · 0',
      'ctrl · 1',
      'stim · 1',
      'ctrl · 2',
      'stim · 2'
    ]);
    expect(model.columns.map(c => c.nCells)).toEqual([2, 2, 2, 1, 0, 3]);
    expect(model.columns[5]).toEqual({
      label: 'stim · 2',
      dataset: 'stim',
      cluster: '2',
      nCells: 3,
      nSamples: null,
      masked: false
    });
    // Empty and small combinations stay as masked columns
    expect(model.columns.map(c => c.masked)).toEqual([
      false,
      false,
      false,
      true,
      true,
      false
    ]);
    expect(model.mean[0]).toEqual([2, 2, 0, null, null, 4]);
    expect(note(model, 'masked_columns')?.message).toBe(
      '2 columns have fewer than the minimum of 2 cells and are masked: stim · 1 (1), ctrl · 2 (0).'
    );
    // the cell without a cluster and the one without a dataset
    expect(note(model, 'unlabelled_cells')?.message).toMatch(/^2 cells/);
  });

  it('drops the cells of other clusters before aggregating', () => {
    const model = buildHeatmapModel(input({ A }), {
      groupBy: 'dataset',
      clusters: ['0', '2'],
      scaling: 'none',
      minCells: 1
    });
    expect(model.columns.map(c => [c.label, c.nCells])).toEqual([
      ['ctrl', 2],
      ['stim', 5]
    ]);
    expect(model.mean[0][0]).toBeCloseTo(meanOf(A, [0, 1]), 12);
    expect(model.mean[0][1]).toBeCloseTo(meanOf(A, [5, 6, 8, 9, 10]), 12);
    expect(note(model, 'unlabelled_cells')).toBeUndefined();
  });

  it('reports unknown clusters, empty ones and zero kept cells', () => {
    const withEmpty = {
      ...input({ A }),
      cluster: { codes: cluster, categories: ['0', '1', '2', '9'] }
    };
    const model = buildHeatmapModel(withEmpty, {
      clusters: ['9', 'nope'],
      groupBy: 'cluster'
    });
    expect(note(model, 'unknown_clusters')?.items).toEqual(['nope']);
    expect(note(model, 'empty_clusters')?.items).toEqual(['9']);
    expect(note(model, 'no_cells')).toBeDefined();
    expect(model.columns).toEqual([]);
    expect(model.color).toEqual([[]]);
    expect(model.nCellsKept).toBe(0);
  });

  it('gives the same numbers from dense and sparse columns', () => {
    const dense = input({ A, B });
    const sparse: IHeatmapInput = {
      ...dense,
      values: new Map(
        [...dense.values].map(([g, v]) => [g, sparseColumn(v as Float32Array)])
      )
    };
    const options = { groupBy: 'dataset_cluster' as const, minCells: 1 };
    expect(buildHeatmapModel(sparse, options)).toEqual(
      buildHeatmapModel(dense, options)
    );
    // second build from the remembered sparse form
    expect(buildHeatmapModel(dense, options)).toEqual(
      buildHeatmapModel(sparse, options)
    );
  });

  it("uses Seurat's linear-space mean on request", () => {
    const model = buildHeatmapModel(input({ A }), {
      value: 'linear_mean',
      scaling: 'none',
      minCells: 1
    });
    const cells = [0, 1, 5, 6];
    const expected = Math.log1p(
      cells.reduce((s, i) => s + Math.expm1(A[i]), 0) / 4
    );
    expect(model.mean[0][0]).toBeCloseTo(expected, 5);
    expect(model.colorScale.label).toBe(
      'mean expression, linear space: log1p(mean(expm1(x)))'
    );
  });

  it('rejects codes and columns of different lengths', () => {
    const bad = {
      ...input({ A }),
      values: new Map([['A', new Float32Array(3)]])
    };
    expect(() => buildHeatmapModel(bad)).toThrow(RangeError);
  });
});

describe('buildHeatmapModel: scaling, colours and dots', () => {
  it('z-scores across unmasked columns with a symmetric diverging scale', () => {
    const model = buildHeatmapModel(input({ A, B }), {
      groupBy: 'dataset_cluster',
      minCells: 2
    });
    const raw = buildHeatmapModel(input({ A, B }), {
      groupBy: 'dataset_cluster',
      minCells: 2,
      scaling: 'none'
    });
    const data = Float64Array.from(raw.mean.flat(), v =>
      v === null ? NaN : v
    );
    const expected = scaleRows({ nRows: 2, nCols: 6, data }, 'zscore');
    expect(model.color.flat()).toEqual(
      Array.from(expected.data, v => (Number.isNaN(v) ? null : v))
    );
    expect(model.colorScale).toEqual({
      kind: 'diverging',
      min: -2.5,
      max: 2.5,
      label: 'z-score of mean (clipped ±2.5)'
    });
    const unclipped = buildHeatmapModel(input({ A, B }), {
      zscoreClip: 0,
      minCells: 1
    });
    expect(unclipped.colorScale.label).toBe('z-score of mean');
    expect(unclipped.colorScale.max).toBe(-unclipped.colorScale.min);
  });

  it('min–max scales to 0–1 per gene', () => {
    const model = buildHeatmapModel(input({ A }), {
      scaling: 'minmax',
      minCells: 1
    });
    expect(Math.min(...(model.color[0] as number[]))).toBe(0);
    expect(Math.max(...(model.color[0] as number[]))).toBe(1);
    expect(model.colorScale).toEqual({
      kind: 'sequential',
      min: 0,
      max: 1,
      label: 'mean, scaled 0–1 per gene'
    });
  });

  it('shows unscaled values for a single column, and says why', () => {
    const model = buildHeatmapModel(input({ A }), {
      groupBy: 'cluster',
      clusters: ['2'],
      minCells: 1
    });
    expect(model.columns.map(c => c.label)).toEqual(['2']);
    expect(model.scaling).toBe('none');
    expect(model.color[0][0]).toBe(4);
    expect(model.colorScale.kind).toBe('sequential');
    expect(note(model, 'single_column')?.message).toMatch(
      /z-scores across columns need at least two columns/
    );
  });

  it('lists missing genes, NaN genes and genes not expressed anywhere', () => {
    const nan = [...A];
    nan[3] = NaN;
    const model = buildHeatmapModel(
      {
        ...input({ A, Z: ZERO, N: nan }, ['A', 'Q', 'Z', 'N', 'A']),
        missingReason: { Q: 'not in raw' }
      },
      { minCells: 1 }
    );
    expect(model.genes).toEqual(['A', 'Z']);
    expect(model.missingGenes).toEqual(['Q', 'N']);
    expect(note(model, 'missing_genes')?.message).toBe(
      '2 requested genes are not in raw: Q (not in raw), N (NaN values).'
    );
    expect(note(model, 'unexpressed_genes')?.items).toEqual(['Z']);
    // all-zero rows are explained once, not again as constant
    expect(note(model, 'constant_genes')).toBeUndefined();
    expect(model.color[1]).toEqual([0, 0, 0]);
  });

  it('explains an empty heatmap without genes', () => {
    const model = buildHeatmapModel(input({}, ['Q']));
    expect(model.genes).toEqual([]);
    expect(note(model, 'no_genes')?.message).toBe(
      'None of the requested genes is in raw.'
    );
    expect(note(buildHeatmapModel(input({}, [])), 'no_genes')?.message).toBe(
      'No genes chosen: pick genes or use the top markers.'
    );
  });

  it('does not show fraction expressing on values with negatives, and says so', () => {
    const fraction = buildHeatmapModel(input({ A, NEG }), {
      value: 'fraction',
      scaling: 'none',
      minCells: 1
    });
    expect(fraction.color[1]).toEqual([null, null, null]);
    expect(fraction.color[0][2]).toBeCloseTo(2 / 3, 12);
    expect(fraction.colorScale).toEqual({
      kind: 'sequential',
      min: 0,
      max: 1,
      label: 'fraction of cells expressing (> 0)'
    });
    expect(note(fraction, 'fraction_meaningless')?.items).toEqual(['NEG']);

    const dots = buildHeatmapModel(input({ A, NEG }), {
      value: 'dot',
      minCells: 1
    });
    expect(dots.size?.[0]).toEqual(dots.fraction[0]);
    expect(dots.size?.[1]).toEqual([null, null, null]);
    expect(dots.color[1].every(v => v !== null)).toBe(true);
    expect(dots.sizeScale?.label).toBe('fraction of cells expressing (> 0)');
    expect(note(dots, 'fraction_meaningless')?.message).toMatch(
      /dots are drawn without size/
    );
    const linear = buildHeatmapModel(input({ NEG }), { value: 'linear_mean' });
    expect(note(linear, 'linear_mean_negative')).toBeDefined();
  });

  it('centres unscaled values with negatives on 0', () => {
    const model = buildHeatmapModel(input({ NEG }), {
      scaling: 'none',
      groupBy: 'dataset_cluster',
      minCells: 1
    });
    expect(model.colorScale.kind).toBe('diverging');
    expect(model.colorScale.min).toBe(-model.colorScale.max);
  });
});

describe('buildHeatmapModel: clustering', () => {
  const genes: Record<string, number[]> = {
    A,
    B,
    C: A.map(v => v * 2 + 1),
    D: B.map(v => v + 0.5),
    E: A.map((v, i) => (i % 2 ? v : 0))
  };

  it('orders genes and columns by average linkage with dendrograms', () => {
    const options = {
      groupBy: 'dataset_cluster' as const,
      minCells: 2,
      metric: 'correlation' as const
    };
    const flat = buildHeatmapModel(input(genes), options);
    const model = buildHeatmapModel(input(genes), {
      ...options,
      clusterGenes: true,
      clusterColumns: true
    });
    // Features: the unmasked columns of the coloured (z-scored) matrix
    const unmasked = flat.columns
      .map((c, j) => j)
      .filter(j => !flat.columns[j].masked);
    const features = flat.color.map(row => unmasked.map(j => row[j] as number));
    const matrix = {
      nRows: features.length,
      nCols: unmasked.length,
      data: Float64Array.from(features.flat())
    };
    const rows = hclust(matrix, { metric: 'correlation' });
    const columns = hclust(matrix, { metric: 'correlation', axis: 'columns' });
    expect(model.genes).toEqual(rows.leaves.map(r => flat.genes[r]));
    expect(model.columns.map(c => c.label)).toEqual([
      ...columns.leaves.map(j => flat.columns[unmasked[j]].label),
      'stim · 1',
      'ctrl · 2'
    ]);
    expect(note(model, 'clustering_partial')?.items).toEqual([
      'stim · 1',
      'ctrl · 2'
    ]);
    // the matrices follow the order
    const g = model.genes.indexOf('C');
    const c = model.columns.findIndex(col => col.label === 'stim · 2');
    expect(model.mean[g][c]).toBe(flat.mean[2][5]);

    const dendrogram = model.rowDendrogram!;
    expect(dendrogram.nLeaves).toBe(5);
    expect(dendrogram.links).toHaveLength(4);
    expect(dendrogram.links[0].x.every(x => x >= 0 && x <= 4)).toBe(true);
    expect(dendrogram.maxHeight).toBe(rows.linkage[3 * 4 + 2]);
    expect(model.columnDendrogram?.nLeaves).toBe(4);
  });

  it('clusters rows with values everywhere and lists the others last', () => {
    const model = buildHeatmapModel(input({ A, B, C: genes.C, NEG }), {
      value: 'fraction',
      clusterGenes: true,
      minCells: 1
    });
    expect(model.genes[3]).toBe('NEG');
    expect(note(model, 'clustering_partial')?.items).toEqual(['NEG']);
    expect(model.rowDendrogram?.nLeaves).toBe(3);
  });

  it('leaves the order alone when not asked to cluster', () => {
    const model = buildHeatmapModel(input(genes));
    expect(model.genes).toEqual(Object.keys(genes));
    expect(model.rowDendrogram).toBeNull();
    expect(model.columnDendrogram).toBeNull();
  });
});

describe('parseClusterList', () => {
  const known = ['0', '3', '7', '12', 'B cells', 'NK', 'Mono'];

  it('accepts commas and whitespace', () => {
    expect(parseClusterList('0,3,7', known)).toEqual({
      clusters: ['0', '3', '7'],
      unknown: []
    });
    expect(parseClusterList(' 0, 3 7 ', known)).toEqual({
      clusters: ['0', '3', '7'],
      unknown: []
    });
    expect(parseClusterList('12\t7,,0', known).clusters).toEqual([
      '12',
      '7',
      '0'
    ]);
  });

  it('reports unknown names and removes duplicates', () => {
    expect(parseClusterList('0, 4, 3, 0 x', known)).toEqual({
      clusters: ['0', '3'],
      unknown: ['4', 'x']
    });
    expect(parseClusterList('4', known)).toEqual({
      clusters: [],
      unknown: ['4']
    });
  });

  it('keeps names with spaces whole and matches case-insensitively', () => {
    expect(parseClusterList('B cells, nk mono 3', known)).toEqual({
      clusters: ['B cells', 'NK', 'Mono', '3'],
      unknown: []
    });
    expect(parseClusterList('b cells 7', known).clusters).toEqual([
      'B cells',
      '7'
    ]);
    // ambiguous case-insensitive match: not guessed
    expect(parseClusterList('ab, aB', ['Ab', 'aB'])).toEqual({
      clusters: ['aB'],
      unknown: ['ab']
    });
  });

  it('means all clusters for blank text', () => {
    expect(parseClusterList('  ', known)).toEqual({
      clusters: null,
      unknown: []
    });
  });
});
