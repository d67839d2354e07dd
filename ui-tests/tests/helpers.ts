/**
 * Steps shared by the UI tests: the demo notebook, the sidebar, numbers read from the plots
 * and their kernel-side references.
 */
import { expect, IJupyterLabPageFixture, Locator } from '@jupyterlab/galata';
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
  return inNotebook(page, notebook, async () => {
    const index = await page.notebook.getCellCount();
    await page.notebook.addCell('code', code);
    await page.notebook.runCell(index);
    const output = await page.notebook.getCellTextOutput(index);
    expect(output).not.toBeNull();
    return JSON.parse((output as string[]).join('').trim()) as T;
  });
}

/**
 * Do `task` in `notebook`, then bring back the tab that was active: views open as tabs
 * beside the notebook, so running a cell hides the view the test goes on with.
 */
export async function inNotebook<T>(
  page: IJupyterLabPageFixture,
  notebook: string,
  task: () => Promise<T>
): Promise<T> {
  // The tab shown in each tab bar of the main area (the focused widget may be elsewhere)
  const shown = await page.evaluate(() =>
    Array.from(
      document.querySelectorAll(
        '#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current'
      )
    )
      .map(tab => (tab as HTMLElement).dataset.id)
      .filter((id): id is string => !!id)
  );
  await page.notebook.activate(notebook);
  try {
    return await task();
  } finally {
    await page.evaluate(ids => {
      for (const id of ids) {
        (window as any).jupyterapp.shell.activateById(id);
      }
    }, shown);
  }
}

/** The benchmark's state command: what the views sent their workers, where replies were decoded. */
export async function benchState(page: IJupyterLabPageFixture): Promise<{
  crossOriginIsolated: boolean;
  workerInputs: { inputs: number; sharedBytes: number; copiedBytes: number };
  fetchDecodings: { inWorker: number; onPage: number; movedBytes: number };
}> {
  return page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('exprscope:bench-state')
  );
}

/**
 * Every reply so far was decoded in the decoding worker, `minBytes` at least moved to it
 * (nothing decoded on the UI thread, where a million cells froze the page).
 */
