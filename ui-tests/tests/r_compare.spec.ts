/**
 * Comparing conditions in an R kernel (issue 15): a Seurat object with three samples per
 * dataset, the sidebar's guessed sample column, the log2 fold change heatmap with the
 * numbers of `exprscope_compare()` (R's DESeq2 on pseudobulk counts, then `wilcox.test`
 * on cells), and the reproduce cell run in R.
 *
 * The object is simulated in R (seeded negative-binomial counts, genes G01–G08 four times
 * higher in every stim sample) because Kang's cells have no donors.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import {
  kernelJson,
  openSidebar,
  pasteGenes,
  plotAction,
  showView
} from './helpers';

test.use({ autoGoto: true, viewport: { width: 1600, height: 1000 } });

const NOTEBOOK = 'rcompare.ipynb';
const HEATMAP = '#exprscope-heatmap';
const GENES = ['G01', 'G02', 'G03', 'G20', 'G21'];

const SIMULATE = [
  'suppressPackageStartupMessages({ library(Seurat); library(Matrix) })',
  'set.seed(7)',
  'n_genes <- 200; per_group <- 80',
  "samples <- c(paste0('ctrl_', 1:3), paste0('stim_', 1:3))",
  "meta <- expand.grid(cell = seq_len(per_group), cluster = c('A', 'B'), sample = samples,",
  '  stringsAsFactors = FALSE)',
  "meta$dataset <- sub('_.*', '', meta$sample)",
  'base <- rgamma(n_genes, shape = 2, rate = 1)',
  'donor <- matrix(rgamma(n_genes * 6, shape = 20, rate = 20), n_genes, 6,',
  '  dimnames = list(NULL, samples))',
  "responsive <- seq_len(8); up <- ifelse(meta$dataset == 'stim', 4, 1)",
  "mu <- base * donor[, meta$sample] %*% diag(ifelse(meta$cluster == 'B', 2, 1))",
  'mu[responsive, ] <- sweep(mu[responsive, , drop = FALSE], 2, up, `*`)',
  'counts <- matrix(rnbinom(length(mu), mu = mu, size = 3), n_genes, nrow(meta),',
  "  dimnames = list(sprintf('G%02d', seq_len(n_genes)), paste0('cell', seq_len(nrow(meta)))))",
  'rownames(meta) <- colnames(counts)',
  "pbmc_reps <- CreateSeuratObject(Matrix(counts, sparse = TRUE), meta.data = meta[c('dataset', 'sample', 'cluster')])",
  'pbmc_reps <- NormalizeData(pbmc_reps, verbose = FALSE)',
  "cat(ncol(pbmc_reps), 'cells\\n')"
].join('\n');

interface IRow {
  gene: string;
  cluster: string;
  log2fc: number;
  padj: number | null;
}

/** The drawn cells (gene, cluster, log2FC, padj) once the comparison by `method` is drawn. */
async function drawnCells(
  page: IJupyterLabPageFixture,
  sentence: string
): Promise<IRow[]> {
  await expect(page.locator(`${HEATMAP} .jp-exprscope-notes`)).toContainText(
    sentence,
    { timeout: 120_000 }
  );
  await expect(page.locator(`${HEATMAP} .jp-exprscope-plot`)).toHaveAttribute(
    'data-rendered',
    'true'
  );
  return page.evaluate(selector => {
    const plot = document.querySelector(
      `${selector} .jp-exprscope-plot`
    ) as any;
    const trace = plot.data.find((t: any) => t.name === 'expression');
    return (trace.customdata.flat() as any[][])
      .filter(c => c[5] !== null)
      .map(c => ({ gene: c[0], cluster: c[1], log2fc: c[5], padj: c[6] }));
  }, HEATMAP);
}

/** `exprscope_compare()` in the R kernel, rows of GENES. */
function compareInR(
  page: IJupyterLabPageFixture,
  method: 'pseudobulk' | 'wilcoxon'
): Promise<IRow[]> {
  const sample = method === 'pseudobulk' ? '"sample"' : 'NULL';
  return kernelJson<IRow[]>(
    page,
    [
      'local({',
      `  d <- exprscope_compare(pbmc_reps, reference = "ctrl", sample_key = ${sample}, method = "${method}")`,
      `  d <- d[d$gene %in% c(${GENES.map(g => JSON.stringify(g)).join(', ')}), ]`,
      '  out <- lapply(seq_len(nrow(d)), function(i) list(gene = d$gene[i], cluster = d$cluster[i],',
      '    log2fc = d$log2fc[i], padj = if (is.na(d$padj[i])) NULL else d$padj[i]))',
      '  cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA, null = "null"))',
      '})'
    ].join('\n'),
    NOTEBOOK
  );
}

