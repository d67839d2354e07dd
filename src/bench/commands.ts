/**
 * Hidden commands for `make bench` (bench/): timings the UI cannot show, measured in the
 * page with the product's own code paths. They have no label and no palette entry; the
 * benchmark calls them with `app.commands.execute(id, args)`. Nothing here changes what
 * the extension does for users.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { CommsOverSubshells } from '@jupyterlab/services';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import { type Table, tableFromIPC } from 'apache-arrow';

import { ExprscopeError } from '../bridge/protocol';
import {
  fetchDecoded,
  fetchDecodings,
  IFetchDecoder
} from '../data/fetchDecoding';
import { decodeGroupStats, IGroupStatsResult } from '../data/groupStats';
import type { ExprscopeSession } from '../session/session';
import { topMarkers } from '../plots/heatmap/markers';
import { loadPlotly, plotDrawCount } from '../plots/plotly';
import { workerInputTraffic } from '../plots/modelWorker';
import { RpcClient } from '../workerRpc';
import type {
  ComputeBenchMethods,
  IComputeBenchReply,
  IComputeBenchRequest
} from './computeWorker';

export namespace BenchCommandIDs {
  export const fetch = 'exprscope:bench-fetch';
  export const bare = 'exprscope:bench-bare';
  export const kernelTable = 'exprscope:bench-kernel-table';
  export const compute = 'exprscope:bench-compute';
  export const markers = 'exprscope:bench-markers';
  export const state = 'exprscope:bench-state';
}

export interface IBenchDeps {
  /** The sidebar's model: its bridge, selection and description are the ones users drive. */
  model: ExprscopeSession;
  /** The app's decoder of `fetch` replies (the worker users' fetches go through). */
  fetchDecoder: IFetchDecoder;
}

/** The comm target `bench/exprscope_bench.py` registers in the kernel. */
const BENCH_TARGET = 'exprscope_bench';

export function registerBenchCommands(
  app: JupyterFrontEnd,
  deps: IBenchDeps
): void {
  const { model } = deps;
  const bridge = () => {
    if (!model.bridge) {
      throw new ExprscopeError('no_kernel', 'No kernel for the benchmark.');
    }
    return model.bridge;
  };
  const bare = new BareComm();

  // A gene fetch through the real bridge (request, chunk reassembly, Arrow decode), but
  // not through the cache, so that every repetition crosses the comm.
  app.commands.addCommand(BenchCommandIDs.fetch, {
    execute: async (args: any) => {
      const selection = model.selection;
      let bytes = 0;
      const start = performance.now();
      const { table } = await fetchDecoded(
        bridge(),
        {
          object: args.object ?? selection.object,
          matrix: args.matrix ?? selection.matrix,
          genes: args.genes
        },
        deps.fetchDecoder,
        { timeoutMs: 0, onProgress: received => (bytes = received) }
      );
      return {
        ms: performance.now() - start,
        bytes,
        genes: table.genes.size,
        cells: table.nCells
      };
    }
  });

  // The same number of bytes as bare comm buffers: the ceiling the fetch is compared to.
  app.commands.addCommand(BenchCommandIDs.bare, {
    execute: async (args: any) => {
      const kernel = bridge().sessionContext.session?.kernel;
      const start = performance.now();
      const reply = await bare.request(kernel, {
        op: 'bytes',
        nbytes: args.nbytes,
        chunk: args.chunk ?? 8 * 1024 * 1024
      });
      return { ms: performance.now() - start, bytes: reply.bytes };
    }
  });

  // The kernel baseline: the table computed by scanpy in the kernel, only the table sent;
  // with `draw`, also drawn as a bare Plotly heatmap (the same bundle), to compare like
  // with like: a user sees a drawn heatmap, not a table.
  app.commands.addCommand(BenchCommandIDs.kernelTable, {
    execute: async ({ draw, ...args }: any) => {
      const kernel = bridge().sessionContext.session?.kernel;
      const start = performance.now();
      const reply = await bare.request(kernel, { op: 'aggregate', ...args });
      const table = tableFromIPC(reply.payload);
      const received = performance.now();
      if (draw) {
        await drawTable(table);
      }
      return {
        ms: performance.now() - start,
        drawMs: performance.now() - received,
        kernelMs: reply.result.kernel_ms,
        bytes: reply.bytes,
        rows: table.numRows
      };
    }
  });

  // Browser aggregation throughput on one core (one Web Worker).
  app.commands.addCommand(BenchCommandIDs.compute, {
    execute: async (args: any): Promise<IComputeBenchReply> => {
      const client = new RpcClient<ComputeBenchMethods>(
        new Worker(new URL('./computeWorker.js', import.meta.url)),
        'benchmark worker'
      );
      const request: IComputeBenchRequest = {
        nCells: args.nCells,
        nGenes: args.nGenes,
        nGroups: args.nGroups ?? 40,
        nonzero: args.nonzero ?? 0.08,
        repeats: args.repeats ?? 3,
        seed: args.seed ?? 1
      };
      try {
        return await client.call('run', request);
      } finally {
        client.terminate();
      }
    }
  });

  // Top markers as the heatmap finds them without stored results: per-group statistics
  // from the kernel (`group_stats`), Welch t-tests in the browser.
  app.commands.addCommand(BenchCommandIDs.markers, {
    execute: async (args: any) => {
      const selection = model.selection;
      const groupby: string[] = args.groupby ?? [
        ...new Set(
          [selection.clusterColumn, selection.datasetColumn].filter(
            (c): c is string => !!c
          )
        )
      ];
      const start = performance.now();
      const { result, payload } = await bridge().request<IGroupStatsResult>(
        'group_stats',
        {
          object: args.object ?? selection.object,
          matrix: args.matrix ?? selection.matrix,
          groupby
        },
        { timeoutMs: 0 }
      );
      const received = performance.now();
      if (!payload) {
        throw new ExprscopeError('internal', 'No statistics in the reply.');
      }
      const stats = decodeGroupStats(result, tableFromIPC(payload));
      const rows = topMarkers(stats, { n: args.n ?? 10, clusters: null });
      const end = performance.now();
      return {
        ms: end - start,
        requestMs: received - start,
        rankMs: end - received,
        bytes: payload.byteLength,
        groupby,
        markers: rows.map(row => [row.cluster, row.gene, row.rank])
      };
    }
  });

  // What the sidebar is showing, the execution path the kernel advises for it, how the
  // views' workers got their input (shared or copied) and where replies were decoded.
  app.commands.addCommand(BenchCommandIDs.state, {
    execute: () => {
      const description = model.description as any;
      return {
        object: model.selection.object,
        matrix: model.selection.matrix,
        nObs: description?.n_obs ?? null,
        execution: description?.execution ?? null,
        crossOriginIsolated: self.crossOriginIsolated === true,
        workerInputs: workerInputTraffic(),
        fetchDecodings: fetchDecodings(),
        plotDraws: plotDrawCount()
      };
    }
  });
}

