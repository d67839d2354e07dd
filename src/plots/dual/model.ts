/**
 * View model of the dual-expression plot: gene X against gene Y, one point per cell,
 * coloured by dataset or cluster, in facets, with the correlation per dataset, per
 * cluster and per facet, and the two-gene blend on an embedding. Pure: no DOM, no
 * Jupyter; typed arrays throughout so that a million cells stay cheap.
 *
 * Numbers (DESIGN.md, "Semantics"): statistics come from `correlateByGroup` on the cells
 * of each group that pass the cluster filter (with `detectedOnly`, the correlation uses
 * those with both genes > 0, the double-positive share all of them). Jitter, density
 * bins, marginals and blend levels are drawing aids and never enter the statistics.
 *
 * Everything is rebuilt from the same input: recolouring, refaceting, another cluster
 * subset or swapping the genes need no new data. Correlations are memoised per group
 * (keyed by the value arrays, the code arrays and the cells' selection), so only groups
 * whose cells changed are recomputed; swapping the genes reuses them, since r and ρ and
 * their intervals are symmetric in x and y. `swapDualModel` transposes a built model.
 * Memos (correlations, blends, "has negatives") are keyed by array identity: hand in
 * new arrays for new data, never mutate ones already used.
 */
import { hash32 } from '../../compute/rng';
import { axisOf, extent, finishAxis, valueKind } from './axes';
import { binning, histogram2d } from './binning';
import { clusterFilter, filterKeyOf, memoCells, presentGroups } from './cells';
import { facetMarginals, memoDensities } from './densities';
import { memoBlend, withRaster } from './embeddingBlend';
import { facetLayout } from './facets';
import { allNaN, fmtInt } from './format';
import { jitterSalt, jitterUnit } from './jitter';
import { DualMemo } from './memo';
import {
  DEFAULT_DUAL_OPTIONS,
  IDualFacet,
  IDualInput,
  IDualModel,
  IDualNote,
  IDualOptions,
  NO_CLUSTER,
  NO_DATASET
} from './modelTypes';
import {
  explainCells,
  explainDrawing,
  explainPooled,
  explainStatistics
} from './notes';
import { correlationDifferences, StatsContext } from './stats';

export { DualMemo } from './memo';
export { valueKind } from './axes';
export { ICells, ICellsMemo } from './cells';
export { blendRaster, clusterLabels, IBlendMemo } from './embeddingBlend';
export { zeroJitter } from './jitter';
export {
  BLEND_RASTER_PIXELS,
  DEFAULT_DUAL_OPTIONS,
  DENSITY_THRESHOLD,
  DualColorBy,
  DualDensity,
  DualFacetBy,
  DualNoteKind,
  DualStatsSection,
  EMPTY_PIXEL,
  IBlendModel,
  IBlendRaster,
  IClusterLabel,
  IDeltaR,
  IDualAxis,
  IDualFacet,
  IDualGroup,
  IDualInput,
  IDualMarginals,
  IDualModel,
  IDualNote,
  IDualOptions,
  IDualPoints,
  IDualStats,
  IEmbeddingInput,
  JITTER_FRACTION
} from './modelTypes';
export { groupingDrivesPooled, NOT_COMPUTED, POOLED_GAP } from './stats';
export { swapDualModel } from './swap';

/**
 * The memo of one-off callers that own none (tests, scripts); the dual worker session and
 * each DualController pass their own `DualMemo`.
 */
let sharedMemo = new DualMemo();

