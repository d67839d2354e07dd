// Over 600 lines: heatmap, dot plot and difference layers share the axes, colour scale and dendrogram layout; a split by trace kind is pending.
/**
 * The Plotly figure of a heatmap / dot plot model. Pure: model + theme in, figure out, so
 * what is drawn can be tested without a browser.
 *
 * Rows sit at integer positions (row 0 at the top); columns at the positions of
 * `columnAxis` (integers, shifted by the gaps between cluster groups), so that dendrograms,
 * drawn as line traces on their own axes, line up with the cells they join.
 */

// Shared with the other views and the tests, which import them from here.
export { escapeLabel, estimateTextWidth };
export type { TextMeasure };
import {
  escapeLabel,
  estimateTextWidth,
  plainLines,
  TextMeasure
} from '../labels';
import { categoryColors } from '../palette';
import type { IFigure, PlotData, PlotLayout } from '../plotly';
import { divergingScale, IPlotTheme, SEQUENTIAL_SCALE } from '../theme';
import { columnAxis, IColumnAxis } from './columnAxis';
import type {
  IDendrogramGeometry,
  IDifferenceColumn,
  IDifferenceLayer,
  IHeatmapModel
} from './model';

export interface IHeatmapFigureOptions {
  theme: IPlotTheme;
  /** Title line above the plot (object, matrix, what is coloured). */
  title?: string;
  /** Extra text after a gene's row label (e.g. the cluster a marker came from). */
  rowTags?: ReadonlyMap<string, string>;
  /** Per gene, the cluster whose colour its row annotation shows (markers mode). */
  rowClusters?: ReadonlyMap<string, string>;
  /** Height of one row in pixels. */
  rowHeight?: number;
  /** Width of a line of label text in pixels (the view measures; estimated otherwise). */
  measureText?: TextMeasure;
  /**
   * Width of the view in pixels: the figure's width, unless the column labels need more
   * (then the figure is wider and the view scrolls). Default 900 (exports, tests).
   */
  width?: number;
  /** Every category of the dataset / cluster column, so colours match the other views. */
  datasetCategories?: readonly string[] | null;
  clusterCategories?: readonly string[] | null;
}

/** Space between tick labels and the plot edge, and around the margins. */
const TICK_PADDING = 8;
const EDGE = 10;
/** Fractions expressing shown in the dot plot's size key, and the height of its lines. */
const SIZE_KEY_FRACTIONS = [0.25, 0.5, 0.75, 1];
const KEY_LINE = 22;
const DEFAULT_WIDTH = 900;
/** Above the cells, in pixels: the n-cells bars, each annotation bar, the gaps. */
const CELLS_TRACK = 26;
const ANNOTATION_BAR = 9;
const TRACK_GAP = 4;
const COLUMN_TREE = 80;
/** Room above the plot for the datasets' legend: 24 px holds it at the default font size. */
const DATASET_LEGEND = 24;
/** The row annotation strip, left of the cells, in columns. */
const ROW_STRIP: [number, number] = [-0.8, -0.6];

/** The numbers behind one cell, in the order of `customdata` (read by hover and tests). */
export const CELL_FIELDS = [
  'gene',
  'column',
  'n_cells',
  'mean',
  'frac_expressing',
  'value'
] as const;

const DOT_MAX_DIAMETER = 18;

/** The colour bar's width and the space either side of it, in pixels. */
const COLORBAR = { thickness: 12, xpad: 10 };
/**
 * The longest tick label the right margin keeps room for. The margin must not depend on
 * the values: Plotly widens a margin its colour bar does not fit, and whenever the margins
 * change from one draw to the next it draws the colour bar and legends twice (~14% of a
 * rescale's `Plotly.react`, docs/performance.md). A longer label still fits: Plotly widens.
 */
const COLORBAR_WIDEST_TICK = '−0.00';

/**
 * The right margin: the colour bar with its padding, tick labels and title (a line turned
 * on its side), and the space Plotly keeps beyond a margin's contents (`EDGE`).
 */
