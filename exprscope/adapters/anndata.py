"""Adapter for in-memory AnnData objects, views (``adata[mask]``) included.

Matrix ids: ``"X"``, ``"raw"`` (``adata.raw.X`` with ``adata.raw.var_names``) and
``"layers/<name>"``. Dense numpy arrays and scipy sparse matrices/arrays are read here; backed
(on-disk) AnnData and Dask-backed matrices by the subclasses in :mod:`.outofcore`, which
override the storage hooks (``_gene_block``, ``_moments``, ``_execution``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from ..api import read_stored_markers, stored_markers_info
from ..compute._matrix import columns_with_nan
from ..kernel.protocol import (
    KERNEL_PATH_MIN_CELLS,
    MAX_REPLY_BYTES,
    NOT_SUPPORTED,
    UNKNOWN_COLUMN,
    UNKNOWN_MATRIX,
    ProtocolError,
)
from ._describe import (
    CATEGORICAL,  # noqa: F401 (re-exported: public here before the split)
    CLUSTER_COLUMN_NAMES,  # noqa: F401 (re-exported: public here before the split)
    DATASET_COLUMN_NAMES,  # noqa: F401 (re-exported: public here before the split)
    MAX_CATEGORIES,  # noqa: F401 (re-exported: public here before the split)
    NUMERIC,  # noqa: F401 (re-exported: public here before the split)
    OTHER,  # noqa: F401 (re-exported: public here before the split)
    SAMPLE_COLUMN_NAMES,  # noqa: F401 (re-exported: public here before the split)
    _describe_obs_column,
    _is_embedding,
    _log1p_base,
    _readable_stored_markers,
    _strings,
    column_guesses_of,
    guess_sample,  # noqa: F401 (re-exported: public here before the split)
)
from ._replies import check_obs_columns
from ._stats import check_group_stats_size, group_sums, without_nan_genes
from .base import (
    DEFAULT_MARKERS_KEY,
    EMBEDDING_DIMS,
    MAX_GROUP_STATS_VALUES,
    Adapter,
    identity_token,
    is_imported_instance,
    register_adapter,
)

if TYPE_CHECKING:
    from anndata import AnnData

    from ._replies import Grouping
    from .base import GeneSums


@dataclass
class _Matrix:
    """A stored matrix and how the object's cells and genes map onto it.

    anndata materialises a view's ``.X`` / ``.layers[k]`` (all of the view's cells × genes) on
    every access, so for views we read the parent's matrix and select the requested genes
    before the view's cells.
    """

    data: Any
    genes: pd.Index  # gene names as the user sees them for this matrix
    rows: np.ndarray | None  # positions of the object's cells in ``data``; None: all, in order
    columns: np.ndarray | None  # positions of ``genes`` in ``data``'s columns; None: identity


@register_adapter
class AnnDataAdapter(Adapter):
    type_name = "AnnData"
    obj: AnnData
    max_fetch_bytes = MAX_REPLY_BYTES

    @classmethod
    def accepts(cls, obj: Any) -> bool:
        return is_imported_instance(obj, "anndata", "AnnData")

    @property
    def shape(self) -> tuple[int, int]:
        n_obs, n_vars = self.obj.shape
        return int(n_obs), int(n_vars)

    @property
    def _root(self) -> AnnData:
        """The AnnData that owns the stored arrays: the parent of a view, else the object."""
        return self.obj._adata_ref if self.obj.is_view else self.obj

    def fingerprint(self) -> str:
        """Hash of the object's identity and structure.

        Covers: the object itself (so reassignment and subsetting change it), shape, the
        identities of X, raw, every layer, obsm entry and uns entry, the obs/var names, the obs
        columns and their dtypes, and the codes and categories of categorical obs columns.
        Cannot detect in-place edits of array values (``adata.X[0, 0] = 1``,
        ``adata.obs["n_counts"] *= 2`` on a numeric column): the frontend keeps serving cached
        values until something above changes.
        """
        adata, root = self.obj, self._root
        digest = hashlib.blake2b(digest_size=8)

        def add(*parts: Any) -> None:
            digest.update(repr(parts).encode())

        token = identity_token
        add(token(adata), adata.is_view, adata.shape)
        add("names", token(adata.obs_names), token(adata.var_names))
        if root.isbacked:
            add("file", str(root.filename))
        else:
            add("X", token(root.X))
        add("raw", token(adata.raw), None if adata.raw is None else token(adata.raw.X))
        add("layers", [(str(key), token(value)) for key, value in root.layers.items()])
        add("obsm", [(str(key), token(value)) for key, value in root.obsm.items()])
        add("uns", [(str(key), token(value)) for key, value in root.uns.items()])
        for name, column in adata.obs.items():
            add("obs", str(name), str(column.dtype))
            if isinstance(column.dtype, pd.CategoricalDtype):
                add(list(column.cat.categories))
                digest.update(np.ascontiguousarray(column.cat.codes.to_numpy()))
        return digest.hexdigest()

    def describe(self) -> dict[str, Any]:
        self._check_in_memory()
        adata = self.obj
        obs = [_describe_obs_column(str(name), column) for name, column in adata.obs.items()]
        return {
            **self.summary(),
            "obs": obs,
            "genes": _strings(adata.var_names),
            "matrices": self._describe_matrices(),
            # The parent's obsm has the same columns and is not copied on access, unlike a view's.
            "embeddings": [
                {"name": str(name), "n_dims": int(value.shape[1])}
                for name, value in self._root.obsm.items()
                if _is_embedding(value)
            ],
            "guesses": column_guesses_of(obs),
            "stored_markers": _readable_stored_markers(adata.uns),
            "execution": self._execution(),
        }

    def stored_markers(
        self, groupby: str, n: int, key: str = DEFAULT_MARKERS_KEY
    ) -> tuple[pa.Table | None, dict[str, Any]]:
        """The top ``n`` genes per group of ``uns[key]`` when it holds scanpy
        ``rank_genes_groups`` results for ``groupby``."""
        self._obs_columns([groupby])  # unknown_column for a column the object lacks
        fingerprint = self.fingerprint()
        uns = self.obj.uns
        stored = uns.get(key)
        info = stored_markers_info(stored)
        reason = None
        if stored is None:
            reason = f"No stored marker genes: the object has no uns[{key!r}]."
        elif info is None:
            reason = f"uns[{key!r}] is not a rank_genes_groups result that exprscope can read."
        elif info.groupby != groupby:
            reason = (
                f"The stored marker genes in uns[{key!r}] are for groupby "
                f"{info.groupby!r}, not {groupby!r}."
            )
        if reason is not None:
            return None, {"available": False, "reason": reason, "fingerprint": fingerprint}
        frame = read_stored_markers(stored, n)
        table = pa.table(
            {
                "group": pa.array(frame["group"].astype(str).tolist(), type=pa.utf8()),
                "rank": pa.array(frame["rank"].to_numpy(dtype=np.int32)),
                "gene": pa.array(frame["gene"].astype(str).tolist(), type=pa.utf8()),
                **{
                    column: pa.array(frame[column].to_numpy(dtype=np.float64))
                    for column in ("score", "logfoldchange", "pval_adj")
                },
            }
        )
        result = {
            "available": True,
            "key": key,
            "method": info.method,
            "matrix": info.matrix,
            "groupby": groupby,
            "reference": info.reference,
            "groups": info.groups,
            "fingerprint": fingerprint,
        }
        return table, result

    # -- helpers -------------------------------------------------------------------------------

    def _check_in_memory(self) -> None:
        if self.obj.isbacked:
            raise ProtocolError(
                NOT_SUPPORTED,
                "Backed (on-disk) AnnData is not supported yet; load it with adata.to_memory().",
            )

    # Storage hooks (Adapter's reading hooks and ``_execution``): the out-of-core subclasses
    # (outofcore.py) override ``_gene_block``, ``_moments`` and ``_execution``.

    def _execution(self) -> dict[str, str]:
        """``describe``'s ``execution``: where plots of this object should be computed."""
        n_obs = self.shape[0]
        if n_obs > KERNEL_PATH_MIN_CELLS:
            return {
                "path": "kernel",
                "reason": f"{n_obs:,} cells (more than {KERNEL_PATH_MIN_CELLS:,}): per-group "
                "statistics are computed in the kernel instead of sending cells.",
            }
        return {
            "path": "browser",
            "reason": f"In memory, {n_obs:,} cells: cells are sent to the browser.",
        }

    def _gene_block(self, source: _Matrix, positions: np.ndarray) -> tuple[Any, dict[str, Any]]:
        return _read_gene_block(source, positions, self.shape[0]), {"engine": "numpy"}

    def _moments(
        self, source: _Matrix, columns: np.ndarray, grouping: Grouping, expm1: bool
    ) -> GeneSums:
        data = _object_matrix(source)
        n_groups = grouping.n_groups
        if n_groups * columns.size > MAX_GROUP_STATS_VALUES:
            # Too large unless genes with NaN leave enough out: find them first
            check_group_stats_size(n_groups, int((~columns_with_nan(data)[columns]).sum()))
        # One pass over the stored values; squares of float32 rounded to float32, as scanpy
        kept, sums = without_nan_genes(group_sums(data, grouping.codes, n_groups, expm1, columns))
        check_group_stats_size(n_groups, kept.size)
        return kept, sums, {"engine": "numpy"}

    # The other reading hooks of Adapter

    def _source(self, matrix: str) -> _Matrix:
        self._check_in_memory()
        return self._matrix(matrix)

    def _gene_names(self, source: _Matrix) -> pd.Index:
        return source.genes

    def _cell_ids(self) -> list[str]:
        return _strings(self.obj.obs_names)

    def _stored_log1p_base(self) -> float | None:
        return _log1p_base(self.obj.uns)

    def _matrix(self, matrix_id: str) -> _Matrix:
        adata = self.obj
        if matrix_id == "raw":
            if adata.raw is None:
                raise ProtocolError(UNKNOWN_MATRIX, "This AnnData has no raw.")
            # A view's raw already holds only the view's cells (anndata subsets it eagerly).
            return _Matrix(adata.raw.X, adata.raw.var_names, rows=None, columns=None)

        if matrix_id == "X":
            data = self._root.X
            if data is None:
                raise ProtocolError(UNKNOWN_MATRIX, "This AnnData has no X.")
        elif matrix_id.startswith("layers/") and matrix_id[len("layers/") :] in adata.layers:
            data = self._root.layers[matrix_id[len("layers/") :]]
        else:
            raise ProtocolError(
                UNKNOWN_MATRIX,
                f"No matrix {matrix_id!r}; available: {', '.join(self._matrix_ids())}.",
            )
        if not adata.is_view:
            return _Matrix(data, adata.var_names, rows=None, columns=None)
        return _Matrix(
            data,
            adata.var_names,
            rows=_positions(adata._oidx, self._root.n_obs),
            columns=_positions(adata._vidx, self._root.n_vars),
        )

    def _matrix_ids(self) -> list[str]:
        adata = self.obj
        ids = [] if self._root.X is None else ["X"]
        if adata.raw is not None:
            ids.append("raw")
        return ids + [f"layers/{name}" for name in adata.layers]

    def _describe_matrices(self) -> list[dict[str, Any]]:
        described = []
        for matrix_id in self._matrix_ids():
            source = self._matrix(matrix_id)
            entry = {
                "id": matrix_id,
                "label": _matrix_label(matrix_id),
                "n_vars": len(source.genes),
                "dtype": str(getattr(source.data, "dtype", "unknown")),
                "storage": _storage(source.data),
            }
            if not source.genes.equals(self.obj.var_names):
                entry["genes"] = _strings(source.genes)
            described.append(entry)
        return described

    def _obs_columns(self, names: Sequence[str]) -> dict[str, pd.Series]:
        by_name = {str(name): name for name in self.obj.obs.columns}
        check_obs_columns(names, by_name)
        return {name: self.obj.obs[by_name[name]] for name in names}

    def _embedding(self, name: str) -> np.ndarray:
        """The first ``EMBEDDING_DIMS`` dimensions of ``obsm[name]``, float32."""
        value = self.obj.obsm[name] if name in self.obj.obsm else None
        if value is None or not _is_embedding(value):
            raise ProtocolError(
                UNKNOWN_COLUMN, f"No embedding {name!r} in obsm.", {"embedding": name}
            )
        if isinstance(value, pd.DataFrame):
            value = value.to_numpy()
        value = value[:, :EMBEDDING_DIMS]
        if sparse.issparse(value):
            value = value.toarray()
        return np.asarray(value, dtype=np.float32)