export async function expectDecodedInWorker(
  page: IJupyterLabPageFixture,
  minBytes: number
) {
  const { fetchDecodings } = await benchState(page);
  expect(fetchDecodings.inWorker).toBeGreaterThan(0);
  expect(fetchDecodings.onPage).toBe(0);
  expect(fetchDecodings.movedBytes).toBeGreaterThanOrEqual(minBytes);
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

/**
 * The demo run, `genes` pasted into the sidebar and the dual view opened on them: the
 * sidebar and the view's tab.
 */
export async function openDualOnDemo(
  page: IJupyterLabPageFixture,
  tmpPath: string,
  genes = 'ISG15, IFI6'
) {
  await runDemo(page, tmpPath);
  const sidebar = await openSidebar(page);
  await pasteGenes(sidebar, genes);
  await expect(sidebar.locator('.jp-exprscope-loaded')).toContainText(
    `Loaded ${genes.split(',').length} genes`
  );
  await sidebar.locator('#jp-exprscope-open-dual').click();
  return { sidebar, dual: page.locator('#exprscope-dual') };
}

export const HEATMAP = '#exprscope-heatmap';

/** One plotted cell: [gene, column, n_cells, mean, frac_expressing, value]. */
export type PlottedCell = [
  string,
  string,
  number,
  number | null,
  number | null,
  number | null
];

export interface IReference {
  gene: string;
  group: string;
  n_cells: number;
  mean: number;
  frac_expressing: number;
}

/** The numbers behind the drawn heatmap, read from the Plotly figure in the page. */
export async function plottedCells(
  page: IJupyterLabPageFixture
): Promise<PlottedCell[]> {
  await expect(page.locator(`${HEATMAP} .jp-exprscope-plot`)).toHaveAttribute(
    'data-rendered',
    'true'
  );
  return page.evaluate(selector => {
    const plot = document.querySelector(
      `${selector} .jp-exprscope-plot`
    ) as any;
    const trace = plot.data.find((t: any) => t.name === 'expression');
    // (a heatmap's null bricks are the gaps between cluster groups)
    const cells =
      trace.type === 'heatmap'
        ? trace.customdata.flat().filter((c: unknown) => c !== null)
        : trace.customdata;
    return cells as PlottedCell[];
  }, HEATMAP);
}

export function expectSameNumbers(
  plotted: PlottedCell[],
  reference: IReference[]
) {
  const byKey = new Map(reference.map(r => [`${r.gene}|${r.group}`, r]));
  expect(plotted.length).toBe(reference.length);
  for (const [gene, column, n, mean, frac] of plotted) {
    const ref = byKey.get(`${gene}|${column}`);
    expect(ref, `${gene} in ${column}`).toBeDefined();
    expect(n).toBe(ref!.n_cells);
    expect(mean).toBeCloseTo(ref!.mean, 5);
    expect(frac).toBeCloseTo(ref!.frac_expressing, 5);
  }
}

/** `exprscope.aggregate` of `genes` per cluster of an AnnData in the kernel. */
export function clusterReference(
  page: IJupyterLabPageFixture,
  genes: string[],
  object = 'adata'
): Promise<IReference[]> {
  return kernelJson<IReference[]>(
    page,
    [
      'import json',
      `_r = exprscope.aggregate(${object}, ${JSON.stringify(genes)}, "cluster")`,
      '_r["group"] = _r["cluster"].astype(str)',
      'print(json.dumps(_r[["gene", "group", "n_cells", "mean", "frac_expressing"]].to_dict("records")))'
    ].join('\n')
  );
}

/** A dual view's correlations per dataset, as its statistics table shows them. */
export async function datasetCorrelations(dual: Locator) {
  const rows = dual.locator('tr[data-section="dataset"]');
  await expect(rows).toHaveCount(2);
  return rows.evaluateAll(trs =>
    trs.map(tr => ({
      dataset: tr.getAttribute('data-group'),
      n: Number(tr.getAttribute('data-n')),
      pearson: Number(tr.getAttribute('data-pearson')),
      spearman: Number(tr.getAttribute('data-spearman')),
      text: tr.textContent
    }))
  );
}

export interface IScipy {
  dataset: string;
  n: number;
  pearson: number;
  pearson_low: number;
  pearson_high: number;
  spearman: number;
}

/** scipy's Pearson (with its 95% interval) and Spearman of two genes per dataset of an AnnData. */
export function scipyByDataset(
  page: IJupyterLabPageFixture,
  geneX: string,
  geneY: string,
  object = 'adata'
): Promise<IScipy[]> {
  return kernelJson<IScipy[]>(
    page,
    [
      // One statement per line: the notebook editor re-indents typed blocks.
      'import json, numpy as np',
      'from scipy import stats',
      `_ds = list(${object}.obs["dataset"].cat.categories)`,
      `_col = lambda d, g: np.asarray(${object}[${object}.obs["dataset"] == d][:, g].X.todense()).ravel()`,
      `_xy = [(_col(d, ${JSON.stringify(geneX)}), _col(d, ${JSON.stringify(geneY)})) for d in _ds]`,
      '_p = [stats.pearsonr(x, y) for x, y in _xy]',
      'print(json.dumps([dict(dataset=d, n=len(x), pearson=float(p.statistic), pearson_low=float(p.confidence_interval(0.95).low), pearson_high=float(p.confidence_interval(0.95).high), spearman=float(stats.spearmanr(x, y).statistic)) for d, (x, y), p in zip(_ds, _xy, _p)]))'
    ].join('\n')
  );
}

/** Both sets of numbers agree: counts exactly, coefficients to 1e-6, the interval as shown. */
export function expectScipyCorrelations(
  shown: Awaited<ReturnType<typeof datasetCorrelations>>,
  scipy: IScipy[]
) {
  expect(shown.map(r => r.dataset)).toEqual(scipy.map(s => s.dataset));
  shown.forEach((row, i) => {
    expect(row.n).toBe(scipy[i].n);
    expect(Math.abs(row.pearson - scipy[i].pearson)).toBeLessThan(1e-6);
    expect(Math.abs(row.spearman - scipy[i].spearman)).toBeLessThan(1e-6);
    // The interval shown is scipy's (two decimals on the page).
    expect(row.text).toContain(scipy[i].pearson_low.toFixed(2));
    expect(row.text).toContain(scipy[i].pearson_high.toFixed(2));
  });
}

/** Bring a main-area view (a tab, e.g. `#exprscope-heatmap`) to the front. */
export async function showView(page: IJupyterLabPageFixture, selector: string) {
  await page.evaluate(
    id => (window as any).jupyterapp.shell.activateById(id),
    selector.replace(/^#/, '')
  );
}

/**
 * Run one of a plot's actions from its "More actions" menu (Copy / Load parameters,
 * Download CSV, Insert into notebook): open the menu, press the item (`className`, the
 * first if several, e.g. the CSV tables).
 */
export async function plotAction(plot: Locator, className: string) {
  await plot.locator('.jp-exprscope-more-actions').first().click();
  await plot.locator(`.jp-exprscope-menu .${className}`).first().click();
}
