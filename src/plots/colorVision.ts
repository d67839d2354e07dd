/**
 * Colour science for checking palettes: sRGB -> linear RGB -> simulated colour-vision
 * deficiency -> CIELAB (D65) -> CIEDE2000 colour difference. Plain functions, no DOM, so
 * the palette tests can measure how far apart two colours look to a reader with or
 * without a colour-vision deficiency.
 */

export type VisionType =
  'normal' | 'protanopia' | 'deuteranopia' | 'tritanopia';

export const VISION_TYPES: readonly VisionType[] = [
  'normal',
  'protanopia',
  'deuteranopia',
  'tritanopia'
];

/** A colour in CIELAB (D65 white, L in 0–100). */
export interface ILab {
  L: number;
  a: number;
  b: number;
}

type Triple = [number, number, number];
type Matrix3 = [Triple, Triple, Triple];

/**
 * Dichromacy simulation matrices (severity 1.0), applied to linear RGB, from
 * G. M. Machado, M. M. Oliveira, L. A. F. Fernandes (2009), "A Physiologically-based
 * Model for Simulation of Color Vision Deficiency", IEEE TVCG 15(6):1291–1298,
 * doi:10.1109/TVCG.2009.113 — the published values of the paper's supplementary table.
 */
const MACHADO_2009: Record<Exclude<VisionType, 'normal'>, Matrix3> = {
  protanopia: [
    [0.152286, 1.052583, -0.204868],
    [0.114503, 0.786281, 0.099216],
    [-0.003882, -0.048116, 1.051998]
  ],
  deuteranopia: [
    [0.367322, 0.860646, -0.227968],
    [0.280085, 0.672501, 0.047413],
    [-0.01182, 0.04294, 0.968881]
  ],
  tritanopia: [
    [1.255528, -0.076749, -0.178779],
    [-0.078411, 0.930809, 0.147602],
    [0.004733, 0.691367, 0.3039]
  ]
};

/** Linear sRGB -> CIE XYZ (Y of white = 1), IEC 61966-2-1. */
const SRGB_TO_XYZ: Matrix3 = [
  [0.4124, 0.3576, 0.1805],
  [0.2126, 0.7152, 0.0722],
  [0.0193, 0.1192, 0.9505]
];

/** D65 reference white (CIE 1931 2° observer), Y = 1. */
const D65_WHITE: Triple = [0.95047, 1.0, 1.08883];

function multiply(matrix: Matrix3, v: Triple): Triple {
  return matrix.map(
    row => row[0] * v[0] + row[1] * v[1] + row[2] * v[2]
  ) as Triple;
}

/** `#rrggbb` (or `#rgb`) -> sRGB channels in 0–1. */
export function parseHex(hex: string): Triple {
  const match = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(hex.trim());
  if (!match) {
    throw new Error(`Not a hex colour: "${hex}" (expected #rrggbb or #rgb)`);
  }
  const digits =
    match[1].length === 3 ? [...match[1]].map(d => d + d).join('') : match[1];
  return [0, 2, 4].map(
    i => parseInt(digits.slice(i, i + 2), 16) / 255
  ) as Triple;
}

/** sRGB channels (0–1) -> `#rrggbb`, clipped to the gamut. */
export function toHex(rgb: Triple): string {
  return (
    '#' +
    rgb
      .map(c =>
        Math.round(Math.min(1, Math.max(0, c)) * 255)
          .toString(16)
          .padStart(2, '0')
      )
      .join('')
  );
}

/** The sRGB transfer function, decoded (IEC 61966-2-1). */
export function srgbToLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
}

export function linearToSrgb(c: number): number {
  return c <= 0.0031308 ? 12.92 * c : 1.055 * Math.pow(c, 1 / 2.4) - 0.055;
}

/**
 * Linear RGB as seen with `vision`; clipped to 0–1 because a display cannot show the
 * few out-of-gamut results of the matrices (as Machado et al. do).
 */
export function simulateLinear(linear: Triple, vision: VisionType): Triple {
  if (vision === 'normal') {
    return linear;
  }
  return multiply(MACHADO_2009[vision], linear).map(c =>
    Math.min(1, Math.max(0, c))
  ) as Triple;
}

/** `hex` as a reader with `vision` sees it, as a hex colour. */
export function simulateHex(hex: string, vision: VisionType): string {
  const linear = parseHex(hex).map(srgbToLinear) as Triple;
  return toHex(simulateLinear(linear, vision).map(linearToSrgb) as Triple);
}

/** Linear sRGB -> CIELAB with the D65 white (CIE 15:2004). */
export function linearRgbToLab(linear: Triple): ILab {
  const xyz = multiply(SRGB_TO_XYZ, linear);
  const epsilon = 216 / 24389;
  const kappa = 24389 / 27;
  const [fx, fy, fz] = xyz.map((v, i) => {
    const t = v / D65_WHITE[i];
    return t > epsilon ? Math.cbrt(t) : (kappa * t + 16) / 116;
  });
  return { L: 116 * fy - 16, a: 500 * (fx - fy), b: 200 * (fy - fz) };
}

