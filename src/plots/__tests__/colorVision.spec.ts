/**
 * Colour-vision checks of the plot colours. First the colour science itself against
 * outside numbers (Sharma et al.'s CIEDE2000 test data, a published sRGB -> Lab value and
 * the colorspacious library's Machado simulation), then the palette and the diverging
 * scale measured with it.
 *
 * Thresholds, in CIEDE2000: about 1 is a just-noticeable difference for large patches
 * side by side; plot marks are small and far apart, where the noticeable difference is
 * several times larger (Szafir 2018, "Modeling Color Difference for Visualization
 * Design", IEEE TVCG 24(1)), so categories a reader must tell apart at a glance get ≥ 10,
 * and the less common positions 8–19 get ≥ 5 (twice the ~2.3 noticeable for patches).
 */
import { CATEGORY_PALETTE, missingCategoryColor } from '../palette';
import {
  closestPair,
  colorDifference,
  deltaE2000,
  hexToLab,
  ILab,
  linearToSrgb,
  parseHex,
  simulateHex,
  srgbToLinear,
  toHex,
  VISION_TYPES,
  VisionType
} from '../colorVision';
import {
  divergingScale,
  IPlotTheme,
  LIGHT_PLOT_THEME,
  readPlotTheme
} from '../theme';

/**
 * All 34 pairs of G. Sharma, W. Wu, E. N. Dalal (2005), "The CIEDE2000 Color-Difference
 * Formula: Implementation Notes, Supplementary Test Data, and Mathematical Observations",
 * Color Res. Appl. 30(1), Table 1: L1, a1, b1, L2, a2, b2, ΔE00.
 */
const SHARMA_2005: [number, number, number, number, number, number, number][] =
  [
    [50.0, 2.6772, -79.7751, 50.0, 0.0, -82.7485, 2.0425],
    [50.0, 3.1571, -77.2803, 50.0, 0.0, -82.7485, 2.8615],
    [50.0, 2.8361, -74.02, 50.0, 0.0, -82.7485, 3.4412],
    [50.0, -1.3802, -84.2814, 50.0, 0.0, -82.7485, 1.0],
    [50.0, -1.1848, -84.8006, 50.0, 0.0, -82.7485, 1.0],
    [50.0, -0.9009, -85.5211, 50.0, 0.0, -82.7485, 1.0],
    [50.0, 0.0, 0.0, 50.0, -1.0, 2.0, 2.3669],
    [50.0, -1.0, 2.0, 50.0, 0.0, 0.0, 2.3669],
    [50.0, 2.49, -0.001, 50.0, -2.49, 0.0009, 7.1792],
    [50.0, 2.49, -0.001, 50.0, -2.49, 0.001, 7.1792],
    [50.0, 2.49, -0.001, 50.0, -2.49, 0.0011, 7.2195],
    [50.0, 2.49, -0.001, 50.0, -2.49, 0.0012, 7.2195],
    [50.0, -0.001, 2.49, 50.0, 0.0009, -2.49, 4.8045],
    [50.0, -0.001, 2.49, 50.0, 0.001, -2.49, 4.8045],
    [50.0, -0.001, 2.49, 50.0, 0.0011, -2.49, 4.7461],
    [50.0, 2.5, 0.0, 50.0, 0.0, -2.5, 4.3065],
    [50.0, 2.5, 0.0, 73.0, 25.0, -18.0, 27.1492],
    [50.0, 2.5, 0.0, 61.0, -5.0, 29.0, 22.8977],
    [50.0, 2.5, 0.0, 56.0, -27.0, -3.0, 31.903],
    [50.0, 2.5, 0.0, 58.0, 24.0, 15.0, 19.4535],
    [50.0, 2.5, 0.0, 50.0, 3.1736, 0.5854, 1.0],
    [50.0, 2.5, 0.0, 50.0, 3.2972, 0.0, 1.0],
    [50.0, 2.5, 0.0, 50.0, 1.8634, 0.5757, 1.0],
    [50.0, 2.5, 0.0, 50.0, 3.2592, 0.335, 1.0],
    [60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644],
    [63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.263],
    [61.2901, 3.7196, -5.3901, 61.4292, 2.248, -4.962, 1.8731],
    [35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645],
    [22.7233, 20.0904, -46.694, 23.0331, 14.973, -42.5619, 2.0373],
    [36.4612, 47.858, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146],
    [90.8027, -2.0831, 1.441, 91.1528, -1.6435, 0.0447, 1.4441],
    [90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381],
    [6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377],
    [2.0776, 0.0795, -1.135, 0.9033, -0.0636, -0.5514, 0.9082]
  ];

