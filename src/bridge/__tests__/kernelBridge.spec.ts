import type { ISessionContext } from '@jupyterlab/apputils';
import type { JSONObject } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';

import { decodeFetchPayload } from '../../data/arrow';
import { encodeFetchTable } from '../../data/__tests__/payloads';
import type { IFetchDecoder } from '../../data/fetchDecoding';
import { BridgeStatus, KernelBridge } from '../kernelBridge';
import { ExprscopeError, MAX_GENES_PER_FETCH } from '../protocol';
import { PYTHON_SETUP_SNIPPET } from '../setup';
import { FakeComm } from './fakeComm';

type Handler = (
  request: { id: string; op: string; args: any },
  comm: KernelComm
) => void;

/** A comm created by the bridge; answers through the kernel's handlers. */
class KernelComm extends FakeComm {
  constructor(
    readonly targetName: string,
    handlers: Map<string, Handler>
  ) {
    super();
    this.onSend = data => {
      const request = data as { id: string; op: string; args: any };
      handlers.get(request.op)?.(request, this);
    };
  }

  openData: unknown = undefined;

  open(data: unknown): void {
    this.openData = data;
  }
}

const HELLO: Handler = (request, comm) =>
  comm.reply({
    id: request.id,
    ok: true,
    result: { protocol: 2, version: '0.1.0', language: 'python' }
  });

/** The parts of Kernel.IKernelConnection the bridge uses. */
class FakeKernel {
  constructor(
    readonly id: string,
    language = 'python'
  ) {
    this.info = Promise.resolve({ language_info: { name: language } });
  }

  status = 'idle';
  isDisposed = false;
  info: Promise<{ language_info: { name: string } }>;
  executed: JSONObject[] = [];
  executeReply: JSONObject = { status: 'ok' };
  /** Executions whose reply never arrives (lost around a restart). */
  loseExecutions = 0;
  comms: KernelComm[] = [];
  handlers = new Map<string, Handler>([['hello', HELLO]]);

  requestExecute(content: JSONObject) {
    this.executed.push(content);
    const reply = { content: this.executeReply };
    const future = {
      onReply: (_msg: unknown) => undefined,
      done: Promise.resolve(reply),
      dispose: () => undefined
    };
    // The shell reply arrives after the caller attached its handler.
    if (this.loseExecutions > 0) {
      this.loseExecutions -= 1;
    } else {
      void Promise.resolve().then(() => future.onReply(reply));
    }
    return future;
  }

  createComm(targetName: string): KernelComm {
    const comm = new KernelComm(targetName, this.handlers);
    this.comms.push(comm);
    return comm;
  }

  get comm(): KernelComm {
    return this.comms[this.comms.length - 1];
  }
}

class FakeSessionContext {
  constructor(kernel: FakeKernel | null) {
    this.session = kernel ? { kernel } : null;
  }

  session: { kernel: FakeKernel | null } | null;
  isReady = true;
  ready = Promise.resolve();
  isDisposed = false;
  kernelChanged = new Signal<this, any>(this);
  statusChanged = new Signal<this, string>(this);
  iopubMessage = new Signal<this, any>(this);
  disposed = new Signal<this, void>(this);

  setKernel(kernel: FakeKernel | null): void {
    const oldValue = this.session?.kernel ?? null;
    this.session = kernel ? { kernel } : null;
    this.kernelChanged.emit({ name: 'kernel', oldValue, newValue: kernel });
  }

  iopub(msgType: string, parentId: string, content: object = {}): void {
    this.iopubMessage.emit({
      header: { msg_type: msgType, msg_id: `${msgType}-${parentId}` },
      parent_header: { msg_id: parentId },
      content
    });
  }

  dispose(): void {
    this.isDisposed = true;
    this.disposed.emit();
  }
}

function asContext(context: FakeSessionContext): ISessionContext {
  return context as unknown as ISessionContext;
}

/** Let the bridge's promise chains run. */
function flush(): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, 0));
}

