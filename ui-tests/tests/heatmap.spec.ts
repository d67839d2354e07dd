/**
 * Heatmaps end to end on the Kang demo: build one from chosen genes and from the top
 * markers, regroup and rescale it, and hold the plotted numbers to the Python API's.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import {
  clusterReference,
  expectSameNumbers,
  HEATMAP,
  IReference,
  kernelJson,
  openSidebar,
  pasteGenes,
  plottedCells,
  runDemo
} from './helpers';

test.use({ autoGoto: true });

async function rowLabels(page: IJupyterLabPageFixture): Promise<string[]> {
  return page.evaluate(selector => {
    const plot = document.querySelector(
      `${selector} .jp-exprscope-plot`
    ) as any;
    return (plot.layout.yaxis.ticktext as string[]).map(t =>
      t.replace(/<[^>]+>/g, '')
    );
  }, HEATMAP);
}

const GENES = ['ISG15', 'IFI6', 'CD3E', 'MS4A1', 'LYZ', 'CD14', 'NKG7', 'GNLY'];

/** `exprscope.aggregate` of GENES per dataset × cluster ("stim · 3") on the in-memory adata. */
function datasetClusterReference(
  page: IJupyterLabPageFixture
): Promise<IReference[]> {
  return kernelJson<IReference[]>(
    page,
    [
      'import json',
      `_r = exprscope.aggregate(adata, ${JSON.stringify(GENES)}, ["dataset", "cluster"])`,
      '_r["group"] = _r["dataset"].astype(str) + " · " + _r["cluster"].astype(str)',
      'print(json.dumps(_r[["gene", "group", "n_cells", "mean", "frac_expressing"]].to_dict("records")))'
    ].join('\n')
  );
}

test('heatmap of chosen genes matches exprscope.aggregate, regrouped and rescaled', async ({
  page,
  tmpPath
}) => {
  await runDemo(page, tmpPath);
  const sidebar = await openSidebar(page);
  await pasteGenes(sidebar, `${GENES.join(', ')}, NOT_A_GENE`);
  await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
    `Loaded ${GENES.length} genes`
  );
  await sidebar.locator('#jp-exprscope-open-heatmap').click();
  const heatmap = page.locator(HEATMAP);
  await expect(heatmap).toBeVisible();

  // Clusters, unscaled means: every plotted number equals the Python API's.
  await heatmap.locator('#jp-exprscope-scaling').selectOption('none');
  const byCluster = await clusterReference(page, GENES);
  expectSameNumbers(await plottedCells(page), byCluster);
  await expect(await rowLabels(page)).toEqual(GENES);

  // Dataset × cluster columns ("stim · 3"): the same numbers for two grouping columns.
  await heatmap
    .locator('#jp-exprscope-group-by')
    .selectOption('dataset_cluster');
  await heatmap.locator('#jp-exprscope-min-cells').fill('0');
  const byBoth = await datasetClusterReference(page);
  expectSameNumbers(await plottedCells(page), byBoth);

  // z-scores per gene are clipped at ±2.5; a cluster subset keeps only its columns.
  await heatmap.locator('#jp-exprscope-scaling').selectOption('zscore');
  await heatmap.locator('#jp-exprscope-clusters').fill('0, 3 7');
  await heatmap.locator('#jp-exprscope-clusters').press('Enter');
  const subset = await plottedCells(page);
  expect(new Set(subset.map(c => c[1]))).toEqual(
    new Set([
      'ctrl · 0',
      'ctrl · 3',
      'ctrl · 7',
      'stim · 0',
      'stim · 3',
      'stim · 7'
    ])
  );
  for (const cell of subset) {
    expect(Math.abs(cell[5] ?? 0)).toBeLessThanOrEqual(2.5 + 1e-9);
  }

  // An unknown cluster and the missing gene are explained, not dropped silently.
  await heatmap.locator('#jp-exprscope-clusters').fill('0, 99');
  await heatmap.locator('#jp-exprscope-clusters').press('Enter');
  await expect(heatmap.locator('.jp-exprscope-notes')).toContainText(
    'Unknown cluster'
  );
  await expect(heatmap.locator('.jp-exprscope-notes')).toContainText('99');
  await heatmap.locator('#jp-exprscope-clusters').fill('');
  await heatmap.locator('#jp-exprscope-clusters').press('Enter');

  // Clustered genes with a dendrogram, back to clusters as columns, for the screenshot.
  await heatmap.locator('#jp-exprscope-group-by').selectOption('cluster');
  await heatmap.locator('#jp-exprscope-min-cells').fill('10');
  await heatmap.locator('#jp-exprscope-cluster-genes').check();
  await expect(heatmap.locator('.jp-exprscope-plot')).toHaveAttribute(
    'data-rendered',
    'true'
  );
  const labels = await rowLabels(page);
  expect(new Set(labels)).toEqual(new Set(GENES));
  await page.waitForTimeout(300);
  expect(
    await heatmap.locator('.jp-exprscope-figure').screenshot()
  ).toMatchSnapshot('heatmap-genes-clustered.png');
});

