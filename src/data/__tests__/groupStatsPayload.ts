import { Table, tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';

import type { IGroupStatsResult } from '../groupStats';

export interface ITestGrouping {
  codes: number[];
  categories: string[];
}

/**
 * A `group_stats` reply as a kernel would send it, computed from cells: groups are the
 * observed (cluster, dataset[, sample]) combinations, cluster-major; cells missing a label
 * are in no group but in the totals. Round-tripped through Arrow IPC as on the wire.
 */
export function groupStatsPayload(
  values: number[][],
  genes: string[],
  cluster: ITestGrouping,
  dataset: ITestGrouping | null = null,
  extra: Partial<IGroupStatsResult> = {},
  sample: ITestGrouping | null = null
): { result: IGroupStatsResult; table: Table } {
  const nCells = cluster.codes.length;
  const groupOf = (i: number): string | null => {
    const k = cluster.codes[i];
    const d = dataset ? dataset.codes[i] : 0;
    const s = sample ? sample.codes[i] : 0;
    return k < 0 || d < 0 || s < 0 ? null : `${k}/${d}/${s}`;
  };
  const keys: string[] = [];
  cluster.categories.forEach((_, k) =>
    (dataset ? dataset.categories : ['']).forEach((_, d) =>
      (sample ? sample.categories : ['']).forEach((_, s) => {
        const key = `${k}/${d}/${s}`;
        if (
          Array.from({ length: nCells }, (_, i) => groupOf(i)).includes(key)
        ) {
          keys.push(key);
        }
      })
    )
  );
  const columns: Record<string, Float64Array | string[]> = { gene: genes };
  const groups = keys.map((key, g) => {
    const cells = Array.from({ length: nCells }, (_, i) => i).filter(
      i => groupOf(i) === key
    );
    const over = (f: (v: number) => number) =>
      Float64Array.from(values, row =>
        cells.reduce((s, i) => s + f(row[i]), 0)
      );
    columns[`sum:${g}`] = over(v => v);
    columns[`sumsq:${g}`] = over(v => v * v);
    columns[`nnz:${g}`] = over(v => (v > 0 ? 1 : 0));
    if (extra.expm1) {
      columns[`sumexpm1:${g}`] = over(v => Math.expm1(v));
    }
    const [k, d, s] = key.split('/').map(Number);
    return {
      labels: [
        cluster.categories[k],
        ...(dataset ? [dataset.categories[d]] : []),
        ...(sample ? [sample.categories[s]] : [])
      ],
      n: cells.length
    };
  });
  columns.total_sum = Float64Array.from(values, row =>
    row.reduce((s, v) => s + v, 0)
  );
  columns.total_sumsq = Float64Array.from(values, row =>
    row.reduce((s, v) => s + v * v, 0)
  );
  const table = tableFromIPC(tableToIPC(tableFromArrays(columns), 'stream'));
  return {
    result: {
      matrix: 'X',
      groupby: [
        'cluster',
        ...(dataset ? ['dataset'] : []),
        ...(sample ? ['sample'] : [])
      ],
      groups,
      n_cells_total: nCells,
      excluded_genes: [],
      has_negative: values.some(row => row.some(v => v < 0)),
      log1p_base: null,
      ...extra
    },
    table
  };
}