function colorbarRoom(measure: TextMeasure, fontSize: number): number {
  const labels = TICK_PADDING + measure(COLORBAR_WIDEST_TICK, fontSize);
  const title = TICK_PADDING + Math.ceil(fontSize * 1.4);
  return Math.ceil(
    2 * COLORBAR.xpad + COLORBAR.thickness + labels + title + EDGE
  );
}
/** Width of the gap drawn between two cluster groups, in columns, and at most in pixels. */
const GROUP_GAP = 0.35;
const GROUP_GAP_MAX_PX = 10;

export function heatmapFigure(
  model: IHeatmapModel,
  options: IHeatmapFigureOptions
): IFigure {
  const { theme } = options;
  const rowHeight = options.rowHeight ?? 20;
  const nRows = model.genes.length;
  const rows = model.genes.map((_, i) => i);
  const hasRowTree = model.rowDendrogram !== null;
  const hasColumnTree = model.columnDendrogram !== null;
  const difference = model.difference;
  const measure = options.measureText ?? estimateTextWidth;
  const axisFont = { color: theme.font, size: theme.fontSize };

  // Rows: labels (with the marker tags) and, in markers mode, a strip coloured by cluster
  const rowLabels = model.genes.map(gene => {
    const tag = options.rowTags?.get(gene);
    return tag
      ? `${escapeLabel(gene)} <span style="color:${theme.mutedFont}">${escapeLabel(tag)}</span>`
      : escapeLabel(gene);
  });
  const rowStrip =
    options.rowClusters !== undefined &&
    model.genes.some(g => options.rowClusters?.has(g));
  const widest = (labels: string[]) =>
    Math.max(
      0,
      ...labels.flatMap(plainLines).map(line => measure(line, axisFont.size))
    );
  // Margins from the labels' measured size, not Plotly's automargin: that draws the plot
  // twice whenever labels change (each draw forcing layout of all of JupyterLab), so a
  // regroup took twice as long.
  const marginLeft = EDGE + TICK_PADDING + Math.ceil(widest(rowLabels));
  const heatmapRight = hasRowTree ? 0.86 : 1;

  // Columns: split into cluster groups for dataset × cluster, labels that never overlap
  const columns = model.columns;
  const hasDatasets = columns.some(c => c.dataset !== null);
  const hasClusters = columns.some(c => c.cluster !== null);
  const split =
    !difference &&
    !hasColumnTree &&
    columns.length > 0 &&
    columns.every(c => c.dataset !== null && c.cluster !== null);
  const columnLabels = columns.map((column, j) => {
    const label = escapeLabel(column.label);
    if (difference) {
      const n = differenceCounts(difference.columns[j]);
      return column.masked
        ? `<span style="color:${theme.mutedFont}">${label}<br>${n} (masked)</span>`
        : `${label}<br>${n}`;
    }
    return column.masked
      ? `<span style="color:${theme.mutedFont}">${label}</span>`
      : label;
  });
  const viewWidth = options.width ?? DEFAULT_WIDTH;
  // The colour bar's room, so the column labels are laid out for the width they get
  const marginRight = colorbarRoom(measure, theme.fontSize);
  const plotAreaWidth = Math.max(
    40,
    (viewWidth - marginLeft - marginRight) * heatmapRight
  );
  const axis = columnAxis(columns, {
    labels: columnLabels,
    split,
    plotAreaWidth,
    fontSize: axisFont.size,
    measure
  });
  const figureWidth =
    axis.minPlotAreaWidth > plotAreaWidth
      ? Math.ceil(axis.minPlotAreaWidth / heatmapRight) +
        marginLeft +
        marginRight
      : undefined;

  // Hover text is rendered as (a subset of) HTML: names are escaped like the labels.
  const customdata = model.genes.map((gene, i) =>
    columns.map((column, j) => [
      escapeLabel(gene),
      escapeLabel(column.label),
      column.nCells,
      model.mean[i][j],
      model.fraction[i][j],
      model.color[i][j],
      ...(difference ? differenceFields(difference, i, j) : [])
    ])
  );
  const hovertemplate = difference
    ? differenceHover(difference)
    : '<b>%{customdata[0]}</b> · %{customdata[1]}<br>' +
      'mean %{customdata[3]:.3f}<br>' +
      'fraction expressing %{customdata[4]:.1%}<br>' +
      'n cells %{customdata[2]}<br>' +
      `${model.colorScale.label}: %{customdata[5]:.3f}<extra></extra>`;

  const colorscale =
    model.colorScale.kind === 'diverging'
      ? divergingScale(theme)
      : SEQUENTIAL_SCALE;

  // Heights: the cells, then above them the annotation bars, n cells, the column tree
  const bars = difference ? 0 : Number(hasDatasets) + Number(hasClusters);
  const tracksPx = difference
    ? 0
    : TRACK_GAP + bars * (ANNOTATION_BAR + 2) + CELLS_TRACK + TRACK_GAP;
  const treePx = hasColumnTree ? COLUMN_TREE : 0;
  const datasetLegend = !difference && hasDatasets;
  // Its room is kept whenever the object has datasets, grouped by them or not: the plot
  // does not move on a regroup, and Plotly, whose margins then stay the same, draws the
  // legends and the colour bar once per draw instead of twice.
  const datasetLegendRoom =
    datasetLegend ||
    (!difference && (options.datasetCategories?.length ?? 0) > 0);

  const labelsBelow = TICK_PADDING + axis.labelsBelow;
  // The dot plot's size key goes below the column labels, one size per line.
  const sizeKey = model.size !== null ? SIZE_KEY_FRACTIONS.length : 0;
  // Requested genes the matrix lacks, said on the figure itself: exported files and the
  // picture a notebook keeps carry them too.
  const caption = missingGenesCaption(model);
  const margin = {
    l: marginLeft,
    r: marginRight,
    t: (options.title ? 40 : EDGE) + (datasetLegendRoom ? DATASET_LEGEND : 0),
    b:
      EDGE +
      labelsBelow +
      (sizeKey ? TICK_PADDING + sizeKey * KEY_LINE : 0) +
      (caption ? KEY_LINE : 0)
  };
  const height = Math.max(
    260,
    margin.t + margin.b + 40 + nRows * rowHeight + tracksPx + treePx
  );
  const plotHeight = Math.max(1, height - margin.t - margin.b);
  const heatmapTop = (plotHeight - tracksPx - treePx) / plotHeight;
  const px = (pixels: number) => pixels / plotHeight;

  const colorbar = {
    title: { text: model.colorScale.label, side: 'right' as const },
    thickness: COLORBAR.thickness,
    xpad: COLORBAR.xpad,
    // At the plot area's right edge, in the room the right margin keeps for it
    x: 1,
    xanchor: 'left' as const,
    len: Math.min(0.9, heatmapTop),
    y: 0,
    yanchor: 'bottom' as const,
    outlinewidth: 0,
    tickfont: { color: theme.font }
  };

  const data: PlotData[] = [];
  // Masked / missing cells first, in the "missing" colour, underneath the values.
  const missingZ = model.color.map((row, i) =>
    row.map((value, j) =>
      value === null && (model.size === null || model.size[i][j] === null)
        ? 1
        : null
    )
  );
  if (missingZ.some(row => row.some(v => v !== null))) {
    data.push({
      type: 'heatmap',
      name: 'masked',
      x: axis.positions,
      y: rows,
      z: missingZ as any,
      colorscale: [
        [0, theme.missing],
        [1, theme.missing]
      ],
      showscale: false,
      hoverinfo: 'skip'
    } as PlotData);
  }

  if (model.size === null) {
    data.push({
      type: 'heatmap',
      name: 'expression',
      x: axis.positions,
      y: rows,
      z: model.color as any,
      zmin: model.colorScale.min,
      zmax: model.colorScale.max,
      colorscale,
      colorbar,
      customdata: customdata as any,
      hovertemplate,
      hoverongaps: false
    } as PlotData);
  } else {
    const x: number[] = [];
    const y: number[] = [];
    const color: number[] = [];
    const size: number[] = [];
    const points: unknown[] = [];
    model.genes.forEach((_, i) =>
      columns.forEach((__, j) => {
        const fraction = model.size?.[i][j] ?? null;
        const value = model.color[i][j];
        if (fraction === null || value === null) {
          return;
        }
        x.push(axis.positions[j]);
        y.push(i);
        color.push(value);
        size.push(dotDiameter(fraction));
        points.push(customdata[i][j]);
      })
    );
    data.push({
      type: 'scatter',
      mode: 'markers',
      name: 'expression',
      x,
      y,
      customdata: points as any,
      hovertemplate,
      showlegend: false,
      marker: {
        color,
        size,
        cmin: model.colorScale.min,
        cmax: model.colorScale.max,
        colorscale,
        colorbar,
        line: { width: 0.5, color: theme.grid }
      }
    } as PlotData);
    // Size key: invisible points, one legend entry per reference fraction.
    for (const fraction of SIZE_KEY_FRACTIONS) {
      data.push({
        type: 'scatter',
        mode: 'markers',
        x: [null],
        y: [null],
        name: `${fraction * 100}% expressing`,
        legendgroup: 'size',
        hoverinfo: 'skip',
        marker: { size: dotDiameter(fraction), color: theme.mutedFont }
      } as PlotData);
    }
  }

  if (difference) {
    data.push(marksTrace(difference, axis.positions, theme));
  }
  if (model.columnDendrogram) {
    data.push(
      dendrogramTrace(model.columnDendrogram, 'columns', theme, 'x', 'y2')
    );
  }
  if (model.rowDendrogram) {
    data.push(dendrogramTrace(model.rowDendrogram, 'rows', theme, 'x2', 'y'));
  }

  const datasetColors = categoryColors(
    options.datasetCategories ?? distinct(columns.map(c => c.dataset)),
    theme
  );
  const clusterColors = categoryColors(
    options.clusterCategories ?? distinct(columns.map(c => c.cluster)),
    theme
  );
  const shapes: NonNullable<PlotLayout['shapes']> = [];
  const annotations: NonNullable<PlotLayout['annotations']> = [];
  const leftNote = (text: string, y: number) =>
    annotations.push({
      text,
      xref: 'paper',
      yref: 'paper',
      x: 0,
      y,
      xanchor: 'right',
      yanchor: 'middle',
      xshift: -TICK_PADDING,
      showarrow: false,
      font: { size: theme.fontSize - 1, color: theme.mutedFont }
    });
  let trackBottom = heatmapTop + px(TRACK_GAP);
  if (!difference) {
    // Annotation bars: the cluster next to the cells, the dataset above it
    const bar = (
      name: string,
      colorOf: (column: (typeof columns)[number]) => string | null
    ) => {
      const y0 = trackBottom;
      const y1 = y0 + px(ANNOTATION_BAR);
      const cells: IFilledRect[] = [];
      columns.forEach((column, j) => {
        const color = colorOf(column);
        if (color) {
          const x = axis.positions[j];
          cells.push({ x0: x - 0.5, x1: x + 0.5, y0, y1, color });
        }
      });
      shapes.push(...rectangleShapes(cells, 'x', 'paper'));
      leftNote(name, (y0 + y1) / 2);
      trackBottom = y1 + px(2);
    };
    if (hasClusters) {
      bar('cluster', c =>
        c.cluster === null ? null : (clusterColors.get(c.cluster) ?? null)
      );
    }
    if (hasDatasets) {
      bar('dataset', c =>
        c.dataset === null ? null : (datasetColors.get(c.dataset) ?? null)
      );
    }
    const cells = cellsTrack(model, axis.positions, theme);
    data.push(cells.trace);
    shapes.push(...cells.shapes);
    leftNote('n cells', trackBottom + px(CELLS_TRACK / 2));
  }
  const plotAreaPx = Math.max(plotAreaWidth, axis.minPlotAreaWidth);
  shapes.push(
    ...separators(
      model.size === null ? nRows : 0,
      axis,
      plotAreaPx / Math.max(1, axis.range[1] - axis.range[0]),
      difference ? heatmapTop : trackBottom + px(CELLS_TRACK),
      theme
    )
  );
  if (datasetLegend) {
    for (const [name, color] of datasetColors) {
      if (!columns.some(c => c.dataset === name)) {
        continue;
      }
      data.push({
        type: 'scatter',
        mode: 'markers',
        x: [null],
        y: [null],
        name: escapeLabel(name),
        legend: 'legend2',
        legendgroup: 'dataset',
        hoverinfo: 'skip',
        marker: { symbol: 'square', size: 11, color }
      } as PlotData);
    }
  }
  if (rowStrip) {
    const strips: IFilledRect[] = [];
    model.genes.forEach((gene, i) => {
      const cluster = options.rowClusters?.get(gene);
      const color =
        cluster === undefined ? undefined : clusterColors.get(cluster);
      if (color) {
        const [x0, x1] = ROW_STRIP;
        strips.push({ x0, x1, y0: i - 0.45, y1: i + 0.45, color });
      }
    });
    shapes.push(...rectangleShapes(strips, 'x', 'y'));
  }
  if (caption) {
    annotations.push({
      text: escapeLabel(caption),
      xref: 'paper',
      yref: 'paper',
      x: 0,
      // The figure's last line, below the labels and the size key
      y: -(margin.b - EDGE / 2) / plotHeight,
      xanchor: 'left',
      yanchor: 'bottom',
      showarrow: false,
      align: 'left',
      font: { size: theme.fontSize - 1, color: theme.mutedFont }
    });
  }

  const layout: PlotLayout = {
    title: options.title
      ? { text: escapeLabel(options.title), font: { size: 13 }, x: 0 }
      : undefined,
    paper_bgcolor: theme.background,
    plot_bgcolor: theme.background,
    font: { family: theme.fontFamily, color: theme.font, size: theme.fontSize },
    height,
    width: figureWidth,
    margin,
    showlegend: model.size !== null || datasetLegend,
    // Paper coordinates span the plot area: this puts the key's top just below the labels
    legend: {
      orientation: 'v',
      x: 0,
      xanchor: 'left',
      y: -(labelsBelow + TICK_PADDING) / plotHeight,
      yanchor: 'top'
    },
    hoverlabel: { bgcolor: theme.background, font: { color: theme.font } },
    // Margins already hold every label: Plotly's default for value axes ('hide past div')
    // would measure each label after every draw (a forced layout of the page per label).
    xaxis: {
      domain: [0, heatmapRight],
      ticklabeloverflow: 'allow',
      tickvals: axis.tickvals,
      ticktext: axis.ticktext,
      tickangle: axis.tickAngle,
      range: [rowStrip ? ROW_STRIP[0] - 0.1 : axis.range[0], axis.range[1]],
      showgrid: false,
      zeroline: false,
      automargin: false,
      side: 'bottom',
      tickfont: axisFont,
      fixedrange: true
    },
    yaxis: {
      domain: [0, heatmapTop],
      ticklabeloverflow: 'allow',
      tickvals: rows,
      ticktext: rowLabels,
      range: [nRows - 0.5, -0.5],
      showgrid: false,
      zeroline: false,
      automargin: false,
      tickfont: axisFont,
      fixedrange: true
    }
  };
  if (datasetLegend) {
    (layout as any).legend2 = {
      orientation: 'h',
      x: 1,
      xanchor: 'right',
      y: 1 + px(TICK_PADDING / 2),
      yanchor: 'bottom',
      font: { size: theme.fontSize - 1, color: theme.font },
      itemclick: false,
      itemdoubleclick: false
    };
  }
  if (shapes.length > 0) {
    layout.shapes = shapes;
  }
  if (annotations.length > 0) {
    layout.annotations = annotations;
  }
  if (!difference) {
    layout.yaxis3 = {
      domain: [trackBottom, trackBottom + px(CELLS_TRACK)],
      visible: false,
      range: [0, Math.max(1, ...columns.map(c => c.nCells)) * 1.05],
      fixedrange: true
    };
  }
  if (hasColumnTree) {
    layout.yaxis2 = {
      domain: [1 - px(treePx) + 0.02, 1],
      visible: false,
      range: [0, (model.columnDendrogram?.maxHeight ?? 1) * 1.05 || 1],
      fixedrange: true
    };
  }
  if (hasRowTree) {
    layout.xaxis2 = {
      domain: [heatmapRight + 0.02, 1],
      visible: false,
      range: [0, (model.rowDendrogram?.maxHeight ?? 1) * 1.05 || 1],
      fixedrange: true
    };
  }
  return { data, layout };
}

