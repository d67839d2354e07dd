"""Python API: the numbers behind exprscope's plots, computed in the kernel.

The browser computes the same numbers (``src/compute/``); a test holds the two to
agreement, and the tests in ``exprscope/tests/test_compute_reference.py`` hold these to
scanpy and scipy. Every result says which matrix it used in ``DataFrame.attrs['matrix']``
(``"X"``, ``"raw"`` or ``"layers/<name>"``). Requested genes that the matrix does not hold,
by name or because their column is NaN (genes outside an integrated layer), raise
``KeyError`` listing them: they are never treated as zeros.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from .compute._matrix import (
    columns_with_nan,
    gene_positions,
    group_codes,
    resolve_matrix,
    select_columns,
)
from .compute.aggregate import group_moments, summarise
from .compute.correlation import correlate_groups
from .compute.markers import welch_markers

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["aggregate", "correlate", "markers"]

STORED_SOURCE = "stored rank_genes_groups"
COMPUTED_SOURCE = "computed Welch t-test"


def aggregate(
    adata: AnnData,
    genes: str | Sequence[str],
    groupby: str | Sequence[str],
    *,
    layer: str | None = None,
    use_raw: bool | None = None,
    linear_mean: bool = False,
) -> pd.DataFrame:
    """Mean, variance and fraction of expressing cells of genes per group.

    Parameters
    ----------
    adata
        The object.
    genes
        One gene name or several.
    groupby
        One obs column, or two (e.g. ``["dataset", "cluster"]``) for their crossing.
    layer, use_raw
        The matrix: a layer, ``adata.raw`` or ``X``. ``use_raw=None`` uses ``.raw`` when it
        exists and no layer is given (scanpy's default).
    linear_mean
        Report Seurat's mean, log1p(mean(expm1(x))), instead of the mean of the stored values.

    Returns
    -------
    pandas.DataFrame
        One row per gene and group (genes in request order; groups in category order, only
        those with cells, as ``sc.get.aggregate``): ``gene``, the groupby column(s),
        ``n_cells``, ``mean``, ``var`` (ddof = 1, stored values), ``frac_expressing``
        (share of values > 0; NaN for genes with negative values, where it is meaningless).
    """
    gene_list = [genes] if isinstance(genes, str) else list(genes)
    columns = [groupby] if isinstance(groupby, str) else list(groupby)
    codes, labels = group_codes(adata.obs, columns)
    choice = resolve_matrix(adata, layer, use_raw)
    positions = gene_positions(choice, gene_list)
    data = select_columns(choice.data, positions)
    moments = group_moments(data, codes, len(labels), linear_mean=linear_mean)
    stats = summarise(moments, linear_mean=linear_mean)
    observed = np.flatnonzero(moments.n > 0)
    n_genes, n_groups = len(gene_list), observed.size
    frame = pd.DataFrame({"gene": np.repeat(gene_list, n_groups)})
    for column in columns:
        frame[column] = pd.Categorical(
            np.tile(labels[column].to_numpy()[observed], n_genes),
            categories=labels[column].cat.categories,
        )
    frame["n_cells"] = np.tile(moments.n[observed].astype(np.int64), n_genes)
    for key in ("mean", "var", "frac_expressing"):
        frame[key] = stats[key][observed].T.ravel()
    frame.attrs["matrix"] = choice.label
    frame.attrs["mean"] = "log1p(mean(expm1(x)))" if linear_mean else "mean of stored values"
    negative = [g for g, neg in zip(gene_list, moments.has_negative, strict=True) if neg]
    if negative:
        frame.attrs["frac_expressing_undefined"] = negative
    return frame


def markers(
    adata: AnnData,
    groupby: str,
    n: int = 10,
    *,
    layer: str | None = None,
    use_raw: bool | None = None,
    method: str = "t-test",
    use_stored: bool = True,
) -> pd.DataFrame:
    """Top ``n`` marker genes per group, one group against the rest.

    With ``use_stored``, results already in ``adata.uns['rank_genes_groups']`` for the same
    ``groupby`` and ``method`` (and the same matrix, when ``layer``/``use_raw`` are given)
    are used as stored. Otherwise a Welch t-test is computed from per-group sums over all
    genes, reproducing ``sc.tl.rank_genes_groups(method='t-test')``; genes whose column holds
    NaN are left out of the test (listed in ``attrs['excluded_genes']``), groups with fewer
    than two cells are skipped (``attrs['skipped_groups']``).

    Returns
    -------
    pandas.DataFrame
        ``group``, ``rank`` (1 = top), ``gene``, ``score``, ``logfoldchange``, ``pval``,
        ``pval_adj``; ``attrs['source']`` is ``"stored rank_genes_groups"`` or
        ``"computed Welch t-test"``, ``attrs['matrix']`` the matrix.
    """
    if groupby not in adata.obs.columns:
        raise ValueError(
            f"Unknown groupby column {groupby!r}; obs columns are {list(adata.obs.columns)}."
        )
    stored = adata.uns.get("rank_genes_groups")
    if (
        use_stored
        and stored is not None
        and _stored_matches(stored, groupby, method, layer, use_raw)
    ):
        return _stored_markers(stored, n)
    if method != "t-test":
        raise ValueError(
            f"Only method='t-test' can be computed here; no stored {method!r} results for "
            f"groupby={groupby!r} were found."
        )
    codes, labels = group_codes(adata.obs, groupby)
    choice = resolve_matrix(adata, layer, use_raw)
    data = choice.data
    var_names = choice.var_names
    with_nan = columns_with_nan(data)
    if with_nan.any():
        data = select_columns(data, np.flatnonzero(~with_nan))
        var_names = var_names[~with_nan]
    moments = group_moments(data, codes, len(labels))
    log_base = adata.uns.get("log1p", {}).get("base")
    result = welch_markers(moments, n_top=n, log_base=log_base)
    result["group"] = labels["label"].to_numpy()[result["group"].to_numpy(dtype=int)]
    result["gene"] = var_names.to_numpy()[result["gene"].to_numpy(dtype=int)]
    result.attrs["source"] = COMPUTED_SOURCE
    result.attrs["matrix"] = choice.label
    result.attrs["excluded_genes"] = list(choice.var_names[with_nan])
    result.attrs["skipped_groups"] = [
        label
        for label, count in zip(labels["label"], moments.n, strict=True)
        if count < 2 or moments.total_n - count < 2
    ]
    return result


def _stored_matches(
    stored: dict, groupby: str, method: str, layer: str | None, use_raw: bool | None
) -> bool:
    params = stored.get("params", {})
    if str(params.get("groupby")) != groupby or str(params.get("method")) != method:
        return False
    if layer is not None and params.get("layer") != layer:
        return False
    stored_raw = params.get("use_raw")
    stored_raw = bool(np.asarray(stored_raw).ravel()[0]) if stored_raw is not None else None
    return use_raw is None or stored_raw is None or stored_raw == use_raw


def _stored_markers(stored: dict, n: int) -> pd.DataFrame:
    names = stored["names"]
    frames = []
    for group in names.dtype.names:
        top = min(n, len(names[group]))

        def field(key: str, group: str = group, top: int = top) -> np.ndarray:
            if key not in stored:
                return np.full(top, np.nan)
            return np.asarray(stored[key][group][:top], dtype=np.float64)

        frames.append(
            pd.DataFrame(
                {
                    "group": group,
                    "rank": np.arange(1, top + 1),
                    "gene": np.asarray(names[group][:top], dtype=object),
                    "score": field("scores"),
                    "logfoldchange": field("logfoldchanges"),
                    "pval": field("pvals"),
                    "pval_adj": field("pvals_adj"),
                }
            )
        )
    result = pd.concat(frames, ignore_index=True)
    params = stored.get("params", {})
    result.attrs["source"] = STORED_SOURCE
    result.attrs["method"] = str(params.get("method"))
    use_raw = params.get("use_raw")
    raw = use_raw is not None and bool(np.asarray(use_raw).ravel()[0])
    layer = params.get("layer")
    result.attrs["matrix"] = "raw" if raw else (f"layers/{layer}" if layer else "X")
    return result


def correlate(
    adata: AnnData,
    gene_x: str,
    gene_y: str,
    groupby: str | Sequence[str],
    *,
    layer: str | None = None,
    use_raw: bool | None = None,
    detected_only: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Pearson and Spearman correlation of two genes within each group.

    Returns
    -------
    pandas.DataFrame
        One row per group with cells: ``group`` (the label; "a · b" for two groupby
        columns), ``n_cells`` (cells used: with ``detected_only``, those where both genes
        are > 0), ``pearson_r``, ``pearson_ci_low``, ``pearson_ci_high`` (95% Fisher-z),
        ``pearson_p``, ``spearman_rho`` (average ranks for ties), ``spearman_ci_low``,
        ``spearman_ci_high`` (95% percentile bootstrap, ``n_boot`` resamples, ``seed``),
        ``spearman_p``, ``frac_double_positive`` (share of all the group's cells with both
        genes > 0) and ``reason`` (why r/ρ are NaN: fewer than 3 cells, a constant gene).
    """
    codes, labels = group_codes(adata.obs, groupby)
    choice = resolve_matrix(adata, layer, use_raw)
    positions = gene_positions(choice, [gene_x, gene_y])
    columns = select_columns(choice.data, positions)
    values = columns.toarray() if sparse.issparse(columns) else columns
    values = np.asarray(values, dtype=np.float64)
    rows = correlate_groups(
        values[:, 0],
        values[:, 1],
        codes,
        len(labels),
        detected_only=detected_only,
        n_boot=n_boot,
        seed=seed,
    )
    counts = np.bincount(codes[codes >= 0], minlength=len(labels))
    frame = pd.DataFrame([row for row in rows if counts[row["group"]] > 0])
    frame["group"] = labels["label"].to_numpy()[frame["group"].to_numpy(dtype=int)]
    frame.attrs["matrix"] = choice.label
    frame.attrs["genes"] = (gene_x, gene_y)
    return frame