test('top markers per cluster match exprscope.markers, on X and integrated', async ({
  page,
  tmpPath
}) => {
  await page.setViewportSize({ width: 1280, height: 1400 });
  await runDemo(page, tmpPath);
  const sidebar = await openSidebar(page);
  await expect(sidebar.locator('#jp-exprscope-object')).toContainText('adata');
  await sidebar.locator('#jp-exprscope-open-heatmap').click();
  const heatmap = page.locator(HEATMAP);
  await heatmap.locator('#jp-exprscope-n-markers').fill('5');
  await heatmap
    .locator('input[name="jp-exprscope-gene-source"]')
    .nth(1)
    .check();
  await expect(heatmap.locator('.jp-exprscope-marker-source')).toContainText(
    'Welch t-test'
  );
  const expected = await kernelJson<string[]>(
    page,
    [
      'import json',
      '_m = exprscope.markers(adata, "cluster", n=5, use_stored=False)',
      'print(json.dumps(list(dict.fromkeys(_m["gene"]))))'
    ].join('\n')
  );
  expect(await rowLabels(page).then(l => l.map(s => s.split(' ')[0]))).toEqual(
    expected
  );
  await page.waitForTimeout(300);
  expect(
    await heatmap.locator('.jp-exprscope-figure').screenshot()
  ).toMatchSnapshot('heatmap-top-markers.png');

  // Dot plot on the same rows: sizes are the fractions expressing.
  await heatmap.locator('#jp-exprscope-value').selectOption('dot');
  const dots = await plottedCells(page);
  expect(dots.length).toBeGreaterThan(0);
  for (const cell of dots) {
    expect(cell[4]).toBeGreaterThanOrEqual(0);
    expect(cell[4]).toBeLessThanOrEqual(1);
  }

  // Marker test: Wilcoxon rank-sum, computed in the kernel by its markers op: the
  // rows of exprscope.markers(method="wilcoxon") (held to scanpy's rank_genes_groups
  // in pytest)
  await heatmap.locator('#jp-exprscope-value').selectOption('mean');
  await heatmap.locator('#jp-exprscope-marker-method').selectOption('wilcoxon');
  await expect(heatmap.locator('.jp-exprscope-marker-source')).toContainText(
    'Wilcoxon rank-sum',
    { timeout: 60_000 }
  );
  const wilcoxon = await kernelJson<string[]>(
    page,
    [
      'import json',
      '_m = exprscope.markers(adata, "cluster", n=5, method="wilcoxon", use_stored=False)',
      'print(json.dumps(list(dict.fromkeys(_m["gene"]))))'
    ].join('\n')
  );
  expect(wilcoxon).not.toEqual(expected);
  await expect
    .poll(async () => (await rowLabels(page)).map(s => s.split(' ')[0]))
    .toEqual(wilcoxon);
  await heatmap.locator('#jp-exprscope-marker-method').selectOption('t-test');
  await expect(heatmap.locator('.jp-exprscope-marker-source')).toContainText(
    'Welch t-test'
  );

  // The integrated layer lacks most genes: markers come from the genes it holds.
  await heatmap
    .locator('#jp-exprscope-heatmap-matrix')
    .selectOption('layers/integrated');
  await expect(heatmap.locator('.jp-exprscope-marker-source')).toContainText(
    "layers['integrated']"
  );
  const integrated = await kernelJson<string[]>(
    page,
    [
      'import json',
      '_m = exprscope.markers(adata, "cluster", n=5, layer="integrated", use_stored=False)',
      'print(json.dumps(list(dict.fromkeys(_m["gene"]))))'
    ].join('\n')
  );
  await expect
    .poll(async () => (await rowLabels(page)).map(s => s.split(' ')[0]))
    .toEqual(integrated);
});

/** The conserved-markers tables' rows: cluster, gene, category, specific_to, combined p. */
async function conservedRows(
  page: IJupyterLabPageFixture
): Promise<[string, string, string, string | null, number][]> {
  return page.evaluate(selector => {
    const rows = document.querySelectorAll(
      `${selector} .jp-exprscope-conserved-table tbody tr[data-gene]`
    );
    return Array.from(rows).map(row => {
      const tr = row as HTMLElement;
      const table = tr.closest('table') as HTMLElement;
      return [
        table.dataset.cluster as string,
        tr.dataset.gene as string,
        tr.dataset.category as string,
        tr.dataset.specificTo || null,
        Number(tr.dataset.combinedP)
      ] as [string, string, string, string | null, number];
    });
  }, HEATMAP);
}