/**
 * n cells per column as small bars above the cells: rectangles (the partial Plotly bundle
 * has no bar trace) and an invisible point per column for the hover (samples too).
 */
function cellsTrack(
  model: IHeatmapModel,
  positions: readonly number[],
  theme: IPlotTheme
): { trace: PlotData; shapes: NonNullable<PlotLayout['shapes']> } {
  const shapes = rectangleShapes(
    model.columns.map((c, j) => ({
      x0: positions[j] - 0.4,
      x1: positions[j] + 0.4,
      y0: 0,
      y1: c.nCells,
      color: c.masked ? theme.missing : theme.mutedFont
    })),
    'x',
    'y3'
  );
  const trace = {
    type: 'scatter',
    mode: 'markers',
    name: 'n cells',
    x: [...positions],
    y: model.columns.map(c => c.nCells / 2),
    yaxis: 'y3',
    marker: { size: 14, opacity: 0 },
    customdata: model.columns.map(c => [
      escapeLabel(c.label),
      c.nCells,
      typeof c.nSamples === 'number'
        ? ` · ${c.nSamples} sample${c.nSamples === 1 ? '' : 's'}`
        : '',
      c.masked ? ' (masked: too few cells)' : ''
    ]) as any,
    hovertemplate:
      '%{customdata[0]}: %{customdata[1]:,} cells%{customdata[2]}%{customdata[3]}<extra></extra>',
    showlegend: false
  } as PlotData;
  return { trace, shapes };
}

