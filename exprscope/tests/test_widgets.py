# Over 600 lines: one module-scoped demo dataset shared by every widget test (loading it per file would multiply the run time).
"""The notebook widgets' Python side: argument checks, ``.data``, the spec, the output, naming.

Numbers are checked on the real Kang 2018 demo data (``dataset`` ctrl/stim, ``cluster`` 0–7,
``layers['integrated']`` NaN outside its 2,000 genes) against scanpy's ``sc.get.aggregate``,
scipy (``zscore``, ``linkage`` + ``dendrogram``, ``pearsonr``/``spearmanr``) and the Python
API they reuse. The last tests drive a real kernel (kernel_harness) like the frontend does.
"""

from __future__ import annotations

import json
import warnings

import ipywidgets
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from kernel_harness import KANG_PBMC_H5AD
from scipy import sparse, stats
from scipy.cluster.hierarchy import dendrogram, linkage

import exprscope
from exprscope import datasets, plot_data
from exprscope.kernel import objects
from exprscope.spec import SpecError
from exprscope.synthetic import make_synthetic
from exprscope.widgets import PLOT_MIME_TYPE, DualExpressionWidget, HeatmapWidget, PlotWidget

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

GENES = ["ISG15", "CD14", "LYZ", "MS4A1", "NKG7", "IFI6"]
CLUSTERS = [str(k) for k in range(8)]


@pytest.fixture(scope="module")
def kang():
    if not datasets.KANG_PBMC_PATH.is_file():
        pytest.skip("the Kang demo data (exprscope/data/kang_pbmc.h5ad) is not built")
    return datasets.kang_pbmc()


@pytest.fixture
def opened():
    """Widgets created by a test, closed after it (and the registry left as found)."""
    widgets: list[PlotWidget] = []
    yield widgets
    for widget in widgets:
        widget.close()


def dense(matrix) -> np.ndarray:
    return matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix)


