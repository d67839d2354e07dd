/**
 * Plots a reader takes in at a glance (issue 18), on the Kang demo in light and dark
 * theme: the dataset × cluster heatmap split by cluster with its annotation bars, the dot
 * plot, and the view's plot area in the first viewport. Axis labels are measured in the
 * page: no two overlap, up to 100 columns. The dual view is shot in both themes too.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import {
  DEMO,
  HEATMAP,
  inNotebook,
  openDualOnDemo,
  openSidebar,
  pasteGenes,
  runDemo
} from './helpers';

test.use({ autoGoto: true });

const GENES = ['ISG15', 'IFI6', 'CD3E', 'MS4A1', 'LYZ', 'CD14', 'NKG7', 'GNLY'];

/** The boxes of the drawn axis labels (x: column ticks, y: row ticks), in page pixels. */
async function tickBoxes(
  page: IJupyterLabPageFixture,
  axis: 'x' | 'y'
): Promise<{ text: string; x: number; y: number; w: number; h: number }[]> {
  return page.evaluate(
    ([selector, which]) =>
      Array.from(
        document.querySelectorAll(
          `${selector} .jp-exprscope-plot .${which}tick text`
        )
      )
        .map(node => {
          const box = (node as SVGGraphicsElement).getBoundingClientRect();
          return {
            text: node.textContent ?? '',
            x: box.x,
            y: box.y,
            w: box.width,
            h: box.height
          };
        })
        .filter(box => box.w > 0 && box.text !== ''),
    [HEATMAP, axis] as const
  );
}

/**
 * Pairs of labels whose boxes overlap. Rotated labels have axis-aligned boxes larger than
 * their text, so those are compared as the rotated strips they are: along the axis, their
 * anchors must be a strip's thickness apart once projected across the text's direction.
 */
function overlapping(
  boxes: { text: string; x: number; y: number; w: number; h: number }[],
  angle: number,
  lineHeight: number
): string[] {
  const found: string[] = [];
  const sorted = [...boxes].sort((a, b) => a.x - b.x);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    if (angle === 0) {
      const apart =
        b.x >= a.x + a.w - 0.5 || b.y >= a.y + a.h || a.y >= b.y + b.h;
      if (!apart) {
        found.push(`${a.text} | ${b.text}`);
      }
    } else {
      // Right ends (the anchors of labels turned counter-clockwise) along the axis
      const gap = b.x + b.w - (a.x + a.w);
      const across = gap * Math.sin((Math.abs(angle) * Math.PI) / 180);
      if (across < lineHeight * 0.95) {
        found.push(`${a.text} | ${b.text} (${across.toFixed(1)} px)`);
      }
    }
  }
  return found;
}

async function columnLabelAngle(page: IJupyterLabPageFixture): Promise<number> {
  return page.evaluate(
    selector =>
      (document.querySelector(`${selector} .jp-exprscope-plot`) as any)
        ._fullLayout.xaxis.tickangle ?? 0,
    HEATMAP
  );
}

async function expectNoOverlap(page: IJupyterLabPageFixture) {
  await expect(page.locator(`${HEATMAP} .jp-exprscope-plot`)).toHaveAttribute(
    'data-rendered',
    'true'
  );
  const angle = Number(await columnLabelAngle(page));
  const x = await tickBoxes(page, 'x');
  expect(x.length).toBeGreaterThan(0);
  expect(overlapping(x, Number.isFinite(angle) ? angle : 0, 14)).toEqual([]);
  const y = await tickBoxes(page, 'y');
  const rows = [...y].sort((a, b) => a.y - b.y);
  for (let i = 1; i < rows.length; i++) {
    expect(
      rows[i].y,
      `${rows[i - 1].text} | ${rows[i].text}`
    ).toBeGreaterThanOrEqual(rows[i - 1].y + rows[i - 1].h - 0.5);
  }
}

async function setTheme(page: IJupyterLabPageFixture, dark: boolean) {
  await page.theme.setTheme(dark ? 'JupyterLab Dark' : 'JupyterLab Light');
}