/** A filled rectangle in the coordinates of a shape's axes. */
interface IFilledRect {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  color: string;
}

/**
 * Rectangles as one path shape per colour (in first-seen order), not one shape each:
 * Plotly coerces and draws every shape again on each redraw, and the bars above the cells
 * (three rectangles per column) were ~14% of a regroup's or rescale's `Plotly.react` at 40
 * columns (docs/performance.md).
 */
export function rectangleShapes(
  rects: readonly IFilledRect[],
  xref: 'x',
  yref: 'y' | 'y3' | 'paper'
): NonNullable<PlotLayout['shapes']> {
  const paths = new Map<string, string[]>();
  for (const { x0, x1, y0, y1, color } of rects) {
    const path = paths.get(color) ?? [];
    path.push(`M${x0},${y0}H${x1}V${y1}H${x0}Z`);
    paths.set(color, path);
  }
  return [...paths].map(([color, path]) => ({
    type: 'path',
    xref,
    yref,
    path: path.join(''),
    line: { width: 0 },
    fillcolor: color
  }));
}

/**
 * The lines between the cells (`nRows` > 0: a heatmap's bricks) and the wider gaps between
 * cluster groups, through the cells and the bars above them, in the background colour:
 * two path shapes, whatever the size. Plotly's own brick gaps (`xgap`) would make it
 * paint the heatmap on a canvas the plot's size and encode it as a PNG at every draw
 * (half of a draw's time); without them it paints one pixel per cell.
 */
