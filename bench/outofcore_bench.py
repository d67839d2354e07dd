"""Out-of-core part of ``make bench`` (issue 16): the heatmap's ``group_stats`` over a Zarr
store of 10⁷ cells read lazily through Dask, on a ``dask.distributed`` cluster the "user"
started, against ``sc.get.aggregate`` on the same data; then over a TileDB-SOMA experiment
of the same values (``soma``: tasks read it in the workers), against ``to_anndata`` of the
50 genes and ``sc.get.aggregate``. ``bench/run.py`` runs it in a
subprocess and merges its JSON (the last line of stdout); it also runs alone::

    python bench/outofcore_bench.py                       # 10⁷ cells (EXPRSCOPE_BENCH_OOC_CELLS)
    EXPRSCOPE_BENCH_SIZE=smoke python bench/outofcore_bench.py   # 200,000 cells

The store (fixed seed) is dense float32 with ~8 % non-zero values, chunked by 250,000 cells
× all genes, and holds ``EXPRSCOPE_BENCH_OOC_GENES`` (default 200) genes: 10⁷ × 200 × 4 B is
8 GB uncompressed (far less on disk, zstd on mostly zeros), where 2,000 genes would be 80 GB,
more than the machine's free disk, and a sparse-on-disk store of that size takes longer to
write than the whole run may. The heatmap reads 50 of those genes, so its work per cell is
the same as from a wider store chunked by cells.

The cluster is a ``LocalCluster`` of 2 worker *processes* × 1 thread (``memory_limit`` set):
processes, so that the chunks live in the workers and not in the process measured as the
kernel (threads would put the workers' memory in the kernel's RSS), as on a real cluster.

scanpy 1.11's ``sc.get.aggregate`` has no Dask implementation (``NotImplementedError``; the
reply is recorded), so the reference is what a user of that version writes: compute the 50
genes on the cluster into the kernel, then ``sc.get.aggregate(..., func=["mean", "var",
"count_nonzero"])``. Times are medians of ``REPS`` runs after a warm-up on one chunk.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

N_GENES_HEATMAP = 50
N_CLUSTERS = 20
CHUNK_CELLS = 250_000
DENSITY = 0.08
#: Timed runs of each side (after a warm-up on one chunk); EXPRSCOPE_BENCH_OOC_REPS overrides.
REPS = int(os.environ.get("EXPRSCOPE_BENCH_OOC_REPS", 3))
SEED = 0


def _cells() -> int:
    if os.environ.get("EXPRSCOPE_BENCH_SIZE") == "smoke":
        return 200_000
    return int(os.environ.get("EXPRSCOPE_BENCH_OOC_CELLS", 10_000_000))


def _block(block_info=None) -> np.ndarray:
    """One chunk of the store, from a seed fixed by its position."""
    info = block_info[None]
    (start, stop), (_, n_genes) = info["array-location"]
    rng = np.random.default_rng([SEED, start])
    n = stop - start
    values = rng.gamma(1.5, 1.0, size=(n, n_genes)).astype(np.float32)
    values[rng.random((n, n_genes), dtype=np.float32) >= DENSITY] = 0
    return values


class PeakRSS:
    """Peak resident memory of this process, sampled in a thread."""

    def __init__(self, interval: float = 0.02):
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self.peak = self.start = self._process.memory_info().rss

    def __enter__(self) -> PeakRSS:
        self._stop = threading.Event()
        self.peak = self.start = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def _cluster_rss(client) -> float:
    """Sum of the workers' RSS (bytes), to abort before the machine runs out."""
    info = client.scheduler_info()["workers"].values()
    return float(sum(w["metrics"]["memory"] for w in info))


def _median(seconds: list[float]) -> float:
    return float(np.median(seconds))


