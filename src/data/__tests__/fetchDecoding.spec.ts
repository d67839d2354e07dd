import { MessageChannel, receiveMessageOnPort } from 'worker_threads';

import { decodeFetchPayload, ICategoricalColumn, Utf8Column } from '../arrow';
import {
  createWorkerFetchDecoder,
  DecodeReply,
  fetchDecodings,
  DecodeRequest,
  IDecodeScope,
  movableBuffers,
  serveFetchDecoding
} from '../fetchDecoding';
import { isShared } from '../sharedMemory';
import { encodeFetchTable } from './payloads';

/**
 * A structured clone as posting makes it: transferred buffers are moved (detached on the
 * sender's side). Node's message ports do as browsers do; jsdom has no structuredClone.
 */
function post<T>(message: T, transfer: Transferable[]): T {
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(message, transfer as any);
  const received = receiveMessageOnPort(port2)!.message as T;
  port1.close();
  return received;
}

/**
 * A worker and its scope in one process, joined as browsers join them: each message is a
 * structured clone made on a later task, and transferred buffers are moved (detached on
 * the sender's side, see `post`).
 */
class LoopbackWorker {
  onmessage: ((event: { data: DecodeReply }) => void) | null = null;
  onerror: ((event: { message: string }) => void) | null = null;
  onmessageerror: (() => void) | null = null;
  terminated = false;
  posted = 0;
  readonly scope: IDecodeScope & { retained: unknown[] };

  constructor(serve = true) {
    const worker = this;
    this.scope = {
      retained: [],
      onmessage: null,
      postMessage(message: DecodeReply, transfer: Transferable[] = []) {
        const copy = post(message, transfer);
        // What the worker posted, as it sees it afterwards (moved buffers are empty)
        this.retained.push(message);
        setTimeout(() => worker.onmessage?.({ data: copy }), 0);
      }
    };
    if (serve) {
      serveFetchDecoding(this.scope);
    }
  }

  postMessage(message: DecodeRequest, transfer: Transferable[] = []): void {
    this.posted++;
    const copy = post(message, transfer);
    setTimeout(() => this.scope.onmessage?.({ data: copy } as MessageEvent), 0);
  }

  terminate(): void {
    this.terminated = true;
  }
}

const values = Float32Array.from({ length: 1000 }, (_, i) => i / 7);
const labels = Array.from({ length: 1000 }, (_, i) => (i % 3 ? 'a' : 'b'));

function reply(): Uint8Array {
  return encodeFetchTable({
    'gene:A': values,
    'gene:B': values.map(v => v * 2),
    'obs:c': { categorical: labels },
    'obs:n': Float64Array.from(values),
    'obsm:X_umap:0': values.map(v => v + 1),
    'obsm:X_umap:1': values.map(v => v - 1),
    cell_id: labels.map((label, i) => (i === 1 ? 'a-1-ç' : `${label}-${i}`))
  });
}

/** The decoded columns as plain values, to compare two decodings. */
function plain(decoded: ReturnType<typeof decodeFetchPayload>) {
  return {
    nCells: decoded.nCells,
    genes: [...decoded.genes].map(([g, v]) => [g, Array.from(v)]),
    obs: [...decoded.obs].map(([name, column]) => [
      name,
      // Not `instanceof`: arrays from Node's message port belong to another realm
      'kind' in column
        ? { categories: column.categories, codes: Array.from(column.codes) }
        : Array.from(column)
    ]),
    embedding: decoded.embedding && {
      name: decoded.embedding.name,
      dims: decoded.embedding.dims.map(d => Array.from(d))
    },
    cellIds: decoded.cellIds && [...decoded.cellIds]
  };
}

