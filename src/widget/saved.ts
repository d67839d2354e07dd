/**
 * A plot output's saved copy: what a notebook keeps so the plot shows when reopened without
 * its kernel (interactive, from the saved figure) and, as `image/png` beside it, wherever
 * exprscope is absent (GitHub, nbviewer, nbconvert).
 */
import type { IDataTable } from '../plots/PlotActions';
import type { IFigure } from '../plots/plotly';
import { toBase64 } from '../export/png';

/** The output MIME type of exprscope plots (one constant on each side). */
export const PLOT_MIME = 'application/vnd.exprscope.plot+json';

/** A saved figure above this size keeps only its picture (notebooks must stay openable). */
export const MAX_SAVED_FIGURE_BYTES = 8 * 1024 * 1024;
/** Tables of plotted numbers above this size are not kept (per-cell values of big data). */
export const MAX_SAVED_TABLE_BYTES = 2 * 1024 * 1024;
/** No CSV row is shorter: tables with more rows than this share of the cap are not built. */
const MIN_CSV_ROW_BYTES = 8;

/** A table of plotted numbers as the notebook keeps it. */
export interface ISavedTable {
  name: string;
  csv: string;
}

export interface ISavedPlot {
  /** The Plotly figure, typed arrays base64-encoded; null when too large to keep. */
  figure: IFigure | null;
  /** Why the figure was not kept, when it was not. */
  omitted?: string;
  tables: ISavedTable[];
  notes: string[];
  width: number;
  height: number;
}

/** The output's JSON: written by Python, completed by the frontend. */
export interface IPlotPayload {
  model_id?: string;
  spec: unknown;
  version?: string;
  saved?: ISavedPlot;
}

export function readPayload(value: unknown): IPlotPayload | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return null;
  }
  const payload = value as IPlotPayload;
  return typeof payload.spec === 'object' && payload.spec !== null
    ? payload
    : null;
}

const DTYPES: [new (...args: any[]) => ArrayBufferView, string][] = [
  [Float32Array, 'f4'],
  [Float64Array, 'f8'],
  [Int8Array, 'i1'],
  [Uint8Array, 'u1'],
  [Uint8ClampedArray, 'u1'],
  [Int16Array, 'i2'],
  [Uint16Array, 'u2'],
  [Int32Array, 'i4'],
  [Uint32Array, 'u4']
];

/**
 * The figure as JSON, typed arrays written as Plotly's own base64 typed-array objects
 * (`{dtype, bdata}`, which plotly.js reads back): compact, and exact for float32.
 */
export function encodeFigure(figure: IFigure): IFigure {
  return {
    data: figure.data.map(trace => encodeValue(trace)),
    layout: encodeValue(figure.layout)
  };
}

/**
 * Rows of one typed-array type and length (the raster's per-pixel counts) as one 2-D
 * typed array (`shape` "rows,columns", numpy's order); plotly.js decodes only a whole
 * value, not typed arrays inside a plain one.
 */
function typedRows(rows: unknown[]): unknown {
  const first = rows[0];
  if (!ArrayBuffer.isView(first) || first instanceof DataView) {
    return null;
  }
  const type = first.constructor;
  const length = (first as Uint8Array).length;
  const entry = DTYPES.find(([dtype]) => dtype === type);
  if (
    !entry ||
    !rows.every(
      row => row?.constructor === type && (row as Uint8Array).length === length
    )
  ) {
    return null;
  }
  const joined = new (type as Uint8ArrayConstructor)(rows.length * length);
  rows.forEach((row, i) => joined.set(row as Uint8Array, i * length));
  return {
    dtype: entry[1],
    bdata: toBase64(joined),
    shape: `${rows.length},${length}`
  };
}

function encodeValue(value: any): any {
  if (ArrayBuffer.isView(value)) {
    const entry = DTYPES.find(([type]) => value instanceof type);
    if (entry) {
      return { dtype: entry[1], bdata: toBase64(value) };
    }
    return Array.from(value as any);
  }
  if (Array.isArray(value)) {
    return typedRows(value) ?? value.map(encodeValue);
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      // Plotly's private bookkeeping (_input, _fullData links) is not part of the figure.
      if (!key.startsWith('_') && typeof v !== 'function') {
        out[key] = encodeValue(v);
      }
    }
    return out;
  }
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

/** The saved copy of a drawn plot: its figure (when small enough), numbers and notes. */
export function savePlot(
  graph: HTMLElement,
  tables: IDataTable[],
  notes: string[]
): ISavedPlot {
  const plot = graph as any;
  const rect = graph.getBoundingClientRect();
  const width = Math.max(1, Math.round(rect.width));
  const height = Math.max(1, Math.round(rect.height));
  const kept: ISavedTable[] = [];
  const dropped: string[] = [];
  for (const table of tables) {
    // A table that cannot fit is not built at all (a million cells: 40 MB of text).
    const csv =
      table.rows * MIN_CSV_ROW_BYTES <= MAX_SAVED_TABLE_BYTES
        ? table.csv()
        : null;
    if (csv !== null && csv.length <= MAX_SAVED_TABLE_BYTES) {
      kept.push({ name: table.name, csv });
    } else {
      dropped.push(table.name);
    }
  }
  if (dropped.length > 0) {
    notes = [
      ...notes,
      `Not kept in the notebook (too large): ${dropped.join(', ')}; re-run the cell to download it.`
    ];
  }
  const figure = encodeFigure({
    data: plot.data ?? [],
    layout: plot.layout ?? {}
  });
  const size = JSON.stringify(figure).length;
  if (size > MAX_SAVED_FIGURE_BYTES) {
    return {
      figure: null,
      omitted: `The interactive figure (${(size / 1024 / 1024).toFixed(0)} MB) is too large to keep in the notebook; its picture is kept.`,
      tables: kept,
      notes,
      width,
      height
    };
  }
  return { figure, tables: kept, notes, width, height };
}