/**
 * CIELAB (D65) of colours as seen with each vision type, computed by the colorspacious
 * library 1.1.2 (N. Smith; its Machado et al. 2009 matrices, severity 100), run as
 *   lin = cspace_convert(rgb, {"name": "sRGB1+CVD", "cvd_type": T, "severity": 100},
 *                        "sRGB1-linear")
 *   cspace_convert(np.clip(lin, 0, 1), "sRGB1-linear", "CIELab")
 * with T = protanomaly / deuteranomaly / tritanomaly, and cspace_convert(rgb, "sRGB1",
 * "CIELab") for normal vision. #ff0000 leaves the gamut under each simulation (clipped).
 */
const COLORSPACIOUS: [string, VisionType, [number, number, number]][] = [
  ['#ff0000', 'normal', [53.2314, 80.1144, 67.22]],
  ['#ff0000', 'protanopia', [40.2894, -3.6724, 47.4729]],
  ['#ff0000', 'deuteranopia', [59.7436, -5.4245, 63.847]],
  ['#ff0000', 'tritanopia', [53.2685, 80.2158, 63.5114]],
  ['#4e79a7', 'normal', [49.5976, -1.2915, -29.1255]],
  ['#4e79a7', 'protanopia', [51.6402, 4.5391, -27.0329]],
  ['#4e79a7', 'deuteranopia', [48.271, 5.8554, -30.6002]],
  ['#4e79a7', 'tritanopia', [50.0228, -25.7004, -11.0596]],
  ['#59a14f', 'normal', [60.0482, -39.2059, 35.5699]],
  ['#59a14f', 'protanopia', [61.5153, -4.1702, 42.1003]],
  ['#59a14f', 'deuteranopia', [58.9541, -3.7746, 32.274]],
  ['#59a14f', 'tritanopia', [59.6458, -26.9501, 0.4495]],
  ['#e69f00', 'normal', [70.6062, 16.483, 74.6829]],
  ['#e69f00', 'protanopia', [66.7452, -5.2133, 69.7977]],
  ['#e69f00', 'deuteranopia', [72.9495, -6.6758, 72.9251]],
  ['#e69f00', 'tritanopia', [70.1441, 41.7518, 21.172]],
  ['#882255', 'normal', [31.8837, 46.9543, -5.5213]],
  ['#882255', 'protanopia', [26.7265, 2.5158, -15.2928]],
  ['#882255', 'deuteranopia', [34.8092, 0.0826, -0.5302]],
  ['#882255', 'tritanopia', [32.1026, 50.7235, 14.0138]]
];

/** The JupyterLab dark theme as readPlotTheme reads it (--jp-layout-color0 is #111). */
function darkTheme(): IPlotTheme {
  document.body.dataset.jpThemeLight = 'false';
  document.body.style.setProperty('--jp-layout-color0', '#111111');
  try {
    return readPlotTheme(document.body);
  } finally {
    delete document.body.dataset.jpThemeLight;
    document.body.style.removeProperty('--jp-layout-color0');
  }
}

const THEMES: [string, IPlotTheme][] = [
  ['light', LIGHT_PLOT_THEME],
  ['dark', darkTheme()]
];

/** Smallest ΔE2000 from each of `colors` to `other`, under `vision`. */
function minDifferenceTo(
  colors: readonly string[],
  other: string,
  vision: VisionType
): number {
  return Math.min(...colors.map(c => colorDifference(c, other, vision)));
}

