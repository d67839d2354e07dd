import { decode as decodePng } from 'fast-png';

import { categoryColors, missingCategoryColor } from '../../palette';
import { IPlotTheme, LIGHT_PLOT_THEME } from '../../theme';
import { blendColor, DARK_BLEND_CORNERS, LIGHT_BLEND_CORNERS } from '../blend';
import {
  binnedRegions,
  blendEmbeddingFigure,
  dualScatterFigure,
  formatCorrelation,
  formatP,
  selectionToCells,
  statsTableRows
} from '../figure';
import { buildDualModel, clearDualCaches } from '../model';
import { dualInput, N } from './fixture';

const theme = LIGHT_PLOT_THEME;
const DARK: IPlotTheme = { ...LIGHT_PLOT_THEME, isDark: true };

beforeEach(() => clearDualCaches());

function rgbHex([r, g, b]: readonly number[]): string {
  return `#${[r, g, b].map(c => c.toString(16).padStart(2, '0')).join('')}`;
}

describe('dualScatterFigure', () => {
  it('draws one WebGL trace per facet and colour group, with a cell per point', () => {
    const input = dualInput();
    const model = buildDualModel(input, {
      facetBy: 'dataset',
      colorBy: 'cluster',
      nBoot: 0
    });
    const { figure, pointCells } = dualScatterFigure(model, { theme });
    expect(pointCells).toHaveLength(figure.data.length);
    const x = input.x as Float32Array;
    const colors = categoryColors(['0', '1', '2'], theme);
    let drawn = 0;
    figure.data.forEach((trace: any, t) => {
      expect(trace.type).toBe('scattergl');
      const cells = pointCells[t] as Int32Array;
      expect(trace.x).toHaveLength(cells.length);
      cells.forEach((cell, k) => expect(trace.x[k]).toBe(x[cell]));
      drawn += cells.length;
      const expected =
        trace.name === '(no cluster)'
          ? missingCategoryColor(theme)
          : colors.get(trace.name);
      expect(trace.marker.color).toBe(expected);
      expect(trace.selectedpoints).toBeUndefined();
    });
    expect(drawn).toBe(model.points.cells.length);
    // One legend entry per colour group, shared across facets
    const legend = figure.data.filter((t: any) => t.showlegend);
    expect(legend.map((t: any) => t.name)).toEqual([
      '0',
      '1',
      '2',
      '(no cluster)'
    ]);
    // Facet k draws on axes k + 1; axes after the first match the first
    const facetAxes = new Set(figure.data.map((t: any) => t.xaxis));
    expect([...facetAxes]).toEqual(['x', 'x2', 'x3']);
    expect((figure.layout as any).xaxis2.matches).toBe('x');
    expect((figure.layout as any).yaxis3.matches).toBe('y');
    expect(figure.layout.xaxis?.range).toEqual(model.axes.x.range);
  });

  it('titles each facet with its n, r and ρ', () => {
    const model = buildDualModel(dualInput(), {
      facetBy: 'dataset',
      nBoot: 0
    });
    const { figure } = dualScatterFigure(model, { theme });
    const titles = (figure.layout.annotations ?? []).map(a => a.text);
    const ctrl = model.facets[0].stats;
    expect(titles[0]).toBe(
      `<b>ctrl</b>  n=${ctrl.nCells} · r=${ctrl.pearsonR.toFixed(2)} · ρ=${ctrl.spearmanRho.toFixed(2)}`
    );
    expect(titles[2]).toContain('fewer than 3 cells');
    expect(figure.layout.title).toEqual(
      expect.objectContaining({ text: 'CD8A vs CD3E · X' })
    );
    // Drawn before correlating: n is the facet's cells, the rest says so
    const quick = buildDualModel(dualInput(), { statistics: false });
    const pending = dualScatterFigure(quick, { theme }).figure.layout
      .annotations?.[0].text;
    expect(pending).toBe(`<b>all cells</b>  n=${N} · not computed`);
    expect(statsTableRows(quick)[0].nCells).toBe('30');
  });

  it('hovers with the cell id, exact values (not jittered) and its groups', () => {
    const input = dualInput();
    const model = buildDualModel(input, { jitter: true, nBoot: 0 });
    const { figure, pointCells } = dualScatterFigure(model, { theme });
    const t = 0;
    const trace = figure.data[t] as any;
    const cells = pointCells[t] as Int32Array;
    const k = Array.from(cells).findIndex(
      cell => (input.x as Float32Array)[cell] === 0
    );
    const cell = cells[k];
    expect(trace.x[k]).not.toBe(0);
    expect(trace.text[k]).toBe(
      `<b>AAAC-${cell}</b><br>CD3E: 0<br>CD8A: ${Number(
        (input.y as Float32Array)[cell].toPrecision(4)
      )}<br>${['ctrl', 'stim'][input.dataset.codes[cell]]} · ${input.cluster.codes[cell]}`
    );
    expect(trace.hovertemplate).toBe('%{text}<extra></extra>');
  });

  it('fades unselected cells and maps selections back to cells', () => {
    const model = buildDualModel(dualInput(), {
      facetBy: 'cluster',
      nBoot: 0
    });
    const selected = new Uint8Array(N);
    [1, 4, 7, 30, 58].forEach(cell => (selected[cell] = 1));
    const drawn = dualScatterFigure(model, {
      theme,
      selected
    });
    const { figure, pointCells } = drawn;
    const events: [number, number][] = [];
    figure.data.forEach((trace: any, t) => {
      const cells = pointCells[t] as Int32Array;
      expect(trace.unselected.marker.opacity).toBeLessThan(0.2);
      for (const k of trace.selectedpoints) {
        expect(selected[cells[k]]).toBe(1);
        events.push([t, k]);
      }
    });
    expect(events).toHaveLength(5);
    expect(selectionToCells(pointCells, [], { points: events }, N)).toEqual(
      selected
    );
    // Out-of-range or non-cell points are ignored: nothing selected
    expect(
      selectionToCells(
        [null],
        [],
        {
          points: [
            [0, 0],
            [3, 1]
          ]
        },
        N
      )
    ).toBeNull();
  });

  it('selects the cells inside a box or lasso drawn on the density view, at their values', () => {
    // Jitter on: the bins count the values, so the shape tests the values too
    const input = dualInput();
    const model = buildDualModel(input, {
      facetBy: 'dataset',
      density: 'on',
      jitter: true,
      nBoot: 0
    });
    // Binned: no drawn coordinates are kept
    expect(model.points.x).toBeNull();
    expect(model.points.y).toBeNull();
    const { pointCells } = dualScatterFigure(model, { theme });
    const regions = binnedRegions(model, 'scatter');
    expect(regions.map(r => [r.xaxis, r.yaxis])).toEqual([
      ['x', 'y'],
      ['x2', 'y2'],
      ['x3', 'y3']
    ]);
    const { points } = model;
    const [x, y] = [input.x!, input.y!];
    const facet = model.facets[1];
    const inFacet = (test: (x: number, y: number) => boolean) =>
      Array.from(points.cells.subarray(facet.start, facet.end))
        .filter(cell => test(x[cell], y[cell]))
        .sort((a, b) => a - b);
    const cellsOf = (selected: Uint8Array | null) =>
      selected ? Array.from(selected.keys()).filter(c => selected[c]) : [];

    // A box on the second facet: its cells with 1 ≤ x ≤ 4 and 2 ≤ y ≤ 6
    const box = selectionToCells(
      pointCells,
      regions,
      { points: [], range: { x2: [1, 4], y2: [2, 6] } },
      N
    );
    const expectedBox = inFacet((x, y) => x >= 1 && x <= 4 && y >= 2 && y <= 6);
    expect(expectedBox.length).toBeGreaterThan(0);
    // Cells at exactly 0 are in a box from 0, however far jitter would have moved them
    const fromZero = selectionToCells(
      pointCells,
      regions,
      { points: [], range: { x2: [0, 0], y2: [-100, 100] } },
      N
    );
    const zeros = inFacet(x => x === 0);
    expect(zeros.length).toBeGreaterThan(0);
    expect(cellsOf(fromZero)).toEqual(zeros);
    expect(cellsOf(box)).toEqual(expectedBox);

    // A lasso triangle with corner (−1, −1): the cells below the line y = 9.3 − 1.5x
    // (no value lies on it)
    const lasso = selectionToCells(
      pointCells,
      regions,
      { points: [], lasso: { x2: [-1, 10.3 / 1.5, -1], y2: [-1, -1, 10.8] } },
      N
    );
    const expectedLasso = inFacet(
      (x, y) => x > -1 && y > -1 && y < 9.3 - 1.5 * x
    );
    expect(expectedLasso.length).toBeGreaterThan(0);
    expect(cellsOf(lasso)).toEqual(expectedLasso);
    // A shape on axes without cells selects nothing
    expect(
      selectionToCells(
        pointCells,
        regions,
        { points: [], range: { x9: [0, 9], y9: [0, 9] } },
        N
      )
    ).toBeNull();
  });

  it('draws a shared log-count density, with selected cells on top', () => {
    const model = buildDualModel(dualInput(), {
      facetBy: 'dataset',
      density: 'on',
      densityBins: 6,
      nBoot: 0
    });
    const selected = new Uint8Array(N);
    selected[2] = selected[3] = 1;
    const { figure, pointCells } = dualScatterFigure(model, {
      theme,
      selected
    });
    const heatmaps = figure.data.filter((t: any) => t.type === 'heatmap');
    expect(heatmaps).toHaveLength(3);
    const first = heatmaps[0] as any;
    // One scale for all facets, one colour bar
    const maxCount = Math.max(
      ...model.facets.map(f => Math.max(...Array.from(f.density!)))
    );
    expect(heatmaps.map((h: any) => h.zmax)).toEqual(
      new Array(3).fill(Math.log10(maxCount))
    );
    expect(heatmaps.map((h: any) => h.showscale)).toEqual([true, false, false]);
    const counts = model.facets[0].density as Uint32Array;
    expect(first.customdata[0][0]).toBe(counts[0]);
    expect(first.z[0][0]).toBe(counts[0] > 0 ? Math.log10(counts[0]) : null);
    expect(first.x0).toBeCloseTo(
      model.density.x!.start + model.density.x!.size / 2,
      12
    );
    expect(first.colorbar.title.text).toBe('cells per bin');
    const overlays = figure.data
      .map((t: any, i) => [t, pointCells[i]] as const)
      .filter(([t]) => t.name === 'selected');
    const overlayCells = overlays.flatMap(([, cells]) => Array.from(cells!));
    expect(overlayCells.sort()).toEqual([2, 3]);
    // At their values, where the bins count them
    const input = dualInput();
    for (const [trace, cells] of overlays) {
      expect(Array.from(trace.x)).toEqual(
        Array.from(cells!, cell => input.x![cell])
      );
    }
    expect(pointCells[figure.data.indexOf(first)]).toBeNull();
  });

  it('adds marginal histograms on their own strips', () => {
    const model = buildDualModel(dualInput(), {
      facetBy: 'dataset',
      marginals: true,
      nBoot: 0
    });
    const { figure, pointCells } = dualScatterFigure(model, { theme });
    const marginal = figure.data.filter((t: any) => t.type === 'scatter');
    expect(marginal.length).toBeGreaterThan(0);
    const top = marginal[0] as any;
    // Facet 1's x histogram: its x axis, the strip's y axis (after the 3 facet axes)
    expect(top.xaxis).toBe('x');
    expect(top.yaxis).toBe('y4');
    expect(top.y).toEqual(Array.from(model.facets[0].marginals!.x[0]));
    expect((figure.layout as any).yaxis4.domain[0]).toBeGreaterThan(
      (figure.layout as any).yaxis.domain[1]
    );
    expect(pointCells[figure.data.indexOf(top)]).toBeNull();
  });

  it('says why when there is nothing to draw', () => {
    const model = buildDualModel(dualInput({ x: null }), { nBoot: 0 });
    const { figure, pointCells } = dualScatterFigure(model, { theme });
    expect(figure.data).toEqual([]);
    expect(pointCells).toEqual([]);
    expect(figure.layout.annotations?.[0].text).toContain('CD3E');
  });
});