function separators(
  nRows: number,
  axis: IColumnAxis,
  pitchPx: number,
  top: number,
  theme: IPlotTheme
): NonNullable<PlotLayout['shapes']> {
  const shapes: NonNullable<PlotLayout['shapes']> = [];
  const [left, right] = axis.range;
  const grid: string[] = [];
  if (nRows > 0) {
    for (let x = left + 1; x < right - 0.5; x++) {
      grid.push(`M${x},-0.5V${nRows - 0.5}`);
    }
    for (let i = 0; i + 1 < nRows; i++) {
      grid.push(`M${left},${i + 0.5}H${right}`);
    }
  }
  if (grid.length > 0) {
    shapes.push({
      type: 'path',
      xref: 'x',
      yref: 'y',
      path: grid.join(''),
      layer: 'above',
      line: { color: theme.background, width: 1 }
    });
  }
  if (axis.groupBoundaries.length > 0) {
    shapes.push({
      type: 'path',
      xref: 'x',
      yref: 'paper',
      path: axis.groupBoundaries.map(x => `M${x},0V${top}`).join(''),
      layer: 'above',
      line: {
        color: theme.background,
        width: Math.round(
          Math.min(GROUP_GAP_MAX_PX, Math.max(3, GROUP_GAP * pitchPx))
        )
      }
    });
  }
  return shapes;
}

