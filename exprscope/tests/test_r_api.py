"""The R notebook functions ``exprscope_heatmap`` / ``exprscope_dual_expression`` (defined by
``exprscope/kernel/r/``) in a real IRkernel.

The kernel runs the R setup snippet as the frontend does, then holds Seurat's ``pbmc_small``,
a SingleCellExperiment made from it and the Kang Seurat object
(``exprscope/data/kang_seurat.rds``). The tests check what the kernel publishes on iopub: one
``display_data`` with exactly ``text/plain`` and the plot MIME type, whose JSON is the spec of
docs/plot-spec.md (read back by the Python reader unchanged), and for every bad argument an
error naming it with nothing displayed.

Skipped only when R or IRkernel is not installed (CI installs both).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from kernel_harness import R_KERNEL_STATE_CODE, REPO_ROOT, TIMEOUT, r_kernel_session

from exprscope import __version__
from exprscope.kernel import R_SETUP_SNIPPET
from exprscope.spec import read_spec

KANG_SEURAT_RDS = REPO_ROOT / "exprscope" / "data" / "kang_seurat.rds"
PLOT_MIME = "application/vnd.exprscope.plot+json"


def _irkernel_installed() -> bool:
    if shutil.which("R") is None or shutil.which("Rscript") is None:
        return False
    check = ["Rscript", "-e", 'quit(status = !requireNamespace("IRkernel", quietly = TRUE))']
    return subprocess.run(check, capture_output=True, timeout=120).returncode == 0


pytestmark = pytest.mark.skipif(not _irkernel_installed(), reason="R with IRkernel not installed")

# Test data (names start with es_); the path is a JSON string literal, valid in R too.
R_DATA_CODE = """
suppressPackageStartupMessages({
  library(Seurat)
  library(SingleCellExperiment)
})
es_kang <- readRDS(KANG_PATH)
data("pbmc_small", package = "SeuratObject", envir = environment())
es_pbmc <- pbmc_small
rm(pbmc_small)
es_sce <- as.SingleCellExperiment(es_pbmc)
assign("es pbmc", es_pbmc)
es_frame <- data.frame(a = 1:3)
.es_hidden <- es_pbmc
invisible(gc())
""".replace("KANG_PATH", json.dumps(str(KANG_SEURAT_RDS)))

API_FUNCTIONS = ["exprscope_compare", "exprscope_dual_expression", "exprscope_heatmap"]


@pytest.fixture(scope="module")
def r_kernel():
    if not KANG_SEURAT_RDS.is_file():
        pytest.fail(f"{KANG_SEURAT_RDS} is missing (scripts/build_kang_seurat.R builds it)")
    with r_kernel_session(R_DATA_CODE) as session:
        yield session


def run(kernel, code: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run code that may fail: its iopub output messages and its execute_reply content."""
    msg_id = kernel.client.execute(code, store_history=False)
    outputs = kernel._iopub_until_idle(msg_id)
    reply = kernel.client.get_shell_msg(timeout=TIMEOUT)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.client.get_shell_msg(timeout=TIMEOUT)
    return [m for m in outputs if m["msg_type"] != "execute_input"], reply["content"]


def displayed(kernel, code: str) -> dict[str, Any]:
    """The one output of a call: a display_data with exactly the two MIME types; its data."""
    outputs, reply = run(kernel, code)
    assert reply["status"] == "ok", outputs
    assert [m["msg_type"] for m in outputs] == ["display_data"], outputs
    content = outputs[0]["content"]
    assert content["metadata"] == {}
    data = content["data"]
    assert set(data) == {"text/plain", PLOT_MIME}
    assert set(data[PLOT_MIME]) == {"spec", "version"}  # no model_id: R has no widget model
    assert data[PLOT_MIME]["version"] == __version__
    spec = data[PLOT_MIME]["spec"]
    # The Python reader takes it as it is: same keys, same order, same values.
    assert json.dumps(read_spec(spec)) == json.dumps(spec)
    return data


def spec_of(kernel, code: str) -> dict[str, Any]:
    return displayed(kernel, code)[PLOT_MIME]["spec"]


