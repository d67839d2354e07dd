/**
 * The condition difference heatmap (value 'log2fc'): the model from a `compare` reply, its
 * figure, and the controller's path (one comparison of every gene and cluster, cached; rows
 * and clusters picked in the browser; cancel). The numbers themselves are the kernel's
 * (checked against pydeseq2, DESeq2 and scanpy in the Python tests); here they are given.
 */
import { Signal } from '@lumino/signaling';

import type { ICompareArgs, IComparison } from '../../../data/comparison';
import type { ExprscopePanelModel } from '../../../session/session';
import { parseSpec, serializeSpec } from '../../spec';
import { LIGHT_PLOT_THEME } from '../../theme';
import { HeatmapController } from '../controller';
import { buildDifferenceModel, changedGeneRows } from '../difference';
import { CELL_FIELDS, heatmapFigure } from '../figure';
import { heatmapCsv } from '../../../export/data';

/** Clusters a (tested), b (tested), c (absent from stim: untested); genes G1..G3. */
function comparison(): IComparison {
  const gene = ['G1', 'G2', 'G3', 'G1', 'G2', 'G3'];
  const cluster = ['a', 'a', 'a', 'b', 'b', 'b'];
  return {
    result: {
      method: 'pseudobulk',
      caveat: '',
      reference: 'ctrl',
      target: 'stim',
      matrix: 'layers/counts',
      dataset_key: 'dataset',
      cluster_key: 'cluster',
      sample_key: 'donor',
      clusters: [
        {
          cluster: 'a',
          n_cells_a: 100,
          n_cells_b: 120,
          n_samples_a: 3,
          n_samples_b: 3,
          tested: true,
          note: ''
        },
        {
          cluster: 'b',
          n_cells_a: 50,
          n_cells_b: 40,
          n_samples_a: 3,
          n_samples_b: 2,
          tested: true,
          note: ''
        },
        {
          cluster: 'c',
          n_cells_a: 30,
          n_cells_b: 0,
          n_samples_a: 3,
          n_samples_b: 0,
          tested: false,
          note: "absent from 'stim'"
        }
      ],
      n_genes: 3
    },
    gene,
    cluster,
    log2fc: Float64Array.from([2.5, -0.4, 0.1, -3.2, 0.2, NaN]),
    stat: Float64Array.from([5, -1, 0.3, -6, 0.5, NaN]),
    pvalue: Float64Array.from([1e-6, 0.3, 0.8, 1e-9, 0.6, NaN]),
    padj: Float64Array.from([3e-6, 0.04, 0.8, 3e-9, 0.6, NaN])
  };
}

const THEME = LIGHT_PLOT_THEME;

describe('buildDifferenceModel', () => {
  it('puts the clusters in columns on one symmetric scale, masks untested ones and marks significance', () => {
    const model = buildDifferenceModel({
      comparison: comparison(),
      genes: ['G1', 'G2', 'G3', 'NOPE']
    });
    expect(model.genes).toEqual(['G1', 'G2', 'G3']);
    expect(model.columns.map(c => [c.label, c.masked, c.nCells])).toEqual([
      ['a', false, 220],
      ['b', false, 90],
      ['c', true, 30]
    ]);
    expect(model.color).toEqual([
      [2.5, -3.2, null],
      [-0.4, 0.2, null],
      [0.1, null, null]
    ]);
    expect(model.colorScale).toEqual({
      kind: 'diverging',
      min: -3.2,
      max: 3.2,
      label: 'log2FC stim vs ctrl'
    });
    expect(model.difference?.marks).toEqual([
      ['***', '***', ''],
      ['*', '', ''],
      ['', '', '']
    ]);
    expect(model.difference?.columns[1]).toMatchObject({
      nCellsA: 50,
      nCellsB: 40,
      nSamplesA: 3,
      nSamplesB: 2
    });
    const kinds = model.notes.map(n => n.kind);
    expect(kinds).toEqual([
      'missing_genes',
      'untested_clusters',
      'comparison_caveat'
    ]);
    expect(model.notes[1].message).toContain("c (absent from 'stim')");
    expect(model.notes[2].message).toContain('DESeq2');
    expect(model.missingGenes).toEqual(['NOPE']);
  });

  it('keeps a cluster subset and orders rows by average linkage on the tested columns', () => {
    const subset = buildDifferenceModel(
      { comparison: comparison(), genes: ['G1', 'G2'] },
      { clusters: ['b'] }
    );
    expect(subset.columns.map(c => c.label)).toEqual(['b']);
    expect(subset.color).toEqual([[-3.2], [0.2]]);
    const ordered = buildDifferenceModel(
      { comparison: comparison(), genes: ['G1', 'G2', 'G3'] },
      { clusterGenes: true }
    );
    // G3 has no value in b: not clustered, last, and said so
    expect(ordered.genes[2]).toBe('G3');
    expect(ordered.rowDendrogram?.nLeaves).toBe(2);
    expect(ordered.notes.map(n => n.kind)).toContain('clustering_partial');
  });

  it('says plainly that cells are not replicates for a Wilcoxon comparison', () => {
    const c = comparison();
    c.result = {
      ...c.result,
      method: 'wilcoxon',
      sample_key: null,
      caveat: 'Cells are treated as independent replicates, which they are not.'
    };
    const model = buildDifferenceModel({ comparison: c, genes: ['G1'] });
    const sentence = model.notes.find(n => n.kind === 'comparison_caveat')!;
    expect(sentence.message).toContain('Wilcoxon');
    expect(sentence.message).toContain('not.');
  });

  it('ranks the top changed genes per tested cluster', () => {
    const top = changedGeneRows(comparison(), 2);
    expect(top.rows.map(r => [r.cluster, r.gene, r.rank])).toEqual([
      ['a', 'G1', 1],
      ['a', 'G2', 2],
      ['b', 'G1', 1],
      ['b', 'G2', 2]
    ]);
    expect(top.genes).toEqual(['G1', 'G2']);
  });
});

