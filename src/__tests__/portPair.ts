import type { IRpcPort, IRpcWorker } from '../workerRpc';

/** A hand-made port pair: each side's postMessage delivers to the other asynchronously. */
export function portPair(): {
  worker: IRpcWorker & {
    terminated: boolean;
    transfers: Transferable[][];
  };
  scope: IRpcPort & { transfers: Transferable[][] };
} {
  const worker = {
    onmessage: null as ((event: MessageEvent) => void) | null,
    onerror: null as ((event: ErrorEvent) => void) | null,
    terminated: false,
    transfers: [] as Transferable[][],
    postMessage(message: unknown, transfer: Transferable[] = []) {
      worker.transfers.push(transfer);
      setTimeout(() => scope.onmessage?.({ data: message } as MessageEvent));
    },
    terminate() {
      worker.terminated = true;
    }
  };
  const scope = {
    onmessage: null as ((event: MessageEvent) => void) | null,
    transfers: [] as Transferable[][],
    postMessage(message: unknown, transfer: Transferable[] = []) {
      scope.transfers.push(transfer);
      setTimeout(() => worker.onmessage?.({ data: message } as MessageEvent));
    }
  };
  return { worker, scope };
}
