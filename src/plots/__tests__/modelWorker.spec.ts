import {
  createModelBuilder,
  lightPatch,
  ModelWorkerRequest,
  workerInputTraffic
} from '../modelWorker';
import { allocateColumn } from '../../data/sharedMemory';

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
    expect(worker.sent.map(m => m.type)).toEqual(['input', 'build', 'build']);
    const answered = Promise.all([
      expect(second).resolves.toBe('model two'),
      expect(first).rejects.toThrow('bad options')
    ]);
    worker.reply({ id: 1, model: 'model two' });
    worker.reply({ id: 0, error: 'bad options' });
    await answered;
    // A new input (another dataset) is sent again
    const third = models.build(
      { ...input, values: new Float32Array(4) },
      'three'
    );
    expect(worker.sent.map(m => m.type)).toEqual([
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
    expect(patch).toEqual({ type: 'patch', patch: { labels: ['a', 'b'] } });
    // A new array: the whole input again
    ignore(
      models.build(
        { values: new Float32Array(4), codes, labels: ['a'] },
        'three'
      )
    );
    expect(worker.sent.map(m => m.type)).toEqual([
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
