import type { IDualInput, IDualModel } from '../model';

/**
 * 60 cells: datasets ctrl/stim, clusters 0/1/2; cell 58 has no cluster, cell 59 no
 * dataset; both genes zero-inflated and correlated; a 2-D embedding (cell 57 without
 * coordinates).
 */
export const N = 60;

export function dualInput(overrides: Partial<IDualInput> = {}): IDualInput {
  const dataset = Int32Array.from({ length: N }, (_, i) => i % 2);
  const cluster = Int32Array.from({ length: N }, (_, i) => i % 3);
  cluster[58] = -1;
  dataset[59] = -1;
  const x = Float32Array.from({ length: N }, (_, i) =>
    i % 4 === 0 ? 0 : ((i * 7) % 11) / 2
  );
  const y = Float32Array.from({ length: N }, (_, i) =>
    i % 5 === 0 ? 0 : ((i * 3) % 7) + 0.5 * x[i]
  );
  const u = Float32Array.from({ length: N }, (_, i) => Math.cos(i));
  const v = Float32Array.from({ length: N }, (_, i) => Math.sin(i) * 2);
  u[57] = NaN;
  return {
    x,
    y,
    geneX: 'CD3E',
    geneY: 'CD8A',
    dataset: { codes: dataset, categories: ['ctrl', 'stim'] },
    cluster: { codes: cluster, categories: ['0', '1', '2'] },
    embedding: { name: 'X_umap', dims: [u, v] },
    cellIds: Array.from({ length: N }, (_, i) => `AAAC-${i}`),
    matrix: 'X',
    ...overrides
  };
}

/** The input with genes X and Y exchanged. */
export function swapped(input: IDualInput): IDualInput {
  return {
    ...input,
    x: input.y,
    y: input.x,
    geneX: input.geneY,
    geneY: input.geneX
  };
}

/** The cells of each facet, from the model's point ranges. */
export function cellsOf(
  cells: Int32Array,
  start: number,
  end: number
): number[] {
  return Array.from(cells.subarray(start, end));
}

/**
 * The model without its blend's key: the key names a memo entry (it differs between
 * builds of the same content after `clearDualCaches`), the rest is content.
 */
export function content(model: IDualModel): IDualModel {
  return {
    ...model,
    blend: model.blend && { ...model.blend, key: '' }
  };
}
