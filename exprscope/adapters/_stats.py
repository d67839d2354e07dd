"""Per-group statistics shared by the adapters: the ``group_stats`` and ``pair_stats`` Arrow
tables, and sums accumulated over chunks of a matrix (backed, Dask, TileDB-SOMA).

In-memory and chunked sums both come from :func:`group_sums` (one ``np.bincount`` pass over
the stored values, squares rounded as :func:`exprscope.compute.aggregate.group_moments` does);
chunks are added up in float64, so only the summation order differs between the paths
(relative differences ~1e-15).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import sparse

from ..compute._matrix import check_supported
from ..compute.correlation import (
    RankOrder,
    _rank_correlation,
    _undefined_reason,
    correlation_p_value,
    fisher_interval,
    pearson,
)
from ..kernel.protocol import TOO_LARGE, ProtocolError
from .base import (
    GROUP_STATS,
    MAX_GROUP_STATS_VALUES,
    SUMEXPM1_STAT,
    TOTAL_SUM_COLUMN,
    TOTAL_SUMSQ_COLUMN,
    group_stat_column,
)

#: ``pair_stats``: Spearman modes and the default sample size per group for ``"sample"``.
SPEARMAN_EXACT, SPEARMAN_SAMPLE = "exact", "sample"
DEFAULT_MAX_SAMPLE = 50_000
MIN_SAMPLE = 10  # a smaller sample says nothing about ρ
#: Seed of the per-group Spearman samples (fixed: the same request gives the same numbers).
SAMPLE_SEED = 0


def check_group_stats_size(n_groups: int, n_genes: int) -> None:
    if n_groups * n_genes > MAX_GROUP_STATS_VALUES:
        raise ProtocolError(
            TOO_LARGE,
            f"{n_groups:,} groups × {n_genes:,} genes is more statistics than one "
            f"reply carries ({MAX_GROUP_STATS_VALUES:,} group × gene values); group by "
            "fewer categories.",
            {"groups": int(n_groups), "genes": int(n_genes), "max_values": MAX_GROUP_STATS_VALUES},
        )


# -- chunked sums --------------------------------------------------------------------------------


def chunk_moments(block: Any, codes: np.ndarray, n_groups: int, expm1: bool) -> dict[str, Any]:
    """Sums of one chunk of cells × genes (numpy or scipy sparse), as plain arrays so that the
    result travels cheaply between Dask workers. ``codes`` are the chunk's cells' groups, in
    any integer type (the smallest that holds them travels in the graph; widened here)."""
    check_supported(block)
    return group_sums(block, np.asarray(codes, dtype=np.int64), n_groups, expm1)


def add_moments(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two chunks' sums over the same genes, added (flags combined with or)."""
    return {
        key: (
            None
            if a[key] is None
            else (a[key] | b[key] if key in ("has_negative", "has_nan") else a[key] + b[key])
        )
        for key in a
    }