def as_matrix(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The long ``.data`` as genes × columns, in the plot's order."""
    genes = list(dict.fromkeys(frame["gene"]))
    return frame[column].to_numpy(dtype=float).reshape(len(genes), -1)


# -- argument checks ---------------------------------------------------------------------------


HEATMAP_ERRORS = [
    # (arguments, exception, fragments of the message)
    ({"genes": ["ISG15", "NOTAGENE"]}, KeyError, ["genes", "'NOTAGENE'"]),
    ({"genes": ["ISG15", "CD3E"], "layer": "integrated"}, KeyError, ["genes", "'CD3E'", "NaN"]),
    ({"genes": 42}, TypeError, ["genes", "42"]),
    ({"genes": ["ISG15", 3]}, TypeError, ["genes"]),
    ({"genes": []}, ValueError, ["genes is empty"]),
    ({"genes": ["ISG15"], "top_n": 5}, ValueError, ["genes", "top_n"]),
    ({"top_n": 0}, ValueError, ["top_n", "1 to 100", "0"]),
    ({"top_n": 101}, ValueError, ["top_n", "101"]),
    ({"top_n": "5"}, TypeError, ["top_n", "'5'"]),
    ({"groupby": "leiden"}, ValueError, ["groupby", "'leiden'"]),
    ({"groupby": ["cluster"]}, TypeError, ["groupby"]),
    ({"value": "median"}, ValueError, ["value", "'median'"]),
    ({"scale": "log"}, ValueError, ["scale", "'log'"]),
    ({"metric": "cosine"}, ValueError, ["metric", "'cosine'"]),
    ({"zscore_clip": "2"}, TypeError, ["zscore_clip", "'2'"]),
    ({"zscore_clip": float("inf")}, ValueError, ["zscore_clip", "inf"]),
    ({"min_cells": -1}, ValueError, ["min_cells", "-1"]),
    ({"min_cells": 2.5}, TypeError, ["min_cells", "2.5"]),
    ({"cluster_genes": "yes"}, TypeError, ["cluster_genes", "'yes'"]),
    ({"cluster_columns": 1}, TypeError, ["cluster_columns", "1"]),
    ({"dataset_key": "stim"}, KeyError, ["dataset_key", "'stim'", "obs columns"]),
    ({"cluster_key": "n_counts"}, ValueError, ["cluster_key", "'n_counts'", "grouping"]),
    ({"cluster_key": 3}, TypeError, ["cluster_key", "3"]),
    ({"layer": "scaled"}, KeyError, ["layer", "'scaled'", "counts", "integrated"]),
    ({"layer": 0}, TypeError, ["layer", "0"]),
    ({"use_raw": True}, ValueError, ["use_raw", ".raw"]),
    ({"use_raw": "no"}, TypeError, ["use_raw", "'no'"]),
    ({"layer": "counts", "use_raw": True}, ValueError, ["layer='counts'", "use_raw"]),
    ({"clusters": ["0", "99", "x"]}, ValueError, ["clusters", "'99'", "'x'"]),
    ({"clusters": [0, 2.5]}, TypeError, ["clusters", "2.5"]),
    ({"clusters": []}, ValueError, ["clusters is empty"]),
    # the condition difference heatmap
    ({"value": "log2fc"}, ValueError, ["value='log2fc'", "reference="]),
    ({"value": "log2fc", "reference": "nope"}, ValueError, ["'nope'", "ctrl", "stim"]),
    ({"value": "log2fc", "reference": "ctrl", "target": "ctrl"}, ValueError, ["Target", "ctrl"]),
    ({"value": "log2fc", "reference": ["ctrl"]}, TypeError, ["reference", "['ctrl']"]),
    ({"reference": "ctrl"}, ValueError, ["reference", "value='log2fc'", "'mean'"]),
    ({"value": "dot", "method": "wilcoxon"}, ValueError, ["method", "'dot'"]),
    ({"value": "log2fc", "reference": "ctrl", "method": "t-test"}, ValueError, ["'t-test'"]),
    ({"value": "log2fc", "reference": "ctrl", "groupby": "dataset"}, ValueError, ["groupby"]),
    # Kang's demo copy has no donors: no replicates for pseudobulk
    (
        {"value": "log2fc", "reference": "ctrl", "method": "pseudobulk"},
        ValueError,
        ["method='pseudobulk'", "sample_key=", "method='wilcoxon'"],
    ),
    (
        {"value": "log2fc", "reference": "ctrl", "method": "pseudobulk", "sample_key": "dataset"},
        ValueError,
        ["≥ 2 samples", "'dataset'", "method='wilcoxon'"],
    ),
    ({"value": "log2fc", "reference": "ctrl", "sample_key": "donor"}, KeyError, ["sample_key"]),
    ({"value": "log2fc", "reference": "ctrl", "sample_key": 1}, TypeError, ["sample_key", "1"]),
]


@pytest.mark.parametrize(
    ("arguments", "error", "fragments"),
    HEATMAP_ERRORS,
    ids=[f"{i}-{next(iter(a))}" for i, (a, _, _) in enumerate(HEATMAP_ERRORS)],
)
def test_heatmap_bad_arguments(kang, arguments, error, fragments):
    arguments = {"genes": GENES[:2], **arguments}
    if "top_n" in arguments and arguments.get("genes") == GENES[:2]:
        del arguments["genes"]
    genes = arguments.pop("genes", None)
    with no_widget_created(), pytest.raises(error) as raised:
        exprscope.heatmap(kang, genes, **arguments)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


DUAL_ERRORS = [
    ({"gene_x": 5}, TypeError, ["gene_x", "5"]),
    ({"gene_y": "NOTAGENE"}, KeyError, ["gene_y", "'NOTAGENE'"]),
    ({"gene_y": "CD3E", "layer": "integrated"}, KeyError, ["gene_y", "'CD3E'"]),
    ({"color_by": "sample"}, ValueError, ["color_by", "'sample'"]),
    ({"facet_by": "both"}, ValueError, ["facet_by", "'both'"]),
    ({"density": True}, TypeError, ["density", "True"]),
    ({"detected_only": "yes"}, TypeError, ["detected_only"]),
    ({"jitter": None}, TypeError, ["jitter", "None"]),
    ({"marginals": 1}, TypeError, ["marginals"]),
    ({"n_boot": -1}, ValueError, ["n_boot", "-1"]),
    ({"seed": 1.5}, TypeError, ["seed", "1.5"]),
    ({"embedding": "X_tsne"}, KeyError, ["embedding", "'X_tsne'", "X_umap"]),
    ({"embedding": 2}, TypeError, ["embedding", "2"]),
    ({"dataset_key": "batch"}, KeyError, ["dataset_key", "'batch'"]),
    ({"clusters": ["11"]}, ValueError, ["clusters", "'11'"]),
    ({"layer": "missing"}, KeyError, ["layer", "'missing'"]),
]


@pytest.mark.parametrize(
    ("arguments", "error", "fragments"),
    DUAL_ERRORS,
    ids=[f"{i}-{next(iter(a))}" for i, (a, _, _) in enumerate(DUAL_ERRORS)],
)
def test_dual_bad_arguments(kang, arguments, error, fragments):
    arguments = {"gene_x": "ISG15", "gene_y": "IFI6", **arguments}
    gene_x, gene_y = arguments.pop("gene_x"), arguments.pop("gene_y")
    with no_widget_created(), pytest.raises(error) as raised:
        exprscope.dual_expression(kang, gene_x, gene_y, **arguments)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_not_an_anndata(kang):
    with no_widget_created(), pytest.raises(TypeError, match=r"AnnData.*DataFrame"):
        exprscope.heatmap(kang.obs, ["ISG15"])
    with no_widget_created(), pytest.raises(TypeError, match=r"AnnData.*ndarray"):
        exprscope.dual_expression(dense(kang.X), "ISG15", "IFI6")


def test_a_needed_column_that_cannot_be_guessed_names_the_argument(kang):
    renamed = kang.copy()
    renamed.obs = renamed.obs.rename(columns={"dataset": "donor_group", "cluster": "groups"})
    assert plot_data.column_guesses(renamed) == {"dataset": None, "cluster": None, "sample": None}
    with no_widget_created(), pytest.raises(ValueError, match="cluster_key=<obs column>"):
        exprscope.heatmap(renamed, ["ISG15"])
    with no_widget_created(), pytest.raises(ValueError, match="dataset_key"):
        exprscope.dual_expression(renamed, "ISG15", "IFI6")
    with no_widget_created(), pytest.raises(ValueError, match=r"Top markers.*cluster_key"):
        exprscope.heatmap(renamed, groupby="dataset", dataset_key="donor_group")
    # Not needed: not guessed, not an error; given: used
    widget = exprscope.heatmap(renamed, ["ISG15"], groupby="dataset", dataset_key="donor_group")
    assert widget.spec["dataset_column"] == "donor_group"
    assert widget.spec["cluster_column"] is None
    widget.close()


class no_widget_created:
    """Asserts that a failing call created no widget and registered no object."""

    def __enter__(self):
        self.widgets = set(ipywidgets.widgets.widget._instances)
        self.objects = dict(objects._objects)

    def __exit__(self, *exc_info):
        assert set(ipywidgets.widgets.widget._instances) == self.widgets
        assert objects._objects == self.objects
        return False


# -- the spec the calls write ------------------------------------------------------------------


def test_heatmap_spec_defaults_and_guesses(kang, opened):
    widget = exprscope.heatmap(kang, "ISG15")
    opened.append(widget)
    assert isinstance(widget, HeatmapWidget) and widget.kind == "heatmap"
    spec = widget.spec
    assert spec["exprscope_spec"] == 1 and spec["version"] == exprscope.__version__
    # no raw: X, as exprscope.aggregate; the describe op's guesses
    assert spec["matrix"] == "X"
    assert (spec["dataset_column"], spec["cluster_column"]) == ("dataset", "cluster")
    assert spec["gene_source"] == "selected" and spec["genes"] == ["ISG15"]
    assert spec["group_by"] == "cluster" and spec["scaling"] == "zscore"
    assert json.loads(json.dumps(spec)) == spec

    markers = exprscope.heatmap(
        kang, top_n=3, layer="integrated", clusters=[0, "3"], value="dot", scale="none"
    )
    opened.append(markers)
    assert markers.spec["gene_source"] == "markers" and markers.spec["genes"] == []
    assert markers.spec["top_n"] == 3 and markers.spec["clusters"] == ["0", "3"]
    assert markers.spec["matrix"] == "layers/integrated"
    assert (markers.spec["value"], markers.spec["scaling"]) == ("dot", "none")


def test_dual_spec(kang, opened):
    widget = exprscope.dual_expression(
        kang,
        "ISG15",
        "IFI6",
        color_by="cluster",
        facet_by="dataset",
        layer="counts",
        embedding="X_umap",
        n_boot=50,
        seed=3,
        detected_only=True,
    )
    opened.append(widget)
    assert isinstance(widget, DualExpressionWidget) and widget.kind == "dual_expression"
    spec = widget.spec
    assert (spec["gene_x"], spec["gene_y"], spec["matrix"]) == ("ISG15", "IFI6", "layers/counts")
    assert (spec["color_by"], spec["facet_by"], spec["embedding"]) == (
        "cluster",
        "dataset",
        "X_umap",
    )
    assert (spec["n_boot"], spec["seed"], spec["detected_only"]) == (50, 3, True)
    assert (spec["density"], spec["jitter"], spec["marginals"]) == ("auto", False, False)


def test_from_spec_round_trip(kang, opened):
    widget = exprscope.heatmap(kang, GENES, groupby="dataset_cluster", cluster_genes=True)
    opened.append(widget)
    again = HeatmapWidget.from_spec(kang, json.loads(json.dumps(widget.spec)))
    opened.append(again)
    assert again.spec == widget.spec  # same object, so the same name or handle
    pd.testing.assert_frame_equal(again.data, widget.data)

    foreign = {**widget.spec, "object": "someone_elses_adata", "genes": ["ISG15", "NOPE"]}
    with no_widget_created(), pytest.raises(KeyError, match=r"genes.*'NOPE'"):
        HeatmapWidget.from_spec(kang, foreign)
    with no_widget_created(), pytest.raises(ValueError, match="draws 'heatmap' specs"):
        HeatmapWidget.from_spec(
            kang, {**widget.spec, "kind": "dual_expression", "gene_x": "A", "gene_y": "B"}
        )
    with no_widget_created(), pytest.raises(SpecError, match="exprscope_spec"):
        DualExpressionWidget.from_spec(kang, {"kind": "dual_expression"})


def test_widget_model_and_mimebundle(kang, opened):
    widget = exprscope.heatmap(kang, GENES[:3], layer="integrated", groupby="dataset_cluster")
    opened.append(widget)
    assert isinstance(widget, ipywidgets.DOMWidget)
    state = widget.get_state()
    assert (state["_model_name"], state["_view_name"]) == (
        "ExprscopePlotModel",
        "ExprscopePlotView",
    )
    assert state["_model_module"] == state["_view_module"] == "exprscope"
    assert state["_model_module_version"] == "^" + exprscope.__version__
    assert state["_view_module_version"] == "^" + exprscope.__version__
    assert state["spec"] == widget.spec and state["kind"] == "heatmap"

    bundle = widget._repr_mimebundle_(include=None, exclude=None)
    assert set(bundle) == {"text/plain", PLOT_MIME_TYPE}  # never the widget-view type
    assert bundle[PLOT_MIME_TYPE] == {
        "model_id": widget.model_id,
        "spec": widget.spec,
        "version": exprscope.__version__,
    }
    assert bundle["text/plain"] == (
        "exprscope heatmap: 3 genes × 16 dataset · cluster columns of an unnamed object "
        "(layers['integrated'])"
    )
    dual = exprscope.dual_expression(kang, "ISG15", "IFI6", facet_by="dataset_cluster")
    opened.append(dual)
    assert dual._repr_mimebundle_()["text/plain"] == (
        "exprscope dual expression: ISG15 vs IFI6 by dataset · cluster of an unnamed object (X)"
    )


# -- heatmap .data -----------------------------------------------------------------------------


def test_heatmap_data_matches_scanpy(kang, opened):
    widget = exprscope.heatmap(kang, GENES, min_cells=20)
    opened.append(widget)
    data = widget.data
    assert list(data.columns) == [
        "gene",
        "column",
        "cluster",
        "n_cells",
        "masked",
        "mean",
        "fraction",
        "linear_mean",
        "value",
    ]
    assert list(data["gene"]) == [g for g in GENES for _ in CLUSTERS]
    assert list(data["column"]) == CLUSTERS * len(GENES)
    assert data.attrs["matrix"] == "X" and data.attrs["columns"] == CLUSTERS

    reference = sc.get.aggregate(kang[:, GENES], by="cluster", func=["mean", "count_nonzero"])
    counts = kang.obs["cluster"].value_counts()
    n_cells = counts.loc[CLUSTERS].to_numpy()
    mean = dense(reference[CLUSTERS].layers["mean"]).T  # genes × clusters
    nonzero = dense(reference[CLUSTERS].layers["count_nonzero"]).T
    np.testing.assert_allclose(as_matrix(data, "mean"), mean, rtol=1e-6)
    np.testing.assert_allclose(as_matrix(data, "fraction"), nonzero / n_cells)
    assert (as_matrix(data, "n_cells") == n_cells).all()

    # z-score across the clusters with ≥ 20 cells (5 and 7 have 14 and 15), clipped at 2.5
    masked = n_cells < 20
    assert (as_matrix(data, "masked").astype(bool) == masked).all()
    expected = np.full_like(mean, np.nan)
    expected[:, ~masked] = np.clip(stats.zscore(mean[:, ~masked], axis=1, ddof=1), -2.5, 2.5)
    np.testing.assert_allclose(as_matrix(data, "value"), expected, rtol=1e-6, atol=1e-9)

    # the linear-space mean, by hand
    values = dense(kang[:, GENES].X).astype(np.float64)
    for j, cluster in enumerate(CLUSTERS):
        cells = (kang.obs["cluster"] == cluster).to_numpy()
        np.testing.assert_allclose(
            as_matrix(data, "linear_mean")[:, j],
            np.log1p(np.expm1(values[cells]).mean(axis=0)),
            rtol=1e-6,
        )


def test_heatmap_dataset_cluster_columns_and_values(kang, opened):
    widget = exprscope.heatmap(
        kang,
        GENES,
        groupby="dataset_cluster",
        clusters=[3, 0, 7],
        value="fraction",
        scale="minmax",
        min_cells=15,
    )
    opened.append(widget)
    data = widget.data
    columns = ["ctrl · 0", "stim · 0", "ctrl · 3", "stim · 3", "ctrl · 7", "stim · 7"]
    assert data.attrs["columns"] == columns  # cluster by cluster, datasets side by side
    first = data[data["gene"] == GENES[0]]
    assert list(first["dataset"]) == ["ctrl", "stim"] * 3
    assert list(first["cluster"]) == ["0", "0", "3", "3", "7", "7"]

    reference = exprscope.aggregate(kang, GENES, ["dataset", "cluster"])
    keyed = reference.set_index(
        ["gene", reference["dataset"].astype(str), reference["cluster"].astype(str)]
    )
    for row in data.itertuples():
        expected = keyed.loc[(row.gene, row.dataset, row.cluster)]
        assert row.n_cells == expected["n_cells"]
        assert row.mean == pytest.approx(expected["mean"], rel=1e-9)
        assert row.fraction == pytest.approx(expected["frac_expressing"], rel=1e-9)
    masked = as_matrix(data, "masked").astype(bool)[0]
    assert list(masked) == list(first["n_cells"] < 15)
    fraction = as_matrix(data, "fraction")[:, ~masked]
    low, high = fraction.min(axis=1, keepdims=True), fraction.max(axis=1, keepdims=True)
    np.testing.assert_allclose(
        as_matrix(data, "value")[:, ~masked], (fraction - low) / (high - low), atol=1e-12
    )
    assert np.isnan(as_matrix(data, "value")[:, masked]).all()


@pytest.mark.parametrize("metric", ["euclidean", "correlation"])
def test_heatmap_clustering_order_is_scipys(kang, opened, metric):
    genes = ["ISG15", "IFI6", "CD14", "LYZ", "MS4A1", "CD79A", "NKG7", "GNLY", "PPBP"]
    plain = exprscope.heatmap(kang, genes, groupby="dataset_cluster", min_cells=20)
    clustered = exprscope.heatmap(
        kang,
        genes,
        groupby="dataset_cluster",
        min_cells=20,
        metric=metric,
        cluster_genes=True,
        cluster_columns=True,
    )
    opened += [plain, clustered]
    base = plain.data
    value = as_matrix(base, "value")
    labels = base.attrs["columns"]
    kept = [j for j, masked in enumerate(as_matrix(base, "masked")[0]) if not masked]
    sub = value[:, kept]
    row_leaves = dendrogram(linkage(sub, "average", metric=metric), no_plot=True)["leaves"]
    col_leaves = dendrogram(linkage(sub.T, "average", metric=metric), no_plot=True)["leaves"]
    expected_columns = [labels[kept[i]] for i in col_leaves] + [
        label for j, label in enumerate(labels) if j not in kept
    ]
    data = clustered.data
    assert data.attrs["genes"] == [genes[i] for i in row_leaves]
    assert data.attrs["columns"] == expected_columns
    assert list(dict.fromkeys(data["gene"])) == data.attrs["genes"]
    assert list(data["column"][: len(labels)]) == expected_columns
    # same numbers, reordered
    merged = data.merge(base, on=["gene", "column"], suffixes=("", "_plain"))
    np.testing.assert_array_equal(merged["value"], merged["value_plain"])


def test_heatmap_top_markers_come_from_exprscope_markers(kang, opened):
    widget = exprscope.heatmap(kang, top_n=4, clusters=["2", "0"], layer="integrated")
    opened.append(widget)
    expected = exprscope.markers(kang, "cluster", 4, layer="integrated")
    kept = expected[expected["group"].isin(["0", "2"])]
    data = widget.data
    assert data.attrs["genes"] == list(dict.fromkeys(kept["gene"]))
    assert data.attrs["columns"] == ["0", "2"]
    assert data.attrs["markers_source"] == "computed Welch t-test"
    pd.testing.assert_frame_equal(
        widget.markers.reset_index(drop=True), kept.reset_index(drop=True), check_like=True
    )
    # integrated values are negative: the fraction expressing is undefined
    assert data["fraction"].isna().all()


def test_heatmap_uses_stored_markers_like_the_sidebar(kang, opened):
    adata = kang.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.tl.rank_genes_groups(adata, "cluster", method="wilcoxon", n_genes=5)
    widget = exprscope.heatmap(adata, top_n=2)
    opened.append(widget)
    names = adata.uns["rank_genes_groups"]["names"]
    expected = [str(names[group][rank]) for group in names.dtype.names for rank in range(2)]
    assert widget.data.attrs["genes"] == list(dict.fromkeys(expected))
    assert widget.data.attrs["markers_source"] == "stored rank_genes_groups"


def test_heatmap_marker_method_chooses_the_test(kang, opened):
    """marker_method: "wilcoxon" ranks by scanpy's Wilcoxon rank-sum (run directly here),
    "t-test" computes the t-test even when a stored result exists, "auto" takes it."""
    adata = kang.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.tl.rank_genes_groups(adata, "cluster", method="logreg", n_genes=3)
    top = 3
    wilcoxon = exprscope.heatmap(adata, top_n=top, marker_method="wilcoxon", use_raw=False)
    opened.append(wilcoxon)
    assert wilcoxon.spec["marker_method"] == "wilcoxon"
    reference = adata.copy()
    del reference.uns["rank_genes_groups"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.tl.rank_genes_groups(reference, "cluster", method="wilcoxon", use_raw=False)
    names = reference.uns["rank_genes_groups"]["names"]
    expected = [str(names[g][r]) for g in names.dtype.names for r in range(top)]
    assert wilcoxon.data.attrs["genes"] == list(dict.fromkeys(expected))
    scores = reference.uns["rank_genes_groups"]["scores"]
    shown = wilcoxon.markers
    for group in names.dtype.names:
        rows = shown[shown["group"] == group]
        np.testing.assert_allclose(
            rows["score"], [float(scores[group][r]) for r in range(top)], rtol=1e-5
        )
    t_test = exprscope.heatmap(adata, top_n=top, marker_method="t-test", use_raw=False)
    opened.append(t_test)
    computed = exprscope.markers(adata, "cluster", top, use_raw=False, use_stored=False)
    assert t_test.data.attrs["genes"] == list(dict.fromkeys(computed["gene"]))
    stored = exprscope.heatmap(adata, top_n=top)
    opened.append(stored)
    assert stored.data.attrs["markers_source"] == "stored rank_genes_groups"
    with pytest.raises(ValueError, match="marker_method"):
        exprscope.heatmap(adata, top_n=top, marker_method="logreg")


def test_pbmc68k_top_markers_on_raw(opened):
    """The issue's example: an unnamed object with ``.raw`` (the default matrix, as
    exprscope.aggregate), no dataset column, stored markers for another grouping."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pbmc = sc.datasets.pbmc68k_reduced()
    widget = exprscope.heatmap(pbmc)
    opened.append(widget)
    spec = widget.spec
    assert spec["matrix"] == "raw" and spec["object"].startswith("exprscope-object-")
    assert (spec["dataset_column"], spec["cluster_column"]) == (None, "louvain")
    data = widget.data
    # uns['rank_genes_groups'] is for bulk_labels: markers are computed for louvain
    expected = exprscope.markers(pbmc, "louvain", 10, use_stored=False)
    assert data.attrs["genes"] == list(dict.fromkeys(expected["gene"]))
    reference = exprscope.aggregate(pbmc, data.attrs["genes"], "louvain", use_raw=True)
    np.testing.assert_allclose(data["mean"], reference["mean"], rtol=1e-12)
    assert exprscope.heatmap(pbmc, ["CD79A"], use_raw=False).spec["matrix"] == "X"


def test_data_follows_the_spec(kang, opened, monkeypatch):
    widget = exprscope.heatmap(kang, GENES[:2])
    opened.append(widget)
    assert widget.data.attrs["columns"] == CLUSTERS

    calls = []
    compute = plot_data.heatmap_data
    monkeypatch.setattr(plot_data, "heatmap_data", lambda *args: calls.append(1) or compute(*args))
    _ = widget.data
    assert calls == []  # unchanged spec and object: not recomputed

    # as the frontend does: a new dict in the synced trait
    widget.spec = {**widget.spec, "group_by": "dataset", "genes": ["CD14", "ISG15", "LYZ"]}
    data = widget.data
    assert calls == [1]
    assert data.attrs["columns"] == ["ctrl", "stim"] and "cluster" not in data
    assert list(dict.fromkeys(data["gene"])) == ["CD14", "ISG15", "LYZ"]
    reference = exprscope.aggregate(kang, ["CD14", "ISG15", "LYZ"], "dataset")
    np.testing.assert_allclose(data["mean"], reference["mean"], rtol=1e-12)

    # the plot shows a note for unknown genes and clusters; .data leaves them out and says so
    widget.spec = {**widget.spec, "genes": ["CD14", "NOPE"], "clusters": ["1", "42"]}
    data = widget.data
    assert data.attrs["missing_genes"] == ["NOPE"] and data.attrs["unknown_clusters"] == ["42"]
    assert list(data["gene"].unique()) == ["CD14"]
    in_cluster_1 = kang.obs.loc[kang.obs["cluster"] == "1", "dataset"]
    assert list(data["n_cells"]) == list(in_cluster_1.value_counts().loc[["ctrl", "stim"]])

    widget.spec = {**widget.spec, "value": "median"}
    with pytest.raises(SpecError, match="'value'"):
        _ = widget.data


def test_marker_search_is_redone_only_when_needed(kang, opened, monkeypatch):
    widget = exprscope.heatmap(kang, top_n=2)
    opened.append(widget)
    calls = []
    search = plot_data.heatmap_markers
    monkeypatch.setattr(
        plot_data, "heatmap_markers", lambda *args: calls.append(1) or search(*args)
    )
    first = widget.data
    widget.spec = {**widget.spec, "scaling": "minmax", "group_by": "dataset_cluster"}
    assert widget.data.attrs["genes"] == first.attrs["genes"] and len(calls) == 1
    widget.spec = {**widget.spec, "top_n": 3}
    assert len(widget.data.attrs["genes"]) > len(first.attrs["genes"]) and len(calls) == 2


def test_data_follows_the_object(kang, opened):
    adata = kang[:, GENES].copy()
    widget = exprscope.heatmap(adata, ["ISG15"], groupby="dataset")
    opened.append(widget)
    before = widget.data["n_cells"].tolist()
    adata.obs["dataset"] = pd.Categorical(np.repeat(["a", "b", "c", "d"], adata.n_obs // 4))
    after = widget.data
    assert after.attrs["columns"] == ["a", "b", "c", "d"] and before != after["n_cells"].tolist()


# -- dual expression .data and .cells ----------------------------------------------------------


def test_dual_data_matches_scipy(kang, opened):
    widget = exprscope.dual_expression(kang, "ISG15", "IFI6", n_boot=200, seed=1)
    opened.append(widget)
    data = widget.data
    assert data.attrs["groupby"] == ["dataset"]  # not faceted: per colour group
    assert list(data["group"]) == ["ctrl", "stim"]
    x = dense(kang[:, "ISG15"].X).ravel().astype(np.float64)
    y = dense(kang[:, "IFI6"].X).ravel().astype(np.float64)
    for row in data.itertuples():
        cells = (kang.obs["dataset"] == row.group).to_numpy()
        assert row.n_cells == cells.sum()
        assert row.pearson_r == pytest.approx(stats.pearsonr(x[cells], y[cells])[0], abs=1e-9)
        assert row.spearman_rho == pytest.approx(stats.spearmanr(x[cells], y[cells])[0], abs=1e-9)
    pd.testing.assert_frame_equal(
        data, exprscope.correlate(kang, "ISG15", "IFI6", "dataset", n_boot=200, seed=1)
    )


def test_dual_data_per_facet_with_cluster_filter(kang, opened):
    widget = exprscope.dual_expression(
        kang,
        "ISG15",
        "IFI6",
        color_by="cluster",
        facet_by="dataset_cluster",
        clusters=["1", "0"],
        detected_only=True,
        n_boot=100,
    )
    opened.append(widget)
    data = widget.data
    assert data.attrs["groupby"] == ["dataset", "cluster"]
    assert list(data["group"]) == ["ctrl · 0", "ctrl · 1", "stim · 0", "stim · 1"]
    kept = kang[kang.obs["cluster"].isin(["0", "1"])]
    expected = exprscope.correlate(
        kept, "ISG15", "IFI6", ["dataset", "cluster"], detected_only=True, n_boot=100
    )
    pd.testing.assert_frame_equal(data, expected)

    x = dense(kang[:, "ISG15"].X).ravel()
    y = dense(kang[:, "IFI6"].X).ravel()
    for row in data.itertuples():
        dataset, cluster = row.group.split(" · ")
        cells = ((kang.obs["dataset"] == dataset) & (kang.obs["cluster"] == cluster)).to_numpy()
        both = cells & (x > 0) & (y > 0)
        assert row.n_cells == both.sum()
        assert row.pearson_r == pytest.approx(stats.pearsonr(x[both], y[both])[0], abs=1e-6)

    cells = widget.cells
    assert list(cells.columns) == ["x", "y", "detected", "dataset", "cluster"]
    assert list(cells.index) == list(kept.obs_names)
    np.testing.assert_array_equal(cells["x"], dense(kept[:, "ISG15"].X).ravel())
    np.testing.assert_array_equal(cells["y"], dense(kept[:, "IFI6"].X).ravel())
    assert set(cells["cluster"]) == {"0", "1"}
    assert cells["detected"].sum() == data["n_cells"].sum()

    # the frontend switches off the facets: per colour group (cluster) now
    widget.spec = {**widget.spec, "facet_by": "none", "clusters": None}
    assert list(widget.data["group"]) == CLUSTERS
    assert len(widget.cells) == kang.n_obs


# -- the object's name -------------------------------------------------------------------------


def test_unnamed_objects_are_registered_while_used(kang):
    first = exprscope.heatmap(kang, ["ISG15"])
    second = exprscope.dual_expression(kang, "ISG15", "IFI6")
    handle = first.spec["object"]
    assert handle.startswith("exprscope-object-") and not handle.isidentifier()
    assert second.spec["object"] == handle  # one handle per object
    assert objects.registered(handle) is kang
    first.close()
    assert objects.registered(handle) is kang  # still used by the second widget
    second.close()
    assert objects.registered(handle) is None
    third = exprscope.heatmap(kang, ["ISG15"])
    assert third.spec["object"] != handle  # a new handle, never a reused one
    third.close()


WIDGET_CODE = """
import json as _es_json
import exprscope as _es_exprscope
es_w_named = _es_exprscope.heatmap(es_kang, ["ISG15", "CD14"], groupby="dataset_cluster")
es_w_anon = _es_exprscope.dual_expression(_es_exprscope.datasets.kang_pbmc(), "ISG15", "IFI6")
print(_es_json.dumps({"named": es_w_named.spec, "anon": es_w_anon.spec}))
del _es_json, _es_exprscope
"""
CLEANUP_CODE = """
for _es_name in ("es_w_named", "es_w_anon"):
    if _es_name in globals():
        globals().pop(_es_name).close()
del _es_name
"""


@pytest.mark.skipif(not KANG_PBMC_H5AD.is_file(), reason="the Kang demo data is not built")
def test_object_names_in_a_kernel(comm_kernel, kang):
    specs = comm_kernel.evaluate_json(WIDGET_CODE)
    try:
        assert specs["named"]["object"] == "es_kang"  # the variable that holds it
        handle = specs["anon"]["object"]
        assert handle.startswith("exprscope-object-")

        # The comm serves the handle like a name, but does not list it
        described = comm_kernel.call("describe", object=handle).result
        assert described["name"] == handle
        assert (described["n_obs"], described["n_vars"]) == kang.shape
        assert described["guesses"] == {"dataset": "dataset", "cluster": "cluster", "sample": None}
        listed = [entry["name"] for entry in comm_kernel.call("list").result["objects"]]
        assert "es_kang" in listed and handle not in listed
        reply = comm_kernel.call("fetch", object=handle, matrix="X", genes=["ISG15", "NOPE"])
        assert reply.result["genes"] == ["ISG15"] and reply.result["missing"] == ["NOPE"]
        np.testing.assert_array_equal(
            reply.table().column("gene:ISG15").to_numpy(),
            dense(kang[:, "ISG15"].X).ravel().astype(np.float32),
        )

        # Displayed: our MIME type naming the live model, never the widget-view type
        outputs = comm_kernel.execute("es_w_named")
        result = next(m["content"] for m in outputs if m["msg_type"] == "execute_result")
        assert set(result["data"]) == {"text/plain", PLOT_MIME_TYPE}
        assert result["data"][PLOT_MIME_TYPE]["spec"] == specs["named"]
        assert result["data"]["text/plain"].startswith("exprscope heatmap: 2 genes × 16 ")
        assert "of es_kang (X)" in result["data"]["text/plain"]

        # Closing the widget drops the handle: the comm no longer finds it
        comm_kernel.execute("es_w_anon.close()")
        error = comm_kernel.call("describe", object=handle).error
        assert error["code"] == "not_found"
    finally:
        comm_kernel.execute(CLEANUP_CODE)


# -- the condition difference heatmap (value="log2fc") -----------------------------------------


@pytest.fixture(scope="module")
def replicates():
    """Two datasets × three samples, three clusters, known dataset-responsive genes (the
    data of test_compare.py)."""
    pytest.importorskip("pydeseq2")
    return make_synthetic(6000, 600, n_clusters=3, samples_per_dataset=3, seed=1)


@pytest.fixture(scope="module")
def every_gene_compared(replicates):
    """exprscope.compare over every gene, as a user calls it."""
    return exprscope.compare(
        replicates, reference="dataset1", dataset_key="dataset", cluster_key="cluster"
    )


def marks(padj: pd.Series) -> list[str]:
    return ["***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "" for p in padj]


def test_log2fc_spec_and_description(replicates, opened):
    widget = exprscope.heatmap(replicates, ["GENE00002"], value="log2fc", reference="dataset1")
    opened.append(widget)
    spec = widget.spec
    assert spec["sample_column"] == "sample"  # guessed, as the sidebar and compare do
    assert (spec["value"], spec["reference"], spec["target"]) == ("log2fc", "dataset1", None)
    assert spec["compare_method"] == "auto" and spec["group_by"] == "cluster"
    assert list(spec)[list(spec).index("cluster_column") + 1] == "sample_column"
    assert list(spec)[list(spec).index("value") + 1 :][:3] == [
        "reference",
        "target",
        "compare_method",
    ]
    assert widget._repr_mimebundle_()["text/plain"] == (
        "exprscope heatmap: log2FC dataset2 vs dataset1, 1 gene × 3 clusters (pseudobulk) "
        "of an unnamed object (X)"
    )
    again = HeatmapWidget.from_spec(replicates, json.loads(json.dumps(spec)))
    opened.append(again)
    assert again.spec == spec

    chosen = exprscope.heatmap(
        replicates,
        top_n=3,
        value="log2fc",
        reference="dataset2",
        target="dataset1",
        method="wilcoxon",
        sample_key="dataset",
    )
    opened.append(chosen)
    assert (chosen.spec["target"], chosen.spec["compare_method"]) == ("dataset1", "wilcoxon")
    assert chosen.spec["sample_column"] == "dataset" and chosen.spec["gene_source"] == "markers"
    assert chosen._repr_mimebundle_()["text/plain"].startswith(
        "exprscope heatmap: log2FC dataset1 vs dataset2, top 3 changed genes per cluster × "
        "3 clusters (wilcoxon)"
    )
    # Other values neither guess nor need a sample column
    means = exprscope.heatmap(replicates, ["GENE00002"])
    opened.append(means)
    assert means.spec["sample_column"] is None and means.spec["reference"] is None


def test_log2fc_data_equals_compare_pseudobulk(replicates, opened):
    truth = list(replicates.uns["exprscope"]["synthetic"]["dataset_responsive_genes"])
    genes = [*truth[:4], "GENE00001", "GENE00003", "GENE00005"]
    widget = exprscope.heatmap(replicates, genes, value="log2fc", reference="dataset1")
    opened.append(widget)
    data = widget.data
    assert list(data.columns) == plot_data.DIFFERENCE_COLUMNS
    assert list(data["gene"]) == [g for g in genes for _ in range(3)]
    assert list(data["column"]) == ["0", "1", "2"] * len(genes)
    assert (data["column"] == data["cluster"]).all()
    expected = exprscope.compare(
        replicates,
        reference="dataset1",
        dataset_key="dataset",
        cluster_key="cluster",
        sample_key="sample",
        genes=genes,
    ).set_index(["gene", "cluster"])
    rows = expected.loc[list(zip(data["gene"], data["cluster"], strict=True))]
    for column in ("log2fc", "stat", "pvalue", "padj"):
        np.testing.assert_array_equal(data[column].to_numpy(), rows[column].to_numpy())
    for column in ("n_cells_a", "n_cells_b", "n_samples_a", "n_samples_b"):
        assert list(data[column]) == list(rows[column]), column
    np.testing.assert_array_equal(data["value"], data["log2fc"])
    assert not data["masked"].any()
    assert list(data["mark"]) == marks(data["padj"])
    assert set(data["method"]) == {"pseudobulk"}
    assert set(data["reference"]) == {"dataset1"} and set(data["target"]) == {"dataset2"}
    assert data.attrs["matrix"] == "layers/counts"  # pseudobulk reads the counts
    assert data.attrs["limit"] == pytest.approx(max(1.0, data["log2fc"].abs().max()))
    # The known responsive genes are called in the large cluster; the others are not
    called = data[(data["cluster"] == "0") & (data["padj"] < 0.05)]["gene"]
    assert set(called) == set(truth[:4])


def test_log2fc_untested_clusters_are_masked(replicates, opened):
    # Cluster "2" keeps one sample of dataset2: its other cells go to cluster 0
    obs = replicates.obs
    moved = (
        (obs["cluster"] == "2") & (obs["dataset"] == "dataset2") & (obs["sample"] != "dataset2_s1")
    )
    adata = replicates.copy()
    adata.obs["cluster"] = adata.obs["cluster"].where(~moved, "0")
    genes = ["GENE00002", "GENE00019", "GENE00120", "GENE00001", "GENE00004"]
    widget = exprscope.heatmap(
        adata, genes, value="log2fc", reference="dataset1", cluster_columns=True
    )
    opened.append(widget)
    data = widget.data
    untested = data[data["cluster"] == "2"]
    assert untested["masked"].all() and untested["value"].isna().all()
    assert (untested["mark"] == "").all() and set(untested["n_samples_b"]) == {1}
    assert "fewer than 2 samples" in data.attrs["notes"]["2"]
    assert data.attrs["columns"][-1] == "2"  # untested columns last, as masked ones
    assert not data[data["cluster"] != "2"]["masked"].any()


def test_log2fc_top_changed_genes(replicates, every_gene_compared, opened, monkeypatch):
    widget = exprscope.heatmap(replicates, top_n=5, value="log2fc", reference="dataset1")
    opened.append(widget)
    data = widget.data
    # The contract's ranking, on the table compare gives: smallest padj, then largest |log2FC|
    ranked = every_gene_compared.assign(
        padj_key=every_gene_compared["padj"].fillna(np.inf),
        size_key=-every_gene_compared["log2fc"].abs().fillna(-1),
    )
    expected = pd.concat(
        ranked[ranked["cluster"] == cluster].sort_values(["padj_key", "size_key"], kind="stable")[
            :5
        ]
        for cluster in ["0", "1", "2"]
    )
    markers = widget.markers
    assert list(markers.columns) == ["gene", "cluster", "log2fc", "padj"]
    assert list(markers["gene"]) == list(expected["gene"])
    assert list(markers["cluster"]) == ["0"] * 5 + ["1"] * 5 + ["2"] * 5
    np.testing.assert_array_equal(markers["padj"], expected["padj"])
    genes = list(dict.fromkeys(expected["gene"]))
    assert data.attrs["genes"] == genes and list(dict.fromkeys(data["gene"])) == genes
    assert data.attrs["markers_source"] == "top changed genes (pseudobulk)"
    # The numbers of the every-gene comparison
    keyed = every_gene_compared.set_index(["gene", "cluster"])
    rows = keyed.loc[list(zip(data["gene"], data["cluster"], strict=True))]
    np.testing.assert_array_equal(data["log2fc"], rows["log2fc"])
    np.testing.assert_array_equal(data["padj"], rows["padj"])

    # The known responsive genes lead the two large clusters, with the simulated direction
    synthetic = replicates.uns["exprscope"]["synthetic"]
    responsive = synthetic["dataset_responsive_genes"]
    direction = dict(zip(responsive, np.sign(synthetic["dataset_log_fold"][0]), strict=True))
    for cluster in ["0", "1"]:
        top = markers[markers["cluster"] == cluster]
        assert set(top["gene"]) <= set(direction), cluster
        assert all(np.sign(row.log2fc) == direction[row.gene] for row in top.itertuples())

    # The tests are rerun only when what they depend on changes
    calls = []
    compute = plot_data.heatmap_comparison
    monkeypatch.setattr(
        plot_data, "heatmap_comparison", lambda *args: calls.append(1) or compute(*args)
    )
    widget.spec = {**widget.spec, "top_n": 2, "cluster_genes": True, "genes": ["GENE00001"]}
    assert len(widget.data.attrs["genes"]) <= 6 and calls == []
    widget.spec = {**widget.spec, "gene_source": "selected", "genes": ["GENE00002"]}
    assert list(widget.data["gene"]) == ["GENE00002"] * 3 and calls == [1]
    assert widget.markers is None


def test_log2fc_wilcoxon_without_samples(kang, opened):
    """Kang's demo copy has no donors: compare's cell-level Wilcoxon test, said plainly; small
    clusters untested; the plot's average-linkage order on the log2FC values."""
    genes = ["ISG15", "IFI6", "CD14", "LYZ", "MS4A1", "NKG7", "GNLY", "IFIT3"]
    widget = exprscope.heatmap(
        kang,
        genes,
        value="log2fc",
        reference="ctrl",
        cluster_genes=True,
        cluster_columns=True,
        metric="correlation",
    )
    opened.append(widget)
    assert widget.spec["sample_column"] is None
    assert "(wilcoxon)" in widget._repr_mimebundle_()["text/plain"]
    data = widget.data
    # Every gene is tested (padj over all of them, as the browser shows), the rows picked
    expected = exprscope.compare(
        kang, reference="ctrl", dataset_key="dataset", cluster_key="cluster"
    ).set_index(["gene", "cluster"])
    rows = expected.loc[list(zip(data["gene"], data["cluster"], strict=True))]
    np.testing.assert_array_equal(data["log2fc"], rows["log2fc"])
    np.testing.assert_array_equal(data["padj"], rows["padj"])
    assert set(data["method"]) == {"wilcoxon"} and data["n_samples_a"].isna().all()
    assert "not independent replicates" in data.attrs["caveat"]
    # Clusters 5 and 7 have fewer than 10 cells in a dataset
    assert set(data.attrs["notes"]) == {"5", "7"}
    assert data[data["cluster"].isin(["5", "7"])]["masked"].all()

    # The order: scipy's average linkage on the tested clusters' values
    tested = [c for c in CLUSTERS if c not in ("5", "7")]
    value = expected["log2fc"].unstack("cluster").loc[genes, tested].to_numpy()
    row_leaves = dendrogram(linkage(value, "average", "correlation"), no_plot=True)["leaves"]
    col_leaves = dendrogram(linkage(value.T, "average", "correlation"), no_plot=True)["leaves"]
    assert data.attrs["genes"] == [genes[i] for i in row_leaves]
    assert data.attrs["columns"] == [tested[i] for i in col_leaves] + ["5", "7"]


def test_a_heatmap_spec_from_before_the_difference_heatmap(kang, opened):
    new_keys = ("sample_column", "reference", "target", "compare_method")
    widget = exprscope.heatmap(kang, GENES[:2])
    opened.append(widget)
    old = {k: v for k, v in widget.spec.items() if k not in new_keys}
    again = HeatmapWidget.from_spec(kang, old)
    opened.append(again)
    assert again.spec == widget.spec
    assert (again.spec["reference"], again.spec["compare_method"]) == (None, "auto")
    with no_widget_created(), pytest.raises(SpecError, match="'reference'"):
        HeatmapWidget.from_spec(kang, {**old, "value": "log2fc"})
    with no_widget_created(), pytest.raises(ValueError, match=r"Reference dataset 'nope'"):
        HeatmapWidget.from_spec(kang, {**old, "value": "log2fc", "reference": "nope"})
