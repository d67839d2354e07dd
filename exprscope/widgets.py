# Over 600 lines: the widget classes plus the argument checks of heatmap()/dual_expression() that build them (the checks are the seam for a later split).
"""Notebook widgets: the sidebar's interactive plots in a cell's output, from Python.

``exprscope.heatmap(adata, ...)`` and ``exprscope.dual_expression(adata, ...)`` check their
arguments (any mistake raises before anything is drawn), build a plot spec
(docs/plot-spec.md) and return a widget whose synced ``spec`` the frontend draws and writes
the user's changes back into. ``.data`` always reflects the current spec: it is recomputed
with :mod:`exprscope.plot_data` when the spec (or the object) changed since the last access.

The frontend reads the object's data over the exprscope comm by name (``spec["object"]``):
the variable that holds the object, or a handle registered in :mod:`exprscope.kernel.objects`
when no variable does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from ipywidgets import DOMWidget
from traitlets import Dict, Unicode

from . import __version__, adapters, plot_data
from .adapters.anndata import AnnDataAdapter
from .compute._matrix import resolve_matrix
from .compute.compare import PSEUDOBULK, WILCOXON, guess_sample_key
from .kernel import objects
from .spec import (
    COLOR_BYS,
    DENSITIES,
    DUAL_EXPRESSION,
    FACET_BYS,
    GROUP_BYS,
    HEATMAP,
    LOG2FC,
    MARKER_METHODS,
    MAX_TOP_N,
    METRICS,
    SCALINGS,
    VALUES,
    build_spec,
    read_spec,
)

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = [
    "PLOT_MIME_TYPE",
    "DualExpressionWidget",
    "HeatmapWidget",
    "PlotWidget",
    "dual_expression",
    "heatmap",
]

#: The output MIME type the frontend's renderer draws (it finds the live model by id).
PLOT_MIME_TYPE = "application/vnd.exprscope.plot+json"

_DEFAULT_TOP_N = 10
_MARKER_KEYS = ("object", "matrix", "cluster_column", "top_n", "marker_method", "clusters")


class PlotWidget(DOMWidget):
    """An exprscope plot in a notebook output; ``spec`` is synced both ways.

    Build one with :func:`heatmap` / :func:`dual_expression`, or from a spec (e.g. one copied
    from the sidebar) with ``HeatmapWidget.from_spec(adata, spec)``.
    """

    _model_name = Unicode("ExprscopePlotModel").tag(sync=True)
    _view_name = Unicode("ExprscopePlotView").tag(sync=True)
    _model_module = Unicode("exprscope").tag(sync=True)
    _view_module = Unicode("exprscope").tag(sync=True)
    _model_module_version = Unicode("^" + __version__).tag(sync=True)
    _view_module_version = Unicode("^" + __version__).tag(sync=True)

    spec = Dict().tag(sync=True)
    kind = Unicode().tag(sync=True)

    _kind: ClassVar[str]

    def __init__(
        self,
        adata: AnnData,
        spec: Mapping[str, Any],
        *,
        _names: Mapping[str, str] = plot_data.SPEC_NAMES,
    ):
        _check_adata(adata)
        spec = read_spec(spec)
        if spec["kind"] != self._kind:
            raise ValueError(
                f"{type(self).__name__} draws {self._kind!r} specs, not {spec['kind']!r}."
            )
        plot_data.check_spec(adata, spec, _names)
        # Name the object only once every check passed: a failed call registers nothing.
        self._adata = adata
        self._handle: str | None = None
        name = objects.find_name(adata)
        if name is None:
            name = self._handle = objects.hold(adata, self)
        self._name = name
        self._cache: dict[str, tuple[str, Any]] = {}
        try:
            super().__init__(spec={**spec, "object": name}, kind=self._kind)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_spec(cls, adata: AnnData, spec: Mapping[str, Any]) -> PlotWidget:
        """The plot a spec describes (e.g. one copied from the sidebar), drawn from ``adata``:
        the spec's ``object`` is replaced by ``adata``'s name. Raises when the spec does not
        fit the object."""
        if not isinstance(spec, Mapping):
            raise TypeError(f"spec must be a dict (a plot spec), not {type(spec).__name__}.")
        return cls(adata, {**spec, "object": cls._placeholder})

    _placeholder = "adata"  # replaced by the object's name once the spec is checked

    def close(self) -> None:
        if getattr(self, "_handle", None) is not None:
            objects.release(self._handle, id(self))
            self._handle = None
        super().close()

    @property
    def adata(self) -> AnnData:
        """The object the plot currently shows: the one ``spec["object"]`` names now, as the
        frontend resolves it (the object given, unless the name was rebound or changed)."""
        name = self.spec.get("object")
        try:
            obj = objects.resolve(name) if isinstance(name, str) else None
        except KeyError:
            obj = None
        if obj is None and name == self._name:
            obj = self._adata  # e.g. plain Python, where there is no user namespace
        if obj is None:
            raise KeyError(f"spec['object'] is {name!r}: no such object in the kernel.")
        if not AnnDataAdapter.accepts(obj):
            raise TypeError(f"spec['object'] {name!r} is now a {type(obj).__name__}, not AnnData.")
        return obj

    def current_spec(self) -> dict[str, Any]:
        """The synced spec, read and normalised (raises when the frontend wrote a bad one)."""
        spec = read_spec(self.spec)
        if spec["kind"] != self._kind:
            raise ValueError(f"The spec's kind is {spec['kind']!r}, not {self._kind!r}.")
        return spec

    def _cached(self, what: str, compute, keys: Sequence[str] | None = None) -> Any:
        """``compute(adata, spec)``, recomputed when the spec (its ``keys``, default all) or
        the object changed since the last call."""
        adata = self.adata
        spec = self.current_spec()
        used = spec if keys is None else {key: spec[key] for key in keys}
        # The adapter's fingerprint changes when the object does (e.g. a reassigned obs column)
        key = json.dumps(used, sort_keys=True) + adapters.adapter_for(adata).fingerprint()
        entry = self._cache.get(what)
        if entry is None or entry[0] != key:
            entry = (key, compute(adata, spec))
            self._cache[what] = entry
        return entry[1]

    def _describe(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # No widget-view MIME type on purpose: a missing model must never show "model not
        # found"; the frontend's renderer finds the live model by id.
        return {
            "text/plain": self._describe(),
            PLOT_MIME_TYPE: {"model_id": self.model_id, "spec": self.spec, "version": __version__},
        }

    def _object_text(self) -> str:
        name = str(self.spec.get("object", ""))
        matrix = plot_data.matrix_label(self.spec.get("matrix", ""))
        what = "an unnamed object" if name.startswith(objects.HANDLE_PREFIX) else name
        return f"of {what} ({matrix})"


class HeatmapWidget(PlotWidget):
    """Genes × datasets / clusters / dataset · cluster: mean, fraction expressing or a dot
    plot, rows scaled, optionally ordered by average-linkage clustering; or genes × clusters:
    the log2 fold change between two datasets (the condition difference heatmap)."""

    _kind = HEATMAP

    @property
    def data(self) -> pd.DataFrame:
        """One row per (gene, column) plotted, in the plot's order: ``gene``, ``column``,
        ``dataset`` / ``cluster`` (as the grouping has), ``n_cells``, ``masked``, ``mean``,
        ``fraction``, ``linear_mean``, ``value`` (the coloured number); see
        :func:`exprscope.plot_data.heatmap_data`. For ``value="log2fc"`` one row per (gene,
        cluster) with :func:`exprscope.compare`'s numbers (``log2fc``, ``stat``, ``pvalue``,
        ``padj``, cell and sample counts), the significance ``mark`` and ``masked``; see
        :func:`exprscope.plot_data.difference_data`."""

        def compute(adata: AnnData, spec: dict[str, Any]) -> pd.DataFrame:
            if spec["value"] == LOG2FC:
                return plot_data.heatmap_data(adata, spec, None, self._comparison())
            markers = self._markers() if spec["gene_source"] == "markers" else None
            return plot_data.heatmap_data(adata, spec, markers)

        return self._cached("data", compute).copy()

    @property
    def markers(self) -> pd.DataFrame | None:
        """The marker table behind the rows in "top N markers" mode (else None); for the
        log2FC heatmap the top changed genes per cluster: ``gene``, ``cluster``, ``log2fc``,
        ``padj``."""
        spec = self.current_spec()
        if spec["gene_source"] != "markers":
            return None
        if spec["value"] == LOG2FC:
            return plot_data.changed_genes(self._comparison(), spec["top_n"])
        return self._markers().copy()

    def _comparison(self) -> pd.DataFrame:
        # The tests (DESeq2 fits) are the slow part: redone only when what they depend on
        # changed, not when e.g. the ordering or top_n did
        keys = plot_data.comparison_keys(self.current_spec())
        return self._cached("comparison", plot_data.heatmap_comparison, keys)

    def _markers(self) -> pd.DataFrame:
        # A search over every gene: redone only when what it depends on changed, not when
        # e.g. the scaling did
        return self._cached("markers", plot_data.heatmap_markers, _MARKER_KEYS)

    def _describe(self) -> str:
        try:
            spec = self.current_spec()
            if spec["value"] == LOG2FC:
                return self._describe_difference(spec)
            columns = plot_data.heatmap_columns(self.adata, spec)
        except Exception:  # a repr must not raise
            return f"exprscope heatmap {self._object_text()}"
        rows = (
            f"top {spec['top_n']} markers per cluster"
            if spec["gene_source"] == "markers"
            else _count(len(dict.fromkeys(spec["genes"])), "gene")
        )
        noun = {
            "cluster": "cluster",
            "dataset": "dataset",
            "dataset_cluster": "dataset · cluster column",
        }[spec["group_by"]]
        return f"exprscope heatmap: {rows} × {_count(len(columns.labels), noun)} " + (
            self._object_text()
        )

    def _describe_difference(self, spec: dict[str, Any]) -> str:
        adata = self.adata
        resolved = plot_data.comparison_arguments(adata, spec)  # obs only: no test runs
        columns = plot_data.heatmap_columns(adata, {**spec, "group_by": "cluster"})
        rows = (
            f"top {spec['top_n']} changed genes per cluster"
            if spec["gene_source"] == "markers"
            else _count(len(dict.fromkeys(spec["genes"])), "gene")
        )
        return (
            f"exprscope heatmap: log2FC {resolved['target']} vs {resolved['reference']}, "
            f"{rows} × {_count(len(columns.labels), 'cluster')} ({resolved['method']}) "
            + self._object_text()
        )


class DualExpressionWidget(PlotWidget):
    """Gene X against gene Y, one point per cell, with correlations per group."""

    _kind = DUAL_EXPRESSION

    @property
    def data(self) -> pd.DataFrame:
        """Correlation of the two genes per group (:func:`exprscope.correlate`): per facet
        when the plot is faceted, else per colour group; cells of the kept clusters only.
        ``attrs['groupby']`` names the obs column(s)."""
        return self._cached("data", plot_data.dual_data).copy()

    @property
    def cells(self) -> pd.DataFrame:
        """One row per cell of the kept clusters: ``x``, ``y``, ``detected``, ``dataset``,
        ``cluster``."""
        return self._cached("cells", plot_data.dual_cells).copy()

    def _describe(self) -> str:
        spec = self.spec
        try:
            grouping = spec["facet_by"] if spec["facet_by"] != "none" else spec["color_by"]
            text = f"{spec['gene_x']} vs {spec['gene_y']} by {grouping.replace('_', ' · ')}"
        except (KeyError, AttributeError):
            return f"exprscope dual expression {self._object_text()}"
        return f"exprscope dual expression: {text} {self._object_text()}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# -- the functions users call -----------------------------------------------------------------


def heatmap(
    adata: AnnData,
    genes: str | Sequence[str] | None = None,
    *,
    top_n: int | None = None,
    marker_method: str = "auto",
    groupby: str = "cluster",
    dataset_key: str | None = None,
    cluster_key: str | None = None,
    layer: str | None = None,
    use_raw: bool | None = None,
    clusters: Sequence[str | int] | None = None,
    value: str = "mean",
    reference: str | None = None,
    target: str | None = None,
    sample_key: str | None = None,
    method: str | None = None,
    scale: str = "zscore",
    zscore_clip: float = 2.5,
    min_cells: int = 10,
    cluster_genes: bool = False,
    cluster_columns: bool = False,
    metric: str = "euclidean",
) -> HeatmapWidget:
    """The exprscope heatmap / dot plot of ``adata`` in the cell's output.

    Parameters
    ----------
    genes
        The rows: one gene or a list. None (the default): the top ``top_n`` markers per
        cluster (default 10), as the sidebar finds them. Giving both is an error.
    marker_method
        The test that ranks the top markers: ``"auto"`` (a ``rank_genes_groups`` result
        stored for the cluster column, else the Welch t-test), ``"t-test"`` (computed, as
        ``rank_genes_groups(method='t-test')``) or ``"wilcoxon"`` (computed, as
        ``rank_genes_groups(method='wilcoxon')``); see :func:`exprscope.markers`.
    groupby
        The columns: ``"cluster"``, ``"dataset"`` or ``"dataset_cluster"`` ("stim · 3").
    dataset_key, cluster_key
        obs columns holding the dataset and the cluster; None: the sidebar's guesses.
    layer, use_raw
        The matrix: ``layers[layer]``, ``raw`` (True) or ``X`` (False); by default as
        :func:`exprscope.aggregate` (``raw`` when present and no layer is given).
    clusters
        Clusters to keep (labels, compared as text); None: all.
    value
        ``"mean"``, ``"linear_mean"`` (log1p(mean(expm1(x)))), ``"fraction"`` (> 0),
        ``"dot"`` (colour: mean, size: fraction) or ``"log2fc"``: the condition difference
        heatmap, log2 fold change of ``target`` over ``reference`` within each cluster
        (:func:`exprscope.compare`; columns: the clusters; no scaling, one symmetric colour
        scale; significance marks by adjusted p). With ``genes=None`` the rows are the top
        ``top_n`` changed genes per cluster.
    reference, target
        For ``value="log2fc"``: the datasets compared (categories of the dataset column);
        ``reference`` is required, ``target`` None: the one other dataset.
    sample_key
        obs column holding the sample (replicate, donor); None: guessed for
        ``value="log2fc"`` (as the sidebar), else not set.
    method
        For ``value="log2fc"``: ``"pseudobulk"`` (DESeq2 on counts summed per sample),
        ``"wilcoxon"`` (cells as replicates, which they are not) or None: pseudobulk when
        there is a sample column, else Wilcoxon (:func:`exprscope.compare`'s rule).
    scale, zscore_clip
        Row scaling across columns: ``"zscore"`` (clipped at ±zscore_clip; ≤ 0: no clip),
        ``"minmax"`` or ``"none"``.
    min_cells
        Columns with fewer cells are masked (log2fc: compare's ``min_cells``, at least 1).
    cluster_genes, cluster_columns, metric
        Average-linkage ordering of rows / columns, ``"euclidean"`` or ``"correlation"``.

    Returns
    -------
    HeatmapWidget
        Displays the plot; ``.data`` holds its numbers, ``.spec`` its parameters.
    """
    _check_adata(adata)
    if genes is not None and top_n is not None:
        raise ValueError("Give either genes or top_n (top markers per cluster), not both.")
    gene_list = _genes(genes) if genes is not None else []
    top_n = _integer("top_n", _DEFAULT_TOP_N if top_n is None else top_n, 1, MAX_TOP_N)
    _choice("marker_method", marker_method, MARKER_METHODS)
    _choice("groupby", groupby, GROUP_BYS)
    _choice("value", value, VALUES)
    comparison = _comparison_keys(value, groupby, reference, target, method)
    _choice("scale", scale, SCALINGS)
    _choice("metric", metric, METRICS)
    if isinstance(zscore_clip, bool | np.bool_) or not isinstance(zscore_clip, Real):
        raise TypeError(f"zscore_clip must be a number, not {zscore_clip!r}.")
    if not math.isfinite(zscore_clip):
        raise ValueError(f"zscore_clip must be finite (≤ 0: no clipping), not {zscore_clip!r}.")
    min_cells = _integer("min_cells", min_cells, 0, None)
    _boolean("cluster_genes", cluster_genes)
    _boolean("cluster_columns", cluster_columns)
    keys = {
        "gene_source": "selected" if genes is not None else "markers",
        "genes": gene_list,
        "top_n": top_n,
        "marker_method": marker_method,
        "group_by": groupby,
        "value": value,
        **comparison,
        "scaling": scale,
        "zscore_clip": float(zscore_clip),
        "min_cells": min_cells,
        "cluster_genes": cluster_genes,
        "cluster_columns": cluster_columns,
        "metric": metric,
    }
    spec = _spec(
        HEATMAP,
        adata,
        keys,
        dataset_key,
        cluster_key,
        layer,
        use_raw,
        clusters,
        sample_key=sample_key,
        guess_sample=value == LOG2FC,
    )
    return HeatmapWidget(adata, spec, _names=_CALL_NAMES)


def _comparison_keys(
    value: str, groupby: str, reference: Any, target: Any, method: Any
) -> dict[str, Any]:
    """The spec's ``reference``, ``target``, ``compare_method`` of a :func:`heatmap` call."""
    given = [
        name
        for name, argument in (("reference", reference), ("target", target), ("method", method))
        if argument is not None
    ]
    if value != LOG2FC:
        if given:
            raise ValueError(
                f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} for "
                f"value='log2fc' (the condition difference heatmap) only, not value={value!r}."
            )
        return {"reference": None, "target": None, "compare_method": "auto"}
    if reference is None:
        raise ValueError(
            "value='log2fc' needs reference=<dataset>: the dataset the fold change is taken "
            "against (e.g. reference='ctrl'), a category of the dataset column."
        )
    if groupby != "cluster":
        raise ValueError(
            f"value='log2fc' has the clusters as columns: leave groupby='cluster', not {groupby!r}."
        )
    labels = {}
    for name, label in (("reference", reference), ("target", target)):
        if label is not None and (
            not isinstance(label, str | Integral) or isinstance(label, bool | np.bool_)
        ):
            raise TypeError(f"{name} must be a dataset label (a string), not {label!r}.")
        labels[name] = None if label is None else str(label)
    if method is not None:
        _choice("method", method, (PSEUDOBULK, WILCOXON))
    return {**labels, "compare_method": "auto" if method is None else method}


def dual_expression(
    adata: AnnData,
    gene_x: str,
    gene_y: str,
    *,
    color_by: str = "dataset",
    facet_by: str = "none",
    dataset_key: str | None = None,
    cluster_key: str | None = None,
    clusters: Sequence[str | int] | None = None,
    layer: str | None = None,
    use_raw: bool | None = None,
    detected_only: bool = False,
    jitter: bool = False,
    density: str = "auto",
    marginals: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    embedding: str | None = None,
) -> DualExpressionWidget:
    """The exprscope dual-expression plot (gene X against gene Y) in the cell's output.

    Parameters
    ----------
    gene_x, gene_y
        The two genes.
    color_by, facet_by
        Colour by ``"dataset"`` or ``"cluster"``; facets ``"none"``, ``"dataset"``,
        ``"cluster"`` or ``"dataset_cluster"``.
    dataset_key, cluster_key, clusters, layer, use_raw
        As in :func:`heatmap`.
    detected_only
        Correlate (and draw) only cells where both genes are > 0.
    jitter, density, marginals
        Drawing aids (``density``: ``"auto"``, ``"on"``, ``"off"``); they never change the
        numbers.
    n_boot, seed
        Bootstrap resamples of the Spearman interval and their seed.
    embedding
        obsm key of the embedding for the two-gene blend (e.g. ``"X_umap"``), or None.

    Returns
    -------
    DualExpressionWidget
        Displays the plot; ``.data`` holds the correlations per group (per facet when
        faceted, else per colour group), ``.cells`` the per-cell values.
    """
    _check_adata(adata)
    for name, gene in (("gene_x", gene_x), ("gene_y", gene_y)):
        if not isinstance(gene, str):
            raise TypeError(f"{name} must be a gene name (a string), not {gene!r}.")
    _choice("color_by", color_by, COLOR_BYS)
    _choice("facet_by", facet_by, FACET_BYS)
    _choice("density", density, DENSITIES)
    for name, flag in (("detected_only", detected_only), ("jitter", jitter)):
        _boolean(name, flag)
    _boolean("marginals", marginals)
    n_boot = _integer("n_boot", n_boot, 0, None)
    seed = _integer("seed", seed, None, None)
    if embedding is not None and not isinstance(embedding, str):
        raise TypeError(f"embedding must be an obsm key (a string) or None, not {embedding!r}.")
    keys = {
        "gene_x": gene_x,
        "gene_y": gene_y,
        "color_by": color_by,
        "facet_by": facet_by,
        "detected_only": detected_only,
        "jitter": jitter,
        "density": density,
        "marginals": marginals,
        "n_boot": n_boot,
        "seed": seed,
        "embedding": embedding,
    }
    spec = _spec(DUAL_EXPRESSION, adata, keys, dataset_key, cluster_key, layer, use_raw, clusters)
    return DualExpressionWidget(adata, spec, _names=_CALL_NAMES)


# How the spec's keys are called in the errors of the two functions
_CALL_NAMES = {
    **plot_data.SPEC_NAMES,
    "matrix": "layer/use_raw",
    "dataset_column": "dataset_key",
    "cluster_column": "cluster_key",
    "sample_column": "sample_key",
    "compare_method": "method",
}


def _spec(
    kind: str,
    adata: AnnData,
    keys: dict[str, Any],
    dataset_key: str | None,
    cluster_key: str | None,
    layer: str | None,
    use_raw: bool | None,
    clusters: Sequence[str | int] | None,
    *,
    sample_key: str | None = None,
    guess_sample: bool = False,
) -> dict[str, Any]:
    """The spec of a call: matrix, grouping columns (guessed when not given; the sample
    column only when ``guess_sample``) and clusters."""
    matrix = _matrix(adata, layer, use_raw)
    columns = {}
    guesses = plot_data.column_guesses(adata)
    for role, given in (("dataset", dataset_key), ("cluster", cluster_key)):
        name = f"{role}_key"
        if given is not None and not isinstance(given, str):
            raise TypeError(f"{name} must be an obs column name (a string), not {given!r}.")
        if given is not None:
            plot_data.check_column(adata, given, name)
        columns[f"{role}_column"] = given if given is not None else guesses[role]
    if sample_key is not None and not isinstance(sample_key, str):
        raise TypeError(f"sample_key must be an obs column name (a string), not {sample_key!r}.")
    if sample_key is not None:
        plot_data.check_column(adata, sample_key, "sample_key")
    elif guess_sample:
        # The rule the sidebar and compare use: a sample column nested in the datasets
        sample_key = guess_sample_key(adata.obs, columns["dataset_column"])
    columns["sample_column"] = sample_key
    cluster_labels = None
    if clusters is not None:
        items = _items(clusters)
        if items is None or not all(
            isinstance(c, str | Integral) and not isinstance(c, bool | np.bool_) for c in items
        ):
            raise TypeError(
                f"clusters must be a list of cluster labels (strings or integers), not "
                f"{clusters!r}."
            )
        if len(items) == 0:
            raise ValueError("clusters is empty: give at least one cluster, or None for all.")
        cluster_labels = list(dict.fromkeys(str(c) for c in items))
    return build_spec(
        kind,
        object=PlotWidget._placeholder,
        matrix=matrix,
        clusters=cluster_labels,
        **columns,
        **keys,
    )


def _items(value: Any) -> list[Any] | None:
    """A label or list-like of labels as a list (None when it is neither)."""
    if isinstance(value, str | Integral):
        return [value]
    if isinstance(value, Sequence | np.ndarray | pd.Index | pd.Series):
        return list(value)
    return None


def _check_adata(adata: Any) -> None:
    if not AnnDataAdapter.accepts(adata):
        raise TypeError(f"adata must be an AnnData object, not {type(adata).__name__}.")


def _matrix(adata: AnnData, layer: str | None, use_raw: bool | None) -> str:
    """The matrix id for (layer, use_raw), with the resolver of :func:`exprscope.aggregate`."""
    if layer is not None and not isinstance(layer, str):
        raise TypeError(f"layer must be a layer name (a string) or None, not {layer!r}.")
    if use_raw is not None and not isinstance(use_raw, bool):
        raise TypeError(f"use_raw must be True, False or None, not {use_raw!r}.")
    if layer is not None and layer not in adata.layers:
        raise KeyError(
            f"layer={layer!r} is not a layer of the object; layers: {list(adata.layers)}."
        )
    if layer is not None and use_raw:
        raise ValueError(f"Give layer={layer!r} or use_raw=True, not both.")
    if use_raw and adata.raw is None:
        raise ValueError("use_raw=True but the object has no .raw.")
    return resolve_matrix(adata, layer, use_raw).label


def _genes(genes: Any) -> list[str]:
    items = [genes] if isinstance(genes, str) else _items(genes)
    if items is None or isinstance(genes, Integral) or not all(isinstance(g, str) for g in items):
        raise TypeError(f"genes must be a gene name or a list of gene names, not {genes!r}.")
    genes = items
    if len(genes) == 0:
        raise ValueError("genes is empty: give at least one gene, or None for the top markers.")
    return list(dict.fromkeys(genes))


def _choice(name: str, value: Any, options: Sequence[str]) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {', '.join(map(repr, options))}, not {value!r}.")
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, not {value!r}.")


def _boolean(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}.")


def _integer(name: str, value: Any, minimum: int | None, maximum: int | None) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, not {value!r}.")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"≥ {minimum}"
        raise ValueError(f"{name} must be {bounds}, not {value!r}.")
    return int(value)
