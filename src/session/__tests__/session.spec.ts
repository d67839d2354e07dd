/**
 * The sidebar's model against a fake kernel bridge: messages that would pile up on every
 * Run All, and requested genes the matrix lacks (issue 19).
 */
import { Signal } from '@lumino/signaling';

import type { BridgeManager } from '../../bridge/bridgeManager';
import type { IDescribeResult, IObjectInfo } from '../../bridge/protocol';
import type { ExpressionRepository } from '../../data/repository';
import { ExprscopePanelModel } from '../session';

const GENES = ['ISG15', 'IFI6', 'CD3E'];
const RAW_GENES = [...GENES, 'MALAT1'];

/** A kernel holding one object, `adata`, whose fingerprint the test changes. */
class FakeBridge {
  status = 'ready';
  statusMessage = 'ready';
  statusChanged = new Signal<this, string>(this);
  executed = new Signal<this, void>(this);
  fingerprint = 'f0';
  present = true;

  async list(): Promise<IObjectInfo[]> {
    return this.present
      ? [
          {
            name: 'adata',
            type: 'AnnData',
            n_obs: 10,
            n_vars: GENES.length,
            fingerprint: this.fingerprint
          }
        ]
      : [];
  }

  async describe(name: string): Promise<IDescribeResult> {
    return {
      name,
      type: 'AnnData',
      n_obs: 10,
      n_vars: GENES.length,
      fingerprint: this.fingerprint,
      obs: [],
      genes: GENES,
      matrices: [
        {
          id: 'X',
          label: 'X',
          n_vars: GENES.length,
          dtype: 'f4',
          storage: 'csr'
        },
        {
          id: 'raw',
          label: 'raw',
          n_vars: RAW_GENES.length,
          dtype: 'f4',
          storage: 'csr',
          genes: RAW_GENES
        }
      ],
      embeddings: [],
      guesses: { dataset: null, cluster: null },
      stored_markers: []
    };
  }
}

function setUp() {
  const bridge = new FakeBridge();
  const repository = {
    getExpression: async (request: { genes: string[] }) => ({
      genes: new Map(request.genes.map(g => [g, new Float32Array(10)])),
      nCells: 10,
      missing: [],
      missingReason: {}
    })
  } as unknown as ExpressionRepository;
  // The sidebar's way: follow the active kernel (here always the fake one)
  const manager = {
    active: bridge,
    activeChanged: new Signal<unknown, unknown>({})
  };
  const model = new ExprscopePanelModel({
    manager: manager as unknown as BridgeManager,
    repositoryFor: () => repository,
    settings: () => ({ refreshAfterExecution: true })
  });
  return { bridge, model };
}

/** Wait for the model's refreshes and loads to settle. */
async function settle(model: ExprscopePanelModel): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
    if (model.busyCount === 0) {
      return;
    }
  }
}

describe('ExprscopePanelModel messages', () => {
  it('keeps one "changed in the kernel" message however often the object is rebuilt', async () => {
    const { bridge, model } = setUp();
    await settle(model);
    expect(model.description?.fingerprint).toBe('f0');
    // Run All, three times: the object is rebuilt each time
    for (const fingerprint of ['f1', 'f2', 'f3']) {
      bridge.fingerprint = fingerprint;
      await model.refresh();
      await settle(model);
    }
    const about = model.messages.filter(m => m.text.includes("'adata'"));
    expect(about).toHaveLength(1);
    expect(about[0].text).toContain('changed in the kernel');
    expect(model.description?.fingerprint).toBe('f3');
    model.dispose();
  });

  it('replaces the message when the object goes, comes back and changes', async () => {
    const { bridge, model } = setUp();
    await settle(model);
    model.addGenes('NOT_A_GENE'); // another message, which stays
    bridge.present = false;
    await model.refresh();
    expect(
      model.messages.filter(m => m.text.includes("'adata'")).map(m => m.text)
    ).toEqual([expect.stringContaining('no longer in the kernel')]);
    bridge.present = true;
    bridge.fingerprint = 'f1';
    await model.refresh();
    await settle(model);
    bridge.fingerprint = 'f2';
    await model.refresh();
    await settle(model);
    const about = model.messages.filter(m => m.text.includes("'adata'"));
    expect(about.map(m => m.text)).toEqual([
      expect.stringContaining('changed in the kernel')
    ]);
    expect(model.messages.some(m => m.text.includes('NOT_A_GENE'))).toBe(true);
    model.dispose();
  });
});

describe('ExprscopePanelModel requested genes the matrix lacks', () => {
  it('keeps them with the selection for the plots, not only as a message', async () => {
    const { model } = setUp();
    await settle(model);
    expect(model.addGenes('isg15, NOT_A_GENE, MALAT1')).toEqual(['ISG15']);
    expect(model.selection.genes).toEqual(['ISG15']);
    expect(model.requestedMissing).toEqual(['NOT_A_GENE', 'MALAT1']);
    // Asked again: listed once
    model.addGenes('NOT_A_GENE');
    expect(model.requestedMissing).toEqual(['NOT_A_GENE', 'MALAT1']);
    // A matrix that holds one of them: it is selected, the other stays requested
    model.setMatrix('raw');
    expect(model.selection.genes).toEqual(['ISG15', 'MALAT1']);
    expect(model.requestedMissing).toEqual(['NOT_A_GENE']);
    model.removeGene('NOT_A_GENE');
    expect(model.requestedMissing).toEqual([]);
    model.addGenes('NOT_A_GENE');
    model.clearGenes();
    expect(model.requestedMissing).toEqual([]);
    await settle(model);
    model.dispose();
  });

  it('forgets them with another object', async () => {
    const { model } = setUp();
    await settle(model);
    model.addGenes('NOT_A_GENE');
    expect(model.requestedMissing).toEqual(['NOT_A_GENE']);
    await model.selectObject('other');
    expect(model.requestedMissing).toEqual([]);
    model.dispose();
  });
});
