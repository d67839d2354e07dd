# Over 600 lines: one adapter class whose ops share the storage hooks outofcore/soma override; describe helpers live in _describe.py.
"""Adapter for in-memory AnnData objects, views (``adata[mask]``) included.

Matrix ids: ``"X"``, ``"raw"`` (``adata.raw.X`` with ``adata.raw.var_names``) and
``"layers/<name>"``. Dense numpy arrays and scipy sparse matrices/arrays are read here; backed
(on-disk) AnnData and Dask-backed matrices by the subclasses in :mod:`.outofcore`, which
override the storage hooks (``_gene_block``, ``_moments``, ``_execution``).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

from ..api import read_stored_markers, stored_markers_info
from ..compute._matrix import columns_with_nan, drop_unused_categories, group_codes
from ..kernel.protocol import (
    KERNEL_PATH_MIN_CELLS,
    MAX_REPLY_BYTES,
    NOT_SUPPORTED,
    TOO_LARGE,
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
    _as_categorical,
    _describe_obs_column,
    _is_embedding,
    _log1p_base,
    _obs_to_arrow,
    _readable_stored_markers,
    _strings,
    column_guesses_of,
    guess_sample,  # noqa: F401 (re-exported: public here before the split)
)
from ._stats import (
    DEFAULT_MAX_SAMPLE,
    SPEARMAN_EXACT,
    check_group_stats_size,
    group_stats_table,
    group_sums,
    pair_stats_table,
)
from .base import (
    CELL_ID_COLUMN,
    DEFAULT_MARKERS_KEY,
    MAX_GROUP_STATS_VALUES,
    MAX_STAT_GROUPS,
    Adapter,
    embedding_column,
    identity_token,
    obs_column,
    register_adapter,
)
from .fetch_payload import FetchTables, GeneColumns

if TYPE_CHECKING:
    from anndata import AnnData

#: ``fetch`` sends this many leading dimensions of an embedding (the plots are 2-D).
EMBEDDING_DIMS = 2

#: Values of ``missing_reason`` in the ``fetch`` result.
NOT_IN_MATRIX = "not_in_matrix"
ALL_NAN = "all_nan"
HAS_NAN = "has_nan"  # pair_stats only: some cells NaN (correlations would be undefined)


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

    @classmethod
    def accepts(cls, obj: Any) -> bool:
        # An AnnData can only exist if anndata was imported: never import it just to check.
        anndata = sys.modules.get("anndata")
        return anndata is not None and isinstance(obj, anndata.AnnData)

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
        n_obs, n_vars = self.shape
        return {
            "type": self.type_name,
            "n_obs": n_obs,
            "n_vars": n_vars,
            "fingerprint": self.fingerprint(),
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

    def fetch(
        self,
        matrix: str,
        genes: Sequence[str],
        obs: Sequence[str] = (),
        embedding: str | None = None,
        cell_ids: bool = False,
    ) -> tuple[FetchTables, dict[str, Any]]:
        self._check_in_memory()
        adata = self.obj
        source = self._matrix(matrix)
        obs_columns = self._obs_columns(obs)
        embedding_values = self._embedding(embedding) if embedding is not None else None

        positions = _gene_positions(source.genes, genes)
        found = [gene for gene, position in zip(genes, positions, strict=True) if position >= 0]
        missing_reason = {
            gene: NOT_IN_MATRIX
            for gene, position in zip(genes, positions, strict=True)
            if position < 0
        }
        self._check_reply_size(len(found), obs_columns, embedding_values, cell_ids)

        # Each gene travels dense or as its non-zeros, whichever is smaller (fetch_payload.py);
        # sparse storage is never densified beyond one column.
        block, notes = self._gene_block(source, positions[positions >= 0])
        gene_columns = GeneColumns(self.shape[0])
        gene_columns.add_block(found, block)
        # An all-NaN column is how a layer marks genes it does not hold (e.g. an integrated
        # assay that covers only a few thousand genes): report it, do not plot NaNs.
        for gene in gene_columns.all_nan:
            missing_reason[gene] = ALL_NAN
        columns: dict[str, pa.Array] = {}
        for name, column in obs_columns.items():
            columns[obs_column(name)] = _obs_to_arrow(column)
        if embedding_values is not None:
            for dim in range(embedding_values.shape[1]):
                columns[embedding_column(embedding, dim)] = pa.array(embedding_values[:, dim])
        if cell_ids:
            columns[CELL_ID_COLUMN] = pa.array(_strings(adata.obs_names), type=pa.utf8())

        missing = [gene for gene in genes if gene in missing_reason]
        result = {
            "fingerprint": self.fingerprint(),
            "n_obs": self.shape[0],
            "matrix": matrix,
            "genes": [gene for gene in found if gene not in missing_reason],
            "missing": missing,
            "missing_reason": {gene: missing_reason[gene] for gene in missing},
        }
        if notes.get("warnings"):
            result["warnings"] = notes["warnings"]
        return gene_columns.tables(columns), result

    def group_stats(
        self,
        matrix: str,
        groupby: Sequence[str],
        genes: Sequence[str] | None = None,
        expm1: bool = False,
    ) -> tuple[pa.Table, dict[str, Any]]:
        """Sufficient statistics per non-empty group over every gene of the matrix, or over
        ``genes`` (the heatmap's kernel path).

        Genes whose column holds a NaN (e.g. outside an integrated layer) are left out and
        listed in ``excluded_genes``. The sums are :func:`._stats.group_sums`' (squares of
        float32 values rounded to float32, as scanpy; one pass over the stored values); the
        totals run over all cells, those without a group label included.
        """
        self._check_in_memory()
        source = self._matrix(matrix)
        grouping = _grouping(self._obs_columns(groupby))
        columns, missing = _requested_columns(source.genes, genes)
        kept, sums, notes = self._moments(source, columns, grouping.codes, grouping.n_groups, expm1)
        return _group_stats_reply(
            matrix=matrix,
            groupby=groupby,
            grouping=grouping,
            genes=source.genes[columns],
            kept=kept,
            sums=sums,
            expm1=expm1,
            missing=missing,
            requested=genes is not None,
            log1p_base=_log1p_base(self.obj.uns),
            fingerprint=self.fingerprint(),
            notes=notes,
        )

    def pair_stats(
        self,
        matrix: str,
        gene_x: str,
        gene_y: str,
        groupby: Sequence[str],
        *,
        detected_only: bool = False,
        spearman: str = SPEARMAN_EXACT,
        max_sample: int = DEFAULT_MAX_SAMPLE,
    ) -> tuple[pa.Table | None, dict[str, Any]]:
        """Per-group sums and correlations of two genes, computed in the kernel; no table
        when a gene is missing from the matrix (``missing``, as in ``fetch``)."""
        self._check_in_memory()
        source = self._matrix(matrix)
        grouping = _grouping(self._obs_columns(groupby))
        positions = _gene_positions(source.genes, [gene_x, gene_y])
        values, notes = np.empty((self.shape[0], 0)), {}
        if (positions >= 0).all():
            # float64 reads keep float64 matrices exact: the numbers equal exprscope.correlate's
            values, notes = self._gene_values(source, positions, dtype=np.float64)
        return _pair_stats_reply(
            matrix=matrix,
            genes=(gene_x, gene_y),
            positions=positions,
            values=values,
            groupby=groupby,
            grouping=grouping,
            detected_only=detected_only,
            spearman=spearman,
            max_sample=max_sample,
            fingerprint=self.fingerprint(),
            notes=notes,
        )

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

    # Storage hooks: the out-of-core subclasses (outofcore.py) override these three
    # (``_gene_block``, ``_moments``, ``_execution``).

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

    def _gene_values(
        self, source: _Matrix, positions: np.ndarray, dtype: type = np.float32
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The object's cells × the matrix columns at ``positions`` as a dense column-major
        array of ``dtype``, and notes for the result (``warnings``, ``engine``)."""
        block, notes = self._gene_block(source, positions)
        if sparse.issparse(block):
            block = block.toarray(order="F")
        return np.asfortranarray(block, dtype=dtype), notes

    def _gene_block(self, source: _Matrix, positions: np.ndarray) -> tuple[Any, dict[str, Any]]:
        """The object's cells × the matrix columns at ``positions``, in the stored dtype: a
        numpy array, or a scipy CSC matrix when the matrix is sparse (never densified, so
        ``fetch`` can send the non-zeros); and notes for the result."""
        return _read_gene_block(source, positions, self.shape[0]), {"engine": "numpy"}

    def _moments(
        self,
        source: _Matrix,
        columns: np.ndarray,
        codes: np.ndarray,
        n_groups: int,
        expm1: bool,
    ) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
        """Per-group sums over the matrix columns at ``columns``: the positions (into
        ``columns``) of the genes without NaN, their sums (groups × kept genes, as
        :func:`._stats.chunk_moments`), and notes for the result."""
        data = _object_matrix(source)
        if n_groups * columns.size > MAX_GROUP_STATS_VALUES:
            # Too large unless genes with NaN leave enough out: find them first
            check_group_stats_size(n_groups, int((~columns_with_nan(data)[columns]).sum()))
        sums = group_sums(data, codes, n_groups, expm1, columns)
        kept = np.flatnonzero(~sums.pop("has_nan"))
        check_group_stats_size(n_groups, kept.size)
        if kept.size < columns.size:
            sums = {key: None if value is None else value[..., kept] for key, value in sums.items()}
        return kept, sums, {"engine": "numpy"}

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
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise ProtocolError(
                UNKNOWN_COLUMN,
                f"No obs column {', '.join(map(repr, unknown))}.",
                {"columns": unknown},
            )
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

    def _check_reply_size(
        self,
        n_genes: int,
        obs_columns: Mapping[str, pd.Series],
        embedding: np.ndarray | None,
        cell_ids: bool,
    ) -> None:
        """Refuse before reading data when the Arrow payload would exceed MAX_REPLY_BYTES."""
        bytes_per_cell = 4 * n_genes + 8 * len(obs_columns)
        bytes_per_cell += 0 if embedding is None else 4 * embedding.shape[1]
        bytes_per_cell += 20 if cell_ids else 0  # a typical barcode plus its offset
        estimate = bytes_per_cell * self.obj.n_obs
        if estimate > MAX_REPLY_BYTES:
            raise ProtocolError(
                TOO_LARGE,
                f"This fetch would send about {estimate / 2**20:,.0f} MiB "
                f"(limit {MAX_REPLY_BYTES / 2**20:,.0f} MiB); request fewer genes.",
                {"estimated_bytes": estimate, "max_bytes": MAX_REPLY_BYTES},
            )