def write_soma(uri: str, store: Path, cluster_codes: np.ndarray, gene_names: list[str]) -> float:
    """The Zarr store's values as a TileDB-SOMA experiment (obs: joinid and an int8 cluster
    column; X/data: the stored non-zeros), chunk by chunk; seconds taken."""
    import pyarrow as pa
    import tiledbsoma as soma
    import zarr

    started = time.perf_counter()
    n_cells, n_genes = len(cluster_codes), len(gene_names)
    values = zarr.open_array(str(store), mode="r")
    with soma.Experiment.create(uri) as experiment:
        obs_schema = pa.schema([("soma_joinid", pa.int64()), ("cluster", pa.int8())])
        obs = experiment.add_new_dataframe("obs", schema=obs_schema, domain=[(0, n_cells - 1)])
        obs.write(
            pa.table(
                {"soma_joinid": pa.array(np.arange(n_cells)), "cluster": pa.array(cluster_codes)},
                schema=obs_schema,
            )
        )
        rna = experiment.add_new_collection("ms").add_new_collection("RNA", soma.Measurement)
        var_schema = pa.schema([("soma_joinid", pa.int64()), ("var_id", pa.large_string())])
        var = rna.add_new_dataframe("var", schema=var_schema, domain=[(0, n_genes - 1)])
        var.write(
            pa.table(
                {
                    "soma_joinid": pa.array(np.arange(n_genes)),
                    "var_id": pa.array(gene_names, pa.large_string()),
                },
                schema=var_schema,
            )
        )
        data = rna.add_new_collection("X").add_new_sparse_ndarray(
            "data", type=pa.float32(), shape=(n_cells, n_genes)
        )
        for start in range(0, n_cells, CHUNK_CELLS):
            block = values[start : start + CHUNK_CELLS]
            rows, cols = np.nonzero(block)
            data.write(
                pa.table(
                    {
                        "soma_dim_0": pa.array(rows + start, pa.int64()),
                        "soma_dim_1": pa.array(cols.astype(np.int64)),
                        "soma_data": pa.array(block[rows, cols]),
                    }
                )
            )
    return time.perf_counter() - started


def soma_stage(tmp: Path, store: Path, cluster_codes: np.ndarray, gene_names, genes, client):
    """The same heatmap from a TileDB-SOMA experiment of the same values, on the same cluster,
    against what a scanpy user writes: the 50 genes read into memory with tiledbsoma
    (``to_anndata``), then ``sc.get.aggregate``."""
    import scanpy as sc
    import tiledbsoma as soma

    from exprscope.adapters import adapter_for

    uri = str(tmp / "x.soma")
    write_s = write_soma(uri, store, cluster_codes, gene_names)
    disk_gb = sum(f.stat().st_size for f in Path(uri).rglob("*") if f.is_file()) / 1e9
    joinids = np.array([gene_names.index(g) for g in genes], dtype=np.int64)

    def ours(experiment):
        return adapter_for(experiment).group_stats("X/data", ["cluster"], genes)

    def theirs():
        with (
            soma.Experiment.open(uri) as experiment,
            experiment.axis_query("RNA", var_query=soma.AxisQuery(coords=(joinids,))) as query,
        ):
            mem = query.to_anndata(X_name="data")
        mem.obs["cluster"] = pd.Categorical(mem.obs["cluster"].astype(str))
        return sc.get.aggregate(mem, by="cluster", func=["mean", "var", "count_nonzero"])

    ours_s, ours_rss, theirs_s, theirs_rss = [], [], [], []
    for _ in range(REPS):
        # A new adapter each time: the obs table is read again, as for a new experiment
        with soma.Experiment.open(uri) as experiment, PeakRSS() as rss:
            start = time.perf_counter()
            table, result = ours(experiment)
            ours_s.append(time.perf_counter() - start)
        ours_rss.append(rss.peak)
        with PeakRSS() as rss:
            start = time.perf_counter()
            expected = theirs()
            theirs_s.append(time.perf_counter() - start)
        theirs_rss.append(rss.peak)
    worst = 0.0
    for i, group in enumerate(result["groups"]):
        (label,) = group["labels"]
        mean = table.column(f"sum:{i}").to_numpy() / group["n"]
        worst = max(worst, float(np.max(np.abs(mean - expected[label].layers["mean"].ravel()))))
    return {
        "seconds": _median(ours_s),
        "aggregate_s": _median(theirs_s),
        "ratio": _median(ours_s) / _median(theirs_s),
        "kernel_peak_rss_gb": max(ours_rss) / 1e9,
        "aggregate_kernel_peak_rss_gb": max(theirs_rss) / 1e9,
        "engine": result.get("engine", ""),
        "max_abs_mean_difference": worst,
        "write_s": write_s,
        "disk_gb": disk_gb,
        "runs_s": ours_s,
        "aggregate_runs_s": theirs_s,
    }


