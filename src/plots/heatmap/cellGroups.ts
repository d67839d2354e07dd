/** The columns of the heatmap: which cells each one aggregates, and the notes on them. */
import {
  CodeArray,
  combineCodes,
  combineLabels,
  countGroups
} from '../../compute/aggregate';
import {
  ICodedColumn,
  IHeatmapInput,
  IHeatmapNote,
  IHeatmapOptions
} from './modelTypes';
import {
  emptyClustersNotes,
  ignoredClustersNotes,
  noCellsNote
} from '../clusterNotes';

/** Distinct samples (codes ≥ 0) among the cells of each group of the grouping. */
export function countSamples(
  grouping: IGrouping,
  sample: ICodedColumn
): Int32Array {
  const nS = sample.categories.length;
  const seen = new Uint8Array(grouping.nGroups * nS);
  const counts = new Int32Array(grouping.nGroups);
  const codes = grouping.codes;
  for (let i = 0; i < codes.length; i++) {
    const g = codes[i];
    const s = sample.codes[i];
    if (g >= 0 && s >= 0 && s < nS && !seen[g * nS + s]) {
      seen[g * nS + s] = 1;
      counts[g]++;
    }
  }
  return counts;
}

/** A column of the heatmap and the aggregate group it reads. */
export interface ISelectedColumn {
  group: number;
  label: string;
  dataset: string | null;
  cluster: string | null;
  nCells: number;
}

export interface IGrouping {
  codes: CodeArray;
  nGroups: number;
  columns: ISelectedColumn[];
  nKept: number;
}

/**
 * Group codes of the cells for the chosen columns (cells of dropped clusters: −1) and
 * the columns shown: categories with kept cells, in category order. Dataset × cluster
 * columns go cluster by cluster ("ctrl · 0", "stim · 0", "ctrl · 1", …) so that the
 * datasets of a cluster sit side by side; empty combinations of present datasets and
 * clusters stay, as masked columns, to keep that grid regular.
 */
export function groupCells(
  input: IHeatmapInput,
  opts: IHeatmapOptions,
  notes: IHeatmapNote[]
): IGrouping {
  const datasetCodes = input.dataset.codes;
  const datasets = input.dataset.categories;
  const clusters = input.cluster.categories;
  const nD = datasets.length;
  const nK = clusters.length;

  // Which clusters are kept
  const keepCluster = new Uint8Array(nK).fill(opts.clusters === null ? 1 : 0);
  if (opts.clusters !== null) {
    const index = new Map(clusters.map((name, k) => [name, k]));
    const unknown: string[] = [];
    for (const name of opts.clusters) {
      const k = index.get(name);
      if (k === undefined) {
        unknown.push(name);
      } else {
        keepCluster[k] = 1;
      }
    }
    notes.push(...ignoredClustersNotes(unknown));
  }
  // Cluster codes with dropped clusters at −1; cells of kept clusters per dataset and
  // per cluster; kept cells lacking a label. Plain loops: typed-array `from` with a
  // callback is several times slower on a million cells.
  const allClusters = opts.clusters === null;
  const weights = input.groupSums?.weights;
  const originalClusters = input.cluster.codes;
  const clusterCodes = new Int32Array(originalClusters.length);
  const perDataset = new Float64Array(nD);
  const perCluster = new Float64Array(nK);
  let noDataset = 0;
  let noCluster = 0;
  for (let i = 0; i < clusterCodes.length; i++) {
    const original = originalClusters[i];
    const c = original >= 0 && keepCluster[original] ? original : -1;
    clusterCodes[i] = c;
    if (c < 0 && !(allClusters && original < 0)) {
      continue; // a dropped cluster
    }
    const w = weights ? weights[i] : 1;
    if (c < 0) {
      noCluster += w;
    } else {
      perCluster[c] += w;
    }
    const d = datasetCodes[i];
    if (d < 0) {
      noDataset += w;
    } else {
      perDataset[d] += w;
    }
  }
  if (opts.clusters !== null) {
    notes.push(...emptyClustersNotes(clusters, keepCluster, perCluster));
  }

  let codes: CodeArray;
  let nGroups: number;
  const columns: ISelectedColumn[] = [];
  let unlabelled = 0;
  if (opts.groupBy === 'cluster') {
    codes = clusterCodes;
    nGroups = nK;
    clusters.forEach((label, k) => {
      if (keepCluster[k] && perCluster[k] > 0) {
        columns.push({
          group: k,
          label,
          dataset: null,
          cluster: label,
          nCells: perCluster[k]
        });
      }
    });
    unlabelled = noCluster;
  } else if (opts.groupBy === 'dataset') {
    codes =
      opts.clusters === null
        ? datasetCodes
        : keepWhere(datasetCodes, clusterCodes);
    nGroups = nD;
    datasets.forEach((label, d) => {
      if (perDataset[d] > 0) {
        columns.push({
          group: d,
          label,
          dataset: label,
          cluster: null,
          nCells: perDataset[d]
        });
      }
    });
    unlabelled = noDataset;
  } else {
    codes = combineCodes(datasetCodes, nD, clusterCodes, nK);
    nGroups = nD * nK;
    const labels = combineLabels(datasets, clusters);
    const counts = countGroups(codes, nGroups, weights);
    clusters.forEach((cluster, k) => {
      if (!keepCluster[k] || perCluster[k] === 0) {
        return;
      }
      datasets.forEach((dataset, d) => {
        if (perDataset[d] > 0) {
          const group = d * nK + k;
          columns.push({
            group,
            label: labels[group],
            dataset,
            cluster,
            nCells: counts[group]
          });
        }
      });
    });
    // Cells passing the cluster filter that miss either label
    const considered = perCluster.reduce((a, b) => a + b, noCluster);
    unlabelled = considered - counts.reduce((a, b) => a + b, 0);
  }
  const nKept = columns.reduce((total, column) => total + column.nCells, 0);
  if (unlabelled > 0) {
    const what =
      opts.groupBy === 'cluster'
        ? 'a cluster'
        : opts.groupBy === 'dataset'
          ? 'a dataset'
          : 'a dataset or a cluster';
    notes.push({
      kind: 'unlabelled_cells',
      message: `${unlabelled} cell${unlabelled > 1 ? 's' : ''} without ${what} label ${unlabelled > 1 ? 'are' : 'is'} not shown.`,
      items: []
    });
  }
  if (nKept === 0) {
    notes.push(
      noCellsNote(
        opts.clusters !== null,
        'No cells with the labels needed for these columns: nothing to show.'
      )
    );
  }
  return { codes, nGroups, columns, nKept };
}

/** codes where `filter` ≥ 0, else −1. */
function keepWhere(codes: CodeArray, filter: CodeArray): Int32Array {
  const out = new Int32Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    out[i] = filter[i] >= 0 ? codes[i] : -1;
  }
  return out;
}