# -- matrices ----------------------------------------------------------------------------------


def _positions(index: Any, length: int) -> np.ndarray | None:
    """A view index (slice, integer or boolean array) as positions; None when it selects all."""
    if isinstance(index, slice) and index == slice(None):
        return None
    return np.atleast_1d(np.arange(length)[index])


def _gene_positions(names: pd.Index, genes: Sequence[str]) -> np.ndarray:
    """Position of each requested gene in ``names``, −1 when absent."""
    if names.is_unique:
        return names.get_indexer(list(genes))
    # Duplicated gene names: each name reads its first column.
    first = np.flatnonzero(~names.duplicated())
    hits = names[first].get_indexer(list(genes))
    return np.where(hits >= 0, first[hits], -1)


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


def _too_many_groups(n_groups: int, what: str) -> ProtocolError:
    return ProtocolError(
        TOO_LARGE,
        f"{what} {n_groups:,} groups; group statistics are limited to {MAX_STAT_GROUPS:,}.",
        {"groups": int(n_groups), "max_groups": MAX_STAT_GROUPS},
    )


def _storage(data: Any) -> str:
    if isinstance(data, np.ndarray):
        return "dense"
    if sparse.issparse(data):
        return data.format
    anndata_abc = sys.modules.get("anndata.abc")
    if anndata_abc is not None and isinstance(data, anndata_abc.CSRDataset):
        return "backed-csr"
    if anndata_abc is not None and isinstance(data, anndata_abc.CSCDataset):
        return "backed-csc"
    if is_dask_array(data):
        return "dask"
    return type(data).__name__


