/**
 * The R kernel end to end: an R notebook (IRkernel, kernel "ir") holding the real Seurat 4
 * object with an integrated assay (exprscope/data/kang_seurat.rds), the sidebar on it, a
 * dual-expression plot whose per-dataset correlations equal R's cor(), a heatmap whose
 * linear-space means equal Seurat's AverageExpression, and a request made while a cell runs
 * waiting for the kernel ("Kernel busy") instead of failing.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import * as path from 'path';

import {
  kernelJson,
  openSidebar,
  pasteGenes,
  plotAction,
  showView
} from './helpers';

test.use({ autoGoto: true });

const NOTEBOOK = 'seurat.ipynb';
const RDS = path.resolve(__dirname, '../../exprscope/data/kang_seurat.rds');
const DUAL = '#exprscope-dual';
const HEATMAP = '#exprscope-heatmap';
const HEATMAP_GENES = ['ISG15', 'IFI6', 'CD3E', 'MS4A1', 'LYZ', 'CD14'];

async function runCell(page: IJupyterLabPageFixture, code: string) {
  await page.notebook.activate(NOTEBOOK);
  const index = await page.notebook.getCellCount();
  await page.notebook.addCell('code', code);
  await page.notebook.runCell(index);
}

async function rendered(page: IJupyterLabPageFixture, selector: string) {
  await expect(
    page.locator(`${selector} .jp-exprscope-plot`).first()
  ).toHaveAttribute('data-rendered', 'true');
}

/**
 * The dual view's per-dataset rows equal R's cor() on Kang's ISG15 and IFI6, per
 * `orig.ident` (`copies`: how many times the plotted object holds Kang's cells).
 */
async function expectCorrelationsOfR(
  page: IJupyterLabPageFixture,
  notebook: string,
  copies = 1
) {
  const rows = page.locator(`${DUAL} tr[data-section="dataset"]`);
  await expect(rows).toHaveCount(2);
  const shown = await rows.evaluateAll(trs =>
    trs.map(tr => ({
      dataset: tr.getAttribute('data-group'),
      n: Number(tr.getAttribute('data-n')),
      pearson: Number(tr.getAttribute('data-pearson')),
      spearman: Number(tr.getAttribute('data-spearman'))
    }))
  );
  const fromR = await kernelJson<
    { dataset: string; n: number; pearson: number; spearman: number }[]
  >(
    page,
    [
      'local({',
      "  d <- GetAssayData(kang, assay = 'RNA', slot = 'data')[c('ISG15', 'IFI6'), ]",
      '  out <- lapply(sort(unique(kang$orig.ident)), function(s) {',
      '    x <- d[1, kang$orig.ident == s]; y <- d[2, kang$orig.ident == s]',
      `    list(dataset = s, n = ${copies}L * length(x), pearson = cor(x, y, method = 'pearson'),`,
      "      spearman = cor(x, y, method = 'spearman'))",
      '  })',
      '  cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA))',
      '})'
    ].join('\n'),
    notebook
  );
  expect(shown.map(s => s.dataset)).toEqual(fromR.map(r => r.dataset));
  shown.forEach((row, i) => {
    expect(row.n).toBe(fromR[i].n);
    expect(Math.abs(row.pearson - fromR[i].pearson)).toBeLessThan(1e-6);
    expect(Math.abs(row.spearman - fromR[i].spearman)).toBeLessThan(1e-6);
  });
}

/** Pick an object of Kang's layout in the sidebar: its dataset and cluster columns are guessed. */
async function selectKangLike(sidebar: Locator, object: string) {
  await sidebar.locator('#jp-exprscope-object').selectOption(object);
  await expect(sidebar.locator('#jp-exprscope-dataset')).toHaveValue(
    'orig.ident'
  );
  await expect(sidebar.locator('#jp-exprscope-cluster')).toHaveValue(
    'seurat_clusters'
  );
}

/** Open the heatmap of the sidebar's genes: per cluster, linear-space means, unscaled. */
async function openLinearMeansHeatmap(
  page: IJupyterLabPageFixture,
  sidebar: Locator
) {
  await sidebar.locator('#jp-exprscope-open-heatmap').click();
  const heatmap = page.locator(HEATMAP);
  await expect(heatmap).toBeVisible();
  await heatmap.locator('#jp-exprscope-group-by').selectOption('cluster');
  await heatmap.locator('#jp-exprscope-scaling').selectOption('none');
  await heatmap.locator('#jp-exprscope-value').selectOption('linear_mean');
  await heatmap.locator('#jp-exprscope-min-cells').fill('0');
  await rendered(page, HEATMAP);
  return heatmap;
}

