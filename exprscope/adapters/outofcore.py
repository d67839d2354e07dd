"""Adapters for AnnData whose matrices are not in memory: backed h5ad and Dask arrays.

Both reuse everything of :class:`~.anndata.AnnDataAdapter` (obs, embeddings, markers,
fingerprint) and override its storage hooks only: reading a few genes (``_gene_block``) and
per-group sums (``_moments``), which here run chunk by chunk so that only statistics, never
the matrix, are held in memory or cross the comm.

- Backed h5ad (``anndata.read_h5ad(path, backed="r")``; only X is on disk, anndata loads the
  layers): a CSC file reads genes directly; a CSR file must scan every row to read a gene,
  which the reply says (``warnings``), naming :func:`exprscope.to_gene_friendly`.
- Dask (e.g. a Zarr store read with ``anndata.experimental.read_elem_lazy``): sums are
  computed per block on the user's ``dask.distributed`` client when there is one, else on
  the local threaded scheduler; a cluster is never started here.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from ..kernel.protocol import TOO_LARGE, ProtocolError
from ._stats import (
    MomentsAccumulator,
    add_moments,
    check_group_stats_size,
    chunk_moments,
    concat_moments,
    without_nan_genes,
)
from .anndata import AnnDataAdapter, _Matrix, is_dask_array
from .base import is_imported_instance, register_adapter

if TYPE_CHECKING:
    from ._replies import Grouping
    from .base import GeneSums

#: Chunks of a backed matrix hold about this many stored values (~200 MB of data + indices
#: as float32/int64, plus the chunk's float64 temporaries).
CHUNK_VALUES = 16_000_000


def _backed_format(data: Any) -> str | None:
    """``"csr"`` or ``"csc"`` for anndata's backed sparse datasets, else None."""
    if is_imported_instance(data, "anndata.abc", "CSRDataset"):
        return "csr"
    if is_imported_instance(data, "anndata.abc", "CSCDataset"):
        return "csc"
    return None


def _blocks(indptr: np.ndarray, budget: int = CHUNK_VALUES) -> list[tuple[int, int]]:
    """Consecutive ranges of rows (CSR) or columns (CSC) holding about ``budget`` values each."""
    n = len(indptr) - 1
    blocks, start = [], 0
    while start < n:
        stop = int(np.searchsorted(indptr, indptr[start] + budget, side="right")) - 1
        stop = min(n, max(stop, start + 1))
        blocks.append((start, stop))
        start = stop
    return blocks


def csr_scan_warning(label: str, filename: Any) -> str:
    return (
        f"{label} is stored by cell (CSR) in {filename}: reading genes scans the whole matrix. "
        f"Convert the file once to a gene-friendly (CSC) layout with "
        f"exprscope.to_gene_friendly({str(filename)!r}, 'out.h5ad') and open the new file with "
        "anndata.read_h5ad(..., backed='r')."
    )


def scan_csr_columns(data: Any, columns: np.ndarray) -> sparse.csr_matrix:
    """Cells × ``columns`` of a backed CSR matrix, read by scanning its rows in chunks (the
    indices of every stored value are read; values only in chunks that hold a hit)."""
    group = data.group
    n_obs, n_vars = data.shape
    unique, inverse = np.unique(columns, return_inverse=True)
    lookup = np.full(n_vars, -1, dtype=np.int64)
    lookup[unique] = np.arange(unique.size)
    indptr = group["indptr"][:]
    rows, cols, values = [], [], []
    for start, stop in _blocks(indptr):
        low, high = int(indptr[start]), int(indptr[stop])
        hit = lookup[group["indices"][low:high]]
        found = np.flatnonzero(hit >= 0)
        if found.size == 0:
            continue
        cell = np.repeat(np.arange(start, stop), np.diff(indptr[start : stop + 1]))
        rows.append(cell[found])
        cols.append(hit[found])
        values.append(group["data"][low:high][found])
    if rows:
        matrix = sparse.csr_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_obs, unique.size),
        )
    else:
        matrix = sparse.csr_matrix((n_obs, unique.size), dtype=data.dtype)
    return matrix[:, inverse]


def _root_codes(source: _Matrix, codes: np.ndarray, n_root: int) -> np.ndarray:
    """Group codes of the stored matrix's rows: −2 marks rows outside a view (left out even
    from the totals), −1 cells without a group."""
    if source.rows is None:
        return codes
    root = np.full(n_root, -2, dtype=np.int64)
    root[source.rows] = codes
    return root


