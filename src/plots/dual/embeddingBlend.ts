/** The two-gene blend on the embedding: built, memoised, transposed and rasterised. */
import { CodeArray } from '../../compute/aggregate';
import { medianInPlace } from '../../compute/median';
import { ICodedColumn } from '../heatmap/model';
import { binning, binOf, IBinning, transposeCounts } from './binning';
import { BLEND_LEVELS, blendLevel } from './blend';
import { byName, fmtInt } from './format';
import { DualMemo } from './memo';
import {
  BLEND_RASTER_PIXELS,
  EMPTY_PIXEL,
  IBlendModel,
  IBlendRaster,
  IClusterLabel,
  IDualInput,
  IDualNote,
  IDualOptions
} from './modelTypes';

export interface IBlendMemo {
  y: Float32Array;
  dims: readonly (Float32Array | Float64Array)[];
  clusterCodes: CodeArray;
  filterKey: string;
  blend: IBlendModel | null;
  notes: IDualNote[];
}

/** buildBlend, remembered for the same genes, embedding and cluster filter. */
export function memoBlend(
  memo: DualMemo,
  input: IDualInput,
  x: Float32Array,
  y: Float32Array,
  kept: Int32Array,
  filterKey: string,
  notes: IDualNote[]
): IBlendModel | null {
  const dims = input.embedding?.dims ?? [];
  const matches = (entry: IBlendMemo, other: Float32Array) =>
    entry.y === other &&
    entry.clusterCodes === input.cluster.codes &&
    entry.filterKey === filterKey &&
    entry.dims.length === dims.length &&
    entry.dims.every((d, k) => d === dims[k]);
  const forward = memo.blends.get(x)?.find(e => matches(e, y));
  const backward = forward
    ? undefined
    : memo.blends.get(y)?.find(e => matches(e, x));
  const hit = forward ?? backward;
  if (hit && input.embedding) {
    notes.push(...hit.notes.map(n => ({ ...n, items: n.items.slice() })));
    return hit.blend && backward ? transposeBlend(hit.blend) : hit.blend;
  }
  const own: IDualNote[] = [];
  const blend = buildBlend(input, x, y, kept, own);
  notes.push(...own);
  if (input.embedding) {
    const entries = memo.blends.get(x) ?? [];
    entries.unshift({
      y,
      dims,
      clusterCodes: input.cluster.codes,
      filterKey,
      blend,
      notes: own.map(n => ({ ...n, items: n.items.slice() }))
    });
    entries.length = Math.min(entries.length, DualMemo.BLENDS_PER_ARRAY);
    memo.blends.set(x, entries);
  }
  return blend;
}

/** The blend with the genes exchanged: levels swap, drawing order stays. */
export function transposeBlend(blend: IBlendModel): IBlendModel {
  const L = blend.levels;
  const swap = (c: number) => (c % L) * L + Math.floor(c / L);
  return {
    ...blend,
    key: blend.key.endsWith(SWAPPED)
      ? blend.key.slice(0, -SWAPPED.length)
      : blend.key + SWAPPED,
    code: blend.code && blend.code.map(swap),
    counts: transposeCounts(blend.counts, L, L),
    scaleX: blend.scaleY,
    scaleY: blend.scaleX,
    raster: blend.raster && {
      ...blend.raster,
      code: blend.raster.code.map(c => (c === EMPTY_PIXEL ? c : swap(c)))
    }
  };
}

const SWAPPED = '/swapped';
/** Blend keys: unique across workers and reloads (a counter alone restarts at 0). */
const BLEND_KEY_PREFIX = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
let blendCount = 0;

