import { Signal } from '@lumino/signaling';

import type { IExpressionData } from '../../../data/repository';
import type { ExprscopePanelModel } from '../../../session/session';
import { tableFromArrays, tableToIPC } from 'apache-arrow';

import { correlateByGroup } from '../../../compute/correlation';
import { parseSpec } from '../../spec';
import { DualController } from '../controller';
import {
  buildDualModel,
  clearDualCaches,
  DENSITY_THRESHOLD,
  IDualInput,
  IDualModel,
  IDualOptions
} from '../model';

const N = 40;
const X = Float32Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 0 : i / 4));
const Y = Float32Array.from({ length: N }, (_, i) =>
  i % 4 === 0 ? 0 : (i * 7) % 11
);
const DATASET = Int32Array.from({ length: N }, (_, i) => (i < N / 2 ? 0 : 1));
const CLUSTER = Int32Array.from({ length: N }, (_, i) => i % 3);

/** The part of the sidebar model the view uses, counting kernel traffic. */
class FakePanel {
  changed = new Signal<this, void>(this);
  selection = {
    object: 'adata',
    datasetColumn: 'dataset',
    clusterColumn: 'cluster',
    matrix: 'X',
    genes: ['GX', 'GY']
  };
  description: any = {
    fingerprint: 'f1',
    n_obs: N,
    embeddings: [{ name: 'X_umap', n_dims: 2 }]
  };
  matrices = [{ id: 'X', label: 'X' }];
  matrixLabel = 'X';
  calls: { genes: string[]; extras: any }[] = [];
  groupingColumns = [
    {
      name: 'cluster',
      kind: 'categorical',
      categories: [{ name: '0' }, { name: '1' }, { name: '2' }]
    }
  ];
  applied: any[] = [];
  requests: { op: string; args: any }[] = [];

  /** `pair_stats` as the kernel answers it, from the same cells. */
  async request(op: string, args: any) {
    this.requests.push({ op, args });
    if (op !== 'pair_stats') {
      throw new Error(`unexpected op ${op}`);
    }
    const columns: Record<string, { codes: Int32Array; labels: string[] }> = {
      dataset: { codes: DATASET, labels: ['ctrl', 'stim'] },
      cluster: { codes: CLUSTER, labels: ['0', '1', '2'] }
    };
    const [a, b] = (args.groupby as string[]).map(name => columns[name]);
    const codes = b
      ? Int32Array.from(a.codes, (code, i) => code * 3 + b.codes[i])
      : a.codes;
    const labels = b
      ? a.labels.flatMap(la => b.labels.map(lb => [la, lb]))
      : a.labels.map(l => [l]);
    const stats = correlateByGroup(X, Y, codes, labels.length, {
      detectedOnly: args.detected_only,
      nBoot: 0
    });
    const table = tableFromArrays({
      group: Int32Array.from(stats, s => s.group),
      n_cells: Float64Array.from(
        stats,
        s => codes.filter(c => c === s.group).length
      ),
      n: Float64Array.from(stats, s => s.nCells),
      n_both_positive: Float64Array.from(
        stats,
        s =>
          Array.from(codes).filter(
            (c, i) => c === s.group && X[i] > 0 && Y[i] > 0
          ).length
      ),
      pearson_r: Float64Array.from(stats, s => s.pearsonR),
      pearson_ci_low: Float64Array.from(stats, s => s.pearsonCiLow),
      pearson_ci_high: Float64Array.from(stats, s => s.pearsonCiHigh),
      pearson_p: Float64Array.from(stats, s => s.pearsonP),
      spearman_rho: Float64Array.from(stats, s => s.spearmanRho),
      spearman_p: Float64Array.from(stats, s => s.spearmanP),
      reason: stats.map(s => s.reason ?? '')
    });
    return {
      result: {
        groupby: args.groupby,
        groups: labels.map(l => ({ labels: l, n: 0 })),
        missing: []
      },
      payload: tableToIPC(table, 'stream')
    };
  }