def failure(kernel, code: str) -> str:
    """The error message of a call that must fail before displaying anything."""
    outputs, reply = run(kernel, code)
    assert reply["status"] == "error", outputs
    assert [m["msg_type"] for m in outputs] == ["error"], outputs
    return reply["evalue"]


def common(object_name: str, matrix: str, dataset, cluster, clusters) -> dict[str, Any]:
    return {
        "exprscope_spec": 1,
        "version": __version__,
        "object": object_name,
        "matrix": matrix,
        "dataset_column": dataset,
        "cluster_column": cluster,
        "sample_column": None,
        "clusters": clusters,
    }


def heatmap_spec(object_name, matrix, dataset, cluster, clusters, **keys) -> dict[str, Any]:
    spec = {
        "exprscope_spec": 1,
        "kind": "heatmap",
        **common(object_name, matrix, dataset, cluster, clusters),
        "gene_source": "selected",
        "genes": [],
        "top_n": 10,
        "marker_method": "auto",
        "group_by": "cluster",
        "value": "mean",
        "reference": None,
        "target": None,
        "compare_method": "auto",
        "scaling": "zscore",
        "zscore_clip": 2.5,
        "min_cells": 10,
        "cluster_genes": False,
        "cluster_columns": False,
        "metric": "euclidean",
    }
    spec.update(keys)
    return spec


def dual_spec(object_name, matrix, dataset, cluster, clusters, **keys) -> dict[str, Any]:
    spec = {
        "exprscope_spec": 1,
        "kind": "dual_expression",
        **common(object_name, matrix, dataset, cluster, clusters),
        "gene_x": None,
        "gene_y": None,
        "color_by": "dataset",
        "facet_by": "none",
        "detected_only": False,
        "jitter": False,
        "density": "auto",
        "marginals": False,
        "n_boot": 1000,
        "seed": 0,
        "embedding": None,
    }
    spec.update(keys)
    return spec


