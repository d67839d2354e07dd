/**
 * What a new user trips over in the dual view (issue 19): pooled r read as the r within
 * groups, vanishing dots, a blend key of raw maxima, an embedding without cluster names,
 * small clusters' wide intervals without a word.
 */
import { IPlotTheme, LIGHT_PLOT_THEME, markerOutline } from '../../theme';
import {
  blendEmbeddingFigure,
  dualScatterFigure,
  facetTitle,
  FEW_CELLS,
  keyValue,
  statsTableRows
} from '../figure';
import {
  buildDualModel,
  clearDualCaches,
  groupingDrivesPooled,
  IDualInput,
  POOLED_GAP,
  valueKind
} from '../model';
import { dualInput, N } from './fixture';

const theme = LIGHT_PLOT_THEME;
const DARK: IPlotTheme = { ...LIGHT_PLOT_THEME, isDark: true };

beforeEach(() => clearDualCaches());

/**
 * Two datasets far apart, each with a weak correlation inside: pooled r is high only
 * because stim is higher in both genes (Simpson's paradox).
 */
function simpsonInput(): IDualInput {
  const n = 200;
  const dataset = Int32Array.from({ length: n }, (_, i) => (i < n / 2 ? 0 : 1));
  const cluster = Int32Array.from({ length: n }, (_, i) => i % 2);
  const noise = (i: number, k: number) => Math.sin(i * 12.9898 + k * 78.233);
  const x = Float32Array.from(
    { length: n },
    (_, i) => 1 + 4 * dataset[i] + noise(i, 1)
  );
  const y = Float32Array.from(
    { length: n },
    (_, i) => 1 + 4 * dataset[i] + 0.3 * noise(i, 1) + noise(i, 2)
  );
  return {
    x,
    y,
    geneX: 'ISG15',
    geneY: 'IFI6',
    dataset: { codes: dataset, categories: ['ctrl', 'stim'] },
    cluster: { codes: cluster, categories: ['a', 'b'] },
    matrix: 'X'
  };
}

describe('pooled r against the r within groups', () => {
  it('says grouping drives the pooled r only when it lies beyond every group r', () => {
    expect(groupingDrivesPooled(0.8, [0.26, 0.31])).toBe(true);
    expect(groupingDrivesPooled(-0.5, [0.2, 0.3])).toBe(true);
    // Within the groups' range, or just past it: no
    expect(groupingDrivesPooled(0.3, [0.26, 0.31])).toBe(false);
    expect(groupingDrivesPooled(0.31 + POOLED_GAP / 2, [0.26, 0.31])).toBe(
      false
    );
    // Fewer than two defined groups, or no pooled r: nothing to compare
    expect(groupingDrivesPooled(0.8, [0.26])).toBe(false);
    expect(groupingDrivesPooled(0.8, [0.26, NaN])).toBe(false);
    expect(groupingDrivesPooled(NaN, [0.26, 0.31])).toBe(false);
  });

  it('leads the one-panel title with per-dataset r, labels the pooled r and names the paradox', () => {
    const model = buildDualModel(simpsonInput(), { nBoot: 0 });
    const [ctrl, stim] = model.stats.dataset;
    const pooled = model.facets[0].stats;
    expect(pooled.pearsonR).toBeGreaterThan(ctrl.pearsonR + POOLED_GAP);
    expect(pooled.pearsonR).toBeGreaterThan(stim.pearsonR + POOLED_GAP);
    const { figure } = dualScatterFigure(model, { theme });
    const title = String(figure.layout.annotations?.[0].text);
    expect(title).toBe(facetTitle(model.facets[0], model));
    const perGroup = `r: ctrl ${ctrl.pearsonR.toFixed(2)} · stim ${stim.pearsonR.toFixed(2)}`;
    const pooledText = `pooled r=${pooled.pearsonR.toFixed(2)}`;
    expect(title).toContain(perGroup);
    expect(title).toContain(pooledText);
    // The per-group numbers come first
    expect(title.indexOf(perGroup)).toBeLessThan(title.indexOf(pooledText));
    expect(title).toContain("Simpson's paradox");
    expect(title).not.toMatch(/· r=/);
    const note = model.notes.find(n => n.kind === 'pooled_by_grouping');
    expect(note?.message).toContain(pooled.pearsonR.toFixed(2));
    expect(note?.message).toContain("Simpson's paradox");
    expect(note?.items).toEqual(['ctrl', 'stim']);
  });

  it('says nothing of a paradox where the pooled r agrees with the groups', () => {
    const input = simpsonInput();
    // The same datasets, without the shift between them
    const codes = input.dataset.codes;
    const x = (input.x as Float32Array).map((v, i) => v - 4 * codes[i]);
    const y = (input.y as Float32Array).map((v, i) => v - 4 * codes[i]);
    const model = buildDualModel({ ...input, x, y }, { nBoot: 0 });
    const title = facetTitle(model.facets[0], model);
    expect(title).toContain('r: ctrl');
    expect(title).toContain('pooled r=');
    expect(title).not.toContain('Simpson');
    expect(model.notes.map(n => n.kind)).not.toContain('pooled_by_grouping');
  });

  it('keeps a plain r on a facet of one colour group', () => {
    const model = buildDualModel(simpsonInput(), {
      nBoot: 0,
      facetBy: 'dataset'
    });
    for (const facet of model.facets) {
      const title = facetTitle(facet, model);
      expect(title).toContain(`· r=${facet.stats.pearsonR.toFixed(2)}`);
      expect(title).not.toContain('pooled');
    }
  });

  it('labels a facet pooling several colour groups as pooled', () => {
    const model = buildDualModel(simpsonInput(), {
      nBoot: 0,
      facetBy: 'cluster',
      colorBy: 'dataset'
    });
    for (const facet of model.facets) {
      expect(facetTitle(facet, model)).toContain(
        `pooled r=${facet.stats.pearsonR.toFixed(2)}`
      );
    }
  });
});

