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
    log_scale = np.log(log_base) if log_base else 1.0
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
        with np.errstate(divide="ignore", invalid="ignore"):
            logfoldchanges = np.log2(
                (np.expm1(mean_group * log_scale) + 1e-9) / (np.expm1(mean_rest * log_scale) + 1e-9)
            )
        # Score descending, then gene index ascending
        top = np.lexsort((np.arange(n_genes), -scores))[:n_top]
        frames.append(
            pd.DataFrame(
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
        )
    columns = ["group", "rank", "gene", "score", "logfoldchange", "pval", "pval_adj"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]
