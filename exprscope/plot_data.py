# Over 600 lines: heatmap_data and difference_data call each other (value 'log2fc'), and widgets patch them here by name; a split is pending.
"""The numbers behind a plot spec, computed in the kernel with :mod:`exprscope.api`.

What the notebook widgets return as ``.data``: the same columns, rows, masking, scaling and
ordering as the browser's heatmap model (``src/plots/heatmap/model.ts``) and the correlation
table of the dual-expression plot (``src/plots/dual/model.ts``). Nothing here computes a
statistic itself: aggregates, markers and correlations come from :mod:`exprscope.api`,
the condition comparisons of the log2FC heatmap from :func:`exprscope.compare`, scaling and
clustering from :mod:`exprscope.compute`.

Two ways of checking a spec against the data:

- ``strict`` (a spec handed in from Python): every column, cluster, gene and embedding must
  exist, else KeyError / ValueError naming the argument;
- lenient (a spec the plot's controls changed): like the plot, genes the matrix lacks and
  unknown clusters are left out and listed in ``attrs`` (``missing_genes``,
  ``unknown_clusters``). A matrix or column that does not exist is an error either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse

from .adapters._describe import (
    CATEGORICAL,
    _as_categorical,
    _column_kind,
    _describe_obs_column,
    _is_embedding,
    _readable_stored_markers,
    column_guesses_of,
)
from .adapters.anndata import _matrix_label
from .api import aggregate, correlate, markers, read_stored_markers
from .compute._matrix import columns_with_nan, resolve_matrix, select_columns
from .compute.compare import PSEUDOBULK, counts_matrix
from .compute.hclust import hclust
from .compute.scale import scale_rows
from .conditions import RESULT_COLUMNS, compare, resolve_comparison
from .spec import LOG2FC

if TYPE_CHECKING:
    from anndata import AnnData

#: How the spec's keys are called in error messages, by default (the Python functions pass
#: their own argument names, e.g. ``dataset_key`` for ``dataset_column``).
SPEC_NAMES = {
    key: key
    for key in (
        "matrix",
        "dataset_column",
        "cluster_column",
        "sample_column",
        "clusters",
        "genes",
        "gene_x",
        "gene_y",
        "embedding",
        "reference",
        "target",
        "compare_method",
    )
}

#: Columns of the correlation table (``exprscope.correlate``), for an empty table.
CORRELATION_COLUMNS = [
    "group",
    "n_cells",
    "pearson_r",
    "pearson_ci_low",
    "pearson_ci_high",
    "pearson_p",
    "spearman_rho",
    "spearman_ci_low",
    "spearman_ci_high",
    "spearman_p",
    "frac_double_positive",
    "reason",
]


# -- matrices, columns, clusters ---------------------------------------------------------------


def matrix_arguments(matrix: str) -> tuple[str | None, bool]:
    """``(layer, use_raw)`` of a matrix id (``X``, ``raw``, ``layers/<name>``)."""
    if matrix == "X":
        return None, False
    if matrix == "raw":
        return None, True
    if matrix.startswith("layers/"):
        return matrix[len("layers/") :], False
    raise ValueError(f"Unknown matrix id {matrix!r}; use 'X', 'raw' or 'layers/<name>'.")


def matrix_label(matrix: str) -> str:
    """How a matrix is shown to users: ``X``, ``raw.X``, ``layers['integrated']``."""
    return _matrix_label(matrix)


def column_guesses(adata: AnnData) -> dict[str, str | None]:
    """The dataset, cluster and sample columns the sidebar guesses (``describe``'s
    ``guesses``)."""
    return column_guesses_of(
        [_describe_obs_column(str(name), column) for name, column in adata.obs.items()]
    )


def check_column(adata: AnnData, column: str, name: str) -> None:
    """``column`` must be a categorical obs column (as ``describe`` classifies them)."""
    if column not in adata.obs.columns:
        raise KeyError(
            f"{name}={column!r} is not an obs column; obs columns are "
            f"{[str(c) for c in adata.obs.columns]}."
        )
    if _column_kind(adata.obs[column]) != CATEGORICAL:
        raise ValueError(
            f"{name}={column!r} is not a grouping column (it has too many distinct values or "
            "is not categorical); choose a categorical obs column."
        )


def categories(adata: AnnData, column: str) -> list[str]:
    """The labels of a grouping column as the plots show them, in category order."""
    return [str(label) for label in _as_categorical(adata.obs[column]).categories]


def cell_labels(adata: AnnData, column: str) -> np.ndarray:
    """Each cell's label as text (None when missing)."""
    categorical = _as_categorical(adata.obs[column])
    labels = np.array([*categories(adata, column), None], dtype=object)
    return labels[categorical.codes]  # code −1 picks the trailing None


