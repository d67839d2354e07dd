/**
 * A `fetch` through a real KernelBridge (on a fake kernel), decoded by the data layer:
 * the bridge hands back the reassembled Arrow stream, `fetchDecoded` warms the decoder,
 * decodes and checks it.
 */
import { KernelBridge } from '../../bridge/kernelBridge';
import {
  asContext,
  FakeKernel,
  FakeSessionContext,
  flush
} from '../../bridge/__tests__/fakeKernel';
import { decodeFetchPayload } from '../arrow';
import {
  fetchDecoded,
  IFetchDecoder,
  inlineFetchDecoder
} from '../fetchDecoding';
import { encodeFetchTable } from './payloads';

describe('fetchDecoded on a KernelBridge', () => {
  let kernel: FakeKernel;
  let bridge: KernelBridge;

  function createBridge(): KernelBridge {
    bridge = new KernelBridge({
      sessionContext: asContext(new FakeSessionContext(kernel)),
      requestTimeoutMs: () => 1000
    });
    return bridge;
  }

  beforeEach(() => {
    kernel = new FakeKernel('k1');
  });

  afterEach(() => {
    bridge?.dispose();
  });

  it('fetches and decodes the Arrow payload', async () => {
    createBridge();
    await flush();
    const payload = encodeFetchTable({
      'gene:ISG15': Float32Array.from([0, 1.5, 2]),
      'obs:cluster': { categorical: ['0', '1', '0'] }
    });
    kernel.handlers.set('fetch', (request, comm) => {
      const half = Math.ceil(payload.byteLength / 2);
      const result = {
        fingerprint: 'f',
        n_obs: 3,
        matrix: 'X',
        genes: ['ISG15'],
        missing: ['NOPE']
      };
      comm.reply({ id: request.id, ok: true, part: 0, parts: 2, result }, [
        payload.slice(0, half)
      ]);
      comm.reply({ id: request.id, ok: true, part: 1, parts: 2 }, [
        payload.slice(half)
      ]);
    });
    const { result, table } = await fetchDecoded(
      bridge,
      {
        object: 'adata',
        matrix: 'X',
        genes: ['ISG15', 'NOPE'],
        obs: ['cluster']
      },
      inlineFetchDecoder
    );
    expect(result.missing).toEqual(['NOPE']);
    expect(table.nCells).toBe(3);
    expect(table.genes.get('ISG15')).toEqual(Float32Array.from([0, 1.5, 2]));
    expect(table.obs.get('cluster')).toMatchObject({ categories: ['0', '1'] });
  });

  it('warms the given decoder before asking, hands it the payload and explains its failure', async () => {
    const events: string[] = [];
    const handed: Uint8Array[] = [];
    let fail = false;
    createBridge();
    const decoder: IFetchDecoder = {
      warm: () => events.push('warm'),
      decode: async bytes => {
        events.push('decode');
        handed.push(bytes);
        if (fail) {
          throw new Error('the worker ran out of memory');
        }
        return decodeFetchPayload(bytes);
      },
      dispose: () => undefined
    };
    await flush();
    const payload = encodeFetchTable({ 'gene:ISG15': Float32Array.from([4]) });
    kernel.handlers.set('fetch', (request, comm) => {
      events.push('request');
      const result = {
        fingerprint: 'f',
        n_obs: 1,
        matrix: 'X',
        genes: ['ISG15'],
        missing: []
      };
      comm.reply({ id: request.id, ok: true, part: 0, parts: 1, result }, [
        payload.slice().buffer
      ]);
    });
    const args = { object: 'adata', matrix: 'X', genes: ['ISG15'] };
    const { table } = await fetchDecoded(bridge, args, decoder);
    expect(events).toEqual(['warm', 'request', 'decode']);
    expect(Array.from(handed[0])).toEqual(Array.from(payload));
    expect(table.genes.get('ISG15')).toEqual(Float32Array.from([4]));

    fail = true;
    await expect(fetchDecoded(bridge, args, decoder)).rejects.toMatchObject({
      code: 'internal',
      message: expect.stringContaining(
        'Could not decode the data sent by the kernel: the worker ran out of memory'
      )
    });
  });

  it('returns an empty table for a reply without payload', async () => {
    createBridge();
    await flush();
    kernel.handlers.set('fetch', (request, comm) =>
      comm.reply({
        id: request.id,
        ok: true,
        result: {
          fingerprint: 'f',
          n_obs: 7,
          matrix: 'X',
          genes: [],
          missing: ['NOPE']
        }
      })
    );
    const { table } = await fetchDecoded(
      bridge,
      {
        object: 'adata',
        matrix: 'X',
        genes: ['NOPE']
      },
      inlineFetchDecoder
    );
    expect(table.nCells).toBe(7);
    expect(table.genes.size).toBe(0);
  });
});
