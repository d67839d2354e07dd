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

from dataclasses import dataclass

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


@dataclass(frozen=True)
class WelchStatistics:
    """Every group against the rest, every gene (arrays groups × genes; NaN for groups not
    tested)."""

    score: np.ndarray
    logfoldchange: np.ndarray
    pval: np.ndarray
    pval_adj: np.ndarray
    #: Per group: tested (it and its rest have at least ``min_cells`` cells).
    tested: np.ndarray


def welch_statistics(
    moments: GroupMoments, *, log_base: float | None = None, min_cells: int = 2
) -> WelchStatistics:
    """scanpy's one-vs-rest t-test (see the module docstring) of every group, all genes.

    Groups with fewer than ``min_cells`` cells, or whose rest has fewer, are not tested
    (scanpy refuses fewer than two): their rows are NaN. The Benjamini–Hochberg adjustment
    runs over the genes of each group's test, as scanpy's.
    """
    n_groups, n_genes = moments.sum.shape
    score = np.full((n_groups, n_genes), np.nan)
    logfoldchange = np.full((n_groups, n_genes), np.nan)
    pval = np.full((n_groups, n_genes), np.nan)
    pval_adj = np.full((n_groups, n_genes), np.nan)
    n_rest = moments.total_n - moments.n
    tested = (moments.n >= max(min_cells, 2)) & (n_rest >= max(min_cells, 2))
    for group in np.flatnonzero(tested):
        n_group = moments.n[group]
        mean_group = moments.sum[group] / n_group
        var_group = _sample_variance(n_group, moments.sum[group], moments.sum_sq[group])
        rest_sum = moments.total_sum - moments.sum[group]
        rest_sum_sq = moments.total_sum_sq - moments.sum_sq[group]
        mean_rest = rest_sum / n_rest[group]
        var_rest = _sample_variance(n_rest[group], rest_sum, rest_sum_sq)
        scores, pvals = welch_t_test(
            mean_group, var_group, n_group, mean_rest, var_rest, n_rest[group]
        )
        score[group] = np.where(np.isnan(scores), 0.0, scores)
        pval[group] = np.where(np.isnan(pvals), 1.0, pvals)
        pval_adj[group] = benjamini_hochberg(pval[group])
        logfoldchange[group] = log2_fold_change(mean_group, mean_rest, log_base)
    return WelchStatistics(score, logfoldchange, pval, pval_adj, tested)


def welch_markers(
    moments: GroupMoments, *, n_top: int = 10, log_base: float | None = None
) -> pd.DataFrame:
    """Top ``n_top`` markers per group: columns ``group`` (index), ``rank`` (1 = top),
    ``gene`` (index), ``score``, ``logfoldchange``, ``pval``, ``pval_adj``.

    Groups with fewer than two cells, or whose rest has fewer than two, are skipped
    (scanpy refuses to test them).
    """
    n_top = min(n_top, moments.sum.shape[1])
    stats = welch_statistics(moments, log_base=log_base)
    frames = [
        _top_frame(
            group,
            stats.score[group],
            stats.logfoldchange[group],
            stats.pval[group],
            stats.pval_adj[group],
            n_top,
        )
        for group in np.flatnonzero(stats.tested)
    ]
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


# --------------------------------------------------------------------------- conserved markers

#: How the per-dataset p-values of a gene are combined (:func:`conserved_statistics`).
COMBINE_METHODS = ("max", "fisher")
CONSERVED = "conserved"
SPECIFIC = "specific"
MIXED = "mixed"
NOT_MARKER = "none"
#: The cluster has cells enough in fewer than two datasets: nothing to compare.
UNTESTED = "untested"


@dataclass(frozen=True)
class ConservedStatistics:
    """Per-dataset one-vs-rest tests of every cluster and their combination.

    Arrays are clusters × datasets (× genes); per-dataset values are NaN where the cluster
    was not tested in that dataset, combined values NaN for untested clusters.
    """

    n_cells: np.ndarray
    n_rest: np.ndarray
    #: clusters × datasets: the cluster and its rest have at least ``min_cells`` cells there.
    tested: np.ndarray
    score: np.ndarray
    logfoldchange: np.ndarray
    pval: np.ndarray
    pval_adj: np.ndarray
    #: clusters × genes: datasets where the gene is significantly up in the cluster.
    n_significant: np.ndarray
    combined_p: np.ndarray
    #: clusters × genes: ``"conserved"``, ``"specific"``, ``"mixed"``, ``"none"``,
    #: ``"untested"``.
    category: np.ndarray
    #: clusters × genes: the dataset index of a ``"specific"`` gene, else −1.
    specific_to: np.ndarray
    combine: str
    alpha: float
    min_cells: int