function expectSameConservedRows(
  page: [string, string, string, string | null, number][],
  kernel: [string, string, string, string | null, number][]
): void {
  expect(page.map(r => r.slice(0, 4))).toEqual(kernel.map(r => r.slice(0, 4)));
  page.forEach((row, i) => {
    const expected = kernel[i][4];
    expect(Math.abs(row[4] - expected)).toBeLessThanOrEqual(
      1e-6 * Math.abs(expected) + 1e-300
    );
  });
}

test('conserved and dataset-specific markers match exprscope.conserved_markers', async ({
  page,
  tmpPath
}) => {
  await page.setViewportSize({ width: 1600, height: 1000 });
  await runDemo(page, tmpPath);
  const sidebar = await openSidebar(page);
  await expect(sidebar.locator('#jp-exprscope-object')).toContainText('adata');
  await sidebar.locator('#jp-exprscope-open-heatmap').click();
  const heatmap = page.locator(HEATMAP);
  await heatmap.locator('#jp-exprscope-n-markers').fill('5');
  await heatmap
    .locator('input[name="jp-exprscope-gene-source"]')
    .nth(1)
    .check();
  const section = heatmap.locator('.jp-exprscope-conserved');
  await section.locator('summary').click();
  await expect(
    section.locator('.jp-exprscope-conserved-table').first()
  ).toBeVisible({
    timeout: 60_000
  });
  const reference = (combine: string) =>
    kernelJson<[string, string, string, string | null, number][]>(
      page,
      [
        'import json',
        `_c = exprscope.conserved_markers(adata, "cluster", "dataset", n=5, combine="${combine}")`,
        'print(json.dumps(_c[["cluster", "gene", "category", "specific_to", "combined_p"]].astype(object).values.tolist()))'
      ].join('\n')
    );
  const byMax = await reference('max');
  // Kang: cell-type markers hold across stimulation, so every cluster has conserved ones.
  expect(byMax.filter(r => r[2] === 'conserved').length).toBeGreaterThan(10);
  expect(byMax.some(r => r[2] === 'specific' && r[3] === 'stim')).toBe(true);
  expectSameConservedRows(await conservedRows(page), byMax);

  await section
    .locator('#jp-exprscope-conserved-combine')
    .selectOption('fisher');
  await expect(
    section.locator('.jp-exprscope-conserved-note').first()
  ).toContainText("Fisher's combined p");
  await expect(
    section.locator('.jp-exprscope-conserved-table').first()
  ).toBeVisible();
  expectSameConservedRows(await conservedRows(page), await reference('fisher'));

  // The table follows the heatmap's cluster subset.
  await heatmap.locator('#jp-exprscope-clusters').fill('0, 3');
  await heatmap.locator('#jp-exprscope-clusters').press('Enter');
  await expect(section.locator('.jp-exprscope-conserved-table')).toHaveCount(2);
});

test('a backed h5ad takes the kernel path and plots the in-memory numbers', async ({
  page,
  tmpPath
}) => {
  await runDemo(page, tmpPath);
  // The kernel runs in the notebook's folder: the file stays in the test's folder.
  await kernelJson(
    page,
    [
      'import anndata, json',
      'adata.write_h5ad("kang_backed.h5ad")',
      'backed = anndata.read_h5ad("kang_backed.h5ad", backed="r")',
      'print(json.dumps(backed.isbacked))'
    ].join('\n')
  );
  const sidebar = await openSidebar(page);
  await sidebar.locator('#jp-exprscope-object').selectOption('backed');
  // Out of core: no cells are brought into the browser, the plots ask for sums.
  await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
    'Computed in the kernel'
  );
  await pasteGenes(sidebar, GENES.join(', '));
  await sidebar.locator('#jp-exprscope-open-heatmap').click();
  const heatmap = page.locator(HEATMAP);
  await heatmap.locator('#jp-exprscope-scaling').selectOption('none');
  await heatmap
    .locator('#jp-exprscope-group-by')
    .selectOption('dataset_cluster');
  await heatmap.locator('#jp-exprscope-min-cells').fill('0');
  await expect(heatmap.locator('.jp-exprscope-notes')).toContainText(
    'in the kernel'
  );
  const reference = await datasetClusterReference(page);
  expectSameNumbers(await plottedCells(page), reference);
});
