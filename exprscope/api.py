"""Python API: the numbers behind exprscope's plots, computed in the kernel.

The browser computes the same numbers (``src/compute/``); a test holds the two to
agreement, and the tests in ``exprscope/tests/test_compute_reference.py`` hold these to
scanpy and scipy. Every result says which matrix it used in ``DataFrame.attrs['matrix']``
(``"X"``, ``"raw"`` or ``"layers/<name>"``). Requested genes that the matrix does not hold,
by name or because their column is NaN (genes outside an integrated layer), raise
``KeyError`` listing them: they are never treated as zeros.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
from .compute.markers import welch_markers, wilcoxon_markers
from .compute.ranksum import group_rank_sums

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["aggregate", "correlate", "markers"]

STORED_SOURCE = "stored rank_genes_groups"
COMPUTED_SOURCE = "computed Welch t-test"
COMPUTED_WILCOXON_SOURCE = "computed Wilcoxon rank-sum"
COMPUTED_METHODS = ("t-test", "wilcoxon")


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
    tie_correct: bool = False,
) -> pd.DataFrame:
    """Top ``n`` marker genes per group, one group against the rest.

    With ``use_stored``, results already in ``adata.uns['rank_genes_groups']`` for the same
    ``groupby`` and ``method`` (and the same matrix, when ``layer``/``use_raw`` are given)
    are used as stored. Otherwise the test is computed over all genes: ``method='t-test'``, a
    Welch t-test from per-group sums, reproducing ``sc.tl.rank_genes_groups(method='t-test')``;
    ``method='wilcoxon'``, the rank-sum test of ``rank_genes_groups(method='wilcoxon')``
    (``tie_correct`` as scanpy's), ranked sparsely (zeros are never ranked one by one); genes whose column holds
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
    stored = stored_markers_info(adata.uns.get("rank_genes_groups"))
    if (
        use_stored
        and stored is not None
        and _stored_matches(stored, groupby, method, layer, use_raw)
    ):
        return read_stored_markers(adata.uns["rank_genes_groups"], n)
    if method not in COMPUTED_METHODS:
        raise ValueError(
            f"Only method='t-test' or 'wilcoxon' can be computed here; no stored {method!r} "
            f"results for groupby={groupby!r} were found."
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
    if method == "wilcoxon":
        # Unlabelled cells are ranked too (an extra group), as scanpy ranks every cell
        ranked = np.where(codes < 0, len(labels), codes)
        rank_sums = group_rank_sums(data, ranked, len(labels) + 1)
        result = wilcoxon_markers(
            rank_sums, moments, n_top=n, log_base=log_base, tie_correct=tie_correct
        )
    else:
        result = welch_markers(moments, n_top=n, log_base=log_base)
    result["group"] = labels["label"].to_numpy()[result["group"].to_numpy(dtype=int)]
    result["gene"] = var_names.to_numpy()[result["gene"].to_numpy(dtype=int)]
    result.attrs["source"] = COMPUTED_WILCOXON_SOURCE if method == "wilcoxon" else COMPUTED_SOURCE
    result.attrs["matrix"] = choice.label
    result.attrs["excluded_genes"] = list(choice.var_names[with_nan])
    result.attrs["skipped_groups"] = [
        label
        for label, count in zip(labels["label"], moments.n, strict=True)
        if count < 2 or moments.total_n - count < 2
    ]
    return result


@dataclass(frozen=True)
class StoredMarkers:
    """What a stored ``rank_genes_groups`` result (an ``adata.uns`` entry) says about itself."""

    groupby: str | None
    method: str | None
    reference: str | None
    use_raw: bool | None  # None when the result does not say
    layer: str | None
    groups: list[str]

    @property
    def matrix(self) -> str:
        """The matrix id the markers were computed on (``"X"``, ``"raw"``, ``"layers/<n>"``)."""
        if self.use_raw:
            return "raw"
        return f"layers/{self.layer}" if self.layer else "X"


def stored_markers_info(stored: Any) -> StoredMarkers | None:
    """The parameters of a stored ``rank_genes_groups`` result, or None when ``stored`` is
    not one that can be read (a mapping with ``params`` and a structured ``names`` array,
    one field per group, as scanpy writes it)."""
    if not isinstance(stored, Mapping):
        return None
    params = stored.get("params")
    names = stored.get("names")
    groups = getattr(getattr(names, "dtype", None), "names", None)
    if not isinstance(params, Mapping) or not groups:
        return None
    use_raw = _param(params, "use_raw")
    return StoredMarkers(
        groupby=_text(_param(params, "groupby")),
        method=_text(_param(params, "method")),
        reference=_text(_param(params, "reference")),
        use_raw=None if use_raw is None else bool(use_raw),
        layer=_text(_param(params, "layer")),
        groups=[str(group) for group in groups],
    )


def _param(params: Mapping, key: str) -> Any:
    """A scalar parameter; h5ad round trips turn some into one-element arrays."""
    value = params.get(key)
    if isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else None
    return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _stored_matches(
    stored: StoredMarkers, groupby: str, method: str, layer: str | None, use_raw: bool | None
) -> bool:
    if stored.groupby != groupby or stored.method != method:
        return False
    if layer is not None and stored.layer != layer:
        return False
    return use_raw is None or stored.use_raw is None or stored.use_raw == use_raw


def read_stored_markers(stored: Mapping, n: int) -> pd.DataFrame:
    """The top ``n`` genes per group of a stored ``rank_genes_groups`` result, in the layout
    of :func:`markers` (fields the result lacks, e.g. p-values of logreg, are NaN).

    ``stored`` must be readable (:func:`stored_markers_info` is not None).
    """
    info = stored_markers_info(stored)
    if info is None:
        raise ValueError("Not a readable rank_genes_groups result.")
    names = stored["names"]
    frames = []
    for group in names.dtype.names:
        top = min(n, len(names[group]))

        def field(key: str, group: str = group, top: int = top) -> np.ndarray:
            values = stored.get(key)
            if getattr(getattr(values, "dtype", None), "names", None) is None or (
                group not in values.dtype.names
            ):
                return np.full(top, np.nan)
            return np.asarray(values[group][:top], dtype=np.float64)

        frames.append(
            pd.DataFrame(
                {
                    "group": str(group),
                    "rank": np.arange(1, top + 1),
                    "gene": [_text(gene) for gene in names[group][:top]],
                    "score": field("scores"),
                    "logfoldchange": field("logfoldchanges"),
                    "pval": field("pvals"),
                    "pval_adj": field("pvals_adj"),
                }
            )
        )
    result = pd.concat(frames, ignore_index=True)
    result.attrs["source"] = STORED_SOURCE
    result.attrs["method"] = str(info.method)
    result.attrs["matrix"] = info.matrix
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
    reference: str | None = None,
) -> pd.DataFrame:
    """Pearson and Spearman correlation of two genes within each group.

    With ``reference`` (a category of the first ``groupby`` column, the dataset), each group
    also gets Δr: its Pearson r minus that of the reference dataset's group with the same
    other label (e.g. "stim · 3" vs "ctrl · 3"), by Fisher's z test for independent
    correlations with Zou's 95% interval (:func:`exprscope.differential_correlation`).

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
        With ``reference``: ``delta_r``, ``delta_r_ci_low``, ``delta_r_ci_high``,
        ``delta_r_z``, ``delta_r_p`` (NaN for the reference's own groups and where either
        side has ≤ 3 cells).
    """
    codes, labels = group_codes(adata.obs, groupby)
    dataset_column = labels.columns[0]
    if reference is not None and str(reference) not in map(
        str, labels[dataset_column].cat.categories
    ):
        raise ValueError(
            f"Reference {reference!r} is not a category of {dataset_column!r}: "
            f"{[str(c) for c in labels[dataset_column].cat.categories]}."
        )
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
    code = frame["group"].to_numpy(dtype=int)
    frame["group"] = labels["label"].to_numpy()[code]
    frame.attrs["matrix"] = choice.label
    frame.attrs["genes"] = (gene_x, gene_y)
    if reference is not None:
        _add_delta_r(frame, labels.iloc[code].reset_index(drop=True), str(reference))
        frame.attrs["reference"] = str(reference)
    return frame


def _add_delta_r(frame: pd.DataFrame, labels: pd.DataFrame, reference: str) -> None:
    """Δr of each group vs the reference dataset's group with the same other labels."""
    from .compute.compare import fisher_z_difference

    dataset_column, others = labels.columns[0], [c for c in labels.columns[1:] if c != "label"]
    rest = (
        list(zip(*(labels[c].astype(str) for c in others), strict=True))
        if others
        else [()] * len(labels)
    )
    is_reference = labels[dataset_column].astype(str).to_numpy() == reference
    reference_row = {key: i for i, key in enumerate(rest) if is_reference[i]}
    partner = np.array([reference_row.get(key, -1) for key in rest])
    partner[is_reference] = -1
    has = partner >= 0
    pick = np.where(has, partner, 0)
    r_ref = np.where(has, frame["pearson_r"].to_numpy(dtype=float)[pick], np.nan)
    n_ref = np.where(has, frame["n_cells"].to_numpy(dtype=float)[pick], 0.0)
    test = fisher_z_difference(frame["pearson_r"], frame["n_cells"], r_ref, n_ref)
    frame["delta_r"] = test["delta_r"]
    frame["delta_r_ci_low"] = test["delta_r_ci_low"]
    frame["delta_r_ci_high"] = test["delta_r_ci_high"]
    frame["delta_r_z"] = test["z"]
    frame["delta_r_p"] = test["p"]
