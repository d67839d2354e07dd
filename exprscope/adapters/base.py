"""The interface every data adapter implements, and the registry that picks one for an object.

An adapter wraps one in-kernel object (an AnnData today) and answers the comm protocol's
questions about it: what it holds (``describe``), a genes × cells subset as Arrow (``fetch``),
per-group sufficient statistics over all genes (``group_stats``), stored marker-gene results
(``stored_markers``) and a cheap token that changes when the object changes (``fingerprint``).
The comm service never touches the object directly, so supporting a new data type means adding
an adapter. ``fetch``, ``group_stats`` and ``pair_stats`` are written once (:mod:`._replies`);
an adapter implements the reading hooks they call (``_source``, ``_gene_block``, ``_moments``…).
"""

from __future__ import annotations

import functools
import itertools
import sys
import weakref
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse

if TYPE_CHECKING:
    from ._replies import Grouping
    from .fetch_payload import FetchTables

    #: What ``_moments`` returns: kept gene positions, their sums, notes for the result.
    GeneSums = tuple[np.ndarray, dict[str, Any], dict[str, Any]]

# Column names of the Arrow table that ``fetch`` returns (docs/protocol.md, "fetch").


def gene_column(gene: str) -> str:
    return f"gene:{gene}"


def obs_column(column: str) -> str:
    return f"obs:{column}"


def embedding_column(embedding: str, dim: int) -> str:
    return f"obsm:{embedding}:{dim}"


#: ``fetch`` sends this many leading dimensions of an embedding (the plots are 2-D).
EMBEDDING_DIMS = 2


CELL_ID_COLUMN = "cell_id"

# Column names of the Arrow table that ``group_stats`` returns (docs/protocol.md,
# "group_stats"); ``i`` is the group's position in the result's ``groups``.


def group_stat_column(stat: str, group: int) -> str:
    return f"{stat}:{group}"


GROUP_STATS = ("sum", "sumsq", "nnz")
#: With ``expm1``: Σ expm1(x) per group (Seurat's linear-space mean is log1p of its mean).
SUMEXPM1_STAT = "sumexpm1"
TOTAL_SUM_COLUMN = "total_sum"
TOTAL_SUMSQ_COLUMN = "total_sumsq"

#: ``group_stats`` limits: at most this many non-empty groups, and at most this many
#: groups × genes values per statistic (3 statistics × 8 bytes each: ~96 MB of Arrow).
MAX_STAT_GROUPS = 1000
MAX_GROUP_STATS_VALUES = 4_000_000

#: ``stored_markers``: the uns key read by default and the largest ``n``.
DEFAULT_MARKERS_KEY = "rank_genes_groups"
MAX_STORED_MARKERS = 200


