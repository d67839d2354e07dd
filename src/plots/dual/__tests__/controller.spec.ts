import { Signal } from '@lumino/signaling';

import type { IExpressionData } from '../../../data/repository';
import type { ExprscopePanelModel } from '../../../panel/model';
import { DualController } from '../controller';
import { buildDualModel, IDualInput, IDualOptions } from '../model';

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
    embeddings: [{ name: 'X_umap', n_dims: 2 }]
  };
  matrices = [{ id: 'X', label: 'X' }];
  matrixLabel = 'X';
  calls: { genes: string[]; extras: any }[] = [];

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
      cellIds: Array.from({ length: N }, (_, i) => `c${i}`)
    };
  }
}

describe('DualController', () => {
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
    const controller = new DualController(
      panel as unknown as ExprscopePanelModel,
      {
        workerThreshold: 10,
        buildInWorker: {
          build: (input: IDualInput, options: Partial<IDualOptions>) => {
            inputs.push(input);
            return new Promise(resolve =>
              resolvers.push(() => resolve(buildDualModel(input, options)))
            );
          },
          dispose: () => undefined
        }
      }
    );
    await controller.refresh();
    expect(controller.state.status).toBe('loading');
    expect(controller.state.message).toContain('Drawing 40 cells');
    // Each build draws first (no statistics), then correlates.
    expect(inputs).toHaveLength(2);
    // Options change while those run: only the newest results are shown.
    controller.update({ options: { colorBy: 'cluster' } });
    expect(inputs).toHaveLength(4);
    expect(inputs[2]).toBe(inputs[0]); // same data: the worker keeps its copy
    resolvers[2]();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(controller.state.status).toBe('loading');
    expect(controller.state.message).toContain('Correlating 40 cells');
    expect(controller.state.model?.options.statistics).toBe(false);
    resolvers[3]();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(controller.state.status).toBe('ready');
    expect(controller.state.model?.options.colorBy).toBe('cluster');
    expect(controller.state.model?.stats.dataset[0].reason).toBeNull();
    resolvers[0]();
    resolvers[1]();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(controller.state.model?.options.colorBy).toBe('cluster');
    expect(controller.state.status).toBe('ready');
    controller.swap();
    expect(inputs[4]).not.toBe(inputs[0]);
    expect(panel.calls).toHaveLength(1);
  });
});