def concat_moments(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Sums over consecutive blocks of genes, joined along the genes."""
    return {
        key: None
        if parts[0][key] is None
        else np.concatenate([part[key] for part in parts], axis=-1)
        for key in parts[0]
    }


def without_nan_genes(sums: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """The positions of the genes whose sums saw no NaN, and the sums of those genes only
    (``has_nan`` dropped)."""
    sums = dict(sums)
    kept = np.flatnonzero(~sums.pop("has_nan"))
    return kept, {key: None if value is None else value[..., kept] for key, value in sums.items()}


@dataclass
class MomentsAccumulator:
    """Adds up :func:`chunk_moments` of tiles (a range of cells × a range of genes)."""

    n_groups: int
    n_genes: int
    expm1: bool
    sums: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        shape = (self.n_groups, self.n_genes)
        self.sums = {
            "sum": np.zeros(shape),
            "sum_sq": np.zeros(shape),
            "nnz": np.zeros(shape),
            "sum_expm1": np.zeros(shape) if self.expm1 else None,
            "total_sum": np.zeros(self.n_genes),
            "total_sum_sq": np.zeros(self.n_genes),
            "has_negative": np.zeros(self.n_genes, dtype=bool),
            "has_nan": np.zeros(self.n_genes, dtype=bool),
        }

    def add(self, block: Any, codes: np.ndarray, genes: slice = slice(None)) -> None:
        self.add_sums(chunk_moments(block, codes, self.n_groups, self.expm1), genes)

    def add_sums(self, sums: dict[str, Any], genes: slice = slice(None)) -> None:
        for key, value in sums.items():
            if value is None:
                continue
            target = self.sums[key]
            if key in ("has_negative", "has_nan"):
                target[..., genes] |= value
            else:
                target[..., genes] += value


# -- fast sums -----------------------------------------------------------------------------------

#: Stored values handled per step of :func:`group_sums` (sparse: non-zeros, dense: entries). The
#: temporaries of one step take ~30 bytes per value (~130 MB); ``SUM_THREADS`` steps run at once.
BLOCK_VALUES = 1 << 22
#: Threads of :func:`group_sums` (numpy's casts, gathers and ``bincount`` release the GIL).
SUM_THREADS = max(1, min(2, os.cpu_count() or 1))

_STATS = ("sum", "sum_sq", "nnz", "sum_expm1")


def group_sums(
    data: Any, codes: np.ndarray, n_groups: int, expm1: bool, columns: np.ndarray | None = None
) -> dict[str, Any]:
    """Σx, Σx², #(x > 0) (and Σexpm1(x)) per group × gene, the totals over all cells (code −1
    included) and per-gene flags ``has_negative``, ``has_nan``, of a numpy array or scipy
    sparse matrix, over the matrix columns at ``columns`` (all by default, repeats allowed).

    The numbers of :func:`exprscope.compute.aggregate.group_moments` (squares of float32
    values formed in float32, sums in float64) up to summation order, in one pass over the
    stored values, block by block (~``BLOCK_VALUES`` each, never a whole-matrix temporary):
    each stored value gets a bin, group × gene, and ``np.bincount`` sums the bins. Cells
    without a group (code −1) fill one extra bin per gene; the totals add up all the bins.
    """
    codes = np.asarray(codes)
    n_cells, n_columns = data.shape
    if codes.shape != (n_cells,):
        raise ValueError(f"{codes.shape[0]} group codes for {n_cells} cells.")
    if codes.size and codes.max() >= n_groups:
        raise ValueError(f"Group code {codes.max()} out of range for {n_groups} groups.")
    if columns is not None:
        columns = np.asarray(columns, dtype=np.intp)
        if columns.size == n_columns and (columns == np.arange(n_columns)).all():
            columns = None
    if sparse.issparse(data) and data.format not in ("csr", "csc"):
        data = data.tocsr()
    if columns is not None:
        # Sorted distinct columns, then each requested column picks its own
        unique, inverse = np.unique(columns, return_inverse=True)
        if sparse.issparse(data) and data.format == "csr":
            sums = _group_sums(data, codes, n_groups, expm1, unique)
        else:
            sums = _group_sums(_columns_of(data, unique), codes, n_groups, expm1, None)
        return {key: None if value is None else value[..., inverse] for key, value in sums.items()}
    return _group_sums(data, codes, n_groups, expm1, None)


def _group_sums(
    data: Any, codes: np.ndarray, n_groups: int, expm1: bool, columns: np.ndarray | None
) -> dict[str, Any]:
    n_bins = n_groups + 1  # the last bin: cells without a group
    cell_bins = np.where(codes < 0, n_groups, codes).astype(np.min_scalar_type(n_bins))
    n_columns = data.shape[1] if columns is None else columns.size
    sums = {key: np.zeros((n_bins, n_columns)) for key in _STATS}
    if not expm1:
        sums["sum_expm1"] = None
    flags = {key: np.zeros(n_columns, dtype=bool) for key in ("has_negative", "has_nan")}
    if sparse.issparse(data) and data.format == "csc":
        _csc_sums(data, cell_bins, expm1, sums, flags)
    elif sparse.issparse(data):
        _csr_sums(data, cell_bins, expm1, sums, flags, columns)
    else:
        _dense_sums(data, cell_bins, expm1, sums, flags)
    return {
        **{
            key: None if s is None else np.ascontiguousarray(s[:n_groups])
            for key, s in sums.items()
        },
        "total_sum": sums["sum"].sum(axis=0),
        "total_sum_sq": sums["sum_sq"].sum(axis=0),
        **flags,
    }


def _columns_of(data: Any, columns: np.ndarray) -> Any:
    """A CSC or dense matrix restricted to the (sorted, distinct) ``columns``."""
    if sparse.issparse(data):
        return data[:, columns]  # CSC: copies those columns' non-zeros only
    return _DenseColumns(data, columns)


@dataclass
class _DenseColumns:
    """Lazy column subset of a dense array (read per block of genes, never copied whole)."""

    data: np.ndarray
    columns: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (self.data.shape[0], self.columns.size)

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        return np.asarray(self.data[:, self.columns[key[1]]])


def _square(values: np.ndarray) -> np.ndarray:
    """x² as scanpy forms it (:func:`exprscope.compute.aggregate._square`): in float32 for
    float32 values, then summed in float64."""
    if values.dtype == np.float32:
        return np.square(values)
    return np.square(values.astype(np.float64))


def _bin_sums(
    values: np.ndarray, bins: np.ndarray, size: int, expm1: bool
) -> tuple[list[np.ndarray | None], np.ndarray, np.ndarray]:
    """Per bin (0 … size−1) the sums of ``values``, of their squares, the count of values > 0
    (and the sum of expm1), with the bins of the negative and of the NaN values."""
    sums: list[np.ndarray | None] = [
        np.bincount(bins, weights=values, minlength=size),
        np.bincount(bins, weights=_square(values), minlength=size),
    ]
    # #(x > 0): every stored value, less the few (stored zeros, negatives, NaN) that are not
    not_positive = ~(values > 0)
    counts = np.bincount(bins, minlength=size)
    negative = nan = bins[:0]
    if not_positive.any():
        where = bins[not_positive]
        counts -= np.bincount(where, minlength=size)
        rest = values[not_positive]
        negative, nan = where[rest < 0], where[np.isnan(rest)]
    sums.append(counts)
    sums.append(
        np.bincount(bins, weights=np.expm1(values.astype(np.float64)), minlength=size)
        if expm1
        else None
    )
    return sums, negative, nan


def _blocks_by_count(indptr: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Consecutive ranges of rows of a compressed matrix (columns of CSC) holding about
    ``limit`` stored values each, at least one row per range."""
    n = indptr.size - 1
    bounds = [0]
    while bounds[-1] < n:
        start = bounds[-1]
        stop = int(np.searchsorted(indptr, indptr[start] + limit, side="right")) - 1
        bounds.append(min(max(stop, start + 1), n))
    return list(itertools.pairwise(bounds))