class Adapter(ABC):
    """Reads one kind of object for the comm service.

    Methods raise :class:`exprscope.kernel.protocol.ProtocolError` for anything the user can
    fix (unknown matrix or column, unsupported storage); other exceptions are bugs.
    """

    #: The ``type`` reported to the frontend, e.g. ``"AnnData"``.
    type_name: ClassVar[str]

    def __init__(self, obj: Any):
        self.obj = obj

    @classmethod
    @abstractmethod
    def accepts(cls, obj: Any) -> bool:
        """Whether this adapter can read ``obj``. Must be cheap: it runs for every object in
        the user namespace on each ``list``, and must not import heavy libraries."""

    @property
    @abstractmethod
    def shape(self) -> tuple[int, int]:
        """``(n_obs, n_vars)``: cells × genes."""

    @abstractmethod
    def fingerprint(self) -> str:
        """A cheap hex token that changes when the object changes in a way that invalidates
        data the frontend has cached."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The ``describe`` result without ``name`` (docs/protocol.md)."""

    @abstractmethod
    def stored_markers(
        self, groupby: str, n: int, key: str = DEFAULT_MARKERS_KEY
    ) -> tuple[pa.Table | None, dict[str, Any]]:
        """The top ``n`` genes per group of stored marker results for ``groupby``, and the
        ``stored_markers`` result; no table when none are available."""

    # -- the ops: written once (_replies.py) over the reading hooks below -----------------------
    # (_replies is imported in each op: it builds on this module's column names)

    def fetch(
        self,
        matrix: str,
        genes: Sequence[str],
        obs: Sequence[str] = (),
        embedding: str | None = None,
        cell_ids: bool = False,
    ) -> tuple[FetchTables, dict[str, Any]]:
        """Cells × (genes, obs columns, embedding) as the reply's Arrow tables (each gene dense
        or sparse, see :mod:`.fetch_payload`), and the ``fetch`` result.

        ``genes`` and ``obs`` arrive without duplicates. Genes the matrix lacks are reported
        in the result, never an error.
        """
        from ._replies import fetch_reply

        return fetch_reply(self, matrix, genes, obs, embedding, cell_ids)

    def group_stats(
        self,
        matrix: str,
        groupby: Sequence[str],
        genes: Sequence[str] | None = None,
        expm1: bool = False,
    ) -> tuple[pa.Table, dict[str, Any]]:
        """Per-(crossed) group n, Σx, Σx², #(x > 0) (and Σexpm1(x)) over every gene of a
        matrix, or over ``genes`` (without duplicates; unknown ones are reported, never an
        error): the Arrow table and the ``group_stats`` result. ``groupby`` holds one or two
        distinct obs column names.

        Genes whose column holds a NaN (e.g. outside an integrated layer) are left out and
        listed in ``excluded_genes``; the totals run over all cells, those without a group
        label included.
        """
        from ._replies import group_stats_reply

        return group_stats_reply(self, matrix, groupby, genes, expm1)

    def pair_stats(
        self,
        matrix: str,
        gene_x: str,
        gene_y: str,
        groupby: Sequence[str],
        *,
        detected_only: bool = False,
        spearman: str = "exact",
        max_sample: int = 50_000,
    ) -> tuple[pa.Table | None, dict[str, Any]]:
        """Per-group sums and correlations of two genes (the ``pair_stats`` table and
        result; see :func:`exprscope.adapters._stats.pair_stats_table`); no table when a
        gene is missing from the matrix (``missing``, as in ``fetch``)."""
        from ._replies import pair_stats_reply

        options = {"detected_only": detected_only, "spearman": spearman, "max_sample": max_sample}
        return pair_stats_reply(self, matrix, (gene_x, gene_y), groupby, options)

    # -- reading hooks -----------------------------------------------------------------------

    #: The ``engine`` of a reply whose reads name none.
    engine: ClassVar[str] = "numpy"
    #: The largest ``fetch`` reply, estimated before reading data (None: not limited).
    max_fetch_bytes: ClassVar[int | None] = None

    @abstractmethod
    def _source(self, matrix: str) -> Any:
        """The matrix with id ``matrix``, in the form the other hooks take; ``unknown_matrix``
        for an id the object lacks."""

    @abstractmethod
    def _gene_names(self, source: Any) -> pd.Index:
        """The source's gene names, one per column."""

    @abstractmethod
    def _obs_columns(self, names: Sequence[str]) -> dict[str, pd.Series]:
        """The named obs columns, one value per cell; ``unknown_column`` for others."""

    @abstractmethod
    def _embedding(self, name: str) -> np.ndarray:
        """The first ``EMBEDDING_DIMS`` dimensions of an embedding, float32."""

    @abstractmethod
    def _cell_ids(self) -> list[str]:
        """The cells' names (the ``cell_id`` column)."""

    @abstractmethod
    def _gene_block(self, source: Any, positions: np.ndarray) -> tuple[Any, dict[str, Any]]:
        """The cells × the columns at ``positions``, in the stored dtype: a numpy array, or a
        scipy CSC matrix when the matrix is sparse (never densified, so ``fetch`` can send the
        non-zeros); and notes for the result (``warnings``, ``engine``)."""

    def _gene_values(
        self, source: Any, positions: np.ndarray, dtype: type = np.float32
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The cells × the columns at ``positions`` as a dense column-major array of
        ``dtype``, and notes for the result."""
        block, notes = self._gene_block(source, positions)
        if sparse.issparse(block):
            block = block.toarray(order="F")
        return np.asfortranarray(block, dtype=dtype), notes

    @abstractmethod
    def _moments(
        self, source: Any, columns: np.ndarray, grouping: Grouping, expm1: bool
    ) -> GeneSums:
        """Per-group sums over the source's columns at ``columns``: the positions (into
        ``columns``) of the genes without NaN, their sums (groups × kept genes, as
        :func:`._stats.chunk_moments`), and notes for the result."""

    def _stored_log1p_base(self) -> float | None:
        """The base of the object's log1p transform, if it records one."""
        return None

    def summary(self) -> dict[str, Any]:
        """One entry of the ``list`` result, without ``name``."""
        n_obs, n_vars = self.shape
        return {
            "type": self.type_name,
            "n_obs": n_obs,
            "n_vars": n_vars,
            "fingerprint": self.fingerprint(),
        }


_ADAPTERS: list[type[Adapter]] = []

_serials: dict[int, tuple[weakref.ref, int]] = {}
_next_serial = itertools.count()


def identity_token(obj: Any) -> str:
    """A token for ``obj`` that no other object ever gets, for use in fingerprints.

    ``id()`` alone is not enough: CPython reuses an address as soon as its object is freed, so
    after ``adata.X = adata.X * 2`` twice the new X often has the id of the first one, and a
    fingerprint built from ids would return to an old value (serving stale cached data).
    Objects that cannot be weakly referenced (dict, None) fall back to their id.
    """
    key = id(obj)
    entry = _serials.get(key)
    if entry is not None and entry[0]() is obj:
        return f"s{entry[1]}"
    try:
        ref = weakref.ref(obj, functools.partial(_forget_serial, key))
    except TypeError:
        return f"i{key}"
    serial = next(_next_serial)
    _serials[key] = (ref, serial)
    return f"s{serial}"


def _forget_serial(key: int, ref: weakref.ref) -> None:
    # The id may already belong to a newer object: only drop our own entry.
    entry = _serials.get(key)
    if entry is not None and entry[0] is ref:
        del _serials[key]


def is_imported_instance(obj: Any, module: str, class_name: str) -> bool:
    """Whether ``obj`` is a ``module.class_name``, without importing ``module``: an instance
    exists only if the user imported it, and checks that run for every object must stay cheap."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(obj, getattr(loaded, class_name))


def register_adapter(adapter: type[Adapter]) -> type[Adapter]:
    """Class decorator: make ``adapter_for`` consider this adapter.

    An adapter that refines a registered one (a subclass, e.g. backed AnnData of AnnData) is
    tried before it, whatever the import order.
    """
    for position, registered in enumerate(_ADAPTERS):
        if issubclass(adapter, registered):
            _ADAPTERS.insert(position, adapter)
            return adapter
    _ADAPTERS.append(adapter)
    return adapter


def adapter_for(obj: Any) -> Adapter | None:
    """The adapter that reads ``obj``, or None when no adapter supports it."""
    for adapter in _ADAPTERS:
        if adapter.accepts(obj):
            return adapter(obj)
    return None
