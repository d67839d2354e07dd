import { LIGHT_PLOT_THEME } from '../../theme';
import { categoryColor } from '../../palette';
import {
  dotDiameter,
  escapeLabel,
  heatmapFigure,
  rectangleShapes
} from '../figure';
import type { IFigure } from '../../plotly';
import { markerRowTags } from '../markers';
import { buildHeatmapModel, IHeatmapInput } from '../model';

const dataset = Int32Array.from([0, 0, 0, 1, 1, 1]);
const cluster = Int32Array.from([0, 0, 1, 0, 1, 1]);

function input(): IHeatmapInput {
  return {
    genes: ['G<1>', 'B', 'C'],
    values: new Map([
      ['G<1>', Float32Array.from([1, 2, 0, 4, 0, 1])],
      ['B', Float32Array.from([0, 0, 3, 0, 5, 2])],
      ['C', Float32Array.from([2, 1, 1, 0, 0, 3])]
    ]),
    dataset: { codes: dataset, categories: ['ctrl', 'stim'] },
    cluster: { codes: cluster, categories: ['0', '1'] },
    matrix: 'X'
  };
}

interface IRect {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  color: string;
}

/** The filled rectangles a figure's path shapes on `yref` draw, in drawing order. */
function filledRects(figure: IFigure, yref: string): IRect[] {
  return (figure.layout.shapes ?? [])
    .filter((s: any) => s.type === 'path' && s.fillcolor && s.yref === yref)
    .flatMap((s: any) =>
      [...s.path.matchAll(/M([^,]+),([^H]+)H([^V]+)V([^H]+)H[^Z]+Z/g)].map(
        m => ({
          x0: Number(m[1]),
          y0: Number(m[2]),
          x1: Number(m[3]),
          y1: Number(m[4]),
          color: s.fillcolor as string
        })
      )
    );
}

describe('rectangleShapes', () => {
  it('draws rectangles as one filled path per colour, in first-seen order', () => {
    const rects = [
      { x0: -0.5, x1: 0.5, y0: 0.9, y1: 0.95, color: 'red' },
      { x0: 0.5, x1: 1.5, y0: 0.9, y1: 0.95, color: 'blue' },
      { x0: 1.5, x1: 2.5, y0: 0.9, y1: 0.95, color: 'red' }
    ];
    const shapes = rectangleShapes(rects, 'x', 'paper') as any[];
    expect(shapes.map(s => s.fillcolor)).toEqual(['red', 'blue']);
    expect(shapes[0].path).toBe(
      'M-0.5,0.9H0.5V0.95H-0.5ZM1.5,0.9H2.5V0.95H1.5Z'
    );
    expect(shapes.every(s => s.line.width === 0 && s.xref === 'x')).toBe(true);
    const figure = { data: [], layout: { shapes } } as IFigure;
    const byX = (a: IRect, b: IRect) => a.x0 - b.x0;
    expect(filledRects(figure, 'paper').sort(byX)).toEqual(rects);
  });
});

