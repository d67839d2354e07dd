import {
  CATEGORY_PALETTE,
  categoryColor,
  categoryColors,
  missingCategoryColor
} from '../palette';
import { IPlotTheme, LIGHT_PLOT_THEME } from '../theme';

const DARK: IPlotTheme = { ...LIGHT_PLOT_THEME, isDark: true };

describe('categoryColors', () => {
  it('gives a category the colour of its position, whatever else is listed', () => {
    const three = categoryColors(['ctrl', 'stim', 'rest'], LIGHT_PLOT_THEME);
    const four = categoryColors(
      ['ctrl', 'stim', 'rest', 'late'],
      LIGHT_PLOT_THEME
    );
    expect(three.get('ctrl')).toBe(CATEGORY_PALETTE[0]);
    expect(three.get('stim')).toBe(CATEGORY_PALETTE[1]);
    for (const name of ['ctrl', 'stim', 'rest']) {
      expect(four.get(name)).toBe(three.get(name));
    }
    // Same colours on both themes, so that exports and screens agree
    expect(categoryColors(['ctrl', 'stim'], DARK)).toEqual(
      categoryColors(['ctrl', 'stim'], LIGHT_PLOT_THEME)
    );
    // Duplicate names keep their first colour
    expect(categoryColors(['a', 'b', 'a'], LIGHT_PLOT_THEME).get('a')).toBe(
      CATEGORY_PALETTE[0]
    );
  });

  it('extends past the palette with distinct valid colours', () => {
    const names = Array.from({ length: 60 }, (_, i) => `c${i}`);
    const colors = [...categoryColors(names, LIGHT_PLOT_THEME).values()];
    expect(colors).toHaveLength(60);
    expect(new Set(colors).size).toBe(60);
    for (const color of colors) {
      expect(color).toMatch(/^#[0-9a-f]{6}$/);
    }
    expect(categoryColor(25)).toBe(categoryColor(25));
  });

  it('keeps grey for missing, apart from every category colour', () => {
    for (const theme of [LIGHT_PLOT_THEME, DARK]) {
      const missing = missingCategoryColor(theme);
      expect(CATEGORY_PALETTE).not.toContain(missing);
      expect(missing).toMatch(/^#([0-9a-f]{2})\1\1$/);
    }
    expect(missingCategoryColor(DARK)).not.toBe(
      missingCategoryColor(LIGHT_PLOT_THEME)
    );
  });
});
