import { Signal } from '@lumino/signaling';
import { tableFromArrays, tableFromIPC, tableToIPC } from 'apache-arrow';

import { decodeGroupStats, IGroupStatsResult } from '../../../data/groupStats';
import type {
  IExpressionData,
  IGroupStatsArgs
} from '../../../data/repository';
import {
  ExprscopeSession,
  type ExprscopePanelModel
} from '../../../session/session';
import { groupStatsPayload } from '../../../data/__tests__/groupStatsPayload';
import { parseSpec } from '../../spec';
import { HeatmapController } from '../controller';
import { buildHeatmapModel } from '../model';

/**
 * 8 cells, clusters a/b, datasets ctrl/stim. Gene M1 marks cluster a, M2 cluster b in
 * both datasets, N is noise.
 */
const CLUSTER = { codes: [0, 0, 0, 0, 1, 1, 1, 1], categories: ['a', 'b'] };
const DATASET = {
  codes: [0, 0, 1, 1, 0, 0, 1, 1],
  categories: ['ctrl', 'stim']
};
const VALUES: Record<string, number[]> = {
  M1: [5, 6, 5, 7, 0, 1, 0, 0],
  M2: [0, 0, 1, 0, 6, 5, 7, 6],
  N: [1, 2, 1, 2, 2, 1, 2, 1]
};

/** The part of the sidebar model the heatmap uses, with counters of kernel traffic. */
class FakePanel {
  changed = new Signal<this, void>(this);
  selection: Record<string, any> = {
    object: 'adata',
    datasetColumn: 'dataset',
    clusterColumn: 'cluster',
    matrix: 'X',
    genes: ['M1', 'N', 'GONE']
  };
  /** The cells' clusters and samples (a test may take labels away or add samples). */
  cluster = CLUSTER;
  sample: { codes: number[]; categories: string[] } | null = null;
  description: any = { fingerprint: 'f1', stored_markers: [] };
  matrices = [{ id: 'X', label: 'X' }];
  matrixLabel = 'X';
  groupingColumns = [
    {
      name: 'cluster',
      kind: 'categorical',
      categories: [{ name: 'a' }, { name: 'b' }]
    }
  ];
  expressionCalls: string[][] = [];
  applied: any[] = [];

  async applySelection(selection: any) {
    this.applied.push(selection);
    this.selection = { ...selection };
  }
  requests: { op: string; args: any }[] = [];

  async expression(genes: string[]): Promise<IExpressionData> {
    this.expressionCalls.push(genes);
    const found = genes.filter(g => g in VALUES);
    return {
      nCells: 8,
      fingerprint: 'f1',
      matrix: 'X',
      genes: new Map(found.map(g => [g, Float32Array.from(VALUES[g])])),
      missing: genes.filter(g => !(g in VALUES)),
      missingReason: {},
      obs: new Map<string, any>([
        [
          'cluster',
          {
            kind: 'categorical',
            codes: Int32Array.from(this.cluster.codes),
            categories: this.cluster.categories
          }
        ],
        [
          'dataset',
          {
            kind: 'categorical',
            codes: Int32Array.from(DATASET.codes),
            categories: DATASET.categories
          }
        ]
      ]),
      embedding: null,
      cellIds: null
    };
  }

  /** The session's own choice of the heatmap's groups. */
  selectionStatsArgs(
    genes: string[],
    options?: { samples?: boolean }
  ): IGroupStatsArgs | null {
    return ExprscopeSession.prototype.selectionStatsArgs.call(
      this as unknown as ExprscopeSession,
      genes,
      options
    );
  }

  async groupStats(args: IGroupStatsArgs) {
    const { result, payload } = await this.request('group_stats', args);
    return decodeGroupStats(result as IGroupStatsResult, tableFromIPC(payload));
  }

  async request(op: string, args: any) {
    this.requests.push({ op, args });
    if (op === 'group_stats') {
      const genes =
        (args.genes as string[] | undefined)?.filter(g => g in VALUES) ??
        Object.keys(VALUES);
      const { result, table } = groupStatsPayload(
        genes.map(g => VALUES[g]),
        genes,
        this.cluster,
        DATASET,
        {
          expm1: !!args.expm1,
          missing: (args.genes ?? []).filter((g: string) => !(g in VALUES))
        },
        args.groupby.includes('sample') ? this.sample : null
      );
      return { result, payload: tableToIPC(table, 'stream') };
    }
    if (op === 'stored_markers') {
      const table = tableFromArrays({
        group: ['a', 'b'],
        rank: Int32Array.from([1, 1]),
        gene: ['N', 'M2'],
        score: Float64Array.from([3, 2]),
        logfoldchange: Float64Array.from([1, 1]),
        pval_adj: Float64Array.from([0.01, 0.02])
      });
      return {
        result: { available: true, method: 'wilcoxon', matrix: 'raw' },
        payload: tableToIPC(table, 'stream')
      };
    }
    throw new Error(`unexpected op ${op}`);
  }
}