  async applySelection(selection: any) {
    this.applied.push(selection);
    this.selection = { ...selection };
  }

  async expression(
    genes: string[],
    _options: unknown,
    extras: any
  ): Promise<IExpressionData> {
    this.calls.push({ genes, extras });
    const values: Record<string, Float32Array> = { GX: X, GY: Y };
    return {
      nCells: N,
      fingerprint: 'f1',
      matrix: 'X',
      genes: new Map(genes.filter(g => g in values).map(g => [g, values[g]])),
      missing: genes.filter(g => !(g in values)),
      missingReason: {},
      obs: new Map<string, any>([
        [
          'dataset',
          { kind: 'categorical', codes: DATASET, categories: ['ctrl', 'stim'] }
        ],
        [
          'cluster',
          { kind: 'categorical', codes: CLUSTER, categories: ['0', '1', '2'] }
        ]
      ]),
      embedding: extras.embedding
        ? {
            name: extras.embedding,
            dims: [
              Float32Array.from({ length: N }, (_, i) => i),
              Float32Array.from({ length: N }, (_, i) => -i)
            ]
          }
        : null,
      cellIds:
        extras.cellIds === 'cached' && !this.namesCached
          ? null
          : Array.from({ length: N }, (_, i) => `c${i}`)
    };
  }

  /** Whether the shared cache holds the cells' names (`cellIds: 'cached'`). */
  namesCached = false;
}

