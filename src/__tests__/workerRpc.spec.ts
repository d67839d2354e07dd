import { IRpcPort, RpcClient, RpcTransfer, serveRpc } from '../workerRpc';
import { portPair } from './portPair';

type Methods = {
  double: { request: number; reply: number };
  fail: { request: string; reply: never };
  slow: { request: null; reply: string };
};

function serve(scope: IRpcPort, slow?: Promise<string>): void {
  serveRpc<Methods>(scope, {
    double: n => {
      const buffer = new ArrayBuffer(8);
      return new RpcTransfer(n * 2, [buffer]);
    },
    fail: message => {
      throw new Error(message);
    },
    slow: () => slow ?? new Promise<string>(() => undefined)
  });
}

describe('workerRpc', () => {
  it('round-trips typed calls, matching replies by id, with transfer lists', async () => {
    const { worker, scope } = portPair();
    serve(scope);
    const client = new RpcClient<Methods>(worker);
    const buffer = new ArrayBuffer(4);
    const [a, b] = await Promise.all([
      client.call('double', 2, { transfer: [buffer] }),
      client.call('double', 5)
    ]);
    expect([a, b]).toEqual([4, 10]);
    expect(worker.transfers[0]).toEqual([buffer]);
    // (the scope's first message is its ready announcement)
    expect(scope.transfers[1]).toHaveLength(1);
    expect(client.pending).toBe(0);
  });

  it('says it is ready once served; a worker that never serves is given up', async () => {
    const { worker, scope } = portPair();
    serve(scope);
    const client = new RpcClient<Methods>(worker);
    await expect(client.whenReady(1000)).resolves.toBeUndefined();
    await expect(client.ready).resolves.toBeUndefined();

    const silent = portPair();
    const failures: Error[] = [];
    const stalled = new RpcClient<Methods>(silent.worker, 'decoding worker', {
      onFailure: error => failures.push(error)
    });
    const call = stalled.call('double', 1);
    await expect(stalled.whenReady(10)).rejects.toThrow(
      'The decoding worker did not start.'
    );
    await expect(call).rejects.toThrow('did not start');
    await expect(stalled.ready).rejects.toThrow('did not start');
    expect(silent.worker.terminated).toBe(true);
    expect(stalled.closed).toBe(true);
    expect(failures).toHaveLength(1);
  });

  it('sends notifications without replies, handled in order before later calls', async () => {
    const { worker, scope } = portPair();
    let last = 0;
    serveRpc<{
      set: { request: number; reply: void };
      get: { request: null; reply: number };
    }>(scope, {
      set: n => {
        last = n;
      },
      get: () => last
    });
    const client = new RpcClient<{
      set: { request: number; reply: void };
      get: { request: null; reply: number };
    }>(worker);
    client.notify('set', 7);
    await expect(client.call('get', null)).resolves.toBe(7);
    // ready, then one reply: the notification got none
    expect(scope.transfers).toHaveLength(2);
  });

  it('fails pending calls on a reply that cannot be read, and tells the owner once', async () => {
    const { worker, scope } = portPair();
    serve(scope);
    const failures: Error[] = [];
    const client = new RpcClient<Methods>(worker, 'model worker', {
      onFailure: error => failures.push(error)
    });
    const call = client.call('slow', null);
    worker.onmessageerror?.({} as MessageEvent);
    worker.onerror?.({ message: 'later' } as ErrorEvent);
    await expect(call).rejects.toThrow(
      'A message from the model worker could not be read.'
    );
    expect(failures).toHaveLength(1);
    expect(worker.terminated).toBe(true);
    await expect(client.call('double', 1)).rejects.toThrow('terminated');
  });

  it('rethrows a handler error as an Error with its message', async () => {
    const { worker, scope } = portPair();
    serve(scope);
    const client = new RpcClient<Methods>(worker);
    await expect(client.call('fail', 'no genes')).rejects.toThrow('no genes');
    // the client still works after an error
    await expect(client.call('double', 1)).resolves.toBe(2);
  });

  it('rejects every pending call when the worker crashes', async () => {
    const { worker, scope } = portPair();
    serve(scope);
    const client = new RpcClient<Methods>(worker, 'model worker');
    const first = client.call('slow', null);
    const second = client.call('slow', null);
    worker.onerror?.({ message: 'out of memory' } as ErrorEvent);
    await expect(first).rejects.toThrow(
      'The model worker failed: out of memory'
    );
    await expect(second).rejects.toThrow('out of memory');
    expect(client.pending).toBe(0);
  });

  it('aborts a call and ignores its late reply', async () => {
    const { worker, scope } = portPair();
    let finish!: (value: string) => void;
    serve(scope, new Promise<string>(resolve => (finish = resolve)));
    const client = new RpcClient<Methods>(worker);
    const controller = new AbortController();
    const call = client.call('slow', null, { signal: controller.signal });
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    finish('late');
    await new Promise(resolve => setTimeout(resolve, 5));
    expect(client.pending).toBe(0);
    const aborted = new AbortController();
    aborted.abort();
    await expect(
      client.call('double', 1, { signal: aborted.signal })
    ).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('terminate stops the worker and rejects pending and later calls', async () => {
    const { worker, scope } = portPair();
    serve(scope);
    const client = new RpcClient<Methods>(worker);
    const pending = client.call('slow', null);
    client.terminate();
    expect(worker.terminated).toBe(true);
    await expect(pending).rejects.toThrow('terminated');
    await expect(client.call('double', 1)).rejects.toThrow('terminated');
  });
});
