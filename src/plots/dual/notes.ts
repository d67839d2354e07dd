/** The notes of a dual build: what was left out, undefined or drawn differently, and why. */
import { emptyClustersNotes, noCellsNote } from '../clusterNotes';
import { IFacetLayout } from './facets';
import { byName, fmtInt, fmtNum, fmtR } from './format';
import {
  DualColorBy,
  IDualAxis,
  IDualNote,
  IDualOptions,
  IDualStats,
  NO_CLUSTER,
  NO_DATASET
} from './modelTypes';
import { groupingDrivesPooled, NOT_COMPUTED } from './stats';

export function explainCells(
  opts: IDualOptions,
  clusters: readonly string[],
  keepCluster: Uint8Array,
  perCluster: Float64Array,
  perDataset: Float64Array,
  nKept: number,
  nonFinite: number,
  geneMissing: boolean,
  notes: IDualNote[]
): void {
  if (geneMissing) {
    return;
  }
  if (opts.clusters !== null) {
    notes.push(...emptyClustersNotes(clusters, keepCluster, perCluster));
  }
  if (nonFinite > 0) {
    notes.push({
      kind: 'nonfinite_values',
      message: `${fmtInt(nonFinite)} cell${nonFinite > 1 ? 's' : ''} with a NaN or infinite value ${nonFinite > 1 ? 'are' : 'is'} left out.`,
      items: []
    });
  }
  const noDataset = perDataset[perDataset.length - 1];
  const noCluster = perCluster[perCluster.length - 1];
  if (noDataset > 0 || noCluster > 0) {
    const parts = [
      noDataset > 0 ? `${fmtInt(noDataset)} without a dataset` : '',
      noCluster > 0 ? `${fmtInt(noCluster)} without a cluster` : ''
    ].filter(Boolean);
    notes.push({
      kind: 'unlabelled_cells',
      message: `Cells lacking a label (${parts.join(', ')}) are drawn in grey and have their own rows, "${NO_DATASET}" / "${NO_CLUSTER}".`,
      items: []
    });
  }
  if (nKept === 0) {
    notes.push(
      noCellsNote(
        opts.clusters !== null,
        'No cells with values of both genes: nothing to show.'
      )
    );
  }
}

export function explainStatistics(
  geneX: string,
  geneY: string,
  x: Float32Array | null,
  y: Float32Array | null,
  cells: Int32Array,
  opts: IDualOptions,
  axisX: IDualAxis,
  axisY: IDualAxis,
  rows: IDualStats[],
  nKept: number,
  matrixName: string,
  notes: IDualNote[]
): void {
  if (x === null || y === null) {
    return;
  }
  if (opts.detectedOnly) {
    notes.push({
      kind: 'detected_only',
      message: `Only cells where both genes are detected (> 0) are correlated and drawn: ${fmtInt(cells.length)} of ${fmtInt(nKept)} cells. Double-positive shares are over all cells of each group.`,
      items: []
    });
  }
  const negative = byName(axisX, axisY, a => a.gene)
    .filter(a => a.hasNegative)
    .map(a => a.gene);
  if (negative.length > 0) {
    notes.push({
      kind: 'negative_values',
      message:
        `${negative.join(' and ')} ${negative.length > 1 ? 'have' : 'has'} negative values in ${matrixName} ` +
        '(scaled or integrated data): "detected" (> 0) means little, so the double-positive share is not shown' +
        (opts.detectedOnly
          ? ', and the detected-only filter keeps cells by an arbitrary cut. Choose a log-normalised matrix.'
          : '. Choose a log-normalised matrix for it.'),
      items: negative
    });
  }
  const constant = byName(axisX, axisY, a => a.gene)
    .filter(axis => cells.length > 0 && axis.max === axis.min)
    .map(axis => `${axis.gene} (${axis.min})`);
  if (constant.length > 0 && geneX !== geneY) {
    notes.push({
      kind: 'constant_gene',
      message: `One value in every cell drawn, so no correlation: ${constant.join(', ')}.`,
      items: constant
    });
  }
  const undefinedRows = new Map<string, string>();
  let pending = 0;
  for (const row of rows) {
    if (row.reason === NOT_COMPUTED) {
      pending++;
    } else if (row.reason !== null && row.nGroupCells > 0) {
      const what =
        row.section === 'dataset' || row.section === 'cluster'
          ? `${row.section} ${row.label}`
          : row.label;
      undefinedRows.set(what, row.reason);
    }
  }
  if (pending > 0) {
    notes.push({
      kind: 'statistics_pending',
      message: `Correlations not computed yet for ${pending} group${pending > 1 ? 's' : ''}.`,
      items: []
    });
  }
  if (undefinedRows.size > 0) {
    const listed = [...undefinedRows].map(
      ([label, reason]) => `${label} (${reason})`
    );
    notes.push({
      kind: 'undefined_correlation',
      message: `r and ρ undefined for ${listed.join(', ')}.`,
      items: [...undefinedRows.keys()]
    });
  }
  if (opts.nBoot <= 0) {
    notes.push({
      kind: 'no_bootstrap',
      message:
        'No bootstrap resamples: the Spearman ρ interval is not computed.',
      items: []
    });
  }
}

