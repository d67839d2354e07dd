/**
 * On a cross-origin-isolated page the plots' workers share the cache's columns instead of
 * copying them (src/data/sharedMemory.ts), so a model build must never write into its
 * input: every build below, over every option, leaves each input array as it was.
 */
import {
  buildDualModel,
  clearDualCaches,
  type DualColorBy,
  type DualDensity,
  type DualFacetBy
} from '../dual/model';
import { dualInput } from '../dual/__tests__/fixture';
import {
  buildHeatmapModel,
  type HeatmapGroupBy,
  type HeatmapValue,
  type IHeatmapInput
} from '../heatmap/model';
import type { RowScaling } from '../../compute/scale';

/** Copies of every typed array reachable from `value` (objects, arrays, maps). */
function arraysIn(value: unknown, out: number[][] = []): number[][] {
  if (ArrayBuffer.isView(value)) {
    out.push(Array.from(value as unknown as ArrayLike<number>));
  } else if (value instanceof Map) {
    value.forEach(entry => arraysIn(entry, out));
  } else if (Array.isArray(value)) {
    value.forEach(entry => arraysIn(entry, out));
  } else if (value !== null && typeof value === 'object') {
    Object.values(value).forEach(entry => arraysIn(entry, out));
  }
  return out;
}

function* product<T extends Record<string, readonly unknown[]>>(
  axes: T
): Generator<{ [K in keyof T]: T[K][number] }> {
  const keys = Object.keys(axes) as (keyof T)[];
  const walk = function* (
    i: number,
    chosen: Partial<{ [K in keyof T]: T[K][number] }>
  ): Generator<{ [K in keyof T]: T[K][number] }> {
    if (i === keys.length) {
      yield chosen as { [K in keyof T]: T[K][number] };
      return;
    }
    for (const value of axes[keys[i]]) {
      yield* walk(i + 1, { ...chosen, [keys[i]]: value });
    }
  };
  yield* walk(0, {});
}

describe('model builds leave their input unchanged', () => {
  it('dual expression, over colouring, facets, density, filters and statistics', () => {
    const input = dualInput();
    const before = arraysIn(input);
    expect(before).toHaveLength(6); // x, y, dataset, cluster, two embedding dims
    let builds = 0;
    for (const options of product({
      colorBy: ['dataset', 'cluster'] as DualColorBy[],
      facetBy: [
        'none',
        'dataset',
        'cluster',
        'dataset_cluster'
      ] as DualFacetBy[],
      density: ['on', 'off'] as DualDensity[],
      detectedOnly: [false, true],
      jitter: [false, true],
      marginals: [false, true],
      clusters: [null, ['0', '2']]
    })) {
      clearDualCaches();
      buildDualModel(input, { ...options, nBoot: 20, densityBins: 12 });
      builds++;
    }
    expect(builds).toBe(256);
    expect(arraysIn(input)).toEqual(before);
  });

  it('heatmap, over grouping, values, scaling and clustering', () => {
    const n = 40;
    const dataset = Int32Array.from({ length: n }, (_, i) =>
      i === 39 ? -1 : i % 2
    );
    const cluster = Int32Array.from({ length: n }, (_, i) =>
      i === 38 ? -1 : i % 3
    );
    const gene = (k: number) =>
      Float32Array.from({ length: n }, (_, i) =>
        i % (k + 2) === 0 ? 0 : ((i * k) % 7) - 1
      );
    const input: IHeatmapInput = {
      genes: ['A', 'B', 'C', 'absent'],
      values: new Map([
        ['A', gene(1)],
        ['B', gene(2)],
        ['C', gene(3)]
      ]),
      dataset: { codes: dataset, categories: ['ctrl', 'stim'] },
      cluster: { codes: cluster, categories: ['0', '1', '2'] },
      matrix: 'X'
    };
    const before = arraysIn(input);
    expect(before).toHaveLength(5);
    let builds = 0;
    for (const options of product({
      groupBy: ['dataset', 'cluster', 'dataset_cluster'] as HeatmapGroupBy[],
      value: ['mean', 'linear_mean', 'fraction', 'dot'] as HeatmapValue[],
      scaling: ['none', 'zscore', 'minmax'] as RowScaling[],
      clusterGenes: [false, true],
      clusterColumns: [false, true],
      clusters: [null, ['1', '2']]
    })) {
      buildHeatmapModel(input, { ...options, minCells: 2 });
      builds++;
    }
    expect(builds).toBe(288);
    expect(arraysIn(input)).toEqual(before);
  });
});
