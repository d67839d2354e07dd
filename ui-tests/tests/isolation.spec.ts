/**
 * On a cross-origin-isolated server (`--ExprscopeServer.cross_origin_isolation=True`, the
 * `isolated` project in playwright.config.js): the decoding worker puts fetched columns in
 * shared memory, the plots' workers read them without a copy, and the numbers are the same
 * as everywhere.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';

import {
  benchState,
  clusterReference,
  datasetCorrelations,
  expectSameNumbers,
  expectDecodedInWorker,
  expectScipyCorrelations,
  HEATMAP,
  kernelJson,
  openSidebar,
  pasteGenes,
  plottedCells,
  runDemo,
  scipyByDataset
} from './helpers';

test.use({ autoGoto: true });

/** What the views have sent their workers so far. */
async function workerInputs(page: IJupyterLabPageFixture) {
  return (await benchState(page)).workerInputs;
}

test('views share fetched columns with their workers, with the same numbers', async ({
  page,
  tmpPath
}) => {
  expect(await page.evaluate(() => self.crossOriginIsolated)).toBe(true);
  await runDemo(page, tmpPath);
  // Enough cells for the dual view to build in its worker (DUAL_WORKER_THRESHOLD)
  const nCells = 60_000;
  await kernelJson(
    page,
    [
      'from exprscope.synthetic import make_synthetic',
      `big = make_synthetic(${nCells}, n_genes=200, n_clusters=8, seed=0, counts=False)`,
      'print(big.n_obs)'
    ].join('\n')
  );
  const sidebar = await openSidebar(page);
  await sidebar.locator('#jp-exprscope-object').selectOption('big');
  await expect(sidebar.locator('#jp-exprscope-dataset')).toHaveValue('dataset');
  const genes = ['GENE00000', 'GENE00001', 'GENE00002', 'GENE00003'];
  await pasteGenes(sidebar, genes.join(', '));
  await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
    `Loaded ${genes.length} genes`
  );

  // The heatmap is drawn from the kernel's per-group sums (statistics first): no cells go
  // to a worker for it, and its numbers are the cells' all the same
  const beforeHeatmap = await workerInputs(page);
  await sidebar.locator('#jp-exprscope-open-heatmap').click();
  await page
    .locator(HEATMAP)
    .locator('#jp-exprscope-scaling')
    .selectOption('none');
  expectSameNumbers(
    await plottedCells(page),
    await clusterReference(page, genes, 'big')
  );
  const afterHeatmap = await workerInputs(page);
  expect(afterHeatmap.sharedBytes).toBe(beforeHeatmap.sharedBytes);
  expect(afterHeatmap.copiedBytes).toBe(0);

  // The dual view's worker: two genes, codes and the embedding, shared as well
  await sidebar.locator('#jp-exprscope-open-dual').click();
  const dual = page.locator('#exprscope-dual');
  await expect(dual.locator('.jp-exprscope-plot-status')).toHaveAttribute(
    'data-status',
    'ready',
    { timeout: 60_000 }
  );
  expectScipyCorrelations(
    await datasetCorrelations(dual),
    await scipyByDataset(page, genes[0], genes[1], 'big')
  );
  const afterDual = await workerInputs(page);
  expect(afterDual.inputs).toBeGreaterThan(afterHeatmap.inputs);
  expect(afterDual.copiedBytes).toBe(0);
  expect(
    afterDual.sharedBytes - afterHeatmap.sharedBytes
  ).toBeGreaterThanOrEqual(nCells * (4 * 2 + 2 + 4 * 2));
  // The replies were decoded in the decoding worker, straight into shared memory
  await expectDecodedInWorker(page, nCells * 4 * genes.length);
});
