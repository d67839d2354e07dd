"""Kernel side of ``make bench``: builds the seeded synthetic data, serves the bare comm the
browser compares the product's transfer with, and times the kernel baselines (scanpy).

This is benchmark code, not the product: the spec imports it in the bench notebook's kernel
(``sys.path`` points at this folder) and calls one function per cell; each prints one JSON
line that the spec reads back.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import sparse

from exprscope import synthetic

BENCH_TARGET = "exprscope_bench"
#: The product's reply slice size (``exprscope.kernel.protocol.MAX_CHUNK_BYTES``).
CHUNK_BYTES = 8 * 1024 * 1024
#: In-memory matrices above this many cells × genes are built one block of genes at a time.
STREAMING_ABOVE = 2 * 10**9


def _ns() -> dict[str, Any]:
    from IPython import get_ipython

    return get_ipython().user_ns


def _emit(value: dict[str, Any]) -> None:
    print(json.dumps(value))


# -- data ----------------------------------------------------------------------------------------


def build(name: str, n_cells: int, n_genes: int, layout: str = "csc", seed: int = 0) -> None:
    """``make_synthetic`` data (no counts layer) as ``name`` in the user namespace."""
    start = time.perf_counter()
    requested = n_genes
    n_genes = _genes_that_fit(n_cells, n_genes)
    if n_cells * n_genes <= STREAMING_ABOVE:
        adata = synthetic.make_synthetic(n_cells, n_genes, layout=layout, seed=seed, counts=False)
        method = "make_synthetic"
    else:
        adata = _build_streaming_csc(n_cells, n_genes, seed)
        method = "streamed CSC (same tiles as make_synthetic)"
    _ns()[name] = adata
    gc.collect()
    x = adata.X
    _emit(
        {
            "name": name,
            "n_cells": n_cells,
            "n_genes": n_genes,
            "layout": x.format,
            "nnz": int(x.nnz),
            "zero_fraction": 1 - x.nnz / (n_cells * n_genes),
            "matrix_bytes": int(x.data.nbytes + x.indices.nbytes + x.indptr.nbytes),
            "build_s": time.perf_counter() - start,
            "method": method,
            "requested_genes": requested,
            "reduced_for_memory": n_genes < requested,
        }
    )


#: Peak kernel memory per cell × gene while building and using the CSC matrix: the matrix
#: itself is ~0.64 B (8% non-zeros × float32 value + int32 index), but the build's blocks,
#: the fetches and scanpy's copies bring the measured peak to 18.3 GiB for 10⁶ × 16,000
#: (1.23 B); a run sized on 0.64 B was killed for lack of memory at 10⁶ × 20,000.
BYTES_PER_ENTRY = 1.25
#: Kept free for the server, the browser and the rest of the machine.
HEADROOM_BYTES = 4 * 2**30


def _genes_that_fit(n_cells: int, n_genes: int) -> int:
    """``n_genes``, or fewer when the matrix would not fit in the memory available now
    (other processes share the machine; an out-of-memory kill takes theirs too)."""
    with open("/proc/meminfo") as meminfo:
        fields = dict(line.split(":", 1) for line in meminfo)
    available = int(fields["MemAvailable"].split()[0]) * 1024
    fits = int((available - HEADROOM_BYTES) / (n_cells * BYTES_PER_ENTRY))
    return max(1000, min(n_genes, fits // 1000 * 1000))


def _build_streaming_csc(n_cells: int, n_genes: int, seed: int):
    """The numbers of ``make_synthetic(n_cells, n_genes, layout="csc", counts=False)`` built
    without its peak memory (it holds every block, the stacked counts and float64 values at
    once: ~4× the matrix, more than this machine has at 10⁶ × 20,000). The seeded tiles are
    generated one column of tiles (genes) at a time into preallocated arrays, counts first;
    the cells' totals are known at the end, and the values are normalised in place."""
    model = synthetic._model(n_cells, n_genes, 2, 3, 20, seed)
    n_rows = synthetic._n_tiles(n_cells, synthetic.TILE_CELLS)
    n_columns = synthetic._n_tiles(n_genes, synthetic.TILE_GENES)
    # ~8% non-zeros: reserve 11%; untouched pages of np.empty cost no memory.
    capacity = int(n_cells * n_genes * 0.11)
    index_type = np.int32 if capacity < 2**31 else np.int64
    data = np.empty(capacity, np.float32)
    indices = np.empty(capacity, index_type)
    indptr = np.zeros(n_genes + 1, index_type)
    totals = np.zeros(n_cells)
    filled = 0
    with ThreadPoolExecutor(synthetic._threads()) as pool:
        for column in range(n_columns):
            tiles = list(
                pool.map(lambda row, c=column: synthetic._tile(model, row, c), range(n_rows))
            )
            block = sparse.vstack(tiles, format="csc")
            del tiles
            end = filled + block.nnz
            if end > capacity:
                raise MemoryError("more non-zeros than reserved; raise the capacity")
            data[filled:end] = block.data
            indices[filled:end] = block.indices
            first = column * synthetic.TILE_GENES
            indptr[first + 1 : first + block.shape[1] + 1] = block.indptr[1:] + filled
            totals += np.bincount(block.indices, weights=block.data, minlength=n_cells)
            filled = end
            del block
    scale = np.divide(synthetic.TARGET_SUM, totals, out=np.zeros_like(totals), where=totals > 0)
    step = 1 << 26
    for start in range(0, filled, step):
        stop = min(start + step, filled)
        data[start:stop] = np.log1p(data[start:stop] * scale[indices[start:stop]])
    adata = synthetic._skeleton(model, "csc")
    adata.X = sparse.csc_matrix(
        (data[:filled], indices[:filled], indptr), shape=(n_cells, n_genes), copy=False
    )
    return adata


