"""Per-group sufficient statistics and aggregates (kernel side of ``src/compute/aggregate.ts``).

Sums are taken with a sparse group-indicator matrix product (as ``sc.get.aggregate``):
``A @ X`` with ``A[g, i] = 1`` when cell i is in group g, so sparse matrices are never
densified and dense ones are processed in blocks of genes. Conventions (DESIGN.md,
"Semantics"): mean of the stored values (optionally Seurat's log1p(mean(expm1(x)))),
variance with ddof = 1, fraction expressing = share of values > 0 (NaN for genes with
negative values, where it means nothing), cells with group code −1 ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from ._matrix import DENSE_BLOCK_GENES, check_supported


@dataclass(frozen=True)
class GroupMoments:
    """Per-group sums over the genes of a matrix (arrays are groups × genes).

    ``total_*`` are the same sums over all cells, those without a group included (the
    "rest" of a one-vs-rest test counts them, as scanpy does).
    """

    n: np.ndarray
    sum: np.ndarray
    sum_sq: np.ndarray
    nnz: np.ndarray
    has_negative: np.ndarray
    total_n: float
    total_sum: np.ndarray
    total_sum_sq: np.ndarray
    sum_expm1: np.ndarray | None = None


def group_moments(
    data: Any, codes: np.ndarray, n_groups: int, *, linear_mean: bool = False
) -> GroupMoments:
    """n, Σx, Σx², #(x > 0) (and Σexpm1(x)) per group and gene, plus the totals."""
    check_supported(data)
    codes = np.asarray(codes)
    n_cells = data.shape[0]
    if codes.shape != (n_cells,):
        raise ValueError(f"{codes.shape[0]} group codes for {n_cells} cells.")
    if codes.size and codes.max() >= n_groups:
        raise ValueError(f"Group code {codes.max()} out of range for {n_groups} groups.")
    grouped = np.flatnonzero(codes >= 0)
    # One indicator row per group, and a last row over every cell for the totals
    rows = np.concatenate([codes[grouped], np.full(n_cells, n_groups)])
    columns = np.concatenate([grouped, np.arange(n_cells)])
    indicator = sparse.csr_matrix(
        (np.ones(rows.size), (rows, columns)), shape=(n_groups + 1, n_cells)
    )
    functions: list[Callable[[np.ndarray], np.ndarray]] = [
        lambda x: x.astype(np.float64),
        _square,
        lambda x: (x > 0).astype(np.float64),
    ]
    if linear_mean:
        functions.append(lambda x: np.expm1(x.astype(np.float64)))
    sums = _indicator_products(data, indicator, functions)
    counts = np.asarray(indicator.sum(axis=1)).ravel()
    return GroupMoments(
        n=counts[:n_groups],
        sum=sums[0][:n_groups],
        sum_sq=sums[1][:n_groups],
        nnz=sums[2][:n_groups],
        has_negative=_has_negative(data),
        total_n=float(counts[n_groups]),
        total_sum=sums[0][n_groups],
        total_sum_sq=sums[1][n_groups],
        sum_expm1=sums[3][:n_groups] if linear_mean else None,
    )


def _square(values: np.ndarray) -> np.ndarray:
    """x² as scanpy forms it: in float32 for float32 matrices (``_get_mean_var``'s numba
    kernel and ``sc.get.aggregate``), then summed in float64. Matching this rounding keeps
    extreme p-values (~1e-160) equal to scanpy's to 1e-11 instead of 1e-5."""
    if values.dtype == np.float32:
        return np.square(values).astype(np.float64)
    return np.square(values.astype(np.float64))


def _indicator_products(
    data: Any, indicator: sparse.csr_matrix, functions: list[Callable[[np.ndarray], np.ndarray]]
) -> list[np.ndarray]:
    """``indicator @ f(data)`` for each elementwise f with f(0) = 0 (f returns float64)."""
    if sparse.issparse(data):
        matrix = data if data.format in ("csr", "csc") else data.tocsr()
        build = sparse.csr_matrix if matrix.format == "csr" else sparse.csc_matrix
        values = matrix.data
        return [
            np.asarray(
                (
                    indicator
                    @ build((f(values), matrix.indices, matrix.indptr), shape=matrix.shape)
                ).toarray()
            )
            for f in functions
        ]
    results = [np.empty((indicator.shape[0], data.shape[1])) for _ in functions]
    for start in range(0, data.shape[1], DENSE_BLOCK_GENES):
        block = np.asarray(data[:, start : start + DENSE_BLOCK_GENES])
        for result, f in zip(results, functions, strict=True):
            result[:, start : start + block.shape[1]] = indicator @ f(block)
    return results


def _has_negative(data: Any) -> np.ndarray:
    """Per gene: does any value fall below 0?"""
    if data.shape[0] == 0:
        return np.zeros(data.shape[1], dtype=bool)
    if sparse.issparse(data):
        return np.asarray(data.min(axis=0).toarray()).ravel() < 0
    return np.asarray(data.min(axis=0)).ravel() < 0


def summarise(
    moments: GroupMoments, *, linear_mean: bool = False, min_cells: int = 1
) -> dict[str, np.ndarray]:
    """Mean, variance (ddof = 1) and fraction expressing per group × gene.

    Groups with fewer than ``min_cells`` cells are masked (NaN), as in the browser's
    ``aggregate``. ``linear_mean`` reports log1p(mean(expm1(x))) as the mean.
    """
    n = moments.n[:, None]
    keep = n >= max(min_cells, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if linear_mean:
            if moments.sum_expm1 is None:
                raise ValueError("Moments were computed without linear_mean=True.")
            mean = np.log1p(moments.sum_expm1 / n)
        else:
            mean = moments.sum / n
        centred = np.maximum(moments.sum_sq - moments.sum * moments.sum / n, 0)
        var = np.where(n > 1, centred / (n - 1), np.nan)
        frac = moments.nnz / n
    frac = np.where(moments.has_negative[None, :], np.nan, frac)
    return {
        "n_cells": moments.n,
        "mean": np.where(keep, mean, np.nan),
        "var": np.where(keep, var, np.nan),
        "frac_expressing": np.where(keep, frac, np.nan),
    }