def _in_threads(function: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
    """``function`` of each item, in order, on ``SUM_THREADS`` threads; at most that many
    results are held at once (each may be large)."""
    if SUM_THREADS < 2 or len(items) < 2:
        yield from map(function, items)
        return
    with ThreadPoolExecutor(SUM_THREADS) as pool:
        for start in range(0, len(items), SUM_THREADS):
            yield from pool.map(function, items[start : start + SUM_THREADS])


def _csc_sums(
    data: Any, cell_bins: np.ndarray, expm1: bool, sums: dict[str, Any], flags: dict[str, Any]
) -> None:
    """CSC, per block of genes: the bin of a non-zero is (gene − first) · bins + its cell's."""
    indptr, indices, values = data.indptr, data.indices, data.data
    n_bins = sums["sum"].shape[0]

    def block(genes: tuple[int, int]) -> Any:
        start, stop = genes
        lo, hi = int(indptr[start]), int(indptr[stop])
        bins = np.repeat(
            np.arange(0, (stop - start) * n_bins, n_bins, dtype=np.intp),
            np.diff(indptr[start : stop + 1]),
        )
        bins += cell_bins[indices[lo:hi]]
        return _bin_sums(values[lo:hi], bins, (stop - start) * n_bins, expm1)

    blocks = _blocks_by_count(indptr, BLOCK_VALUES)
    for (start, stop), (block_sums, negative, nan) in zip(
        blocks, _in_threads(block, blocks), strict=True
    ):
        for key, value in zip(_STATS, block_sums, strict=True):
            if value is not None:
                sums[key][:, start:stop] = value.reshape(stop - start, n_bins).T
        flags["has_negative"][start + negative // n_bins] = True
        flags["has_nan"][start + nan // n_bins] = True


def _csr_sums(
    data: Any,
    cell_bins: np.ndarray,
    expm1: bool,
    sums: dict[str, Any],
    flags: dict[str, Any],
    columns: np.ndarray | None,
) -> None:
    """CSR, per block of cells: the bin of a non-zero is its cell's bin · genes + gene. With
    ``columns`` (sorted, distinct), only the non-zeros in those columns count."""
    indptr, indices, values = data.indptr, data.indices, data.data
    n_bins, n_columns = sums["sum"].shape
    position = None
    if columns is not None:
        # Signed, to hold -1 ("not requested"); min_scalar_type(-0) would be unsigned.
        position = np.full(data.shape[1], -1, dtype=np.min_scalar_type(-max(n_columns, 1)))
        position[columns] = np.arange(n_columns)

    def block(cells: tuple[int, int]) -> Any:
        start, stop = cells
        lo, hi = int(indptr[start]), int(indptr[stop])
        row_bins = cell_bins[start:stop].astype(np.intp) * n_columns
        if position is None:
            bins = np.repeat(row_bins, np.diff(indptr[start : stop + 1]))
            bins += indices[lo:hi]
            block_values = values[lo:hi]
        else:
            column = position[indices[lo:hi]]
            picked = np.flatnonzero(column >= 0)
            rows = np.searchsorted(indptr[start + 1 : stop + 1], picked + lo, side="right")
            bins = row_bins[rows]
            bins += column[picked]
            block_values = values[lo:hi][picked]
        return _bin_sums(block_values, bins, n_bins * n_columns, expm1)

    flat = {key: None if s is None else s.reshape(-1) for key, s in sums.items()}
    for block_sums, negative, nan in _in_threads(block, _blocks_by_count(indptr, BLOCK_VALUES)):
        for key, value in zip(_STATS, block_sums, strict=True):
            if value is not None:
                flat[key] += value
        flags["has_negative"][negative % n_columns] = True
        flags["has_nan"][nan % n_columns] = True


def _dense_sums(
    data: Any, cell_bins: np.ndarray, expm1: bool, sums: dict[str, Any], flags: dict[str, Any]
) -> None:
    """Dense, per block of genes: an indicator product, bins × cells @ f(block)."""
    n_cells, n_columns = data.shape
    n_bins = sums["sum"].shape[0]
    indicator = sparse.csr_matrix(
        (np.ones(n_cells), (cell_bins, np.arange(n_cells))), shape=(n_bins, n_cells)
    )
    width = max(1, BLOCK_VALUES // max(n_cells, 1))

    def block(start: int) -> tuple[slice, list[np.ndarray | None], np.ndarray, np.ndarray]:
        x = np.asarray(data[:, start : start + width])
        x64 = x.astype(np.float64)
        products: list[np.ndarray | None] = [
            indicator @ x64,
            indicator @ _square(x).astype(np.float64),
            indicator @ (x > 0).astype(np.float64),
            indicator @ np.expm1(x64) if expm1 else None,
        ]
        genes = slice(start, start + x.shape[1])
        if not x.size:
            return genes, products, np.zeros(x.shape[1], bool), np.zeros(x.shape[1], bool)
        return genes, products, x.min(axis=0) < 0, np.isnan(x).any(axis=0)

    for genes, products, negative, nan in _in_threads(block, range(0, n_columns, width)):
        for key, value in zip(_STATS, products, strict=True):
            if value is not None:
                sums[key][:, genes] = value
        flags["has_negative"][genes] = negative
        flags["has_nan"][genes] = nan


# -- tables --------------------------------------------------------------------------------------


def group_stats_table(genes: Sequence[str], sums: dict[str, Any], expm1: bool) -> pa.Table:
    """The ``group_stats`` payload: ``gene``, then per group ``sum:i``, ``sumsq:i``, ``nnz:i``
    (and ``sumexpm1:i``), then ``total_sum``, ``total_sumsq``. ``sums`` are groups × genes."""
    columns: dict[str, pa.Array] = {"gene": pa.array(list(genes), type=pa.utf8())}
    stats = list(zip(GROUP_STATS, (sums["sum"], sums["sum_sq"], sums["nnz"]), strict=True))
    if expm1:
        stats.append((SUMEXPM1_STAT, sums["sum_expm1"]))
    for i in range(sums["sum"].shape[0]):
        for stat, values in stats:
            columns[group_stat_column(stat, i)] = pa.array(values[i], type=pa.float64())
    columns[TOTAL_SUM_COLUMN] = pa.array(sums["total_sum"], type=pa.float64())
    columns[TOTAL_SUMSQ_COLUMN] = pa.array(sums["total_sum_sq"], type=pa.float64())
    return pa.table(columns)


def pair_stats_table(
    x: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    *,
    detected_only: bool = False,
    spearman: str = SPEARMAN_EXACT,
    max_sample: int = DEFAULT_MAX_SAMPLE,
) -> tuple[pa.Table, dict[str, Any]]:
    """Per-group sums and correlations of two genes (the ``pair_stats`` payload).

    The formulas are :mod:`exprscope.compute.correlation`'s, applied to the same float64
    values in the same order as :func:`exprscope.correlate`, so r and ρ equal its numbers
    exactly. Sums run over the cells used (with ``detected_only``, those where both genes
    are > 0); Σx² etc. are exact in float64 for float32 data. With ``spearman="sample"``, ρ
    of a group with more than ``max_sample`` cells is computed on a seeded random sample of
    ``max_sample`` of them (``spearman_n``); Pearson and the sums always use every cell.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    codes = np.asarray(codes)
    # Cells of each group, in cell order (a stable sort keeps it)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
    rows: dict[str, list[Any]] = {
        name: []
        for name in (
            "n_cells",
            "n",
            "sum_x",
            "sum_y",
            "sumsq_x",
            "sumsq_y",
            "sum_xy",
            "n_both_positive",
            "pearson_r",
            "pearson_ci_low",
            "pearson_ci_high",
            "pearson_p",
            "spearman_rho",
            "spearman_p",
            "spearman_n",
            "reason",
        )
    }
    sampled = False
    for g in range(n_groups):
        cells = order[bounds[g] : bounds[g + 1]]
        gx, gy = x[cells], y[cells]
        both = (gx > 0) & (gy > 0)
        rows["n_cells"].append(cells.size)
        rows["n_both_positive"].append(int(both.sum()))
        if detected_only:
            gx, gy = gx[both], gy[both]
        n = gx.size
        rows["n"].append(n)
        for name, values in (
            ("sum_x", gx),
            ("sum_y", gy),
            ("sumsq_x", gx * gx),
            ("sumsq_y", gy * gy),
            ("sum_xy", gx * gy),
        ):
            rows[name].append(float(values.sum()))
        reason = _undefined_reason(gx, gy)
        r = rho = np.nan
        ci = (np.nan, np.nan)
        spearman_n = n
        if reason is None:
            r = pearson(gx, gy)
            ci = fisher_interval(r, n)
            sx, sy = gx, gy
            if spearman == SPEARMAN_SAMPLE and n > max_sample:
                rng = np.random.default_rng([SAMPLE_SEED, g])
                pick = np.sort(rng.choice(n, max_sample, replace=False))
                sx, sy = gx[pick], gy[pick]
                spearman_n, sampled = max_sample, True
            if _undefined_reason(sx, sy) is None:
                rho = _rank_correlation(RankOrder(sx), RankOrder(sy), None)
        rows["reason"].append(reason)
        rows["pearson_r"].append(r)
        rows["pearson_ci_low"].append(ci[0])
        rows["pearson_ci_high"].append(ci[1])
        rows["pearson_p"].append(correlation_p_value(r, n))
        rows["spearman_rho"].append(rho)
        rows["spearman_p"].append(correlation_p_value(rho, spearman_n))
        rows["spearman_n"].append(spearman_n)
    int_columns = ("n_cells", "n", "n_both_positive", "spearman_n")
    table = pa.table(
        {
            "group": pa.array(np.arange(n_groups, dtype=np.int32)),
            **{
                name: pa.array(
                    np.asarray(values, dtype=np.int64 if name in int_columns else np.float64)
                )
                for name, values in rows.items()
                if name != "reason"
            },
            "reason": pa.array(rows["reason"], type=pa.utf8()),
        }
    )
    return table, {"spearman_sampled": sampled}
