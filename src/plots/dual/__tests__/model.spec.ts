import type { CodeArray } from '../../../compute/aggregate';
import * as correlation from '../../../compute/correlation';
import {
  buildDualModel,
  clearDualCaches,
  DualFacetBy,
  DualNoteKind,
  IDualModel,
  IDualStats,
  JITTER_FRACTION,
  NOT_COMPUTED,
  swapDualModel,
  zeroJitter,
  BLEND_RASTER_PIXELS,
  EMPTY_PIXEL
} from '../model';
import { binOf } from '../binning';
import { MessageChannel } from 'worker_threads';

import { dualReplies, freshBuffers } from '../workerProtocol';
import { cellsOf, content, dualInput, N, swapped } from './fixture';

const { correlateByGroup } = correlation;
type IGroupCorrelation = correlation.IGroupCorrelation;

function note(model: IDualModel, kind: DualNoteKind) {
  return model.notes.find(n => n.kind === kind);
}

/** Group codes of the cells kept by a cluster filter (−1 elsewhere). */
function codesOver(
  codes: CodeArray,
  nCategories: number,
  keep: (cell: number) => boolean
): Int32Array {
  return Int32Array.from(codes, (code, cell) =>
    keep(cell) ? (code < 0 ? nCategories : code) : -1
  );
}

function withoutLabels(stats: IDualStats) {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { section, label, dataset, cluster, nGroupCells, reason, ...numbers } =
    stats;
  return numbers;
}

function numbersOf(row: correlation.IGroupCorrelation) {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { group, reason, ...numbers } = row;
  return numbers;
}

beforeEach(() => clearDualCaches());

