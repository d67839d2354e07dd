/**
 * Comparing conditions across replicates (issue 15), in a real browser on a real kernel:
 * the sidebar's sample column, the log2 fold change heatmap with the numbers of
 * `exprscope.compare` (pydeseq2 on pseudobulk counts, or the cell-level Wilcoxon test),
 * top changed genes, export, and the plot kept in a notebook that reopens without a kernel.
 *
 * The Kang data has no donors: a seeded synthetic object with three samples per dataset and
 * known dataset-responsive genes stands in (exprscope.synthetic).
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {
  DEMO,
  inNotebook,
  kernelJson,
  openSidebar,
  pasteGenes,
  plotAction,
  runDemo
} from './helpers';

const HEATMAP = '#exprscope-heatmap';
const VENV_BIN = path.resolve(__dirname, '../../.venv/bin');
const INSPECT = path.resolve(__dirname, 'inspect_export.py');

test.use({ viewport: { width: 1600, height: 1000 } });

interface IRow {
  gene: string;
  cluster: string;
  log2fc: number;
  padj: number | null;
}

/** The drawn cells: gene, cluster, log2FC (the colour) and padj, from the page's figure. */
async function drawnCells(
  page: IJupyterLabPageFixture,
  method: 'pseudobulk' | 'wilcoxon'
): Promise<IRow[]> {
  await expect(page.locator(`${HEATMAP} .jp-exprscope-plot`)).toHaveAttribute(
    'data-rendered',
    'true'
  );
  // The figure drawn is the comparison asked for (not the previous mean heatmap)
  const sentence = method === 'pseudobulk' ? 'DESeq2' : 'Wilcoxon';
  await expect(page.locator(`${HEATMAP} .jp-exprscope-notes`)).toContainText(
    sentence,
    { timeout: 120_000 }
  );
  await expect
    .poll(() =>
      page.evaluate(selector => {
        const plot = document.querySelector(
          `${selector} .jp-exprscope-plot`
        ) as any;
        return (
          plot?.data?.find((t: any) => t.name === 'expression')
            ?.hovertemplate ?? ''
        );
      }, HEATMAP)
    )
    .toContain('log2FC');
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

/** `exprscope.compare` over every gene, rows of `genes`: what the browser must show. */
function reference(
  page: IJupyterLabPageFixture,
  genes: string[],
  method: 'pseudobulk' | 'wilcoxon'
): Promise<IRow[]> {
  const sample = method === 'pseudobulk' ? '"sample"' : 'None';
  return kernelJson<IRow[]>(
    page,
    [
      'import json',
      `_c = exprscope.compare(rep, reference="dataset1", dataset_key="dataset", cluster_key="cluster", sample_key=${sample}, method="${method}")`,
      `_c = _c[_c["gene"].isin(${JSON.stringify(genes)})]`,
      'print(json.dumps([{"gene": r.gene, "cluster": r.cluster, "log2fc": r.log2fc, "padj": None if r.padj != r.padj else r.padj} for r in _c.itertuples()]))'
    ].join('\n')
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

test('condition differences across replicates: sample column, log2FC heatmap equal to exprscope.compare, top changed genes, Wilcoxon, export, reopened without a kernel', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(300_000);
  await runDemo(page, tmpPath);
  await inNotebook(page, DEMO, async () => {
    const index = await page.notebook.getCellCount();
    await page.notebook.addCell(
      'code',
      [
        'from exprscope.synthetic import make_synthetic',
        'rep = make_synthetic(6000, 600, n_clusters=3, samples_per_dataset=3, seed=1)'
      ].join('\n')
    );
    await page.notebook.runCell(index);
  });
  const truth = await kernelJson<string[]>(
    page,
    'import json\nprint(json.dumps(list(rep.uns["exprscope"]["synthetic"]["dataset_responsive_genes"])))'
  );
  const sidebar = await openSidebar(page);
  await expect(sidebar.locator('#jp-exprscope-object')).toContainText('rep');
  await sidebar.locator('#jp-exprscope-object').selectOption('rep');
  // The sample column is guessed beside the dataset and cluster columns
  await expect(sidebar.locator('#jp-exprscope-sample')).toHaveValue('sample');
  await expect(sidebar.locator('#jp-exprscope-dataset')).toHaveValue('dataset');
  const genes = [...truth.slice(0, 3), 'GENE00001', 'GENE00002'];
  await pasteGenes(sidebar, genes.join(', '));
  await sidebar.locator('#jp-exprscope-open-heatmap').click();
  const heatmap = page.locator(HEATMAP);
  await expect(heatmap).toBeVisible();
  await heatmap.locator('#jp-exprscope-value').selectOption('log2fc');
  await expect(heatmap.locator('#jp-exprscope-reference')).toHaveValue(
    'dataset1'
  );

  // Pseudobulk DESeq2 (3 samples per dataset): the numbers of exprscope.compare
  const pseudobulk = await drawnCells(page, 'pseudobulk');
  expectSameRows(pseudobulk, await reference(page, genes, 'pseudobulk'));
  const ticks: string[] = await heatmap
    .locator('.jp-exprscope-plot')
    .evaluate((plot: any) => plot._fullLayout.xaxis.ticktext);
  expect(ticks[0]).toContain('3/3 samples');
  await expect(heatmap.locator('.jp-exprscope-notes')).toContainText(
    'DESeq2 on pseudobulk counts'
  );
  // One mark per cell with padj < 0.05; the known responsive genes carry most of them
  const marks: string[] = await heatmap
    .locator('.jp-exprscope-plot')
    .evaluate(
      (plot: any) =>
        plot.data.find((t: any) => t.name === 'significance')?.text ?? []
    );
  const significant = pseudobulk.filter(r => r.padj !== null && r.padj < 0.05);
  expect(marks.length).toBe(significant.length);
  expect(
    significant.filter(r => truth.includes(r.gene)).length
  ).toBeGreaterThanOrEqual(3);

  // Top changed genes per cluster: mostly the known ones
  await heatmap.locator('#jp-exprscope-n-markers').fill('5');
  await heatmap
    .locator('input[name="jp-exprscope-gene-source"]')
    .nth(1)
    .check();
  await expect(heatmap.locator('.jp-exprscope-marker-source')).toContainText(
    'changed genes'
  );
  // (polled: the previous figure, of the chosen genes, may still be on the page)
  let top: IRow[] = [];
  await expect
    .poll(async () => {
      top = await drawnCells(page, 'pseudobulk');
      return top.some(r => !genes.includes(r.gene));
    })
    .toBe(true);
  // Rows significant in the large clusters are the known responsive genes (FDR 5%); the
  // small cluster 2 has no power, so its top 5 are whatever ranks first
  const called = [
    ...new Set(
      top
        .filter(r => r.cluster !== '2' && r.padj !== null && r.padj < 0.05)
        .map(r => r.gene)
    )
  ];
  expect(called.length).toBeGreaterThanOrEqual(5);
  expect(called.filter(g => truth.includes(g)).length).toBeGreaterThanOrEqual(
    0.9 * called.length
  );

  // Export: the spec inside says what was compared
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exprscope-compare-'));
  await heatmap.locator('.jp-exprscope-export summary').click();
  const form = heatmap.locator('.jp-exprscope-export-form');
  await form.locator('.jp-exprscope-export-format').selectOption('png');
  const download = page.waitForEvent('download');
  await form.locator('.jp-exprscope-export-button').click();
  const file = path.join(dir, (await download).suggestedFilename());
  await (await download).saveAs(file);
  await heatmap.locator('.jp-exprscope-export summary').click();
  const png = JSON.parse(
    execFileSync(path.join(VENV_BIN, 'python'), [INSPECT, file], {
      encoding: 'utf-8'
    })
  );
  const spec = JSON.parse(png.text.exprscope);
  expect(spec).toMatchObject({
    value: 'log2fc',
    reference: 'dataset1',
    sample_column: 'sample',
    gene_source: 'markers',
    top_n: 5
  });

  // Without a sample column: the cell-level Wilcoxon test, and the plot says what it means
  await heatmap
    .locator('input[name="jp-exprscope-gene-source"]')
    .nth(0)
    .check();
  await sidebar.locator('#jp-exprscope-sample').selectOption('');
  await expect(heatmap.locator('.jp-exprscope-notes')).toContainText(
    'not independent replicates'
  );
  expectSameRows(
    await drawnCells(page, 'wilcoxon'),
    await reference(page, genes, 'wilcoxon')
  );

  // Into the notebook as code, run: a live plot; saved, it reopens without a kernel
  await inNotebook(page, DEMO, async () => {
    const before = await page.notebook.getCellCount();
    await page.notebook.selectCells(before - 1);
    await page.evaluate(id => {
      (window as any).jupyterapp.shell.activateById(id);
    }, HEATMAP.slice(1));
    await plotAction(heatmap, 'jp-exprscope-insert-cell');
    await page.notebook.activate(DEMO);
    const source = await page.notebook.getCellTextInput(before);
    expect(source).toMatch(/value="log2fc"/);
    expect(source).toMatch(/reference="dataset1"/);
    await page.notebook.runCell(before);
    const cell = await page.notebook.getCellLocator(before);
    await expect(
      cell!.locator(
        '.jp-exprscope-output .jp-exprscope-plot[data-rendered="true"]'
      )
    ).toBeVisible({ timeout: 60_000 });
    await page.notebook.save();
  });
  const notebookPath = `${tmpPath}/${DEMO}`;
  await expect
    .poll(async () => {
      await page.notebook.save();
      const model = await (
        await page.request.get(`/api/contents/${notebookPath}?content=1`)
      ).json();
      return (model.content.cells as any[])
        .flatMap(c => c.outputs ?? [])
        .filter(
          o =>
            o.data?.['application/vnd.exprscope.plot+json']?.saved &&
            o.data['application/vnd.exprscope.plot+json'].spec?.value ===
              'log2fc'
        ).length;
    })
    .toBe(1);
  await page.notebook.close(true);
  for (const session of await (
    await page.request.get('/api/sessions')
  ).json()) {
    await page.request.delete(`/api/sessions/${session.id}`);
  }
  await page.sidebar.openTab('filebrowser'); // openByPath goes through the file browser
  await page.notebook.openByPath(notebookPath);
  await page.notebook.activate(DEMO);
  const saved = page.locator('.jp-exprscope-saved-plot');
  await expect(saved.last()).toBeAttached();
  // Scrolled to again while polling: the notebook may scroll on after opening (to its
  // active cell), and a plot out of view is held as a picture, not drawn
  await expect
    .poll(
      async () => {
        await saved.last().scrollIntoViewIfNeeded();
        return saved
          .last()
          .locator('.jp-exprscope-plot[data-rendered="true"]')
          .isVisible();
      },
      { timeout: 60_000 }
    )
    .toBe(true);
  // Its text, read with the figure in view (out of view it is held as a picture)
  await expect
    .poll(async () => {
      const figure = saved.last().locator('.jp-exprscope-saved-figure');
      await figure.scrollIntoViewIfNeeded();
      return figure.textContent();
    })
    .toContain('log2FC dataset2 vs dataset1');
});