def split_clusters(
    adata: AnnData, cluster_column: str, clusters: Sequence[Any]
) -> tuple[list[str], list[str]]:
    """The requested clusters as the plot's labels (compared as text), and the unknown ones."""
    known = categories(adata, cluster_column)
    wanted = list(dict.fromkeys(str(cluster) for cluster in clusters))
    return [c for c in wanted if c in known], [c for c in wanted if c not in known]


def split_genes(adata: AnnData, matrix: str, genes: Sequence[str]) -> tuple[list[str], list[str]]:
    """The genes the matrix holds (by name, without NaN: as ``api.gene_positions``), and the
    others, each in request order."""
    layer, use_raw = matrix_arguments(matrix)
    choice = resolve_matrix(adata, layer, use_raw)
    positions = choice.var_names.get_indexer(list(genes))
    found = positions >= 0
    with_nan = np.zeros(len(genes), dtype=bool)
    with_nan[found] = columns_with_nan(select_columns(choice.data, positions[found]))
    held = found & ~with_nan
    return [g for g, h in zip(genes, held, strict=True) if h], [
        g for g, h in zip(genes, held, strict=True) if not h
    ]


def _require_column(spec: Mapping[str, Any], role: str, why: str, names: Mapping[str, str]) -> None:
    key = f"{role}_column"
    column = spec[key]
    if column is None:
        raise ValueError(
            f"{why} needs a {role} column, but {names[key]} is not set and none of the usual "
            f"column names was found; pass {names[key]}=<obs column>."
        )


def check_spec(
    adata: AnnData, spec: Mapping[str, Any], names: Mapping[str, str] = SPEC_NAMES
) -> None:
    """Strict check of a (read) spec against the object; errors name ``names[key]``."""
    layer, use_raw = matrix_arguments(spec["matrix"])
    resolve_matrix(adata, layer, use_raw)
    for role in ("dataset", "cluster", "sample"):
        column = spec[f"{role}_column"]
        if column is not None:
            check_column(adata, column, names[f"{role}_column"])
    for role, why in needed_columns(spec).items():
        _require_column(spec, role, why, names)
    if spec["clusters"] is not None:
        _, unknown = split_clusters(adata, spec["cluster_column"], spec["clusters"])
        if unknown:
            raise ValueError(
                f"Unknown cluster(s) in {names['clusters']}: {', '.join(map(repr, unknown))}; "
                f"clusters of {spec['cluster_column']!r} are "
                f"{categories(adata, spec['cluster_column'])}."
            )
    if spec["kind"] == "heatmap":
        genes = spec["genes"] if spec["gene_source"] == "selected" else []
        check_genes(adata, spec["matrix"], genes, names["genes"])
        if spec["value"] == LOG2FC:
            check_comparison(adata, spec, names)
    else:
        for key in ("gene_x", "gene_y"):
            check_genes(adata, spec["matrix"], [spec[key]], names[key])
        embedding = spec["embedding"]
        if embedding is not None and (
            embedding not in adata.obsm or not _is_embedding(adata.obsm[embedding])
        ):
            available = [str(k) for k, v in adata.obsm.items() if _is_embedding(v)]
            raise KeyError(
                f"{names['embedding']}={embedding!r} is not an embedding of the object (an obsm "
                f"entry with at least 2 columns); available: {available}."
            )


def check_genes(adata: AnnData, matrix: str, genes: Sequence[str], name: str) -> None:
    _, missing = split_genes(adata, matrix, genes)
    if missing:
        raise KeyError(
            f"Unknown gene(s) in {name}: {', '.join(map(repr, missing))} — not in matrix "
            f"{matrix!r} (not among its genes, or NaN there, as genes outside an integrated "
            "layer)."
        )


def needed_columns(spec: Mapping[str, Any]) -> dict[str, str]:
    """The grouping roles a spec cannot do without: role → what needs it."""
    needed: dict[str, str] = {}
    if spec["kind"] == "heatmap" and spec["value"] == LOG2FC:
        # group_by is ignored: the columns are the clusters, the datasets are compared
        uses = [("columns", "cluster")]
        needed["dataset"] = "The log2 fold change between datasets"
    elif spec["kind"] == "heatmap":
        uses = [("columns", spec["group_by"])]
        if spec["gene_source"] == "markers":
            needed["cluster"] = "Top markers per cluster"
    else:
        uses = [("colour", spec["color_by"]), ("facets", spec["facet_by"])]
    for what, grouping in uses:
        for role in ("dataset", "cluster"):
            if grouping in (role, "dataset_cluster"):
                needed.setdefault(role, f"{what.capitalize()} by {grouping}")
    if spec["clusters"] is not None:
        needed.setdefault("cluster", "Keeping only some clusters")
    return needed


