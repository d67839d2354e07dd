/** Facet layouts of the dual plot and their own statistics. */
import { DualFacetBy, IDualFacet, IDualGroup, IDualStats } from './modelTypes';
import { StatsContext } from './stats';

export interface IFacetLayout {
  facets: Omit<
    IDualFacet,
    'start' | 'end' | 'segments' | 'density' | 'marginals'
  >[];
  grid: { rows: number; columns: number };
  /** Facet of a kept cell. */
  facetOf: (cell: number) => number;
  /** Statistics computed for the facets themselves (pooled or combinations). */
  ownStats: IDualStats[];
}

export function facetLayout(
  facetBy: DualFacetBy,
  datasetGroups: IDualGroup[],
  clusterGroups: IDualGroup[],
  nD: number,
  nK: number,
  datasetStats: IDualStats[],
  clusterStats: IDualStats[],
  stats: StatsContext,
  dIndex: Int32Array,
  cIndex: Int32Array,
  kept: Int32Array
): IFacetLayout {
  const wrap = (n: number) => {
    const columns = Math.max(1, Math.ceil(Math.sqrt(n)));
    return { rows: Math.max(1, Math.ceil(n / columns)), columns };
  };
  if (facetBy === 'dataset' || facetBy === 'cluster') {
    const byDataset = facetBy === 'dataset';
    const groups = byDataset ? datasetGroups : clusterGroups;
    const groupStats = byDataset ? datasetStats : clusterStats;
    const slot = new Int32Array((byDataset ? nD : nK) + 1);
    groups.forEach((group, f) => (slot[group.index] = f));
    const grid = wrap(groups.length);
    const index = byDataset ? dIndex : cIndex;
    return {
      facets: groups.map((group, f) => ({
        label: group.label,
        dataset: byDataset ? group.label : null,
        cluster: byDataset ? null : group.label,
        row: Math.floor(f / grid.columns),
        column: f % grid.columns,
        nKept: groupStats[f].nGroupCells,
        stats: groupStats[f]
      })),
      grid,
      facetOf: cell => slot[index[cell]],
      ownStats: []
    };
  }
  if (facetBy === 'dataset_cluster') {
    // Rows: clusters; columns: datasets; empty combinations stay, to keep the grid
    const stride = nK + 1;
    const codes = new Int32Array(dIndex.length).fill(-1);
    const counts = new Float64Array((nD + 1) * stride);
    for (const cell of kept) {
      const code = dIndex[cell] * stride + cIndex[cell];
      codes[cell] = code;
      counts[code]++;
    }
    const combos: IDualGroup[] = [];
    const places: [number, number, IDualGroup, IDualGroup][] = [];
    clusterGroups.forEach((cluster, row) =>
      datasetGroups.forEach((dataset, column) => {
        const group = {
          index: dataset.index * stride + cluster.index,
          label: `${dataset.label} · ${cluster.label}`,
          missing: dataset.missing || cluster.missing
        };
        combos.push(group);
        places.push([row, column, dataset, cluster]);
      })
    );
    const ownStats = stats.groups(
      'dataset_cluster',
      codes,
      (nD + 1) * stride,
      combos,
      group => {
        const [, , dataset, cluster] = places[combos.indexOf(group)];
        return {
          label: group.label,
          dataset: dataset.label,
          cluster: cluster.label,
          nGroupCells: counts[group.index]
        };
      }
    );
    const slot = new Int32Array((nD + 1) * stride);
    combos.forEach((group, f) => (slot[group.index] = f));
    return {
      facets: combos.map((group, f) => ({
        label: group.label,
        dataset: places[f][2].label,
        cluster: places[f][3].label,
        row: places[f][0],
        column: places[f][1],
        nKept: counts[group.index],
        stats: ownStats[f]
      })),
      grid: {
        rows: Math.max(1, clusterGroups.length),
        columns: Math.max(1, datasetGroups.length)
      },
      facetOf: cell => slot[dIndex[cell] * stride + cIndex[cell]],
      ownStats
    };
  }
  // One panel: the pooled statistics of every kept cell (codes made only when computed:
  // a recolouring finds the statistics known)
  const allCells = () => {
    const codes = new Int32Array(dIndex.length).fill(-1);
    for (let k = 0; k < kept.length; k++) {
      codes[kept[k]] = 0;
    }
    return codes;
  };
  const all: IDualGroup = { index: 0, label: 'all cells', missing: false };
  const ownStats = stats.groups('all', allCells, 1, [all], () => ({
    label: 'all cells',
    dataset: null,
    cluster: null,
    nGroupCells: kept.length
  }));
  return {
    facets: [
      {
        label: 'all cells',
        dataset: null,
        cluster: null,
        row: 0,
        column: 0,
        nKept: kept.length,
        stats: ownStats[0]
      }
    ],
    grid: { rows: 1, columns: 1 },
    facetOf: () => 0,
    ownStats
  };
}