def conserved_statistics(
    moments: GroupMoments,
    n_clusters: int,
    n_datasets: int,
    *,
    combine: str = "max",
    alpha: float = 0.05,
    min_cells: int = 3,
    log_base: float | None = None,
) -> ConservedStatistics:
    """Markers of each cluster tested within each dataset, then combined across datasets
    (Seurat's ``FindConservedMarkers`` in spirit, with scanpy's t-test as the test).

    ``moments`` holds one group per cluster × dataset, cluster-major (group
    ``cluster · n_datasets + dataset``, as ``group_codes(obs, [cluster, dataset])``); its
    totals are not used.

    - Per dataset d and cluster k: the cells of k in d against the other clustered cells of
      d, by :func:`welch_statistics` (= ``rank_genes_groups(method='t-test')`` run on d's
      cells): score, logfoldchange, p, and p adjusted by Benjamini–Hochberg over the genes of
      that test. A dataset where k or its rest has fewer than ``min_cells`` cells is left out
      of k's combination (``tested`` says which).
    - Combined p over the tested datasets: ``combine="max"``, the largest p (Seurat's
      ``max_pval`` column, by which ``FindConservedMarkers`` orders its table). It is the
      intersection–union test of "a marker in every dataset": small only when every dataset
      is, so one strong dataset cannot make a gene look conserved. This is the plain maximum,
      not ``metap::maximump``'s max(p)^k, which tests whether any dataset has an effect.
      ``combine="fisher"``: Fisher's method, −2 Σ ln p against χ² with 2k degrees of
      freedom (``scipy.stats.combine_pvalues(method='fisher')``): pooled evidence, small when
      a gene is strong in one dataset only. Hence ``"max"`` is the default for conservation.
    - Category of a gene in a cluster tested in at least two datasets: ``"conserved"`` when
      it is significantly up (p_adj < ``alpha`` and logfoldchange > 0) in every tested
      dataset; ``"specific"`` (``specific_to`` the dataset) when significantly up in exactly
      one and not in the others (not significant, or down: not a proof of absence, the
      per-dataset fold changes say how large); ``"mixed"`` when up in several but not all;
      else ``"none"``. Clusters tested in fewer than two datasets are ``"untested"``.
    """
    if combine not in COMBINE_METHODS:
        raise ValueError(f"combine must be one of {COMBINE_METHODS}, not {combine!r}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha!r}.")
    if min_cells < 2:
        raise ValueError(
            f"min_cells must be at least 2 (a t-test needs two cells), not {min_cells}."
        )
    n_genes = moments.sum.shape[1]
    if moments.sum.shape[0] != n_clusters * n_datasets:
        raise ValueError(
            f"{moments.sum.shape[0]} groups for {n_clusters} clusters × {n_datasets} datasets."
        )
    shape = (n_clusters, n_datasets, n_genes)
    arrays = {key: np.full(shape, np.nan) for key in ("score", "logfc", "pval", "padj")}
    n_cells = moments.n.reshape(n_clusters, n_datasets).astype(np.float64)
    n_rest = np.zeros_like(n_cells)
    tested = np.zeros((n_clusters, n_datasets), dtype=bool)
    for dataset in range(n_datasets):
        groups = np.arange(n_clusters) * n_datasets + dataset
        within = _dataset_moments(moments, groups)
        stats = welch_statistics(within, log_base=log_base, min_cells=min_cells)
        n_rest[:, dataset] = within.total_n - within.n
        tested[:, dataset] = stats.tested
        arrays["score"][:, dataset] = stats.score
        arrays["logfc"][:, dataset] = stats.logfoldchange
        arrays["pval"][:, dataset] = stats.pval
        arrays["padj"][:, dataset] = stats.pval_adj

    up = (arrays["padj"] < alpha) & (arrays["logfc"] > 0)  # NaN compares False
    n_significant = up.sum(axis=1)
    n_tested = tested.sum(axis=1)
    combined = _combine_pvalues(arrays["pval"], tested, combine)
    comparable = n_tested >= 2
    combined[~comparable] = np.nan
    category = np.full((n_clusters, n_genes), NOT_MARKER, dtype=object)
    category[(n_significant > 0) & (n_significant < n_tested[:, None])] = MIXED
    specific = n_significant == 1
    category[specific] = SPECIFIC
    category[n_significant == n_tested[:, None]] = CONSERVED
    category[n_significant == 0] = NOT_MARKER
    category[~comparable] = UNTESTED
    specific &= category == SPECIFIC
    specific_to = np.where(specific, np.argmax(up, axis=1), -1)
    return ConservedStatistics(
        n_cells=n_cells,
        n_rest=n_rest,
        tested=tested,
        score=arrays["score"],
        logfoldchange=arrays["logfc"],
        pval=arrays["pval"],
        pval_adj=arrays["padj"],
        n_significant=n_significant,
        combined_p=combined,
        category=category,
        specific_to=specific_to,
        combine=combine,
        alpha=alpha,
        min_cells=min_cells,
    )