describe('heatmapFigure', () => {
  it('draws the model values with the numbers behind each cell in customdata', () => {
    const model = buildHeatmapModel(input(), {
      groupBy: 'dataset_cluster',
      scaling: 'zscore',
      minCells: 1
    });
    const figure = heatmapFigure(model, { theme: LIGHT_PLOT_THEME });
    const trace = figure.data.find(t => t.name === 'expression') as any;
    expect(trace.type).toBe('heatmap');
    // Evenly spaced bricks without Plotly's gaps (so it paints one pixel per cell)
    expect(trace.z).toEqual(model.color);
    expect(trace.x).toEqual([0, 1, 2, 3]);
    expect(trace.xgap).toBeUndefined();
    expect(trace.ygap).toBeUndefined();
    expect(trace.zmin).toBe(model.colorScale.min);
    expect(trace.zmax).toBe(model.colorScale.max);
    const cell = trace.customdata[0][1];
    // Names are escaped in hover text too (Plotly renders it as HTML).
    expect(cell).toEqual([
      escapeLabel(model.genes[0]),
      escapeLabel(model.columns[1].label),
      model.columns[1].nCells,
      model.mean[0][1],
      model.fraction[0][1],
      model.color[0][1]
    ]);
    // Diverging blue → red scale for z-scores, first row at the top.
    expect(trace.colorscale[0][1]).toBe('#2166ac');
    expect(trace.colorscale[4][1]).toBe('#b2182b');
    expect(figure.layout.yaxis?.range).toEqual([
      model.genes.length - 0.5,
      -0.5
    ]);
    // Labels are escaped (Plotly renders HTML in them); each cluster is named once, under
    // the middle of its group, and n cells are bars above the columns.
    expect(figure.layout.yaxis?.ticktext).toContain('G&lt;1&gt;');
    expect(figure.layout.xaxis?.ticktext).toEqual(['0', '1']);
    expect(figure.layout.xaxis?.tickvals).toEqual([0.5, 2.5]);
    const cells = figure.data.find(t => t.name === 'n cells') as any;
    expect(cells.x).toEqual([0, 1, 2, 3]);
    expect(cells.customdata.map((c: any[]) => c[1])).toEqual(
      model.columns.map(c => c.nCells)
    );
  });

  it('separates cells by background lines and cluster groups by wider gaps, as two paths', () => {
    const model = buildHeatmapModel(input(), {
      groupBy: 'dataset_cluster',
      minCells: 1
    });
    const figure = heatmapFigure(model, { theme: LIGHT_PLOT_THEME });
    // (the bars above the cells are filled paths; these are lines)
    const paths = (figure.layout.shapes ?? []).filter(
      (s: any) => s.type === 'path' && !s.fillcolor
    ) as any[];
    expect(paths).toHaveLength(2);
    const [grid, gaps] = paths;
    // Between the 4 columns and between the rows, over the cells, in the background colour
    expect(grid.yref).toBe('y');
    expect(grid.layer).toBe('above');
    expect(grid.line.color).toBe(LIGHT_PLOT_THEME.background);
    const nRows = model.genes.length;
    expect(grid.path.match(/V/g)).toHaveLength(3);
    expect(grid.path.match(/H/g)).toHaveLength(nRows - 1);
    expect(grid.path).toContain(`M0.5,-0.5V${nRows - 0.5}`);
    // One gap between the two cluster groups, through the cells and the bars above them
    expect(gaps.yref).toBe('paper');
    expect(gaps.path).toMatch(/^M1\.5,0V0\.\d+$/);
    expect(gaps.line.width).toBeGreaterThan(grid.line.width);
  });

  it('keeps the same margins whatever the scaling or grouping, the colour bar in the right one', () => {
    // Plotly draws the colour bar and the legends twice when the margins change between draws
    const margins = (
      ['cluster', 'dataset', 'dataset_cluster'] as const
    ).flatMap(groupBy =>
      (['zscore', 'none', 'minmax'] as const).map(scaling => {
        const model = buildHeatmapModel(input(), {
          groupBy,
          scaling,
          minCells: 1
        });
        const figure = heatmapFigure(model, {
          theme: LIGHT_PLOT_THEME,
          datasetCategories: ['ctrl', 'stim'],
          clusterCategories: ['0', '1']
        });
        const trace = figure.data.find(t => t.name === 'expression') as any;
        expect(trace.colorbar).toMatchObject({ x: 1, xanchor: 'left' });
        const { l, r, t } = figure.layout.margin as any;
        return { l, r, t };
      })
    );
    expect(new Set(margins.map(m => JSON.stringify(m))).size).toBe(1);
    // Room for the bar, its labels and title beyond the plot area
    expect(margins[0].r).toBeGreaterThan(80);
  });

  it('colours the datasets and clusters in annotation bars, with a datasets legend', () => {
    const model = buildHeatmapModel(input(), {
      groupBy: 'dataset_cluster',
      minCells: 1
    });
    const figure = heatmapFigure(model, {
      theme: LIGHT_PLOT_THEME,
      datasetCategories: ['ctrl', 'stim'],
      clusterCategories: ['0', '1']
    });
    const bars = filledRects(figure, 'paper');
    // One rectangle per column in each bar, at the column's position; one shape per colour
    expect(bars).toHaveLength(2 * model.columns.length);
    expect(
      (figure.layout.shapes ?? []).filter((s: any) => s.yref === 'paper')
    ).toHaveLength(2 + 2 + 1);
    const colours = (y0: number) =>
      bars
        .filter(b => b.y0 === y0)
        .sort((a, b) => a.x0 - b.x0)
        .map(b => b.color);
    const levels = [...new Set(bars.map(b => b.y0))].sort();
    expect(colours(levels[0])).toEqual([
      categoryColor(0),
      categoryColor(0),
      categoryColor(1),
      categoryColor(1)
    ]);
    expect(colours(levels[1])).toEqual([
      categoryColor(0),
      categoryColor(1),
      categoryColor(0),
      categoryColor(1)
    ]);
    const legend = figure.data.filter((t: any) => t.legend === 'legend2');
    expect(legend.map(t => t.name)).toEqual(['ctrl', 'stim']);
    expect((figure.layout as any).legend2.orientation).toBe('h');
    // Above the cells, below the plot's top: the bars sit between the two
    const heatTop = (figure.layout.yaxis!.domain as number[])[1];
    expect(levels[0]).toBeGreaterThan(heatTop);
    expect((figure.layout as any).yaxis3.domain[1]).toBeLessThanOrEqual(1);
  });

  it('colours each marker row by its cluster in markers mode', () => {
    const model = buildHeatmapModel(input(), { groupBy: 'cluster' });
    const figure = heatmapFigure(model, {
      theme: LIGHT_PLOT_THEME,
      rowClusters: new Map([
        ['G<1>', '1'],
        ['B', '0']
      ]),
      clusterCategories: ['0', '1']
    });
    const strips = filledRects(figure, 'y').sort((a, b) => a.y0 - b.y0);
    expect(strips.map(s => [s.y0 + 0.45, s.color])).toEqual([
      [0, categoryColor(1)],
      [1, categoryColor(0)]
    ]);
    // Left of the first column, inside the axis range
    expect((figure.layout.xaxis!.range as number[])[0]).toBeLessThan(
      strips[0].x0
    );
  });

  it('masks small columns in the missing colour and says so in their n-cells hover', () => {
    const model = buildHeatmapModel(input(), {
      groupBy: 'dataset_cluster',
      scaling: 'none',
      minCells: 2
    });
    const masked = model.columns.findIndex(c => c.masked);
    expect(masked).toBeGreaterThanOrEqual(0);
    const figure = heatmapFigure(model, { theme: LIGHT_PLOT_THEME });
    const missing = figure.data.find(t => t.name === 'masked') as any;
    expect(missing.z[0][masked]).toBe(1);
    const cells = figure.data.find(t => t.name === 'n cells') as any;
    expect(cells.customdata[masked][3]).toContain('masked');
    const bars = filledRects(figure, 'y3');
    expect(bars).toHaveLength(model.columns.length);
    const bar = bars.find(b => b.y1 === model.columns[masked].nCells);
    expect(bar?.color).toBe(LIGHT_PLOT_THEME.missing);
  });

  it('draws dots sized by the fraction expressing in dot mode', () => {
    const model = buildHeatmapModel(input(), {
      groupBy: 'cluster',
      value: 'dot',
      scaling: 'none',
      minCells: 1
    });
    const figure = heatmapFigure(model, { theme: LIGHT_PLOT_THEME });
    const dots = figure.data.find(t => t.name === 'expression') as any;
    expect(dots.type).toBe('scatter');
    const k = dots.x.findIndex(
      (x: number, i: number) => x === 1 && dots.y[i] === 1
    );
    expect(dots.marker.size[k]).toBeCloseTo(
      dotDiameter(model.fraction[1][1] as number),
      12
    );
    expect(figure.layout.showlegend).toBe(true);
    // The size key sits below the column labels, inside the bottom margin
    const layout = figure.layout as any;
    const plotHeight = layout.height - layout.margin.t - layout.margin.b;
    const keyTop = -layout.legend.y * plotHeight;
    const size = LIGHT_PLOT_THEME.fontSize;
    expect(keyTop).toBeCloseTo(8 + Math.ceil(size * 1.25) + 8, 6);
    expect(layout.margin.b).toBeGreaterThanOrEqual(keyTop + 4 * 22);
  });

  it('adds dendrograms on their own axes when genes and columns are clustered', () => {
    const model = buildHeatmapModel(input(), {
      groupBy: 'dataset_cluster',
      minCells: 1,
      clusterGenes: true,
      clusterColumns: true
    });
    const figure = heatmapFigure(model, { theme: LIGHT_PLOT_THEME });
    const rows = figure.data.find(t => t.name === 'rows dendrogram') as any;
    const columns = figure.data.find(
      t => t.name === 'columns dendrogram'
    ) as any;
    expect(rows.xaxis).toBe('x2');
    expect(columns.yaxis).toBe('y2');
    // Two links join three genes: 2 × (4 points + a null separator).
    expect(rows.y).toHaveLength(10);
    expect(figure.layout.xaxis2).toBeDefined();
    expect(figure.layout.yaxis2).toBeDefined();
  });
});