describe('buildDualModel: statistics', () => {
  it.each([
    [null, false],
    [['0', '2'], false],
    [['1', '2'], true]
  ] as [string[] | null, boolean][])(
    'equal correlateByGroup per dataset and per cluster (clusters %p, detected only %p)',
    (clusters, detectedOnly) => {
      const input = dualInput();
      const options = {
        clusters: clusters ? [...clusters] : null,
        detectedOnly,
        nBoot: 200,
        seed: 7
      };
      const model = buildDualModel(input, options);
      const keep = (cell: number) => {
        const c = input.cluster.codes[cell];
        return clusters === null || (c >= 0 && clusters.includes(String(c)));
      };
      const corr = { detectedOnly, nBoot: 200, seed: 7 };
      const byDataset = correlateByGroup(
        input.x as Float32Array,
        input.y as Float32Array,
        codesOver(input.dataset.codes, 2, keep),
        3,
        corr
      );
      const byCluster = correlateByGroup(
        input.x as Float32Array,
        input.y as Float32Array,
        codesOver(input.cluster.codes, 3, keep),
        4,
        corr
      );
      const datasetLabels = ['ctrl', 'stim', '(no dataset)'];
      expect(model.stats.dataset.map(s => s.label)).toEqual(datasetLabels);
      model.stats.dataset.forEach((stats, d) => {
        expect(withoutLabels(stats)).toEqual(numbersOf(byDataset[d]));
        expect(stats.section).toBe('dataset');
      });
      const clusterIndex = (label: string) =>
        label === '(no cluster)' ? 3 : Number(label);
      expect(model.stats.cluster.map(s => s.label)).toEqual(
        clusters === null ? ['0', '1', '2', '(no cluster)'] : [...clusters]
      );
      for (const stats of model.stats.cluster) {
        expect(withoutLabels(stats)).toEqual(
          numbersOf(byCluster[clusterIndex(stats.label)])
        );
      }
      // nGroupCells: cells of the group after the filter, whatever detectedOnly does
      const ctrl = model.stats.dataset[0];
      expect(ctrl.nGroupCells).toBe(
        Array.from({ length: N }, (_, i) => i).filter(
          i => keep(i) && input.dataset.codes[i] === 0
        ).length
      );
      if (detectedOnly) {
        expect(ctrl.nCells).toBeLessThan(ctrl.nGroupCells);
      }
    }
  );

  it('gives each facet its own statistics (pooled, combinations)', () => {
    const input = dualInput();
    const pooled = buildDualModel(input, { nBoot: 50 });
    const all = correlateByGroup(
      input.x as Float32Array,
      input.y as Float32Array,
      new Int32Array(N),
      1,
      { nBoot: 50 }
    )[0];
    expect(withoutLabels(pooled.facets[0].stats)).toEqual(numbersOf(all));
    expect(pooled.stats.facet).toHaveLength(1);
    expect(pooled.stats.facet[0].section).toBe('all');

    const grid = buildDualModel(input, {
      facetBy: 'dataset_cluster',
      nBoot: 50
    });
    const facet = grid.facets.find(f => f.label === 'stim · 1');
    const codes = Int32Array.from({ length: N }, (_, i) =>
      input.dataset.codes[i] === 1 && input.cluster.codes[i] === 1 ? 0 : -1
    );
    const expected = correlateByGroup(
      input.x as Float32Array,
      input.y as Float32Array,
      codes,
      1,
      { nBoot: 50 }
    )[0];
    expect(withoutLabels(facet!.stats)).toEqual(numbersOf(expected));
    expect(facet!.stats.section).toBe('dataset_cluster');

    const byDataset = buildDualModel(input, { facetBy: 'dataset', nBoot: 50 });
    expect(byDataset.facets.map(f => f.stats)).toEqual(byDataset.stats.dataset);
    expect(byDataset.stats.facet).toEqual([]);
  });

  it('explains undefined correlations in gene names', () => {
    const input = dualInput();
    // Cluster 2 of the no-dataset cell: one cell; detected-only leaves few cells
    const model = buildDualModel(input, {
      facetBy: 'dataset_cluster',
      detectedOnly: true,
      nBoot: 0
    });
    const tiny = model.facets.find(f => f.label === '(no dataset) · 2');
    expect(tiny?.stats.reason).toBe('fewer than 3 cells with both genes > 0');
    const text = note(model, 'undefined_correlation')?.message ?? '';
    expect(text).toContain('(no dataset) · 2');
    expect(note(model, 'no_bootstrap')).toBeDefined();

    const flat = dualInput({ y: new Float32Array(N).fill(2) });
    const constant = buildDualModel(flat, { nBoot: 0 });
    expect(constant.stats.dataset[0].reason).toBe('CD8A is constant');
    expect(note(constant, 'constant_gene')?.items).toEqual(['CD8A (2)']);
    expect(note(constant, 'undefined_correlation')?.message).toContain(
      'dataset ctrl (CD8A is constant)'
    );
  });

  it('reports missing genes, NaN values, negatives and unlabelled cells', () => {
    const missing = buildDualModel(dualInput({ y: null }), {
      nBoot: 0
    });
    expect(missing.missingGenes).toEqual(['CD8A']);
    expect(note(missing, 'missing_genes')?.message).toContain('Not in X');
    expect(missing.kept.length).toBe(0);
    expect(missing.points.cells.length).toBe(0);
    expect(missing.blend).toBeNull();

    const nan = dualInput();
    (nan.x as Float32Array)[5] = NaN;
    const withNaN = buildDualModel(nan, { nBoot: 0 });
    expect(Array.from(withNaN.kept)).not.toContain(5);
    expect(note(withNaN, 'nonfinite_values')?.message).toContain('1 cell');

    const allNaN = buildDualModel(
      dualInput({ x: new Float32Array(N).fill(NaN) }),
      { nBoot: 0 }
    );
    expect(allNaN.missingGenes).toEqual(['CD3E']);

    const scaled = dualInput();
    (scaled.x as Float32Array)[3] = -1.5;
    const negative = buildDualModel(scaled, { nBoot: 0 });
    expect(negative.axes.x.hasNegative).toBe(true);
    expect(note(negative, 'negative_values')?.items).toEqual(['CD3E']);

    const model = buildDualModel(dualInput(), { nBoot: 0 });
    expect(note(model, 'unlabelled_cells')?.message).toContain(
      '1 without a dataset'
    );
    expect(note(model, 'same_gene')).toBeUndefined();
    const same = buildDualModel(
      dualInput({ geneY: 'CD3E', y: dualInput().x }),
      { nBoot: 0 }
    );
    expect(note(same, 'same_gene')).toBeDefined();
    expect(same.stats.dataset[0].pearsonR).toBeCloseTo(1, 12);
  });
});

