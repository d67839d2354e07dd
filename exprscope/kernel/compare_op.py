"""The ``compare`` op (docs/protocol.md): target vs reference dataset within each cluster, by
:func:`exprscope.conditions.compare_plan` (pydeseq2 on pseudobulk counts, or scanpy's cell-level
Wilcoxon).

Everything that reads the user's object runs here, on the main shell, between cell executions
(as every op does): the checks, the pseudobulk sums, the Wilcoxon rank sums. DESeq2 fits read
only the pseudobulk counts copied out of the object, so they run on a worker thread
(:class:`~.service.Background`): progress per cluster, cancellable between clusters, and the
notebook stays usable meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..compute.compare import PSEUDOBULK, WILCOXON, ComparisonError, counts_matrix
from ..conditions import ComparePlan, compare_plan, resolve_comparison
from .args import bad_argument, int_arg, optional_str_arg, str_arg, str_list_arg, unique
from .protocol import BAD_REQUEST, NOT_SUPPORTED, UNKNOWN_COLUMN, ProtocolError

if TYPE_CHECKING:
    from ..adapters import Adapter
    from .service import Background, OpResult

Progress = Callable[[int, int, str], None]

#: The largest ``min_cells`` accepted (more than any object has cells).
MAX_MIN_CELLS = 2**31 - 1


def compare(adapter: Adapter, args: dict[str, Any], progress: Progress) -> OpResult | Background:
    """Check the request, read what the tests need and run or schedule them."""
    from ..adapters.anndata import AnnDataAdapter
    from ..adapters.outofcore import BackedAnnDataAdapter, DaskAnnDataAdapter

    if not isinstance(adapter, AnnDataAdapter):
        raise ProtocolError(
            NOT_SUPPORTED,
            f"Condition comparisons read AnnData objects (in memory, backed or Dask-backed), "
            f"not {adapter.type_name}.",
            {"type": adapter.type_name},
        )
    adata = adapter.obj
    matrix = str_arg(args, "matrix")
    counts = optional_str_arg(args, "counts")
    for matrix_id in (matrix, counts):
        if matrix_id is not None:
            adapter._matrix(matrix_id)  # raises unknown_matrix with the known ones
    keys = {role: str_arg(args, role) for role in ("dataset_key", "cluster_key")}
    sample_key = optional_str_arg(args, "sample_key")
    for role, key in (*keys.items(), ("sample_key", sample_key)):
        if key is not None and key not in adata.obs.columns:
            raise ProtocolError(
                UNKNOWN_COLUMN, f"No obs column {key!r} ({role}).", {"column": key, "role": role}
            )
    method = optional_str_arg(args, "method")
    if method not in (None, PSEUDOBULK, WILCOXON):
        raise bad_argument("method", '"pseudobulk", "wilcoxon" or null')
    clusters = None if args.get("clusters") is None else unique(str_list_arg(args, "clusters"))
    if clusters == []:
        raise bad_argument("clusters", "a non-empty list of clusters, or null for all")
    genes = None if args.get("genes") is None else unique(str_list_arg(args, "genes"))
    min_cells = int_arg(args, "min_cells", default=10, minimum=1, maximum=MAX_MIN_CELLS)
    layer, use_raw = _layer_of(matrix)
    try:
        resolved = resolve_comparison(
            adata,
            reference=str_arg(args, "reference"),
            target=optional_str_arg(args, "target"),
            sample_key=sample_key,
            method=method,
            clusters=clusters,
            **keys,
        )
        if resolved["method"] == WILCOXON and isinstance(
            adapter, BackedAnnDataAdapter | DaskAnnDataAdapter
        ):
            raise ProtocolError(
                NOT_SUPPORTED,
                "The cell-level Wilcoxon test reads the cells in memory; this object is backed "
                "or Dask-backed. Use pseudobulk (give a sample column) or load the object.",
                {"method": WILCOXON},
            )
        if resolved["method"] == PSEUDOBULK and counts is None:
            counts = counts_matrix(adata)  # not the plot's (log) matrix: the counts
        progress(0, len(resolved["clusters"]), "reading the data")
        plan = compare_plan(
            adata,
            **resolved,
            genes=genes,
            min_cells=min_cells,
            layer=layer,
            use_raw=use_raw,
            counts=counts,
        )
    except ComparisonError as error:
        details = {key: value for key in ("argument", "suggest") if (value := getattr(error, key))}
        raise ProtocolError(BAD_REQUEST, str(error), details) from error
    except KeyError as error:  # genes not in the matrix
        raise ProtocolError(BAD_REQUEST, str(error.args[0]), {"argument": "genes"}) from error
    if any(step.reads_object for step in plan.steps):
        return _run(plan, threading.Event(), progress)
    from .service import Background

    return Background(lambda cancelled, report: _run(plan, cancelled, report))


def _run(plan: ComparePlan, cancelled: threading.Event, progress: Progress) -> OpResult:
    frames = []
    total = len(plan.steps)
    for done, step in enumerate(plan.steps):
        if cancelled.is_set():
            raise ProtocolError("cancelled", "The comparison was cancelled.")
        progress(done, total, f"cluster {step.cluster}: {plan.attrs['method']}")
        frames.append(step.run())
    progress(total, total, "done")
    return _reply(plan.finish(frames))


def _reply(frame: pd.DataFrame) -> OpResult:
    """One row per gene × cluster that was tested (Arrow); per-cluster counts in JSON."""
    attrs = frame.attrs
    clusters = []
    for cluster, rows in frame.groupby("cluster", sort=False, observed=True):
        first = rows.iloc[0]
        tested = bool(np.isfinite(rows["pvalue"].to_numpy(dtype=float)).any())
        clusters.append(
            {
                "cluster": str(cluster),
                "n_cells_a": int(first["n_cells_a"]),
                "n_cells_b": int(first["n_cells_b"]),
                "n_samples_a": None if pd.isna(first["n_samples_a"]) else int(first["n_samples_a"]),
                "n_samples_b": None if pd.isna(first["n_samples_b"]) else int(first["n_samples_b"]),
                "tested": tested,
                "note": str(first["note"]) if first["note"] != attrs["caveat"] else "",
            }
        )
    tested = {entry["cluster"] for entry in clusters if entry["tested"]}
    rows = frame[frame["cluster"].isin(tested)]
    table = pa.table(
        {
            "gene": pa.array(rows["gene"].astype(str).to_numpy()).dictionary_encode(),
            "cluster": pa.array(rows["cluster"].astype(str).to_numpy()).dictionary_encode(),
            **{
                name: pa.array(rows[name].to_numpy(dtype=np.float64))
                for name in ("log2fc", "stat", "pvalue", "padj")
            },
        }
    )
    result = {
        key: attrs[key]
        for key in (
            "method",
            "caveat",
            "reference",
            "target",
            "matrix",
            "dataset_key",
            "cluster_key",
            "sample_key",
        )
    }
    result["clusters"] = clusters
    result["n_genes"] = int(rows["gene"].nunique()) if len(rows) else 0
    return result, table


def _layer_of(matrix: str) -> tuple[str | None, bool]:
    """scanpy's (layer, use_raw) for a matrix id."""
    if matrix == "raw":
        return None, True
    if matrix.startswith("layers/"):
        return matrix.removeprefix("layers/"), False
    return None, False