export function explainDrawing(
  opts: IDualOptions,
  axisX: IDualAxis,
  axisY: IDualAxis,
  x: Float32Array | null,
  y: Float32Array | null,
  cells: Int32Array,
  densityOn: boolean,
  nShown: number,
  notes: IDualNote[]
): void {
  if (x === null || y === null) {
    return;
  }
  if (opts.jitter && !densityOn) {
    let zeros = 0;
    for (let k = 0; k < cells.length; k++) {
      if (x[cells[k]] === 0 || y[cells[k]] === 0) {
        zeros++;
      }
    }
    if (zeros > 0) {
      const [a, b] = byName(axisX, axisY, axis => axis.gene);
      notes.push({
        kind: 'jitter',
        message:
          `Zeros are spread by up to ±${fmtNum(a.jitter)} (${a.gene}) and ` +
          `±${fmtNum(b.jitter)} (${b.gene}) for display only (${fmtInt(zeros)} cells); ` +
          'statistics and hover use the exact values.',
        items: []
      });
    }
  }
  if (densityOn) {
    notes.push({
      kind: 'density',
      message:
        `${fmtInt(nShown)} points drawn as a binned density (cells per bin, log colour)` +
        (opts.density === 'auto'
          ? ` since there are more than ${fmtInt(opts.densityThreshold)}`
          : '') +
        '; colour groups are not told apart in it (use facets or marginals).',
      items: []
    });
  } else if (nShown > opts.densityThreshold) {
    notes.push({
      kind: 'many_points',
      message: `${fmtInt(nShown)} points drawn one by one: hover is limited; the density mode is faster.`,
      items: []
    });
  }
}

/**
 * The one-panel view pools every colour group: say so when the grouping drives that
 * pooled r (see `groupingDrivesPooled`).
 */
export function explainPooled(
  facets: IFacetLayout['facets'],
  groupStats: IDualStats[],
  colorBy: DualColorBy,
  notes: IDualNote[]
): void {
  if (facets.length !== 1 || facets[0].dataset !== null) {
    return;
  }
  const pooled = facets[0].stats;
  if (
    facets[0].cluster !== null ||
    !groupingDrivesPooled(
      pooled.pearsonR,
      groupStats.map(s => s.pearsonR)
    )
  ) {
    return;
  }
  const defined = groupStats.filter(s => Number.isFinite(s.pearsonR));
  const rs = defined.map(s => s.pearsonR);
  notes.push({
    kind: 'pooled_by_grouping',
    message:
      `Pooled r (${fmtR(pooled.pearsonR)}) lies outside the r within each ${colorBy} ` +
      `(${fmtR(Math.min(...rs))} to ${fmtR(Math.max(...rs))}): the differences between the ` +
      `${colorBy === 'dataset' ? 'datasets' : 'clusters'} drive it, not the correlation within them ` +
      "(Simpson's paradox). Read the per-group r.",
    items: defined.map(s => s.label)
  });
}
