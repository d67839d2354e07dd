/**
 * Plots in notebooks: widgets made from Python, export in every format checked with real
 * readers, parameters copied and loaded, a reproducing cell inserted and run, and the plots
 * kept in the saved notebook (reopened without the kernel, converted with nbconvert).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {
  DEMO,
  kernelJson,
  openSidebar,
  pasteGenes,
  plotAction,
  runDemo,
  showView
} from './helpers';

test.use({ autoGoto: true });

const VENV_BIN = path.resolve(__dirname, '../../.venv/bin');
const INSPECT = path.resolve(__dirname, 'inspect_export.py');

/** Run a cell at the end of the demo notebook (its output is what the test looks at). */
async function runCell(page: IJupyterLabPageFixture, code: string) {
  await page.notebook.activate(DEMO);
  const index = await page.notebook.getCellCount();
  await page.notebook.addCell('code', code);
  await page.notebook.runCell(index);
  return index;
}

/** The exprscope output of a cell, once its plot is drawn. */
async function plotOutput(page: IJupyterLabPageFixture, index: number) {
  const cell = await page.notebook.getCellLocator(index);
  const output = cell!.locator('.jp-exprscope-output');
  // Plots in outputs are drawn once seen (releaseOffscreen): bring the output into view
  await output.first().scrollIntoViewIfNeeded();
  await expect(
    output.locator('.jp-exprscope-plot[data-rendered="true"]').first()
  ).toBeVisible();
  return output;
}

function inspect(file: string): any {
  return JSON.parse(
    execFileSync(path.join(VENV_BIN, 'python'), [INSPECT, file], {
      encoding: 'utf-8'
    })
  );
}