describe('colour science against published values', () => {
  it.each(SHARMA_2005.map((row, i) => [i + 1, ...row]))(
    'CIEDE2000 matches Sharma et al. pair %i',
    (_pair, L1, a1, b1, L2, a2, b2, expected) => {
      const first: ILab = { L: L1, a: a1, b: b1 };
      const second: ILab = { L: L2, a: a2, b: b2 };
      // The published values have four decimals.
      expect(Math.abs(deltaE2000(first, second) - expected)).toBeLessThan(1e-4);
      expect(deltaE2000(second, first)).toBeCloseTo(
        deltaE2000(first, second),
        10
      );
    }
  );

  it('converts sRGB to CIELAB (D65) as published', () => {
    const white = hexToLab('#ffffff');
    expect(white.L).toBeCloseTo(100, 2);
    // Neutral up to the four digits to which the IEC matrix's rows sum to D65.
    expect(Math.hypot(white.a, white.b)).toBeLessThan(0.02);
    // sRGB red in CIELAB D65, B. Lindbloom's calculator (brucelindbloom.com):
    // 53.2408, 80.0925, 67.2032; within 0.05 as its sRGB matrix has more digits than
    // the IEC 61966-2-1 one used here.
    const red = hexToLab('#ff0000');
    expect(Math.abs(red.L - 53.2408)).toBeLessThan(0.05);
    expect(Math.abs(red.a - 80.0925)).toBeLessThan(0.05);
    expect(Math.abs(red.b - 67.2032)).toBeLessThan(0.05);
    expect(hexToLab('#000000')).toEqual({ L: 0, a: 0, b: 0 });
  });

  it.each(COLORSPACIOUS)(
    'simulates %s under %s as colorspacious does',
    (hex, vision, [L, a, b]) => {
      const lab = hexToLab(hex, vision);
      expect(Math.abs(lab.L - L)).toBeLessThan(0.01);
      expect(Math.abs(lab.a - a)).toBeLessThan(0.01);
      expect(Math.abs(lab.b - b)).toBeLessThan(0.01);
    }
  );

  it('confuses what dichromats confuse, and nothing for normal vision', () => {
    // Tableau's red and green: far apart normally, nearly one colour for deuteranopes.
    expect(colorDifference('#e15759', '#59a14f', 'normal')).toBeGreaterThan(50);
    expect(colorDifference('#e15759', '#59a14f', 'deuteranopia')).toBeLessThan(
      2
    );
    // Blue and yellow stay apart for red-green dichromats.
    for (const vision of ['protanopia', 'deuteranopia'] as const) {
      expect(colorDifference('#0072b2', '#f0e442', vision)).toBeGreaterThan(50);
    }
    // The matrices keep neutral greys neutral.
    for (const vision of VISION_TYPES) {
      expect(simulateHex('#808080', vision)).toBe('#808080');
    }
  });

  it('parses and writes hex colours, and rejects others clearly', () => {
    expect(parseHex('#fff')).toEqual([1, 1, 1]);
    expect(toHex(parseHex('#4E79A7'))).toBe('#4e79a7');
    expect(linearToSrgb(srgbToLinear(0.3))).toBeCloseTo(0.3, 12);
    expect(() => parseHex('red')).toThrow(/Not a hex colour: "red"/);
  });
});

