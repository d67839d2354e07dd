import type { KernelMessage } from '@jupyterlab/services';
import type { JSONObject } from '@lumino/coreutils';

import type { ICommLike } from '../commClient';

type Buffer = ArrayBuffer | ArrayBufferView;

/** A comm whose kernel side is driven by the test. */
export class FakeComm implements ICommLike {
  readonly commId = 'fake-comm';
  isDisposed = false;
  sent: JSONObject[] = [];
  closeCalls = 0;
  onMsg: (msg: KernelMessage.ICommMsgMsg) => void | PromiseLike<void> = () =>
    undefined;
  onClose: (msg: KernelMessage.ICommCloseMsg) => void | PromiseLike<void> =
    () => undefined;
  /** Called for each message the frontend sends, e.g. to auto-reply. */
  onSend: ((data: JSONObject) => void) | null = null;

  send(data: JSONObject, _metadata?: JSONObject, _buffers?: Buffer[]): void {
    if (this.isDisposed) {
      throw new Error('Comm is disposed');
    }
    this.sent.push(data);
    this.onSend?.(data);
  }

  close(): void {
    this.closeCalls += 1;
    this.isDisposed = true;
    void this.onClose({} as KernelMessage.ICommCloseMsg);
  }

  /** Deliver a kernel → frontend comm message. */
  reply(data: object, buffers?: Buffer[]): void {
    void this.onMsg({
      content: { comm_id: this.commId, data },
      buffers
    } as unknown as KernelMessage.ICommMsgMsg);
  }

  /** The kernel closes the comm. */
  closeFromKernel(): void {
    this.isDisposed = true;
    void this.onClose({} as KernelMessage.ICommCloseMsg);
  }

  /** Ids of the requests sent so far, in order. */
  get requestIds(): string[] {
    return this.sent.map(m => m.id as string);
  }

  lastRequest(): { id: string; op: string; args: any } {
    return this.sent[this.sent.length - 1] as any;
  }
}