test('a heatmap from Python: numbers, export in five formats, parameters round trip', async ({
  page,
  tmpPath
}) => {
  await runDemo(page, tmpPath);
  const genes = ['ISG15', 'IFI6', 'CD3E', 'LYZ'];
  const index = await runCell(
    page,
    [
      `hm = exprscope.heatmap(adata, ${JSON.stringify(genes)}, groupby="dataset_cluster", scale="none", min_cells=0)`,
      'hm'
    ].join('\n')
  );
  const output = await plotOutput(page, index);

  // The plotted numbers are the widget's `.data` in the kernel.
  const plotted: [string, string, number, number][] = await output
    .locator('.jp-exprscope-plot')
    .first()
    .evaluate((plot: any) => {
      const trace = plot.data.find((t: any) => t.name === 'expression');
      // (null bricks: the gaps between cluster groups)
      return trace.customdata
        .flat()
        .filter((c: any[] | null) => c !== null)
        .map((c: any[]) => [c[0], c[1], c[2], c[3]]);
    });
  const reference = await kernelJson<
    { gene: string; column: string; n_cells: number; mean: number }[]
  >(
    page,
    'import json\nprint(json.dumps(hm.data[["gene", "column", "n_cells", "mean"]].to_dict("records")))'
  );
  expect(plotted.length).toBe(reference.length);
  const byKey = new Map(reference.map(r => [`${r.gene}|${r.column}`, r]));
  for (const [gene, column, n, mean] of plotted) {
    const ref = byKey.get(`${gene}|${column}`)!;
    expect(ref, `${gene} in ${column}`).toBeDefined();
    expect(n).toBe(ref.n_cells);
    expect(mean).toBeCloseTo(ref.mean, 5);
  }

  // Export: pixel size and physical size from width, height and DPI; parameters inside.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exprscope-export-'));
  const exportAs = async (format: string) => {
    await output.locator('.jp-exprscope-export summary').click();
    const form = output.locator('.jp-exprscope-export-form');
    await form.locator('.jp-exprscope-export-format').selectOption(format);
    await form.locator('.jp-exprscope-export-width').fill('600');
    await form.locator('.jp-exprscope-export-height').fill('400');
    await form.locator('.jp-exprscope-export-dpi').fill('300');
    const download = page.waitForEvent('download');
    await form.locator('.jp-exprscope-export-button').click();
    const file = path.join(dir, (await download).suggestedFilename());
    await (await download).saveAs(file);
    await output.locator('.jp-exprscope-export summary').click();
    return inspect(file);
  };
  const pixels = [600 * (300 / 96), 400 * (300 / 96)].map(Math.round);
  const specOf = (text: string) => JSON.parse(text);

  const png = await exportAs('png');
  expect(png.size).toEqual(pixels);
  expect(png.dpi[0]).toBeCloseTo(300, 0);
  const pngSpec = specOf(png.text.exprscope);
  expect(pngSpec.kind).toBe('heatmap');
  expect(pngSpec.object).toBe('adata');
  expect(pngSpec.genes).toEqual(genes);
  expect(pngSpec.version).toBeTruthy();

  const jpeg = await exportAs('jpeg');
  expect(jpeg.size).toEqual(pixels);
  expect(jpeg.dpi).toEqual([300, 300]);
  expect(specOf(jpeg.comment).genes).toEqual(genes);

  const tiff = await exportAs('tiff');
  expect(tiff.size).toEqual(pixels);
  expect(tiff.dpi[0]).toBeCloseTo(300, 0);
  expect(tiff.resolution_unit).toBe(2); // inches
  expect(specOf(tiff.description).genes).toEqual(genes);

  const pdf = await exportAs('pdf');
  // 600 × 400 CSS px at 96 px per inch is 450 × 300 points.
  expect(pdf.info['Page size']).toMatch(/^450 x 300 pts/);
  for (const gene of genes) {
    expect(pdf.text).toContain(gene); // vector text, not pixels
  }
  expect(
    JSON.stringify(pdf.info).includes('heatmap') || pdf.info.Keywords
  ).toBeTruthy();
  // The cells (one pixel each on screen) are enlarged into blocks: no viewer blurs them
  expect(pdf.images.length).toBeGreaterThan(0);
  for (const [width, height] of pdf.images) {
    // (4 genes × a few columns of pixels before)
    expect(width).toBeGreaterThanOrEqual(100);
    expect(height).toBeGreaterThanOrEqual(40);
  }

  const svg = await exportAs('svg');
  expect(specOf(svg.metadata).genes).toEqual(genes);
  expect(svg.texts.join(' ')).toContain('ISG15');
  expect(svg.images.length).toBeGreaterThan(0);
  for (const image of svg.images) {
    expect(image.pixels[0]).toBeGreaterThanOrEqual(3 * image.width);
    expect(image.pixels[1]).toBeGreaterThanOrEqual(3 * image.height);
  }

  // Copy parameters, change the plot, load them back: the same plot, and Python follows.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await plotAction(output, 'jp-exprscope-copy-spec');
  await expect(output.locator('.jp-exprscope-plot-actions')).toContainText(
    'copied'
  );
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(JSON.parse(copied).scaling).toBe('none');
  // By its label: the label of this plot's control, not another plot's
  await output.getByLabel('Scale rows').selectOption('zscore');
  await expect
    .poll(async () =>
      kernelJson<string>(
        page,
        'import json\nprint(json.dumps(hm.spec["scaling"]))'
      )
    )
    .toBe('zscore');
  await plotAction(output, 'jp-exprscope-load-spec');
  await page.locator('.jp-exprscope-spec-text').fill(copied);
  await page.locator('.jp-Dialog .jp-mod-accept').click();
  await expect(output.getByLabel('Scale rows')).toHaveValue('none');
  await expect
    .poll(async () =>
      kernelJson<string>(
        page,
        'import json\nprint(json.dumps(hm.spec["scaling"]))'
      )
    )
    .toBe('none');

  // Download data: the plotted numbers as CSV.
  const download = page.waitForEvent('download');
  await plotAction(output, 'jp-exprscope-download-data');
  const csvFile = path.join(dir, (await download).suggestedFilename());
  await (await download).saveAs(csvFile);
  const csv = fs.readFileSync(csvFile, 'utf-8');
  expect(csv.split(/\r?\n/)[0]).toContain('gene');
  expect(csv).toContain('ISG15');
});

test('bad arguments raise in Python before anything is drawn', async ({
  page,
  tmpPath
}) => {
  await runDemo(page, tmpPath);
  const index = await runCell(
    page,
    'exprscope.heatmap(adata, ["ISG15", "NOT_A_GENE"])'
  );
  const cell = await page.notebook.getCellLocator(index);
  await expect(cell!.locator('.jp-OutputArea-output')).toContainText(
    'NOT_A_GENE'
  );
  await expect(cell!.locator('.jp-exprscope-output')).toHaveCount(0);
});