describe('blendEmbeddingFigure', () => {
  it('colours cells by blend code and keys the codes in a 2-D legend', () => {
    for (const [t, corners] of [
      [theme, LIGHT_BLEND_CORNERS],
      [DARK, DARK_BLEND_CORNERS]
    ] as const) {
      const model = buildDualModel(dualInput(), { nBoot: 0 });
      const { figure, pointCells } = blendEmbeddingFigure(model, { theme: t });
      const [points, key] = figure.data as any[];
      expect(points.type).toBe('scattergl');
      expect(pointCells[0]).toBe(model.blend!.cells);
      expect(pointCells[1]).toBeNull();
      expect(points.marker.color).toBe(model.blend!.code);
      expect(points.marker.cmin).toBe(-0.5);
      expect(points.marker.cmax).toBe(99.5);
      // The key: z = lx + 10·ly; its corners have the documented colours
      expect(key.type).toBe('heatmap');
      expect(key.xaxis).toBe('x2');
      const colorAt = (lx: number, ly: number) => {
        const code = key.z[ly][lx];
        // Stepped scale: the band of code c is [c/100, (c+1)/100]
        return key.colorscale[2 * code][1];
      };
      expect(colorAt(0, 0)).toBe(corners.base);
      expect(colorAt(9, 0)).toBe(corners.geneX);
      expect(colorAt(0, 9)).toBe(corners.geneY);
      expect(colorAt(9, 9)).toBe(corners.both);
      expect(key.customdata[0][0][0]).toBe(model.blend!.counts[0]);
    }
  });

  it('highlights the cells selected in the scatter', () => {
    const model = buildDualModel(dualInput(), { nBoot: 0 });
    const selected = new Uint8Array(N);
    selected[10] = selected[11] = 1;
    const { figure, pointCells } = blendEmbeddingFigure(model, {
      theme,
      selected
    });
    const points = figure.data[0] as any;
    expect(
      points.selectedpoints.map((k: number) => pointCells[0]![k]).sort()
    ).toEqual([10, 11]);
    expect(points.text[0]).toContain('(level ');
  });

  it('draws the raster as pixels of the top cell, selectable by lasso', () => {
    const input = dualInput();
    const model = buildDualModel(input, { nBoot: 0, density: 'on' });
    const blend = model.blend!;
    const raster = blend.raster!;
    // The image holds what is drawn: no per-cell coordinates or codes are kept
    expect([blend.x, blend.y, blend.code]).toEqual([null, null, null]);
    const selected = new Uint8Array(N);
    selected[10] = selected[11] = 1;
    const drawn = blendEmbeddingFigure(model, { theme, selected });
    const [image, overlay, key] = drawn.figure.data as any[];
    expect(image.type).toBe('image');
    expect(key.name).toBe('colour key');
    expect(drawn.pointCells[0]).toBeNull();
    expect(image.x0).toBeCloseTo(raster.x.start + raster.x.size / 2, 12);
    expect(image.y0).toBeCloseTo(raster.y.start + raster.y.size / 2, 12);
    expect([image.dx, image.dy]).toEqual([raster.x.size, raster.y.size]);
    // The picture, decoded by fast-png: each pixel in its top cell's blend colour
    const nx = raster.x.count;
    const picture = decodePng(
      Buffer.from(image.source.replace('data:image/png;base64,', ''), 'base64')
    );
    expect([picture.width, picture.height]).toEqual([nx, raster.y.count]);
    let filled = 0;
    raster.code.forEach((code, p) => {
      const [iy, ix] = [Math.floor(p / nx), p % nx];
      // Row 0 of the picture is the raster's row 0 (Plotly puts it at y0)
      const rgba = picture.palette![picture.data[iy * nx + ix]];
      if (raster.count[p] === 0) {
        expect(rgba[3]).toBe(0);
        expect(image.hovertext[iy][ix]).toBe('');
      } else {
        filled++;
        const [lx, ly] = [code % 10, Math.floor(code / 10)];
        expect(rgbHex(rgba)).toBe(blendColor(lx, ly, theme));
        expect(rgba[3]).toBe(255);
        expect(image.hovertext[iy][ix]).toBe(
          `<br>CD3E level ${lx}, CD8A level ${ly} (cell on top)`
        );
      }
      expect(image.customdata[iy][ix]).toBe(raster.count[p]);
    });
    expect(filled).toBeGreaterThan(0);
    // Drawn again (the kernel's correlations arrived): the same picture and hover arrays
    const again = blendEmbeddingFigure(model, { theme }).figure.data[0] as any;
    expect(again.source).toBe(image.source);
    expect(again.hovertext).toBe(image.hovertext);
    expect(again.customdata).toBe(image.customdata);
    const dark = blendEmbeddingFigure(model, { theme: DARK }).figure
      .data[0] as any;
    expect(dark.source).not.toBe(image.source);
    // Selected cells are drawn over the image, in their blend positions
    expect(overlay.name).toBe('selected');
    expect(Array.from(drawn.pointCells[1]!).sort()).toEqual([10, 11]);
    const [u, v] = input.embedding!.dims;
    expect(Array.from(overlay.x)).toEqual(
      Array.from(drawn.pointCells[1]!, cell => u[cell])
    );
    expect(Array.from(overlay.y)).toEqual(
      Array.from(drawn.pointCells[1]!, cell => v[cell])
    );
    // A box over the whole embedding selects every cell drawn on it
    // Points mode: no binned regions
    expect(
      binnedRegions(buildDualModel(dualInput(), { nBoot: 0 }), 'blend')
    ).toEqual([]);
    const all = selectionToCells(
      drawn.pointCells,
      binnedRegions(model, 'blend'),
      { points: [], range: { x: [-10, 10], y: [-10, 10] } },
      N
    )!;
    expect(Array.from(all.keys()).filter(c => all[c])).toEqual(
      Array.from(blend.cells).sort((a, b) => a - b)
    );
  });

  it('says why without an embedding', () => {
    const model = buildDualModel(dualInput({ embedding: null }), { nBoot: 0 });
    const { figure } = blendEmbeddingFigure(model, { theme });
    expect(figure.data).toEqual([]);
    expect(figure.layout.annotations?.[0].text).toContain('embedding');
  });
});

