/**
 * Where the heatmap's columns sit and how their labels are drawn, so that labels never
 * overlap whatever the number of columns (issue 18). Pure: measured text in, geometry out.
 *
 * Dataset × cluster columns are split the way ComplexHeatmap and scanpy draw them: the
 * datasets of a cluster side by side, a gap between clusters, the cluster's name once
 * under its group (the datasets are told by the annotation bar above). Other groupings
 * label each column.
 *
 * Labels turn only as far as needed: upright when each fits its space, at −45° when the
 * labels' perpendicular spacing (space · sin 45°) holds their lines, else at −90°, where the
 * horizontal spacing must hold the lines; when even that is too tight the figure asks to
 * be wider (`minPlotAreaWidth`) and the view scrolls.
 */
import { escapeLabel, plainLines, TextMeasure } from '../labels';

/** Room kept around a label, in pixels. */
const LABEL_PADDING = 4;
/** Line height over font size. */
export const LINE_HEIGHT = 1.25;

export interface IAxisColumn {
  dataset: string | null;
  cluster: string | null;
}

export interface IColumnGroup {
  cluster: string;
  /** First and last model column of the group. */
  first: number;
  last: number;
  /** x of the group's centre. */
  centre: number;
}

export interface IColumnAxis {
  /** x of each model column (its centre): 0, 1, 2, … */
  positions: number[];
  /**
   * x of the boundaries between two cluster groups. The figure draws the gaps over them,
   * not as empty columns: evenly spaced columns let Plotly paint one pixel per cell.
   */
  groupBoundaries: number[];
  range: [number, number];
  /** Cluster groups of split columns; null when columns are not split. */
  groups: IColumnGroup[] | null;
  tickvals: number[];
  ticktext: string[];
  tickAngle: 0 | -45 | -90;
  /** Pixels the labels take below the axis. */
  labelsBelow: number;
  /** Width in pixels the plot area needs for the labels not to overlap (≥ the width given). */
  minPlotAreaWidth: number;
}

export interface IColumnAxisOptions {
  /** Label of each model column (HTML as Plotly reads it: `<br>` breaks lines). */
  labels: readonly string[];
  /** Split dataset × cluster columns into cluster groups. */
  split: boolean;
  /** Width of the plot area in pixels, as the view has it. */
  plotAreaWidth: number;
  fontSize: number;
  measure: TextMeasure;
}

export function columnAxis(
  columns: readonly IAxisColumn[],
  options: IColumnAxisOptions
): IColumnAxis {
  const groups = options.split ? clusterGroups(columns) : null;
  const positions = columns.map((_, j) => j);
  const groupBoundaries = groups ? groups.slice(1).map(g => g.first - 0.5) : [];
  if (groups) {
    for (const group of groups) {
      group.centre = (positions[group.first] + positions[group.last]) / 2;
    }
  }
  const range: [number, number] = [-0.5, columns.length - 0.5];

  const ticks = groups
    ? {
        tickvals: groups.map(g => g.centre),
        ticktext: groups.map(g => escapeLabel(g.cluster)),
        spans: groups.map(g => g.last - g.first + 1)
      }
    : {
        tickvals: positions,
        ticktext: [...options.labels],
        spans: positions.map(() => 1)
      };

  // The tightest space a label has, in columns, and the size of the largest label
  const lines = ticks.ticktext.map(plainLines);
  const lineHeight = options.fontSize * LINE_HEIGHT;
  const nLines = Math.max(1, ...lines.map(l => l.length));
  const widest = Math.max(
    0,
    ...lines.flat().map(line => options.measure(line, options.fontSize))
  );
  const units = Math.max(1, range[1] - range[0]);
  const pitch = options.plotAreaWidth / units;
  const upright = ticks.ticktext.every(
    (_, i) =>
      Math.max(
        0,
        ...lines[i].map(line => options.measure(line, options.fontSize))
      ) +
        LABEL_PADDING <=
      ticks.spans[i] * pitch
  );
  const tightest = Math.min(...ticks.spans);
  const stack = nLines * lineHeight;
  let tickAngle: 0 | -45 | -90;
  let minPlotAreaWidth = options.plotAreaWidth;
  if (upright) {
    tickAngle = 0;
  } else if (tightest * pitch * Math.SQRT1_2 >= stack + LABEL_PADDING / 2) {
    tickAngle = -45;
  } else {
    tickAngle = -90;
    const needed = stack + LABEL_PADDING;
    if (tightest * pitch < needed) {
      minPlotAreaWidth = Math.ceil((needed / tightest) * units);
    }
  }
  const labelsBelow =
    tickAngle === 0
      ? stack
      : tickAngle === -45
        ? Math.SQRT1_2 * (widest + stack)
        : widest;
  return {
    positions,
    groupBoundaries,
    range,
    groups,
    tickvals: ticks.tickvals,
    ticktext: ticks.ticktext,
    tickAngle,
    labelsBelow: Math.ceil(labelsBelow),
    minPlotAreaWidth
  };
}

/**
 * Runs of consecutive columns of one cluster; null when a cluster comes back after
 * another (e.g. columns reordered by clustering), where a split would mislead.
 */
function clusterGroups(columns: readonly IAxisColumn[]): IColumnGroup[] | null {
  const groups: IColumnGroup[] = [];
  const seen = new Set<string>();
  columns.forEach((column, j) => {
    const cluster = column.cluster ?? '';
    const last = groups[groups.length - 1];
    if (last && last.cluster === cluster) {
      last.last = j;
      return;
    }
    groups.push({ cluster, first: j, last: j, centre: j });
  });
  for (const group of groups) {
    if (seen.has(group.cluster)) {
      return null;
    }
    seen.add(group.cluster);
  }
  return groups;
}