# -- matrices ----------------------------------------------------------------------------------


def _positions(index: Any, length: int) -> np.ndarray | None:
    """A view index (slice, integer or boolean array) as positions; None when it selects all."""
    if isinstance(index, slice) and index == slice(None):
        return None
    return np.atleast_1d(np.arange(length)[index])


def _read_gene_block(source: _Matrix, positions: np.ndarray, n_obs: int) -> Any:
    """Cells × selected genes: a column-major numpy array for dense matrices, a CSC matrix
    (each gene's non-zeros contiguous) for sparse ones."""
    data = source.data
    if len(positions) == 0:
        return np.empty((n_obs, 0), dtype=getattr(data, "dtype", np.float32))
    columns = positions if source.columns is None else source.columns[positions]
    if isinstance(data, np.ndarray):
        block = data[:, columns] if source.rows is None else data[np.ix_(source.rows, columns)]
        return np.asfortranarray(block)
    if sparse.issparse(data):
        if data.format not in ("csr", "csc"):
            data = data.tocsc()
        # Column indexing works directly on CSR too (one pass over the non-zeros), which is far
        # cheaper than adata[:, genes]; rows are selected on the small result afterwards.
        block = data[:, columns]
        if source.rows is not None:
            block = block[source.rows]
        return sparse.csc_matrix(block)
    raise ProtocolError(
        NOT_SUPPORTED, f"Matrices stored as {type(data).__name__} are not supported yet."
    )


