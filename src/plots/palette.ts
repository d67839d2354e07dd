/**
 * Category colours shared by every plot, so that a dataset or a cluster has the same
 * colour in the scatter, the embedding and any later plot.
 *
 * A category's colour depends only on its position in the full category list of its
 * column (never on which categories are shown), so filtering clusters or faceting does
 * not recolour anything.
 *
 * Chosen by measurement (src/plots/__tests__/colorVision.spec.ts: CIEDE2000 after a
 * Machado 2009 simulation of protanopia, deuteranopia and tritanopia):
 * - Positions 0–7 (datasets are usually ≤ 8): the Okabe–Ito colour-blind-safe set without
 *   its black (invisible on the dark theme), plus Paul Tol's "wine" (muted scheme). Every
 *   pair stays ≥ 11.6 ΔE2000 apart under normal vision, protanopia and deuteranopia
 *   (≥ 10.8 under tritanopia; Tableau 10, used before, fell to 0.7: its red and green
 *   merge for deuteranopes), ≥ 16 from the light and dark backgrounds and ≥ 11 from the
 *   "missing" grey. Ordered greedily, each next colour the one farthest from those
 *   before it, so that the first few are the most separable (blue and yellow stay apart
 *   for every kind of colour vision).
 * - Positions 8–19: picked the same way from Paul Tol's and Tableau 20's published
 *   colours; every pair of the 20 stays ≥ 5 ΔE2000 apart under every vision type.
 * - Beyond: golden-angle hues at alternating lightness (distinct, not colour-blind
 *   safe — that many categories are not told apart by colour anyway).
 * Grey is reserved for "missing" and appears in none of them.
 */
import type { IPlotTheme } from './theme';

export const CATEGORY_PALETTE: readonly string[] = [
  // Okabe & Ito (2008) "Color Universal Design", and Tol's wine
  '#0072b2', // blue
  '#f0e442', // yellow
  '#009e73', // bluish green
  '#882255', // wine (Tol muted)
  '#56b4e9', // sky blue
  '#d55e00', // vermillion
  '#cc79a7', // reddish purple
  '#e69f00', // orange
  // Paul Tol (bright, vibrant, muted, light) and Tableau 20
  '#332288', // indigo (Tol muted)
  '#8cd17d', // light green (Tableau 20)
  '#99ddff', // light cyan (Tol light)
  '#d7b5a6', // light brown (Tableau 20)
  '#cc3311', // red (Tol vibrant)
  '#aa4499', // purple (Tol muted)
  '#ee6677', // red (Tol bright)
  '#9c755f', // brown (Tableau 20)
  '#fabfd2', // light pink (Tableau 20)
  '#117733', // green (Tol muted)
  '#aa3377', // purple (Tol bright)
  '#f1ce63' // light yellow (Tableau 20)
];

/** Colour of the category at `index` of its column's category list. */
export function categoryColor(index: number): string {
  if (index < CATEGORY_PALETTE.length) {
    return CATEGORY_PALETTE[index];
  }
  const k = index - CATEGORY_PALETTE.length;
  const hue = (k * 137.508 + 20) % 360;
  const lightness = k % 2 === 0 ? 0.45 : 0.62;
  return hslToHex(hue, 0.55, lightness);
}

/** Colours of a column's categories by name (first occurrence wins for duplicates). */
export function categoryColors(
  categories: readonly string[],
  theme: IPlotTheme
): Map<string, string> {
  const colors = new Map<string, string>();
  categories.forEach((name, index) => {
    if (!colors.has(name)) {
      colors.set(name, categoryColor(index));
    }
  });
  return colors;
}

/**
 * Colour of cells without a label: a neutral grey that stays visible on the theme. Its
 * lightness is the one farthest (in ΔE2000, with each dichromacy) from the palette's
 * first colours on that theme: the reddish purple and green lie close to mid greys.
 */
export function missingCategoryColor(theme: IPlotTheme): string {
  return theme.isDark ? '#707070' : '#b8b8b8';
}

function hslToHex(hue: number, saturation: number, lightness: number): string {
  const a = saturation * Math.min(lightness, 1 - lightness);
  const channel = (n: number): string => {
    const k = (n + hue / 30) % 12;
    const value = lightness - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(value * 255)
      .toString(16)
      .padStart(2, '0');
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}
