/**
 * The foundation end to end: a real JupyterLab, a real ipykernel and the bundled Kang data.
 * Open the demo notebook, run it, use the sidebar, and check what it says against the data.
 */
import { expect, test } from '@jupyterlab/galata';

import { openSidebar, runDemo } from './helpers';

test.use({ autoGoto: true });

test.describe('exprscope sidebar', () => {
  test('shows a clear state without a kernel', async ({ page }) => {
    const sidebar = await openSidebar(page);
    await expect(sidebar.locator('.jp-exprscope-status')).toHaveAttribute(
      'data-status',
      'no-kernel'
    );
    await expect(sidebar).toContainText('Open a notebook or console');
  });

  test('finds the demo data, searches genes and lists unknown ones', async ({
    page,
    tmpPath
  }) => {
    await runDemo(page, tmpPath);
    const sidebar = await openSidebar(page);

    await expect(sidebar.locator('.jp-exprscope-status')).toHaveAttribute(
      'data-status',
      'ready'
    );
    const object = sidebar.locator('#jp-exprscope-object');
    await expect(object).toContainText('adata');
    await expect(object).toContainText('2,000 × 9,015');

    const summary = sidebar.locator('.jp-exprscope-summary');
    await expect(summary).toContainText('2,000');
    await expect(summary).toContainText('9,015');
    await expect(summary).toContainText('X_umap');
    await expect(sidebar.locator('#jp-exprscope-dataset')).toHaveValue(
      'dataset'
    );
    await expect(sidebar.locator('#jp-exprscope-cluster')).toHaveValue(
      'cluster'
    );
    await expect(
      sidebar.locator('.jp-exprscope-categories').first()
    ).toContainText('ctrl (1,000)');

    const search = sidebar.locator('#jp-exprscope-gene-input');
    await search.fill('isg1');
    const suggestions = sidebar.locator('.jp-exprscope-suggestions li');
    await expect(suggestions.first()).toHaveText('ISG15');
    await search.press('ArrowDown');
    await search.press('Enter');
    await expect(sidebar.locator('.jp-exprscope-chip')).toHaveText(['ISG15×']);
    await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
      'Loaded 1 gene × 2,000 cells'
    );

    // A pasted list with an unknown gene: the known ones are added, the unknown one is named.
    await sidebar.locator('.jp-exprscope-paste summary').click();
    await sidebar
      .locator('#jp-exprscope-paste-input')
      .fill('ifi6, IFIT1\nNOT_A_GENE');
    await sidebar.getByRole('button', { name: 'Add genes' }).click();
    await expect(
      sidebar.locator('.jp-exprscope-message.jp-mod-warning')
    ).toContainText('NOT_A_GENE');
    await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
      'Loaded 3 genes × 2,000 cells'
    );

    // Genes outside the integrated set are reported as missing from that matrix.
    await sidebar
      .locator('#jp-exprscope-matrix')
      .selectOption('layers/integrated');
    await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
      'Missing from'
    );

    await sidebar.locator('#jp-exprscope-matrix').selectOption('X');
    await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
      'Loaded 3 genes × 2,000 cells'
    );
    await page.sidebar.setWidth(360, 'left');
    expect(await sidebar.screenshot()).toMatchSnapshot('sidebar-kang.png');
  });

  test('survives a busy kernel, a changed object and a restart', async ({
    page,
    tmpPath
  }) => {
    await runDemo(page, tmpPath);
    const sidebar = await openSidebar(page);
    const status = sidebar.locator('.jp-exprscope-status');
    await expect(status).toHaveAttribute('data-status', 'ready');
    await expect(sidebar.locator('#jp-exprscope-object')).toContainText(
      'adata'
    );
    await sidebar.locator('#jp-exprscope-gene-input').fill('ISG15');
    await sidebar.locator('#jp-exprscope-gene-input').press('Enter');
    await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
      'Loaded 1 gene'
    );

    // Busy: a long cell runs while the user adds a gene; the request waits and then succeeds.
    await page.notebook.addCell('code', 'import time; time.sleep(6)');
    await page.notebook.selectCells(4);
    // Start the cell without waiting for it (Galata's runCell waits until it finishes).
    await page.evaluate(() => {
      void (window as any).jupyterapp.commands.execute('notebook:run-cell');
    });
    await expect(status).toHaveAttribute('data-status', 'busy');
    await sidebar.locator('#jp-exprscope-gene-input').fill('IFI6');
    await sidebar.locator('#jp-exprscope-gene-input').press('Enter');
    await expect(sidebar.locator('.jp-exprscope-spinner')).toBeVisible();
    await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
      'Loaded 2 genes',
      {
        timeout: 30000
      }
    );

    // Changed object: subset in the kernel; the sidebar notices and reloads.
    await page.notebook.addCell(
      'code',
      'adata = adata[adata.obs["dataset"] == "stim"].copy()'
    );
    await page.notebook.runCell(5);
    await expect(sidebar.locator('#jp-exprscope-object')).toContainText(
      '1,000 × 9,015'
    );
    await expect(sidebar.locator('.jp-exprscope-messages')).toContainText(
      'changed in the kernel'
    );
    await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
      '× 1,000 cells'
    );

    // Restart: the object is gone from the new kernel, the selection is kept, nothing crashes.
    // Not awaited inside the page: the command waits for the confirmation dialog.
    await page.evaluate(() => {
      const app = (window as any).jupyterapp;
      void app.commands.execute('notebook:restart-kernel', { activate: false });
    });
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Confirm Kernel Restart' })
      .click();
    await expect(status).toHaveAttribute('data-status', 'ready', {
      timeout: 60000
    });
    await expect(sidebar).toContainText('No AnnData object in this kernel yet');
    await expect(sidebar.locator('.jp-exprscope-chip')).toHaveCount(2);
  });
});

test('the extension is installed with its sidebar tab', async ({ page }) => {
  await expect(
    page.locator('.jp-SideBar [data-id="exprscope-sidebar"]')
  ).toBeVisible();
});