describe('heatmap margins', () => {
  it('fit the measured labels, without Plotly redrawing for them', () => {
    const model = buildHeatmapModel(input(), {
      groupBy: 'dataset_cluster',
      minCells: 1
    });
    const measured: string[] = [];
    const measureText = (text: string, size: number) => {
      measured.push(text);
      return text.length * size;
    };
    const { layout } = heatmapFigure(model, {
      theme: LIGHT_PLOT_THEME,
      measureText
    }) as any;
    expect(layout.xaxis.automargin).toBe(false);
    expect(layout.yaxis.automargin).toBe(false);
    // Rows: "G<1>" is measured as shown (4 characters), the widest
    const size = LIGHT_PLOT_THEME.fontSize;
    expect(measured).toContain('G<1>');
    expect(layout.margin.l).toBe(10 + 8 + 4 * size);
    // Columns: one cluster name per group, upright when it fits: its height counts
    expect(layout.xaxis.tickangle).toBe(0);
    expect(layout.margin.b).toBe(10 + 8 + Math.ceil(size * 1.25));

    // Long labels over many columns turn: the margin holds the rotated labels
    const names = Array.from({ length: 12 }, (_, k) => `cluster number ${k}`);
    const many = buildHeatmapModel(
      {
        ...input(),
        cluster: {
          codes: Int32Array.from([0, 1, 2, 3, 4, 11]),
          categories: names
        }
      },
      { groupBy: 'cluster', minCells: 0 }
    );
    const rotated = heatmapFigure(many, {
      theme: LIGHT_PLOT_THEME,
      measureText,
      width: 900
    }).layout as any;
    expect(rotated.xaxis.ticktext).toHaveLength(6);
    expect(rotated.xaxis.tickangle).toBe(-45);
    const widestColumn = Math.max(...names.map(n => n.length * size));
    expect(rotated.margin.b).toBe(
      10 + 8 + Math.ceil(Math.SQRT1_2 * (widestColumn + size * 1.25))
    );
  });
});

