/**
 * Two-gene blend colours for the embedding, after Seurat's `FeaturePlot(blend = TRUE)`.
 *
 * Levels (Seurat's `BlendExpression`): each gene is scaled over the cells drawn as
 * round(9 · (v − min) / (max − min)), R's round (half to even), giving levels 0–9; the
 * cell's blend code is levelX + 10 · levelY. A gene with one value everywhere is level 0.
 *
 * Colours (our own map, not Seurat's `BlendMatrix`, whose red/green corners collide for
 * red–green colour blindness and whose black base vanishes on a dark theme): bilinear
 * interpolation in sRGB between four documented corners, with u = levelX / 9 and
 * v = levelY / 9:
 *
 *   colour = (1−u)(1−v)·base + u(1−v)·geneX + (1−u)v·geneY + uv·both
 *
 * base is a grey a step away from the background (Seurat's lightgrey on light themes),
 * geneX red, geneY blue, and "both" a colour that stands out from the background: dark
 * violet on light themes, light magenta on dark ones. So "only X" reads red, "only Y"
 * blue, co-expression violet/magenta, nothing grey, on either theme.
 */
import type { IPlotTheme } from '../theme';

export const BLEND_LEVELS = 10;

export interface IBlendCorners {
  base: string;
  geneX: string;
  geneY: string;
  both: string;
}

export const LIGHT_BLEND_CORNERS: Readonly<IBlendCorners> = {
  base: '#d3d3d3',
  geneX: '#e41a1c',
  geneY: '#1f6fd1',
  both: '#3f0a6e'
};

export const DARK_BLEND_CORNERS: Readonly<IBlendCorners> = {
  base: '#4a4a4a',
  geneX: '#ff4a3d',
  geneY: '#3d9bff',
  both: '#ff8cff'
};

export function blendCorners(theme: IPlotTheme): Readonly<IBlendCorners> {
  return theme.isDark ? DARK_BLEND_CORNERS : LIGHT_BLEND_CORNERS;
}

/** R's round(): halves go to the even neighbour. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff > 0.5) {
    return floor + 1;
  }
  if (diff < 0.5) {
    return floor;
  }
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Seurat's level of a value: round((levels − 1) · (v − min) / (max − min)). */
export function blendLevel(
  value: number,
  min: number,
  max: number,
  levels = BLEND_LEVELS
): number {
  if (!(max > min)) {
    return 0;
  }
  const level = roundHalfEven(((levels - 1) * (value - min)) / (max - min));
  return level < 0 ? 0 : level > levels - 1 ? levels - 1 : level;
}

/** Colour of the cell with levels (levelX, levelY), as "#rrggbb". */
export function blendColor(
  levelX: number,
  levelY: number,
  theme: IPlotTheme,
  levels = BLEND_LEVELS
): string {
  const corners = blendCorners(theme);
  const u = levels > 1 ? levelX / (levels - 1) : 0;
  const v = levels > 1 ? levelY / (levels - 1) : 0;
  const [b, gx, gy, both] = [
    corners.base,
    corners.geneX,
    corners.geneY,
    corners.both
  ].map(parseHex);
  const channel = (c: number): number =>
    Math.round(
      (1 - u) * (1 - v) * b[c] +
        u * (1 - v) * gx[c] +
        (1 - u) * v * gy[c] +
        u * v * both[c]
    );
  return toHex([channel(0), channel(1), channel(2)]);
}

/**
 * A stepped Plotly colour scale over the blend codes 0 … levels² − 1 (use with
 * cmin = −0.5 and cmax = levels² − 0.5): code c is drawn in blendColor(c mod L, ⌊c / L⌋).
 */
export function blendColorscale(
  theme: IPlotTheme,
  levels = BLEND_LEVELS
): [number, string][] {
  const n = levels * levels;
  const scale: [number, string][] = [];
  for (let code = 0; code < n; code++) {
    const color = blendColor(
      code % levels,
      Math.floor(code / levels),
      theme,
      levels
    );
    scale.push([code / n, color], [(code + 1) / n, color]);
  }
  return scale;
}

/** The colour of each blend code 0 … levels² − 1 as [r, g, b] bytes (pictures of the raster). */
export function blendRgbs(
  theme: IPlotTheme,
  levels = BLEND_LEVELS
): [number, number, number][] {
  return Array.from({ length: levels * levels }, (_, code) =>
    parseHex(
      blendColor(code % levels, Math.floor(code / levels), theme, levels)
    )
  );
}

function parseHex(color: string): [number, number, number] {
  const hex = color.replace('#', '');
  return [0, 2, 4].map(i => parseInt(hex.slice(i, i + 2), 16)) as [
    number,
    number,
    number
  ];
}

function toHex(rgb: number[]): string {
  return `#${rgb.map(c => c.toString(16).padStart(2, '0')).join('')}`;
}
