/**
 * Average-linkage (UPGMA) hierarchical clustering that reproduces scipy:
 * `Z = scipy.cluster.hierarchy.linkage(M, 'average', metric)` and
 * `dendrogram(Z, no_plot=True)` (`leaves`, `icoord`, `dcoord`).
 *
 * scipy runs the nearest-neighbour-chain algorithm for 'average' (`_hierarchy.nn_chain`),
 * then sorts the merges by distance with a stable sort and relabels them with a union–find
 * (`label`): each merge lists the smaller cluster id first, and new clusters get ids
 * n, n + 1, … in sorted order. The dendrogram puts Z[i, 0] on the left and Z[i, 1] on the
 * right. This module ports those steps, including the chain's tie-breaking (strictly
 * smaller distance wins, lowest index first, the previous chain element preferred), so
 * the leaf order is the same as scipy's on the same distances.
 */
import { IMatrix } from './aggregate';

export type DistanceMetric = 'euclidean' | 'correlation';

export interface IHclustOptions {
  metric?: DistanceMetric;
  /** Cluster the rows (genes, default) or the columns of the matrix. */
  axis?: 'rows' | 'columns';
}

export interface IDendrogram {
  /** Leaf (observation) indices from left to right. */
  leaves: number[];
  /** x of each link's four points: leaves sit at 5, 15, 25, … (scipy's convention). */
  icoord: number[][];
  /** Heights of each link's four points. */
  dcoord: number[][];
}

export interface IHclustResult extends IDendrogram {
  /** scipy linkage matrix, (n − 1) × 4 row-major: left id, right id, distance, size. */
  linkage: Float64Array;
  /**
   * Observations with zero variance (correlation metric only): their correlation distance
   * is undefined (scipy refuses), so it is taken as 1 to every other observation and 0
   * between two of them.
   */
  constantObservations: number[];
}

/** Cluster the rows or columns of a finite matrix and lay out the dendrogram. */
export function hclust(
  matrix: IMatrix,
  options: IHclustOptions = {}
): IHclustResult {
  const metric = options.metric ?? 'euclidean';
  const observations = options.axis === 'columns' ? transpose(matrix) : matrix;
  const { distances, constantObservations } = pairwiseDistances(
    observations,
    metric
  );
  const n = observations.nRows;
  const linkage = averageLinkage(distances, n);
  return { linkage, constantObservations, ...dendrogram(linkage, n) };
}

/**
 * Condensed pairwise distances between the rows (scipy.spatial.distance.pdist order:
 * (0,1), (0,2), …, (1,2), …). Throws on non-finite values: drop masked columns first.
 */
export function pairwiseDistances(
  matrix: IMatrix,
  metric: DistanceMetric
): { distances: Float64Array; constantObservations: number[] } {
  const { nRows: n, nCols: m } = matrix;
  const data = Float64Array.from(matrix.data);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new RangeError(
        `hclust: non-finite value at row ${Math.floor(i / m)}, column ${i % m}; ` +
          'remove masked columns before clustering'
      );
    }
  }
  const constantObservations: number[] = [];
  const norms = new Float64Array(n);
  if (metric === 'correlation') {
    // As scipy's 'correlation': centre each row, then cosine distance 1 − u·v/(|u||v|)
    for (let i = 0; i < n; i++) {
      const row = data.subarray(i * m, (i + 1) * m);
      if (row.every(v => v === row[0])) {
        constantObservations.push(i);
        continue; // norm 0 marks it below
      }
      let mean = 0;
      for (const v of row) {
        mean += v;
      }
      mean /= m;
      let norm = 0;
      for (let k = 0; k < m; k++) {
        row[k] -= mean;
        norm += row[k] * row[k];
      }
      norms[i] = Math.sqrt(norm);
    }
  }
  const distances = new Float64Array((n * (n - 1)) / 2);
  let index = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let acc = 0;
      for (let k = 0; k < m; k++) {
        const a = data[i * m + k];
        const b = data[j * m + k];
        acc += metric === 'correlation' ? a * b : (a - b) * (a - b);
      }
      if (metric === 'euclidean') {
        distances[index++] = Math.sqrt(acc);
      } else if (norms[i] > 0 && norms[j] > 0) {
        const cosine = Math.max(-1, Math.min(1, acc / (norms[i] * norms[j])));
        distances[index++] = 1 - cosine;
      } else {
        distances[index++] = norms[i] > 0 || norms[j] > 0 ? 1 : 0;
      }
    }
  }
  return { distances, constantObservations };
}

/** Index of pair (i, j), i ≠ j, in a condensed distance vector of n observations. */
function condensedIndex(n: number, i: number, j: number): number {
  const [a, b] = i < j ? [i, j] : [j, i];
  return n * a - (a * (a + 1)) / 2 + (b - a - 1);
}

/**
 * UPGMA linkage of condensed distances: scipy's `nn_chain` + stable sort by distance +
 * `label`. Returns the (n − 1) × 4 linkage matrix, row-major.
 */
