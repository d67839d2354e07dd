/** The cells a dual build keeps: the cluster filter, finite values, the groups present. */
import { CodeArray } from '../../compute/aggregate';
import { ignoredClustersNotes } from '../clusterNotes';
import { DualMemo } from './memo';
import { IDualGroup, IDualInput, IDualNote, IDualOptions } from './modelTypes';

// ---------------------------------------------------------------------------------------
// Cells

/**
 * The cells a build keeps and their groups: the one pass over every cell, which
 * recolouring, refaceting and other drawing options repeat unchanged. Read-only once
 * made (memoised, and kept out of the worker's moved buffers).
 */
export interface ICells {
  /** Dataset / cluster slot per cell (categories.length: no label; −1: not kept). */
  dIndex: Int32Array;
  cIndex: Int32Array;
  /** Kept cells, ascending. */
  kept: Int32Array;
  nonFinite: number;
  perDataset: Float64Array;
  perCluster: Float64Array;
}

export interface ICellsMemo {
  y: Float32Array;
  datasetCodes: CodeArray;
  clusterCodes: CodeArray;
  nD: number;
  nK: number;
  filterKey: string;
  cells: ICells;
}

/** The cluster filter, then finite values of both genes (none when a gene is missing). */
export function memoCells(
  memo: DualMemo,
  input: IDualInput,
  x: Float32Array | null,
  y: Float32Array | null,
  keepCluster: Uint8Array,
  filterKey: string
): ICells {
  const nD = input.dataset.categories.length;
  const nK = input.cluster.categories.length;
  const entries = x ? (memo.cells.get(x) ?? []) : [];
  const hit = entries.find(
    e =>
      e.y === y &&
      e.datasetCodes === input.dataset.codes &&
      e.clusterCodes === input.cluster.codes &&
      e.nD === nD &&
      e.nK === nK &&
      e.filterKey === filterKey
  );
  if (hit) {
    return hit.cells;
  }
  const nCells = input.dataset.codes.length;
  const dIndex = new Int32Array(nCells).fill(-1);
  const cIndex = new Int32Array(nCells).fill(-1);
  const keptAll = new Int32Array(nCells);
  let nKept = 0;
  let nonFinite = 0;
  const perDataset = new Float64Array(nD + 1);
  const perCluster = new Float64Array(nK + 1);
  if (x !== null && y !== null) {
    const dCodes = input.dataset.codes;
    const cCodes = input.cluster.codes;
    for (let i = 0; i < nCells; i++) {
      const c = cCodes[i] >= 0 && cCodes[i] < nK ? cCodes[i] : nK;
      if (!keepCluster[c]) {
        continue;
      }
      if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) {
        nonFinite++;
        continue;
      }
      const d = dCodes[i] >= 0 && dCodes[i] < nD ? dCodes[i] : nD;
      dIndex[i] = d;
      cIndex[i] = c;
      perDataset[d]++;
      perCluster[c]++;
      keptAll[nKept++] = i;
    }
  }
  const cells: ICells = {
    dIndex,
    cIndex,
    kept: keptAll.slice(0, nKept),
    nonFinite,
    perDataset,
    perCluster
  };
  if (x !== null && y !== null) {
    entries.unshift({
      y,
      datasetCodes: input.dataset.codes,
      clusterCodes: input.cluster.codes,
      nD,
      nK,
      filterKey,
      cells
    });
    entries.length = Math.min(entries.length, DualMemo.CELLS_PER_ARRAY);
    memo.cells.set(x, entries);
  }
  return cells;
}

/** keep[k] for cluster k, and keep[nK] for cells without a cluster (kept with "all"). */
export function clusterFilter(
  clusters: readonly string[],
  wanted: string[] | null,
  notes: IDualNote[]
): Uint8Array {
  const nK = clusters.length;
  const keep = new Uint8Array(nK + 1).fill(wanted === null ? 1 : 0);
  if (wanted === null) {
    return keep;
  }
  const index = new Map(clusters.map((name, k) => [name, k]));
  const unknown = wanted.filter(name => !index.has(name));
  for (const name of wanted) {
    const k = index.get(name);
    if (k !== undefined) {
      keep[k] = 1;
    }
  }
  notes.push(...ignoredClustersNotes(unknown));
  return keep;
}

/** Categories with kept cells in category order, then the unlabelled cells. */
export function presentGroups(
  categories: readonly string[],
  counts: Float64Array,
  missingLabel: string
): IDualGroup[] {
  const groups: IDualGroup[] = [];
  categories.forEach((label, index) => {
    if (counts[index] > 0) {
      groups.push({ index, label, missing: false });
    }
  });
  if (counts[categories.length] > 0) {
    groups.push({
      index: categories.length,
      label: missingLabel,
      missing: true
    });
  }
  return groups;
}

/** Which cells the cluster filter keeps, as a memo key. */
export function filterKeyOf(
  keepCluster: Uint8Array,
  opts: IDualOptions
): string {
  if (opts.clusters === null) {
    return 'all';
  }
  const kept: number[] = [];
  keepCluster.forEach((keep, k) => keep && kept.push(k));
  return kept.join(',');
}
