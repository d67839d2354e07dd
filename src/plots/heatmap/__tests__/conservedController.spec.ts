import { Signal } from '@lumino/signaling';
import { tableToIPC, tableFromIPC } from 'apache-arrow';

import { conservedMarkers } from '../../../compute/conserved';
import { groupStatsPayload } from '../../../data/__tests__/groupStatsPayload';
import { decodeGroupStats } from '../../../data/groupStats';
import type { ExprscopePanelModel } from '../../../session/session';
import { conservedCsv } from '../../../export/data';
import { ConservedMarkersController } from '../conservedController';
import { HeatmapController } from '../controller';

/**
 * 24 cells: clusters a/b × datasets ctrl/stim, 6 cells each. C marks cluster a in both
 * datasets (conserved), S marks cluster a in stim only (specific), N is noise.
 */
const CLUSTER = {
  codes: Array.from({ length: 24 }, (_, i) => (i < 12 ? 0 : 1)),
  categories: ['a', 'b']
};
const DATASET = {
  codes: Array.from({ length: 24 }, (_, i) => (i % 12 < 6 ? 0 : 1)),
  categories: ['ctrl', 'stim']
};
const noise = (i: number): number => ((i * 7919) % 13) / 13;
const VALUES: Record<string, number[]> = {
  C: CLUSTER.codes.map((k, i) => (k === 0 ? 4 : 0) + noise(i)),
  S: CLUSTER.codes.map(
    (k, i) => (k === 0 && DATASET.codes[i] === 1 ? 4 : 0) + noise(i + 3)
  ),
  N: CLUSTER.codes.map((_, i) => noise(i + 5) * 2)
};
const GENES = Object.keys(VALUES);

function statsOf() {
  const { result, table } = groupStatsPayload(
    GENES.map(g => VALUES[g]),
    GENES,
    CLUSTER,
    DATASET
  );
  return decodeGroupStats(result, tableFromIPC(tableToIPC(table, 'stream')));
}

/** The part of the sidebar model the table uses. */
class FakePanel {
  changed = new Signal<this, void>(this);
  selection: any = {
    object: 'adata',
    datasetColumn: 'dataset',
    clusterColumn: 'cluster',
    matrix: 'X',
    genes: []
  };
  description: any = { fingerprint: 'f1', stored_markers: [] };
  groupingColumns = [
    {
      name: 'cluster',
      kind: 'categorical',
      categories: [{ name: 'a' }, { name: 'b' }]
    },
    {
      name: 'dataset',
      kind: 'categorical',
      categories: [{ name: 'ctrl' }, { name: 'stim' }]
    }
  ];
  calls: any[] = [];
  failWith: Error | null = null;

  async groupStats(args: any) {
    this.calls.push(args);
    if (this.failWith) {
      throw this.failWith;
    }
    return statsOf();
  }
}

function setup() {
  const panel = new FakePanel();
  const controller = new ConservedMarkersController(
    panel as unknown as ExprscopePanelModel
  );
  return { panel, controller };
}

async function settled(controller: ConservedMarkersController): Promise<void> {
  for (let i = 0; i < 20 && controller.state.status === 'loading'; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

describe('ConservedMarkersController', () => {
  it('asks for nothing until the table is opened', async () => {
    const { panel, controller } = setup();
    controller.update({ combine: 'fisher' });
    panel.selection = { ...panel.selection, matrix: 'raw' };
    panel.changed.emit();
    await settled(controller);
    expect(panel.calls).toEqual([]);
    expect(controller.state.status).toBe('idle');
  });

  it('computes the table from every gene by cluster × dataset when opened', async () => {
    const { panel, controller } = setup();
    controller.update({ open: true, n: 5 });
    await settled(controller);
    expect(panel.calls).toEqual([
      { matrix: 'X', groupby: ['cluster', 'dataset'] }
    ]);
    const { state } = controller;
    expect(state.status).toBe('ready');
    expect(state.result).toEqual(
      conservedMarkers(statsOf(), {
        n: 5,
        clusterOrder: ['a', 'b'],
        datasetOrder: ['ctrl', 'stim']
      })
    );
    const clusterA = state.result!.rows.filter(r => r.cluster === 'a');
    expect(
      clusterA.map(r => [r.gene, r.category, r.specificTo])
    ).toContainEqual(['C', 'conserved', null]);
    expect(
      clusterA.map(r => [r.gene, r.category, r.specificTo])
    ).toContainEqual(['S', 'specific', 'stim']);
    expect(state.call).toMatchObject({
      object: 'adata',
      matrix: 'X',
      clusterColumn: 'cluster',
      datasetColumn: 'dataset',
      combine: 'max'
    });
  });

  it('recomputes when open and the object, matrix or grouping changes', async () => {
    const { panel, controller } = setup();
    controller.update({ open: true });
    await settled(controller);
    panel.selection = { ...panel.selection, matrix: 'raw' };
    panel.changed.emit();
    await settled(controller);
    // A change of the genes chosen in the sidebar does not change the table
    panel.selection = { ...panel.selection, genes: ['C'] };
    panel.changed.emit();
    await settled(controller);
    expect(panel.calls.map(c => c.matrix)).toEqual(['X', 'raw']);
    controller.update({ combine: 'fisher' });
    await settled(controller);
    expect(controller.state.result!.combine).toBe('fisher');
  });

  it('says why it cannot compare without two datasets', async () => {
    const { panel, controller } = setup();
    panel.selection = { ...panel.selection, datasetColumn: null };
    controller.update({ open: true });
    await settled(controller);
    expect(controller.state.message).toMatch(/choose a dataset column/);
    expect(panel.calls).toEqual([]);
    panel.selection = { ...panel.selection, datasetColumn: 'dataset' };
    panel.groupingColumns[1].categories = [{ name: 'ctrl' }];
    expect(controller.unavailableReason()).toMatch(/one dataset only/);
  });

  it('keeps the message of a kernel error and works again afterwards', async () => {
    const { panel, controller } = setup();
    panel.failWith = new Error('The kernel is busy.');
    controller.update({ open: true });
    await settled(controller);
    expect(controller.state).toMatchObject({
      status: 'error',
      message: 'The kernel is busy.',
      result: null
    });
    panel.failWith = null;
    await controller.refresh();
    expect(controller.state.status).toBe('ready');
  });

  it('is offered as a CSV by the heatmap once shown, with the Python columns', async () => {
    const panel = new FakePanel();
    const heatmap = new HeatmapController(
      panel as unknown as ExprscopePanelModel
    );
    expect(heatmap.tables().map(t => t.name)).toEqual([]);
    heatmap.conserved.update({ open: true });
    await settled(heatmap.conserved);
    const table = heatmap.tables().find(t => t.name === 'conserved markers')!;
    const lines = table.csv().split('\r\n');
    expect(lines[0]).toBe(
      'cluster,gene,category,specific_to,rank,combined_p,combine,' +
        'logfc_ctrl,pval_ctrl,padj_ctrl,logfc_stim,pval_stim,padj_stim'
    );
    expect(table.csv()).toBe(conservedCsv(heatmap.conserved.state.result!));
    expect(lines).toContainEqual(
      expect.stringMatching(/^a,S,specific,stim,1,/)
    );
    heatmap.dispose();
  });
});
