import { CommClient } from '../commClient';
import { ExprscopeError } from '../protocol';
import { FakeComm } from './fakeComm';

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function toBase64(data: Uint8Array): string {
  return btoa(String.fromCharCode(...data));
}

/** Resolve after pending promise callbacks ran. */
function flush(): Promise<void> {
  return new Promise(resolve =>
    jest.requireActual('timers').setImmediate(resolve)
  );
}

/** Track how a promise settled, without an unhandled rejection. */
function track<T>(promise: Promise<T>) {
  const state = {
    settled: 0,
    value: undefined as T | undefined,
    error: undefined as unknown
  };
  promise.then(
    value => {
      state.settled += 1;
      state.value = value;
    },
    error => {
      state.settled += 1;
      state.error = error;
    }
  );
  return state;
}

describe('CommClient', () => {
  let comm: FakeComm;
  let client: CommClient;

  beforeEach(() => {
    comm = new FakeComm();
    client = new CommClient(comm, { timeoutMs: 1000 });
  });

  afterEach(() => {
    client.dispose();
    jest.useRealTimers();
  });

  it('sends {id, op, args} and resolves a single reply without payload', async () => {
    const promise = client.request<{ objects: string[] }>('list', {});
    const sent = comm.lastRequest();
    expect(sent.op).toBe('list');
    expect(sent.args).toEqual({});
    comm.reply({
      id: sent.id,
      ok: true,
      part: 0,
      parts: 1,
      result: { objects: ['a'] }
    });
    await expect(promise).resolves.toEqual({
      result: { objects: ['a'] },
      payload: null
    });
    expect(client.pendingCount).toBe(0);
  });

  it('accepts replies without part/parts as a single part', async () => {
    const promise = client.request('hello', {});
    comm.reply({
      id: comm.lastRequest().id,
      ok: true,
      result: { protocol: 2 }
    });
    await expect(promise).resolves.toEqual({
      result: { protocol: 2 },
      payload: null
    });
  });

  it('uses unique ids per request', () => {
    void client.request('list', {}).catch(() => undefined);
    void client.request('list', {}).catch(() => undefined);
    void client.request('list', {}).catch(() => undefined);
    expect(new Set(comm.requestIds).size).toBe(3);
  });

  it("returns a single part in memory of its own, not the message's", async () => {
    const buffer = bytes(1, 2, 3, 4).buffer;
    const promise = client.request('fetch', { genes: ['A'] });
    comm.reply(
      { id: comm.lastRequest().id, ok: true, part: 0, parts: 1, result: {} },
      [buffer]
    );
    const { payload } = await promise;
    expect(payload).toEqual(bytes(1, 2, 3, 4));
    // Other listeners of the kernel's messages see the message: the payload may move
    expect(payload!.buffer).not.toBe(buffer);
  });

  it('reads DataView and offset ArrayBufferView buffers', async () => {
    const backing = bytes(9, 9, 5, 6, 7, 9).buffer;
    const first = client.request('fetch', {});
    comm.reply({ id: comm.lastRequest().id, ok: true, result: {} }, [
      new DataView(backing, 2, 3)
    ]);
    expect((await first).payload).toEqual(bytes(5, 6, 7));

    const second = client.request('fetch', {});
    comm.reply({ id: comm.lastRequest().id, ok: true, result: {} }, [
      new Uint8Array(backing, 3, 2)
    ]);
    expect((await second).payload).toEqual(bytes(6, 7));
  });

  it('reassembles chunked parts received out of order and reports progress', async () => {
    const progress: number[][] = [];
    const promise = client.request(
      'fetch',
      {},
      { onProgress: (...args) => progress.push(args) }
    );
    const id = comm.lastRequest().id;
    comm.reply({ id, ok: true, part: 2, parts: 3 }, [bytes(7, 8).buffer]);
    comm.reply({ id, ok: true, part: 0, parts: 3, result: { n_obs: 9 } }, [
      new DataView(bytes(1, 2, 3).buffer)
    ]);
    comm.reply({ id, ok: true, part: 1, parts: 3 }, [bytes(4, 5, 6)]);
    const { result, payload } = await promise;
    expect(result).toEqual({ n_obs: 9 });
    expect(payload).toEqual(bytes(1, 2, 3, 4, 5, 6, 7, 8));
    expect(progress).toEqual([
      [2, 1, 3],
      [5, 2, 3],
      [8, 3, 3]
    ]);
  });

  it('decodes base64 parts (kernels without binary buffers)', async () => {
    const promise = client.request('fetch', {});
    const id = comm.lastRequest().id;
    comm.reply({
      id,
      ok: true,
      part: 1,
      parts: 2,
      b64: toBase64(bytes(200, 201))
    });
    comm.reply({
      id,
      ok: true,
      part: 0,
      parts: 2,
      result: { genes: [] },
      b64: toBase64(bytes(0, 255, 128))
    });
    const { result, payload } = await promise;
    expect(result).toEqual({ genes: [] });
    expect(payload).toEqual(bytes(0, 255, 128, 200, 201));
  });

  it('ignores a duplicated part', async () => {
    const promise = client.request('fetch', {});
    const id = comm.lastRequest().id;
    comm.reply({ id, ok: true, part: 0, parts: 2, result: {} }, [
      bytes(1).buffer
    ]);
    comm.reply({ id, ok: true, part: 0, parts: 2, result: {} }, [
      bytes(1).buffer
    ]);
    comm.reply({ id, ok: true, part: 1, parts: 2 }, [bytes(2).buffer]);
    expect((await promise).payload).toEqual(bytes(1, 2));
  });

  it('rejects an error reply with its code, message and details', async () => {
    const promise = client.request('describe', { object: 'adata2' });
    comm.reply({
      id: comm.lastRequest().id,
      ok: false,
      error: {
        code: 'not_found',
        message: "No object named 'adata2' in the kernel.",
        details: { name: 'adata2' }
      }
    });
    const error: ExprscopeError = await promise.catch(e => e);
    expect(error).toBeInstanceOf(ExprscopeError);
    expect(error.code).toBe('not_found');
    expect(error.message).toBe("No object named 'adata2' in the kernel.");
    expect(error.details).toEqual({ name: 'adata2' });
  });

  it('rejects a reply with an impossible part number as internal', async () => {
    const promise = client.request('fetch', {});
    comm.reply({ id: comm.lastRequest().id, ok: true, part: 3, parts: 2 });
    await expect(promise).rejects.toMatchObject({ code: 'internal' });
  });

  it('times out with the default timeout and drops the late reply', async () => {
    jest.useFakeTimers();
    const promise = client.request('list', {});
    const state = track(promise);
    const id = comm.lastRequest().id;
    jest.advanceTimersByTime(999);
    await flush();
    expect(state.settled).toBe(0);
    jest.advanceTimersByTime(1);
    await expect(promise).rejects.toMatchObject({
      code: 'timeout',
      details: { timeoutMs: 1000 }
    });
    expect(client.pendingCount).toBe(0);
    comm.reply({ id, ok: true, result: {} });
    await flush();
    expect(state.settled).toBe(1);
  });

  it('reports progress messages, restarting the timeout on each, then resolves the reply', async () => {
    jest.useFakeTimers();
    const seen: unknown[] = [];
    const promise = client.request(
      'compare',
      {},
      { onKernelProgress: progress => seen.push(progress) }
    );
    const state = track(promise);
    const id = comm.lastRequest().id;
    for (let done = 0; done < 3; done++) {
      jest.advanceTimersByTime(900);
      comm.reply({
        id,
        ok: true,
        progress: { done, total: 3, message: `cluster ${done}` }
      });
      await flush();
    }
    // 2.7 s since the request, 0.9 s since the last progress: not timed out
    jest.advanceTimersByTime(900);
    await flush();
    expect(state.settled).toBe(0);
    expect(seen).toEqual(
      [0, 1, 2].map(done => ({ done, total: 3, message: `cluster ${done}` }))
    );
    comm.reply({ id, ok: true, part: 0, parts: 1, result: { method: 'x' } });
    await expect(promise).resolves.toEqual({
      result: { method: 'x' },
      payload: null
    });
    // Without progress the timeout still applies
    const silent = client.request('compare', {});
    jest.advanceTimersByTime(1000);
    await expect(silent).rejects.toMatchObject({ code: 'timeout' });
  });

  it('ignores malformed progress and a failing progress callback', async () => {
    const promise = client.request(
      'compare',
      {},
      {
        onKernelProgress: () => {
          throw new Error('boom');
        }
      }
    );
    const id = comm.lastRequest().id;
    const error = jest
      .spyOn(console, 'error')
      .mockImplementation(() => undefined);
    comm.reply({ id, ok: true, progress: 'half' });
    comm.reply({ id, ok: true, progress: { done: 1, total: 2, message: 'a' } });
    comm.reply({ id, ok: true, part: 0, parts: 1, result: {} });
    await expect(promise).resolves.toEqual({ result: {}, payload: null });
    expect(error).toHaveBeenCalledTimes(1);
    error.mockRestore();
  });

  it('honours a per-request timeout', async () => {
    jest.useFakeTimers();
    const promise = client.request('list', {}, { timeoutMs: 50 });
    jest.advanceTimersByTime(50);
    await expect(promise).rejects.toMatchObject({
      code: 'timeout',
      details: { timeoutMs: 50 }
    });
  });

  it('cancels through an AbortSignal, sends a cancel op and drops the late reply', async () => {
    const controller = new AbortController();
    const promise = client.request('fetch', {}, { signal: controller.signal });
    const state = track(promise);
    const id = comm.lastRequest().id;
    controller.abort();
    await expect(promise).rejects.toMatchObject({ code: 'cancelled' });
    const cancel = comm.lastRequest();
    expect(cancel.op).toBe('cancel');
    expect(cancel.args).toEqual({ id });
    expect(cancel.id).not.toBe(id);
    comm.reply({ id, ok: true, result: {} }, [bytes(1).buffer]);
    // The kernel's answer to the cancel itself is dropped too.
    comm.reply({
      id: cancel.id,
      ok: false,
      error: { code: 'unknown_op', message: 'x' }
    });
    await flush();
    expect(state.settled).toBe(1);
    expect(client.pendingCount).toBe(0);
  });

  it('rejects at once, sending nothing, when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      client.request('fetch', {}, { signal: controller.signal })
    ).rejects.toMatchObject({ code: 'cancelled' });
    expect(comm.sent).toHaveLength(0);
  });

  it('does not cancel a request that already settled', async () => {
    const controller = new AbortController();
    const promise = client.request('list', {}, { signal: controller.signal });
    comm.reply({ id: comm.lastRequest().id, ok: true, result: 1 });
    await promise;
    controller.abort();
    expect(comm.sent).toHaveLength(1);
  });

  it('rejectAll rejects every pending request with the given code', async () => {
    const a = client.request('list', {});
    const b = client.request('fetch', {});
    client.rejectAll('kernel_restarted', 'The kernel restarted.');
    await expect(a).rejects.toMatchObject({
      code: 'kernel_restarted',
      message: 'The kernel restarted.'
    });
    await expect(b).rejects.toMatchObject({ code: 'kernel_restarted' });
    expect(client.pendingCount).toBe(0);
  });

  it('rejects pending and later requests when the kernel closes the comm', async () => {
    const closed = jest.fn();
    client.closed.connect(closed);
    const pending = client.request('list', {});
    comm.closeFromKernel();
    await expect(pending).rejects.toMatchObject({ code: 'comm_closed' });
    expect(closed).toHaveBeenCalledTimes(1);
    await expect(client.request('list', {})).rejects.toMatchObject({
      code: 'comm_closed'
    });
  });

  it('dispose rejects pending requests with comm_closed and closes the comm', async () => {
    const closed = jest.fn();
    client.closed.connect(closed);
    const pending = client.request('list', {});
    client.dispose();
    await expect(pending).rejects.toMatchObject({ code: 'comm_closed' });
    expect(comm.closeCalls).toBe(1);
    expect(closed).not.toHaveBeenCalled();
    expect(client.isDisposed).toBe(true);
    await expect(client.request('list', {})).rejects.toMatchObject({
      code: 'comm_closed'
    });
  });

  it('rejects with comm_closed when sending fails', async () => {
    comm.isDisposed = true;
    await expect(client.request('list', {})).rejects.toMatchObject({
      code: 'comm_closed'
    });
    expect(client.pendingCount).toBe(0);
  });

  it('keeps interleaved chunked replies of concurrent requests apart', async () => {
    const first = client.request('fetch', { genes: ['A'] });
    const idA = comm.lastRequest().id;
    const second = client.request('fetch', { genes: ['B'] });
    const idB = comm.lastRequest().id;
    comm.reply({ id: idB, ok: true, part: 0, parts: 2, result: 'b' }, [
      bytes(20).buffer
    ]);
    comm.reply({ id: idA, ok: true, part: 1, parts: 2 }, [bytes(11).buffer]);
    comm.reply({ id: idA, ok: true, part: 0, parts: 2, result: 'a' }, [
      bytes(10).buffer
    ]);
    comm.reply({ id: idB, ok: true, part: 1, parts: 2 }, [bytes(21).buffer]);
    await expect(first).resolves.toEqual({
      result: 'a',
      payload: bytes(10, 11)
    });
    await expect(second).resolves.toEqual({
      result: 'b',
      payload: bytes(20, 21)
    });
  });

  it('settles each request exactly once and reports the pending count', async () => {
    jest.useFakeTimers();
    const counts: number[] = [];
    client.pendingChanged.connect((_, count) => counts.push(count));
    const ok = track(client.request('list', {}));
    const okId = comm.lastRequest().id;
    const timedOut = track(client.request('list', {}, { timeoutMs: 10 }));
    const timedOutId = comm.lastRequest().id;
    expect(client.pendingCount).toBe(2);

    comm.reply({ id: okId, ok: true, result: 1 });
    comm.reply({
      id: okId,
      ok: false,
      error: { code: 'internal', message: 'late' }
    });
    jest.advanceTimersByTime(10);
    comm.reply({ id: timedOutId, ok: true, result: 2 });
    client.rejectAll('kernel_dead', 'dead');
    jest.advanceTimersByTime(5000);
    await flush();

    expect(ok.settled).toBe(1);
    expect(ok.value).toEqual({ result: 1, payload: null });
    expect(timedOut.settled).toBe(1);
    expect(timedOut.error).toMatchObject({ code: 'timeout' });
    expect(counts).toEqual([1, 2, 1, 0]);
  });

  it('drops messages without a known id', async () => {
    const promise = client.request('list', {});
    comm.reply({
      id: null,
      ok: false,
      error: { code: 'bad_request', message: 'x' }
    });
    comm.reply({ id: 'other', ok: true, result: 0 });
    comm.reply('not an object' as unknown as object);
    expect(client.pendingCount).toBe(1);
    comm.reply({ id: comm.lastRequest().id, ok: true, result: 3 });
    await expect(promise).resolves.toEqual({ result: 3, payload: null });
  });
});