/** Labels in first-seen order, nulls left out. */
function distinct(labels: readonly (string | null)[]): string[] {
  return [...new Set(labels.filter((l): l is string => l !== null))];
}

/** Fields after `CELL_FIELDS` in a difference heatmap's `customdata`. */
export const DIFFERENCE_FIELDS = [
  'padj',
  'pvalue',
  'mark',
  'n_cells_reference',
  'n_cells_target',
  'samples'
] as const;

function differenceFields(
  difference: IDifferenceLayer,
  i: number,
  j: number
): (string | number | null)[] {
  const column = difference.columns[j];
  return [
    difference.padj[i][j],
    difference.pvalue[i][j],
    difference.marks[i][j] || 'not significant',
    column.nCellsA,
    column.nCellsB,
    column.nSamplesA === null
      ? 'no sample column'
      : `${column.nSamplesA} / ${column.nSamplesB}`
  ];
}

function differenceHover(difference: IDifferenceLayer): string {
  const ref = escapeLabel(difference.reference);
  const target = escapeLabel(difference.target);
  const k = CELL_FIELDS.length;
  return (
    '<b>%{customdata[0]}</b> · %{customdata[1]}<br>' +
    `log2FC ${target} vs ${ref}: %{customdata[5]:.3f}<br>` +
    `padj %{customdata[${k}]:.3g} (p %{customdata[${k + 1}]:.3g}) %{customdata[${k + 2}]}<br>` +
    `cells ${ref} / ${target}: %{customdata[${k + 3}]} / %{customdata[${k + 4}]}<br>` +
    `samples ${ref} / ${target}: %{customdata[${k + 5}]}<extra></extra>`
  );
}