@register_adapter
class BackedAnnDataAdapter(AnnDataAdapter):
    """AnnData opened with ``backed="r"`` (views of it included)."""

    @classmethod
    def accepts(cls, obj: Any) -> bool:
        return super().accepts(obj) and bool(obj.isbacked)

    def _check_in_memory(self) -> None:
        pass

    def _execution(self) -> dict[str, str]:
        return {
            "path": "kernel",
            "reason": f"Backed h5ad ({self._root.filename}): the matrix stays on disk; "
            "statistics are computed in the kernel, chunk by chunk.",
        }

    def _warnings(self, source: _Matrix) -> list[str]:
        if _backed_format(source.data) != "csr":
            return []
        return [csr_scan_warning("The matrix", self._root.filename)]

    def _gene_block(self, source: _Matrix, positions: np.ndarray) -> tuple[Any, dict[str, Any]]:
        layout = _backed_format(source.data)
        if layout is None:
            return super()._gene_block(source, positions)
        columns = positions if source.columns is None else source.columns[positions]
        if layout == "csc":
            unique, inverse = np.unique(columns, return_inverse=True)
            block = source.data[:, unique][:, inverse]
        else:
            block = scan_csr_columns(source.data, columns)
        if source.rows is not None:
            block = block[source.rows]
        # Kept sparse: fetch sends the non-zeros (only one gene at a time is ever dense)
        block = sparse.csc_matrix(block)
        return block, {"engine": f"h5py ({layout} chunks)", "warnings": self._warnings(source)}

    def _moments(
        self, source: _Matrix, columns: np.ndarray, grouping: Grouping, expm1: bool
    ) -> GeneSums:
        data = source.data
        layout = _backed_format(data)
        if layout is None:
            return super()._moments(source, columns, grouping, expm1)
        n_groups = grouping.n_groups
        check_group_stats_size(n_groups, columns.size)
        n_cells = data.shape[0] if source.rows is None else len(source.rows)
        check_scan_size(n_cells, columns.size, f"a backed {layout.upper()} file")
        stored = columns if source.columns is None else source.columns[columns]
        all_columns = stored.size == data.shape[1] and (stored == np.arange(stored.size)).all()
        codes = _root_codes(source, grouping.codes, data.shape[0])
        accumulator = MomentsAccumulator(n_groups, columns.size, expm1)
        indptr = data.group["indptr"][:]
        if layout == "csr":
            for start, stop in _blocks(indptr):
                chunk = data[start:stop]
                if not all_columns:
                    chunk = chunk[:, stored]
                accumulator.add(*_in_view(chunk, codes[start:stop]))
        elif all_columns:
            for start, stop in _blocks(indptr):
                accumulator.add(*_in_view(data[:, start:stop], codes), slice(start, stop))
        else:
            # Blocks of the requested columns, each read in sorted order
            counts = np.diff(indptr)[stored]
            for start, stop in _blocks(np.concatenate([[0], np.cumsum(counts)])):
                unique, inverse = np.unique(stored[start:stop], return_inverse=True)
                chunk = data[:, unique][:, inverse]
                accumulator.add(*_in_view(chunk, codes), slice(start, stop))
        kept, sums = without_nan_genes(accumulator.sums)
        notes = {"engine": f"h5py ({layout} chunks)", "warnings": []}
        if layout == "csr" and not all_columns:
            notes["warnings"] = self._warnings(source)
        return kept, sums, notes


def _in_view(chunk: Any, codes: np.ndarray) -> tuple[Any, np.ndarray]:
    """The chunk's rows that belong to the object (code ≥ −1) and their codes."""
    inside = codes >= -1
    if inside.all():
        return chunk, codes
    return chunk[np.flatnonzero(inside)], codes[inside]


# -- Dask --------------------------------------------------------------------------------------

#: Most cell × gene values one ``group_stats`` reads out of core (a backed file, a Dask matrix,
#: a SOMA layer; about 10⁷ cells × 2,500 genes, 100 GB as float32): beyond, the scan itself is
#: the problem (hours of disk or cluster time for a heatmap that shows a few hundred genes), so
#: it is refused from the shapes, before any work.
MAX_SCAN_VALUES = 25_000_000_000
#: Largest dense block (rows chunk × requested genes) one worker would hold at once.
MAX_DASK_BLOCK_BYTES = 2 * 1024**3


def check_scan_size(n_cells: int, n_genes: int, storage: str, op: str = "group_stats") -> None:
    """Refuse (``too_large``) a scan of ``n_genes`` × ``n_cells`` stored values above
    MAX_SCAN_VALUES, naming the way out."""
    values = int(n_cells) * int(n_genes)
    if values > MAX_SCAN_VALUES:
        raise ProtocolError(
            TOO_LARGE,
            f"{op} over {n_genes:,} genes × {n_cells:,} cells would read {values:,} values of "
            f"{storage} (at most {MAX_SCAN_VALUES:,}, about 10⁷ cells × 2,500 genes); "
            "request fewer genes (a heatmap needs only the genes it shows).",
            {
                "genes": int(n_genes),
                "cells": int(n_cells),
                "values": values,
                "max_values": MAX_SCAN_VALUES,
            },
        )