describe('DualController', () => {
  it('draws a large object before its cell names arrive, unless they are cached', async () => {
    const panel = new FakePanel();
    // As large as a binned first draw (the cells themselves stay few here)
    panel.description.n_obs = DENSITY_THRESHOLD + 1;
    const controller = new DualController(
      panel as unknown as ExprscopePanelModel
    );
    const models: (IDualModel | null)[] = [];
    controller.changed.connect(() => models.push(controller.state.model));
    await controller.refresh();
    expect(panel.calls.map(c => c.extras.cellIds)).toEqual(['cached', true]);
    // First drawn without names, then with them
    const drawn = models.filter((m): m is IDualModel => m !== null);
    expect(drawn[0].cellIds).toBeNull();
    expect(controller.state.model?.cellIds?.length).toBe(N);
    expect(controller.state.status).toBe('ready');

    // Names in the cache: one request, names in the first model
    const cached = new FakePanel();
    cached.description.n_obs = DENSITY_THRESHOLD + 1;
    cached.namesCached = true;
    const again = new DualController(cached as unknown as ExprscopePanelModel);
    await again.refresh();
    expect(cached.calls.map(c => c.extras.cellIds)).toEqual(['cached']);
    expect(again.state.model?.cellIds?.length).toBe(N);
  });

  it('takes the sidebar genes and a UMAP, then works from the data it has', async () => {
    const panel = new FakePanel();
    const controller = new DualController(
      panel as unknown as ExprscopePanelModel
    );
    await controller.refresh();
    expect(controller.settings.geneX).toBe('GX');
    expect(controller.settings.geneY).toBe('GY');
    expect(panel.calls).toEqual([
      { genes: ['GX', 'GY'], extras: { embedding: 'X_umap', cellIds: true } }
    ]);
    const model = controller.state.model!;
    expect(model.stats.dataset.map(s => s.label)).toEqual(['ctrl', 'stim']);
    expect(model.blend).not.toBeNull();

    controller.swap();
    expect(controller.state.model?.geneX).toBe('GY');
    controller.update({ options: { colorBy: 'cluster', facetBy: 'dataset' } });
    controller.update({ clusterText: '0, 2' });
    expect(controller.state.model?.kept.length).toBeLessThan(N);
    controller.update({ clusterText: '0, 9' });
    expect(controller.state.unknownClusters).toEqual(['9']);
    expect(panel.calls).toHaveLength(1);

    // A lasso selection is kept through rebuilds of the same data.
    const selected = new Uint8Array(N);
    selected[3] = 1;
    controller.select(selected);
    controller.update({ options: { jitter: true } });
    expect(controller.state.selected).toBe(selected);
  });

  it('lets go of its data and model when disposed', async () => {
    const panel = new FakePanel();
    const controller = new DualController(
      panel as unknown as ExprscopePanelModel
    );
    await controller.refresh();
    expect(controller.state.model).not.toBeNull();
    controller.dispose();
    expect(controller.state.model).toBeNull();
    expect(controller.tables()).toEqual([]);
  });

  it('fetches only when a new gene is asked for, and reports one the matrix lacks', async () => {
    const panel = new FakePanel();
    const controller = new DualController(
      panel as unknown as ExprscopePanelModel
    );
    await controller.refresh();
    controller.update({ geneY: 'NOPE' });
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(panel.calls).toHaveLength(2);
    expect(controller.state.model?.missingGenes).toEqual(['NOPE']);
  });

  it('builds in the worker above the threshold, keeping the UI responsive and the newest build', async () => {
    const panel = new FakePanel();
    const inputs: IDualInput[] = [];
    const resolvers: (() => void)[] = [];
    const events: string[] = [];
    const controller = new DualController(
      panel as unknown as ExprscopePanelModel,
      {
        workerThreshold: 10,
        buildInWorker: {
          build: (input: IDualInput, options: Partial<IDualOptions>) => {
            events.push('build');
            inputs.push(input);
            return new Promise(resolve =>
              resolvers.push(() => resolve(buildDualModel(input, options)))
            );
          },
          prepare: () => events.push('prepare'),
          dispose: () => undefined
        }
      }
    );
    const settle = () => new Promise(resolve => setTimeout(resolve, 0));
    clearDualCaches(); // no correlations memoised by earlier tests
    const refreshed = controller.refresh();
    // The worker starts while the data is fetched, not once it is in
    expect(panel.calls).toHaveLength(1);
    expect(events).toEqual(['prepare']);
    await refreshed;
    expect(events).toEqual(['prepare', 'build']);
    expect(controller.state.status).toBe('loading');
    expect(controller.state.message).toContain('Drawing 40 cells');
    // Each build draws first (no statistics); it correlates once that is drawn.
    expect(inputs).toHaveLength(1);
    // Options change meanwhile: only the newest results are shown.
    controller.update({ options: { colorBy: 'cluster' } });
    expect(inputs).toHaveLength(2);
    expect(inputs[1]).toBe(inputs[0]); // same data: the worker keeps its copy
    resolvers[1]();
    await settle();
    expect(controller.state.status).toBe('loading');
    expect(controller.state.message).toContain('Correlating 40 cells');
    expect(controller.state.model?.options.statistics).toBe(false);
    expect(inputs).toHaveLength(3); // the correlating build
    resolvers[2]();
    await settle();
    expect(controller.state.status).toBe('ready');
    expect(controller.state.model?.options.colorBy).toBe('cluster');
    expect(controller.state.model?.stats.dataset[0].reason).toBeNull();
    // The superseded first build lands late: ignored, and it correlates nothing
    resolvers[0]();
    await settle();
    expect(inputs).toHaveLength(3);
    expect(controller.state.model?.options.colorBy).toBe('cluster');
    expect(controller.state.status).toBe('ready');
    // Correlations memoised: recolouring is one build, ready at once
    controller.update({ options: { colorBy: 'dataset' } });
    expect(inputs).toHaveLength(4);
    resolvers[3]();
    await settle();
    expect(inputs).toHaveLength(4);
    expect(controller.state.status).toBe('ready');
    expect(controller.state.model?.options.statistics).toBe(false);
    expect(controller.state.model?.stats.dataset[0].reason).toBeNull();
    controller.swap();
    expect(inputs[4]).not.toBe(inputs[0]);
    expect(panel.calls).toHaveLength(1);
  });

  it('describes itself as a spec, shows a loaded one exactly, and offers its numbers', async () => {
    const panel = new FakePanel();
    const controller = new DualController(
      panel as unknown as ExprscopePanelModel
    );
    await controller.refresh();
    controller.update({
      clusterText: '0, 2',
      options: { colorBy: 'cluster', facetBy: 'dataset', detectedOnly: true }
    });
    const spec = controller.spec()!;
    expect(spec).toMatchObject({
      kind: 'dual_expression',
      object: 'adata',
      gene_x: 'GX',
      gene_y: 'GY',
      clusters: ['0', '2'],
      color_by: 'cluster',
      facet_by: 'dataset',
      detected_only: true,
      embedding: 'X_umap'
    });
    controller.update({ clusterText: '', options: { detectedOnly: false } });
    controller.applySpec(parseSpec(JSON.stringify(spec)));
    expect(controller.spec()).toEqual(spec);
    // The sidebar's gene list is left alone by a dual plot's parameters.
    expect(panel.applied[0].genes).toEqual(['GX', 'GY']);
    expect(() =>
      controller.applySpec({ ...spec, kind: 'heatmap' } as any)
    ).toThrow('heatmap');

    const [cells, statistics] = controller.tables();
    expect(cells.name).toBe('cells');
    expect(cells.rows).toBe(controller.state.model!.points.cells.length);
    const rows = cells.csv().trim().split('\r\n');
    expect(rows[0]).toBe('cell,dataset,cluster,GX,GY');
    // Detected only, clusters 0 and 2: the drawn cells.
    expect(rows).toHaveLength(controller.state.model!.points.cells.length + 1);
    expect(statistics.csv().split('\r\n')[0]).toContain('pearson_r');
  });

  it('takes correlations from the kernel for out-of-core objects', async () => {
    const browser = new FakePanel();
    const inBrowser = new DualController(
      browser as unknown as ExprscopePanelModel
    );
    const kernel = new FakePanel();
    kernel.description = {
      ...kernel.description,
      execution: { path: 'kernel', reason: 'backed h5ad' }
    };
    const inKernel = new DualController(
      kernel as unknown as ExprscopePanelModel
    );
    for (const controller of [inBrowser, inKernel]) {
      controller.update({ options: { nBoot: 0, facetBy: 'dataset_cluster' } });
      await controller.refresh();
    }
    expect(kernel.requests.map(r => r.args.groupby)).toEqual([
      ['dataset'],
      ['cluster'],
      ['dataset', 'cluster']
    ]);
    const a = inBrowser.state.model!.stats;
    const b = inKernel.state.model!.stats;
    for (const section of ['dataset', 'cluster', 'facet'] as const) {
      expect(b[section].map(s => s.label)).toEqual(
        a[section].map(s => s.label)
      );
      const same = (got: number, want: number) =>
        Number.isNaN(want)
          ? expect(got).toBeNaN()
          : expect(got).toBeCloseTo(want, 12);
      b[section].forEach((stats, i) => {
        same(stats.pearsonR, a[section][i].pearsonR);
        same(stats.spearmanRho, a[section][i].spearmanRho);
        expect(stats.nCells).toBe(a[section][i].nCells);
      });
    }
    expect(inKernel.notes().join(' ')).toContain('computed in the kernel');

    // "Detected only" asks the kernel again; a cluster subset does not.
    inKernel.update({ options: { detectedOnly: true } });
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(kernel.requests).toHaveLength(6);
    expect(kernel.requests[5].args.detected_only).toBe(true);
    inKernel.update({ clusterText: '0' });
    expect(kernel.requests).toHaveLength(6);
    // Per-dataset values over the kept clusters only would need the cells.
    expect(
      inKernel.state.model!.stats.dataset.every(s => Number.isNaN(s.pearsonR))
    ).toBe(true);
  });
});