/** The blend with its raster when the density option asks for one (see IBlendRaster). */
export function withRaster(
  memo: DualMemo,
  blend: IBlendModel | null,
  opts: IDualOptions,
  notes: IDualNote[]
): IBlendModel | null {
  if (!blend) {
    return null;
  }
  const n = blend.cells.length;
  const on =
    n > 0 &&
    (opts.density === 'on' ||
      (opts.density === 'auto' && n > opts.densityThreshold));
  if (!on) {
    return blend;
  }
  let drawn = memo.rasters.get(blend);
  if (!drawn) {
    drawn = {
      ...blend,
      key: `${blend.key}/raster`,
      raster: blendRaster(blend, BLEND_RASTER_PIXELS),
      x: null,
      y: null,
      code: null
    };
    memo.rasters.set(blend, drawn);
  }
  const raster = drawn.raster!;
  notes.push({
    kind: 'blend_raster',
    message:
      `${fmtInt(n)} cells on ${blend.embedding} drawn as ${raster.x.count} × ${raster.y.count} pixels, ` +
      'each showing the blend of the cell on top' +
      (opts.density === 'auto'
        ? ` (more than ${fmtInt(opts.densityThreshold)} cells)`
        : '') +
      '.',
    items: []
  });
  return drawn;
}

/**
 * The blend drawn into square pixels, `pixels` along the longer side of the embedding:
 * cells are visited in drawing order, so each pixel keeps the code of the cell on top.
 */
export function blendRaster(blend: IBlendModel, pixels: number): IBlendRaster {
  const { x, y, code: cellCode } = blend;
  if (!x || !y || !cellCode) {
    throw new Error('blendRaster: the blend is already a raster.');
  }
  let loX = Infinity;
  let hiX = -Infinity;
  let loY = Infinity;
  let hiY = -Infinity;
  for (let k = 0; k < x.length; k++) {
    loX = Math.min(loX, x[k]);
    hiX = Math.max(hiX, x[k]);
    loY = Math.min(loY, y[k]);
    hiY = Math.max(hiY, y[k]);
  }
  const span = Math.max(hiX - loX, hiY - loY);
  const side = (lo: number, hi: number): IBinning =>
    span > 0
      ? {
          start: lo,
          size: span / pixels,
          count: Math.max(1, Math.ceil(((hi - lo) / span) * pixels))
        }
      : binning(lo, hi, 1);
  const bx = side(loX, hiX);
  const by = side(loY, hiY);
  const nx = bx.count;
  const code = new Uint8Array(nx * by.count).fill(EMPTY_PIXEL);
  const count = new Uint32Array(nx * by.count);
  for (let k = 0; k < x.length; k++) {
    const p = binOf(y[k], by) * nx + binOf(x[k], bx);
    code[p] = cellCode[k];
    count[p]++;
  }
  return { x: bx, y: by, code, count };
}