describe('statsTableRows', () => {
  it('formats the model statistics per dataset, per cluster and pooled', () => {
    const model = buildDualModel(dualInput(), { nBoot: 100, seed: 1 });
    const rows = statsTableRows(model);
    expect(rows.map(r => [r.section, r.group])).toEqual([
      ['dataset', 'ctrl'],
      ['dataset', 'stim'],
      ['dataset', '(no dataset)'],
      ['cluster', '0'],
      ['cluster', '1'],
      ['cluster', '2'],
      ['cluster', '(no cluster)'],
      ['all', 'all cells']
    ]);
    const ctrl = rows[0];
    const s = model.stats.dataset[0];
    expect(ctrl.stats).toBe(s);
    expect(ctrl.nCells).toBe(String(s.nCells));
    expect(ctrl.pearson).toBe(
      `${s.pearsonR.toFixed(2)} [${s.pearsonCiLow.toFixed(2)}, ${s.pearsonCiHigh.toFixed(2)}]`
    );
    expect(ctrl.spearman).toMatch(/^-?\d\.\d\d \[-?\d\.\d\d, -?\d\.\d\d\]$/);
    expect(ctrl.doublePositive).toBe(
      `${(100 * s.fracDoublePositive).toFixed(1)}%`
    );
    expect(rows[2].pearson).toBe('—');
    expect(rows[2].note).toBe('fewer than 3 cells');
  });

  it('shows used of all cells with detected-only, and no share on negative data', () => {
    const input = dualInput();
    (input.y as Float32Array)[1] = -0.5;
    const model = buildDualModel(input, { detectedOnly: true, nBoot: 0 });
    const row = statsTableRows(model)[0];
    expect(row.nCells).toBe(
      `${model.stats.dataset[0].nCells} of ${model.stats.dataset[0].nGroupCells}`
    );
    expect(row.doublePositive).toBe('—');
    expect(row.spearman).toMatch(/^-?\d\.\d\d$/); // no bootstrap, no interval
  });

  it('formats correlations and p-values', () => {
    expect(formatCorrelation(0.4213, 0.3712, 0.4711)).toBe('0.42 [0.37, 0.47]');
    expect(formatCorrelation(-0.001, -0.1, 0.1)).toBe('0.00 [-0.10, 0.10]');
    expect(formatCorrelation(NaN, NaN, NaN)).toBe('—');
    expect(formatP(0.021280260007523342)).toBe('0.021');
    expect(formatP(3.14e-12)).toBe('3.1e-12');
    expect(formatP(0)).toBe('< 1e-300');
    expect(formatP(NaN)).toBe('—');
  });
});
