import { BridgeManager } from '../bridgeManager';
import { KernelBridge } from '../kernelBridge';
import { FakeSessionContext } from './fakeKernel';

function panel() {
  // A session context without a kernel: enough to create bridges
  return { sessionContext: new FakeSessionContext(null) };
}

describe('BridgeManager', () => {
  let manager: BridgeManager;
  let changes: (KernelBridge | null)[];

  beforeEach(() => {
    manager = new BridgeManager({ requestTimeoutMs: () => 5000 });
    changes = [];
    manager.activeChanged.connect((_, bridge) => changes.push(bridge));
  });

  afterEach(() => manager.dispose());

  it('creates one bridge per session context and tracks the active one', () => {
    const notebook = panel();
    const console = panel();
    manager.activate(notebook);
    const first = manager.active!;
    expect(first).toBeInstanceOf(KernelBridge);
    expect(first.sessionContext).toBe(notebook.sessionContext);

    manager.activate(console);
    const second = manager.active!;
    expect(second).not.toBe(first);

    // A second view of the same notebook shares its context and bridge.
    manager.activate({ sessionContext: notebook.sessionContext });
    expect(manager.active).toBe(first);
    manager.activate(notebook);
    expect(changes).toEqual([first, second, first]);
  });

  it('keeps the last bridge active when focus moves to a widget without a kernel', () => {
    const notebook = panel();
    manager.activate(notebook);
    const bridge = manager.active;
    manager.activate({ title: 'a plot' });
    manager.activate(null);
    manager.activate({ sessionContext: 'not a context' });
    expect(manager.active).toBe(bridge);
    expect(changes).toEqual([bridge]);
  });

  it('disposes a bridge with its session context and clears it if active', () => {
    const notebook = panel();
    const other = panel();
    manager.activate(other);
    const otherBridge = manager.active!;
    manager.activate(notebook);
    const bridge = manager.active!;

    other.sessionContext.dispose();
    expect(otherBridge.isDisposed).toBe(true);
    expect(manager.active).toBe(bridge);

    notebook.sessionContext.dispose();
    expect(bridge.isDisposed).toBe(true);
    expect(manager.active).toBeNull();
    expect(changes).toEqual([otherBridge, bridge, null]);

    // A disposed context is not activated again.
    manager.activate(notebook);
    expect(manager.active).toBeNull();
  });

  it('disposes all bridges when disposed', () => {
    manager.activate(panel());
    const bridge = manager.active!;
    manager.dispose();
    expect(bridge.isDisposed).toBe(true);
    expect(manager.active).toBeNull();
    expect(manager.isDisposed).toBe(true);
  });
});