test('the sidebar inserts a cell that reproduces the plot, safely quoted', async ({
  page,
  tmpPath
}) => {
  await runDemo(page, tmpPath);
  // Gene names that break naive quoting, one of them trying to inject code.
  const weirdGenes = [
    'a"b\nc',
    "x') or __import__('os').system('touch PWNED') #"
  ];
  await runCell(
    page,
    [
      'weird = adata[:, :40].copy()',
      `weird.var_names = ${JSON.stringify(weirdGenes)} + list(weird.var_names[2:])`,
      'weird'
    ].join('\n')
  );
  const sidebar = await openSidebar(page);
  await sidebar.locator('#jp-exprscope-object').selectOption('weird');
  await sidebar.locator('#jp-exprscope-open-heatmap').click();
  const heatmap = page.locator('#exprscope-heatmap');
  await expect(heatmap).toBeVisible();
  // Such names cannot be typed into a search box: load them as parameters.
  const spec = {
    exprscope_spec: 1,
    kind: 'heatmap',
    object: 'weird',
    matrix: 'X',
    dataset_column: 'dataset',
    cluster_column: 'cluster',
    clusters: null,
    gene_source: 'selected',
    genes: weirdGenes,
    group_by: 'cluster',
    scaling: 'none'
  };
  await plotAction(heatmap, 'jp-exprscope-load-spec');
  await page.locator('.jp-exprscope-spec-text').fill(JSON.stringify(spec));
  await page.locator('.jp-Dialog .jp-mod-accept').click();
  await expect(
    heatmap.locator('.jp-exprscope-plot[data-rendered="true"]')
  ).toBeVisible();
  await expect(sidebar.locator('.jp-exprscope-chip')).toHaveCount(2);

  await page.notebook.activate(DEMO);
  const before = await page.notebook.getCellCount();
  await page.notebook.selectCells(before - 1);
  await showView(page, '#exprscope-heatmap');
  await plotAction(heatmap, 'jp-exprscope-insert-cell');
  await page.notebook.activate(DEMO);
  expect(await page.notebook.getCellCount()).toBe(before + 1);
  const source = await page.notebook.getCellTextInput(before);
  expect(source).toMatch(/exprscope\.heatmap\(\s*weird,/);
  await page.notebook.runCell(before);
  const output = await plotOutput(page, before);
  const rows: string[] = await output
    .locator('.jp-exprscope-plot')
    .first()
    .evaluate(
      (plot: any) => plot.data.find((t: any) => t.name === 'expression').y
    );
  expect(rows.length).toBe(2);
  const injected = await kernelJson<boolean>(
    page,
    'import json, os\nprint(json.dumps(os.path.exists("PWNED")))'
  );
  expect(injected).toBe(false);
});

test('saved plots show without the kernel and as PNG in nbconvert HTML', async ({
  page,
  tmpPath
}) => {
  await runDemo(page, tmpPath);
  const first = await runCell(
    page,
    'exprscope.heatmap(adata, ["ISG15", "IFI6", "LYZ"], groupby="cluster")'
  );
  await plotOutput(page, first);
  const second = await runCell(
    page,
    'exprscope.dual_expression(adata, "ISG15", "IFI6", facet_by="dataset")'
  );
  await plotOutput(page, second);
  // The saved copy and the picture are written back after the plot settles.
  const notebookPath = `${tmpPath}/${DEMO}`;
  const savedOutputs = async () => {
    await page.notebook.save();
    const response = await page.request.get(
      `/api/contents/${notebookPath}?content=1`
    );
    const model = await response.json();
    return (model.content.cells as any[])
      .flatMap(c => c.outputs ?? [])
      .filter(o => o.data?.['application/vnd.exprscope.plot+json']);
  };
  // Every plot output of the notebook (the demo's own and the two above) is kept.
  const nPlots = (await savedOutputs()).length;
  expect(nPlots).toBeGreaterThanOrEqual(2);
  await expect
    .poll(async () =>
      (await savedOutputs()).filter(
        o =>
          o.data['image/png'] &&
          o.data['application/vnd.exprscope.plot+json'].saved
      )
    )
    .toHaveLength(nPlots);

  // Shut the kernel down and reopen the notebook: the saved plots render.
  await page.notebook.close(true);
  const sessions = await (await page.request.get('/api/sessions')).json();
  for (const session of sessions) {
    await page.request.delete(`/api/sessions/${session.id}`);
  }
  await page.notebook.openByPath(notebookPath);
  await page.notebook.activate(DEMO);
  const saved = page.locator('.jp-exprscope-saved-plot');
  await expect(saved).toHaveCount(nPlots);
  await saved.first().scrollIntoViewIfNeeded();
  await expect(
    saved.first().locator('.jp-exprscope-plot[data-rendered="true"]')
  ).toBeVisible();
  await expect(page.locator('.jp-NotebookPanel:visible')).not.toContainText(
    'model not found'
  );

  // Without exprscope (nbconvert): each plot is its PNG.
  const response = await page.request.get(
    `/api/contents/${notebookPath}?content=1`
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exprscope-nbconvert-'));
  const file = path.join(dir, 'demo.ipynb');
  fs.writeFileSync(file, JSON.stringify((await response.json()).content));
  execFileSync(
    path.join(VENV_BIN, 'jupyter'),
    ['nbconvert', '--to', 'html', file],
    { encoding: 'utf-8' }
  );
  const html = fs.readFileSync(path.join(dir, 'demo.html'), 'utf-8');
  expect(html.match(/<img[^>]*src="data:image\/png;base64,/g)?.length).toBe(
    nPlots
  );
  expect(html).not.toContain('model not found');

  // Untrusted (edited outside JupyterLab): the plots still render.
  const untrusted = `${tmpPath}/untrusted.ipynb`;
  await page.contents.uploadFile(file, untrusted);
  await page.notebook.openByPath(untrusted);
  await page.notebook.activate('untrusted.ipynb');
  await expect(
    page.locator('.jp-NotebookPanel:visible .jp-exprscope-saved-plot')
  ).toHaveCount(nPlots);
});

test('many scatter plots in one notebook never go blank', async ({
  page,
  tmpPath
}) => {
  // 22 plots, each fetched, bootstrapped and drawn when scrolled to (~5 s each on 2 cores)
  test.setTimeout(360_000);
  await runDemo(page, tmpPath);
  // Record every WebGL context the browser takes away (it drops the oldest past ~16).
  await page.evaluate(() => {
    (window as any).__lostCanvases = [];
    document.addEventListener(
      'webglcontextlost',
      event => (window as any).__lostCanvases.push(event.target),
      true
    );
  });
  const blankPlots = () =>
    page.evaluate(
      () =>
        ((window as any).__lostCanvases as HTMLCanvasElement[]).filter(
          canvas =>
            canvas.isConnected &&
            canvas.closest('.jp-exprscope-plot[data-rendered="true"]')
        ).length
    );
  const index = await runCell(
    page,
    [
      'from IPython.display import display',
      'pairs = [("ISG15", "IFI6"), ("CD3E", "CD3D"), ("LYZ", "S100A9"), ("MS4A1", "CD79A")]',
      'for i in range(22): display(exprscope.dual_expression(adata, *pairs[i % 4], n_boot=100))'
    ].join('\n')
  );
  const cell = await page.notebook.getCellLocator(index);
  const outputs = cell!.locator('.jp-exprscope-output');
  await expect(outputs).toHaveCount(22);
  // Each plot's controls have their own ids (labels and radio groups stay per plot)
  const repeatedIds = await page.evaluate(() => {
    const ids = [...document.querySelectorAll('[id^="jp-exprscope-"]')].map(
      element => element.id
    );
    return ids.filter((id, i) => ids.indexOf(id) !== i);
  });
  expect(repeatedIds).toEqual([]);
  // Scroll through every plot: each is drawn when seen, and no drawn plot loses its context.
  for (let i = 0; i < 22; i++) {
    const output = outputs.nth(i);
    await output.scrollIntoViewIfNeeded();
    await expect(
      output.locator('.jp-exprscope-plot[data-rendered="true"]').first()
    ).toBeVisible();
    expect(await blankPlots()).toBe(0);
  }
  // Plots out of view hold a picture, not a WebGL context.
  const live = await page
    .locator(
      '.jp-exprscope-plot[data-rendered="true"] canvas.gl-canvas-context'
    )
    .count();
  expect(live).toBeLessThanOrEqual(16);
  expect(
    await page.locator('img.jp-exprscope-plot-snapshot').count()
  ).toBeGreaterThan(0);
  await outputs.first().scrollIntoViewIfNeeded();
  await expect(
    outputs.first().locator('.jp-exprscope-plot[data-rendered="true"]').first()
  ).toBeVisible();
  expect(await blankPlots()).toBe(0);
});
