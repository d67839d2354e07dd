"""The ``fetch``, ``group_stats`` and ``pair_stats`` replies, written once for every adapter.

:class:`~.base.Adapter`'s ops call these; an adapter only reads its storage (the hooks
``_source``, ``_gene_names``, ``_gene_block``, ``_gene_values``, ``_moments``, …). Here: the
gene lookup, the cells' groups, and the Arrow tables and result dicts of docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..compute._matrix import drop_unused_categories
from ..kernel.protocol import TOO_LARGE, UNKNOWN_COLUMN, ProtocolError
from ._describe import _as_categorical, _obs_to_arrow, _strings
from ._stats import group_stats_table, pair_stats_table
from .base import CELL_ID_COLUMN, MAX_STAT_GROUPS, embedding_column, obs_column
from .fetch_payload import FetchTables, GeneColumns

if TYPE_CHECKING:
    from .base import Adapter

#: Values of ``missing_reason`` in the ``fetch`` and ``pair_stats`` results.
NOT_IN_MATRIX = "not_in_matrix"
ALL_NAN = "all_nan"
HAS_NAN = "has_nan"  # pair_stats only: some cells NaN (correlations would be undefined)


# -- genes ---------------------------------------------------------------------------------------


def gene_positions(names: pd.Index, genes: Sequence[str]) -> np.ndarray:
    """Position of each requested gene in ``names``, −1 when absent."""
    if names.is_unique:
        return names.get_indexer(list(genes))
    # Duplicated gene names: each name reads its first column.
    first = np.flatnonzero(~names.duplicated())
    hits = names[first].get_indexer(list(genes))
    return np.where(hits >= 0, first[hits], -1)


def requested_columns(names: pd.Index, genes: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    """Matrix columns of the requested genes (all columns without a request), and the genes
    the matrix lacks."""
    if genes is None:
        return np.arange(len(names)), []
    positions = gene_positions(names, genes)
    missing = [gene for gene, position in zip(genes, positions, strict=True) if position < 0]
    return positions[positions >= 0], missing


def check_obs_columns(names: Sequence[str], known: Collection[str]) -> None:
    """``unknown_column`` naming the requested obs columns the object lacks."""
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ProtocolError(
            UNKNOWN_COLUMN, f"No obs column {', '.join(map(repr, unknown))}.", {"columns": unknown}
        )


# -- groups --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grouping:
    """Cells' groups for the statistics ops: codes index the non-empty groups (−1: no label)."""

    codes: np.ndarray
    counts: np.ndarray  # cells per non-empty group
    labels: list[list[str]]  # per non-empty group, one label per groupby column
    n_cells_total: int

    @property
    def n_groups(self) -> int:
        return len(self.labels)

    def described(self) -> list[dict[str, Any]]:
        """The result's ``groups``."""
        return [
            {"labels": labels, "n": int(n)}
            for labels, n in zip(self.labels, self.counts, strict=True)
        ]


#: Crossed groupings up to this many label combinations are counted in a table; beyond (three
#: columns of many categories each) the cells' codes are sorted instead.
_COUNTED_GRID = 1 << 22


