"""One-vs-rest Welch t-test from per-group sums (kernel side of ``src/compute/markers.ts``).

Reproduces scanpy's ``rank_genes_groups(method='t-test')`` (scanpy 1.11,
``tools/_rank_genes_groups.py``: ``_RankGenes._basic_stats``, ``t_test`` and
``compute_statistics``):

- group and rest means and variances (ddof = 1, ``_get_mean_var``); the rest is every cell
  outside the group, cells without a group included;
- ``scipy.stats.ttest_ind_from_stats(equal_var=False)``: Welch's score, Welch–Satterthwaite
  df (NaN → 1), two-sided p from Student's t (``scipy.special.stdtr``);
- NaN scores → 0, NaN p-values → 1, Benjamini–Hochberg over all genes (statsmodels
  ``fdr_bh``);
- logfoldchange = log2((expm1(mean_g) + 1e-9) / (expm1(mean_r) + 1e-9)), expm1 taken in the
  log1p base when ``adata.uns['log1p']['base']`` is set;
- ranking by score descending; among equal scores the lower gene index first (scanpy leaves
  that order to numpy's argpartition).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from .aggregate import GroupMoments
from .ranksum import RankSums, rank_sum_test


def benjamini_hochberg(pvals: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (statsmodels ``multipletests(method='fdr_bh')``)."""
    pvals = np.asarray(pvals, dtype=np.float64)
    m = pvals.size
    order = np.argsort(pvals, kind="stable")
    scaled = pvals[order] * m / np.arange(1, m + 1)
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1)
    return adjusted


def welch_t_test(
    mean1: np.ndarray,
    var1: np.ndarray,
    n1: float,
    mean2: np.ndarray,
    var2: np.ndarray,
    n2: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Welch's t statistic and two-sided p-value (``ttest_ind_from_stats(equal_var=False)``)."""
    vn1 = var1 / n1
    vn2 = var2 / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (vn1 + vn2) ** 2 / (vn1**2 / (n1 - 1) + vn2**2 / (n2 - 1))
        df = np.where(np.isnan(df), 1.0, df)
        t = (mean1 - mean2) / np.sqrt(vn1 + vn2)
    return t, 2 * special.stdtr(df, -np.abs(t))


def _sample_variance(n: float, total: np.ndarray, total_sq: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.maximum(total_sq - total * total / n, 0) / (n - 1)


def welch_markers(
    moments: GroupMoments, *, n_top: int = 10, log_base: float | None = None
) -> pd.DataFrame:
    """Top ``n_top`` markers per group: columns ``group`` (index), ``rank`` (1 = top),
    ``gene`` (index), ``score``, ``logfoldchange``, ``pval``, ``pval_adj``.

    Groups with fewer than two cells, or whose rest has fewer than two, are skipped
    (scanpy refuses to test them).
    """
    n_genes = moments.sum.shape[1]
    n_top = min(n_top, n_genes)
    frames = []
    for group, n_group in enumerate(moments.n):
        n_rest = moments.total_n - n_group
        if n_group < 2 or n_rest < 2:
            continue
        mean_group = moments.sum[group] / n_group
        var_group = _sample_variance(n_group, moments.sum[group], moments.sum_sq[group])
        rest_sum = moments.total_sum - moments.sum[group]
        rest_sum_sq = moments.total_sum_sq - moments.sum_sq[group]
        mean_rest = rest_sum / n_rest
        var_rest = _sample_variance(n_rest, rest_sum, rest_sum_sq)
        scores, pvals = welch_t_test(mean_group, var_group, n_group, mean_rest, var_rest, n_rest)
        scores = np.where(np.isnan(scores), 0.0, scores)
        pvals = np.where(np.isnan(pvals), 1.0, pvals)
        adjusted = benjamini_hochberg(pvals)
        logfoldchanges = log2_fold_change(mean_group, mean_rest, log_base)
        frames.append(_top_frame(group, scores, logfoldchanges, pvals, adjusted, n_top))
    return _join_frames(frames)


def wilcoxon_markers(
    rank_sums: RankSums,
    moments: GroupMoments,
    *,
    n_top: int = 10,
    log_base: float | None = None,
    tie_correct: bool = False,
) -> pd.DataFrame:
    """Top ``n_top`` markers per group by scanpy's one-vs-rest Wilcoxon rank-sum test
    (``rank_genes_groups(method='wilcoxon')``): ``rank_sums`` rank every cell (an extra group
    for cells without a label, which count in the rest as in scanpy); columns as
    :func:`welch_markers`. logfoldchange uses the same means as the t-test."""
    n_genes = moments.sum.shape[1]
    n_top = min(n_top, n_genes)
    frames = []
    for group, n_group in enumerate(moments.n):
        n_rest = moments.total_n - n_group
        if n_group < 2 or n_rest < 2:
            continue
        tie = rank_sums.tie_correction if tie_correct else 1.0
        scores, pvals = rank_sum_test(rank_sums.rank_sum[group], n_group, rank_sums.n_total, tie)
        adjusted = benjamini_hochberg(pvals)
        mean_group = moments.sum[group] / n_group
        mean_rest = (moments.total_sum - moments.sum[group]) / n_rest
        logfoldchanges = log2_fold_change(mean_group, mean_rest, log_base)
        frames.append(_top_frame(group, scores, logfoldchanges, pvals, adjusted, n_top))
    return _join_frames(frames)


def log2_fold_change(
    mean_a: np.ndarray, mean_b: np.ndarray, log_base: float | None = None
) -> np.ndarray:
    """scanpy's ``logfoldchanges``: log2 of (expm1(mean a) + 1e-9) / (expm1(mean b) + 1e-9) on
    means of the stored log values, expm1 taken in the log1p base when one is set."""
    scale = np.log(log_base) if log_base else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log2((np.expm1(mean_a * scale) + 1e-9) / (np.expm1(mean_b * scale) + 1e-9))


_COLUMNS = ["group", "rank", "gene", "score", "logfoldchange", "pval", "pval_adj"]


def _top_frame(
    group: int,
    scores: np.ndarray,
    logfoldchanges: np.ndarray,
    pvals: np.ndarray,
    adjusted: np.ndarray,
    n_top: int,
) -> pd.DataFrame:
    # Score descending, then gene index ascending
    top = np.lexsort((np.arange(scores.size), -scores))[:n_top]
    return pd.DataFrame(
        {
            "group": group,
            "rank": np.arange(1, top.size + 1),
            "gene": top,
            "score": scores[top],
            "logfoldchange": logfoldchanges[top],
            "pval": pvals[top],
            "pval_adj": adjusted[top],
        }
    )


def _join_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=_COLUMNS)
    return pd.concat(frames, ignore_index=True)[_COLUMNS]
