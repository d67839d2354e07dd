"""The ``markers`` op (docs/protocol.md): top markers per cluster by scanpy's one-vs-rest
Wilcoxon rank-sum test, computed in the kernel for the heatmap's "top markers" rows.

The numbers are :func:`exprscope.markers`'s with ``method="wilcoxon"`` (the same compute
functions: :func:`~exprscope.compute.ranksum.group_rank_sums`, sparse-aware, and
:func:`~exprscope.compute.markers.wilcoxon_markers`), held to
``scanpy.tl.rank_genes_groups(method="wilcoxon")`` by the tests. The reply has the columns of
the ``stored_markers`` op, so the browser decodes both the same way.

Where it runs, as ``compare``: everything that reads the user's object runs on the main shell,
between cell executions — the checks, the group codes and one private CSC copy of the matrix
(the copy ranking by column needs anyway for a CSR matrix). The ranking then reads only that
copy, on a worker thread (:class:`~.service.Background`): progress per block of genes,
cancellable between blocks, and the notebook stays usable meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from ..adapters.base import MAX_STORED_MARKERS
from ..compute._matrix import columns_with_nan, group_codes, resolve_matrix
from ..compute.aggregate import group_moments
from ..compute.markers import wilcoxon_markers
from ..compute.ranksum import RankSums, group_rank_sums
from .args import bad_argument, bool_arg, int_arg, optional_str_arg, str_arg
from .compare_op import _layer_of
from .protocol import BAD_REQUEST, NOT_SUPPORTED, ProtocolError
from .service import CANCELLED, Background

if TYPE_CHECKING:
    from ..adapters import Adapter
    from .service import OpResult

Progress = Callable[[int, int, str], None]

WILCOXON = "wilcoxon"
METHODS = (WILCOXON,)

#: Progress steps of one ranking (genes are ranked in this many blocks, at most).
PROGRESS_STEPS = 20


def markers(adapter: Adapter, args: dict[str, Any], progress: Progress) -> Background:
    """Check the request, copy what the test reads and schedule the ranking."""
    from ..adapters._describe import _log1p_base
    from ..adapters.anndata import AnnDataAdapter
    from ..adapters.outofcore import BackedAnnDataAdapter, DaskAnnDataAdapter

    matrix_id = str_arg(args, "matrix")
    groupby = str_arg(args, "groupby")
    method = optional_str_arg(args, "method") or WILCOXON
    if method not in METHODS:
        raise bad_argument("method", '"wilcoxon" (the t-test is computed in the browser)')
    n = int_arg(args, "n", default=10, minimum=1, maximum=MAX_STORED_MARKERS)
    tie_correct = bool_arg(args, "tie_correct")
    if not isinstance(adapter, AnnDataAdapter):
        raise ProtocolError(
            NOT_SUPPORTED,
            f"Wilcoxon markers are computed on AnnData objects in memory, not on "
            f"{adapter.type_name}.",
            {"type": adapter.type_name},
        )
    if isinstance(adapter, BackedAnnDataAdapter | DaskAnnDataAdapter):
        raise ProtocolError(
            NOT_SUPPORTED,
            "Wilcoxon markers rank every cell in memory; this object is backed or Dask-backed. "
            "Load it (adata.to_memory()) or use the t-test, which reads per-group sums.",
            {"method": method},
        )
    adapter._matrix(matrix_id)  # unknown_matrix, naming the known ones
    cluster = adapter._obs_columns([groupby])[groupby]  # unknown_column
    adata = adapter.obj
    codes, labels = group_codes(pd.DataFrame({"cluster": cluster.array}), "cluster")
    if len(labels) < 2:
        found = ", ".join(repr(str(label)) for label in labels["label"]) or "none"
        raise ProtocolError(
            BAD_REQUEST,
            f"Markers compare each cluster with the other cells: {groupby!r} has "
            f"{len(labels)} cluster{'' if len(labels) == 1 else 's'} with cells ({found}). "
            "Choose a cluster column with at least two clusters.",
            {"argument": "groupby"},
        )
    layer, use_raw = _layer_of(matrix_id)
    choice = resolve_matrix(adata, layer, use_raw)
    with_nan = columns_with_nan(choice.data)
    kept_genes = np.flatnonzero(~with_nan)
    # The private copy: the worker never reads the user's object.
    data = sparse.csc_matrix(choice.data, copy=True)
    if with_nan.any():
        data = data[:, kept_genes]
    plan = _Plan(
        data=data,
        codes=codes,
        labels=[str(label) for label in labels["label"]],
        genes=np.asarray(choice.var_names.astype(str))[kept_genes],
        excluded_genes=[str(gene) for gene in choice.var_names[with_nan]],
        log_base=_log1p_base(adata.uns),
        n=n,
        tie_correct=tie_correct,
        result={
            "available": True,
            "key": None,
            "method": method,
            "tie_correct": tie_correct,
            "matrix": choice.label,
            "groupby": groupby,
            "reference": "rest",
            "fingerprint": adapter.fingerprint(),
        },
    )
    progress(0, plan.data.shape[1], "copied the matrix")
    return Background(lambda cancelled, report: plan.run(cancelled, report))


@dataclass
class _Plan:
    """What the worker needs, copied out of the object."""

    data: sparse.csc_matrix  # cells × tested genes, the object's values (private copy)
    codes: np.ndarray  # cluster code per cell, −1 without a cluster
    labels: list[str]
    genes: np.ndarray  # names of the tested genes
    excluded_genes: list[str]  # genes with NaN values, left out (as exprscope.markers)
    log_base: float | None
    n: int
    tie_correct: bool
    result: dict[str, Any]  # the reply's fields known before ranking

    def run(self, cancelled: threading.Event, progress: Progress) -> OpResult:
        n_genes = self.data.shape[1]
        n_groups = len(self.labels)
        # Unlabelled cells are ranked too (an extra group), as scanpy ranks every cell.
        ranked = np.where(self.codes < 0, n_groups, self.codes)
        block = max(1, -(-n_genes // PROGRESS_STEPS))
        sums, ties = [], []
        for start in range(0, n_genes, block):
            if cancelled.is_set():
                raise ProtocolError(CANCELLED, "The marker search was cancelled.")
            progress(start, n_genes, "ranking genes")
            part = group_rank_sums(self.data[:, start : start + block], ranked, n_groups + 1)
            sums.append(part.rank_sum)
            ties.append(part.tie_correction)
        if cancelled.is_set():
            raise ProtocolError(CANCELLED, "The marker search was cancelled.")
        rank_sums = RankSums(
            rank_sum=np.concatenate(sums, axis=1) if sums else np.zeros((n_groups + 1, 0)),
            n=part.n if sums else np.zeros(n_groups + 1),
            n_total=self.data.shape[0],
            tie_correction=np.concatenate(ties) if ties else np.ones(0),
        )
        moments = group_moments(self.data, self.codes, n_groups)
        frame = wilcoxon_markers(
            rank_sums,
            moments,
            n_top=self.n,
            log_base=self.log_base,
            tie_correct=self.tie_correct,
        )
        progress(n_genes, n_genes, "done")
        labels = np.asarray(self.labels, dtype=object)
        groups = labels[frame["group"].to_numpy(dtype=int)]
        table = pa.table(
            {
                "group": pa.array(groups.tolist(), type=pa.utf8()),
                "rank": pa.array(frame["rank"].to_numpy(dtype=np.int32)),
                "gene": pa.array(
                    self.genes[frame["gene"].to_numpy(dtype=int)].tolist(), type=pa.utf8()
                ),
                **{
                    column: pa.array(frame[column].to_numpy(dtype=np.float64))
                    for column in ("score", "logfoldchange", "pval_adj")
                },
            }
        )
        tested = set(groups.tolist())
        result = {
            **self.result,
            "groups": [label for label in self.labels if label in tested],
            "skipped_groups": [label for label in self.labels if label not in tested],
            "n_genes": int(n_genes),
            "excluded_genes": self.excluded_genes,
        }
        return result, table