/** The heatmap's cells as drawn: gene, column, cells, value. */
function heatmapCells(
  page: IJupyterLabPageFixture
): Promise<[string, string, number, number | null][]> {
  return page.evaluate(selector => {
    const plot = document.querySelector(
      `${selector} .jp-exprscope-plot`
    ) as any;
    const trace = plot.data.find((t: any) => t.name === 'expression');
    return trace.type === 'heatmap'
      ? trace.customdata.flat()
      : trace.customdata;
  }, HEATMAP);
}

/**
 * Seurat's linear-space means of HEATMAP_GENES per cluster of `kang`, log1p'd, from R:
 * the heatmap's reference. `copies`: how many times the plotted object holds Kang's cells.
 */
function averageExpression(
  page: IJupyterLabPageFixture,
  notebook: string,
  copies = 1
) {
  return kernelJson<
    { gene: string; cluster: string; n: number; mean: number }[]
  >(
    page,
    [
      'local({',
      `  genes <- c(${HEATMAP_GENES.map(g => JSON.stringify(g)).join(', ')})`,
      "  a <- AverageExpression(kang, assays = 'RNA', slot = 'data', group.by = 'seurat_clusters',",
      '    features = genes, verbose = FALSE)$RNA',
      '  n <- table(kang$seurat_clusters)',
      '  out <- list()',
      '  for (g in genes) for (c in colnames(a)) out[[length(out) + 1]] <- list(',
      `    gene = g, cluster = c, n = ${copies}L * as.integer(n[[c]]), mean = log1p(a[g, c]))`,
      '  cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA))',
      '})'
    ].join('\n'),
    notebook
  );
}

/** Every drawn cell of the heatmap equals its reference (cells and mean). */
function expectSameMeans(
  plotted: [string, string, number, number | null][],
  average: { gene: string; cluster: string; n: number; mean: number }[]
) {
  const byKey = new Map(average.map(r => [`${r.gene}|${r.cluster}`, r]));
  expect(plotted.length).toBe(average.length);
  for (const [gene, column, n, mean] of plotted) {
    const reference = byKey.get(`${gene}|${column}`);
    expect(reference, `${gene} in ${column}`).toBeDefined();
    expect(n).toBe(reference!.n);
    expect(mean).toBeCloseTo(reference!.mean, 5);
  }
}

test('Seurat in an R kernel: dual expression equals cor(), heatmap equals AverageExpression', async ({
  page
}) => {
  await page.setViewportSize({ width: 1400, height: 1200 });
  // In the test's folder; the object is read by absolute path from the repository.
  await page.notebook.createNew(NOTEBOOK, { kernel: 'ir' });
  await runCell(
    page,
    [
      'suppressPackageStartupMessages(library(Seurat))',
      `kang <- readRDS(${JSON.stringify(RDS)})`
    ].join('\n')
  );

  const sidebar = await openSidebar(page);
  await selectKangLike(sidebar, 'kang');
  await expect(sidebar.locator('#jp-exprscope-matrix')).toHaveValue('RNA/data');

  // Dual expression, faceted per dataset: Pearson and Spearman equal R's cor().
  await pasteGenes(sidebar, 'ISG15, IFI6');
  await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
    'Loaded 2 genes'
  );
  await sidebar.locator('#jp-exprscope-open-dual').click();
  const dual = page.locator(DUAL);
  await expect(dual).toBeVisible();
  await dual.locator('#jp-exprscope-facet-by').selectOption('dataset');
  await rendered(page, `${DUAL} .jp-exprscope-dual-scatter`);
  await expectCorrelationsOfR(page, NOTEBOOK);

  // Heatmap per cluster, Seurat's linear-space mean: equals log1p(AverageExpression()).
  await pasteGenes(sidebar, `${HEATMAP_GENES.join(', ')}, NOT_A_GENE`);
  await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
    `Loaded ${HEATMAP_GENES.length} genes`
  );
  await openLinearMeansHeatmap(page, sidebar);
  expectSameMeans(
    await heatmapCells(page),
    await averageExpression(page, NOTEBOOK)
  );
  // The unknown gene is reported where it was typed, never dropped silently.
  await expect(sidebar.locator('.jp-exprscope-messages')).toContainText(
    'NOT_A_GENE'
  );

  // While a cell runs, requests wait for the kernel and the sidebar says so.
  await page.notebook.activate(NOTEBOOK);
  const index = await page.notebook.getCellCount();
  await page.notebook.addCell('code', 'Sys.sleep(8)');
  const running = page.notebook.runCell(index);
  await pasteGenes(sidebar, 'GNLY');
  await expect(sidebar.locator('.jp-exprscope-status')).toHaveAttribute(
    'data-status',
    'busy'
  );
  await running;
  await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
    `Loaded ${HEATMAP_GENES.length + 1} genes`,
    { timeout: 60000 }
  );

  // The heatmap reproduced as R code below the active cell, run: a live plot in the
  // notebook (no widget model in R: the output draws on its notebook's kernel).
  await page.notebook.activate(NOTEBOOK);
  const before = await page.notebook.getCellCount();
  await page.notebook.selectCells(before - 1);
  await showView(page, HEATMAP);
  await plotAction(page.locator(HEATMAP), 'jp-exprscope-insert-cell');
  await page.notebook.activate(NOTEBOOK);
  const source = await page.notebook.getCellTextInput(before);
  expect(source).toMatch(/exprscope_heatmap\(\s*kang,/);
  await page.notebook.runCell(before);
  const cell = await page.notebook.getCellLocator(before);
  await expect(
    cell!.locator(
      '.jp-exprscope-output .jp-exprscope-plot[data-rendered="true"]'
    )
  ).toBeVisible();

  // A bad argument stops in R with a clear message and draws nothing.
  const bad = await page.notebook.getCellCount();
  await runCell(page, 'exprscope_dual_expression(kang, "ISG15", "NOT_A_GENE")');
  const badCell = await page.notebook.getCellLocator(bad);
  await expect(badCell!.locator('.jp-OutputArea-output')).toContainText(
    'NOT_A_GENE'
  );
  await expect(badCell!.locator('.jp-exprscope-output')).toHaveCount(0);
});