def is_dask_array(data: Any) -> bool:
    # Only an imported dask can have made one: never import dask just to check.
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(data, dask_array.Array)


@dataclass(frozen=True)
class _Grouping:
    """Cells' groups for the statistics ops: codes index the non-empty groups (−1: no label)."""

    codes: np.ndarray
    counts: np.ndarray  # cells per non-empty group
    labels: list[list[str]]  # per non-empty group, one label per groupby column
    n_cells_total: int

    @property
    def n_groups(self) -> int:
        return len(self.labels)


def _grouping(obs_columns: Mapping[str, pd.Series]) -> _Grouping:
    """Groups of one column, or the crossing of two (the first outermost), non-empty ones
    only, in category order; ``too_large`` above MAX_STAT_GROUPS."""
    categoricals = {}
    for name, column in obs_columns.items():
        categorical = drop_unused_categories(_as_categorical(column))
        if len(categorical.categories) > MAX_STAT_GROUPS:
            raise _too_many_groups(len(categorical.categories), f"obs column {name!r} has")
        categoricals[name] = categorical
    names = list(obs_columns)
    codes, labels = group_codes(pd.DataFrame(categoricals), names)
    counts = np.bincount(codes[codes >= 0], minlength=len(labels))
    observed = np.flatnonzero(counts)
    if observed.size > MAX_STAT_GROUPS:
        raise _too_many_groups(observed.size, "the grouping has")
    # Renumber the cells' groups to the non-empty ones, keeping their order
    renumber = np.full(len(labels) + 1, -1)
    renumber[observed] = np.arange(observed.size)
    label_columns = [labels[name].to_numpy()[observed] for name in names]
    return _Grouping(
        codes=renumber[codes],  # code −1 picks the last entry, −1
        counts=counts[observed],
        labels=[[str(column[i]) for column in label_columns] for i in range(observed.size)],
        n_cells_total=len(codes),
    )


