/**
 * Web Worker entry of the compute benchmark: the real `aggregate` (src/compute) over
 * synthetic columns shaped like fetched expression (float32, mostly zeros), on one core,
 * away from the UI thread as the plots' statistics are.
 */
import { aggregate } from '../compute/aggregate';
import { type IRpcPort, serveRpc } from '../workerRpc';

export interface IComputeBenchRequest {
  nCells: number;
  nGenes: number;
  nGroups: number;
  /** Share of non-zero values (synthetic data: ~0.08). */
  nonzero: number;
  repeats: number;
  seed: number;
}

export interface IComputeBenchReply {
  /** Bytes of expression values aggregated per repeat. */
  bytes: number;
  /** Milliseconds per repeat, in order. */
  ms: number[];
}

export type ComputeBenchMethods = {
  run: { request: IComputeBenchRequest; reply: IComputeBenchReply };
};

/** xorshift32: a seeded stream, so every run aggregates the same numbers. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

function columns(request: IComputeBenchRequest): {
  genes: Float32Array[];
  codes: Int32Array;
} {
  const next = random(request.seed);
  const codes = new Int32Array(request.nCells);
  for (let i = 0; i < codes.length; i++) {
    codes[i] = Math.floor(next() * request.nGroups);
  }
  const genes: Float32Array[] = [];
  for (let g = 0; g < request.nGenes; g++) {
    const values = new Float32Array(request.nCells);
    for (let i = 0; i < values.length; i++) {
      const u = next();
      // log-normalised-like values where expressed, zero elsewhere
      values[i] = u < request.nonzero ? 0.5 + 4 * (u / request.nonzero) : 0;
    }
    genes.push(values);
  }
  return { genes, codes };
}

serveRpc<ComputeBenchMethods>(self as unknown as IRpcPort, {
  run: request => {
    const { genes, codes } = columns(request);
    // Warm up the JIT on a slice, as a session that has drawn a plot before would be.
    aggregate(
      genes.slice(0, 2).map(g => g.subarray(0, 1 << 16)),
      codes.subarray(0, 1 << 16),
      request.nGroups
    );
    const ms: number[] = [];
    for (let r = 0; r < request.repeats; r++) {
      const start = performance.now();
      aggregate(genes, codes, request.nGroups);
      ms.push(performance.now() - start);
    }
    return { bytes: request.nGenes * request.nCells * 4, ms };
  }
});
