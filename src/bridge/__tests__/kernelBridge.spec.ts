import { BridgeStatus, KernelBridge } from '../kernelBridge';
import { ExprscopeError, MAX_GENES_PER_FETCH } from '../protocol';
import { PYTHON_SETUP_SNIPPET } from '../setup';
import { asContext, FakeKernel, FakeSessionContext, flush } from './fakeKernel';

describe('KernelBridge', () => {
  let kernel: FakeKernel;
  let context: FakeSessionContext;
  let bridge: KernelBridge;
  let statuses: BridgeStatus[];

  function createBridge(requestTimeoutMs = 1000): KernelBridge {
    bridge = new KernelBridge({
      sessionContext: asContext(context),
      requestTimeoutMs: () => requestTimeoutMs
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

  it('hands back the chunked fetch payload reassembled, undecoded', async () => {
    createBridge();
    await flush();
    const payload = Uint8Array.from({ length: 101 }, (_, i) => i);
    kernel.handlers.set('fetch', (request, comm) => {
      const result = {
        fingerprint: 'f',
        n_obs: 3,
        matrix: 'X',
        genes: ['ISG15'],
        missing: []
      };
      comm.reply({ id: request.id, ok: true, part: 0, parts: 2, result }, [
        payload.slice(0, 50)
      ]);
      comm.reply({ id: request.id, ok: true, part: 1, parts: 2 }, [
        payload.slice(50)
      ]);
    });
    const reply = await bridge.fetch({
      object: 'adata',
      matrix: 'X',
      genes: ['ISG15']
    });
    expect(reply.result.n_obs).toBe(3);
    expect(Array.from(reply.payload!)).toEqual(Array.from(payload));
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