export function averageLinkage(
  condensed: Float64Array,
  n: number
): Float64Array {
  if (condensed.length !== (n * (n - 1)) / 2) {
    throw new RangeError(
      `averageLinkage: ${condensed.length} distances do not fit ${n} observations`
    );
  }
  const merges = Math.max(n - 1, 0);
  const D = Float64Array.from(condensed);
  const size = new Float64Array(n).fill(1);
  const chain = new Int32Array(n);
  let chainLength = 0;
  // Unsorted merges: the two surviving slots x < y, the distance, and the new size
  const mergeX = new Int32Array(merges);
  const mergeY = new Int32Array(merges);
  const mergeDist = new Float64Array(merges);

  for (let k = 0; k < merges; k++) {
    if (chainLength === 0) {
      chainLength = 1;
      for (let i = 0; i < n; i++) {
        if (size[i] > 0) {
          chain[0] = i;
          break;
        }
      }
    }
    let x = 0;
    let y = 0;
    let currentMin = Infinity;
    // Follow nearest neighbours until two clusters are each other's nearest
    for (;;) {
      x = chain[chainLength - 1];
      if (chainLength > 1) {
        y = chain[chainLength - 2];
        currentMin = D[condensedIndex(n, x, y)];
      } else {
        currentMin = Infinity;
      }
      for (let i = 0; i < n; i++) {
        if (size[i] === 0 || i === x) {
          continue;
        }
        const dist = D[condensedIndex(n, x, i)];
        if (dist < currentMin) {
          currentMin = dist;
          y = i;
        }
      }
      if (chainLength > 1 && y === chain[chainLength - 2]) {
        break;
      }
      chain[chainLength++] = y;
    }
    chainLength -= 2;
    if (x > y) {
      [x, y] = [y, x];
    }
    const nx = size[x];
    const ny = size[y];
    mergeX[k] = x;
    mergeY[k] = y;
    mergeDist[k] = currentMin;
    size[x] = 0;
    size[y] = nx + ny;
    for (let i = 0; i < n; i++) {
      const ni = size[i];
      if (ni === 0 || i === y) {
        continue;
      }
      // Average linkage update (scipy's _average)
      D[condensedIndex(n, i, y)] =
        (nx * D[condensedIndex(n, i, x)] + ny * D[condensedIndex(n, i, y)]) /
        (nx + ny);
    }
  }

  // Stable sort by distance (numpy argsort kind='mergesort'), then relabel (scipy `label`)
  const order = Array.from({ length: merges }, (_, i) => i).sort(
    (a, b) => mergeDist[a] - mergeDist[b] || a - b
  );
  const parent = new Int32Array(2 * n - 1 > 0 ? 2 * n - 1 : 0).map((_, i) => i);
  const clusterSize = new Float64Array(parent.length).fill(1);
  const find = (node: number): number => {
    let root = node;
    while (parent[root] !== root) {
      root = parent[root];
    }
    let p = node;
    while (parent[p] !== root) {
      const next = parent[p];
      parent[p] = root;
      p = next;
    }
    return root;
  };
  const linkage = new Float64Array(merges * 4);
  order.forEach((k, row) => {
    const rootX = find(mergeX[k]);
    const rootY = find(mergeY[k]);
    const label = n + row;
    parent[rootX] = label;
    parent[rootY] = label;
    clusterSize[label] = clusterSize[rootX] + clusterSize[rootY];
    linkage[row * 4] = Math.min(rootX, rootY);
    linkage[row * 4 + 1] = Math.max(rootX, rootY);
    linkage[row * 4 + 2] = mergeDist[k];
    linkage[row * 4 + 3] = clusterSize[label];
  });
  return linkage;
}

/**
 * Leaf order and link coordinates of scipy's `dendrogram(Z, no_plot=True)` with default
 * options: left child Z[i, 0], right child Z[i, 1]; leaves at x = 5, 15, 25, …; a link's
 * x is the midpoint of its children's; links listed in post-order (left, right, self).
 */
export function dendrogram(linkage: Float64Array, n: number): IDendrogram {
  const leaves: number[] = [];
  const icoord: number[][] = [];
  const dcoord: number[][] = [];
  if (n === 1) {
    leaves.push(0);
  }
  if (n < 2) {
    return { leaves, icoord, dcoord };
  }
  // Iterative post-order walk (deep trees would overflow a recursive one)
  const x = new Float64Array(2 * n - 1);
  const height = new Float64Array(2 * n - 1);
  const stack: { node: number; expanded: boolean }[] = [
    { node: 2 * n - 2, expanded: false }
  ];
  while (stack.length > 0) {
    const frame = stack.pop() as { node: number; expanded: boolean };
    const node = frame.node;
    if (node < n) {
      x[node] = 10 * leaves.length + 5;
      height[node] = 0;
      leaves.push(node);
      continue;
    }
    const row = node - n;
    const left = linkage[row * 4];
    const right = linkage[row * 4 + 1];
    if (!frame.expanded) {
      stack.push({ node, expanded: true });
      stack.push({ node: right, expanded: false });
      stack.push({ node: left, expanded: false });
      continue;
    }
    const h = linkage[row * 4 + 2];
    icoord.push([x[left], x[left], x[right], x[right]]);
    dcoord.push([height[left], h, h, height[right]]);
    x[node] = (x[left] + x[right]) / 2;
    height[node] = h;
  }
  return { leaves, icoord, dcoord };
}

function transpose(matrix: IMatrix): IMatrix {
  const { nRows, nCols, data } = matrix;
  const out = new Float64Array(nRows * nCols);
  for (let r = 0; r < nRows; r++) {
    for (let c = 0; c < nCols; c++) {
      out[c * nRows + r] = data[r * nCols + c];
    }
  }
  return { nRows: nCols, nCols: nRows, data: out };
}
