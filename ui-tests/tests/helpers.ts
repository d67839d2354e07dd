/** Steps shared by the UI tests: the demo notebook, the sidebar, kernel-side reference numbers. */
import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import * as path from 'path';

export const DEMO = 'demo.ipynb';

export async function openSidebar(page: IJupyterLabPageFixture) {
  await page.sidebar.openTab('exprscope-sidebar');
  const sidebar = page.locator('#exprscope-sidebar');
  await expect(sidebar).toBeVisible();
  return sidebar;
}

/** Upload the demo notebook into the test's folder, open it and run every cell. */
export async function runDemo(page: IJupyterLabPageFixture, tmpPath: string) {
  const notebook = `${tmpPath}/${DEMO}`;
  await page.contents.uploadFile(
    path.resolve(__dirname, '../../examples/demo.ipynb'),
    notebook
  );
  await page.notebook.openByPath(notebook);
  await page.notebook.activate(DEMO);
  await page.notebook.run();
}

/**
 * Run `code` in a new cell at the end of the notebook and parse the JSON it prints: the
 * kernel-side reference for numbers read from the page.
 */
export async function kernelJson<T>(
  page: IJupyterLabPageFixture,
  code: string,
  notebook = DEMO
): Promise<T> {
  await page.notebook.activate(notebook);
  const index = await page.notebook.getCellCount();
  await page.notebook.addCell('code', code);
  await page.notebook.runCell(index);
  const output = await page.notebook.getCellTextOutput(index);
  expect(output).not.toBeNull();
  return JSON.parse((output as string[]).join('').trim()) as T;
}

/** Add genes to the sidebar selection by pasting a list. */
export async function pasteGenes(
  sidebar: ReturnType<IJupyterLabPageFixture['locator']>,
  genes: string
) {
  // The paste box is a <details>: open it unless a previous paste left it open.
  const input = sidebar.locator('#jp-exprscope-paste-input');
  if (!(await input.isVisible())) {
    await sidebar.locator('.jp-exprscope-paste summary').click();
  }
  await input.fill(genes);
  await sidebar.getByRole('button', { name: 'Add genes' }).click();
}