def _object_matrix(source: _Matrix) -> Any:
    """The object's cells × genes of a stored matrix (a view's subset of its parent's)."""
    data = source.data
    if isinstance(data, np.ndarray):
        pass
    elif sparse.issparse(data):
        if data.format not in ("csr", "csc"):
            data = data.tocsr()
    else:
        raise ProtocolError(
            NOT_SUPPORTED, f"Matrices stored as {type(data).__name__} are not supported yet."
        )
    if source.rows is not None:
        data = data[source.rows]
    if source.columns is not None:
        data = data[:, source.columns]
    return data


def _storage(data: Any) -> str:
    if isinstance(data, np.ndarray):
        return "dense"
    if sparse.issparse(data):
        return data.format
    if is_imported_instance(data, "anndata.abc", "CSRDataset"):
        return "backed-csr"
    if is_imported_instance(data, "anndata.abc", "CSCDataset"):
        return "backed-csc"
    if is_dask_array(data):
        return "dask"
    return type(data).__name__


def is_dask_array(data: Any) -> bool:
    return is_imported_instance(data, "dask.array", "Array")


def _matrix_label(matrix_id: str) -> str:
    if matrix_id == "raw":
        return "raw.X"
    if matrix_id.startswith("layers/"):
        return f"layers[{matrix_id[len('layers/') :]!r}]"
    return matrix_id