def run(tmp: Path) -> dict:
    import anndata as ad
    import dask
    import dask.array as da
    import distributed
    import pyarrow as pa
    import pyarrow.compute as pc
    import scanpy as sc

    from exprscope.adapters import adapter_for

    n_cells = _cells()
    n_genes = int(os.environ.get("EXPRSCOPE_BENCH_OOC_GENES", 200))
    chunk = min(CHUNK_CELLS, n_cells)
    free_gb = shutil.disk_usage(tmp).free / 1e9
    dense_gb = n_cells * n_genes * 4 / 1e9
    if dense_gb > 0.8 * free_gb:
        raise SystemExit(f"outofcore_bench: {dense_gb:.0f} GB store, {free_gb:.0f} GB free")

    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit="6GiB",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # The store, written by the workers
        started = time.perf_counter()
        store = tmp / "x.zarr"
        lazy = da.map_blocks(
            _block,
            dtype=np.float32,
            chunks=(tuple(min(chunk, n_cells - s) for s in range(0, n_cells, chunk)), (n_genes,)),
        )
        da.to_zarr(lazy, str(store), compute=True)
        write_s = time.perf_counter() - started
        disk_gb = sum(f.stat().st_size for f in store.rglob("*") if f.is_file()) / 1e9

        rng = np.random.default_rng(SEED)
        cluster_codes = rng.integers(0, N_CLUSTERS, n_cells).astype(np.int8)
        obs = pd.DataFrame(
            {
                "cluster": pd.Categorical.from_codes(
                    cluster_codes, [f"c{i}" for i in range(N_CLUSTERS)]
                )
            },
            # Arrow strings: 10⁷ Python str objects would be ~700 MB of the kernel's RSS
            index=pd.Index(
                pd.arrays.ArrowStringArray(pc.cast(pa.array(np.arange(n_cells)), pa.string()))
            ),
        )
        var = pd.DataFrame(index=[f"gene{j}" for j in range(n_genes)])
        adata = ad.AnnData(X=da.from_zarr(str(store)), obs=obs, var=var)
        genes = list(var.index[:: max(1, n_genes // N_GENES_HEATMAP)][:N_GENES_HEATMAP])

        def ours(obj=adata):
            return adapter_for(obj).group_stats("X", ["cluster"], genes)

        def theirs(obj=adata):
            sub = obj[:, genes]
            # The 50 genes computed on the cluster into the kernel, then aggregated
            (x,) = dask.compute(sub.X, scheduler=client)
            mem = ad.AnnData(X=x, obs=sub.obs)
            return sc.get.aggregate(mem, by="cluster", func=["mean", "var", "count_nonzero"])

        try:
            sc.get.aggregate(adata[:, genes], by="cluster", func=["mean", "count_nonzero"])
            aggregate_on_dask = "supported"
        except NotImplementedError as error:
            aggregate_on_dask = f"NotImplementedError: {error}"

        ours(adata[:chunk])  # warm-up (imports, first graph) on one chunk
        ours_s, ours_rss, cluster_peak = [], [], 0.0
        for _ in range(REPS):
            with PeakRSS() as rss:
                start = time.perf_counter()
                table, result = ours()
                ours_s.append(time.perf_counter() - start)
            ours_rss.append(rss.peak)
            cluster_peak = max(cluster_peak, _cluster_rss(client))
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        reply_bytes = sink.getvalue().size + len(json.dumps(result, default=str))

        theirs(adata[:chunk])  # warm-up
        theirs_s, theirs_rss = [], []
        for _ in range(REPS):
            with PeakRSS() as rss:
                start = time.perf_counter()
                expected = theirs()
                theirs_s.append(time.perf_counter() - start)
            theirs_rss.append(rss.peak)
            cluster_peak = max(cluster_peak, _cluster_rss(client))

        # Same numbers: the mean of each group from the sums
        check = expected
        worst = 0.0
        for i, group in enumerate(result["groups"]):
            (label,) = group["labels"]
            mean = table.column(f"sum:{i}").to_numpy() / group["n"]
            worst = max(worst, float(np.max(np.abs(mean - check[label].layers["mean"].ravel()))))
        engine = result.get("engine", "")

        # The same values from a TileDB-SOMA experiment, on the same cluster
        soma_figures = soma_stage(tmp, store, cluster_codes, list(var.index), genes, client)

    return {
        "soma": soma_figures,
        "seconds": _median(ours_s),
        "aggregate_s": _median(theirs_s),
        "ratio": _median(ours_s) / _median(theirs_s),
        "kernel_peak_rss_gb": max(ours_rss) / 1e9,
        "aggregate_kernel_peak_rss_gb": max(theirs_rss) / 1e9,
        "workers_rss_gb_max_sampled": cluster_peak / 1e9,
        "reply_bytes": reply_bytes,
        "engine": engine,
        "max_abs_mean_difference": worst,
        "aggregate_on_dask": aggregate_on_dask,
        "n_cells": n_cells,
        "n_genes_store": n_genes,
        "n_genes_heatmap": len(genes),
        "clusters": N_CLUSTERS,
        "chunk_cells": chunk,
        "density": DENSITY,
        "store_write_s": write_s,
        "store_disk_gb": disk_gb,
        "cluster": "LocalCluster: 2 worker processes × 1 thread, memory_limit 6 GiB each",
        "reps": REPS,
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="exprscope-ooc-") as tmp:
        out = run(Path(tmp))
    print(json.dumps({"outofcore_heatmap": out}))


if __name__ == "__main__":
    sys.exit(main())