interface IBareReply {
  result: any;
  payload: Uint8Array;
  bytes: number;
}

/**
 * A plain request/reply comm to the benchmark's own kernel target: no protocol layer,
 * no decoding. Served on the main shell like the product's comm, so both queue alike.
 */
class BareComm {
  async request(
    kernel: Kernel.IKernelConnection | null | undefined,
    data: Record<string, unknown>
  ): Promise<IBareReply> {
    if (!kernel) {
      throw new ExprscopeError('no_kernel', 'No kernel for the benchmark.');
    }
    if (!this._comm || this._kernel !== kernel || this._comm.isDisposed) {
      this._comm = kernel.createComm(BENCH_TARGET);
      this._comm.commsOverSubshells = CommsOverSubshells.Disabled;
      this._comm.onMsg = msg => this._onMsg(msg);
      this._comm.open({});
      this._kernel = kernel;
    }
    const id = `b${this._next++}`;
    return new Promise<IBareReply>((resolve, reject) => {
      this._pending.set(id, { resolve, reject, chunks: [], bytes: 0 });
      this._comm!.send({ id, ...data } as any);
    });
  }

  private _onMsg(msg: KernelMessage.ICommMsgMsg): void {
    const data = msg.content.data as any;
    const pending = this._pending.get(data.id);
    if (!pending) {
      return;
    }
    if (data.error) {
      this._pending.delete(data.id);
      pending.reject(new Error(data.error));
      return;
    }
    if (data.part === 0) {
      pending.result = data.result;
    }
    for (const buffer of msg.buffers ?? []) {
      const view =
        buffer instanceof ArrayBuffer
          ? new Uint8Array(buffer)
          : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      pending.chunks.push(view);
      pending.bytes += view.byteLength;
    }
    if (data.part === data.parts - 1) {
      this._pending.delete(data.id);
      // Only small (table) replies are reassembled; raw byte replies are just counted.
      const payload =
        pending.bytes <= SMALL_REPLY_BYTES
          ? concat(pending.chunks, pending.bytes)
          : new Uint8Array(0);
      pending.resolve({
        result: pending.result,
        payload,
        bytes: pending.bytes
      });
    }
  }

  private _comm: Kernel.IComm | null = null;
  private _kernel: Kernel.IKernelConnection | null = null;
  private _next = 0;
  private _pending = new Map<
    string,
    {
      resolve: (reply: IBareReply) => void;
      reject: (err: Error) => void;
      result?: any;
      chunks: Uint8Array[];
      bytes: number;
    }
  >();
}

const SMALL_REPLY_BYTES = 16 * 1024 * 1024;

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) {
    return chunks[0];
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** `table` (a group column, then one numeric column per gene) as a Plotly heatmap, drawn. */
async function drawTable(table: Table): Promise<void> {
  const Plotly = await loadPlotly();
  const groups = table.getChildAt(0)!.toArray() as string[];
  const genes = table.schema.fields.slice(1).map(f => f.name);
  const z = genes.map((_, j) => Array.from(table.getChildAt(j + 1)!.toArray()));
  const node = document.createElement('div');
  node.style.cssText =
    'position: fixed; left: 0; top: 0; width: 800px; height: 600px; visibility: hidden';
  document.body.appendChild(node);
  try {
    await Plotly.newPlot(node, [
      { type: 'heatmap', x: Array.from(groups), y: genes, z }
    ] as any);
  } finally {
    Plotly.purge(node);
    node.remove();
  }
}