describe('difference heatmap CSV', () => {
  it("writes the comparison's numbers and counts per gene × cluster", () => {
    const model = buildDifferenceModel({
      comparison: comparison(),
      genes: ['G1']
    });
    const lines = heatmapCsv(model).trim().split(/\r?\n/);
    expect(lines[0]).toBe(
      'gene,cluster,log2fc,stat,pvalue,padj,mark,n_cells_a,n_cells_b,n_samples_a,n_samples_b,masked,method,reference,target'
    );
    expect(lines[1].split(',').slice(0, 7)).toEqual([
      'G1',
      'a',
      '2.5',
      '5',
      '0.000001',
      '0.000003',
      '***'
    ]);
    expect(lines[3].split(',').slice(0, 3)).toEqual(['G1', 'c', '']);
    expect(lines).toHaveLength(4);
  });
});

describe('difference heatmap figure', () => {
  it('draws the marks over their cells and says reference, target, cells and samples', () => {
    const model = buildDifferenceModel({
      comparison: comparison(),
      genes: ['G1', 'G2']
    });
    const figure = heatmapFigure(model, { theme: THEME });
    const marks = figure.data.find(t => t.name === 'significance') as any;
    expect(marks.text).toEqual(['***', '***', '*']);
    expect(marks.x).toEqual([0, 1, 0]);
    expect(marks.y).toEqual([0, 0, 1]);
    const cells = figure.data.find(t => t.name === 'expression') as any;
    expect(cells.hovertemplate).toContain('log2FC stim vs ctrl');
    expect(cells.hovertemplate).toContain('samples ctrl / stim');
    // padj follows the common fields
    expect(cells.customdata[0][0][CELL_FIELDS.length]).toBe(3e-6);
    const ticks = (figure.layout.xaxis as any).ticktext as string[];
    expect(ticks[1]).toContain('50/40 cells');
    expect(ticks[1]).toContain('3/2 samples');
    expect(ticks[2]).toContain('(masked)');
  });
});

/** The part of the sidebar model the difference heatmap uses. */
class FakePanel {
  changed = new Signal<this, void>(this);
  selection = {
    object: 'adata',
    datasetColumn: 'dataset',
    clusterColumn: 'cluster',
    sampleColumn: 'donor' as string | null,
    matrix: 'X',
    genes: ['G2', 'G1']
  };
  description: any = { fingerprint: 'f1', stored_markers: [] };
  matrices = [{ id: 'X', label: 'X' }];
  matrixLabel = 'X';
  requestedMissing: string[] = [];
  groupingColumns = [
    {
      name: 'dataset',
      kind: 'categorical',
      categories: [{ name: 'ctrl' }, { name: 'stim' }]
    },
    {
      name: 'cluster',
      kind: 'categorical',
      categories: [{ name: 'a' }, { name: 'b' }, { name: 'c' }]
    }
  ];
  calls: ICompareArgs[] = [];
  /** Resolves the pending comparison when set (to test cancel). */
  hold: Promise<void> | null = null;
  seenSignal: AbortSignal | undefined;