describe('dots stay visible', () => {
  it('outlines scatter and embedding dots in a colour of the theme', () => {
    for (const t of [theme, DARK]) {
      const model = buildDualModel(dualInput(), { nBoot: 0 });
      const scatter = dualScatterFigure(model, { theme: t }).figure;
      const points = scatter.data.filter((d: any) => d.type === 'scattergl');
      expect(points.length).toBeGreaterThan(0);
      for (const trace of points as any[]) {
        expect(trace.marker.line).toEqual(markerOutline(t));
        expect(trace.marker.line.width).toBeGreaterThan(0);
        expect(trace.marker.line.width).toBeLessThanOrEqual(1);
      }
      const blend = blendEmbeddingFigure(model, { theme: t }).figure;
      const cells = blend.data.find((d: any) => d.name === 'cells') as any;
      expect(cells.marker.line).toEqual(markerOutline(t));
    }
    // Dark on light, light on dark
    expect(markerOutline(theme).color).not.toBe(markerOutline(DARK).color);
  });
});

describe('the blend key and the embedding', () => {
  it('rounds the key ends to what a reader needs', () => {
    expect(keyValue(5.186)).toBe('5.2');
    expect(keyValue(7.309)).toBe('7.3');
    expect(keyValue(0.3149)).toBe('0.31');
    expect(keyValue(0)).toBe('0');
    expect(keyValue(12)).toBe('12');
    expect(keyValue(1234.6)).toBe('1,235');
  });

  it('names what the values are from the values themselves', () => {
    const model = buildDualModel(dualInput(), { nBoot: 0 });
    expect(model.valueKind).toBe('log-normalised expression');
    const counts = buildDualModel(
      dualInput({
        x: Float32Array.from({ length: N }, (_, i) => i % 4),
        y: Float32Array.from({ length: N }, (_, i) => (i * 3) % 5),
        matrix: 'layers/counts'
      }),
      { nBoot: 0 }
    );
    expect(counts.valueKind).toBe('counts');
    const scaled = buildDualModel(
      dualInput({
        x: Float32Array.from({ length: N }, (_, i) => Math.sin(i)),
        matrix: 'layers/scaled'
      }),
      { nBoot: 0 }
    );
    expect(scaled.valueKind).toBe('scaled values');
    // Non-negative, not whole, far beyond log scale
    const axis = { ...model.axes.x, hasNegative: false, max: 500 };
    expect(valueKind('X', Float32Array.of(0.5, 500), null, axis, axis)).toBe(
      'expression'
    );
  });

  it('labels the key axes with gene and value kind, and the "both" corner', () => {
    const model = buildDualModel(dualInput(), { nBoot: 0 });
    const blend = model.blend!;
    const layout = blendEmbeddingFigure(model, { theme }).figure.layout as any;
    for (const [axis, gene, scale] of [
      [layout.xaxis2, 'CD3E', blend.scaleX],
      [layout.yaxis2, 'CD8A', blend.scaleY]
    ] as const) {
      expect(axis.title.text).toContain(gene);
      expect(axis.title.text).toContain('log-normalised expression');
      expect(axis.ticktext).toEqual([keyValue(scale.min), keyValue(scale.max)]);
    }
    const both = layout.annotations.find((a: any) => a.text === 'both');
    expect(both).toMatchObject({
      xref: 'x2',
      yref: 'y2',
      x: blend.levels - 1,
      y: blend.levels - 1
    });
  });

  it('names each cluster at the median of its cells on the embedding', () => {
    const input = dualInput();
    const model = buildDualModel(input, { nBoot: 0 });
    const layout = blendEmbeddingFigure(model, { theme }).figure.layout as any;
    const labels = layout.annotations.filter((a: any) => a.xref === 'x');
    expect(labels.map((a: any) => a.text)).toEqual([
      '<b>0</b>',
      '<b>1</b>',
      '<b>2</b>'
    ]);
    const [u, v] = input.embedding!.dims;
    const median = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const m = sorted.length >> 1;
      return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    };
    ['0', '1', '2'].forEach((name, k) => {
      // Drawn cells of the cluster: a cluster and coordinates (cell 57 has none)
      const cells = Array.from(model.blend!.cells).filter(
        c => input.cluster.codes[c] === k
      );
      expect(cells).not.toContain(57);
      expect(labels[k].x).toBeCloseTo(median(cells.map(c => u[c])), 6);
      expect(labels[k].y).toBeCloseTo(median(cells.map(c => v[c])), 6);
    });
  });

  it('notes few cells, and so a wide interval, in the statistics table', () => {
    const model = buildDualModel(dualInput(), { nBoot: 0 });
    const rows = statsTableRows(model);
    expect(rows.some(r => r.stats.nCells < FEW_CELLS)).toBe(true);
    expect(rows.some(r => r.stats.nCells >= FEW_CELLS)).toBe(true);
    for (const row of rows) {
      const few = row.stats.reason === null && row.stats.nCells < FEW_CELLS;
      expect(row.note.includes('few cells')).toBe(few);
      if (few) {
        expect(row.note).toContain('wide interval');
      }
    }
  });
});