test('a Seurat object above 100,000 cells takes the kernel path in R, with the same numbers', async ({
  page
}) => {
  await page.setViewportSize({ width: 1400, height: 1200 });
  await page.notebook.createNew('big.ipynb', { kernel: 'ir' });
  // Kang's cells 51 times over (102,000 cells): means and correlations stay Kang's
  // (Spearman too: replicated ranks are a linear map of the original average ranks).
  await page.notebook.activate('big.ipynb');
  const first = await page.notebook.getCellCount();
  await page.notebook.addCell(
    'code',
    [
      'suppressPackageStartupMessages(library(Seurat))',
      `kang <- readRDS(${JSON.stringify(RDS)})`,
      'local({',
      `  genes <- c(${HEATMAP_GENES.map(g => JSON.stringify(g)).join(', ')})`,
      "  d <- GetAssayData(kang, assay = 'RNA', slot = 'data')[genes, ]",
      '  k <- 51L',
      '  m <- do.call(cbind, rep(list(d), k))',
      "  colnames(m) <- paste0(rep(colnames(d), k), '_', rep(seq_len(k), each = ncol(d)))",
      '  big <- CreateSeuratObject(m, meta.data = NULL)',
      "  big <- SetAssayData(big, slot = 'data', new.data = m)",
      '  for (column in c("orig.ident", "seurat_clusters")) {',
      '    big@meta.data[[column]] <- rep(kang@meta.data[[column]], k)',
      '  }',
      "  umap <- Embeddings(kang, 'umap')[rep(seq_len(ncol(d)), k), ]",
      '  rownames(umap) <- colnames(m)',
      "  big[['umap']] <- CreateDimReducObject(umap, key = 'UMAP_', assay = 'RNA')",
      '  assign("big", big, envir = globalenv())',
      '})'
    ].join('\n')
  );
  await page.notebook.runCell(first);

  const sidebar = await openSidebar(page);
  await selectKangLike(sidebar, 'big');

  // Heatmap: group sums from the kernel, the same linear-space means as Kang's
  await pasteGenes(sidebar, HEATMAP_GENES.join(', '));
  const heatmap = await openLinearMeansHeatmap(page, sidebar);
  await expect(heatmap.locator('.jp-exprscope-notes')).toContainText(
    'Computed in the kernel from per-group sums'
  );
  expectSameMeans(
    await heatmapCells(page),
    await averageExpression(page, 'big.ipynb', 51)
  );

  // Dual expression: correlations from pair_stats, equal to cor() on Kang's cells
  await pasteGenes(sidebar, 'ISG15, IFI6');
  await sidebar.locator('#jp-exprscope-open-dual').click();
  const dual = page.locator(DUAL);
  await rendered(page, `${DUAL} .jp-exprscope-dual-scatter`);
  await expect(dual.locator('.jp-exprscope-notes')).toContainText(
    'Correlations computed in the kernel over all cells'
  );
  await expectCorrelationsOfR(page, 'big.ipynb', 51);
});