describe('createWorkerFetchDecoder', () => {
  it("moves the reply to the worker and its columns back, equal to the UI thread's decoding", async () => {
    const worker = new LoopbackWorker();
    const decoder = createWorkerFetchDecoder(() => worker as unknown as Worker);
    const bytes = reply();
    const replyBytes = bytes.byteLength;
    const expected = plain(decodeFetchPayload(bytes.slice()));
    const before = fetchDecodings();

    const decoded = await decoder.decode(bytes);

    expect(worker.posted).toBe(1);
    expect(fetchDecodings()).toEqual({
      inWorker: before.inWorker + 1,
      onPage: before.onPage,
      movedBytes: before.movedBytes + replyBytes
    });
    // Moved, not copied: the page's reply is empty now, the worker kept nothing
    expect(bytes.byteLength).toBe(0);
    const [, posted] = worker.scope.retained as {
      value?: ReturnType<typeof decodeFetchPayload>;
    }[];
    expect(posted.value!.genes.get('A')!.byteLength).toBe(0);
    expect(plain(decoded)).toEqual(expected);
    expect(decoded.cellIds).toBeInstanceOf(Utf8Column);
    expect(decoded.cellIds!.at(1)).toBe('a-1-ç');
    expect((decoded.obs.get('c') as ICategoricalColumn).categories.length).toBe(
      2
    );
    decoder.dispose();
    expect(worker.terminated).toBe(true);
  });

  it('decodes replies that arrive together, each to its own caller', async () => {
    const worker = new LoopbackWorker();
    const decoder = createWorkerFetchDecoder(() => worker as unknown as Worker);
    const one = encodeFetchTable({ 'gene:A': values });
    const two = encodeFetchTable({ 'gene:B': values.map(v => -v) });
    const [a, b] = await Promise.all([
      decoder.decode(one),
      decoder.decode(two)
    ]);
    expect([...a.genes.keys()]).toEqual(['A']);
    expect([...b.genes.keys()]).toEqual(['B']);
    expect(b.genes.get('B')![7]).toBe(-values[7]);
  });

  it('decodes a reply that is a part of a larger buffer (the joined parts)', async () => {
    const worker = new LoopbackWorker();
    const decoder = createWorkerFetchDecoder(() => worker as unknown as Worker);
    const bytes = reply();
    const joined = new Uint8Array(bytes.byteLength + 4096);
    joined.set(bytes);
    const decoded = await decoder.decode(joined.subarray(0, bytes.byteLength));
    expect(plain(decoded)).toEqual(plain(decodeFetchPayload(bytes)));
  });

  it("reports the worker's decoding error for a malformed reply", async () => {
    const worker = new LoopbackWorker();
    const decoder = createWorkerFetchDecoder(() => worker as unknown as Worker);
    await expect(
      decoder.decode(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))
    ).rejects.toThrow();
    // The worker still serves the next reply
    const decoded = await decoder.decode(
      encodeFetchTable({ 'gene:A': values })
    );
    expect(decoded.genes.get('A')![3]).toBe(values[3]);
  });

  it('moves nothing to a worker whose script never loads, and decodes on the page instead', async () => {
    const worker = new LoopbackWorker(false);
    let starts = 0;
    const decoder = createWorkerFetchDecoder(() => {
      starts++;
      return worker as unknown as Worker;
    });
    decoder.warm();
    const bytes = reply();
    const before = fetchDecodings();
    const decoding = decoder.decode(bytes);
    // The script failed to load: the browser reports an error, never `ready`
    setTimeout(() => worker.onerror!({ message: 'script failed' }), 5);
    const decoded = await decoding;
    expect(worker.posted).toBe(0);
    expect(fetchDecodings().onPage).toBe(before.onPage + 1);
    expect(fetchDecodings().inWorker).toBe(before.inWorker);
    expect(bytes.byteLength).toBeGreaterThan(0);
    expect(plain(decoded)).toEqual(plain(decodeFetchPayload(bytes)));
    // For good: no second worker
    await decoder.decode(encodeFetchTable({ 'gene:A': values }));
    expect(starts).toBe(1);
    expect(worker.posted).toBe(0);
  });

  it('fails what a dying worker held, and decodes on the page afterwards', async () => {
    const worker = new LoopbackWorker();
    const decoder = createWorkerFetchDecoder(() => worker as unknown as Worker);
    await decoder.decode(encodeFetchTable({ 'gene:A': values }));
    // The worker receives the next reply and dies before answering (out of memory)
    worker.scope.onmessage = () =>
      worker.onerror!({ message: 'Out of memory' });
    await expect(decoder.decode(reply())).rejects.toThrow('Out of memory');
    expect(worker.terminated).toBe(true);
    const decoded = await decoder.decode(
      encodeFetchTable({ 'gene:B': values })
    );
    expect(decoded.genes.get('B')![9]).toBe(values[9]);
    expect(worker.posted).toBe(2);
  });

  it('gives up a worker that never says it is ready', async () => {
    const worker = new LoopbackWorker(false);
    const decoder = createWorkerFetchDecoder(
      () => worker as unknown as Worker,
      20
    );
    const bytes = encodeFetchTable({ 'gene:A': values });
    const decoded = await decoder.decode(bytes);
    expect(decoded.genes.get('A')![5]).toBe(values[5]);
    expect(worker.posted).toBe(0);
    expect(worker.terminated).toBe(true);
  });

  it('decodes on the page when no worker can be made', async () => {
    const decoder = createWorkerFetchDecoder(() => {
      throw new Error('Workers are refused here');
    });
    const decoded = await decoder.decode(
      encodeFetchTable({ 'gene:A': values })
    );
    expect(decoded.genes.get('A')![2]).toBe(values[2]);
  });
});

describe('movableBuffers', () => {
  afterEach(() => delete (globalThis as any).crossOriginIsolated);

  it('lists each buffer of the columns once', () => {
    const decoded = decodeFetchPayload(reply());
    const buffers = movableBuffers(decoded);
    expect(new Set(buffers).size).toBe(buffers.length);
    const views = [
      ...decoded.genes.values(),
      ...decoded.embedding!.dims,
      decoded.cellIds!.offsets,
      decoded.cellIds!.bytes
    ];
    for (const view of views) {
      expect(buffers).toContain(view.buffer);
    }
  });

  it('leaves out shared memory, which posting shares (a cross-origin-isolated page)', () => {
    (globalThis as any).crossOriginIsolated = true;
    const decoded = decodeFetchPayload(reply());
    const gene = decoded.genes.get('A')!;
    expect(isShared(gene)).toBe(true);
    const buffers = movableBuffers(decoded);
    expect(buffers).not.toContain(gene.buffer);
    // The cell ids stay in plain memory (TextDecoder refuses shared views) and move
    expect(buffers).toContain(decoded.cellIds!.bytes.buffer);
  });
});
