import {
  createModelBuilder,
  lightPatch,
  serveModelBuilds,
  ModelWorkerRequest,
  workerInputTraffic
} from '../modelWorker';
import { allocateColumn } from '../../data/sharedMemory';
import { portPair } from '../../__tests__/portPair';

interface IInput {
  values: Float32Array;
  codes: Int8Array;
  labels: string[];
}

/** A stand-in for the browser's Worker: records what it is sent, answers on demand. */
class FakeWorker {
  sent: ModelWorkerRequest<IInput, string>[] = [];
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onerror: unknown = null;
  onmessageerror: unknown = null;
  terminated = false;
  postMessage(message: ModelWorkerRequest<IInput, string>): void {
    this.sent.push(message);
  }
  reply(data: unknown): void {
    this.onmessage!({ data });
  }
  terminate(): void {
    this.terminated = true;
  }
}

function builder() {
  const worker = new FakeWorker();
  const models = createModelBuilder<IInput, string, string>(
    () => worker as unknown as Worker
  );
  return { worker, models };
}

/** Builds nobody answers: failed by `dispose`. */
function ignore(build: Promise<unknown>): void {
  build.catch(() => undefined);
}

describe('createModelBuilder', () => {
  afterEach(() => delete (globalThis as any).crossOriginIsolated);

  it('sends the input once, then only options, and resolves builds by id', async () => {
    const { worker, models } = builder();
    const input: IInput = {
      values: new Float32Array(4),
      codes: new Int8Array(4),
      labels: ['a']
    };
    const first = models.build(input, 'one');
    const second = models.build(input, 'two');
    expect(worker.sent.map(m => m.method)).toEqual(['input', 'build', 'build']);
    const answered = Promise.all([
      expect(second).resolves.toBe('model two'),
      expect(first).rejects.toThrow('bad options')
    ]);
    // Requests are numbered from 1 (the input, a notification, is 0)
    worker.reply({ id: 2, ok: true, value: 'model two' });
    worker.reply({ id: 1, ok: false, error: 'bad options' });
    await answered;
    // A new input (another dataset) is sent again
    const third = models.build(
      { ...input, values: new Float32Array(4) },
      'three'
    );
    expect(worker.sent.map(m => m.method)).toEqual([
      'input',
      'build',
      'build',
      'input',
      'build'
    ]);
    const closed = Promise.all([
      expect(third).rejects.toThrow('The view was closed.'),
      expect(models.build(input, 'four')).rejects.toThrow(
        'The view was closed.'
      )
    ]);
    models.dispose();
    await closed;
    expect(worker.terminated).toBe(true);
  });

  it('counts input arrays as copied (whole buffers, once) or shared', () => {
    const start = workerInputTraffic();
    const { models } = builder();
    // Two views of one 4 KB reply: posting them copies the whole reply, once
    const reply = new ArrayBuffer(4096);
    ignore(
      models.build(
        {
          values: new Float32Array(reply, 0, 8),
          codes: new Int8Array(reply, 32, 8),
          labels: ['a']
        },
        'copied'
      )
    );
    const copied = workerInputTraffic();
    expect(copied.inputs - start.inputs).toBe(1);
    expect(copied.copiedBytes - start.copiedBytes).toBe(4096);
    expect(copied.sharedBytes).toBe(start.sharedBytes);

    (globalThis as any).crossOriginIsolated = true;
    ignore(
      models.build(
        {
          values: allocateColumn(Float32Array, 100),
          codes: allocateColumn(Int8Array, 100),
          labels: ['a']
        },
        'shared'
      )
    );
    const shared = workerInputTraffic();
    expect(shared.copiedBytes).toBe(copied.copiedBytes);
    expect(shared.sharedBytes - copied.sharedBytes).toBe(500);
    models.dispose();
  });

  it('sends only the small fields that changed, and the whole input when an array did', () => {
    const { worker, models } = builder();
    const values = new Float32Array(4);
    const codes = new Int8Array(4);
    ignore(models.build({ values, codes, labels: ['a'] }, 'one'));
    // Another object with the same arrays: a patch with the one field that changed
    ignore(models.build({ values, codes, labels: ['a', 'b'] }, 'two'));
    const patch = worker.sent[2] as any;
    expect(patch).toEqual({
      id: 0,
      method: 'patch',
      payload: { labels: ['a', 'b'] }
    });
    // A new array: the whole input again
    ignore(
      models.build(
        { values: new Float32Array(4), codes, labels: ['a'] },
        'three'
      )
    );
    expect(worker.sent.map(m => m.method)).toEqual([
      'input',
      'build',
      'patch',
      'build',
      'input',
      'build'
    ]);
    models.dispose();
  });
});

describe('lightPatch', () => {
  it('names changed fields unless they hold buffers', () => {
    const codes = new Int8Array(2);
    const stats = new Map([['dataset|a', { r: 0.5 }]]);
    expect(lightPatch({ codes, stats: null }, { codes, stats })).toEqual({
      stats
    });
    expect(lightPatch({ codes }, { codes })).toEqual({});
    expect(lightPatch({ codes }, { codes: new Int8Array(2) })).toBeNull();
    // A wrapper object around an array counts as holding it
    expect(lightPatch({ column: { codes } }, { column: { codes } })).toBeNull();
  });
});

describe('serveModelBuilds', () => {
  it('keeps the input across builds, applies patches, and moves the buffers it is told to', async () => {
    const { worker, scope } = portPair();
    const fresh = new Float32Array(2);
    serveModelBuilds<IInput, string, { text: string; points: Float32Array }>(
      (input, options) => ({
        text: `${options}:${input.labels.join(',')}:${input.values.length}`,
        points: fresh
      }),
      { transfer: model => [model.points.buffer as ArrayBuffer] },
      scope
    );
    const models = createModelBuilder<
      IInput,
      string,
      { text: string; points: Float32Array }
    >(() => worker as unknown as Worker);
    const values = new Float32Array(3);
    const codes = new Int8Array(3);
    const first = await models.build({ values, codes, labels: ['a'] }, 'one');
    expect(first.text).toBe('one:a:3');
    const second = await models.build(
      { values, codes, labels: ['a', 'b'] },
      'two'
    );
    expect(second.text).toBe('two:a,b:3');
    // ready, then two replies, each moving its points' buffer
    expect(scope.transfers.map(t => t.length)).toEqual([0, 1, 1]);
    models.dispose();
    expect(worker.terminated).toBe(true);
  });

  it('fails the builds of a crashed worker and starts a new one for the next', async () => {
    const workers: ReturnType<typeof portPair>[] = [];
    const models = createModelBuilder<IInput, string, string>(() => {
      const next = portPair();
      serveModelBuilds<IInput, string, string>(
        (input, options) => `${options}:${input.labels[0]}`,
        {},
        next.scope
      );
      workers.push(next);
      return next.worker as unknown as Worker;
    });
    const input: IInput = {
      values: new Float32Array(1),
      codes: new Int8Array(1),
      labels: ['a']
    };
    const lost = models.build(input, 'one');
    workers[0].worker.onerror!({ message: 'Out of memory' } as ErrorEvent);
    await expect(lost).rejects.toThrow('Out of memory');
    expect(workers[0].worker.terminated).toBe(true);
    // The new worker is sent the input again
    await expect(models.build(input, 'two')).resolves.toBe('two:a');
    expect(workers).toHaveLength(2);
    models.dispose();
  });
});
