/**
 * The notes on a typed cluster subset ("0,3,7"), worded once for every plot kind: names
 * that are no cluster of the object, kept clusters without cells, nothing left to draw.
 * The `…Notes` functions return no note or one, to spread into a model's notes. Imports
 * nothing, so plot models and controllers alike can use it without a cycle.
 */

/** A note in the shape of every plot model's notes. */
export interface IClusterNote {
  kind: 'unknown_clusters' | 'empty_clusters' | 'no_cells';
  message: string;
  items: string[];
}

/** "Unknown clusters: 9, x (known: 0, 1, 2)." */
export function unknownClustersMessage(
  unknown: readonly string[],
  known: readonly string[]
): string {
  return `Unknown cluster${unknown.length === 1 ? '' : 's'}: ${unknown.join(', ')} (known: ${known.join(', ')}).`;
}

/** The controller's note on typed names that are no cluster (it knows the clusters). */
export function unknownClustersNotes(
  unknown: string[],
  known: readonly string[]
): IClusterNote[] {
  return unknown.length > 0
    ? [
        {
          kind: 'unknown_clusters',
          message: unknownClustersMessage(unknown, known),
          items: unknown
        }
      ]
    : [];
}

/** The model's note on the typed names it found no cluster for and left out. */
export function ignoredClustersNotes(unknown: string[]): IClusterNote[] {
  return unknown.length > 0
    ? [
        {
          kind: 'unknown_clusters',
          message: `Unknown cluster${unknown.length > 1 ? 's' : ''} ignored: ${unknown.join(', ')}.`,
          items: unknown
        }
      ]
    : [];
}

/** Kept clusters (`keepCluster[k]` 1) without a cell (`perCluster[k]` 0). */
export function emptyClustersNotes(
  clusters: readonly string[],
  keepCluster: Uint8Array,
  perCluster: Float64Array
): IClusterNote[] {
  const empty = clusters.filter(
    (_, k) => keepCluster[k] && perCluster[k] === 0
  );
  return empty.length > 0
    ? [
        {
          kind: 'empty_clusters',
          message: `No cells in cluster${empty.length > 1 ? 's' : ''} ${empty.join(', ')}.`,
          items: empty
        }
      ]
    : [];
}

/** Nothing to draw: the cluster subset (`subset`) kept no cell, or `otherwise` says why. */
export function noCellsNote(subset: boolean, otherwise: string): IClusterNote {
  return {
    kind: 'no_cells',
    message: subset
      ? 'No cells in the chosen clusters: nothing to show.'
      : otherwise,
    items: []
  };
}