def kept_cells(adata: AnnData, spec: Mapping[str, Any]) -> tuple[np.ndarray | None, list[str]]:
    """Cells kept by the cluster filter (None: all cells) and the unknown clusters ignored."""
    if spec["clusters"] is None:
        return None, []
    kept, unknown = split_clusters(adata, spec["cluster_column"], spec["clusters"])
    return np.isin(cell_labels(adata, spec["cluster_column"]), kept), unknown


def _subset(adata: AnnData, keep: np.ndarray | None) -> AnnData:
    # A view: api functions read its matrices like any AnnData (rows copied on access).
    return adata if keep is None else adata[keep]


# -- heatmap ----------------------------------------------------------------------------------


@dataclass
class HeatmapColumns:
    """The heatmap's columns in display order before clustering (``groupCells`` in model.ts)."""

    labels: list[str]
    datasets: list[str | None]
    clusters: list[str | None]
    n_cells: list[int]
    groupby: list[str]  # the obs columns aggregated over
    unknown_clusters: list[str] = field(default_factory=list)


def heatmap_columns(adata: AnnData, spec: Mapping[str, Any]) -> HeatmapColumns:
    """Categories with kept cells, in category order; dataset × cluster columns go cluster by
    cluster with every present dataset, empty combinations included (masked), as the plot."""
    keep, unknown = kept_cells(adata, spec)
    group_by = spec["group_by"]
    roles = {
        "dataset": ["dataset"],
        "cluster": ["cluster"],
        "dataset_cluster": ["dataset", "cluster"],
    }[group_by]
    columns = [spec[f"{role}_column"] for role in roles]
    labels = {role: cell_labels(adata, column) for role, column in zip(roles, columns, strict=True)}
    if keep is not None:
        labels = {role: values[keep] for role, values in labels.items()}
    present = {}
    for role, column in zip(roles, columns, strict=True):
        seen = set(labels[role])
        present[role] = [c for c in categories(adata, column) if c in seen]
    counts = Counter(zip(*labels.values(), strict=True))
    keys = (
        [(d, c) for c in present["cluster"] for d in present["dataset"]]
        if group_by == "dataset_cluster"
        else [(label,) for label in present[roles[0]]]
    )
    return HeatmapColumns(
        labels=[" · ".join(key) for key in keys],
        datasets=[key[0] if "dataset" in roles else None for key in keys],
        clusters=[key[-1] if "cluster" in roles else None for key in keys],
        n_cells=[counts[key] for key in keys],
        groupby=columns,
        unknown_clusters=unknown,
    )


def heatmap_markers(adata: AnnData, spec: Mapping[str, Any]) -> pd.DataFrame:
    """Top ``top_n`` markers per cluster, found as the plot finds them (``marker_method``):
    ``"auto"``, a stored ``rank_genes_groups`` result for the cluster column when the object
    has one, else the Welch t-test of :func:`exprscope.markers` on the plot's matrix;
    ``"t-test"`` / ``"wilcoxon"``, that test computed; only kept clusters."""
    cluster_column = spec["cluster_column"]
    method = spec.get("marker_method", "auto")
    stored = next(
        (e for e in _readable_stored_markers(adata.uns) if e["groupby"] == cluster_column), None
    )
    if stored is not None and method == "auto":
        table = read_stored_markers(adata.uns[stored["key"]], spec["top_n"])
        table.attrs["key"] = stored["key"]
    else:
        layer, use_raw = matrix_arguments(spec["matrix"])
        table = markers(
            adata,
            cluster_column,
            spec["top_n"],
            layer=layer,
            use_raw=use_raw,
            method="wilcoxon" if method == "wilcoxon" else "t-test",
            use_stored=False,
        )
    if spec["clusters"] is not None:
        kept, _ = split_clusters(adata, cluster_column, spec["clusters"])
        attrs = table.attrs
        table = table[table["group"].astype(str).isin(kept)].reset_index(drop=True)
        table.attrs = attrs
    return table