export function buildBlend(
  input: IDualInput,
  x: Float32Array,
  y: Float32Array,
  kept: Int32Array,
  notes: IDualNote[]
): IBlendModel | null {
  const embedding = input.embedding;
  if (!embedding) {
    notes.push({
      kind: 'no_embedding',
      message:
        'No embedding (UMAP, t-SNE or another obsm entry): the co-expression view needs one.',
      items: []
    });
    return null;
  }
  const [d1, d2] = embedding.dims;
  if (!d1 || !d2 || d1.length !== x.length || d2.length !== x.length) {
    notes.push({
      kind: 'no_embedding',
      message: `Embedding ${embedding.name} needs two dimensions over all ${fmtInt(x.length)} cells; it has ${embedding.dims.length} of ${fmtInt(d1?.length ?? 0)}.`,
      items: [embedding.name]
    });
    return null;
  }
  // Kept cells with coordinates, and each gene's extent over them (Seurat scales over
  // the cells drawn)
  const drawn = new Int32Array(kept.length);
  let n = 0;
  let loX = Infinity;
  let hiX = -Infinity;
  let loY = Infinity;
  let hiY = -Infinity;
  for (let k = 0; k < kept.length; k++) {
    const cell = kept[k];
    if (!Number.isFinite(d1[cell]) || !Number.isFinite(d2[cell])) {
      continue;
    }
    drawn[n++] = cell;
    loX = Math.min(loX, x[cell]);
    hiX = Math.max(hiX, x[cell]);
    loY = Math.min(loY, y[cell]);
    hiY = Math.max(hiY, y[cell]);
  }
  if (n < kept.length) {
    notes.push({
      kind: 'embedding_partial',
      message: `${fmtInt(kept.length - n)} cell${kept.length - n > 1 ? 's have' : ' has'} no coordinates in ${embedding.name} and ${kept.length - n > 1 ? 'are' : 'is'} not drawn on it.`,
      items: [embedding.name]
    });
  }
  const constant = byName(
    { gene: input.geneX, lo: loX, hi: hiX },
    { gene: input.geneY, lo: loY, hi: hiY },
    g => g.gene
  )
    .filter(g => n > 0 && !(g.hi > g.lo))
    .map(g => g.gene);
  if (constant.length > 0) {
    notes.push({
      kind: 'blend_constant',
      message: `${constant.join(' and ')} ${constant.length > 1 ? 'have' : 'has'} one value in every cell drawn: level 0 everywhere in the blend.`,
      items: constant
    });
  }
  // Levels, then a counting sort by levelX + levelY so co-expressing cells draw on top
  const levels = BLEND_LEVELS;
  const codes = new Uint8Array(n);
  const counts = new Uint32Array(levels * levels);
  const bySum = new Int32Array(2 * levels);
  for (let k = 0; k < n; k++) {
    const cell = drawn[k];
    const lx = blendLevel(x[cell], loX, hiX, levels);
    const ly = blendLevel(y[cell], loY, hiY, levels);
    codes[k] = lx + levels * ly;
    counts[codes[k]]++;
    bySum[lx + ly + 1]++;
  }
  for (let s = 1; s < bySum.length; s++) {
    bySum[s] += bySum[s - 1];
  }
  const cells = new Int32Array(n);
  const code = new Uint8Array(n);
  const ex = new Float32Array(n);
  const ey = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const c = codes[k];
    const at = bySum[(c % levels) + Math.floor(c / levels)]++;
    const cell = drawn[k];
    cells[at] = cell;
    code[at] = c;
    ex[at] = d1[cell];
    ey[at] = d2[cell];
  }
  return {
    key: `${BLEND_KEY_PREFIX}-${blendCount++}`,
    embedding: embedding.name,
    dimLabels: [`${embedding.name} 1`, `${embedding.name} 2`],
    levels,
    cells,
    x: ex,
    y: ey,
    code,
    counts,
    scaleX: { min: n > 0 ? loX : 0, max: n > 0 ? hiX : 0 },
    scaleY: { min: n > 0 ? loY : 0, max: n > 0 ? hiY : 0 },
    raster: null,
    clusterLabels: clusterLabels(input.cluster, drawn.subarray(0, n), d1, d2)
  };
}

/**
 * Each cluster's name at the median of its drawn cells on the embedding (the median, not
 * the mean: a few cells far away do not move the label off the cluster).
 */
export function clusterLabels(
  cluster: ICodedColumn,
  cells: Int32Array,
  d1: ArrayLike<number>,
  d2: ArrayLike<number>
): IClusterLabel[] {
  const nK = cluster.categories.length;
  const counts = new Int32Array(nK + 1);
  for (let k = 0; k < cells.length; k++) {
    const c = cluster.codes[cells[k]];
    counts[c >= 0 && c < nK ? c : nK]++;
  }
  const start = new Int32Array(nK + 2);
  for (let c = 0; c <= nK; c++) {
    start[c + 1] = start[c] + counts[c];
  }
  const cursor = start.slice(0, nK + 1);
  const xs = new Float64Array(cells.length);
  const ys = new Float64Array(cells.length);
  for (let k = 0; k < cells.length; k++) {
    const cell = cells[k];
    const code = cluster.codes[cell];
    const at = cursor[code >= 0 && code < nK ? code : nK]++;
    xs[at] = d1[cell];
    ys[at] = d2[cell];
  }
  const labels: IClusterLabel[] = [];
  // Cells without a cluster get no label
  for (let c = 0; c < nK; c++) {
    if (counts[c] > 0) {
      labels.push({
        label: cluster.categories[c],
        x: medianInPlace(xs.subarray(start[c], start[c + 1])),
        y: medianInPlace(ys.subarray(start[c], start[c + 1])),
        nCells: counts[c]
      });
    }
  }
  return labels;
}