def _requested_columns(
    names: pd.Index, genes: Sequence[str] | None
) -> tuple[np.ndarray, list[str]]:
    """Matrix columns of the requested genes (all columns without a request), and the genes
    the matrix lacks."""
    if genes is None:
        return np.arange(len(names)), []
    positions = _gene_positions(names, genes)
    missing = [gene for gene, position in zip(genes, positions, strict=True) if position < 0]
    return positions[positions >= 0], missing


def _group_stats_reply(
    *,
    matrix: str,
    groupby: Sequence[str],
    grouping: _Grouping,
    genes: pd.Index,
    kept: np.ndarray,
    sums: dict[str, Any],
    expm1: bool,
    missing: list[str],
    requested: bool,
    log1p_base: float | None,
    fingerprint: str,
    notes: dict[str, Any],
) -> tuple[pa.Table, dict[str, Any]]:
    """The ``group_stats`` table and result; ``sums`` cover the ``kept`` genes only."""
    excluded = np.ones(len(genes), dtype=bool)
    excluded[kept] = False
    result: dict[str, Any] = {
        "matrix": matrix,
        "groupby": list(groupby),
        "groups": [
            {"labels": labels, "n": int(n)}
            for labels, n in zip(grouping.labels, grouping.counts, strict=True)
        ],
        "n_cells_total": grouping.n_cells_total,
        "n_genes": int(kept.size),
        "excluded_genes": _strings(genes[excluded]),
        "has_negative": bool(np.asarray(sums["has_negative"]).any()),
        "log1p_base": log1p_base,
        "expm1": expm1,
        "engine": notes.get("engine", "numpy"),
        "fingerprint": fingerprint,
    }
    if requested:
        result["missing"] = missing
    if notes.get("warnings"):
        result["warnings"] = notes["warnings"]
    return group_stats_table(_strings(genes[kept]), sums, expm1), result


def _pair_stats_reply(
    *,
    matrix: str,
    genes: tuple[str, str],
    positions: np.ndarray,
    values: np.ndarray,
    groupby: Sequence[str],
    grouping: _Grouping,
    detected_only: bool,
    spearman: str,
    max_sample: int,
    fingerprint: str,
    notes: dict[str, Any],
) -> tuple[pa.Table | None, dict[str, Any]]:
    """The ``pair_stats`` table and result; no table when a gene is missing (not in the
    matrix, or holding NaN)."""
    missing_reason = {
        gene: NOT_IN_MATRIX for gene, p in zip(genes, positions, strict=True) if p < 0
    }
    if not missing_reason:
        for i, gene in enumerate(genes):
            nan = np.isnan(values[:, i])
            if nan.any():
                missing_reason[gene] = ALL_NAN if nan.all() else HAS_NAN
    result: dict[str, Any] = {
        "matrix": matrix,
        "gene_x": genes[0],
        "gene_y": genes[1],
        "groupby": list(groupby),
        "groups": [
            {"labels": labels, "n": int(n)}
            for labels, n in zip(grouping.labels, grouping.counts, strict=True)
        ],
        "n_cells_total": grouping.n_cells_total,
        "detected_only": detected_only,
        "spearman": spearman,
        "max_sample": max_sample,
        "spearman_sampled": False,
        "missing": [gene for gene in dict.fromkeys(genes) if gene in missing_reason],
        "missing_reason": missing_reason,
        "engine": notes.get("engine", "numpy"),
        "fingerprint": fingerprint,
    }
    if notes.get("warnings"):
        result["warnings"] = notes["warnings"]
    if missing_reason:
        return None, result
    table, extra = pair_stats_table(
        values[:, 0],
        values[:, 1],
        grouping.codes,
        grouping.n_groups,
        detected_only=detected_only,
        spearman=spearman,
        max_sample=max_sample,
    )
    result.update(extra)
    return table, result


def _matrix_label(matrix_id: str) -> str:
    if matrix_id == "raw":
        return "raw.X"
    if matrix_id.startswith("layers/"):
        return f"layers[{matrix_id[len('layers/') :]!r}]"
    return matrix_id