def subset_genes(name: str, new_name: str, n_genes: int, drop: bool = False) -> None:
    """The first ``n_genes`` genes of ``name`` as ``new_name`` (a copy); ``drop`` frees the
    original (the 10⁶-cell matrix does not fit twice, with scanpy's working copies)."""
    ns = _ns()
    ns[new_name] = ns[name][:, :n_genes].copy()
    if drop:
        del ns[name]
    gc.collect()
    _emit({"name": new_name, "n_genes": n_genes, "dropped": drop})


def drop(*names: str) -> None:
    for name in names:
        _ns().pop(name, None)
    gc.collect()
    _emit({"dropped": list(names)})


def genes(name: str, n: int, skip: int = 0) -> None:
    """``n`` gene names spread over the matrix (not only the first, densest ones)."""
    var_names = _ns()[name].var_names
    picks = np.linspace(skip, len(var_names) - 1, n, dtype=int)
    _emit({"genes": [str(g) for g in var_names[picks]]})


def nnz(name: str, genes: list[str]) -> None:
    """The non-zeros of ``genes`` (what a sparse fetch sends, 8 bytes each) and the bytes the
    same genes take dense (4 per cell), for the transfer figures."""
    adata = _ns()[name]
    block = adata.X[:, adata.var_names.get_indexer(genes)]
    count = block.count_nonzero() if hasattr(block, "count_nonzero") else np.count_nonzero(block)
    _emit(
        {
            "nnz": int(count),
            "n_cells": int(adata.n_obs),
            "dense_bytes": int(adata.n_obs) * len(genes) * 4,
        }
    )


# -- kernel baselines ----------------------------------------------------------------------------


def markers_baseline(name: str, groupby: str = "cluster", n: int = 10) -> None:
    """``sc.tl.rank_genes_groups(method="t-test")``, timed; the result is removed again so
    that the product does not take it as stored markers."""
    import scanpy as sc

    adata = _ns()[name]
    key = "_bench_rank_genes_groups"
    start = time.perf_counter()
    sc.tl.rank_genes_groups(adata, groupby, method="t-test", n_genes=n, key_added=key)
    seconds = time.perf_counter() - start
    names = adata.uns.pop(key)["names"]
    top = {group: [str(g) for g in names[group]] for group in names.dtype.names}
    gc.collect()
    _emit({"seconds": seconds, "top": top, "n_obs": adata.n_obs, "n_vars": adata.n_vars})


def _aggregate_table(args: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """scanpy's ``sc.get.aggregate`` of the genes per group, as an Arrow table: the work the
    kernel path does, and the only bytes it sends."""
    import scanpy as sc

    start = time.perf_counter()
    adata = _ns()[args["object"]]
    funcs = args.get("func", ["mean", "var", "count_nonzero"])
    result = sc.get.aggregate(adata[:, args["genes"]], by=args.get("by", "cluster"), func=funcs)
    columns = {"group": pa.array([str(g) for g in result.obs_names])}
    for func in funcs:
        values = np.asarray(result.layers[func], dtype=np.float64)
        for j, gene in enumerate(result.var_names):
            columns[f"{func}:{gene}"] = pa.array(values[:, j])
    sink = pa.BufferOutputStream()
    table = pa.table(columns)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    payload = sink.getvalue().to_pybytes()
    return {"kernel_ms": (time.perf_counter() - start) * 1000}, payload


# -- the bare comm -------------------------------------------------------------------------------

_bytes_cache: dict[int, bytes] = {}


def _handle(comm, msg) -> None:
    request = msg["content"]["data"]
    request_id = request.get("id")
    try:
        if request["op"] == "bytes":
            nbytes, chunk = int(request["nbytes"]), int(request.get("chunk", CHUNK_BYTES))
            if nbytes not in _bytes_cache:
                _bytes_cache.clear()
                _bytes_cache[nbytes] = np.random.default_rng(0).bytes(nbytes)
            payload, result = _bytes_cache[nbytes], {}
        elif request["op"] == "aggregate":
            chunk = CHUNK_BYTES
            result, payload = _aggregate_table(request)
        else:
            raise ValueError(f"unknown op {request['op']!r}")
        view = memoryview(payload)
        parts = max(1, -(-len(view) // chunk))
        for part in range(parts):
            content = {"id": request_id, "part": part, "parts": parts}
            if part == 0:
                content["result"] = result
            comm.send(content, buffers=[view[part * chunk : (part + 1) * chunk]])
    except Exception as error:  # the browser waits for a reply: always send one
        comm.send({"id": request_id, "error": f"{type(error).__name__}: {error}"})


def setup() -> None:
    """Register the bare comm target (idempotent)."""
    from IPython import get_ipython

    manager = get_ipython().kernel.comm_manager
    manager.register_target(BENCH_TARGET, lambda comm, msg: comm.on_msg(lambda m: _handle(comm, m)))
    import anndata
    import scanpy

    _emit(
        {
            "python": os.sys.version.split()[0],
            "numpy": np.__version__,
            "anndata": anndata.__version__,
            "scanpy": scanpy.__version__,
        }
    )


def memory() -> None:
    """The kernel's peak and current resident memory."""
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    _emit(
        {
            "rss_bytes": int(fields["VmRSS"].split()[0]) * 1024,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }
    )
