/**
 * Dual expression end to end on the Kang demo: ISG15 vs IFI6 coloured by dataset, faceted
 * per dataset, the per-dataset correlations read from the page and held to scipy in the
 * kernel, the blend view, and a lasso selection shared with the embedding.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import {
  datasetCorrelations,
  expectDecodedInWorker,
  expectScipyCorrelations,
  kernelJson,
  openDualOnDemo,
  openSidebar,
  pasteGenes,
  runDemo,
  scipyByDataset
} from './helpers';

test.use({ autoGoto: true });

const DUAL = '#exprscope-dual';

async function rendered(page: IJupyterLabPageFixture, which: string) {
  await expect(
    page.locator(`${DUAL} ${which} .jp-exprscope-plot`)
  ).toHaveAttribute('data-rendered', 'true');
}

test('ISG15 vs IFI6 per dataset matches scipy; blend and lasso selection', async ({
  page,
  tmpPath
}) => {
  await page.setViewportSize({ width: 1400, height: 1200 });
  const { dual } = await openDualOnDemo(page, tmpPath);
  await expect(dual).toBeVisible();
  await dual.locator('#jp-exprscope-facet-by').selectOption('dataset');
  await rendered(page, '.jp-exprscope-dual-scatter');
  await rendered(page, '.jp-exprscope-dual-blend');

  expectScipyCorrelations(
    await datasetCorrelations(dual),
    await scipyByDataset(page, 'ISG15', 'IFI6')
  );

  // Δr stim − ctrl, over all cells and per cluster: exprscope.correlate(reference=)'s
  const deltaRows = dual.locator('.jp-exprscope-delta-r tbody tr');
  await expect(deltaRows.first()).toHaveAttribute('data-cluster', '');
  const shown = await deltaRows.evaluateAll(rows =>
    rows.map(row => ({
      cluster: (row as HTMLElement).dataset.cluster,
      deltaR: Number((row as HTMLElement).dataset.deltaR),
      p: Number((row as HTMLElement).dataset.p)
    }))
  );
  const python = await kernelJson<
    { cluster: string; delta_r: number | null; delta_r_p: number | null }[]
  >(
    page,
    [
      'import json',
      '_all = exprscope.correlate(adata, "ISG15", "IFI6", "dataset", reference="ctrl")',
      '_all["cluster"] = ""',
      '_per = exprscope.correlate(adata, "ISG15", "IFI6", ["dataset", "cluster"], reference="ctrl")',
      '_per["cluster"] = _per["group"].str.split(" · ").str[1]',
      'import pandas as pd',
      '_d = pd.concat([_all, _per])',
      '_d = _d[_d["group"].str.startswith("stim")]',
      'print(json.dumps([{"cluster": r.cluster, "delta_r": None if r.delta_r != r.delta_r else r.delta_r, "delta_r_p": None if r.delta_r_p != r.delta_r_p else r.delta_r_p} for r in _d.itertuples()]))'
    ].join('\n')
  );
  const byCluster = new Map(python.map(r => [r.cluster, r]));
  expect(shown.length).toBeGreaterThan(3);
  for (const row of shown) {
    const ref = byCluster.get(row.cluster!);
    expect(ref, `Δr of cluster '${row.cluster}'`).toBeDefined();
    if (ref!.delta_r === null) {
      expect(row.deltaR).toBeNaN();
    } else {
      expect(row.deltaR).toBeCloseTo(ref!.delta_r, 6);
      expect(row.p).toBeCloseTo(ref!.delta_r_p!, 6);
    }
  }
  await page.waitForTimeout(300);
  expect(
    await dual.locator('.jp-exprscope-dual-plots').screenshot()
  ).toMatchSnapshot('dual-isg15-ifi6-by-dataset.png');

  // Lasso in the scatter: the same cells are highlighted on the embedding.
  await page.evaluate(() => {
    (window as any).jupyterapp.shell.activateById('exprscope-dual');
  });
  await rendered(page, '.jp-exprscope-dual-scatter');
  const drag = dual.locator('.jp-exprscope-dual-scatter .nsewdrag').first();
  const box = (await drag.boundingBox())!;
  const at = (fx: number, fy: number) =>
    [box.x + fx * box.width, box.y + fy * box.height] as const;
  await page.mouse.move(...at(0.02, 0.02));
  await page.mouse.down();
  for (const [fx, fy] of [
    [0.98, 0.02],
    [0.98, 0.98],
    [0.02, 0.98],
    [0.02, 0.03]
  ]) {
    await page.mouse.move(...at(fx, fy), { steps: 8 });
  }
  await page.mouse.up();
  await expect(dual.locator('.jp-exprscope-selection')).toContainText(
    'cells selected'
  );
  const highlighted = await page.evaluate(selector => {
    const plot = document.querySelector(
      `${selector} .jp-exprscope-dual-blend .jp-exprscope-plot`
    ) as any;
    return plot.data
      .filter(
        (t: any) =>
          Array.isArray(t.selectedpoints) ||
          ArrayBuffer.isView(t.selectedpoints)
      )
      .reduce((n: number, t: any) => n + t.selectedpoints.length, 0);
  }, DUAL);
  const selected = Number(
    (await dual.locator('.jp-exprscope-selection').textContent())!
      .replace(/,/g, '')
      .match(/\d+/)![0]
  );
  expect(selected).toBeGreaterThan(0);
  expect(highlighted).toBe(selected);
});

test('50,000 cells are correlated in a Web Worker, with the same numbers', async ({
  page,
  tmpPath
}) => {
  await runDemo(page, tmpPath);
  const expected = await kernelJson<{ dataset: string; r: number }[]>(
    page,
    [
      'import json, anndata, numpy as np, pandas as pd',
      '_rng = np.random.default_rng(0); _n = 50000',
      '_a = _rng.gamma(2, 1, _n) * (_rng.random(_n) > 0.4)',
      '_b = (0.6 * _a + _rng.gamma(1, 1, _n)) * (_rng.random(_n) > 0.3)',
      '_obs = pd.DataFrame({"dataset": pd.Categorical(np.where(np.arange(_n) % 2, "a", "b")), "cluster": pd.Categorical((np.arange(_n) % 5).astype(str))}, index=[f"c{i}" for i in range(_n)])',
      'big = anndata.AnnData(X=np.stack([_a, _b], axis=1).astype("float32"), obs=_obs, var=pd.DataFrame(index=["G1", "G2"]))',
      'big.obsm["X_umap"] = _rng.normal(size=(_n, 2))',
      '_X = big.X.astype(np.float64)',
      'print(json.dumps([dict(dataset=d, r=float(np.corrcoef(_X[(big.obs["dataset"] == d).to_numpy()].T)[0, 1])) for d in big.obs["dataset"].cat.categories]))'
    ].join('\n')
  );
  const sidebar = await openSidebar(page);
  await sidebar.locator('#jp-exprscope-object').selectOption('big');
  await expect(sidebar.locator('#jp-exprscope-dataset')).toHaveValue('dataset');
  await pasteGenes(sidebar, 'G1, G2');
  await sidebar.locator('#jp-exprscope-open-dual').click();
  // The points come first, the correlations when the worker has them.
  await expect(
    page.locator(`${DUAL} .jp-exprscope-plot-status`)
  ).toHaveAttribute('data-status', 'ready', { timeout: 60000 });
  const rows = page.locator(`${DUAL} tr[data-section="dataset"]`);
  await expect(rows).toHaveCount(2);
  const shown = await rows.evaluateAll(trs =>
    trs.map(tr => ({
      dataset: tr.getAttribute('data-group'),
      r: Number(tr.getAttribute('data-pearson'))
    }))
  );
  expect(shown.map(s => s.dataset)).toEqual(expected.map(e => e.dataset));
  shown.forEach((s, i) =>
    expect(Math.abs(s.r - expected[i].r)).toBeLessThan(1e-6)
  );
  // The 50,000 cells' reply (two genes and the embedding) was moved to the decoding
  // worker and decoded there, on JupyterLab's default headers too
  await expectDecodedInWorker(page, 50_000 * 4 * 4);
  await rendered(page, '.jp-exprscope-dual-scatter');

  // Binned views: the embedding as an image of its pixels; a lasso on it still picks
  // cells, the same ones as counted in the kernel from the coordinates.
  await page.locator(`${DUAL} #jp-exprscope-density`).selectOption('on');
  const blendPlot = page.locator(
    `${DUAL} .jp-exprscope-dual-blend .jp-exprscope-plot`
  );
  await expect
    .poll(() => blendPlot.evaluate((p: any) => p.data?.[0]?.type))
    .toBe('image');
  await expect(page.locator(`${DUAL} .jp-exprscope-notes`)).toContainText(
    'pixels'
  );
  const drag = page
    .locator(`${DUAL} .jp-exprscope-dual-blend .nsewdrag`)
    .first();
  await drag.scrollIntoViewIfNeeded();
  const box = (await drag.boundingBox())!;
  const corners: [number, number][] = [
    [0.3, 0.25],
    [0.7, 0.25],
    [0.7, 0.65],
    [0.3, 0.65]
  ];
  await page.mouse.move(box.x + 0.3 * box.width, box.y + 0.25 * box.height);
  await page.mouse.down();
  for (const [fx, fy] of [...corners.slice(1), corners[0]]) {
    await page.mouse.move(box.x + fx * box.width, box.y + fy * box.height, {
      steps: 6
    });
  }
  await page.mouse.up();
  const selection = page.locator(`${DUAL} .jp-exprscope-selection`);
  await expect(selection).toContainText('cells selected');
  const selected = Number(
    (await selection.textContent())!.replace(/,/g, '').match(/\d+/)![0]
  );
  // The rectangle in data coordinates, from the axes as drawn
  const [x0, x1, y0, y1] = await blendPlot.evaluate((p: any) => {
    const xa = p._fullLayout.xaxis.range;
    const ya = p._fullLayout.yaxis.range;
    const at = (r: number[], f: number) => r[0] + f * (r[1] - r[0]);
    return [at(xa, 0.3), at(xa, 0.7), at(ya, 1 - 0.65), at(ya, 1 - 0.25)];
  });
  const inKernel = await kernelJson<{ n: number }>(
    page,
    [
      '_u = big.obsm["X_umap"]',
      `_in = (_u[:, 0] > ${x0}) & (_u[:, 0] < ${x1}) & (_u[:, 1] > ${y0}) & (_u[:, 1] < ${y1})`,
      'print(json.dumps(dict(n=int(_in.sum()))))'
    ].join('\n')
  );
  expect(inKernel.n).toBeGreaterThan(1000);
  // Mouse positions are whole pixels: cells within a pixel of the edge may differ
  expect(Math.abs(selected - inKernel.n)).toBeLessThan(inKernel.n * 0.02);
});

test('a new user at 1600 px: a tab beside the notebook, genes in their boxes, per-dataset r first', async ({
  page,
  tmpPath
}) => {
  await page.setViewportSize({ width: 1600, height: 1000 });
  const { dual } = await openDualOnDemo(page, tmpPath);
  await expect(dual).toBeVisible();
  await rendered(page, '.jp-exprscope-dual-scatter');

  // A tab in the notebook's own tab bar, not a split beside it
  const tabBars = await page.evaluate(() =>
    Array.from(
      document.querySelectorAll('#jp-main-dock-panel .lm-DockPanel-tabBar')
    ).map(bar =>
      Array.from(bar.querySelectorAll('.lm-TabBar-tabLabel')).map(
        label => label.textContent
      )
    )
  );
  expect(tabBars).toHaveLength(1);
  expect(tabBars[0]).toEqual(
    expect.arrayContaining(['demo.ipynb', 'Dual expression'])
  );
  // So the view has the width of the main area: the whole table fits
  const header = dual.locator('.jp-exprscope-stats th', {
    hasText: 'Double positive'
  });
  await header.scrollIntoViewIfNeeded();
  await expect(header).toBeInViewport({ ratio: 1 });
  const [cell, view] = await Promise.all([
    header.boundingBox(),
    dual.boundingBox()
  ]);
  expect(cell!.x + cell!.width).toBeLessThanOrEqual(view!.x + view!.width);

  // The chosen genes show in their boxes, not only the placeholder
  await expect(dual.locator('#jp-exprscope-gene-x')).toHaveValue('ISG15');
  await expect(dual.locator('#jp-exprscope-gene-y')).toHaveValue('IFI6');

  // One panel coloured by dataset: the r within each dataset first, the pooled r named so
  const title = await page.evaluate(selector => {
    const plot = document.querySelector(
      `${selector} .jp-exprscope-dual-scatter .jp-exprscope-plot`
    ) as any;
    return plot.layout.annotations[0].text as string;
  }, DUAL);
  expect(title).toMatch(/r: ctrl -?\d\.\d\d · stim -?\d\.\d\d · pooled r=/);
  const rows = await datasetCorrelations(dual);
  for (const row of rows) {
    expect(title).toContain(`${row.dataset} ${row.pearson.toFixed(2)}`);
  }

  // The embedding names its clusters; the key says what its numbers are
  await rendered(page, '.jp-exprscope-dual-blend');
  const blend = await page.evaluate(selector => {
    const plot = document.querySelector(
      `${selector} .jp-exprscope-dual-blend .jp-exprscope-plot`
    ) as any;
    return {
      labels: plot.layout.annotations
        .filter((a: any) => a.xref === 'x')
        .map((a: any) => a.text),
      keyTitle: plot.layout.xaxis2.title.text as string,
      both: plot.layout.annotations.some((a: any) => a.text === 'both')
    };
  }, DUAL);
  expect(blend.labels.length).toBeGreaterThan(1);
  expect(blend.keyTitle).toContain('ISG15');
  expect(blend.keyTitle).toContain('log-normalised expression');
  expect(blend.both).toBe(true);
});