def _dataset_moments(moments: GroupMoments, groups: np.ndarray) -> GroupMoments:
    """The groups of one dataset, their totals the sums over those groups (the rest of a
    cluster is the dataset's other clustered cells)."""
    sum_ = moments.sum[groups]
    sum_sq = moments.sum_sq[groups]
    return GroupMoments(
        n=moments.n[groups],
        sum=sum_,
        sum_sq=sum_sq,
        nnz=moments.nnz[groups],
        has_negative=moments.has_negative,
        total_n=float(moments.n[groups].sum()),
        total_sum=sum_.sum(axis=0),
        total_sum_sq=sum_sq.sum(axis=0),
    )


def _combine_pvalues(pval: np.ndarray, tested: np.ndarray, combine: str) -> np.ndarray:
    """clusters × genes combination of the tested datasets' p-values (axis 1)."""
    from scipy import stats

    mask = ~tested[:, :, None]
    if combine == "max":
        with np.errstate(invalid="ignore"):
            return np.max(np.where(mask, -np.inf, pval), axis=1)
    with np.errstate(divide="ignore"):
        statistic = -2 * np.where(mask, 0.0, np.log(pval)).sum(axis=1)
    dof = 2 * tested.sum(axis=1)[:, None]
    return stats.chi2.sf(statistic, np.maximum(dof, 1))


def conserved_top(stats: ConservedStatistics, n_top: int = 10) -> pd.DataFrame:
    """The table of :func:`conserved_statistics`: per cluster (in order), its top ``n_top``
    conserved genes by combined p, then per dataset (in order) its top ``n_top`` genes
    specific to that dataset by their p there.

    Ties: conserved genes by the smallest per-dataset score (descending), specific ones by
    the score in their dataset (descending), then the lower gene index. Columns
    ``cluster`` (index), ``category``, ``specific_to`` (dataset index, −1), ``rank`` (1 =
    top, within cluster × category × dataset), ``gene`` (index), ``combined_p``, then per
    dataset j ``logfc_j``, ``pval_j``, ``padj_j``.
    """
    n_clusters, n_datasets, n_genes = stats.pval.shape
    genes = np.arange(n_genes)
    with np.errstate(invalid="ignore"):
        weakest_score = np.min(np.where(stats.tested[:, :, None], stats.score, np.inf), axis=1)
    blocks: list[tuple[int, str, int, np.ndarray]] = []
    for cluster in range(n_clusters):
        conserved = np.flatnonzero(stats.category[cluster] == CONSERVED)
        order = np.lexsort(
            (
                genes[conserved],
                -weakest_score[cluster, conserved],
                stats.combined_p[cluster, conserved],
            )
        )
        blocks.append((cluster, CONSERVED, -1, conserved[order][:n_top]))
        for dataset in range(n_datasets):
            chosen = np.flatnonzero(
                (stats.category[cluster] == SPECIFIC) & (stats.specific_to[cluster] == dataset)
            )
            order = np.lexsort(
                (
                    genes[chosen],
                    -stats.score[cluster, dataset, chosen],
                    stats.pval[cluster, dataset, chosen],
                )
            )
            blocks.append((cluster, SPECIFIC, dataset, chosen[order][:n_top]))
    columns: dict[str, list] = {
        key: [] for key in ("cluster", "category", "specific_to", "rank", "gene", "combined_p")
    }
    per_dataset = {f"{key}_{j}": [] for j in range(n_datasets) for key in ("logfc", "pval", "padj")}
    for cluster, category, dataset, chosen in blocks:
        columns["cluster"].extend([cluster] * chosen.size)
        columns["category"].extend([category] * chosen.size)
        columns["specific_to"].extend([dataset] * chosen.size)
        columns["rank"].extend(range(1, chosen.size + 1))
        columns["gene"].extend(chosen.tolist())
        columns["combined_p"].extend(stats.combined_p[cluster, chosen].tolist())
        for j in range(n_datasets):
            per_dataset[f"logfc_{j}"].extend(stats.logfoldchange[cluster, j, chosen].tolist())
            per_dataset[f"pval_{j}"].extend(stats.pval[cluster, j, chosen].tolist())
            per_dataset[f"padj_{j}"].extend(stats.pval_adj[cluster, j, chosen].tolist())
    frame = pd.DataFrame({**columns, **per_dataset})
    for key in ("cluster", "specific_to", "rank", "gene"):
        frame[key] = frame[key].astype(np.int64)
    for key in ["combined_p", *per_dataset]:
        frame[key] = frame[key].astype(np.float64)
    return frame