def grouping_of(obs_columns: Mapping[str, pd.Series]) -> Grouping:
    """Groups of one column or the crossing of two or three (the first outermost), non-empty
    ones only, in category order; ``too_large`` above MAX_STAT_GROUPS."""
    categoricals = []
    for name, column in obs_columns.items():
        categorical = drop_unused_categories(_as_categorical(column))
        if len(categorical.categories) > MAX_STAT_GROUPS:
            raise _too_many_groups(len(categorical.categories), f"obs column {name!r} has")
        categoricals.append(categorical)
    n_cells = len(categoricals[0])
    sizes = [len(c.categories) for c in categoricals]
    # Crossed codes, the first column outermost (as sc.get.aggregate); −1 without a label
    codes = np.zeros(n_cells, dtype=np.int64)
    unlabelled = np.zeros(n_cells, dtype=bool)
    for categorical, size in zip(categoricals, sizes, strict=True):
        codes = codes * size + categorical.codes
        unlabelled |= categorical.codes < 0
    codes[unlabelled] = -1
    n_combined = int(np.prod(sizes, dtype=np.int64))
    if n_combined <= _COUNTED_GRID:
        counts = np.bincount(codes[codes >= 0], minlength=n_combined)
        observed = np.flatnonzero(counts)
        counts = counts[observed]
    else:  # three large columns: a grid too big to count in, so sort the codes
        observed, counts = np.unique(codes[codes >= 0], return_counts=True)
    if observed.size > MAX_STAT_GROUPS:
        raise _too_many_groups(observed.size, "the grouping has")
    # Renumber the cells' groups to the non-empty ones, keeping their order
    if n_combined <= _COUNTED_GRID:
        renumber = np.full(n_combined + 1, -1)
        renumber[observed] = np.arange(observed.size)
        group = renumber[codes]  # code −1 picks the last entry, −1
    else:
        group = np.where(unlabelled, -1, np.searchsorted(observed, codes))
    positions = np.unravel_index(observed, sizes) if sizes else ()
    label_columns = [
        np.asarray(c.categories.astype(str))[p]
        for c, p in zip(categoricals, positions, strict=True)
    ]
    return Grouping(
        codes=group,
        counts=counts,
        labels=[[str(column[i]) for column in label_columns] for i in range(observed.size)],
        n_cells_total=n_cells,
    )


def _too_many_groups(n_groups: int, what: str) -> ProtocolError:
    return ProtocolError(
        TOO_LARGE,
        f"{what} {n_groups:,} groups; group statistics are limited to {MAX_STAT_GROUPS:,}.",
        {"groups": int(n_groups), "max_groups": MAX_STAT_GROUPS},
    )


# -- replies -------------------------------------------------------------------------------------


def fetch_reply(
    adapter: Adapter,
    matrix: str,
    genes: Sequence[str],
    obs: Sequence[str],
    embedding: str | None,
    cell_ids: bool,
) -> tuple[FetchTables, dict[str, Any]]:
    """:meth:`.base.Adapter.fetch`."""
    source = adapter._source(matrix)
    obs_columns = adapter._obs_columns(obs)
    coordinates = adapter._embedding(embedding) if embedding is not None else None
    positions = gene_positions(adapter._gene_names(source), genes)
    found = [gene for gene, position in zip(genes, positions, strict=True) if position >= 0]
    missing_reason = {
        gene: NOT_IN_MATRIX for gene, position in zip(genes, positions, strict=True) if position < 0
    }
    if adapter.max_fetch_bytes is not None:
        _check_fetch_size(adapter, len(found), len(obs_columns), coordinates, cell_ids)

    # Each gene travels dense or as its non-zeros, whichever is smaller (fetch_payload.py);
    # sparse storage is never densified beyond one column.
    block, notes = adapter._gene_block(source, positions[positions >= 0])
    gene_columns = GeneColumns(adapter.shape[0])
    gene_columns.add_block(found, block)
    # An all-NaN column is how a layer marks genes it does not hold (e.g. an integrated
    # assay that covers only a few thousand genes): report it, do not plot NaNs.
    for gene in gene_columns.all_nan:
        missing_reason[gene] = ALL_NAN
    columns: dict[str, pa.Array] = {}
    for name, column in obs_columns.items():
        columns[obs_column(name)] = _obs_to_arrow(column)
    if coordinates is not None:
        for dim in range(coordinates.shape[1]):
            columns[embedding_column(embedding, dim)] = pa.array(coordinates[:, dim])
    if cell_ids:
        columns[CELL_ID_COLUMN] = pa.array(adapter._cell_ids(), type=pa.utf8())

    missing = [gene for gene in genes if gene in missing_reason]
    result = {
        "fingerprint": adapter.fingerprint(),
        "n_obs": adapter.shape[0],
        "matrix": matrix,
        "genes": [gene for gene in found if gene not in missing_reason],
        "missing": missing,
        "missing_reason": {gene: missing_reason[gene] for gene in missing},
    }
    if notes.get("warnings"):
        result["warnings"] = notes["warnings"]
    return gene_columns.tables(columns), result