function setup() {
  const panel = new FakePanel();
  const controller = new HeatmapController(
    panel as unknown as ExprscopePanelModel
  );
  return { panel, controller };
}

describe('HeatmapController', () => {
  it('draws the chosen genes and lists the missing one', async () => {
    const { panel, controller } = setup();
    await controller.refresh();
    const { state } = controller;
    expect(state.status).toBe('ready');
    expect(state.model?.genes).toEqual(['M1', 'N']);
    expect(state.model?.missingGenes).toEqual(['GONE']);
    expect(state.model?.notes.map(n => n.kind)).toContain('missing_genes');
    // Statistics first: sums of the genes per group, no cells
    expect(panel.expressionCalls).toHaveLength(0);
    expect(panel.requests.map(r => r.op)).toEqual(['group_stats']);
    // In memory: nothing says "computed in the kernel"
    expect(state.model?.notes.map(n => n.kind)).not.toContain('kernel_path');
  });

  it('lists genes the sidebar was asked for but the matrix lacks, without fetching them', async () => {
    const { panel, controller } = setup();
    (panel as any).requestedMissing = ['NOT_A_GENE'];
    await controller.refresh();
    const model = controller.state.model!;
    expect(model.genes).toEqual(['M1', 'N']);
    expect(model.missingGenes).toEqual(['GONE', 'NOT_A_GENE']);
    expect(controller.notes().join('\n')).toContain('NOT_A_GENE');
    expect(panel.requests.map(r => r.args.genes)).toEqual([
      ['M1', 'N', 'GONE']
    ]);
  });

  it('regroups, rescales and subsets clusters without asking the kernel again', async () => {
    const { panel, controller } = setup();
    await controller.refresh();
    controller.update({
      options: { ...controller.settings.options, groupBy: 'dataset_cluster' }
    });
    expect(controller.state.model?.columns.map(c => c.label)).toEqual([
      'ctrl · a',
      'stim · a',
      'ctrl · b',
      'stim · b'
    ]);
    controller.update({
      options: { ...controller.settings.options, scaling: 'minmax' }
    });
    controller.update({ clusterText: 'b' });
    expect(controller.state.model?.columns.map(c => c.label)).toEqual([
      'ctrl · b',
      'stim · b'
    ]);
    controller.update({ clusterText: 'b, zz' });
    expect(controller.state.unknownClusters).toEqual(['zz']);
    expect(controller.state.model?.notes[0].message).toContain('zz');
    expect(panel.expressionCalls).toHaveLength(0);
    expect(panel.requests).toHaveLength(1); // the first draw's sums
  });

  it('counts the samples behind each column from the sums', async () => {
    const { panel, controller } = setup();
    panel.selection = { ...panel.selection, sampleColumn: 'sample' };
    panel.groupingColumns.push({
      name: 'sample',
      kind: 'categorical',
      categories: [{ name: 'p1' }, { name: 'p2' }]
    });
    // Cluster a: samples p1, p2; cluster b: p2 only
    panel.sample = {
      codes: [0, 1, 0, 1, 1, 1, 1, 1],
      categories: ['p1', 'p2']
    };
    await controller.refresh();
    controller.update({
      options: { ...controller.settings.options, scaling: 'none', minCells: 0 }
    });
    expect(panel.requests[0].args.groupby).toEqual([
      'dataset',
      'cluster',
      'sample'
    ]);
    const model = controller.state.model!;
    expect(model.columns.map(c => [c.label, c.nCells, c.nSamples])).toEqual([
      ['a', 4, 2],
      ['b', 4, 1]
    ]);
    expect(model.mean[0][0]).toBeCloseTo(5.75, 12); // M1 in a, as without samples
  });

  it('out of core, leaves the sample column out when cells lack a sample label', async () => {
    const { panel, controller } = setup();
    panel.description = {
      ...panel.description,
      execution: { path: 'kernel', reason: 'backed h5ad' }
    };
    panel.selection = { ...panel.selection, sampleColumn: 'sample' };
    panel.sample = {
      codes: [0, 1, 0, 1, 1, 1, 1, -1],
      categories: ['p1', 'p2']
    };
    await controller.refresh();
    controller.update({
      options: { ...controller.settings.options, scaling: 'none', minCells: 0 }
    });
    expect(panel.requests.map(r => r.args.groupby)).toEqual([
      ['dataset', 'cluster', 'sample'],
      ['dataset', 'cluster']
    ]);
    expect(panel.expressionCalls).toHaveLength(0);
    const model = controller.state.model!;
    // Every cell counts: cluster b keeps its 4 cells, samples are not counted
    expect(model.columns.map(c => [c.label, c.nCells, c.nSamples])).toEqual([
      ['a', 4, null],
      ['b', 4, null]
    ]);
    expect(controller.notes().join(' ')).toContain('Samples are not counted');
  });

  it('reads cells when the sums would leave unlabelled cells out', async () => {
    const { panel, controller } = setup();
    panel.cluster = {
      codes: [0, 0, 0, 0, 1, 1, 1, -1],
      categories: ['a', 'b']
    };
    controller.update({
      options: { ...controller.settings.options, groupBy: 'dataset' }
    });
    await controller.refresh();
    expect(panel.expressionCalls).toHaveLength(1);
    // stim has 4 cells though one has no cluster
    const stim = controller.state.model!.columns.find(c => c.label === 'stim');
    expect(stim?.nCells).toBe(4);
  });

  it('computes top markers from kernel statistics and says so', async () => {
    const { panel, controller } = setup();
    controller.update({ geneSource: 'markers', nMarkers: 1 });
    await new Promise(resolve => setTimeout(resolve, 0));
    await controller.refresh();
    const { state } = controller;
    expect(panel.requests.map(r => r.op)).toContain('group_stats');
    expect(panel.requests[0].args.groupby).toEqual(['cluster', 'dataset']);
    expect(state.markerSource?.kind).toBe('computed');
    expect(state.markerSource?.text).toContain('Welch t-test');
    expect(state.model?.genes).toEqual(['M1', 'M2']);
    // Both datasets agree on both markers.
    expect(state.markers.every(m => m.sharedDatasets.length === 2)).toBe(true);
    // A cluster subset narrows the rows from the markers already computed.
    const calls = panel.requests.length;
    controller.update({ clusterText: 'b' });
    expect(controller.state.model?.genes).toEqual(['M2']);
    expect(panel.requests).toHaveLength(calls);
  });

  it('uses stored rank_genes_groups results when the object has them', async () => {
    const { panel, controller } = setup();
    panel.description.stored_markers = [
      {
        key: 'rank_genes_groups',
        groupby: 'cluster',
        method: 'wilcoxon',
        matrix: 'raw'
      }
    ];
    controller.update({ geneSource: 'markers' });
    await controller.refresh();
    // The stored markers, then the sums of those genes
    expect(panel.requests.map(r => r.op)).toEqual([
      'stored_markers',
      'group_stats'
    ]);
    expect(controller.state.markerSource?.kind).toBe('stored');
    expect(controller.state.markerSource?.text).toContain(
      "stored in uns['rank_genes_groups'] (wilcoxon, on raw)"
    );
    expect(controller.state.model?.genes).toEqual(['N', 'M2']);
  });

  it('asks for a cluster column before computing markers', async () => {
    const { panel, controller } = setup();
    panel.selection.clusterColumn = null as any;
    controller.update({ geneSource: 'markers' });
    await controller.refresh();
    expect(controller.state.status).toBe('error');
    expect(controller.state.message).toContain('cluster column');
  });

  it('reports kernel failures without losing the settings', async () => {
    const { panel, controller } = setup();
    panel.groupStats = async () => {
      throw new Error('kernel went away');
    };
    controller.update({ nMarkers: 7 });
    await controller.refresh();
    expect(controller.state.status).toBe('error');
    expect(controller.state.message).toContain('kernel went away');
    expect(controller.settings.nMarkers).toBe(7);
  });

  it('builds above the worker threshold in the worker, keeping only the newest build', async () => {
    const panel = new FakePanel();
    const builds: any[] = [];
    const builder = {
      build: (input: any, options: any) => {
        builds.push(options);
        return Promise.resolve(buildHeatmapModel(input, options));
      },
      prepare: jest.fn(),
      dispose: jest.fn()
    };
    const controller = new HeatmapController(
      panel as unknown as ExprscopePanelModel,
      { buildInWorker: builder, workerThreshold: 4 } // the sums' 4 groups
    );
    await controller.refresh();
    await Promise.resolve();
    expect(builds).toHaveLength(1);
    expect(controller.state.model?.genes).toEqual(['M1', 'N']);
    controller.update({
      options: { ...controller.settings.options, scaling: 'none' }
    });
    controller.update({
      options: { ...controller.settings.options, scaling: 'minmax' }
    });
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(controller.state.model?.options.scaling).toBe('minmax');
    controller.dispose();
    expect(builder.dispose).toHaveBeenCalled();
  });

  it('describes itself as a spec and shows a loaded spec exactly', async () => {
    const { panel, controller } = setup();
    await controller.refresh();
    controller.update({
      clusterText: 'b',
      options: { ...controller.settings.options, scaling: 'minmax' }
    });
    const spec = controller.spec()!;
    expect(spec).toMatchObject({
      kind: 'heatmap',
      object: 'adata',
      matrix: 'X',
      genes: ['M1', 'N', 'GONE'],
      clusters: ['b'],
      scaling: 'minmax'
    });
    controller.update({
      clusterText: '',
      options: { ...controller.settings.options, scaling: 'zscore' }
    });
    controller.applySpec(parseSpec(JSON.parse(JSON.stringify(spec))));
    expect(controller.spec()).toEqual(spec);
    expect(panel.applied).toHaveLength(1);
    expect(() =>
      controller.applySpec({ ...spec, kind: 'dual_expression' } as any)
    ).toThrow('dual-expression');
  });

  it('offers the plotted numbers as CSV', async () => {
    const { controller } = setup();
    await controller.refresh();
    controller.update({
      options: { ...controller.settings.options, scaling: 'none', minCells: 0 }
    });
    const [table] = controller.tables();
    const lines = table.csv().trim().split('\r\n');
    expect(lines[0]).toBe(
      'gene,column,dataset,cluster,n_cells,mean,fraction_expressing,plotted_mean_none'
    );
    // M1 in cluster a: mean of 5, 6, 5, 7.
    expect(lines).toContain('M1,a,,a,4,5.75,1,5.75');
    expect(controller.notes().join(' ')).toContain('GONE');
  });

  it('draws the same numbers from the sums as from cells, in memory and out of core', async () => {
    const panel = new FakePanel();
    const cells = await panel.expression(panel.selection.genes);
    const coded = (name: string) => {
      const column = cells.obs.get(name) as any;
      return { codes: column.codes, categories: column.categories };
    };
    const fromCells = (options: any) =>
      buildHeatmapModel(
        {
          genes: panel.selection.genes,
          values: cells.genes,
          dataset: coded('dataset'),
          cluster: coded('cluster'),
          matrix: 'X'
        },
        options
      );
    for (const execution of [
      { path: 'browser', reason: 'in memory' },
      { path: 'kernel', reason: 'backed h5ad' }
    ]) {
      const kernel = setup();
      kernel.panel.description = { ...kernel.panel.description, execution };
      kernel.panel.groupingColumns.push({
        name: 'dataset',
        kind: 'categorical',
        categories: [{ name: 'ctrl' }, { name: 'stim' }]
      });
      await kernel.controller.refresh();
      expect(kernel.panel.expressionCalls).toHaveLength(0);
      const request = kernel.panel.requests.find(r => r.op === 'group_stats')!;
      expect(request.args).toMatchObject({
        genes: ['M1', 'N', 'GONE'],
        expm1: true,
        groupby: ['dataset', 'cluster']
      });
      for (const groupBy of [
        'cluster',
        'dataset',
        'dataset_cluster'
      ] as const) {
        for (const value of ['mean', 'linear_mean', 'fraction'] as const) {
          const options = {
            ...kernel.controller.settings.options,
            groupBy,
            value,
            scaling: 'none' as const,
            minCells: 0
          };
          kernel.controller.update({ options });
          const a = fromCells(options);
          const b = kernel.controller.state.model!;
          expect(b.genes).toEqual(a.genes);
          expect(b.columns).toEqual(a.columns);
          b.mean.forEach((row, r) =>
            row.forEach((v, j) => expect(v).toBeCloseTo(a.mean[r][j]!, 12))
          );
          b.fraction.forEach((row, r) =>
            row.forEach((v, j) => expect(v).toBeCloseTo(a.fraction[r][j]!, 12))
          );
          expect(b.missingGenes).toEqual(['GONE']);
        }
      }
      const notes = kernel.controller.notes().join(' ');
      expect(notes.includes('in the kernel')).toBe(execution.path === 'kernel');
    }
  });
});