for (const dark of [false, true]) {
  const theme = dark ? 'dark' : 'light';
  test(`dataset × cluster heatmap and dot plot, ${theme}: split by cluster, annotation bars, no label overlaps`, async ({
    page,
    tmpPath
  }) => {
    await page.setViewportSize({ width: 1600, height: 1000 });
    await setTheme(page, dark);
    await runDemo(page, tmpPath);
    const sidebar = await openSidebar(page);
    await pasteGenes(sidebar, GENES.join(', '));
    await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
      `Loaded ${GENES.length} genes`
    );
    await sidebar.locator('#jp-exprscope-open-heatmap').click();
    const heatmap = page.locator(HEATMAP);
    await heatmap
      .locator('#jp-exprscope-group-by')
      .selectOption('dataset_cluster');
    await heatmap.locator('#jp-exprscope-scaling').selectOption('zscore');
    await expectNoOverlap(page);
    // Each cluster is named once; the datasets are the legend's
    const labels = (await tickBoxes(page, 'x')).map(b => b.text);
    expect(new Set(labels).size).toBe(labels.length);
    expect(labels.some(l => l.includes('·'))).toBe(false);
    await expect(
      // (Plotly's second legend, the datasets', is the group "legend2")
      heatmap.locator('.jp-exprscope-plot .legend2 text', { hasText: 'stim' })
    ).toBeVisible();
    // The plot starts in the first viewport
    const top = await heatmap
      .locator('.jp-exprscope-plot')
      .evaluate(node => node.getBoundingClientRect().top);
    expect(top).toBeLessThan(1000);
    await page.waitForTimeout(300);
    expect(
      await heatmap.locator('.jp-exprscope-figure').screenshot()
    ).toMatchSnapshot(`heatmap-split-${theme}.png`);

    await heatmap.locator('#jp-exprscope-value').selectOption('dot');
    await expectNoOverlap(page);
    await page.waitForTimeout(300);
    expect(
      await heatmap.locator('.jp-exprscope-figure').screenshot()
    ).toMatchSnapshot(`dotplot-split-${theme}.png`);
  });
}

test('100 columns: labels stay clear of each other, the view scrolls sideways when it must', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(240_000);
  await page.setViewportSize({ width: 1280, height: 800 });
  await runDemo(page, tmpPath);
  await inNotebook(page, DEMO, async () => {
    const index = await page.notebook.getCellCount();
    await page.notebook.addCell(
      'code',
      [
        'from exprscope.synthetic import make_synthetic',
        'wide = make_synthetic(20000, 60, n_clusters=50, seed=3)',
        'wide.obs["cluster"] = wide.obs["cluster"].cat.rename_categories(',
        '    lambda c: f"cell type {c}")'
      ].join('\n')
    );
    await page.notebook.runCell(index);
  });
  const sidebar = await openSidebar(page);
  await sidebar.locator('#jp-exprscope-object').selectOption('wide');
  await pasteGenes(sidebar, 'GENE00001, GENE00002, GENE00003');
  await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
    'Loaded 3 genes'
  );
  await sidebar.locator('#jp-exprscope-open-heatmap').click();
  const heatmap = page.locator(HEATMAP);
  await heatmap.locator('#jp-exprscope-min-cells').fill('0');
  // 50 clusters, then 50 × 2 datasets = 100 columns
  await heatmap.locator('#jp-exprscope-group-by').selectOption('cluster');
  await expectNoOverlap(page);
  await heatmap
    .locator('#jp-exprscope-group-by')
    .selectOption('dataset_cluster');
  await expect
    .poll(() =>
      page.evaluate(
        selector =>
          (
            document.querySelector(`${selector} .jp-exprscope-plot`) as any
          ).data.find((t: any) => t.name === 'n cells')?.x.length,
        HEATMAP
      )
    )
    .toBe(100);
  await expectNoOverlap(page);
});

test('at 1280×800 the heatmap starts in the first viewport, and folding its settings lifts it', async ({
  page,
  tmpPath
}) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await runDemo(page, tmpPath);
  const sidebar = await openSidebar(page);
  await pasteGenes(sidebar, GENES.join(', '));
  await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
    `Loaded ${GENES.length} genes`
  );
  await sidebar.locator('#jp-exprscope-open-heatmap').click();
  const heatmap = page.locator(HEATMAP);
  const plot = heatmap.locator('.jp-exprscope-plot');
  await expect(plot).toHaveAttribute('data-rendered', 'true');
  const top = () => plot.evaluate(node => node.getBoundingClientRect().top);
  const open = await top();
  // The whole first row of cells is on screen, not only the plot's top edge
  expect(open).toBeLessThan(800 - 200);
  const summary = heatmap.locator('.jp-exprscope-settings > summary');
  await summary.focus();
  await page.keyboard.press('Enter');
  await expect(heatmap.locator('.jp-exprscope-settings-summary')).toContainText(
    'Clusters'
  );
  await expect.poll(top).toBeLessThan(open - 100);
  await page.keyboard.press('Enter');
  await expect(heatmap.locator('#jp-exprscope-group-by')).toBeVisible();
});