  async comparison(
    args: ICompareArgs,
    options: { signal?: AbortSignal; onKernelProgress?: (p: any) => void }
  ): Promise<IComparison> {
    this.calls.push(args);
    this.seenSignal = options.signal;
    options.onKernelProgress?.({
      done: 1,
      total: 3,
      message: 'cluster a: pseudobulk'
    });
    if (this.hold) {
      await this.hold;
    }
    return comparison();
  }
}

function setup() {
  const panel = new FakePanel();
  const controller = new HeatmapController(
    panel as unknown as ExprscopePanelModel
  );
  return { panel, controller };
}

describe('HeatmapController, log2 fold change', () => {
  it('compares every gene and cluster once, with the sidebar sample column, and shows the chosen genes', async () => {
    const { panel, controller } = setup();
    controller.update({ options: { value: 'log2fc' } });
    await new Promise(r => setTimeout(r, 0));
    expect(controller.state.status).toBe('ready');
    expect(panel.calls).toEqual([
      {
        matrix: 'X',
        reference: 'ctrl',
        target: null,
        dataset_key: 'dataset',
        cluster_key: 'cluster',
        sample_key: 'donor',
        method: 'pseudobulk',
        clusters: null,
        genes: null,
        min_cells: 10
      }
    ]);
    expect(controller.state.model?.genes).toEqual(['G2', 'G1']);
    // The reference is written into the settings: the spec says what is shown
    const spec = controller.spec()!;
    expect(spec.value).toBe('log2fc');
    expect(spec.reference).toBe('ctrl');
    expect(spec.sample_column).toBe('donor');
    expect(parseSpec(serializeSpec(spec))).toEqual(spec);

    // Top changed genes, fewer of them, another cluster subset: no new comparison
    controller.update({ geneSource: 'markers', nMarkers: 1 });
    await new Promise(r => setTimeout(r, 0));
    controller.update({ clusterText: 'b' });
    expect(controller.state.model?.genes).toEqual(['G1']);
    expect(controller.state.model?.columns.map(c => c.label)).toEqual(['b']);
    expect(controller.state.markers[0]).toMatchObject({
      gene: 'G1',
      cluster: 'b',
      rank: 1
    });
    // (the repository caches; the fake counts every call the controller makes)
    expect(panel.calls.map(c => c.reference)).toEqual(['ctrl', 'ctrl']);
  });

  it('tests cells without a sample column, and asks again for another reference', async () => {
    const { panel, controller } = setup();
    panel.selection.sampleColumn = null;
    controller.update({ options: { value: 'log2fc' } });
    await new Promise(r => setTimeout(r, 0));
    expect(panel.calls[0].method).toBe('wilcoxon');
    expect(panel.calls[0].sample_key).toBeNull();
    controller.update({
      comparison: { reference: 'stim', method: 'pseudobulk' }
    });
    await new Promise(r => setTimeout(r, 0));
    expect(panel.calls[1]).toMatchObject({
      reference: 'stim',
      method: 'pseudobulk'
    });
  });

  it('shows progress, and cancel stops the request and keeps the settings', async () => {
    const { panel, controller } = setup();
    let release = () => {};
    panel.hold = new Promise<void>(r => (release = r));
    controller.update({ options: { value: 'log2fc' } });
    await new Promise(r => setTimeout(r, 0));
    expect(controller.state.status).toBe('loading');
    expect(controller.state.message).toContain('1 of 3 clusters');
    controller.cancel();
    expect(panel.seenSignal?.aborted).toBe(true);
    expect(controller.state.status).toBe('idle');
    release();
    await new Promise(r => setTimeout(r, 0));
    expect(controller.state.status).toBe('idle'); // the late reply is not drawn
    expect(controller.settings.options.value).toBe('log2fc');
    panel.hold = null;
    controller.redraw();
    await new Promise(r => setTimeout(r, 0));
    expect(controller.state.status).toBe('ready');
  });

  it('needs dataset and cluster columns', async () => {
    const { panel, controller } = setup();
    panel.selection.datasetColumn = null as any;
    controller.update({ options: { value: 'log2fc' } });
    await new Promise(r => setTimeout(r, 0));
    expect(controller.state.status).toBe('error');
    expect(controller.state.message).toContain('dataset column');
    expect(panel.calls).toHaveLength(0);
  });

  it('reads a spec without a reference as an error naming the key', () => {
    const spec = { ...controllerSpec(), reference: null };
    expect(() => parseSpec(spec)).toThrow(/"reference"/);
  });
});

function controllerSpec(): any {
  return {
    exprscope_spec: 1,
    kind: 'heatmap',
    object: 'adata',
    matrix: 'X',
    value: 'log2fc',
    reference: 'ctrl'
  };
}
