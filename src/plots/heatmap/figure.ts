/**
 * The Plotly figure of a heatmap / dot plot model. Pure: model + theme in, figure out, so
 * what is drawn can be tested without a browser.
 *
 * Rows and columns sit at integer positions (row 0 at the top) so that dendrograms, drawn
 * as line traces on their own axes, line up with the cells they join.
 */
import type { IFigure, PlotData, PlotLayout } from '../plotly';
import { divergingScale, IPlotTheme, SEQUENTIAL_SCALE } from '../theme';
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
  /** Height of one row in pixels. */
  rowHeight?: number;
  /** Width of a line of label text in pixels (the view measures; estimated otherwise). */
  measureText?: TextMeasure;
}

/** Width in pixels of one line of text at a font size, in the plot's font. */
export type TextMeasure = (text: string, fontSize: number) => number;

/** A width for one line of text without a canvas to measure it on (tests, exports). */
export const estimateTextWidth: TextMeasure = (text, fontSize) =>
  text.length * fontSize * 0.6;

/** Space between tick labels and the plot edge, and around the margins. */
const TICK_PADDING = 8;
const EDGE = 10;
/** Fractions expressing shown in the dot plot's size key, and the height of its lines. */
const SIZE_KEY_FRACTIONS = [0.25, 0.5, 0.75, 1];
const KEY_LINE = 22;

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