test('the dual view: one row of actions, a keyboard menu, the scatter on screen at 1280×800, a sortable table read on one line', async ({
  page,
  tmpPath
}) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  const { dual } = await openDualOnDemo(page, tmpPath);
  const scatter = dual.locator('.jp-exprscope-dual-scatter .jp-exprscope-plot');
  await expect(scatter).toHaveAttribute('data-rendered', 'true');

  // The actions stand in one row: Export and the menu button side by side, their
  // vertical middles level
  const actions = dual.locator('.jp-exprscope-plot-actions');
  const middles = await actions.evaluate(node =>
    Array.from(node.children)
      .map(child => child.getBoundingClientRect())
      .filter(box => box.height > 0)
      .map(box => box.top + box.height / 2)
  );
  expect(middles.length).toBeGreaterThan(1);
  expect(Math.max(...middles) - Math.min(...middles)).toBeLessThan(6);
  // The scatter's plot area starts in the first viewport
  const top = await scatter.evaluate(node => node.getBoundingClientRect().top);
  expect(top).toBeLessThan(800 - 200);

  // The menu by keyboard: ArrowDown opens it on its first item, Escape gives the
  // focus back to its button; every item is named
  const more = dual.locator('.jp-exprscope-more-actions');
  await expect(more).toHaveAttribute('aria-label', 'More actions');
  await more.focus();
  await page.keyboard.press('ArrowDown');
  const items = dual.locator('.jp-exprscope-menu [role="menuitem"]');
  await expect(items.first()).toBeFocused();
  expect(await items.allInnerTexts()).toEqual(
    expect.arrayContaining(['Copy parameters', 'Load parameters'])
  );
  await page.keyboard.press('ArrowDown');
  await expect(items.nth(1)).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dual.locator('.jp-exprscope-menu')).toHaveCount(0);
  await expect(more).toBeFocused();

  // "Pearson r [95% CI]" and its values each on one line
  const table = dual.locator('table.jp-exprscope-stats').first();
  const lines = await table.evaluate(node => {
    const cells = Array.from(
      node.querySelectorAll(
        'td.jp-exprscope-pearson, th[data-column="pearson"]'
      )
    ) as HTMLElement[];
    return cells.map(cell => {
      const style = getComputedStyle(cell);
      const padding =
        parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
      const lineHeight =
        parseFloat(style.lineHeight) || 1.3 * parseFloat(style.fontSize);
      return (cell.clientHeight - padding) / lineHeight;
    });
  });
  expect(lines.length).toBeGreaterThan(1);
  lines.forEach(n => expect(n).toBeLessThan(1.6));

  // Sorting by Pearson r: the rows follow r, descending on the second press
  const header = table.locator('th[data-column="pearson"]');
  const pearson = () =>
    table
      .locator('tbody tr')
      .evaluateAll(rows =>
        rows.map(row => Number((row as HTMLElement).dataset.pearson))
      );
  await header.locator('button').click();
  await expect(header).toHaveAttribute('aria-sort', 'ascending');
  const ascending = (await pearson()).filter(r => !Number.isNaN(r));
  expect(ascending.length).toBeGreaterThan(1);
  expect(ascending).toEqual([...ascending].sort((a, b) => a - b));
  await header.locator('button').press('Enter');
  await expect(header).toHaveAttribute('aria-sort', 'descending');
  const descending = (await pearson()).filter(r => !Number.isNaN(r));
  expect(descending).toEqual([...descending].sort((a, b) => b - a));
});

for (const dark of [false, true]) {
  const theme = dark ? 'dark' : 'light';
  test(`the dual view, ${theme}: the scatter, the blend on the UMAP and the table in the first viewport at 1600×1000`, async ({
    page,
    tmpPath
  }) => {
    await page.setViewportSize({ width: 1600, height: 1000 });
    await setTheme(page, dark);
    const { dual } = await openDualOnDemo(page, tmpPath);
    const scatter = dual.locator(
      '.jp-exprscope-dual-scatter .jp-exprscope-plot'
    );
    await expect(scatter).toHaveAttribute('data-rendered', 'true');
    await expect(
      dual.locator('.jp-exprscope-dual-blend .jp-exprscope-plot')
    ).toHaveAttribute('data-rendered', 'true');
    await expect(
      dual.locator('table.jp-exprscope-stats').first()
    ).toBeVisible();
    const top = await scatter.evaluate(
      node => node.getBoundingClientRect().top
    );
    expect(top).toBeLessThan(1000 - 300);
    await page.waitForTimeout(300);
    expect(
      await dual.locator('.jp-exprscope-dual-plots').screenshot()
    ).toMatchSnapshot(`dual-view-${theme}.png`);
    const table = dual.locator('table.jp-exprscope-stats').first();
    await table.scrollIntoViewIfNeeded();
    expect(await table.screenshot()).toMatchSnapshot(`dual-table-${theme}.png`);
  });
}