function expectSameRows(drawn: IRow[], expected: IRow[]) {
  expect(drawn.length).toBe(expected.length);
  const byKey = new Map(expected.map(r => [`${r.gene}|${r.cluster}`, r]));
  for (const row of drawn) {
    const ref = byKey.get(`${row.gene}|${row.cluster}`);
    expect(ref, `${row.gene} in ${row.cluster}`).toBeDefined();
    expect(row.log2fc).toBeCloseTo(ref!.log2fc, 9);
    if (ref!.padj === null) {
      expect(row.padj).toBeNull();
    } else {
      expect(Math.abs(row.padj! - ref!.padj) / ref!.padj).toBeLessThan(1e-9);
    }
  }
}

test('Seurat in R: the log2FC heatmap equals exprscope_compare (DESeq2, then wilcox.test) and its reproduce cell runs', async ({
  page
}) => {
  test.setTimeout(300_000);
  await page.notebook.createNew(NOTEBOOK, { kernel: 'ir' });
  await page.notebook.activate(NOTEBOOK);
  await page.notebook.addCell('code', SIMULATE);
  await page.notebook.runCell(1);
  expect((await page.notebook.getCellTextOutput(1))?.join('')).toContain(
    '960 cells'
  );

  const sidebar = await openSidebar(page);
  await sidebar.locator('#jp-exprscope-object').selectOption('pbmc_reps');
  await expect(sidebar.locator('#jp-exprscope-dataset')).toHaveValue('dataset');
  await expect(sidebar.locator('#jp-exprscope-sample')).toHaveValue('sample');
  await expect(sidebar.locator('#jp-exprscope-cluster')).toHaveValue('cluster');
  await pasteGenes(sidebar, GENES.join(', '));
  await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
    `Loaded ${GENES.length} genes`
  );
  await sidebar.locator('#jp-exprscope-open-heatmap').click();
  const heatmap = page.locator(HEATMAP);
  await expect(heatmap).toBeVisible();
  await heatmap.locator('#jp-exprscope-value').selectOption('log2fc');
  await heatmap.locator('#jp-exprscope-reference').selectOption('ctrl');

  // Pseudobulk with DESeq2 in R: the numbers of exprscope_compare()
  const pseudobulk = await drawnCells(page, 'DESeq2');
  expectSameRows(pseudobulk, await compareInR(page, 'pseudobulk'));
  // The responsive genes are called in both clusters; the others are not
  for (const row of pseudobulk) {
    const responsive = ['G01', 'G02', 'G03'].includes(row.gene);
    expect(row.padj !== null && row.padj < 0.05, row.gene).toBe(responsive);
  }

  // Cells as replicates (wilcox.test): the plot says they are not
  await heatmap
    .locator('#jp-exprscope-compare-method')
    .selectOption('wilcoxon');
  const wilcoxon = await drawnCells(page, 'Wilcoxon');
  expectSameRows(wilcoxon, await compareInR(page, 'wilcoxon'));
  await expect(heatmap.locator('.jp-exprscope-notes')).toContainText(
    'not independent replicates'
  );
  // ...and it is why: the donors' own differences make unchanged genes "significant"
  expect(
    wilcoxon.some(
      r => ['G20', 'G21'].includes(r.gene) && r.padj !== null && r.padj < 0.05
    )
  ).toBe(true);

  // The reproduce cell is R, and it draws in the notebook.
  await page.notebook.activate(NOTEBOOK);
  const before = await page.notebook.getCellCount();
  await page.notebook.selectCells(before - 1);
  await showView(page, HEATMAP);
  await plotAction(page.locator(HEATMAP), 'jp-exprscope-insert-cell');
  await page.notebook.activate(NOTEBOOK);
  const source = await page.notebook.getCellTextInput(before);
  expect(source).toMatch(/exprscope_heatmap\(\s*pbmc_reps,/);
  expect(source).toContain('value = "log2fc"');
  expect(source).toContain('reference = "ctrl"');
  await page.notebook.runCell(before);
  const cell = await page.notebook.getCellLocator(before);
  await expect(
    cell!.locator(
      '.jp-exprscope-output .jp-exprscope-plot[data-rendered="true"]'
    )
  ).toBeVisible({ timeout: 120_000 });
});
