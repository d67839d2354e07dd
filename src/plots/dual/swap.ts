/** Swapping the genes of a built dual model, by transposing. */
import { transposeCounts } from './binning';
import { transposeBlend } from './embeddingBlend';
import { IDualModel } from './modelTypes';

/**
 * The model of the swapped plot (gene Y on the x axis), by transposing: statistics are
 * symmetric in the two genes, so nothing is recomputed. Equal to building the model
 * from the input with x and y exchanged.
 */
export function swapDualModel(model: IDualModel): IDualModel {
  const density = model.density;
  const nx = density.x?.count ?? 0;
  const ny = density.y?.count ?? 0;
  const blend = model.blend;
  return {
    ...model,
    geneX: model.geneY,
    geneY: model.geneX,
    x: model.y,
    y: model.x,
    points: { cells: model.points.cells, x: model.points.y, y: model.points.x },
    facets: model.facets.map(facet => ({
      ...facet,
      density: facet.density ? transposeCounts(facet.density, nx, ny) : null,
      marginals: facet.marginals
        ? {
            x: facet.marginals.y,
            y: facet.marginals.x,
            zerosX: facet.marginals.zerosY,
            zerosY: facet.marginals.zerosX
          }
        : null
    })),
    axes: { x: model.axes.y, y: model.axes.x },
    density: { ...density, x: density.y, y: density.x },
    marginals: model.marginals
      ? { x: model.marginals.y, y: model.marginals.x }
      : null,
    blend: blend ? transposeBlend(blend) : null
  };
}
