import { IPlotTheme, LIGHT_PLOT_THEME } from '../../theme';
import {
  blendColor,
  blendColorscale,
  blendLevel,
  DARK_BLEND_CORNERS,
  LIGHT_BLEND_CORNERS,
  roundHalfEven
} from '../blend';
import {
  binCentre,
  binning,
  binOf,
  histogram1d,
  histogram2d,
  transposeCounts
} from '../binning';

const DARK: IPlotTheme = { ...LIGHT_PLOT_THEME, isDark: true };

describe('blend levels (Seurat BlendExpression)', () => {
  it('rounds halves to even as R does', () => {
    expect([0.5, 1.5, 2.5, 4.5, 4.6, 4.4, -0.5].map(roundHalfEven)).toEqual([
      0, 2, 2, 4, 5, 4, 0
    ]);
  });

  it('scales by min and max to 0–9', () => {
    expect(blendLevel(0, 0, 9)).toBe(0);
    expect(blendLevel(9, 0, 9)).toBe(9);
    expect(blendLevel(2.5, 0, 5)).toBe(4); // 9 · 0.5 = 4.5 → 4 in R
    expect(blendLevel(1, 0, 2)).toBe(4);
    expect(blendLevel(3, 3, 3)).toBe(0); // constant gene
  });
});

describe('blend colours', () => {
  it('puts the documented corners at the corners of the key, on both themes', () => {
    for (const [theme, corners] of [
      [LIGHT_PLOT_THEME, LIGHT_BLEND_CORNERS],
      [DARK, DARK_BLEND_CORNERS]
    ] as const) {
      expect(blendColor(0, 0, theme)).toBe(corners.base);
      expect(blendColor(9, 0, theme)).toBe(corners.geneX);
      expect(blendColor(0, 9, theme)).toBe(corners.geneY);
      expect(blendColor(9, 9, theme)).toBe(corners.both);
      // The stepped scale gives code lx + 10·ly that colour
      const scale = blendColorscale(theme);
      expect(scale).toHaveLength(200);
      const colorOf = (code: number) => scale[2 * code][1];
      expect(colorOf(0)).toBe(corners.base);
      expect(colorOf(9)).toBe(corners.geneX);
      expect(colorOf(90)).toBe(corners.geneY);
      expect(colorOf(99)).toBe(corners.both);
      expect(colorOf(34)).toBe(blendColor(4, 3, theme));
      // Steps: each code's band is [code/100, (code+1)/100]
      expect(scale[2 * 34][0]).toBeCloseTo(0.34, 12);
      expect(scale[2 * 34 + 1][0]).toBeCloseTo(0.35, 12);
    }
    // Base grey differs between themes so it stays visible on the background
    expect(LIGHT_BLEND_CORNERS.base).not.toBe(DARK_BLEND_CORNERS.base);
  });

  it('interpolates bilinearly between the corners', () => {
    const mid = blendColor(9, 0, LIGHT_PLOT_THEME, 10);
    expect(mid).toBe(LIGHT_BLEND_CORNERS.geneX);
    // Halfway along x with y at 0: the mean of base and geneX per channel
    const half = blendColor(1, 0, LIGHT_PLOT_THEME, 3);
    const parse = (c: string) =>
      [1, 3, 5].map(i => parseInt(c.slice(i, i + 2), 16));
    const [b, x] = [LIGHT_BLEND_CORNERS.base, LIGHT_BLEND_CORNERS.geneX].map(
      parse
    );
    expect(parse(half)).toEqual(b.map((v, i) => Math.round((v + x[i]) / 2)));
  });
});

describe('binning', () => {
  it('bins values, the maximum into the last bin', () => {
    const bins = binning(0, 10, 5);
    expect(bins).toEqual({ start: 0, size: 2, count: 5 });
    expect([0, 1.99, 2, 9.99, 10, -1, 11].map(v => binOf(v, bins))).toEqual([
      0, 0, 1, 4, 4, 0, 4
    ]);
    expect(binCentre(bins, 0)).toBe(1);
    // A single value gets a unit-wide range around it
    const flat = binning(3, 3, 4);
    expect(binOf(3, flat)).toBe(2);
  });

  it('counts 2-D bins row-major by y and transposes them', () => {
    const x = Float32Array.from([0, 1, 1, 9, 5]);
    const y = Float32Array.from([0, 0, 9, 9, 5]);
    const cells = Int32Array.from([0, 1, 2, 3, 4]);
    const bx = binning(0, 9, 3);
    const by = binning(0, 9, 2);
    const counts = histogram2d(x, y, cells, 0, 5, bx, by);
    expect(Array.from(counts)).toEqual([2, 0, 0, 1, 1, 1]);
    expect(Array.from(transposeCounts(counts, 3, 2))).toEqual([
      2, 1, 0, 1, 0, 1
    ]);
    // A sub-range of the cell list
    expect(
      Array.from(histogram2d(x, y, cells, 3, 5, bx, by)).reduce((a, b) => a + b)
    ).toBe(2);
  });

  it('makes 1-D histograms as fractions, optionally without zeros', () => {
    const values = Float32Array.from([0, 0, 0, 1, 2, 3]);
    const cells = Int32Array.from([0, 1, 2, 3, 4, 5]);
    const bins = binning(0, 3, 3);
    const all = histogram1d(values, cells, 0, 6, bins, false);
    expect(Array.from(all.fraction)).toEqual([3 / 6, 1 / 6, 2 / 6]);
    const detected = histogram1d(values, cells, 0, 6, bins, true);
    expect(Array.from(detected.fraction)).toEqual([0, 1 / 3, 2 / 3]);
    expect(detected.zeros).toBe(3);
    expect(detected.counted).toBe(3);
  });
});