describe('buildDualModel: cells, facets and colours', () => {
  it('keeps the chosen clusters only', () => {
    const input = dualInput();
    const model = buildDualModel(input, {
      clusters: ['2', '0', 'nope'],
      nBoot: 0
    });
    const expected = Array.from({ length: N }, (_, i) => i).filter(i =>
      [0, 2].includes(input.cluster.codes[i])
    );
    expect(Array.from(model.kept)).toEqual(expected);
    expect(note(model, 'unknown_clusters')?.items).toEqual(['nope']);
    expect(model.stats.cluster.map(s => s.label)).toEqual(['0', '2']);
    // All clusters also keeps the cell without a cluster
    const all = buildDualModel(input, { nBoot: 0 });
    expect(all.kept.length).toBe(N);
    const none = buildDualModel(input, { clusters: [], nBoot: 0 });
    expect(none.kept.length).toBe(0);
    expect(note(none, 'no_cells')).toBeDefined();
  });

  it.each(['none', 'dataset', 'cluster', 'dataset_cluster'] as DualFacetBy[])(
    'partitions the drawn cells into facets (%s)',
    facetBy => {
      const input = dualInput();
      const model = buildDualModel(input, {
        facetBy,
        colorBy: 'cluster',
        clusters: ['0', '1'],
        nBoot: 0
      });
      const seen = new Set<number>();
      let total = 0;
      for (const facet of model.facets) {
        const cells = cellsOf(model.points.cells, facet.start, facet.end);
        total += cells.length;
        cells.forEach(cell => seen.add(cell));
        expect(facet.segments[0]).toBe(facet.start);
        expect(facet.segments[facet.segments.length - 1]).toBe(facet.end);
        for (const cell of cells) {
          const d = input.dataset.codes[cell];
          const c = input.cluster.codes[cell];
          if (facet.dataset !== null) {
            expect(facet.dataset).toBe(
              d < 0 ? '(no dataset)' : ['ctrl', 'stim'][d]
            );
          }
          if (facet.cluster !== null) {
            expect(facet.cluster).toBe(String(c));
          }
        }
        // Colour segments hold their group's cells
        model.colorGroups.forEach((group, g) => {
          for (const cell of cellsOf(
            model.points.cells,
            facet.segments[g],
            facet.segments[g + 1]
          )) {
            expect(input.cluster.codes[cell]).toBe(group.index);
          }
        });
      }
      expect(total).toBe(model.kept.length);
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from(model.kept));
      expect(model.facets.reduce((s, f) => s + f.nKept, 0)).toBe(
        model.kept.length
      );
    }
  );

  it('lays dataset × cluster facets out as a grid, empty combinations kept', () => {
    const model = buildDualModel(dualInput(), {
      facetBy: 'dataset_cluster',
      nBoot: 0
    });
    expect(model.grid).toEqual({ rows: 4, columns: 3 });
    expect(model.facets).toHaveLength(12);
    const empty = model.facets.find(
      f => f.label === '(no dataset) · (no cluster)'
    );
    expect(empty?.nKept).toBe(0);
    expect(empty?.stats.reason).toBe('fewer than 3 cells');
    expect(model.facets.map(f => [f.row, f.column]).slice(0, 4)).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [1, 0]
    ]);
  });

  it('draws only double-positive cells with detectedOnly', () => {
    const input = dualInput();
    const model = buildDualModel(input, { detectedOnly: true, nBoot: 0 });
    const x = input.x as Float32Array;
    const y = input.y as Float32Array;
    for (const cell of model.points.cells) {
      expect(x[cell] > 0 && y[cell] > 0).toBe(true);
    }
    expect(model.points.cells.length).toBe(
      Array.from(model.kept).filter(c => x[c] > 0 && y[c] > 0).length
    );
    expect(note(model, 'detected_only')?.message).toContain(
      `${model.points.cells.length} of ${N}`
    );
  });

  it('colours by the full category list, missing labels last', () => {
    const model = buildDualModel(dualInput(), {
      colorBy: 'dataset',
      nBoot: 0
    });
    expect(model.colorCategories).toEqual(['ctrl', 'stim']);
    expect(model.colorGroups).toEqual([
      { index: 0, label: 'ctrl', missing: false },
      { index: 1, label: 'stim', missing: false },
      { index: 2, label: '(no dataset)', missing: true }
    ]);
  });
});

