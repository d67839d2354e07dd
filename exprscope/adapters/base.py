"""The interface every data adapter implements, and the registry that picks one for an object.

An adapter wraps one in-kernel object (an AnnData today) and answers the comm protocol's
questions about it: what it holds (``describe``), a genes × cells subset as Arrow (``fetch``),
per-group sufficient statistics over all genes (``group_stats``), stored marker-gene results
(``stored_markers``) and a cheap token that changes when the object changes (``fingerprint``).
The comm service never touches the object directly, so supporting a new data type means adding
an adapter.
"""

from __future__ import annotations

import functools
import itertools
import weakref
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

if TYPE_CHECKING:
    from .fetch_payload import FetchTables

# Column names of the Arrow table that ``fetch`` returns (docs/protocol.md, "fetch").


def gene_column(gene: str) -> str:
    return f"gene:{gene}"


def obs_column(column: str) -> str:
    return f"obs:{column}"


def embedding_column(embedding: str, dim: int) -> str:
    return f"obsm:{embedding}:{dim}"


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

    @abstractmethod
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
        distinct obs column names."""

    @abstractmethod
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
    ) -> tuple[pa.Table, dict[str, Any]]:
        """Per-group sums and correlations of two genes (the ``pair_stats`` table and
        result); see :func:`exprscope.adapters._stats.pair_stats_table`."""

    @abstractmethod
    def stored_markers(
        self, groupby: str, n: int, key: str = DEFAULT_MARKERS_KEY
    ) -> tuple[pa.Table | None, dict[str, Any]]:
        """The top ``n`` genes per group of stored marker results for ``groupby``, and the
        ``stored_markers`` result; no table when none are available."""

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
