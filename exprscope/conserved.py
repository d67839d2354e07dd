"""Python API: markers conserved across datasets, and markers specific to one dataset.

:func:`conserved_markers` is Seurat's ``FindConservedMarkers`` in spirit, for every cluster at
once, with the browser's marker test (scanpy's t-test, :mod:`exprscope.compute.markers`); the
browser computes the same table from the same per-group sums (``src/compute/conserved.ts``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .compute._matrix import columns_with_nan, group_codes, resolve_matrix, select_columns
from .compute.aggregate import group_moments
from .compute.markers import COMBINE_METHODS, conserved_statistics, conserved_top

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["conserved_markers"]

DEFAULT_MIN_CELLS = 3


def conserved_markers(
    adata: AnnData,
    cluster_key: str | None = None,
    dataset_key: str | None = None,
    n: int = 10,
    *,
    layer: str | None = None,
    use_raw: bool | None = None,
    combine: str = "max",
    alpha: float = 0.05,
    min_cells: int = DEFAULT_MIN_CELLS,
) -> pd.DataFrame:
    """Per cluster, the marker genes conserved in every dataset and those specific to one.

    For each cluster k and each dataset d, the cells of k in d are tested against the other
    cells of d that have a cluster (one vs rest within the dataset), by Welch's t-test from
    per-group sums: the numbers of ``sc.tl.rank_genes_groups(adata[in_d], cluster_key,
    method='t-test')`` (cells without a cluster left out), the test behind exprscope's
    computed markers. Per gene and dataset: logfoldchange (scanpy's, from expm1 of the mean
    log values), p, and p adjusted by Benjamini–Hochberg over the genes of that test.

    A dataset where the cluster, or the rest of the dataset, has fewer than ``min_cells``
    cells (default 3, Seurat's ``min.cells.group``) is left out of that cluster: its columns
    are NaN and ``attrs['left_out']`` lists it. A cluster left with fewer than two datasets
    cannot be compared and has no rows (``attrs['untested_clusters']``).

    The per-dataset p-values of a gene are combined over the cluster's datasets by
    ``combine``:

    - ``"max"`` (default): the largest p, Wilkinson's maximum p taken as is: Seurat's
      ``max_pval``, by which ``FindConservedMarkers`` orders its table. It answers "a marker
      in every dataset?" (an intersection–union test), so a gene strong in one dataset only
      cannot look conserved; hence the default. (Not ``metap::maximump``'s max(p)^k, which
      tests "an effect in any dataset".)
    - ``"fisher"``: Fisher's method, −2 Σ ln p ~ χ²(2k)
      (``scipy.stats.combine_pvalues(method='fisher')``): pooled evidence, dominated by the
      strongest dataset.

    A gene is ``"conserved"`` in a cluster when it is significantly up (p_adj < ``alpha``
    and logfoldchange > 0) in every dataset of the cluster, and ``"specific"`` to dataset d
    when it is significantly up in d only (not significant, or down, in the others: absence
    of evidence, read the fold changes).

    Parameters
    ----------
    adata
        The object; its matrix holds log-normalised values, as for :func:`markers`.
    cluster_key, dataset_key
        obs columns; guessed as the sidebar guesses them when not given.
    n
        Rows per cluster for the conserved genes, and per cluster × dataset for the
        specific ones.
    layer, use_raw
        The matrix, as in :func:`exprscope.markers` (``.raw`` by default when it exists).
    combine
        ``"max"`` or ``"fisher"``.
    alpha
        Significance level of the per-dataset adjusted p-values.
    min_cells
        Fewest cells (at least 2) in a cluster, and in its rest, for a dataset to count.

    Returns
    -------
    pandas.DataFrame
        Per cluster (category order), its top ``n`` conserved genes by ``combined_p``, then
        per dataset its top ``n`` specific genes by their p there. Columns ``cluster``,
        ``gene``, ``category`` (``"conserved"`` / ``"specific"``), ``specific_to`` (the
        dataset, or None), ``rank`` (1 = top within cluster, category and dataset),
        ``combined_p``, ``combine`` (the method), and per dataset d ``logfc_<d>``,
        ``pval_<d>``, ``padj_<d>``. ``attrs``: ``matrix``, ``combine``, ``alpha``,
        ``min_cells``, ``datasets``, ``clusters``, ``left_out`` (cluster → datasets not
        tested, with their cell counts), ``untested_clusters``, ``excluded_genes`` (genes
        whose column holds NaN, left out as in :func:`markers`).
    """
    cluster_key, dataset_key = _keys(adata, cluster_key, dataset_key)
    if combine not in COMBINE_METHODS:
        raise ValueError(f"combine must be one of {list(COMBINE_METHODS)}, not {combine!r}.")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, not {n!r}.")
    if isinstance(min_cells, bool) or not isinstance(min_cells, int | np.integer) or min_cells < 2:
        raise ValueError(
            f"min_cells must be an integer ≥ 2 (a t-test needs two cells), not {min_cells!r}."
        )
    codes, labels = group_codes(adata.obs, [cluster_key, dataset_key])
    clusters = [str(c) for c in labels[cluster_key].cat.categories]
    datasets = [str(d) for d in labels[dataset_key].cat.categories]
    if len(datasets) < 2:
        raise ValueError(
            f"Conserved markers compare datasets: {dataset_key!r} has "
            f"{'no labelled cells' if not datasets else f'one dataset only ({datasets[0]!r})'}; "
            "give a dataset_key with at least two datasets."
        )
    if len(clusters) < 2:
        raise ValueError(
            f"One-vs-rest markers need at least two clusters; {cluster_key!r} has {len(clusters)}."
        )
    choice = resolve_matrix(adata, layer, use_raw)
    data, var_names = choice.data, choice.var_names
    with_nan = columns_with_nan(data)
    if with_nan.any():
        data = select_columns(data, np.flatnonzero(~with_nan))
        var_names = var_names[~with_nan]
    moments = group_moments(data, codes, len(labels))
    log_base = (adata.uns.get("log1p") or {}).get("base")
    stats = conserved_statistics(
        moments,
        len(clusters),
        len(datasets),
        combine=combine,
        alpha=alpha,
        min_cells=int(min_cells),
        log_base=log_base,
    )
    top = conserved_top(stats, int(n))

    result = pd.DataFrame(
        {
            "cluster": pd.Categorical(
                np.asarray(clusters, dtype=object)[top["cluster"].to_numpy()],
                categories=clusters,
            ),
            "gene": var_names.to_numpy()[top["gene"].to_numpy()],
            "category": top["category"].to_numpy(),
            "specific_to": [datasets[j] if j >= 0 else None for j in top["specific_to"].to_numpy()],
            "rank": top["rank"].to_numpy(),
            "combined_p": top["combined_p"].to_numpy(),
            "combine": combine,
        }
    )
    for j, dataset in enumerate(datasets):
        for key in ("logfc", "pval", "padj"):
            result[f"{key}_{dataset}"] = top[f"{key}_{j}"].to_numpy()
    result.attrs.update(
        {
            "matrix": choice.label,
            "combine": combine,
            "alpha": alpha,
            "min_cells": int(min_cells),
            "datasets": datasets,
            "clusters": clusters,
            "left_out": _left_out(stats, clusters, datasets),
            "untested_clusters": [
                cluster
                for cluster, count in zip(clusters, stats.tested.sum(axis=1), strict=True)
                if count < 2
            ],
            "excluded_genes": list(choice.var_names[with_nan]),
        }
    )
    return result


def _keys(adata: AnnData, cluster_key: str | None, dataset_key: str | None) -> tuple[str, str]:
    """The cluster and dataset columns: given, or guessed as the sidebar guesses them."""
    from .plot_data import column_guesses

    guesses = column_guesses(adata) if cluster_key is None or dataset_key is None else {}
    cluster_key = cluster_key if cluster_key is not None else guesses.get("cluster")
    dataset_key = dataset_key if dataset_key is not None else guesses.get("dataset")
    columns = [str(c) for c in adata.obs.columns]
    for role, key in (("cluster", cluster_key), ("dataset", dataset_key)):
        if key is None:
            raise ValueError(
                f"Give {role}_key=: no {role} column could be guessed; obs columns are {columns}."
            )
        if key not in adata.obs.columns:
            raise ValueError(f"Unknown {role}_key column {key!r}; obs columns are {columns}.")
    if cluster_key == dataset_key:
        raise ValueError(
            f"cluster_key and dataset_key are the same column ({cluster_key!r}); "
            "clusters are compared across datasets, give two columns."
        )
    return cluster_key, dataset_key


def _left_out(stats, clusters: list[str], datasets: list[str]) -> dict[str, list[dict]]:
    """Cluster → the datasets it was not tested in, with the cells that were there."""
    left_out: dict[str, list[dict]] = {}
    for k, cluster in enumerate(clusters):
        for j, dataset in enumerate(datasets):
            if not stats.tested[k, j]:
                left_out.setdefault(cluster, []).append(
                    {
                        "dataset": dataset,
                        "n_cells": int(stats.n_cells[k, j]),
                        "n_rest": int(stats.n_rest[k, j]),
                    }
                )
    return left_out
