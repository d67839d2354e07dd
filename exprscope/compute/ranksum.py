"""Wilcoxon rank-sum statistics per group, sparse-aware (kernel side of Wilcoxon markers and of
the cell-level condition comparison).

The numbers of scanpy's ``rank_genes_groups(method='wilcoxon')``: the rank sum R of a group's
cells among all ranked cells (average ranks for ties), z = (R − n₁(n + 1)/2) / σ with
σ² = n₁n₂(n + 1)/12 (times the tie correction 1 − Σ(t³ − t)/(n³ − n) when asked), z = 0 where
σ = 0, two-sided normal p. The tests hold them to scanpy itself.

Ranks are never formed for the zeros of a sparse column: within a column the n₀ zeros share
one average rank, n₋ + (n₀ + 1)/2 (n₋ values below zero), a non-zero value's rank among all
cells is its rank among the non-zeros, plus n₀ when it is positive. So a column costs its
non-zeros, not its cells, and the whole chunk is ranked by one sort.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse, stats

#: Stored values ranked per step (sort temporaries ~40 bytes each: ~170 MB).
CHUNK_VALUES = 1 << 22


@dataclass(frozen=True)
class RankSums:
    """Rank sums of the groups (groups × genes), the group sizes and the tie correction."""

    rank_sum: np.ndarray
    n: np.ndarray  # cells per group
    n_total: int  # cells ranked (those with a group)
    tie_correction: np.ndarray  # per gene, 1 without ties


def group_rank_sums(data: Any, codes: np.ndarray, n_groups: int) -> RankSums:
    """Rank sums per group of every column of ``data`` (numpy or scipy sparse, cells × genes),
    ranking each column over the cells with a group (``codes`` ≥ 0; −1 leaves a cell out)."""
    codes = np.asarray(codes)
    if codes.shape != (data.shape[0],):
        raise ValueError(f"{codes.shape[0]} group codes for {data.shape[0]} cells.")
    kept = np.flatnonzero(codes >= 0)
    group = codes[kept].astype(np.intp)
    n = np.bincount(group, minlength=n_groups).astype(np.float64)
    n_cells = kept.size
    if kept.size != data.shape[0]:
        data = data[kept]
    matrix = sparse.csc_matrix(data) if not sparse.issparse(data) else data.tocsc()
    n_genes = matrix.shape[1]
    rank_sum = np.zeros((n_groups, n_genes))
    ties = np.ones(n_genes)
    start = 0
    while start < n_genes:
        # Columns up to CHUNK_VALUES stored values (at least one)
        stop = int(np.searchsorted(matrix.indptr, matrix.indptr[start] + CHUNK_VALUES, "right"))
        stop = min(max(stop - 1, start + 1), n_genes)
        chunk = matrix[:, start:stop]
        chunk.eliminate_zeros()
        sums, tie = _chunk_rank_sums(chunk, group, n, n_groups, n_cells)
        rank_sum[:, start:stop] = sums
        ties[start:stop] = tie
        start = stop
    return RankSums(rank_sum=rank_sum, n=n, n_total=n_cells, tie_correction=ties)


def _chunk_rank_sums(
    chunk: sparse.csc_matrix, group: np.ndarray, n: np.ndarray, n_groups: int, n_cells: int
) -> tuple[np.ndarray, np.ndarray]:
    k = chunk.shape[1]
    nnz = np.diff(chunk.indptr)
    column = np.repeat(np.arange(k), nnz)
    values = chunk.data
    order = np.lexsort((values, column))
    sorted_values = values[order]
    sorted_column = column[order]
    n_zero = n_cells - nnz
    n_negative = np.bincount(column[values < 0], minlength=k)
    # Rank among the non-zeros (1-based), then among all cells
    position = np.arange(values.size) - chunk.indptr[sorted_column] + 1.0
    position += np.where(sorted_values > 0, n_zero[sorted_column], 0)
    # Average ranks over runs of equal values within a column
    new_run = np.ones(values.size, dtype=bool)
    new_run[1:] = (sorted_values[1:] != sorted_values[:-1]) | (
        sorted_column[1:] != sorted_column[:-1]
    )
    run = np.cumsum(new_run) - 1
    run_size = np.bincount(run)
    run_mean = np.bincount(run, weights=position) / run_size
    rank = run_mean[run]
    cell_group = group[chunk.indices[order]]
    sums = np.bincount(
        cell_group * k + sorted_column, weights=rank, minlength=n_groups * k
    ).reshape(n_groups, k)
    # The zeros of each group share one rank
    nonzero_per_group = np.bincount(cell_group * k + sorted_column, minlength=n_groups * k).reshape(
        n_groups, k
    )
    zero_rank = n_negative + (n_zero + 1) / 2.0
    sums += (n[:, None] - nonzero_per_group) * zero_rank[None, :]
    # Tie correction: runs among the non-zeros, and the zeros' run
    tied = (run_size.astype(np.float64) ** 3 - run_size) if run_size.size else np.zeros(0)
    run_column = sorted_column[new_run]
    tie_sum = np.bincount(run_column, weights=tied, minlength=k)
    tie_sum += n_zero.astype(np.float64) ** 3 - n_zero
    total = float(n_cells) ** 3 - n_cells
    tie = 1.0 - tie_sum / total if n_cells >= 2 else np.ones(k)
    return sums, tie


def rank_sum_test(
    rank_sum: np.ndarray,
    n_group: float,
    n_total: float,
    tie_correction: np.ndarray | float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """z and two-sided p of one group's rank sums against the other ranked cells (scanpy's
    normal approximation; z = 0 where the variance is 0)."""
    n_other = n_total - n_group
    std = np.sqrt(tie_correction * n_group * n_other * (n_total + 1) / 12.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (rank_sum - n_group * (n_total + 1) / 2.0) / std
    z = np.where(np.isfinite(z), z, 0.0)
    return z, 2 * stats.norm.sf(np.abs(z))
