/** Average-linkage orders of the heatmap's rows and columns, and their dendrograms. */
import { IMatrix } from '../../compute/aggregate';
import { hclust, IDendrogram } from '../../compute/hclust';
import { IDendrogramGeometry } from './modelTypes';

/**
 * Average-linkage order of some rows (or columns) of `matrix` over some columns (or
 * rows), and the dendrogram in display positions (leaf k at k).
 */
export function clusterOrder(
  matrix: IMatrix,
  rows: number[],
  columns: number[],
  axis: 'rows' | 'columns',
  metric: 'euclidean' | 'correlation'
): { order: number[]; geometry: IDendrogramGeometry | null } {
  const observations = axis === 'rows' ? rows : columns;
  if (observations.length < 2) {
    return { order: observations, geometry: null };
  }
  const sub = new Float64Array(rows.length * columns.length);
  rows.forEach((r, a) =>
    columns.forEach((c, b) => {
      sub[a * columns.length + b] = matrix.data[r * matrix.nCols + c];
    })
  );
  const result = hclust(
    { nRows: rows.length, nCols: columns.length, data: sub },
    { metric, axis }
  );
  return {
    order: result.leaves.map(leaf => observations[leaf]),
    geometry: geometryOf(result, observations.length)
  };
}

/** scipy's dendrogram coordinates (leaves at 5, 15, …) in display positions. */
function geometryOf(
  dendrogram: IDendrogram,
  nLeaves: number
): IDendrogramGeometry {
  const links = dendrogram.icoord.map((xs, i) => ({
    x: xs.map(x => (x - 5) / 10),
    y: dendrogram.dcoord[i].slice()
  }));
  const maxHeight = links.reduce(
    (height, link) => Math.max(height, ...link.y),
    0
  );
  return { links, maxHeight, nLeaves };
}