/** A difference column's label line: cells (and samples) in reference / target. */
function differenceCounts(column: IDifferenceColumn): string {
  const cells = `${column.nCellsA.toLocaleString('en-US')}/${column.nCellsB.toLocaleString('en-US')} cells`;
  return column.nSamplesA === null
    ? cells
    : `${cells}<br>${column.nSamplesA}/${column.nSamplesB} samples`;
}

/** Significance marks drawn over the cells they belong to (hover and clicks pass through). */
function marksTrace(
  difference: IDifferenceLayer,
  positions: readonly number[],
  theme: IPlotTheme
): PlotData {
  const x: number[] = [];
  const y: number[] = [];
  const text: string[] = [];
  difference.marks.forEach((row, i) =>
    row.forEach((mark, j) => {
      if (mark) {
        x.push(positions[j]);
        y.push(i);
        text.push(mark);
      }
    })
  );
  return {
    type: 'scatter',
    mode: 'text',
    name: 'significance',
    x,
    y,
    text,
    textposition: 'middle center',
    textfont: { color: theme.font, size: theme.fontSize },
    hoverinfo: 'skip',
    showlegend: false
  } as PlotData;
}

/** The note on requested genes the matrix does not hold, as the figure's caption. */
export function missingGenesCaption(model: {
  notes: readonly { kind: string; message: string }[];
}): string | null {
  return model.notes.find(n => n.kind === 'missing_genes')?.message ?? null;
}

/** Dot diameter in pixels: area proportional to the fraction expressing. */
export function dotDiameter(fraction: number): number {
  return 2 + (DOT_MAX_DIAMETER - 2) * Math.sqrt(Math.max(0, fraction));
}

/**
 * A dendrogram as one line trace (links separated by nulls). Column trees hang from the
 * top (leaves at height 0, root above); row trees grow to the right of the heatmap.
 */
function dendrogramTrace(
  tree: IDendrogramGeometry,
  orientation: 'rows' | 'columns',
  theme: IPlotTheme,
  xaxis: string,
  yaxis: string
): PlotData {
  const positions: (number | null)[] = [];
  const heights: (number | null)[] = [];
  for (const link of tree.links) {
    positions.push(...link.x, null);
    heights.push(...link.y, null);
  }
  const rows = orientation === 'rows';
  return {
    type: 'scatter',
    mode: 'lines',
    name: `${orientation} dendrogram`,
    x: rows ? heights : positions,
    y: rows ? positions : heights,
    xaxis,
    yaxis,
    hoverinfo: 'skip',
    showlegend: false,
    line: { color: theme.mutedFont, width: 1 }
  } as PlotData;
}