describe('buildDualModel: jitter, axes, density, marginals', () => {
  it('jitters zeros only, deterministically, within the padding, without touching statistics', () => {
    const input = dualInput();
    const plain = buildDualModel(input, { nBoot: 100, seed: 3 });
    const jittered = buildDualModel(input, {
      jitter: true,
      nBoot: 100,
      seed: 3
    });
    const again = buildDualModel(input, { jitter: true, nBoot: 100, seed: 3 });
    expect(Array.from(again.points.x!)).toEqual(Array.from(jittered.points.x!));
    expect(jittered.stats).toEqual(plain.stats);
    const x = input.x as Float32Array;
    const { jitter, min, max, range } = jittered.axes.x;
    expect(jitter).toBeCloseTo(JITTER_FRACTION * (max - min), 6);
    let moved = 0;
    jittered.points.cells.forEach((cell, k) => {
      const drawn = jittered.points.x![k];
      if (x[cell] !== 0) {
        expect(drawn).toBe(x[cell]);
      } else {
        expect(Math.abs(drawn)).toBeLessThanOrEqual(jitter);
        expect(drawn).toBeGreaterThan(range[0]);
        moved += drawn !== 0 ? 1 : 0;
      }
    });
    expect(moved).toBeGreaterThan(5);
    expect(plain.points.x).toEqual(
      Float32Array.from(plain.points.cells, cell => x[cell])
    );
    // The exported helper gives the same offsets
    const offsets = zeroJitter(x, jittered.points.cells, 'CD3E', 3, jitter);
    jittered.points.cells.forEach((cell, k) => {
      if (x[cell] === 0) {
        expect(jittered.points.x![k]).toBe(offsets[k]);
      }
    });
    // Another seed, other offsets; a cell keeps its offset when others are filtered
    const seeded = buildDualModel(input, { jitter: true, nBoot: 0, seed: 4 });
    expect(Array.from(seeded.points.x!)).not.toEqual(
      Array.from(jittered.points.x!)
    );
    expect(note(jittered, 'jitter')?.message).toContain('display only');
  });

  it('switches to density above the threshold, or when asked', () => {
    const input = dualInput();
    const at = buildDualModel(input, { densityThreshold: N, nBoot: 0 });
    expect(at.density.on).toBe(false);
    expect(at.density.reason).toBe('60 points ≤ 60 (automatic)');
    expect(at.facets[0].density).toBeNull();
    const above = buildDualModel(input, {
      densityThreshold: N - 1,
      densityBins: 8,
      facetBy: 'dataset',
      nBoot: 0
    });
    expect(above.density.on).toBe(true);
    expect(above.density.reason).toBe('60 points > 59 (automatic)');
    expect(note(above, 'density')).toBeDefined();
    for (const facet of above.facets) {
      const counts = facet.density as Uint32Array;
      expect(counts).toHaveLength(64);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(facet.end - facet.start);
    }
    expect(buildDualModel(input, { density: 'on', nBoot: 0 }).density.on).toBe(
      true
    );
    const off = buildDualModel(input, {
      density: 'off',
      densityThreshold: 10,
      nBoot: 0
    });
    expect(off.density.on).toBe(false);
    expect(note(off, 'many_points')).toBeDefined();
    // Statistics do not depend on the drawing mode
    expect(off.stats).toEqual(at.stats);
  });

  it('computes marginals per facet and colour group, zeros apart', () => {
    const input = dualInput();
    const model = buildDualModel(input, {
      marginals: true,
      marginalBins: 10,
      facetBy: 'dataset',
      nBoot: 0
    });
    const x = input.x as Float32Array;
    for (const facet of model.facets) {
      const m = facet.marginals!;
      expect(m.x).toHaveLength(model.colorGroups.length);
      model.colorGroups.forEach((_, g) => {
        const cells = cellsOf(
          model.points.cells,
          facet.segments[g],
          facet.segments[g + 1]
        );
        if (cells.length === 0) {
          return;
        }
        const zeros = cells.filter(c => x[c] === 0).length;
        expect(m.zerosX[g]).toBeCloseTo(zeros / cells.length, 12);
        if (zeros < cells.length) {
          expect(m.x[g].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
        }
      });
    }
    expect(model.axes.x.marginalSkipsZeros).toBe(true);
    expect(model.marginals?.x.count).toBe(10);
  });

  it('shares axis ranges over every facet', () => {
    const input = dualInput();
    const model = buildDualModel(input, { facetBy: 'cluster', nBoot: 0 });
    const x = input.x as Float32Array;
    const values = Array.from(model.points.cells, c => x[c]);
    expect(model.axes.x.min).toBe(Math.min(...values));
    expect(model.axes.x.max).toBe(Math.max(...values));
    expect(model.axes.x.range[0]).toBeLessThan(model.axes.x.min);
    expect(model.axes.x.range[1]).toBeGreaterThan(model.axes.x.max);
  });
});

describe('swapping and recomputation', () => {
  const options = {
    facetBy: 'dataset' as const,
    colorBy: 'cluster' as const,
    jitter: true,
    marginals: true,
    density: 'on' as const,
    densityBins: 7,
    nBoot: 80,
    seed: 5
  };

  it('swapDualModel equals building from swapped input (computed afresh)', () => {
    const input = dualInput();
    const model = buildDualModel(input, options);
    clearDualCaches();
    const rebuilt = buildDualModel(swapped(input), options);
    expect(content(swapDualModel(model))).toEqual(content(rebuilt));
    expect(swapDualModel(swapDualModel(model))).toEqual(model);
  });

  it('keeps statistics (and reasons in gene names) through a swap', () => {
    const flat = dualInput({ y: new Float32Array(N).fill(1) });
    const model = buildDualModel(flat, { nBoot: 0 });
    const rebuilt = buildDualModel(swapped(flat), { nBoot: 0 }); // from the memo
    expect(rebuilt.stats).toEqual(model.stats);
    expect(rebuilt.stats.dataset[0].reason).toBe('CD8A is constant');
    clearDualCaches();
    expect(buildDualModel(swapped(flat), { nBoot: 0 }).stats).toEqual(
      model.stats
    );
  });

  it('recomputes nothing to swap, recolour, refacet or redraw', () => {
    const input = dualInput();
    buildDualModel(input, { ...options, facetBy: 'none' });
    const spy = jest.spyOn(correlation, 'correlateByGroup');
    try {
      buildDualModel(swapped(input), { ...options, facetBy: 'none' });
      buildDualModel(input, {
        ...options,
        facetBy: 'none',
        colorBy: 'dataset',
        jitter: false,
        density: 'off',
        marginals: false
      });
      buildDualModel(input, { ...options, facetBy: 'cluster' });
      expect(spy).not.toHaveBeenCalled();
      // Another cluster subset: only the per-dataset (and pooled) cells changed
      buildDualModel(input, {
        ...options,
        facetBy: 'none',
        clusters: ['0', '1']
      });
      const sections = spy.mock.calls.map(call => call[3]);
      expect(sections).toEqual([3, 1]); // datasets + "no dataset", pooled
    } finally {
      spy.mockRestore();
    }
  });
});

describe('memoised passes over the cells', () => {
  it('reuses the kept cells and density bins when only colours change', () => {
    const input = dualInput();
    const options = {
      nBoot: 0,
      density: 'on' as const,
      facetBy: 'dataset' as const
    };
    const first = buildDualModel(input, options);
    const recoloured = buildDualModel(input, {
      ...options,
      colorBy: 'cluster'
    });
    expect(recoloured.kept).toBe(first.kept);
    recoloured.facets.forEach((facet, f) =>
      expect(facet.density).toBe(first.facets[f].density)
    );
    // Other cells or other facets: computed anew, equal to a fresh build
    const subset = buildDualModel(input, { ...options, clusters: ['0'] });
    expect(subset.kept).not.toBe(first.kept);
    const byCluster = buildDualModel(input, { ...options, facetBy: 'cluster' });
    expect(byCluster.facets[0].density).not.toBe(first.facets[0].density);
    clearDualCaches();
    expect(
      content(buildDualModel(input, { ...options, colorBy: 'cluster' }))
    ).toEqual(content(recoloured));
    expect(
      content(buildDualModel(input, { ...options, facetBy: 'cluster' }))
    ).toEqual(content(byCluster));
  });
});

describe('drawing before correlating', () => {
  it('skips unknown statistics with statistics: false, and shows memoised ones', () => {
    const input = dualInput();
    const spy = jest.spyOn(correlation, 'correlateByGroup');
    try {
      const quick = buildDualModel(input, { statistics: false, nBoot: 20 });
      expect(spy).not.toHaveBeenCalled();
      expect(quick.stats.dataset[0].reason).toBe(NOT_COMPUTED);
      expect(quick.stats.dataset[0].pearsonR).toBeNaN();
      expect(quick.points.cells.length).toBe(N);
      expect(note(quick, 'statistics_pending')).toBeDefined();
      expect(note(quick, 'undefined_correlation')).toBeUndefined();
      const full = buildDualModel(input, { nBoot: 20 });
      expect(spy).toHaveBeenCalled();
      const again = buildDualModel(input, { statistics: false, nBoot: 20 });
      expect(again.stats).toEqual(full.stats);
      expect(note(again, 'statistics_pending')).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('blend on the embedding', () => {
  it('levels each gene as Seurat and draws co-expressing cells on top', () => {
    const input = dualInput();
    const model = buildDualModel(input, { nBoot: 0 });
    const blend = model.blend!;
    expect(blend.embedding).toBe('X_umap');
    expect(blend.levels).toBe(10);
    expect(Array.from(blend.cells)).not.toContain(57);
    expect(blend.cells.length).toBe(N - 1);
    expect(note(model, 'embedding_partial')).toBeDefined();
    const x = input.x as Float32Array;
    const y = input.y as Float32Array;
    const cells = Array.from(blend.cells);
    const xs = cells.map(c => x[c]);
    const ys = cells.map(c => y[c]);
    const [loX, hiX, loY, hiY] = [
      Math.min(...xs),
      Math.max(...xs),
      Math.min(...ys),
      Math.max(...ys)
    ];
    let previous = -1;
    cells.forEach((cell, k) => {
      const lx = Math.round((9 * (x[cell] - loX)) / (hiX - loX));
      const ly = Math.round((9 * (y[cell] - loY)) / (hiY - loY));
      const code = blend.code![k];
      // JS rounds halves up, R to even: allow that one step
      expect(Math.abs((code % 10) - lx)).toBeLessThanOrEqual(1);
      expect(Math.abs(Math.floor(code / 10) - ly)).toBeLessThanOrEqual(1);
      const sum = (code % 10) + Math.floor(code / 10);
      expect(sum).toBeGreaterThanOrEqual(previous);
      previous = sum;
      expect(blend.x![k]).toBe(
        (input.embedding!.dims[0] as Float32Array)[cell]
      );
    });
    expect(blend.counts.reduce((a, b) => a + b, 0)).toBe(cells.length);
    expect(blend.scaleX).toEqual({ min: loX, max: hiX });
    // Recolouring or refaceting reuses the blend; a swap transposes it
    const recoloured = buildDualModel(input, {
      colorBy: 'cluster',
      facetBy: 'dataset',
      nBoot: 0
    });
    expect(recoloured.blend).toBe(blend);
    expect(note(recoloured, 'embedding_partial')).toEqual(
      note(model, 'embedding_partial')
    );
    const swap = buildDualModel(swapped(input), { nBoot: 0 });
    clearDualCaches();
    expect(content(swap).blend).toEqual(
      content(buildDualModel(swapped(input), { nBoot: 0 })).blend
    );
    expect(swap.blend).toEqual(swapDualModel(model).blend);
  });

  it('draws the embedding as square pixels of the top cell above the threshold', () => {
    const input = dualInput();
    const auto = { nBoot: 0, densityThreshold: 20 };
    const model = buildDualModel(input, auto);
    const blend = model.blend!;
    const raster = blend.raster!;
    expect(raster).not.toBeNull();
    expect(note(model, 'blend_raster')?.message).toContain(
      `${raster.x.count} × ${raster.y.count} pixels`
    );
    // Square pixels, BLEND_RASTER_PIXELS along the longer side (v spans twice u)
    expect(raster.x.size).toBe(raster.y.size);
    expect(raster.y.count).toBe(BLEND_RASTER_PIXELS);
    expect(raster.x.count).toBeLessThan(BLEND_RASTER_PIXELS);
    // Brute force: each pixel holds the last cell drawn into it (the points' blend
    // gives each cell's code, in the same drawing order)
    const drawnAsPoints = buildDualModel(input, {
      ...auto,
      density: 'off'
    }).blend!;
    expect(drawnAsPoints.cells).toEqual(blend.cells);
    const [u, v] = input.embedding!.dims;
    const expectedCode = new Uint8Array(raster.code.length).fill(EMPTY_PIXEL);
    const expectedCount = new Uint32Array(raster.code.length);
    blend.cells.forEach((cell, k) => {
      const p =
        binOf(v[cell], raster.y) * raster.x.count + binOf(u[cell], raster.x);
      expectedCode[p] = drawnAsPoints.code![k];
      expectedCount[p]++;
    });
    expect(raster.code).toEqual(expectedCode);
    expect(raster.count).toEqual(expectedCount);
    // Recolouring reuses the image; below the threshold or with points there is none
    expect(
      buildDualModel(input, { ...auto, colorBy: 'cluster' }).blend!.raster
    ).toBe(raster);
    expect(buildDualModel(input, { nBoot: 0 }).blend!.raster).toBeNull();
    const points = buildDualModel(input, { ...auto, density: 'off' });
    expect(points.blend!.raster).toBeNull();
    expect(note(points, 'blend_raster')).toBeUndefined();
  });

  it('follows the cluster filter and notes a missing embedding', () => {
    const model = buildDualModel(dualInput(), { clusters: ['1'], nBoot: 0 });
    expect(Array.from(model.blend!.cells).sort((a, b) => a - b)).toEqual(
      Array.from(model.kept).filter(c => c !== 57)
    );
    const none = buildDualModel(dualInput({ embedding: null }), { nBoot: 0 });
    expect(none.blend).toBeNull();
    expect(note(none, 'no_embedding')).toBeDefined();
    const short = buildDualModel(
      dualInput({ embedding: { name: 'X_pca', dims: [new Float32Array(N)] } }),
      { nBoot: 0 }
    );
    expect(short.blend).toBeNull();
    expect(note(short, 'no_embedding')?.message).toContain('X_pca');
  });
});

describe('the worker protocol', () => {
  it('sends models back without the input arrays, and a blend only once', () => {
    const input = dualInput();
    const options = { nBoot: 0, density: 'on' as const };
    const model = buildDualModel(input, options);
    const worker = dualReplies();
    const view = dualReplies();
    const shipped = worker.strip(model);
    expect(shipped.x).toBeNull();
    expect(shipped.dataset.codes).toHaveLength(0);
    expect(shipped.cellIds).toBeNull();
    expect(shipped.blend).toBe(model.blend);
    const landed = view.attach(shipped, input);
    expect(landed).toEqual(model);
    expect(landed.x).toBe(input.x);
    expect(landed.cluster).toBe(input.cluster);
    // Recoloured: the same blend goes as its key, and the view puts its copy back
    const recoloured = buildDualModel(input, {
      ...options,
      colorBy: 'cluster'
    });
    const second = worker.strip(recoloured);
    expect(second.blend).toEqual({ key: model.blend!.key, sent: true });
    expect(view.attach(second, input).blend).toBe(landed.blend);
    // Another blend (other cells) is sent whole again
    const subset = buildDualModel(input, { ...options, clusters: ['1'] });
    expect(worker.strip(subset).blend).toBe(subset.blend);
    // A view that never got the blend refuses a reference to it
    expect(() => dualReplies().attach(second, input)).toThrow('blend');
  });

  it('moves only buffers that no memo keeps: later builds are unharmed', () => {
    const input = dualInput();
    const options = {
      nBoot: 0,
      density: 'on' as const,
      marginals: true,
      facetBy: 'dataset' as const
    };
    const model = buildDualModel(input, options);
    const moved = freshBuffers(model);
    expect(moved).toContain(model.points.cells.buffer);
    expect(moved).toContain(model.facets[0].segments.buffer);
    const kept = [
      model.kept.buffer,
      model.facets[0].density!.buffer,
      input.x!.buffer,
      input.y!.buffer,
      input.dataset.codes.buffer,
      input.cluster.codes.buffer,
      model.blend!.cells.buffer,
      model.blend!.raster!.code.buffer
    ];
    expect(moved.filter(b => kept.includes(b))).toEqual([]);
    // Detach them as postMessage's transfer does, then recolour from the memos
    const { port1 } = new MessageChannel();
    port1.postMessage(null, moved);
    port1.close();
    expect(model.points.cells.byteLength).toBe(0);
    const recoloured = buildDualModel(input, {
      ...options,
      colorBy: 'cluster'
    });
    clearDualCaches();
    expect(content(recoloured)).toEqual(
      content(buildDualModel(input, { ...options, colorBy: 'cluster' }))
    );
  });
});

/** Equal to 12 digits, or both NaN (a group with a constant gene has no r). */
function close(actual: number, expected: number): void {
  if (Number.isNaN(expected)) {
    expect(actual).toBeNaN();
  } else {
    expect(actual).toBeCloseTo(expected, 12);
  }
}

describe('buildDualModel: Δr between datasets', () => {
  it.each([false, true])(
    'gives stim − ctrl over all cells and per cluster, as Fisher z of the groups’ r (detected only: %s)',
    detectedOnly => {
      const input = dualInput();
      const model = buildDualModel(input, { nBoot: 0, detectedOnly });
      // The reference groups, computed independently of the model's Pearson-only path
      const dataset = input.dataset.codes as Int32Array;
      const cluster = input.cluster.codes as Int32Array;
      const combined = Int32Array.from(dataset, (d, i) =>
        d < 0 || cluster[i] < 0 ? -1 : d * 3 + cluster[i]
      );
      const groups = correlateByGroup(input.x!, input.y!, combined, 6, {
        detectedOnly,
        nBoot: 0
      });
      const byDataset = correlateByGroup(
        input.x!,
        input.y!,
        Int32Array.from(dataset),
        2,
        { detectedOnly, nBoot: 0 }
      );
      type Row = [string | null, IGroupCorrelation, IGroupCorrelation];
      const expected: Row[] = [
        [null, byDataset[1], byDataset[0]],
        ...[0, 1, 2].map((c): Row => [String(c), groups[3 + c], groups[c]])
      ];
      expect(model.deltaR.map(d => d.cluster)).toEqual(expected.map(e => e[0]));
      model.deltaR.forEach((row, k) => {
        const [, target, reference] = expected[k];
        expect(row).toMatchObject({ target: 'stim', reference: 'ctrl' });
        expect(row.nTarget).toBe(target.nCells);
        expect(row.nReference).toBe(reference.nCells);
        close(row.rTarget, target.pearsonR);
        close(row.rReference, reference.pearsonR);
        const d = correlation.correlationDifference(
          target.pearsonR,
          target.nCells,
          reference.pearsonR,
          reference.nCells
        );
        close(row.deltaR, d.deltaR);
        close(row.p, d.p);
        close(row.ciLow, d.ciLow);
      });
    }
  );

  it('keeps to the kept clusters, and has no rows with one dataset', () => {
    const kept = buildDualModel(dualInput(), { nBoot: 0, clusters: ['2'] });
    expect(kept.deltaR.map(d => d.cluster)).toEqual([null, '2']);
    const one = dualInput();
    const single = buildDualModel(
      {
        ...one,
        dataset: { codes: new Int32Array(N), categories: ['ctrl'] }
      },
      { nBoot: 0 }
    );
    expect(single.deltaR).toEqual([]);
  });
});