export function heatmapFigure(
  model: IHeatmapModel,
  options: IHeatmapFigureOptions
): IFigure {
  const { theme } = options;
  const rowHeight = options.rowHeight ?? 20;
  const nRows = model.genes.length;
  const nCols = model.columns.length;
  const rows = model.genes.map((_, i) => i);
  const cols = model.columns.map((_, j) => j);
  const hasRowTree = model.rowDendrogram !== null;
  const hasColumnTree = model.columnDendrogram !== null;

  // Hover text is rendered as (a subset of) HTML: names are escaped like the labels.
  const difference = model.difference;
  const customdata = model.genes.map((gene, i) =>
    model.columns.map((column, j) => [
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
  const colorbar = {
    title: { text: model.colorScale.label, side: 'right' as const },
    thickness: 12,
    len: hasColumnTree ? 0.75 : 0.9,
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
      x: cols,
      y: rows,
      z: missingZ as any,
      colorscale: [
        [0, theme.missing],
        [1, theme.missing]
      ],
      showscale: false,
      hoverinfo: 'skip',
      xgap: 1,
      ygap: 1
    } as PlotData);
  }

  if (model.size === null) {
    data.push({
      type: 'heatmap',
      name: 'expression',
      x: cols,
      y: rows,
      z: model.color as any,
      zmin: model.colorScale.min,
      zmax: model.colorScale.max,
      colorscale,
      colorbar,
      customdata: customdata as any,
      hovertemplate,
      hoverongaps: false,
      xgap: 1,
      ygap: 1
    } as PlotData);
  } else {
    const x: number[] = [];
    const y: number[] = [];
    const color: number[] = [];
    const size: number[] = [];
    const points: unknown[] = [];
    model.genes.forEach((_, i) =>
      model.columns.forEach((__, j) => {
        const fraction = model.size?.[i][j] ?? null;
        const value = model.color[i][j];
        if (fraction === null || value === null) {
          return;
        }
        x.push(j);
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
    data.push(marksTrace(difference, theme));
  }
  if (model.columnDendrogram) {
    data.push(
      dendrogramTrace(model.columnDendrogram, 'columns', theme, 'x', 'y2')
    );
  }
  if (model.rowDendrogram) {
    data.push(dendrogramTrace(model.rowDendrogram, 'rows', theme, 'x2', 'y'));
  }

  const heatmapTop = hasColumnTree ? 0.8 : 1;
  const heatmapRight = hasRowTree ? 0.86 : 1;
  const axisFont = { color: theme.font, size: theme.fontSize };
  const columnLabels = model.columns.map((column, j) => {
    const label = escapeLabel(column.label);
    const n = difference
      ? differenceCounts(difference.columns[j])
      : `n=${column.nCells.toLocaleString('en-US')}` +
        (typeof column.nSamples === 'number'
          ? ` · ${column.nSamples} sample${column.nSamples === 1 ? '' : 's'}`
          : '');
    return column.masked
      ? `<span style="color:${theme.mutedFont}">${label}<br>${n} (masked)</span>`
      : `${label}<br>${n}`;
  });
  const rowLabels = model.genes.map(gene => {
    const tag = options.rowTags?.get(gene);
    return tag
      ? `${escapeLabel(gene)} <span style="color:${theme.mutedFont}">${escapeLabel(tag)}</span>`
      : escapeLabel(gene);
  });
  // Margins from the labels' measured size, not Plotly's automargin: that draws the plot
  // twice whenever labels change (each draw forcing layout of all of JupyterLab), so a
  // regroup took twice as long.
  const measure = options.measureText ?? estimateTextWidth;
  const labelLines = (labels: string[]) =>
    labels.map(label => plainLines(label));
  const widest = (lines: string[][]) =>
    Math.max(0, ...lines.flat().map(line => measure(line, axisFont.size)));
  const lineHeight = axisFont.size * 1.25;
  const columnLines = labelLines(columnLabels);
  const columnLineCount = Math.max(1, ...columnLines.map(l => l.length));
  const tickAngle = nCols > 6 ? -45 : 0;
  const below = tickAngle
    ? Math.SQRT1_2 * (widest(columnLines) + columnLineCount * lineHeight)
    : columnLineCount * lineHeight;
  // The dot plot's size key goes below the column labels, one size per line.
  const labelsBelow = TICK_PADDING + Math.ceil(below);
  const sizeKey = model.size !== null ? SIZE_KEY_FRACTIONS.length : 0;
  // Requested genes the matrix lacks, said on the figure itself: exported files and the
  // picture a notebook keeps carry them too.
  const caption = missingGenesCaption(model);
  const margin = {
    l: EDGE + TICK_PADDING + Math.ceil(widest(labelLines(rowLabels))),
    r: EDGE,
    t: options.title ? 40 : EDGE,
    b:
      EDGE +
      labelsBelow +
      (sizeKey ? TICK_PADDING + sizeKey * KEY_LINE : 0) +
      (caption ? KEY_LINE : 0)
  };
  const height = Math.max(
    260,
    margin.t + margin.b + 40 + nRows * rowHeight + (hasColumnTree ? 80 : 0)
  );
  const layout: PlotLayout = {
    title: options.title
      ? { text: escapeLabel(options.title), font: { size: 13 }, x: 0 }
      : undefined,
    paper_bgcolor: theme.background,
    plot_bgcolor: theme.background,
    font: { family: theme.fontFamily, color: theme.font, size: theme.fontSize },
    height,
    margin,
    showlegend: model.size !== null,
    // Paper coordinates span the plot area: this puts the key's top just below the labels
    legend: {
      orientation: 'v',
      x: 0,
      xanchor: 'left',
      y: -(labelsBelow + TICK_PADDING) / (height - margin.t - margin.b),
      yanchor: 'top'
    },
    hoverlabel: { bgcolor: theme.background, font: { color: theme.font } },
    // Margins already hold every label: Plotly's default for value axes ('hide past div')
    // would measure each label after every draw (a forced layout of the page per label).
    xaxis: {
      domain: [0, heatmapRight],
      ticklabeloverflow: 'allow',
      tickvals: cols,
      ticktext: columnLabels,
      tickangle: tickAngle,
      range: [-0.5, nCols - 0.5],
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
  if (caption) {
    const plotHeight = Math.max(1, height - margin.t - margin.b);
    layout.annotations = [
      {
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
      }
    ];
  }
  if (hasColumnTree) {
    layout.yaxis2 = {
      domain: [heatmapTop + 0.02, 1],
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
function marksTrace(difference: IDifferenceLayer, theme: IPlotTheme): PlotData {
  const x: number[] = [];
  const y: number[] = [];
  const text: string[] = [];
  difference.marks.forEach((row, i) =>
    row.forEach((mark, j) => {
      if (mark) {
        x.push(j);
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

/** The lines of a label as shown: `<br>` breaks lines, other tags and entities go. */
function plainLines(label: string): string[] {
  return label.split(/<br\s*\/?>/i).map(line =>
    line
      .replace(/<[^>]*>/g, '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&')
  );
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

/** Plotly renders a subset of HTML in labels: user-controlled text must not be markup. */
export function escapeLabel(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}
