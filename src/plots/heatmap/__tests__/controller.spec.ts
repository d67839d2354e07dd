import { Signal } from '@lumino/signaling';
import { tableFromArrays, tableToIPC } from 'apache-arrow';

import type { IExpressionData } from '../../../data/repository';
import type { ExprscopePanelModel } from '../../../panel/model';
import { groupStatsPayload } from '../../../data/__tests__/groupStatsPayload';
import { HeatmapController } from '../controller';

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
  selection = {
    object: 'adata',
    datasetColumn: 'dataset',
    clusterColumn: 'cluster',
    matrix: 'X',
    genes: ['M1', 'N', 'GONE']
  };
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
            codes: Int32Array.from(CLUSTER.codes),
            categories: CLUSTER.categories
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

  async request(op: string, args: any) {
    this.requests.push({ op, args });
    if (op === 'group_stats') {
      const genes = Object.keys(VALUES);
      const { result, table } = groupStatsPayload(
        genes.map(g => VALUES[g]),
        genes,
        CLUSTER,
        DATASET
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
    expect(panel.expressionCalls).toHaveLength(1);
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
    expect(panel.expressionCalls).toHaveLength(1);
    expect(panel.requests).toHaveLength(0);
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
    expect(panel.requests.map(r => r.op)).toEqual(['stored_markers']);
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
    panel.expression = async () => {
      throw new Error('kernel went away');
    };
    controller.update({ nMarkers: 7 });
    await controller.refresh();
    expect(controller.state.status).toBe('error');
    expect(controller.state.message).toContain('kernel went away');
    expect(controller.settings.nMarkers).toBe(7);
  });
});