/** Build the dual-expression model (memoised in `memo`: see DualMemo). */
export function buildDualModel(
  input: IDualInput,
  options: Partial<IDualOptions> = {},
  memo: DualMemo = sharedMemo
): IDualModel {
  const opts: IDualOptions = { ...DEFAULT_DUAL_OPTIONS, ...options };
  const notes: IDualNote[] = [];
  const matrixName = input.matrix ?? 'this matrix';
  const nCells = input.dataset.codes.length;
  if (input.cluster.codes.length !== nCells) {
    throw new RangeError(
      `buildDualModel: ${nCells} dataset codes but ${input.cluster.codes.length} cluster codes`
    );
  }
  for (const [gene, values] of [
    [input.geneX, input.x],
    [input.geneY, input.y]
  ] as const) {
    if (values !== null && values.length !== nCells) {
      throw new RangeError(
        `buildDualModel: gene ${gene} has ${values.length} values for ${nCells} cells`
      );
    }
  }

  // Genes: missing ones are said, never dropped silently
  const missingGenes: string[] = [];
  const described: string[] = [];
  for (const [gene, values] of [
    [input.geneX, input.x],
    [input.geneY, input.y]
  ] as const) {
    const reason =
      values === null
        ? input.missingReason?.[gene]
        : allNaN(values)
          ? 'NaN values'
          : null;
    if ((values === null || reason !== null) && !missingGenes.includes(gene)) {
      missingGenes.push(gene);
      described.push(reason ? `${gene} (${reason})` : gene);
    }
  }
  // Gene pairs are listed by name, so that notes read the same after a swap
  missingGenes.sort();
  described.sort();
  if (missingGenes.length > 0) {
    notes.push({
      kind: 'missing_genes',
      message: `Not in ${matrixName}: ${described.join(', ')}; nothing to correlate.`,
      items: missingGenes
    });
  }
  const x = missingGenes.length === 0 ? input.x : null;
  const y = missingGenes.length === 0 ? input.y : null;
  if (input.geneX === input.geneY && missingGenes.length === 0) {
    notes.push({
      kind: 'same_gene',
      message: `Gene X and gene Y are both ${input.geneX}: every correlation is 1.`,
      items: [input.geneX]
    });
  }

  // Cells: the cluster filter, then finite values of both genes
  const datasets = input.dataset.categories;
  const clusters = input.cluster.categories;
  const nD = datasets.length;
  const nK = clusters.length;
  const keepCluster = clusterFilter(clusters, opts.clusters, notes);
  const cellPass = memoCells(
    memo,
    input,
    x,
    y,
    keepCluster,
    filterKeyOf(keepCluster, opts)
  );
  const { dIndex, cIndex, kept, nonFinite, perDataset, perCluster } = cellPass;
  const nKept = kept.length;
  explainCells(
    opts,
    clusters,
    keepCluster,
    perCluster,
    perDataset,
    nKept,
    nonFinite,
    missingGenes.length > 0,
    notes
  );

  const datasetGroups = presentGroups(datasets, perDataset, NO_DATASET);
  const clusterGroups = presentGroups(clusters, perCluster, NO_CLUSTER);
  const axisX = axisOf(memo, input.geneX, input.x);
  const axisY = axisOf(memo, input.geneY, input.y);

  // Statistics per dataset and per cluster (memoised per group)
  const stats = new StatsContext(memo, input, x, y, opts, keepCluster);
  const datasetStats = stats.groups(
    'dataset',
    dIndex,
    nD + 1,
    datasetGroups,
    group => ({
      label: group.label,
      dataset: group.label,
      cluster: null,
      nGroupCells: perDataset[group.index]
    })
  );
  const clusterStats = stats.groups(
    'cluster',
    cIndex,
    nK + 1,
    clusterGroups,
    group => ({
      label: group.label,
      dataset: null,
      cluster: group.label,
      nGroupCells: perCluster[group.index]
    })
  );

  // Facets and their statistics
  const layout = facetLayout(
    opts.facetBy,
    datasetGroups,
    clusterGroups,
    nD,
    nK,
    datasetStats,
    clusterStats,
    stats,
    dIndex,
    cIndex,
    kept
  );

  // Drawn cells: sorted by facet, then colour group (a counting sort, no objects)
  const colorCategories = opts.colorBy === 'dataset' ? datasets : clusters;
  const colorGroups =
    opts.colorBy === 'dataset' ? datasetGroups : clusterGroups;
  const colorIndex = opts.colorBy === 'dataset' ? dIndex : cIndex;
  const colorSlot = new Int32Array(colorCategories.length + 1).fill(-1);
  colorGroups.forEach((group, g) => (colorSlot[group.index] = g));
  const nG = colorGroups.length;
  const nF = layout.facets.length;
  const offsets = new Int32Array(nF * nG + 1);
  const key = new Int32Array(nKept);
  let nShown = 0;
  for (let k = 0; k < nKept; k++) {
    const cell = kept[k];
    if (
      opts.detectedOnly &&
      !((x as Float32Array)[cell] > 0 && (y as Float32Array)[cell] > 0)
    ) {
      key[k] = -1;
      continue;
    }
    const slot = layout.facetOf(cell) * nG + colorSlot[colorIndex[cell]];
    key[k] = slot;
    offsets[slot + 1]++;
    nShown++;
  }
  for (let s = 0; s < nF * nG; s++) {
    offsets[s + 1] += offsets[s];
  }
  const cursor = offsets.slice(0, nF * nG);
  const cells = new Int32Array(nShown);
  for (let k = 0; k < nKept; k++) {
    if (key[k] >= 0) {
      cells[cursor[key[k]]++] = kept[k];
    }
  }

  // Axes over the drawn cells; jitter only moves exact zeros, inside the padding
  const extentX = extent(x, cells);
  const extentY = extent(y, cells);
  finishAxis(axisX, extentX, opts.jitter);
  finishAxis(axisY, extentY, opts.jitter);
  // Density and marginals, per facet (a binned scatter draws no points)
  const densityOn =
    opts.density === 'on' ||
    (opts.density === 'auto' && nShown > opts.densityThreshold);
  const densityReason =
    opts.density === 'auto'
      ? `${fmtInt(nShown)} points ${densityOn ? '>' : '≤'} ${fmtInt(opts.densityThreshold)} (automatic)`
      : `density ${opts.density} (chosen)`;

  // Drawn points, when drawn as points
  const px = densityOn ? null : new Float32Array(nShown);
  const py = densityOn ? null : new Float32Array(nShown);
  if (x !== null && y !== null && px !== null && py !== null) {
    const saltX = jitterSalt(input.geneX, opts.seed);
    const saltY = jitterSalt(input.geneY, opts.seed);
    for (let k = 0; k < nShown; k++) {
      const cell = cells[k];
      px[k] = x[cell];
      py[k] = y[cell];
      if (opts.jitter && (x[cell] === 0 || y[cell] === 0)) {
        const h = hash32(cell);
        if (x[cell] === 0) {
          px[k] = axisX.jitter * jitterUnit(h, saltX);
        }
        if (y[cell] === 0) {
          py[k] = axisY.jitter * jitterUnit(h, saltY);
        }
      }
    }
  }
  const densityX = densityOn
    ? binning(axisX.min, axisX.max, opts.densityBins)
    : null;
  const densityY = densityOn
    ? binning(axisY.min, axisY.max, opts.densityBins)
    : null;
  const marginals =
    opts.marginals && nShown > 0
      ? {
          x: binning(axisX.min, axisX.max, opts.marginalBins),
          y: binning(axisY.min, axisY.max, opts.marginalBins)
        }
      : null;
  // Bins count the cells of each facet, whatever their colour: recolouring reuses them
  const densities =
    densityX && densityY && x && y
      ? memoDensities(
          memo,
          kept,
          [opts.facetBy, opts.detectedOnly, densityX, densityY],
          () =>
            layout.facets.map((_, f) =>
              histogram2d(
                x,
                y,
                cells,
                offsets[f * nG],
                offsets[(f + 1) * nG],
                densityX,
                densityY
              )
            )
        )
      : null;
  const facets: IDualFacet[] = layout.facets.map((facet, f) => {
    const start = offsets[f * nG];
    const end = offsets[(f + 1) * nG];
    const segments = offsets.slice(f * nG, (f + 1) * nG + 1);
    return {
      ...facet,
      start,
      end,
      segments,
      density: densities?.[f] ?? null,
      marginals:
        marginals && x && y
          ? facetMarginals(x, y, cells, segments, marginals, axisX, axisY)
          : null
    };
  });

  explainStatistics(
    input.geneX,
    input.geneY,
    x,
    y,
    cells,
    opts,
    axisX,
    axisY,
    [...datasetStats, ...clusterStats, ...layout.ownStats],
    nKept,
    matrixName,
    notes
  );
  explainDrawing(opts, axisX, axisY, x, y, cells, densityOn, nShown, notes);
  explainPooled(
    layout.facets,
    opts.colorBy === 'dataset' ? datasetStats : clusterStats,
    opts.colorBy,
    notes
  );

  const blend =
    x !== null && y !== null
      ? withRaster(
          memo,
          memoBlend(
            memo,
            input,
            x,
            y,
            kept,
            filterKeyOf(keepCluster, opts),
            notes
          ),
          opts,
          notes
        )
      : null;

  return {
    matrix: input.matrix ?? null,
    options: opts,
    geneX: input.geneX,
    geneY: input.geneY,
    x: input.x,
    y: input.y,
    dataset: input.dataset,
    cluster: input.cluster,
    cellIds: input.cellIds ?? null,
    embedding: input.embedding ?? null,
    nCells,
    kept,
    points: { cells, x: px, y: py },
    colorCategories,
    colorGroups,
    facets,
    grid: layout.grid,
    stats: {
      dataset: datasetStats,
      cluster: clusterStats,
      facet: layout.ownStats
    },
    axes: { x: axisX, y: axisY },
    density: { on: densityOn, reason: densityReason, x: densityX, y: densityY },
    marginals,
    blend,
    valueKind: valueKind(input.matrix ?? null, x, y, axisX, axisY, memo),
    missingGenes,
    notes,
    deltaR: correlationDifferences(
      memo,
      x,
      y,
      cellPass,
      nK,
      datasetGroups,
      clusterGroups,
      datasetStats,
      opts.detectedOnly
    )
  };
}

/** Forget what callers without a memo of their own memoised (tests). */
export function clearDualCaches(): void {
  sharedMemo = new DualMemo();
}