def assert_same(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Equal values and key order; ints stay ints, arrays stay arrays."""
    assert list(actual) == list(expected)
    assert json.dumps(actual) == json.dumps(expected)


# -- setup ---------------------------------------------------------------------------------------


def attached_state(kernel) -> dict[str, Any]:
    return kernel.evaluate_json(
        "cat(jsonlite::toJSON(list("
        "n_attached = sum(search() == 'exprscope'), "
        "functions = I(sort(ls('exprscope', all.names = TRUE))), "
        "same_env = identical(environment(get('exprscope_heatmap', as.environment('exprscope'))), "
        ".exprscope)), auto_unbox = TRUE))"
    )


def test_functions_are_attached_without_new_global_names(r_kernel):
    assert [m for m in r_kernel.setup_outputs if m["msg_type"] != "execute_input"] == []
    assert set(r_kernel.names_after_setup) - set(r_kernel.names_before_setup) == {".exprscope"}
    assert attached_state(r_kernel) == {
        "n_attached": 1,
        "functions": API_FUNCTIONS,
        "same_env": True,
    }


def test_setup_twice_keeps_one_attached_environment(r_kernel):
    names_before = r_kernel.evaluate_json(R_KERNEL_STATE_CODE)["names"]
    for _ in range(2):
        outputs = r_kernel.execute(R_SETUP_SNIPPET, silent=True)
        assert [m for m in outputs if m["msg_type"] != "execute_input"] == []
    assert r_kernel.evaluate_json(R_KERNEL_STATE_CODE)["names"] == names_before
    # One environment, holding the functions of the snippet that ran last.
    assert attached_state(r_kernel) == {
        "n_attached": 1,
        "functions": API_FUNCTIONS,
        "same_env": True,
    }
    spec = spec_of(r_kernel, 'exprscope_heatmap(es_pbmc, "MS4A1", cluster_key = "groups")')
    assert spec["genes"] == ["MS4A1"]


# -- specs ---------------------------------------------------------------------------------------


def test_heatmap_pbmc_small_exact_spec(r_kernel):
    data = displayed(r_kernel, 'exprscope_heatmap(es_pbmc, "MS4A1", cluster_key = "RNA_snn_res.1")')
    # pbmc_small has no usual dataset column name: null, not {} or "NA".
    assert_same(
        data[PLOT_MIME]["spec"],
        heatmap_spec("es_pbmc", "RNA/data", None, "RNA_snn_res.1", None, genes=["MS4A1"]),
    )
    assert data["text/plain"] == "exprscope heatmap: 1 gene × 3 clusters of es_pbmc (RNA data)"


def test_heatmap_every_argument(r_kernel):
    spec = spec_of(
        r_kernel,
        """exprscope_heatmap(
          es_pbmc, c("S100A8", "PPBP", "S100A8"), groupby = "dataset_cluster",
          dataset_key = "groups", cluster_key = "RNA_snn_res.1", matrix = "RNA/scale.data",
          clusters = 0, value = "dot", scale = "minmax", zscore_clip = 2.123456,
          min_cells = 3L, cluster_genes = TRUE, cluster_columns = TRUE, metric = "correlation"
        )""",
    )
    assert_same(
        spec,
        heatmap_spec(
            "es_pbmc",
            "RNA/scale.data",
            "groups",
            "RNA_snn_res.1",
            ["0"],  # one cluster, still an array; numbers as text
            genes=["S100A8", "PPBP"],  # duplicates dropped
            group_by="dataset_cluster",
            value="dot",
            scaling="minmax",
            zscore_clip=2.1235,  # the 4 decimals IRkernel's JSON carries
            min_cells=3,
            cluster_genes=True,
            cluster_columns=True,
            metric="correlation",
        ),
    )


def test_returned_spec_is_the_displayed_one(r_kernel):
    outputs, reply = run(
        r_kernel,
        'es_spec <- exprscope_heatmap(es_pbmc, "MS4A1", cluster_key = "groups", '
        "zscore_clip = 1.000049)",
    )
    assert reply["status"] == "ok"
    assert [m["msg_type"] for m in outputs] == ["display_data"]
    shown = outputs[0]["content"]["data"][PLOT_MIME]["spec"]
    returned = r_kernel.evaluate_json(
        "cat(jsonlite::toJSON(es_spec, auto_unbox = TRUE, digits = NA)); rm(es_spec)"
    )
    assert_same(returned, shown)
    assert shown["zscore_clip"] == 1.0
    # Invisible: a call on its own shows the plot only, no printed value.
    outputs, _ = run(r_kernel, 'exprscope_heatmap(es_pbmc, "MS4A1", cluster_key = "groups")')
    assert [m["msg_type"] for m in outputs] == ["display_data"]


def test_heatmap_top_markers_on_kang_with_guessed_columns(r_kernel):
    data = displayed(r_kernel, "exprscope_heatmap(es_kang, top_n = 5)")
    assert_same(
        data[PLOT_MIME]["spec"],
        heatmap_spec(
            "es_kang",
            "RNA/data",
            "orig.ident",
            "seurat_clusters",
            None,
            gene_source="markers",
            genes=[],
            top_n=5,
        ),
    )
    assert data["text/plain"] == (
        "exprscope heatmap: top 5 markers per cluster × 10 clusters of es_kang (RNA data)"
    )


def test_heatmap_log2fc_spec_reads_back_in_python(r_kernel):
    spec = spec_of(
        r_kernel,
        'exprscope_heatmap(es_kang, c("ISG15", "IFI6"), value = "log2fc", reference = "ctrl")',
    )
    assert spec["value"] == "log2fc"
    assert spec["reference"] == "ctrl"
    assert spec["target"] is None
    assert spec["compare_method"] == "auto"
    assert spec["group_by"] == "cluster"
    assert read_spec(spec) == spec  # the keys, their order and types are Python's
    chosen = spec_of(
        r_kernel,
        'exprscope_heatmap(es_kang, "ISG15", value = "log2fc", reference = "ctrl", '
        'target = "stim", method = "wilcoxon")',
    )
    assert (chosen["target"], chosen["compare_method"]) == ("stim", "wilcoxon")


def test_heatmap_kang_integrated(r_kernel):
    spec = spec_of(
        r_kernel,
        'exprscope_heatmap(es_kang, "ISG15", matrix = "integrated/data", groupby = "dataset", '
        'dataset_key = "stim", clusters = c("3", "0"))',
    )
    assert_same(
        spec,
        heatmap_spec(
            "es_kang",
            "integrated/data",
            "stim",
            "seurat_clusters",
            ["3", "0"],
            genes=["ISG15"],
            group_by="dataset",
        ),
    )


def test_dual_expression_kang_exact_spec(r_kernel):
    data = displayed(
        r_kernel,
        'exprscope_dual_expression(es_kang, "ISG15", "IFI6", color_by = "cluster", '
        'facet_by = "dataset", clusters = "3", detected_only = TRUE, jitter = TRUE, '
        'density = "off", marginals = TRUE, n_boot = 0, seed = -3, embedding = "umap")',
    )
    assert_same(
        data[PLOT_MIME]["spec"],
        dual_spec(
            "es_kang",
            "RNA/data",
            "orig.ident",
            "seurat_clusters",
            ["3"],
            gene_x="ISG15",
            gene_y="IFI6",
            color_by="cluster",
            facet_by="dataset",
            detected_only=True,
            jitter=True,
            density="off",
            marginals=True,
            n_boot=0,
            seed=-3,
            embedding="umap",
        ),
    )
    assert data["text/plain"] == (
        "exprscope dual expression: ISG15 vs IFI6 by dataset of es_kang (RNA data)"
    )


def test_dual_expression_defaults(r_kernel):
    spec = spec_of(
        r_kernel,
        'exprscope_dual_expression(es_kang, "ISG15", "IFI6", matrix = "integrated/data")',
    )
    assert_same(
        spec,
        dual_spec(
            "es_kang",
            "integrated/data",
            "orig.ident",
            "seurat_clusters",
            None,
            gene_x="ISG15",
            gene_y="IFI6",
        ),
    )


def test_sce_takes_the_first_matrix(r_kernel):
    first = r_kernel.evaluate_json(
        "cat(jsonlite::toJSON(paste0('assays/', SummarizedExperiment::assayNames(es_sce)[1])))"
    )[0]
    spec = spec_of(
        r_kernel,
        'exprscope_dual_expression(es_sce, "MS4A1", "CD79B", dataset_key = "groups", '
        'embedding = "TSNE")',
    )
    assert spec["matrix"] == first
    assert spec["embedding"] == "TSNE"
    spec = spec_of(
        r_kernel,
        'exprscope_heatmap(es_sce, "MS4A1", matrix = "assays/logcounts", cluster_key = "groups")',
    )
    assert spec["matrix"] == "assays/logcounts"


def test_non_syntactic_names_through_get(r_kernel):
    spec = spec_of(
        r_kernel,
        'exprscope_heatmap(get("es pbmc", envir = globalenv()), "MS4A1", cluster_key = "groups")',
    )
    assert spec["object"] == "es pbmc"


# -- bad arguments -------------------------------------------------------------------------------

P = "es_pbmc"
OK_HEATMAP = f'exprscope_heatmap({P}, "MS4A1", cluster_key = "groups"'
OK_DUAL = f'exprscope_dual_expression({P}, "MS4A1", "CD79B", dataset_key = "groups"'


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("exprscope_heatmap()", "object is missing"),
        ('exprscope_heatmap(es_nothing, "MS4A1")', 'no variable "es_nothing" in the global'),
        ('exprscope_heatmap(es_frame, "MS4A1")', '"es_frame" is a data.frame; exprscope reads'),
        ('exprscope_heatmap(.es_hidden, "MS4A1")', '".es_hidden" starts with a dot'),
        (
            'exprscope_heatmap(subset(es_pbmc, cells = 1:10), "MS4A1")',
            "object must be a Seurat or SingleCellExperiment variable",
        ),
        (
            'local({ es_pbmc <- es_sce; exprscope_heatmap(es_pbmc, "MS4A1") })',
            '"es_pbmc" here is not the global variable',
        ),
        (
            f'exprscope_heatmap({P}, c("MS4A1", "NOPE", "NO\\"PE2"), cluster_key = "groups")',
            'Unknown gene(s) in genes: "NOPE", "NO\\"PE2"; not in matrix "RNA/data"',
        ),
        (
            'exprscope_heatmap(es_kang, "LINC00115", matrix = "integrated/data")',
            'Unknown gene(s) in genes: "LINC00115"; not in matrix "integrated/data"',
        ),
        (f"exprscope_heatmap({P}, 1:3)", "genes must be a gene name or a character vector"),
        (f"exprscope_heatmap({P}, character(0))", "genes is empty"),
        (f"exprscope_heatmap({P}, NA_character_)", "genes must be"),
        (f'exprscope_heatmap({P}, "MS4A1", top_n = 3)', "Give either genes or top_n"),
        (f"exprscope_heatmap({P}, top_n = 0)", "top_n must be from 1 to 100, not 0"),
        (f'exprscope_heatmap({P}, top_n = "5")', 'top_n must be an integer, not "5"'),
        (
            f'{OK_HEATMAP}, groupby = "clusters")',
            'groupby must be one of "dataset", "cluster", "dataset_cluster", not "clusters"',
        ),
        (f'{OK_HEATMAP}, value = "median")', "value must be one of"),
        (
            'exprscope_heatmap(es_kang, "ISG15", value = "log2fc")',
            "reference must be the dataset the fold change is taken against",
        ),
        (
            'exprscope_heatmap(es_kang, "ISG15", value = "log2fc", reference = "nope")',
            'reference = "nope" is not a dataset of',
        ),
        (
            'exprscope_heatmap(es_kang, "ISG15", reference = "ctrl")',
            'reference only go with value = "log2fc"',
        ),
        (
            'exprscope_heatmap(es_kang, "ISG15", value = "log2fc", reference = "ctrl", '
            'method = "t")',
            "method must be one of",
        ),
        (f'{OK_HEATMAP}, scale = c("zscore", "none"))', "scale must be one of"),
        (f'{OK_HEATMAP}, metric = "cosine")', "metric must be one of"),
        (f"{OK_HEATMAP}, zscore_clip = Inf)", "zscore_clip must be a finite number"),
        (f'{OK_HEATMAP}, zscore_clip = "2")', "zscore_clip must be a finite number"),
        (f"{OK_HEATMAP}, min_cells = -1)", "min_cells must be >= 0, not -1"),
        (f"{OK_HEATMAP}, min_cells = 1.5)", "min_cells must be an integer, not 1.5"),
        (f"{OK_HEATMAP}, cluster_genes = NA)", "cluster_genes must be TRUE or FALSE, not NA"),
        (f'{OK_HEATMAP}, cluster_columns = "yes")', "cluster_columns must be TRUE or FALSE"),
        (f'{OK_HEATMAP}, matrix = "RNA/foo")', 'matrix = "RNA/foo" is not a matrix of "es_pbmc"'),
        (f"{OK_HEATMAP}, matrix = 1)", "matrix must be a matrix id"),
        (f'{OK_HEATMAP}, dataset_key = "nope")', 'dataset_key = "nope" is not a cell metadata'),
        (f'{OK_HEATMAP}, dataset_key = "nCount_RNA")', "is not a grouping column"),
        (f"{OK_HEATMAP}, dataset_key = NA)", "dataset_key must be a metadata column name"),
        (f'exprscope_heatmap({P}, "MS4A1")', "Columns by cluster needs a cluster column"),
        (f'{OK_HEATMAP}, groupby = "dataset")', "Columns by dataset needs a dataset column"),
        (
            f'{OK_HEATMAP}, clusters = c("g1", "g9"))',
            'Unknown cluster(s) in clusters: "g9"; clusters of "groups" are "g1", "g2"',
        ),
        (f"{OK_HEATMAP}, clusters = character(0))", "clusters is empty"),
        (f"{OK_HEATMAP}, clusters = 1.5)", "clusters must be a vector of cluster labels"),
        (f"{OK_HEATMAP}, clusters = list('g1'))", "clusters must be a vector of cluster labels"),
        (f'exprscope_dual_expression({P}, "MS4A1")', "gene_y must be a gene name"),
        (f'exprscope_dual_expression({P}, c("MS4A1", "CD79B"), "CD79B")', "gene_x must be"),
        (
            f'exprscope_dual_expression({P}, "MS4A1", "NOPE", dataset_key = "groups")',
            'Unknown gene(s) in gene_y: "NOPE"',
        ),
        (f'{OK_DUAL}, color_by = "none")', "color_by must be one of"),
        (f'{OK_DUAL}, facet_by = "x")', "facet_by must be one of"),
        (f"{OK_DUAL}, density = TRUE)", "density must be one of"),
        (f"{OK_DUAL}, detected_only = 1)", "detected_only must be TRUE or FALSE"),
        (f"{OK_DUAL}, jitter = NULL)", "jitter must be TRUE or FALSE, not NULL"),
        (f'{OK_DUAL}, marginals = "no")', "marginals must be TRUE or FALSE"),
        (f"{OK_DUAL}, n_boot = -1)", "n_boot must be >= 0"),
        (f"{OK_DUAL}, seed = 2^40)", "seed must be an R integer"),
        (f"{OK_DUAL}, seed = NA)", "seed must be an integer"),
        (f'{OK_DUAL}, embedding = "umap")', 'embedding = "umap" is not an embedding of'),
        (f"{OK_DUAL}, embedding = 2)", "embedding must be a reduction name"),
        (f'{OK_DUAL}, facet_by = "cluster")', "Facets by cluster needs a cluster column"),
        (
            f'exprscope_dual_expression({P}, "MS4A1", "CD79B")',
            "Colour by dataset needs a dataset column",
        ),
    ],
)
def test_bad_arguments_fail_clearly_and_display_nothing(r_kernel, code, message):
    error = failure(r_kernel, code)
    assert message in error


# -- the plot-spec schema (exprscope/plot_spec.schema.json) is the R functions' contract too ------


def _schema_arguments(kind: str) -> dict[str, dict[str, Any]]:
    """The schema's properties of a kind (common ones included) that are R arguments."""
    from exprscope.spec import SCHEMA

    properties = {
        **SCHEMA["$defs"]["common"]["properties"],
        **SCHEMA["$defs"][kind]["properties"],
    }
    return {
        key: prop
        for key, prop in properties.items()
        if prop.get("x-r") and kind in prop.get("x-argument-of", [kind])
    }


@pytest.mark.parametrize(
    ("function", "kind", "call"),
    [
        ("exprscope_heatmap", "heatmap", 'exprscope_heatmap(es_pbmc, "MS4A1", {arg} = {value})'),
        (
            "exprscope_dual_expression",
            "dual_expression",
            'exprscope_dual_expression(es_pbmc, "MS4A1", "CD79B", {arg} = {value})',
        ),
    ],
)
def test_r_arguments_and_choices_are_the_schema_s(r_kernel, function, kind, call):
    outputs, reply = run(r_kernel, f"cat(jsonlite::toJSON(names(formals({function}))))")
    assert reply["status"] == "ok", outputs
    formals = set(json.loads("".join(m["content"].get("text", "") for m in outputs)))
    arguments = _schema_arguments(kind)
    assert {prop["x-r"] for prop in arguments.values()} <= formals
    for prop in arguments.values():
        if "enum" not in prop:
            continue
        # R spells the value the schema marks as the argument's null (compare's "auto") NULL
        allowed = [v for v in prop["enum"] if v != prop.get("x-argument-null")]
        value = '"NOT_A_CHOICE"'
        if prop["x-r"] == "method":  # checked once a comparison is asked for
            value += (
                ', dataset_key = "groups", cluster_key = "RNA_snn_res.1", value = "log2fc", '
                'reference = "g1"'
            )
        message = failure(r_kernel, call.format(arg=prop["x-r"], value=value))
        assert "must be one of " in message, (prop["x-r"], message)
        listed = message.split("must be one of ", 1)[1].split(", not ", 1)[0]
        assert listed == ", ".join(json.dumps(v) for v in allowed), message
