/**
 * Colours of the plots, taken from the JupyterLab theme so that plots follow light and dark
 * themes. Read from CSS variables at render time; the figure builders get a plain object.
 */

export interface IPlotTheme {
  isDark: boolean;
  background: string;
  font: string;
  mutedFont: string;
  grid: string;
  fontFamily: string;
  fontSize: number;
  /** Colour of masked / missing cells. */
  missing: string;
}

/** Light theme values, used outside a browser (tests) and as fallbacks. */
export const LIGHT_PLOT_THEME: IPlotTheme = {
  isDark: false,
  background: '#ffffff',
  font: 'rgba(0, 0, 0, 0.87)',
  mutedFont: 'rgba(0, 0, 0, 0.54)',
  grid: '#e0e0e0',
  fontFamily:
    'system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif',
  fontSize: 12,
  missing: '#d9d9d9'
};

/** The current theme's colours, read from the CSS variables on `element`. */
export function readPlotTheme(
  element: HTMLElement = document.body
): IPlotTheme {
  const style = getComputedStyle(element);
  const read = (name: string, fallback: string) =>
    style.getPropertyValue(name).trim() || fallback;
  const isDark = document.body.dataset.jpThemeLight === 'false';
  return {
    isDark,
    background: read('--jp-layout-color0', LIGHT_PLOT_THEME.background),
    font: read('--jp-ui-font-color1', LIGHT_PLOT_THEME.font),
    mutedFont: read('--jp-ui-font-color2', LIGHT_PLOT_THEME.mutedFont),
    grid: read('--jp-border-color2', LIGHT_PLOT_THEME.grid),
    fontFamily: read('--jp-ui-font-family', LIGHT_PLOT_THEME.fontFamily),
    fontSize: 12,
    missing: isDark ? '#4a4a4a' : LIGHT_PLOT_THEME.missing
  };
}

/**
 * Diverging scale for scaled values: blue = low, red = high (ColorBrewer RdBu stops),
 * with a quiet middle close to the theme's background, so that the farther a value is
 * from 0 the more it stands out. On the dark theme the lightness runs the other way
 * (light ends, near-black middle): there RdBu's dark ends stood out less than its
 * quarter points, and its middle grey was near the masked cells' grey (5.6 ΔE2000, now
 * 11.7); src/plots/__tests__/colorVision.spec.ts measures both, with colour-blind
 * simulation.
 */
export function divergingScale(theme: IPlotTheme): [number, string][] {
  if (theme.isDark) {
    return [
      [0, '#92c5de'],
      [0.25, '#4393c3'],
      [0.5, '#262626'],
      [0.75, '#d6604d'],
      [1, '#f4a582']
    ];
  }
  return [
    [0, '#2166ac'],
    [0.25, '#67a9cf'],
    [0.5, '#f7f7f7'],
    [0.75, '#ef8a62'],
    [1, '#b2182b']
  ];
}

/** Sequential scale for unscaled means and fractions (viridis: readable in both themes). */
export const SEQUENTIAL_SCALE: [number, string][] = [
  [0, '#440154'],
  [0.25, '#3b528b'],
  [0.5, '#21918c'],
  [0.75, '#5ec962'],
  [1, '#fde725']
];

/** Width in pixels of the outline of scatter dots. */
export const MARKER_OUTLINE_WIDTH = 0.5;

/**
 * The thin outline of scatter dots: dots coloured close to the background (a blend's
 * "neither" corner, near-white on white or dark grey on black) stay visible. It contrasts
 * with the background, at a low alpha so that dense clouds keep their colour.
 */
export function markerOutline(theme: IPlotTheme): {
  color: string;
  width: number;
} {
  return {
    color: theme.isDark ? 'rgba(255, 255, 255, 0.5)' : 'rgba(0, 0, 0, 0.4)',
    width: MARKER_OUTLINE_WIDTH
  };
}
