/**
 * Category colours shared by every plot, so that a dataset or a cluster has the same
 * colour in the scatter, the embedding and any later plot.
 *
 * A category's colour depends only on its position in the full category list of its
 * column (never on which categories are shown), so filtering clusters or faceting does
 * not recolour anything. Positions 0–9: Tableau 10 (designed to stay apart for common
 * colour-vision deficiencies and readable on light and dark backgrounds), with its grey
 * replaced by olive so that grey stays reserved for "missing"; 10–19: the light halves of
 * Tableau 20; beyond: golden-angle hues at alternating lightness (distinct, not
 * colour-blind safe — that many categories are not told apart by colour anyway).
 */
import type { IPlotTheme } from './theme';

export const CATEGORY_PALETTE: readonly string[] = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#b6992d',
  '#a0cbe8',
  '#ffbe7d',
  '#ff9d9a',
  '#86bcb6',
  '#8cd17d',
  '#f1ce63',
  '#d4a6c8',
  '#fabfd2',
  '#d7b5a6',
  '#79706e'
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

/** Colour of cells without a label: a neutral grey that stays visible on the theme. */
export function missingCategoryColor(theme: IPlotTheme): string {
  return theme.isDark ? '#7a7a7a' : '#b0b0b0';
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