/** CIELAB of `hex` as a reader with `vision` sees it. */
export function hexToLab(hex: string, vision: VisionType = 'normal'): ILab {
  const linear = parseHex(hex).map(srgbToLinear) as Triple;
  return linearRgbToLab(simulateLinear(linear, vision));
}

const DEG = Math.PI / 180;

/**
 * CIEDE2000 colour difference (kL = kC = kH = 1), following the formulas and the
 * hue-angle conventions of G. Sharma, W. Wu, E. N. Dalal (2005), "The CIEDE2000
 * Color-Difference Formula: Implementation Notes, Supplementary Test Data, and
 * Mathematical Observations", Color Res. Appl. 30(1):21–30.
 */
export function deltaE2000(lab1: ILab, lab2: ILab): number {
  const c1 = Math.hypot(lab1.a, lab1.b);
  const c2 = Math.hypot(lab2.a, lab2.b);
  const cBar7 = Math.pow((c1 + c2) / 2, 7);
  const g = 0.5 * (1 - Math.sqrt(cBar7 / (cBar7 + Math.pow(25, 7))));
  const a1 = (1 + g) * lab1.a;
  const a2 = (1 + g) * lab2.a;
  const cp1 = Math.hypot(a1, lab1.b);
  const cp2 = Math.hypot(a2, lab2.b);
  const hueOf = (a: number, b: number) =>
    a === 0 && b === 0 ? 0 : (Math.atan2(b, a) / DEG + 360) % 360;
  const h1 = hueOf(a1, lab1.b);
  const h2 = hueOf(a2, lab2.b);

  const dL = lab2.L - lab1.L;
  const dC = cp2 - cp1;
  let dh = 0;
  if (cp1 * cp2 !== 0) {
    dh = h2 - h1;
    if (dh > 180) {
      dh -= 360;
    } else if (dh < -180) {
      dh += 360;
    }
  }
  const dH = 2 * Math.sqrt(cp1 * cp2) * Math.sin((dh / 2) * DEG);

  const lBar = (lab1.L + lab2.L) / 2;
  const cpBar = (cp1 + cp2) / 2;
  let hBar = h1 + h2;
  if (cp1 * cp2 !== 0) {
    if (Math.abs(h1 - h2) <= 180) {
      hBar = (h1 + h2) / 2;
    } else if (h1 + h2 < 360) {
      hBar = (h1 + h2 + 360) / 2;
    } else {
      hBar = (h1 + h2 - 360) / 2;
    }
  }
  const t =
    1 -
    0.17 * Math.cos((hBar - 30) * DEG) +
    0.24 * Math.cos(2 * hBar * DEG) +
    0.32 * Math.cos((3 * hBar + 6) * DEG) -
    0.2 * Math.cos((4 * hBar - 63) * DEG);
  const dTheta = 30 * Math.exp(-Math.pow((hBar - 275) / 25, 2));
  const cpBar7 = Math.pow(cpBar, 7);
  const rC = 2 * Math.sqrt(cpBar7 / (cpBar7 + Math.pow(25, 7)));
  const lShift = Math.pow(lBar - 50, 2);
  const sL = 1 + (0.015 * lShift) / Math.sqrt(20 + lShift);
  const sC = 1 + 0.045 * cpBar;
  const sH = 1 + 0.015 * cpBar * t;
  const rT = -Math.sin(2 * dTheta * DEG) * rC;

  const l = dL / sL;
  const c = dC / sC;
  const h = dH / sH;
  return Math.sqrt(l * l + c * c + h * h + rT * c * h);
}

/** CIEDE2000 between two hex colours as a reader with `vision` sees them. */
export function colorDifference(
  hex1: string,
  hex2: string,
  vision: VisionType = 'normal'
): number {
  return deltaE2000(hexToLab(hex1, vision), hexToLab(hex2, vision));
}

/** The closest pair of `colors` under `vision`: its ΔE2000 and positions. */
export function closestPair(
  colors: readonly string[],
  vision: VisionType = 'normal'
): { deltaE: number; pair: [number, number] } {
  const labs = colors.map(color => hexToLab(color, vision));
  let best = { deltaE: Infinity, pair: [-1, -1] as [number, number] };
  for (let i = 0; i < labs.length; i++) {
    for (let j = i + 1; j < labs.length; j++) {
      const deltaE = deltaE2000(labs[i], labs[j]);
      if (deltaE < best.deltaE) {
        best = { deltaE, pair: [i, j] };
      }
    }
  }
  return best;
}