describe('KernelBridge', () => {
  let kernel: FakeKernel;
  let context: FakeSessionContext;
  let bridge: KernelBridge;
  let statuses: BridgeStatus[];

  function createBridge(
    requestTimeoutMs = 1000,
    fetchDecoder?: IFetchDecoder
  ): KernelBridge {
    bridge = new KernelBridge({
      sessionContext: asContext(context),
      requestTimeoutMs: () => requestTimeoutMs,
      fetchDecoder
    });
    statuses = [];
    bridge.statusChanged.connect((_, status) => statuses.push(status));
    return bridge;
  }

  beforeEach(() => {
    kernel = new FakeKernel('k1');
    context = new FakeSessionContext(kernel);
  });

  afterEach(() => {
    bridge?.dispose();
  });

  it('runs the constant setup snippet silently, opens the comm and says hello', async () => {
    createBridge();
    expect(bridge.status).toBe('connecting');
    await flush();
    expect(bridge.status).toBe('ready');
    expect(bridge.statusMessage).toContain('exprscope 0.1.0');
    expect(bridge.kernelId).toBe('k1');
    expect(bridge.language).toBe('python');
    expect(kernel.executed).toEqual([
      {
        code: PYTHON_SETUP_SNIPPET,
        silent: true,
        store_history: false,
        allow_stdin: false,
        stop_on_error: false
      }
    ]);
    expect(kernel.comm.targetName).toBe('exprscope');
    expect(kernel.comm.openData).toEqual({ protocol: 2 });
    expect(kernel.comm.sent.map(m => m.op)).toEqual(['hello']);
  });

  it('sends user input only as comm data, never as executed code', async () => {
    createBridge();
    await flush();
    kernel.handlers.set('list', (request, comm) =>
      comm.reply({
        id: request.id,
        ok: true,
        result: {
          objects: [
            {
              name: 'adata',
              type: 'AnnData',
              n_obs: 3,
              n_vars: 2,
              fingerprint: 'f'
            }
          ]
        }
      })
    );
    kernel.handlers.set('describe', (request, comm) =>
      comm.reply({
        id: request.id,
        ok: true,
        result: { name: request.args.object }
      })
    );
    const objects = await bridge.list();
    expect(objects.map(o => o.name)).toEqual(['adata']);
    const evil = "adata'); import os; os.system('rm -rf /'); ('";
    expect((await bridge.describe(evil)).name).toBe(evil);
    expect(kernel.executed).toHaveLength(1);
    expect(kernel.executed[0].code).toBe(PYTHON_SETUP_SNIPPET);
    expect(kernel.comm.lastRequest()).toMatchObject({
      op: 'describe',
      args: { object: evil }
    });
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
    const { result, table } = await bridge.fetch({
      object: 'adata',
      matrix: 'X',
      genes: ['ISG15', 'NOPE'],
      obs: ['cluster']
    });
    expect(result.missing).toEqual(['NOPE']);
    expect(table.nCells).toBe(3);
    expect(table.genes.get('ISG15')).toEqual(Float32Array.from([0, 1.5, 2]));
    expect(table.obs.get('cluster')).toMatchObject({ categories: ['0', '1'] });
  });

  it('warms the given decoder before asking, hands it the payload and explains its failure', async () => {
    const events: string[] = [];
    const handed: Uint8Array[] = [];
    let fail = false;
    createBridge(1000, {
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
    });
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
    const { table } = await bridge.fetch(args);
    expect(events).toEqual(['warm', 'request', 'decode']);
    expect(Array.from(handed[0])).toEqual(Array.from(payload));
    expect(table.genes.get('ISG15')).toEqual(Float32Array.from([4]));

    fail = true;
    await expect(bridge.fetch(args)).rejects.toMatchObject({
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
    const { table } = await bridge.fetch({
      object: 'adata',
      matrix: 'X',
      genes: ['NOPE']
    });
    expect(table.nCells).toBe(7);
    expect(table.genes.size).toBe(0);
  });

  it('rejects too many genes without asking the kernel', async () => {
    createBridge();
    await flush();
    const genes = Array.from(
      { length: MAX_GENES_PER_FETCH + 1 },
      (_, i) => `G${i}`
    );
    await expect(
      bridge.fetch({ object: 'adata', matrix: 'X', genes })
    ).rejects.toMatchObject({
      code: 'too_large'
    });
    expect(kernel.comm.sent).toHaveLength(1);
  });

  it('reports kernels of other languages as unsupported without executing anything', async () => {
    kernel = new FakeKernel('k1', 'julia');
    context = new FakeSessionContext(kernel);
    createBridge();
    await flush();
    expect(bridge.status).toBe('unsupported-language');
    expect(bridge.statusMessage).toContain('julia');
    expect(kernel.executed).toHaveLength(0);
    await expect(bridge.list()).rejects.toMatchObject({
      code: 'unsupported_language'
    });
  });

  it('reports a kernel without the Python package as not installed', async () => {
    const message =
      "The exprscope Python package cannot be imported in this kernel: No module named 'exprscope'.";
    kernel.handlers.set('hello', (request, comm) =>
      comm.reply({
        id: request.id,
        ok: false,
        error: { code: 'not_installed', message }
      })
    );
    createBridge();
    await flush();
    expect(bridge.status).toBe('not-installed');
    expect(bridge.statusMessage).toBe(message);
    await expect(bridge.list()).rejects.toMatchObject({
      code: 'not_installed'
    });
  });

  it('reports a failing setup snippet as an error', async () => {
    kernel.executeReply = {
      status: 'error',
      ename: 'SyntaxError',
      evalue: 'bad',
      traceback: []
    };
    createBridge();
    await flush();
    expect(bridge.status).toBe('error');
    expect(bridge.statusMessage).toContain('SyntaxError: bad');
    expect(kernel.comms).toHaveLength(0);
  });

  it('reports a protocol mismatch', async () => {
    kernel.handlers.set('hello', (request, comm) =>
      comm.reply({
        id: request.id,
        ok: true,
        result: { protocol: 1, version: '9.0', language: 'python' }
      })
    );
    createBridge();
    await flush();
    expect(bridge.status).toBe('error');
    await expect(bridge.list()).rejects.toMatchObject({
      code: 'protocol_mismatch'
    });
  });

  it('on restart rejects pending requests, resets, and sets up again when the kernel is back', async () => {
    createBridge();
    await flush();
    const resets: string[] = [];
    bridge.reset.connect((_, id) => resets.push(id));
    const pending = bridge.list();
    await flush();

    context.statusChanged.emit('restarting');
    await expect(pending).rejects.toMatchObject({ code: 'kernel_restarted' });
    expect(bridge.status).toBe('restarting');
    expect(resets).toEqual(['k1']);
    // The kernel connection's own status and the autorestart follow-up.
    context.statusChanged.emit('restarting');
    context.statusChanged.emit('autorestarting');
    context.statusChanged.emit('starting');
    expect(resets).toEqual(['k1']);

    // A request made while restarting waits for the new connection.
    kernel.handlers.set('list', (request, comm) =>
      comm.reply({ id: request.id, ok: true, result: { objects: [] } })
    );
    const waiting = bridge.list();
    context.statusChanged.emit('idle');
    await expect(waiting).resolves.toEqual([]);
    expect(bridge.status).toBe('ready');
    expect(kernel.executed).toHaveLength(2);
    expect(kernel.executed[1].code).toBe(PYTHON_SETUP_SNIPPET);
    expect(kernel.comms).toHaveLength(2);

    // SessionContext.restartKernel re-announces the same kernel when done.
    context.kernelChanged.emit({
      name: 'kernel',
      oldValue: kernel,
      newValue: kernel
    });
    await flush();
    expect(kernel.executed).toHaveLength(2);
    expect(statuses).toEqual(['ready', 'restarting', 'connecting', 'ready']);
  });

  it('sends the setup again when an idle kernel never answered it', async () => {
    kernel.loseExecutions = 1;
    createBridge(10000);
    await new Promise(resolve => setTimeout(resolve, 3500));
    await flush();
    expect(kernel.executed).toHaveLength(2);
    expect(bridge.status).toBe('ready');
  }, 10000);

  it('sets up again when the kernel is idle after a setup timed out behind a long cell', async () => {
    kernel.status = 'busy';
    kernel.loseExecutions = 1;
    createBridge(300);
    await new Promise(resolve => setTimeout(resolve, 600));
    await flush();
    expect(bridge.status).toBe('error');
    kernel.status = 'idle';
    context.statusChanged.emit('idle');
    await flush();
    expect(bridge.status).toBe('ready');
  });

  it('connects after a restart announced only by kernelChanged', async () => {
    createBridge();
    await flush();
    context.statusChanged.emit('restarting');
    context.kernelChanged.emit({
      name: 'kernel',
      oldValue: kernel,
      newValue: kernel
    });
    await flush();
    expect(bridge.status).toBe('ready');
    context.statusChanged.emit('idle');
    await flush();
    expect(kernel.executed).toHaveLength(2);
  });

  it('sends a request caught between readiness and a restart to the new connection', async () => {
    createBridge();
    await flush();
    kernel.handlers.set('list', (request, comm) =>
      comm.reply({ id: request.id, ok: true, result: { objects: [] } })
    );
    const request = bridge.list();
    context.statusChanged.emit('restarting');
    context.statusChanged.emit('idle');
    await expect(request).resolves.toEqual([]);
    expect(kernel.comms[0].sent.map(m => m.op)).toEqual(['hello']);
    expect(kernel.comms[1].sent.map(m => m.op)).toEqual(['hello', 'list']);
  });

  it('on kernel death rejects pending requests and later ones', async () => {
    createBridge();
    await flush();
    const resets: string[] = [];
    bridge.reset.connect((_, id) => resets.push(id));
    const pending = bridge.list();
    await flush();
    context.statusChanged.emit('dead');
    await expect(pending).rejects.toMatchObject({ code: 'kernel_dead' });
    expect(bridge.status).toBe('dead');
    expect(resets).toEqual(['k1']);
    await expect(bridge.list()).rejects.toMatchObject({ code: 'kernel_dead' });
  });

  it('follows a switch to another kernel', async () => {
    createBridge();
    await flush();
    const resets: string[] = [];
    const kernels: (string | null)[] = [];
    bridge.reset.connect((_, id) => resets.push(id));
    bridge.kernelChanged.connect((_, k) => kernels.push(k?.id ?? null));
    const pending = bridge.list();
    await flush();
    const oldComm = kernel.comm;

    const next = new FakeKernel('k2');
    context.setKernel(next);
    await expect(pending).rejects.toMatchObject({ code: 'comm_closed' });
    expect(oldComm.closeCalls).toBe(1);
    expect(resets).toEqual(['k1']);
    expect(kernels).toEqual(['k2']);
    await flush();
    expect(bridge.status).toBe('ready');
    expect(bridge.kernelId).toBe('k2');
    expect(next.executed).toHaveLength(1);

    context.setKernel(null);
    expect(bridge.status).toBe('no-kernel');
    expect(bridge.kernelId).toBeNull();
    await expect(bridge.list()).rejects.toMatchObject({ code: 'no_kernel' });
  });

  it('ignores a setup that finishes after the kernel changed', async () => {
    let resolveInfo: (info: { language_info: { name: string } }) => void = () =>
      undefined;
    kernel.info = new Promise(resolve => (resolveInfo = resolve));
    createBridge();
    const next = new FakeKernel('k2');
    context.setKernel(next);
    await flush();
    expect(bridge.status).toBe('ready');
    resolveInfo({ language_info: { name: 'python' } });
    await flush();
    expect(kernel.executed).toHaveLength(0);
    expect(bridge.kernelId).toBe('k2');
    expect(bridge.status).toBe('ready');
  });

  it('rejects requests at once when there is no kernel', async () => {
    context = new FakeSessionContext(null);
    createBridge();
    expect(bridge.status).toBe('no-kernel');
    await expect(bridge.list()).rejects.toMatchObject({ code: 'no_kernel' });
  });

  it('waits for a kernel while the session is starting', async () => {
    context = new FakeSessionContext(null);
    context.isReady = false;
    createBridge();
    expect(bridge.status).toBe('connecting');
    const request = bridge.hello();
    context.setKernel(kernel);
    await expect(request).resolves.toMatchObject({ protocol: 2 });
  });

  it('times out a request waiting for readiness', async () => {
    kernel.handlers.delete('hello');
    createBridge(30);
    const error = await bridge.list().catch((e: ExprscopeError) => e);
    expect(error).toMatchObject({
      code: 'timeout',
      details: { timeoutMs: 30 }
    });
    expect(bridge.pendingCount).toBe(0);
  });

  it('cancels a request waiting for readiness', async () => {
    kernel.handlers.delete('hello');
    createBridge();
    const controller = new AbortController();
    const request = bridge.list({ signal: controller.signal });
    await flush();
    expect(bridge.pendingCount).toBe(1);
    controller.abort();
    await expect(request).rejects.toMatchObject({ code: 'cancelled' });
    expect(bridge.pendingCount).toBe(0);
  });

  it('is busy while a cell runs and signals each finished execution', async () => {
    createBridge();
    await flush();
    const executed = jest.fn();
    bridge.executed.connect(executed);

    context.iopub('execute_input', 'cell-1');
    expect(bridge.status).toBe('busy');
    context.iopub('status', 'cell-1', { execution_state: 'busy' });
    context.iopub('status', 'comm-msg', { execution_state: 'idle' });
    expect(executed).not.toHaveBeenCalled();
    context.iopub('status', 'cell-1', { execution_state: 'idle' });
    expect(bridge.status).toBe('ready');
    expect(executed).toHaveBeenCalledTimes(1);
    expect(statuses).toEqual(['ready', 'busy', 'ready']);
  });

  it('turns a comm closed by the kernel into an error until reconnected', async () => {
    createBridge();
    await flush();
    kernel.comm.closeFromKernel();
    expect(bridge.status).toBe('error');
    await expect(bridge.list()).rejects.toMatchObject({ code: 'comm_closed' });
    await bridge.reconnect();
    expect(bridge.status).toBe('ready');
    expect(kernel.comms).toHaveLength(2);
  });

  it('reports the pending count', async () => {
    createBridge();
    await flush();
    const counts: number[] = [];
    bridge.pendingChanged.connect((_, n) => counts.push(n));
    kernel.handlers.set('list', () => undefined);
    const request = bridge.list();
    await flush();
    expect(bridge.pendingCount).toBe(1);
    context.statusChanged.emit('dead');
    await request.catch(() => undefined);
    expect(bridge.pendingCount).toBe(0);
    expect(counts).toEqual([1, 0]);
  });

  it('rejects waiting requests and closes the comm when disposed', async () => {
    kernel.handlers.delete('hello');
    createBridge();
    const request = bridge.list();
    await flush();
    bridge.dispose();
    await expect(request).rejects.toMatchObject({ code: 'comm_closed' });
    expect(kernel.comm.closeCalls).toBe(1);
    expect(bridge.isDisposed).toBe(true);
  });
});