def heatmap_data(
    adata: AnnData,
    spec: Mapping[str, Any],
    marker_table: pd.DataFrame | None = None,
    comparison: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (gene, column) of the heatmap, in the plot's row and column order.

    For ``value: "log2fc"`` see :func:`difference_data` (``comparison``: its
    :func:`heatmap_comparison`, when already computed).

    Columns: ``gene``, ``column`` (the label shown: "stim · 3"), ``dataset`` and/or
    ``cluster`` (those the grouping has), ``n_cells``, ``masked`` (fewer than ``min_cells``
    cells), ``mean`` (of the stored values), ``fraction`` (share of cells > 0; NaN for genes
    with negative values), ``linear_mean`` (log1p(mean(expm1(x)))), ``value`` (what is
    coloured: the chosen quantity, scaled across the unmasked columns and clipped; NaN for
    masked columns). With ``cluster_genes`` / ``cluster_columns`` the order is the plot's
    average-linkage order (scipy's ``linkage`` + ``dendrogram`` leaves) on ``value``.
    """
    if spec["value"] == LOG2FC:
        return difference_data(adata, spec, comparison)
    columns = heatmap_columns(adata, spec)
    if spec["gene_source"] == "markers":
        if marker_table is None:
            marker_table = heatmap_markers(adata, spec)
        requested = list(dict.fromkeys(marker_table["gene"].astype(str)))
    else:
        requested = list(dict.fromkeys(spec["genes"]))
    genes, missing = split_genes(adata, spec["matrix"], requested)
    layer, use_raw = matrix_arguments(spec["matrix"])
    n_rows, n_cols = len(genes), len(columns.labels)

    mean = np.full((n_rows, n_cols), np.nan)
    fraction, linear = mean.copy(), mean.copy()
    keep, _ = kept_cells(adata, spec)
    subset = _subset(adata, keep)
    if n_rows and n_cols:
        stats = aggregate(subset, genes, columns.groupby, layer=layer, use_raw=use_raw)
        linear_stats = aggregate(
            subset, genes, columns.groupby, layer=layer, use_raw=use_raw, linear_mean=True
        )
        position = {label: j for j, label in enumerate(columns.labels)}
        gene_row = {gene: r for r, gene in enumerate(genes)}
        group_labels = [
            " · ".join(parts)
            for parts in zip(*(stats[c].astype(str) for c in columns.groupby), strict=True)
        ]
        rows = stats["gene"].map(gene_row).to_numpy()
        cols = np.array([position[label] for label in group_labels], dtype=np.int64)
        mean[rows, cols] = stats["mean"].to_numpy()
        fraction[rows, cols] = stats["frac_expressing"].to_numpy()
        linear[rows, cols] = linear_stats["mean"].to_numpy()

    n_cells = np.array(columns.n_cells, dtype=np.int64)
    masked = n_cells < spec["min_cells"]
    shown = {"fraction": fraction, "linear_mean": linear}.get(spec["value"], mean).copy()
    shown[:, masked] = np.nan
    scaling = spec["scaling"]
    if scaling != "none" and n_cols > 0 and (~masked).sum() < 2:
        scaling = "none"  # no spread across one column: the plot shows raw values
    clip = spec["zscore_clip"] if spec["zscore_clip"] > 0 else None
    value, _ = scale_rows(shown, scaling, clip=clip)

    row_order, column_order = _cluster_order(value, masked, spec)
    frame = pd.DataFrame(
        {
            "gene": np.repeat(np.array(genes, dtype=object)[row_order], len(column_order)),
            "column": np.tile(np.array(columns.labels, dtype=object)[column_order], n_rows),
        }
    )
    for role in ("dataset", "cluster"):
        labels = getattr(columns, f"{role}s")
        if any(label is not None for label in labels):
            frame[role] = np.tile(np.array(labels, dtype=object)[column_order], n_rows)
    frame["n_cells"] = np.tile(n_cells[column_order], n_rows)
    frame["masked"] = np.tile(masked[column_order], n_rows)
    pick = np.ix_(row_order, column_order)
    frame["mean"] = mean[pick].ravel()
    frame["fraction"] = fraction[pick].ravel()
    frame["linear_mean"] = linear[pick].ravel()
    frame["value"] = value[pick].ravel()
    frame.attrs.update(
        {
            "kind": "heatmap",
            "matrix": spec["matrix"],
            "value": spec["value"],
            "scaling": scaling,
            "genes": [genes[r] for r in row_order],
            "columns": [columns.labels[j] for j in column_order],
            "missing_genes": missing,
            "unknown_clusters": columns.unknown_clusters,
        }
    )
    if marker_table is not None:
        frame.attrs["markers_source"] = marker_table.attrs.get("source")
    return frame


def _cluster_order(
    value: np.ndarray, masked: np.ndarray, spec: Mapping[str, Any]
) -> tuple[list[int], list[int]]:
    """Row and column order as ``buildHeatmapModel``: average linkage over the unmasked
    columns; rows without a finite value in each of them, and masked columns, come last."""
    n_rows, n_cols = value.shape
    rows, cols = list(range(n_rows)), list(range(n_cols))
    kept = [j for j in cols if not masked[j]]
    finite = [r for r in rows if kept and np.isfinite(value[r, kept]).all()]
    metric = spec["metric"]
    if spec["cluster_genes"] and n_rows > 1 and kept:
        leaves = hclust(value[np.ix_(finite, kept)], metric=metric, axis="rows").leaves
        clustered = [finite[i] for i in leaves]
        rows = clustered + [r for r in rows if r not in clustered]
    if spec["cluster_columns"] and len(kept) > 1 and finite:
        leaves = hclust(value[np.ix_(finite, kept)], metric=metric, axis="columns").leaves
        cols = [kept[i] for i in leaves] + [j for j in cols if masked[j]]
    return rows, cols


# -- condition difference heatmap (value "log2fc") ---------------------------------------------

#: The spec keys :func:`heatmap_comparison` depends on (see :func:`comparison_keys`).
COMPARISON_KEYS = (
    "object",
    "matrix",
    "dataset_column",
    "cluster_column",
    "sample_column",
    "clusters",
    "reference",
    "target",
    "compare_method",
    "min_cells",
    "gene_source",
)

#: Columns of the difference heatmap's ``.data``.
DIFFERENCE_COLUMNS = [
    "gene",
    "column",
    "cluster",
    "log2fc",
    "value",
    "stat",
    "pvalue",
    "padj",
    "mark",
    "n_cells_a",
    "n_cells_b",
    "n_samples_a",
    "n_samples_b",
    "masked",
    "method",
    "reference",
    "target",
]

#: Columns of the "top changed genes" table.
CHANGED_GENE_COLUMNS = ["gene", "cluster", "log2fc", "padj"]

#: Significance marks by adjusted p, strictest first (as src/compute/difference.ts).
SIGNIFICANCE_LEVELS = ((0.001, "***"), (0.01, "**"), (0.05, "*"))


def significance_mark(padj: float) -> str:
    """``***`` below 0.001, ``**`` below 0.01, ``*`` below 0.05, else ``""`` (also for NaN)."""
    if not np.isfinite(padj):
        return ""
    return next((mark for below, mark in SIGNIFICANCE_LEVELS if padj < below), "")


def comparison_keys(spec: Mapping[str, Any]) -> list[str]:
    """The spec keys the comparison table depends on: every gene is compared (the genes
    shown are picked from it), so the genes (and e.g. the scaling or ordering) do not matter."""
    return list(COMPARISON_KEYS)


def comparison_arguments(adata: AnnData, spec: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`exprscope.conditions.resolve_comparison` of a log2fc spec: the target and the
    method chosen (compare_method "auto" is compare's ``method=None``), the sample column
    guessed when not set; every cluster (the plot picks its columns itself). Raises
    :class:`~exprscope.compute.compare.ComparisonError` for an impossible comparison."""
    method = spec["compare_method"]
    return resolve_comparison(
        adata,
        reference=spec["reference"],
        target=spec["target"],
        dataset_key=spec["dataset_column"],
        cluster_key=spec["cluster_column"],
        sample_key=spec["sample_column"],
        method=None if method == "auto" else method,
    )


def check_comparison(
    adata: AnnData, spec: Mapping[str, Any], names: Mapping[str, str] = SPEC_NAMES
) -> None:
    """Strict check of a log2fc spec, from obs alone (nothing is tested): the datasets exist,
    and pseudobulk has a sample column, counts and ≥ 2 samples per dataset."""
    resolved = comparison_arguments(adata, spec)
    if resolved["method"] != PSEUDOBULK:
        return
    sample = resolved["sample_key"]
    if sample is None:
        raise ValueError(
            f"{names['compare_method']}='pseudobulk' needs a sample (replicate, donor) column "
            f"and none was found: pass {names['sample_column']}=<obs column>, or "
            f"{names['compare_method']}='wilcoxon' (cells as replicates, which they are not)."
        )
    counts_matrix(adata)  # raises when the object holds no raw counts
    obs = adata.obs
    datasets = obs[resolved["dataset_key"]].astype(str)
    chosen = [resolved["reference"], resolved["target"]]
    per_dataset = obs.loc[datasets.isin(chosen).to_numpy(), sample].astype(str)
    n_samples = per_dataset.groupby(datasets[datasets.isin(chosen)]).nunique()
    few = [d for d in chosen if n_samples.get(d, 0) < 2]
    if few:
        raise ValueError(
            f"Pseudobulk needs ≥ 2 samples per dataset, but {sample!r} has "
            f"{int(n_samples.get(few[0], 0))} in {few[0]!r}; pass "
            f"{names['compare_method']}='wilcoxon' (cells as replicates, which they are not) "
            "or use data with replicates."
        )


def _difference_columns(adata: AnnData, spec: Mapping[str, Any]) -> HeatmapColumns:
    # The columns are the clusters whatever group_by says
    return heatmap_columns(adata, {**spec, "group_by": "cluster"})


def heatmap_comparison(adata: AnnData, spec: Mapping[str, Any]) -> pd.DataFrame:
    """:func:`exprscope.compare`'s table for a log2fc spec, with the arguments the kernel's
    ``compare`` op gets from the plot: the spec's datasets, columns and ``compare_method``,
    ``min_cells`` (at least 1), the kept clusters that have cells, and the selected genes the
    matrix holds (every gene in "markers" mode). Wilcoxon reads the spec's matrix; pseudobulk
    the raw counts the object holds (compare's choice). ``attrs`` add ``clusters`` (in plot
    order), ``missing_genes`` and ``unknown_clusters``.

    Every gene is compared and the selected ones picked from the table, as the browser does:
    DESeq2's size factors and dispersions, and the Wilcoxon padj (Benjamini–Hochberg over the
    genes tested), are then those of the whole test, whichever genes are shown."""
    resolved = comparison_arguments(adata, spec)
    columns = _difference_columns(adata, spec)
    pseudobulk = resolved["method"] == PSEUDOBULK
    layer, use_raw = (None, None) if pseudobulk else matrix_arguments(spec["matrix"])
    if columns.labels:
        frame = compare(
            adata,
            **{**resolved, "clusters": columns.labels},
            genes=None,
            min_cells=max(1, spec["min_cells"]),
            layer=layer,
            use_raw=use_raw,
        )
    else:  # nothing to test: compare's columns, no rows
        frame = pd.DataFrame({column: [] for column in RESULT_COLUMNS})
        frame.attrs.update({**resolved, "matrix": None, "caveat": ""})
        del frame.attrs["clusters"]
    frame.attrs.update({"clusters": columns.labels, "unknown_clusters": columns.unknown_clusters})
    return frame


def _difference_missing(adata: AnnData, spec: Mapping[str, Any], method: str) -> list[str]:
    """Selected genes the compared matrix lacks: the plot's matrix, and for pseudobulk also
    the raw counts (they may hold other genes)."""
    if spec["gene_source"] != "selected":
        return []
    genes, missing = split_genes(adata, spec["matrix"], list(dict.fromkeys(spec["genes"])))
    if method == PSEUDOBULK:
        _, not_counted = split_genes(adata, counts_matrix(adata), genes)
        missing += not_counted
    return missing


def changed_genes(comparison: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """The ``top_n`` most changed genes of each cluster (``comparison.attrs['clusters']``
    order): smallest ``padj`` first, ties (and genes without one, last) by the largest
    |log2fc|, as ``topChangedGenes`` in src/compute/difference.ts. Columns
    :data:`CHANGED_GENE_COLUMNS`."""
    padj = comparison["padj"].to_numpy(dtype=np.float64)
    log2fc = comparison["log2fc"].to_numpy(dtype=np.float64)
    ranked = pd.DataFrame(
        {
            "padj_key": np.where(np.isfinite(padj), padj, np.inf),
            "size_key": np.where(np.isfinite(log2fc), -np.abs(log2fc), 1.0),
            "position": np.arange(len(comparison)),
        }
    )
    clusters = comparison["cluster"].astype(str).to_numpy()
    picked = []
    for cluster in comparison.attrs.get("clusters", []):
        rows = ranked[clusters == cluster].sort_values(["padj_key", "size_key", "position"])
        picked.extend(rows["position"].iloc[:top_n])
    table = comparison.iloc[picked][CHANGED_GENE_COLUMNS].reset_index(drop=True)
    table["gene"] = table["gene"].astype(str)
    table["cluster"] = table["cluster"].astype(str)
    return table


def cluster_notes(comparison: pd.DataFrame) -> dict[str, str]:
    """Why each cluster compare could not test was left out (cluster → note), as the kernel's
    ``compare`` op reports it: a cluster is tested when some gene got a p value."""
    notes = {}
    for cluster, rows in comparison.groupby("cluster", sort=False, observed=True):
        if not np.isfinite(rows["pvalue"].to_numpy(dtype=np.float64)).any():
            notes[str(cluster)] = str(rows["note"].iloc[0])
    return notes


def difference_data(
    adata: AnnData, spec: Mapping[str, Any], comparison: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The condition difference heatmap (``value: "log2fc"``): one row per (gene, cluster),
    in the plot's order, from :func:`heatmap_comparison` (``comparison`` when computed).

    Columns :data:`DIFFERENCE_COLUMNS`: ``column`` and ``cluster`` are the cluster label;
    ``log2fc`` (target over reference), ``stat``, ``pvalue``, ``padj``, the cell and sample
    counts (``_a``: reference, ``_b``: target) and ``method`` are compare's; ``value`` is
    ``log2fc`` where shown and NaN where ``masked`` (the cluster was not tested, or the gene
    has no log2FC there); ``mark`` is the significance mark of ``padj``. Rows: the selected
    genes, or the top ``top_n`` changed genes per cluster ("markers"). ``cluster_genes`` /
    ``cluster_columns`` order by average linkage on ``value`` as the other heatmaps (untested
    clusters, and genes without a value in every tested cluster, last); no scaling.
    ``attrs['limit']`` is the colour scale's half range: the largest |log2FC| shown, at
    least 1; ``attrs['notes']`` why untested clusters were not tested.
    """
    if comparison is None:
        comparison = heatmap_comparison(adata, spec)
    attrs = comparison.attrs
    clusters = list(attrs["clusters"])
    marker_table = None
    if spec["gene_source"] == "markers":
        marker_table = changed_genes(comparison, spec["top_n"])
        genes = list(dict.fromkeys(marker_table["gene"]))
    else:
        held = set(comparison["gene"].astype(str))
        missing = set(_difference_missing(adata, spec, attrs["method"]))
        genes = [g for g in dict.fromkeys(spec["genes"]) if g in held and g not in missing]
    notes = cluster_notes(comparison)
    compared = set(comparison["cluster"].astype(str))
    untested = np.array([c in notes or c not in compared for c in clusters], dtype=bool)

    keyed = comparison.assign(
        gene=comparison["gene"].astype(str), cluster=comparison["cluster"].astype(str)
    ).set_index(["gene", "cluster"])
    cells = keyed.reindex(pd.MultiIndex.from_product([genes, clusters], names=["gene", "cluster"]))
    n_rows, n_cols = len(genes), len(clusters)
    log2fc = cells["log2fc"].to_numpy(dtype=np.float64).reshape(n_rows, n_cols)
    value = log2fc.copy()
    value[:, untested] = np.nan
    row_order, column_order = _cluster_order(value, untested, spec)

    pick = np.ix_(row_order, column_order)
    rows, cols = np.asarray(row_order, dtype=np.int64), np.asarray(column_order, dtype=np.int64)
    ordered = cells.iloc[(rows[:, None] * n_cols + cols[None, :]).ravel()]  # the frame's order
    shown = value[pick].ravel()
    padj = ordered["padj"].to_numpy(dtype=np.float64)
    masked = ~np.isfinite(shown)
    frame = pd.DataFrame(
        {
            "gene": np.repeat(np.array(genes, dtype=object)[row_order], n_cols),
            "column": np.tile(np.array(clusters, dtype=object)[column_order], n_rows),
        }
    )
    frame["cluster"] = frame["column"]
    frame["log2fc"] = log2fc[pick].ravel()
    frame["value"] = shown
    for key in ("stat", "pvalue"):
        frame[key] = ordered[key].to_numpy(dtype=np.float64)
    frame["padj"] = padj
    frame["mark"] = [
        "" if hidden else significance_mark(p) for p, hidden in zip(padj, masked, strict=True)
    ]
    for key in ("n_cells_a", "n_cells_b"):
        frame[key] = ordered[key].to_numpy(dtype=np.float64).astype(np.int64)
    for key in ("n_samples_a", "n_samples_b"):
        frame[key] = pd.array(ordered[key].to_numpy(), dtype="Int64")
    frame["masked"] = masked
    frame["method"] = ordered["method"].astype(str).to_numpy()
    frame["reference"] = attrs["reference"]
    frame["target"] = attrs["target"]
    frame = frame[DIFFERENCE_COLUMNS]
    finite = np.abs(shown[np.isfinite(shown)])
    frame.attrs.update(
        {
            "kind": "heatmap",
            "value": LOG2FC,
            "scaling": "none",
            "matrix": attrs["matrix"],
            "method": attrs["method"],
            "caveat": attrs["caveat"],
            "reference": attrs["reference"],
            "target": attrs["target"],
            "dataset_key": attrs["dataset_key"],
            "cluster_key": attrs["cluster_key"],
            "sample_key": attrs["sample_key"],
            "genes": [genes[r] for r in row_order],
            "columns": [clusters[j] for j in column_order],
            "limit": float(max(1.0, finite.max() if finite.size else 0.0)),
            "notes": notes,
            "missing_genes": _difference_missing(adata, spec, attrs["method"]),
            "unknown_clusters": list(attrs["unknown_clusters"]),
        }
    )
    if marker_table is not None:
        frame.attrs["markers_source"] = f"top changed genes ({attrs['method']})"
    return frame


# -- dual expression --------------------------------------------------------------------------


def dual_grouping(spec: Mapping[str, Any]) -> list[str]:
    """The obs columns ``.data`` correlates within: the facets' grouping when the plot is
    faceted (dataset × cluster: both columns, labels "stim · 3"), else the colour's."""
    grouping = spec["facet_by"] if spec["facet_by"] != "none" else spec["color_by"]
    roles = ["dataset", "cluster"] if grouping == "dataset_cluster" else [grouping]
    return [spec[f"{role}_column"] for role in roles]


def dual_data(adata: AnnData, spec: Mapping[str, Any]) -> pd.DataFrame:
    """Per-group correlation of the two genes (:func:`exprscope.correlate`) over the cells
    the cluster filter keeps, with the spec's ``detected_only``, ``n_boot`` and ``seed``."""
    groupby = dual_grouping(spec)
    genes = list(dict.fromkeys([spec["gene_x"], spec["gene_y"]]))
    _, missing = split_genes(adata, spec["matrix"], genes)
    keep, unknown = kept_cells(adata, spec)
    if missing or (keep is not None and not keep.any()):
        frame = pd.DataFrame({column: [] for column in CORRELATION_COLUMNS})
    else:
        layer, use_raw = matrix_arguments(spec["matrix"])
        frame = correlate(
            _subset(adata, keep),
            spec["gene_x"],
            spec["gene_y"],
            groupby,
            layer=layer,
            use_raw=use_raw,
            detected_only=spec["detected_only"],
            n_boot=spec["n_boot"],
            seed=spec["seed"],
        )
    frame.attrs.update(
        {
            "kind": "dual_expression",
            "matrix": spec["matrix"],
            "genes": (spec["gene_x"], spec["gene_y"]),
            "groupby": groupby,
            "missing_genes": missing,
            "unknown_clusters": unknown,
        }
    )
    return frame


def dual_cells(adata: AnnData, spec: Mapping[str, Any]) -> pd.DataFrame:
    """One row per cell kept by the cluster filter (index: obs names): ``x``, ``y`` (the two
    genes' stored values), ``detected`` (both > 0), then ``dataset`` / ``cluster`` labels
    (as text; None when missing) for the columns the spec names."""
    layer, use_raw = matrix_arguments(spec["matrix"])
    choice = resolve_matrix(adata, layer, use_raw)
    keep, _ = kept_cells(adata, spec)
    rows = np.arange(adata.n_obs) if keep is None else np.flatnonzero(keep)
    columns: dict[str, Any] = {}
    for axis in ("x", "y"):
        genes, _ = split_genes(adata, spec["matrix"], [spec[f"gene_{axis}"]])
        if genes:
            values = select_columns(choice.data, choice.var_names.get_indexer(genes))
            values = values.toarray() if sparse.issparse(values) else values
            columns[axis] = np.asarray(values, dtype=np.float64)[rows, 0]
        else:
            columns[axis] = np.full(rows.size, np.nan)
    columns["detected"] = (columns["x"] > 0) & (columns["y"] > 0)
    for role in ("dataset", "cluster"):
        column = spec[f"{role}_column"]
        if column is not None:
            columns[role] = cell_labels(adata, column)[rows]
    frame = pd.DataFrame(columns, index=adata.obs_names[rows])
    frame.attrs.update({"matrix": spec["matrix"], "genes": (spec["gene_x"], spec["gene_y"])})
    return frame
