import { estimateTextWidth } from '../../labels';
import { columnAxis, LINE_HEIGHT } from '../columnAxis';

const FONT = 12;

function columns(nClusters: number, datasets: string[] | null) {
  const out: { dataset: string | null; cluster: string | null }[] = [];
  for (let k = 0; k < nClusters; k++) {
    for (const dataset of datasets ?? [null]) {
      out.push({ dataset, cluster: `cluster ${k}` });
    }
  }
  return out;
}

/**
 * Whether the labels, as drawn at their angle on a plot area of `width` pixels, keep
 * clear of each other: upright ones fit their space; rotated ones are parallel strips one
 * stack of lines thick, so their perpendicular spacing must hold that stack.
 */
function clear(
  axis: ReturnType<typeof columnAxis>,
  spans: number[],
  labels: string[],
  width: number
): boolean {
  const pitch = width / (axis.range[1] - axis.range[0]);
  const stack = LINE_HEIGHT * FONT;
  return spans.every((span, i) => {
    const space = span * pitch;
    if (axis.tickAngle === 0) {
      return estimateTextWidth(labels[i], FONT) <= space;
    }
    const perpendicular = axis.tickAngle === -45 ? space * Math.SQRT1_2 : space;
    return perpendicular >= stack;
  });
}

describe('columnAxis', () => {
  it('splits dataset × cluster columns into cluster groups, the gaps at their boundaries', () => {
    const cols = columns(3, ['ctrl', 'stim']);
    const axis = columnAxis(cols, {
      labels: cols.map(c => `${c.dataset} · ${c.cluster}`),
      split: true,
      plotAreaWidth: 800,
      fontSize: FONT,
      measure: estimateTextWidth
    });
    // Evenly spaced (one heatmap brick each); the gaps are drawn over the boundaries
    expect(axis.positions).toEqual([0, 1, 2, 3, 4, 5]);
    expect(axis.groupBoundaries).toEqual([1.5, 3.5]);
    expect(axis.range).toEqual([-0.5, 5.5]);
    expect(axis.ticktext).toEqual(['cluster 0', 'cluster 1', 'cluster 2']);
    expect(axis.tickvals).toEqual([0.5, 2.5, 4.5]);
    expect(axis.tickAngle).toBe(0);
  });

  it('does not split columns whose clusters come back (reordered by clustering)', () => {
    const cols = [
      { dataset: 'a', cluster: '0' },
      { dataset: 'a', cluster: '1' },
      { dataset: 'b', cluster: '0' }
    ];
    const axis = columnAxis(cols, {
      labels: ['a · 0', 'a · 1', 'b · 0'],
      split: true,
      plotAreaWidth: 800,
      fontSize: FONT,
      measure: estimateTextWidth
    });
    expect(axis.groups).toBeNull();
    expect(axis.positions).toEqual([0, 1, 2]);
    expect(axis.ticktext).toEqual(['a · 0', 'a · 1', 'b · 0']);
  });

  it('keeps labels clear of each other for 1 to 100 columns at any width', () => {
    for (const width of [300, 700, 1400]) {
      for (let n = 1; n <= 100; n += n < 10 ? 1 : 9) {
        for (const split of [false, true]) {
          const cols = split
            ? columns(Math.ceil(n / 2), ['ctrl', 'stim'])
            : columns(n, null);
          const labels = cols.map(c => `${c.cluster} label`);
          const axis = columnAxis(cols, {
            labels,
            split,
            plotAreaWidth: width,
            fontSize: FONT,
            measure: estimateTextWidth
          });
          const spans = axis.groups
            ? axis.groups.map(g => g.last - g.first + 1)
            : cols.map(() => 1);
          const shown = axis.groups ? axis.groups.map(g => g.cluster) : labels;
          // At the width the axis asks for (the view scrolls when it is wider)
          const drawnWidth = Math.max(width, axis.minPlotAreaWidth);
          expect({
            width,
            n,
            split,
            clear: clear(axis, spans, shown, drawnWidth)
          }).toEqual({ width, n, split, clear: true });
        }
      }
    }
  });

  it('takes the room rotated labels need below the axis', () => {
    const cols = columns(40, null);
    const labels = cols.map(c => `${c.cluster} with a long name`);
    const axis = columnAxis(cols, {
      labels,
      split: false,
      plotAreaWidth: 800,
      fontSize: FONT,
      measure: estimateTextWidth
    });
    expect(axis.tickAngle).toBe(-90);
    const widest = Math.max(...labels.map(l => estimateTextWidth(l, FONT)));
    expect(axis.labelsBelow).toBe(Math.ceil(widest));
  });
});
