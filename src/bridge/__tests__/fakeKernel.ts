/** A fake kernel for KernelBridge tests: answers comm requests through per-op handlers. */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { JSONObject } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';

import { FakeComm } from './fakeComm';

export type Handler = (
  request: { id: string; op: string; args: any },
  comm: KernelComm
) => void;

/** A comm created by the bridge; answers through the kernel's handlers. */
export class KernelComm extends FakeComm {
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
export class FakeKernel {
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

export class FakeSessionContext {
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

export function asContext(context: FakeSessionContext): ISessionContext {
  return context as unknown as ISessionContext;
}

/** Let the bridge's promise chains run. */
export function flush(): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, 0));
}