def check_dask_scan(array: Any, op: str = "group_stats") -> None:
    """Refuse (``too_large``) a scan of a lazy Dask matrix too big to run, from its shape and
    chunks only: nothing is computed or allocated."""
    n_cells, n_genes = (int(n) for n in array.shape)
    check_scan_size(n_cells, n_genes, "a Dask matrix", op)
    if sparse.issparse(getattr(array, "_meta", None)):
        return  # sparse chunks hold their non-zeros only; their size is not known up front
    block = max(array.chunks[0], default=0) * max(array.chunks[1], default=0)
    block_bytes = block * np.dtype(array.dtype).itemsize
    if block_bytes > MAX_DASK_BLOCK_BYTES:
        raise ProtocolError(
            TOO_LARGE,
            f"{op} over {n_genes:,} genes would hold blocks of {block_bytes / 2**30:,.1f} GiB "
            f"on a Dask worker (at most {MAX_DASK_BLOCK_BYTES / 2**30:,.0f} GiB); request "
            "fewer genes, or rechunk the matrix by cells (e.g. X.rechunk((100_000, -1))).",
            {"block_bytes": block_bytes, "max_block_bytes": MAX_DASK_BLOCK_BYTES},
        )


def user_dask_client() -> Any:
    """The user's ``dask.distributed`` client, or None. Never creates one: a client exists
    only if the user imported distributed and started it."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.default_client()
    except ValueError:  # no client
        return None


def dask_compute(value: Any) -> tuple[Any, str]:
    """Compute a Dask collection or delayed on the user's client, else on local threads; the
    result and a description of the engine for the reply."""
    import dask

    client = user_dask_client()
    if client is not None:
        (result,) = dask.compute(value, scheduler=client)
        return result, f"dask.distributed ({client.scheduler.address})"
    (result,) = dask.compute(value, scheduler="threads")
    return result, "dask (local threads)"


def tree_sum(parts: list[Any]) -> Any:
    """Pairwise sum of delayed chunk sums, so the reduction runs on the workers."""
    from dask import delayed

    while len(parts) > 1:
        pairs = [delayed(add_moments)(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


@register_adapter
class DaskAnnDataAdapter(AnnDataAdapter):
    """In-memory AnnData whose X or a layer is a Dask array (e.g. a lazily read Zarr store)."""

    @classmethod
    def accepts(cls, obj: Any) -> bool:
        if not super().accepts(obj) or obj.isbacked or sys.modules.get("dask.array") is None:
            return False
        # The parent's matrices: a view's .X would compute its subset on access
        root = obj._adata_ref if obj.is_view else obj
        return is_dask_array(root.X) or any(is_dask_array(m) for m in root.layers.values())

    def _execution(self) -> dict[str, str]:
        client = user_dask_client()
        engine = "your dask.distributed client" if client is not None else "local Dask threads"
        return {
            "path": "kernel",
            "reason": f"Lazy Dask matrices: statistics are computed in the kernel on {engine}.",
        }

    def _gene_block(self, source: _Matrix, positions: np.ndarray) -> tuple[Any, dict[str, Any]]:
        if not is_dask_array(source.data):
            return super()._gene_block(source, positions)
        columns = positions if source.columns is None else source.columns[positions]
        array = source.data[:, columns]
        if source.rows is not None:
            array = array[source.rows]
        block, engine = dask_compute(array)
        # Sparse blocks (scipy chunks) stay sparse, for fetch to send their non-zeros
        block = sparse.csc_matrix(block) if sparse.issparse(block) else np.asfortranarray(block)
        return block, {"engine": engine}

    def _moments(
        self, source: _Matrix, columns: np.ndarray, grouping: Grouping, expm1: bool
    ) -> GeneSums:
        from dask import delayed

        if not is_dask_array(source.data):
            return super()._moments(source, columns, grouping, expm1)
        n_groups = grouping.n_groups
        check_group_stats_size(n_groups, columns.size)
        array = source.data
        if source.rows is not None:
            array = array[source.rows]
        stored = columns if source.columns is None else source.columns[columns]
        if stored.size != array.shape[1] or (stored != np.arange(stored.size)).any():
            array = array[:, stored]
        check_dask_scan(array)  # shape and chunks only: the graph is not built yet
        # The codes travel in the graph: 10⁷ cells are 10 MB as int8, 80 MB as int64
        codes = grouping.codes.astype(np.min_scalar_type(-max(n_groups, 2)), copy=False)
        row_bounds = np.concatenate([[0], np.cumsum(array.chunks[0])])
        blocks = array.to_delayed()
        per_column_block = []
        for j in range(blocks.shape[1]):
            parts = [
                delayed(chunk_moments)(
                    blocks[i, j], codes[row_bounds[i] : row_bounds[i + 1]], n_groups, expm1
                )
                for i in range(blocks.shape[0])
            ]
            per_column_block.append(tree_sum(parts))
        sums, engine = dask_compute(delayed(concat_moments)(per_column_block))
        kept, sums = without_nan_genes(sums)
        return kept, sums, {"engine": engine}