def _check_fetch_size(
    adapter: Adapter, n_genes: int, n_obs_columns: int, embedding: Any, cell_ids: bool
) -> None:
    """Refuse before reading data when the Arrow payload would exceed the adapter's limit."""
    bytes_per_cell = 4 * n_genes + 8 * n_obs_columns
    bytes_per_cell += 0 if embedding is None else 4 * embedding.shape[1]
    bytes_per_cell += 20 if cell_ids else 0  # a typical barcode plus its offset
    estimate = bytes_per_cell * adapter.shape[0]
    limit = adapter.max_fetch_bytes
    if estimate > limit:
        raise ProtocolError(
            TOO_LARGE,
            f"This fetch would send about {estimate / 2**20:,.0f} MiB "
            f"(limit {limit / 2**20:,.0f} MiB); request fewer genes.",
            {"estimated_bytes": estimate, "max_bytes": limit},
        )


def group_stats_reply(
    adapter: Adapter,
    matrix: str,
    groupby: Sequence[str],
    genes: Sequence[str] | None,
    expm1: bool,
) -> tuple[pa.Table, dict[str, Any]]:
    """:meth:`.base.Adapter.group_stats`."""
    source = adapter._source(matrix)
    grouping = grouping_of(adapter._obs_columns(groupby))
    names = adapter._gene_names(source)
    columns, missing = requested_columns(names, genes)
    # ``sums`` cover the ``kept`` genes only (those without NaN)
    kept, sums, notes = adapter._moments(source, columns, grouping, expm1)
    names = names[columns]
    excluded = np.ones(len(names), dtype=bool)
    excluded[kept] = False
    result: dict[str, Any] = {
        "matrix": matrix,
        "groupby": list(groupby),
        "groups": grouping.described(),
        "n_cells_total": grouping.n_cells_total,
        "n_genes": int(kept.size),
        "excluded_genes": _strings(names[excluded]),
        "has_negative": bool(np.asarray(sums["has_negative"]).any()),
        "log1p_base": adapter._stored_log1p_base(),
        "expm1": expm1,
        "engine": notes.get("engine", adapter.engine),
        "fingerprint": adapter.fingerprint(),
    }
    if genes is not None:
        result["missing"] = missing
    if notes.get("warnings"):
        result["warnings"] = notes["warnings"]
    return group_stats_table(_strings(names[kept]), sums, expm1), result


def pair_stats_reply(
    adapter: Adapter,
    matrix: str,
    genes: tuple[str, str],
    groupby: Sequence[str],
    options: dict[str, Any],
) -> tuple[pa.Table | None, dict[str, Any]]:
    """:meth:`.base.Adapter.pair_stats`; ``options``: ``detected_only``, ``spearman`` and
    ``max_sample``. No table when a gene is missing (not in the matrix, or holding NaN)."""
    source = adapter._source(matrix)
    grouping = grouping_of(adapter._obs_columns(groupby))
    positions = gene_positions(adapter._gene_names(source), genes)
    values, notes = np.empty((adapter.shape[0], 0)), {}
    if (positions >= 0).all():
        # float64 reads keep float64 matrices exact: the numbers equal exprscope.correlate's
        values, notes = adapter._gene_values(source, positions, np.float64)
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
        "groups": grouping.described(),
        "n_cells_total": grouping.n_cells_total,
        **options,
        "spearman_sampled": False,
        "missing": [gene for gene in dict.fromkeys(genes) if gene in missing_reason],
        "missing_reason": missing_reason,
        "engine": notes.get("engine", adapter.engine),
        "fingerprint": adapter.fingerprint(),
    }
    if notes.get("warnings"):
        result["warnings"] = notes["warnings"]
    if missing_reason:
        return None, result
    table, extra = pair_stats_table(
        values[:, 0], values[:, 1], grouping.codes, grouping.n_groups, **options
    )
    result.update(extra)
    return table, result