describe('markerRowTags', () => {
  it('names the clusters of each marker and stars those shared by datasets', () => {
    const row = (gene: string, cluster: string, shared: string[]) => ({
      gene,
      cluster,
      rank: 1,
      score: 1,
      logFoldChange: 1,
      pvalAdj: 0,
      sharedDatasets: shared,
      source: 'computed' as const
    });
    const tags = markerRowTags([
      row('A', '0', ['ctrl', 'stim']),
      row('B', '0', ['ctrl']),
      row('A', '3', [])
    ]);
    expect(tags.get('A')).toBe('(0, 3) ★');
    expect(tags.get('B')).toBe('(0)');
  });
});

describe('escapeLabel', () => {
  it('keeps user text from becoming markup', () => {
    expect(escapeLabel('<b>x</b> & y')).toBe('&lt;b&gt;x&lt;/b&gt; &amp; y');
  });
});

describe('heatmap of many genes', () => {
  it('draws 500 genes over 2,000 cells with clustering', () => {
    const nCells = 2000;
    const genes = Array.from({ length: 500 }, (_, g) => `G${g}`);
    const values = new Map(
      genes.map((gene, g) => [
        gene,
        Float32Array.from({ length: nCells }, (_, i) =>
          (i * (g + 3)) % 7 === 0 ? ((i + g) % 5) / 2 : 0
        )
      ])
    );
    const model = buildHeatmapModel(
      {
        genes,
        values,
        dataset: {
          codes: Int32Array.from({ length: nCells }, (_, i) => i % 2),
          categories: ['ctrl', 'stim']
        },
        cluster: {
          codes: Int32Array.from({ length: nCells }, (_, i) => i % 8),
          categories: ['0', '1', '2', '3', '4', '5', '6', '7']
        },
        matrix: 'X'
      },
      { groupBy: 'dataset_cluster', clusterGenes: true, clusterColumns: true }
    );
    expect(model.genes).toHaveLength(500);
    expect(model.columns).toHaveLength(16);
    const figure = heatmapFigure(model, { theme: LIGHT_PLOT_THEME });
    const trace = figure.data.find(t => t.name === 'expression') as any;
    expect(trace.z).toHaveLength(500);
    expect(figure.layout.height).toBeGreaterThan(500 * 20);
  });
});