describe('categorical palette under colour-vision deficiencies', () => {
  const head = CATEGORY_PALETTE.slice(0, 8);
  const twenty = CATEGORY_PALETTE.slice(0, 20);

  it.each(VISION_TYPES)(
    'keeps the first 8 colours ≥ 10 ΔE2000 apart (%s)',
    vision => {
      const closest = closestPair(head, vision);
      expect(closest.deltaE).toBeGreaterThanOrEqual(10);
    }
  );

  it.each(VISION_TYPES)(
    'keeps all 20 listed colours ≥ 5 ΔE2000 apart (%s)',
    vision => {
      expect(closestPair(twenty, vision).deltaE).toBeGreaterThanOrEqual(5);
    }
  );

  it('puts the most separable colours first', () => {
    // Worst case over normal vision and the red-green dichromacies.
    const worst = (a: string, b: string) =>
      Math.min(
        ...(['normal', 'protanopia', 'deuteranopia'] as const).map(v =>
          colorDifference(a, b, v)
        )
      );
    expect(worst(head[0], head[1])).toBeGreaterThan(50);
    expect(
      Math.min(worst(head[0], head[2]), worst(head[1], head[2]))
    ).toBeGreaterThan(20);
  });

  it.each(THEMES)(
    'stands out from the %s background and from the missing grey',
    (_name, theme) => {
      const missing = missingCategoryColor(theme);
      for (const vision of VISION_TYPES) {
        expect(
          minDifferenceTo(head, theme.background, vision)
        ).toBeGreaterThanOrEqual(15);
        expect(minDifferenceTo(head, missing, vision)).toBeGreaterThanOrEqual(
          10
        );
        expect(
          minDifferenceTo(twenty.slice(8), theme.background, vision)
        ).toBeGreaterThanOrEqual(8);
        expect(
          minDifferenceTo(twenty.slice(8), missing, vision)
        ).toBeGreaterThanOrEqual(5);
      }
    }
  );
});

describe('diverging scale in both themes', () => {
  /** The scale sampled at `n` points, interpolated in sRGB as Plotly does. */
  function sampleScale(scale: [number, string][], n = 41): string[] {
    return Array.from({ length: n }, (_, k) => {
      const value = k / (n - 1);
      let i = 0;
      while (i < scale.length - 2 && value > scale[i + 1][0]) {
        i++;
      }
      const [v0, c0] = scale[i];
      const [v1, c1] = scale[i + 1];
      const t = (value - v0) / (v1 - v0);
      const from = parseHex(c0);
      const to = parseHex(c1);
      return toHex(from.map((c, j) => c + (to[j] - c) * t) as typeof from);
    });
  }

  it('reads the dark theme background of JupyterLab', () => {
    const [, dark] = THEMES[1];
    expect(dark.isDark).toBe(true);
    expect(dark.background).toBe('#111111');
  });

  it.each(THEMES)(
    'tells low from high for every vision type (%s)',
    (_name, theme) => {
      const scale = divergingScale(theme);
      const samples = sampleScale(scale);
      const last = samples.length - 1;
      for (const vision of VISION_TYPES) {
        expect(
          colorDifference(scale[0][1], scale[scale.length - 1][1], vision)
        ).toBeGreaterThanOrEqual(25);
        // Values equally far from 0, at least half-way out: low vs high.
        for (let k = 0; k <= last / 4; k++) {
          expect(
            colorDifference(samples[k], samples[last - k], vision)
          ).toBeGreaterThanOrEqual(25);
        }
      }
    }
  );

  it.each(THEMES)(
    'stands out more from the %s background the farther from 0',
    (_name, theme) => {
      const samples = sampleScale(divergingScale(theme));
      const middle = (samples.length - 1) / 2;
      for (const vision of VISION_TYPES) {
        const contrast = samples.map(c =>
          colorDifference(c, theme.background, vision)
        );
        for (let k = middle; k < samples.length - 1; k++) {
          expect(contrast[k + 1]).toBeGreaterThan(contrast[k] - 0.1);
        }
        for (let k = middle; k > 0; k--) {
          expect(contrast[k - 1]).toBeGreaterThan(contrast[k] - 0.1);
        }
      }
    }
  );

  it.each(THEMES)(
    'keeps a quiet middle apart from the masked cells (%s)',
    (_name, theme) => {
      const middle = divergingScale(theme)[2];
      expect(middle[0]).toBe(0.5);
      for (const vision of VISION_TYPES) {
        expect(
          colorDifference(middle[1], theme.background, vision)
        ).toBeLessThanOrEqual(8);
        expect(
          colorDifference(middle[1], theme.missing, vision)
        ).toBeGreaterThanOrEqual(5);
      }
    }
  );
});
