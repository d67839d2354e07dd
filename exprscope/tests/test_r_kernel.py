# Over 600 lines: one IRkernel started per module and shared by every test here (a kernel per file would multiply the run time).
"""End-to-end tests of the R helper (``exprscope/kernel/r/``) in a real IRkernel.

One IRkernel is started for this module. It runs the R setup snippet exactly as the frontend
does, loads a real Seurat 4 object with an integrated assay (``exprscope/data/kang_seurat.rds``,
built by ``scripts/build_kang_seurat.R`` with Seurat's own IntegrateData), Seurat's
``pbmc_small``, a SingleCellExperiment made from it and a Seurat v5-style split-layer assay;
the tests then talk to it over the comm (``comm_msg`` requests, base64 "columns" replies read
from iopub) and compare every value with what R itself computes in the same kernel
(``GetAssayData``, ``AverageExpression``, ``cor``, ``FindAllMarkers``).

Skipped only when R or IRkernel is not installed (CI installs both).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from kernel_harness import R_KERNEL_STATE_CODE, REPO_ROOT, r_kernel_session
from scipy import stats

from exprscope import __version__
from exprscope.adapters._replies import grouping_of
from exprscope.adapters._stats import pair_stats_table
from exprscope.kernel import R_SETUP_SNIPPET
from exprscope.kernel.protocol import KERNEL_PATH_MIN_CELLS, MAX_CHUNK_BYTES, MAX_GENES_PER_FETCH

KANG_SEURAT_RDS = REPO_ROOT / "exprscope" / "data" / "kang_seurat.rds"


def _irkernel_installed() -> bool:
    if shutil.which("R") is None or shutil.which("Rscript") is None:
        return False
    check = ["Rscript", "-e", 'quit(status = !requireNamespace("IRkernel", quietly = TRUE))']
    return subprocess.run(check, capture_output=True, timeout=120).returncode == 0


pytestmark = pytest.mark.skipif(not _irkernel_installed(), reason="R with IRkernel not installed")

# Test data, built in the kernel by test-only code (names start with es_). The path is test
# data, passed as a JSON string literal, which is also a valid R string literal.
R_DATA_CODE = """
suppressPackageStartupMessages({
  library(Seurat)
  library(SingleCellExperiment)
})
es_kang <- readRDS(KANG_PATH)
data("pbmc_small", package = "SeuratObject", envir = environment())
es_pbmc <- pbmc_small
rm(pbmc_small)
Idents(es_pbmc) <- "RNA_snn_res.1"
es_sce <- as.SingleCellExperiment(es_pbmc)
es_markers <- FindAllMarkers(es_pbmc, verbose = FALSE)
es_frame <- data.frame(a = 1:3)
.es_hidden <- es_pbmc

# The integrated assay stores its cells in another order than the object (as IntegrateData
# may): fetch must align them by name.
es_shuffled <- es_kang
es_shuffled@assays$integrated@data <- local({
  set.seed(3)
  m <- es_kang@assays$integrated@data
  m[, sample(ncol(m))]
})

# A Seurat v5 object with split layers (data.g1, data.g2, counts.g1, counts.g2, disjoint
# interleaved cells), built on the structure the helper reads: an assay with slots layers,
# cells and features (LogMaps: logical matrices, rows = cells / features, columns = layers).
# SeuratObject 5 cannot be installed here (Debian ships 4.1), so the classes are stand-ins
# unless the real ones exist. data.g1 keeps shuffled dimnames (aligned by name); the others
# have none, as SeuratObject 5 stores them; data.g2 lacks MS4A1.
es_v5 <- local({
  if (!isClass("Assay5")) {
    setClass("LogMap", contains = "matrix", where = globalenv())
    setClass("Assay5", where = globalenv(), representation(
      layers = "list", cells = "LogMap", features = "LogMap", default = "integer",
      key = "character"
    ))
  }
  cells <- colnames(es_pbmc)
  genes <- rownames(es_pbmc)
  groups <- es_pbmc$groups
  stored <- list(
    counts = GetAssayData(es_pbmc, slot = "counts"), data = GetAssayData(es_pbmc, slot = "data")
  )
  layers <- list()
  cell_map <- matrix(FALSE, length(cells), 4, dimnames = list(cells, NULL))
  feature_map <- matrix(FALSE, length(genes), 4, dimnames = list(genes, NULL))
  i <- 0
  set.seed(7)
  for (base in c("counts", "data")) {
    for (g in c("g1", "g2")) {
      i <- i + 1
      name <- paste(base, g, sep = ".")
      held_cells <- cells[groups == g]
      held_genes <- if (name == "data.g2") setdiff(genes, "MS4A1") else genes
      if (name == "data.g1") held_cells <- sample(held_cells)
      m <- stored[[base]][held_genes, held_cells]
      if (name != "data.g1") dimnames(m) <- NULL
      layers[[name]] <- m
      cell_map[, i] <- cells %in% held_cells
      feature_map[, i] <- genes %in% held_genes
    }
  }
  colnames(cell_map) <- colnames(feature_map) <- names(layers)
  assay <- new("Assay5",
    layers = layers, cells = new("LogMap", cell_map), features = new("LogMap", feature_map),
    default = 1L, key = "rna_"
  )
  obj <- es_pbmc
  obj@assays[["RNA"]] <- assay
  obj
})
invisible(gc())
""".replace("KANG_PATH", json.dumps(str(KANG_SEURAT_RDS)))

OBJECTS = {
    "es_kang": "Seurat",
    "es_pbmc": "Seurat",
    "es_sce": "SingleCellExperiment",
    "es_shuffled": "Seurat",
    "es_v5": "Seurat",
}


@pytest.fixture(scope="module")
def r_kernel():
    if not KANG_SEURAT_RDS.is_file():
        pytest.fail(f"{KANG_SEURAT_RDS} is missing (scripts/build_kang_seurat.R builds it)")
    with r_kernel_session(R_DATA_CODE) as session:
        yield session


# -- reading R's own values ----------------------------------------------------------------------


def r_json(kernel, expression: str) -> Any:
    """The value of an R expression, through JSON at full precision."""
    return kernel.evaluate_json(
        f"cat(jsonlite::toJSON({expression}, auto_unbox = TRUE, digits = NA))"
    )


def r_array(kernel, expression: str) -> np.ndarray:
    """A numeric R vector or matrix, exactly (doubles through a file)."""
    path = Path(tempfile.gettempdir()) / f"exprscope-r-{uuid.uuid4().hex}.bin"
    shape = kernel.evaluate_json(
        "local({ x <- as.matrix(" + expression + "); "
        f"writeBin(as.double(x), {json.dumps(str(path))}, endian = 'little'); "
        "cat(jsonlite::toJSON(dim(x))) })"
    )
    try:
        return np.fromfile(path, dtype="<f8").reshape(shape, order="F")
    finally:
        path.unlink()


def r_strings(kernel, expression: str) -> list[str]:
    return r_json(kernel, f"I(as.character({expression}))")


def call_ok(kernel, op: str, **args: Any):
    reply = kernel.call(op, **args)
    assert reply.ok, reply.messages[0]
    return reply


def group_means(values: np.ndarray, labels: np.ndarray, groups: list[str]) -> np.ndarray:
    return np.array([values[labels == group].mean(axis=0) for group in groups])


# -- setup snippet ------------------------------------------------------------------------------


def test_snippet_is_silent_leaves_one_hidden_object_and_is_idempotent(r_kernel):
    # IRkernel echoes execute_input even for silent executions; nothing else may appear.
    assert [m for m in r_kernel.setup_outputs if m["msg_type"] != "execute_input"] == []
    assert set(r_kernel.names_after_setup) - set(r_kernel.names_before_setup) == {".exprscope"}
    state = r_kernel.evaluate_json
    before = state(R_KERNEL_STATE_CODE)
    for _ in range(2):
        outputs = r_kernel.execute(R_SETUP_SNIPPET, silent=True)
        assert [m["msg_type"] for m in outputs if m["msg_type"] != "execute_input"] == []
    after = state(R_KERNEL_STATE_CODE)
    assert after == before
    assert after["targets"].count("exprscope") == 1
    # The comm opened before the re-runs still answers; so does a new one.
    assert call_ok(r_kernel, "hello").result["language"] == "R"
    comm_id = r_kernel.open_comm()
    assert call_ok(r_kernel, "hello", comm_id=comm_id).result["protocol"] == 2
    r_kernel.close_comm(comm_id)
    assert state(R_KERNEL_STATE_CODE)["comms"] == before["comms"]


def test_hello(r_kernel):
    assert call_ok(r_kernel, "hello").result == {
        "protocol": 2,
        "version": __version__,
        "language": "R",
    }


# -- list and describe --------------------------------------------------------------------------


def test_list_reports_supported_objects(r_kernel):
    objects = {entry["name"]: entry for entry in call_ok(r_kernel, "list").result["objects"]}
    assert {name: entry["type"] for name, entry in objects.items()} == OBJECTS
    dims = r_json(
        r_kernel, "lapply(list(k = es_kang, p = es_pbmc, s = es_sce), function(x) I(dim(x)))"
    )
    assert (objects["es_kang"]["n_vars"], objects["es_kang"]["n_obs"]) == tuple(dims["k"])
    assert (objects["es_kang"]["n_obs"], objects["es_kang"]["n_vars"]) == (2000, 9015)
    assert (objects["es_pbmc"]["n_vars"], objects["es_pbmc"]["n_obs"]) == tuple(dims["p"])
    assert (objects["es_sce"]["n_vars"], objects["es_sce"]["n_obs"]) == tuple(dims["s"])
    # Same object, same fingerprint; the shuffled copy differs.
    again = {entry["name"]: entry for entry in call_ok(r_kernel, "list").result["objects"]}
    assert all(again[name]["fingerprint"] == objects[name]["fingerprint"] for name in OBJECTS)
    assert objects["es_shuffled"]["fingerprint"] != objects["es_kang"]["fingerprint"]


@pytest.mark.parametrize(
    "change",
    [
        "es_tmp <- NormalizeData(es_tmp, scale.factor = 100, verbose = FALSE)",
        "es_tmp$extra <- 1",
        "es_tmp$RNA_snn_res.1 <- factor(rev(as.character(es_tmp$RNA_snn_res.1)))",
        "es_tmp <- subset(es_tmp, cells = colnames(es_tmp)[1:40])",
        "es_tmp <- RenameCells(es_tmp, add.cell.id = 'x')",
        "es_tmp_markers <- es_markers",
    ],
)
def test_fingerprint_changes_with_the_object(r_kernel, change):
    r_kernel.execute("es_tmp <- es_pbmc")
    try:
        before = call_ok(r_kernel, "describe", object="es_tmp").result["fingerprint"]
        r_kernel.execute(change)
        after = call_ok(r_kernel, "describe", object="es_tmp").result["fingerprint"]
        assert after != before
    finally:
        r_kernel.execute("rm(list = intersect(c('es_tmp', 'es_tmp_markers'), ls()))")


def test_describe_kang(r_kernel):
    result = call_ok(r_kernel, "describe", object="es_kang").result
    assert result["type"] == "Seurat" and result["name"] == "es_kang"
    assert result["genes"] == r_strings(r_kernel, "rownames(es_kang)")
    matrices = {matrix["id"]: matrix for matrix in result["matrices"]}
    assert list(matrices) == [
        "RNA/data",
        "RNA/counts",
        "integrated/data",
        "integrated/scale.data",
    ]
    assert matrices["RNA/data"]["label"] == "RNA data"
    assert matrices["RNA/data"]["storage"] == "csc"
    assert "genes" not in matrices["RNA/data"]
    integrated = r_strings(r_kernel, "rownames(es_kang[['integrated']])")
    assert matrices["integrated/data"]["genes"] == integrated
    assert matrices["integrated/data"]["n_vars"] == len(integrated) == 400
    scaled = r_strings(r_kernel, "rownames(GetAssayData(es_kang, 'scale.data', 'integrated'))")
    assert matrices["integrated/scale.data"]["genes"] == scaled
    assert matrices["integrated/scale.data"]["storage"] == "dense"

    obs = {column["name"]: column for column in result["obs"]}
    assert obs["nCount_RNA"]["kind"] == "numeric"
    assert obs["orig.ident"]["categories"] == [
        {"name": "ctrl", "n_cells": 1000},
        {"name": "stim", "n_cells": 1000},
    ]
    clusters = obs["seurat_clusters"]
    assert clusters["kind"] == "categorical"
    levels = r_strings(r_kernel, "levels(es_kang$seurat_clusters)")
    counts = r_json(r_kernel, "I(as.integer(table(es_kang$seurat_clusters)))")
    assert clusters["categories"] == [
        {"name": level, "n_cells": count} for level, count in zip(levels, counts, strict=True)
    ]
    assert result["embeddings"] == [
        {"name": "pca", "n_dims": 30},
        {"name": "umap", "n_dims": 2},
        {"name": "tsne", "n_dims": 2},
    ]
    assert result["guesses"] == {
        "dataset": "orig.ident",
        "cluster": "seurat_clusters",
        "sample": None,
    }
    assert result["stored_markers"] == [
        {"key": "es_markers", "groupby": None, "method": "FindAllMarkers", "matrix": "RNA/data"}
    ]


def test_describe_pbmc_small(r_kernel):
    result = call_ok(r_kernel, "describe", object="es_pbmc").result
    obs = {column["name"]: column for column in result["obs"]}
    assert obs["groups"]["kind"] == "categorical"  # character column, 2 values
    assert [c["name"] for c in obs["groups"]["categories"]] == ["g1", "g2"]
    assert obs["nFeature_RNA"]["kind"] == "categorical"  # integers, few distinct values
    assert [c["name"] for c in obs["RNA_snn_res.1"]["categories"]] == ["0", "1", "2"]
    assert result["guesses"] == {"dataset": None, "cluster": None, "sample": None}
    assert [e["name"] for e in result["embeddings"]] == ["pca", "tsne"]
    # RNA_snn_res.0.8 has other levels; RNA_snn_res.1 are the identities markers were found for.
    assert result["stored_markers"] == [
        {
            "key": "es_markers",
            "groupby": "RNA_snn_res.1",
            "method": "FindAllMarkers",
            "matrix": "RNA/data",
        }
    ]


# -- fetch --------------------------------------------------------------------------------------


def check_fetch_values(r_kernel, reply, obj: str, assay: str, slot: str, genes: list[str]):
    """Every fetched gene column equals GetAssayData's values (as float32), cells in the
    object's order."""
    table = reply.table()
    expected = r_array(
        r_kernel,
        f"GetAssayData({obj}, slot = {json.dumps(slot)}, assay = {json.dumps(assay)})"
        f"[c({json.dumps(genes)[1:-1]}), colnames({obj}), drop = FALSE]",
    )
    for i, gene in enumerate(genes):
        column = table.column(f"gene:{gene}")
        assert column.type == pa.float32()
        np.testing.assert_array_equal(column.to_numpy(), expected[i].astype(np.float32))


def test_fetch_rna_data_with_obs_embedding_and_cell_ids(r_kernel):
    genes = ["ISG15", "IFI6", "NOT_A_GENE", "CD14", "ISG15"]
    reply = call_ok(
        r_kernel,
        "fetch",
        object="es_kang",
        matrix="RNA/data",
        genes=genes,
        obs=["orig.ident", "seurat_clusters", "nCount_RNA"],
        embedding="umap",
        cell_ids=True,
    )
    result = reply.result
    assert result["genes"] == ["ISG15", "IFI6", "CD14"]
    assert result["missing"] == ["NOT_A_GENE"]
    assert result["missing_reason"] == {"NOT_A_GENE": "not_in_matrix"}
    assert result["n_obs"] == 2000 and result["matrix"] == "RNA/data"
    table = reply.table()
    assert table.column_names == [
        "gene:ISG15",
        "gene:IFI6",
        "gene:CD14",
        "obs:orig.ident",
        "obs:seurat_clusters",
        "obs:nCount_RNA",
        "obsm:umap:0",
        "obsm:umap:1",
        "cell_id",
    ]
    check_fetch_values(r_kernel, reply, "es_kang", "RNA", "data", ["ISG15", "IFI6", "CD14"])
    assert table.column("cell_id").to_pylist() == r_strings(r_kernel, "colnames(es_kang)")
    clusters = table.column("obs:seurat_clusters")
    assert clusters.type == pa.dictionary(pa.int32(), pa.utf8())
    assert clusters.to_pylist() == r_strings(r_kernel, "es_kang$seurat_clusters")
    assert clusters.chunk(0).dictionary.to_pylist() == r_strings(
        r_kernel, "levels(es_kang$seurat_clusters)"
    )
    assert table.column("obs:orig.ident").to_pylist() == r_strings(r_kernel, "es_kang$orig.ident")
    assert table.column("obs:nCount_RNA").type == pa.float64()
    np.testing.assert_array_equal(
        table.column("obs:nCount_RNA").to_numpy(), r_array(r_kernel, "es_kang$nCount_RNA")[:, 0]
    )
    umap = r_array(r_kernel, "Embeddings(es_kang, 'umap')[colnames(es_kang), ]")
    for dim in range(2):
        np.testing.assert_array_equal(
            table.column(f"obsm:umap:{dim}").to_numpy(), umap[:, dim].astype(np.float32)
        )


def test_fetch_integrated_reports_genes_it_lacks(r_kernel):
    integrated = r_strings(r_kernel, "head(rownames(es_kang[['integrated']]), 3)")
    outside = r_strings(
        r_kernel, "head(setdiff(rownames(es_kang), rownames(es_kang[['integrated']])), 2)"
    )
    reply = call_ok(
        r_kernel, "fetch", object="es_kang", matrix="integrated/data", genes=integrated + outside
    )
    # Never read from another assay (FetchData would silently take them from RNA).
    assert reply.result["genes"] == integrated
    assert reply.result["missing"] == outside
    assert reply.result["missing_reason"] == dict.fromkeys(outside, "not_in_matrix")
    check_fetch_values(r_kernel, reply, "es_kang", "integrated", "data", integrated)
    scaled = r_strings(
        r_kernel, "head(rownames(GetAssayData(es_kang, 'scale.data', 'integrated')), 2)"
    )
    reply = call_ok(
        r_kernel, "fetch", object="es_kang", matrix="integrated/scale.data", genes=scaled
    )
    check_fetch_values(r_kernel, reply, "es_kang", "integrated", "scale.data", scaled)


def test_fetch_aligns_cells_by_name(r_kernel):
    genes = r_strings(r_kernel, "head(rownames(es_kang[['integrated']]), 4)")
    assert (
        r_json(r_kernel, "identical(colnames(es_shuffled[['integrated']]), colnames(es_shuffled))")
        is False
    )
    shuffled = call_ok(
        r_kernel, "fetch", object="es_shuffled", matrix="integrated/data", genes=genes
    ).table()
    original = call_ok(
        r_kernel, "fetch", object="es_kang", matrix="integrated/data", genes=genes
    ).table()
    assert shuffled.equals(original)


def test_fetch_many_genes_is_chunked(r_kernel):
    # Dense values (no zeros) travel dense, 4 bytes per cell: 2000 genes x 2000 cells = 16 MB
    r_kernel.execute(
        "es_dense_sce <- local({ set.seed(5); m <- matrix(rnorm(4e6), 2000, 2000, dimnames = "
        "list(paste0('g', 1:2000), paste0('c', 1:2000))); "
        "SingleCellExperiment::SingleCellExperiment(assays = list(logcounts = m)) })"
    )
    genes = r_strings(r_kernel, "rownames(es_dense_sce)")
    assert len(genes) == MAX_GENES_PER_FETCH
    started = time.perf_counter()
    reply = call_ok(
        r_kernel, "fetch", object="es_dense_sce", matrix="assays/logcounts", genes=genes
    )
    elapsed = time.perf_counter() - started
    print(f"fetch of {len(genes)} dense genes x 2000 cells from R: {elapsed:.2f} s")
    assert reply.messages[0]["parts"] >= 2
    assert all(len(piece) <= MAX_CHUNK_BYTES for piece in reply.slices())
    assert {column["type"] for column in reply.result["columns"]} == {"float32"}
    table = reply.table()
    assert table.num_columns == len(genes) and table.num_rows == 2000
    expected = r_array(r_kernel, "assay(es_dense_sce, 'logcounts')[1999:2000, ]")
    for i, gene in enumerate(genes[-2:]):
        np.testing.assert_array_equal(
            table.column(f"gene:{gene}").to_numpy(), expected[i].astype(np.float32)
        )
    r_kernel.execute("rm(es_dense_sce)")
    assert elapsed < 30


def test_fetch_sends_nonzeros(r_kernel):
    """Genes with at most half their cells non-zero travel as (cells, values), the rest
    dense (Python's rule, docs/protocol.md "fetch payload"): the bytes stay within
    1.2 x nnz x 8 and decode to GetAssayData's values."""
    genes = r_strings(r_kernel, "rownames(es_kang)[seq(1, by = 97, length.out = 50)]")
    reply = call_ok(r_kernel, "fetch", object="es_kang", matrix="RNA/data", genes=genes)
    subset = f"GetAssayData(es_kang, slot = 'data', assay = 'RNA')[c({json.dumps(genes)[1:-1]}), ]"
    nnz = r_json(r_kernel, f"I(as.integer(Matrix::rowSums({subset} != 0)))")
    types = {column["name"]: column["type"] for column in reply.result["columns"]}
    for gene, count in zip(genes, nnz, strict=True):
        expected = "sparse_float32" if count * 8 <= 2000 * 4 else "float32"
        assert types[f"gene:{gene}"] == expected, (gene, count)
    assert "sparse_float32" in types.values()
    payload_bytes = sum(len(piece) for piece in reply.slices())
    assert payload_bytes <= 1.2 * sum(nnz) * 8 + 64 * len(genes)
    check_fetch_values(r_kernel, reply, "es_kang", "RNA", "data", genes)


def test_fetch_sparse_keeps_every_value(r_kernel):
    """NA, -0 and tiny values survive; stored zeros are dropped; a column without zeros
    stays dense; an all-NA gene is missing."""
    r_kernel.execute(
        # sparseMatrix keeps what it is given: -0 and an explicitly stored 0 (gene C)
        "es_special <- local({ m <- Matrix::sparseMatrix(i = c(1, 1, 1, 1, 3, rep(2:4, 40)), "
        "j = c(2, 5, 9, 33, 7, rep(1:40, each = 3)), x = c(NA, -0, 1e-40, -3e38, 0, "
        "rbind(1:40, 0, NA)), dims = c(4, 40), "
        "dimnames = list(c('A', 'B', 'C', 'D'), paste0('c', 1:40))); "
        "SingleCellExperiment::SingleCellExperiment(assays = list(logcounts = m)) })"
    )
    reply = call_ok(
        r_kernel,
        "fetch",
        object="es_special",
        matrix="assays/logcounts",
        genes=["A", "B", "C", "D"],
    )
    assert reply.result["missing_reason"] == {"D": "all_nan"}
    columns = {column["name"]: column for column in reply.result["columns"]}
    assert columns["gene:A"]["type"] == "sparse_float32" and columns["gene:A"]["nnz"] == 4
    assert columns["gene:B"]["type"] == "float32"
    assert columns["gene:C"] == {**columns["gene:C"], "type": "sparse_float32", "nnz": 0}
    table = reply.table()
    with np.errstate(invalid="ignore"):  # R's NA is a NaN with a payload
        expected = r_array(r_kernel, "as.matrix(assay(es_special, 'logcounts'))[1:3, ]").astype(
            np.float32
        )
    for i, gene in enumerate(["A", "B", "C"]):
        got = table.column(f"gene:{gene}").to_numpy()
        nan = np.isnan(expected[i])
        np.testing.assert_array_equal(np.isnan(got), nan)
        np.testing.assert_array_equal(got[~nan].view(np.uint32), expected[i][~nan].view(np.uint32))
    assert np.signbit(table.column("gene:A").to_numpy()[4])  # -0 stays -0
    r_kernel.execute("rm(es_special)")


def test_fetch_sce(r_kernel):
    result = call_ok(r_kernel, "describe", object="es_sce").result
    assert [m["id"] for m in result["matrices"]] == ["assays/counts", "assays/logcounts"]
    assert [e["name"] for e in result["embeddings"]] == ["PCA", "TSNE"]
    reply = call_ok(
        r_kernel,
        "fetch",
        object="es_sce",
        matrix="assays/logcounts",
        genes=["MS4A1", "CD79B", "nope"],
        obs=["groups", "RNA_snn_res.1"],
        embedding="TSNE",
    )
    assert reply.result["missing"] == ["nope"]
    table = reply.table()
    expected = r_array(r_kernel, "assay(es_sce, 'logcounts')[c('MS4A1', 'CD79B'), ]")
    for i, gene in enumerate(["MS4A1", "CD79B"]):
        np.testing.assert_array_equal(
            table.column(f"gene:{gene}").to_numpy(), expected[i].astype(np.float32)
        )
    assert table.column("obs:groups").to_pylist() == r_strings(r_kernel, "es_sce$groups")
    tsne = r_array(r_kernel, "reducedDim(es_sce, 'TSNE')")
    np.testing.assert_array_equal(
        table.column("obsm:TSNE:1").to_numpy(), tsne[:, 1].astype(np.float32)
    )


# -- heatmap aggregates and correlations against Seurat / R ------------------------------------


def test_linear_space_means_equal_average_expression(r_kernel):
    """Seurat's heatmap convention: log1p(mean(expm1(x))) per group, from fetched values."""
    genes = ["ISG15", "IFI6", "CD14", "MS4A1", "GNLY"]
    table = call_ok(
        r_kernel,
        "fetch",
        object="es_kang",
        matrix="RNA/data",
        genes=genes,
        obs=["seurat_clusters"],
    ).table()
    clusters = np.array(table.column("obs:seurat_clusters").to_pylist())
    levels = r_strings(r_kernel, "levels(es_kang$seurat_clusters)")
    values = np.column_stack([table.column(f"gene:{g}").to_numpy() for g in genes]).astype(float)
    linear = group_means(np.expm1(values), clusters, levels)  # groups x genes
    # AverageExpression's `slot = "data"` result is mean(expm1(x)) (Seurat 4.3).
    seurat = r_array(
        r_kernel,
        f"AverageExpression(es_kang, assays = 'RNA', slot = 'data', group.by = "
        f"'seurat_clusters', features = c({json.dumps(genes)[1:-1]}), verbose = FALSE)$RNA",
    )
    np.testing.assert_allclose(np.log1p(linear), np.log1p(seurat.T), rtol=1e-6, atol=1e-7)


def stats_table(reply) -> dict[str, np.ndarray]:
    table = reply.table()
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def test_group_stats_equal_r_and_average_expression_on_scale_data(r_kernel):
    reply = call_ok(
        r_kernel,
        "group_stats",
        object="es_kang",
        matrix="integrated/scale.data",
        groupby=["seurat_clusters"],
    )
    result, columns = reply.result, stats_table(reply)
    levels = r_strings(r_kernel, "levels(es_kang$seurat_clusters)")
    assert [group["labels"] for group in result["groups"]] == [[level] for level in levels]
    assert result["has_negative"] is True and result["excluded_genes"] == []
    genes = list(columns["gene"])
    assert genes == r_strings(
        r_kernel, "rownames(GetAssayData(es_kang, 'scale.data', 'integrated'))"
    )
    seurat = r_array(
        r_kernel,
        "AverageExpression(es_kang, assays = 'integrated', slot = 'scale.data', "
        "group.by = 'seurat_clusters', verbose = FALSE)$integrated",
    )
    for i, group in enumerate(result["groups"]):
        np.testing.assert_allclose(
            columns[f"sum:{i}"] / group["n"], seurat[:, i], rtol=1e-10, atol=1e-12
        )


def test_group_stats_crossed_equal_r(r_kernel):
    reply = call_ok(
        r_kernel,
        "group_stats",
        object="es_kang",
        matrix="RNA/data",
        groupby=["seurat_clusters", "orig.ident"],
    )
    result, columns = reply.result, stats_table(reply)
    assert result["n_cells_total"] == 2000 and result["n_genes"] == 9015
    assert result["has_negative"] is False and result["log1p_base"] is None
    expected_groups = r_json(
        r_kernel,
        "local({ t <- table(es_kang$seurat_clusters, es_kang$orig.ident); "
        "d <- as.data.frame(t, stringsAsFactors = FALSE); d <- d[d$Freq > 0, ]; "
        "d <- d[order(match(d$Var1, levels(es_kang$seurat_clusters)), d$Var2), ]; "
        "lapply(seq_len(nrow(d)), function(i) list(labels = I(c(d$Var1[i], d$Var2[i])), "
        "n = d$Freq[i])) })",
    )
    assert result["groups"] == expected_groups
    data = r_array(r_kernel, "GetAssayData(es_kang, slot = 'data')")  # genes x cells
    clusters = np.array(r_strings(r_kernel, "es_kang$seurat_clusters"))
    datasets = np.array(r_strings(r_kernel, "es_kang$orig.ident"))
    for i, group in enumerate(result["groups"]):
        cells = (clusters == group["labels"][0]) & (datasets == group["labels"][1])
        block = data[:, cells]
        np.testing.assert_allclose(columns[f"sum:{i}"], block.sum(axis=1), rtol=1e-12)
        np.testing.assert_allclose(columns[f"sumsq:{i}"], (block**2).sum(axis=1), rtol=1e-12)
        np.testing.assert_array_equal(columns[f"nnz:{i}"], (block > 0).sum(axis=1))
    np.testing.assert_allclose(columns["total_sum"], data.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(columns["total_sumsq"], (data**2).sum(axis=1), rtol=1e-12)


def test_group_stats_three_columns_equal_python_grouping(r_kernel):
    # The heatmap's dataset × cluster × sample groups; "rep" has a level no cell uses and NAs
    r_kernel.execute(
        "es_tmp <- es_kang; es_tmp$rep <- factor(c('r2', 'r0', 'r1', NA)[seq_len(ncol(es_tmp)) "
        "%% 4 + 1], levels = c('r2', 'unused', 'r0', 'r1'))"
    )
    try:
        groupby = ["orig.ident", "seurat_clusters", "rep"]
        reply = call_ok(
            r_kernel,
            "group_stats",
            object="es_tmp",
            matrix="RNA/data",
            groupby=groupby,
            genes=["ISG15", "IFI6", "CD14"],
        )
        result, columns = reply.result, stats_table(reply)
        labels = {c: r_strings(r_kernel, f"as.character(es_tmp${c})") for c in groupby}
        levels = {c: r_strings(r_kernel, f"levels(as.factor(es_tmp${c}))") for c in groupby}
        data = r_array(r_kernel, "GetAssayData(es_tmp)[c('ISG15', 'IFI6', 'CD14'), ]")
    finally:
        r_kernel.execute("rm(es_tmp)")
    obs = {
        c: pd.Series(
            pd.Categorical([None if v in (None, "NA") else v for v in labels[c]], levels[c])
        )
        for c in groupby
    }
    python = grouping_of(obs)
    assert [g["labels"] for g in result["groups"]] == python.labels
    assert [g["n"] for g in result["groups"]] == python.counts.tolist()
    assert result["n_cells_total"] == 2000 and sum(python.counts) == 1500
    for i in range(len(python.labels)):
        block = data[:, python.codes == i]
        np.testing.assert_allclose(columns[f"sum:{i}"], block.sum(axis=1), rtol=1e-12)
        np.testing.assert_array_equal(columns[f"nnz:{i}"], (block > 0).sum(axis=1))


@pytest.mark.parametrize("subset", ["ctrl", "stim"])
def test_correlations_equal_r_cor(r_kernel, subset):
    table = call_ok(
        r_kernel,
        "fetch",
        object="es_kang",
        matrix="RNA/data",
        genes=["ISG15", "IFI6"],
        obs=["orig.ident"],
    ).table()
    cells = np.array(table.column("obs:orig.ident").to_pylist()) == subset
    x = table.column("gene:ISG15").to_numpy()[cells].astype(float)
    y = table.column("gene:IFI6").to_numpy()[cells].astype(float)
    expected = r_json(
        r_kernel,
        "local({ d <- GetAssayData(es_kang)[c('ISG15', 'IFI6'), es_kang$orig.ident == "
        f"{json.dumps(subset)}]; "
        "list(pearson = cor(d[1, ], d[2, ], method = 'pearson'), "
        "spearman = cor(d[1, ], d[2, ], method = 'spearman')) })",
    )
    assert stats.pearsonr(x, y)[0] == pytest.approx(expected["pearson"], abs=1e-6)
    assert stats.spearmanr(x, y)[0] == pytest.approx(expected["spearman"], abs=1e-6)


# -- the kernel path: describe's execution, group_stats of some genes, pair_stats --------------


def test_describe_says_where_plots_are_computed(r_kernel):
    small = call_ok(r_kernel, "describe", object="es_kang").result["execution"]
    assert small == {
        "path": "browser",
        "reason": "In memory, 2,000 cells: cells are sent to the browser.",
    }
    # Above KERNEL_PATH_MIN_CELLS (Python's too): per-group statistics, not cells
    r_kernel.execute(
        "es_big <- SingleCellExperiment::SingleCellExperiment("
        "assays = list(logcounts = Matrix::sparseMatrix(i = 1L, j = 1L, x = 1, "
        "dims = c(2L, 100001L), dimnames = list(c('A', 'B'), paste0('c', 1:100001)))), "
        "colData = S4Vectors::DataFrame(cluster = factor(rep(c('0', '1'), length.out = 100001))))"
    )
    try:
        big = call_ok(r_kernel, "describe", object="es_big").result["execution"]
    finally:
        r_kernel.execute("rm(es_big)")
    assert big["path"] == "kernel"
    assert big["reason"].startswith("100,001 cells (more than 100,000)")
    assert KERNEL_PATH_MIN_CELLS == 100_000


def test_group_stats_of_requested_genes_with_linear_sums(r_kernel):
    args = {"object": "es_kang", "matrix": "RNA/data", "groupby": ["seurat_clusters"]}
    reply = call_ok(
        r_kernel, "group_stats", **args, genes=["ISG15", "NOPE", "IFI6", "ISG15"], expm1=True
    )
    result, columns = reply.result, stats_table(reply)
    assert result["missing"] == ["NOPE"] and result["expm1"] is True
    assert list(columns["gene"]) == ["ISG15", "IFI6"]
    # The same sums as for every gene, and Seurat's linear-space means from Σ expm1(x)
    whole = stats_table(call_ok(r_kernel, "group_stats", **args))
    rows = [list(whole["gene"]).index(gene) for gene in ("ISG15", "IFI6")]
    seurat = r_array(
        r_kernel,
        "AverageExpression(es_kang, assays = 'RNA', slot = 'data', features = c('ISG15', "
        "'IFI6'), group.by = 'seurat_clusters', verbose = FALSE)$RNA",
    )
    for i, group in enumerate(result["groups"]):
        for name in ("sum", "sumsq", "nnz"):
            np.testing.assert_array_equal(columns[f"{name}:{i}"], whole[f"{name}:{i}"][rows])
        np.testing.assert_allclose(columns[f"sumexpm1:{i}"] / group["n"], seurat[:, i], rtol=1e-12)
    assert "sumexpm1:0" not in whole
    # Nothing requested that the matrix holds: an empty table, every gene missing
    none = call_ok(r_kernel, "group_stats", **args, genes=["NOPE"])
    assert none.result["missing"] == ["NOPE"] and none.result["n_genes"] == 0
    # An empty list (as fetch allows): an empty table, nothing missing
    empty = call_ok(r_kernel, "group_stats", **args, genes=[])
    assert empty.result["missing"] == [] and empty.result["n_genes"] == 0
    assert len(stats_table(empty)["gene"]) == 0


def python_codes(result: dict, labels: list[np.ndarray]) -> np.ndarray:
    """Each cell's group in a group_stats/pair_stats result (−1: none), from its labels."""
    position = {tuple(group["labels"]): i for i, group in enumerate(result["groups"])}
    return np.array([position.get(cell, -1) for cell in zip(*labels, strict=True)])


@pytest.mark.parametrize("detected_only", [False, True])
@pytest.mark.parametrize("groupby", [["orig.ident"], ["seurat_clusters", "orig.ident"]])
def test_pair_stats_equal_python_and_r_cor(r_kernel, groupby, detected_only):
    reply = call_ok(
        r_kernel,
        "pair_stats",
        object="es_kang",
        matrix="RNA/data",
        gene_x="ISG15",
        gene_y="IFI6",
        groupby=groupby,
        detected_only=detected_only,
    )
    result, table = reply.result, reply.table()
    assert result["missing"] == [] and result["spearman_sampled"] is False
    # Python's pair_stats on R's exact values and groups
    x, y = r_array(r_kernel, "GetAssayData(es_kang, slot = 'data')[c('ISG15', 'IFI6'), ]")
    labels = [np.array(r_strings(r_kernel, f"es_kang${column}")) for column in groupby]
    codes = python_codes(result, labels)
    expected, _ = pair_stats_table(x, y, codes, len(result["groups"]), detected_only=detected_only)
    assert table.num_rows == expected.num_rows == len(result["groups"])
    for name in expected.column_names:
        ours = table.column(name).to_pylist()
        theirs = expected.column(name).to_pylist()
        if name == "reason":
            assert ours == theirs
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=name)
    # And R's own cor() on the first group's cells
    first = codes == 0
    if detected_only:
        first &= (x > 0) & (y > 0)
    reference = r_json(
        r_kernel,
        "local({ d <- GetAssayData(es_kang)[c('ISG15', 'IFI6'), ]; "
        f"keep <- c({', '.join(str(i + 1) for i in np.flatnonzero(first))}); "
        "list(pearson = cor(d[1, keep], d[2, keep]), "
        "spearman = cor(d[1, keep], d[2, keep], method = 'spearman')) })",
    )
    assert table.column("pearson_r")[0].as_py() == pytest.approx(reference["pearson"], abs=1e-12)
    assert table.column("spearman_rho")[0].as_py() == pytest.approx(
        reference["spearman"], abs=1e-12
    )


def test_pair_stats_missing_gene_and_sampled_spearman(r_kernel):
    args = {"object": "es_kang", "matrix": "RNA/data", "groupby": ["orig.ident"]}
    missing = call_ok(r_kernel, "pair_stats", **args, gene_x="ISG15", gene_y="NOPE")
    assert missing.result["missing"] == ["NOPE"]
    assert missing.result["missing_reason"] == {"NOPE": "not_in_matrix"}
    assert "columns" not in missing.result

    # A sample of max_sample cells per larger group, leaving the user's random stream alone
    def sample():
        return call_ok(
            r_kernel,
            "pair_stats",
            **args,
            gene_x="ISG15",
            gene_y="IFI6",
            spearman="sample",
            max_sample=50,
        )

    r_kernel.execute("set.seed(42); es_before <- .Random.seed")
    sampled = sample()
    assert r_json(r_kernel, "identical(.Random.seed, es_before)") is True
    r_kernel.execute("rm(es_before)")
    table = sampled.table()
    assert sampled.result["spearman_sampled"] is True
    assert table.column("spearman_n").to_pylist() == [50, 50]
    assert table.column("n").to_pylist() == [g["n"] for g in sampled.result["groups"]]
    again = sample()
    assert again.table().column("spearman_rho").to_pylist() == (
        table.column("spearman_rho").to_pylist()
    )


# -- pbmc_small, stored markers, Seurat v5 layers -----------------------------------------------


def test_pbmc_small_group_stats(r_kernel):
    reply = call_ok(
        r_kernel,
        "group_stats",
        object="es_pbmc",
        matrix="RNA/counts",
        groupby=["groups", "RNA_snn_res.1"],
    )
    labels = [group["labels"] for group in reply.result["groups"]]
    assert labels == [[g, c] for g in ("g1", "g2") for c in ("0", "1", "2")]
    columns = stats_table(reply)
    counts = r_array(r_kernel, "GetAssayData(es_pbmc, slot = 'counts')")
    groups = np.array(r_strings(r_kernel, "es_pbmc$groups"))
    clusters = np.array(r_strings(r_kernel, "es_pbmc$RNA_snn_res.1"))
    for i, (g, c) in enumerate(labels):
        block = counts[:, (groups == g) & (clusters == c)]
        assert reply.result["groups"][i]["n"] == block.shape[1]
        np.testing.assert_array_equal(columns[f"sum:{i}"], block.sum(axis=1))
        np.testing.assert_array_equal(columns[f"nnz:{i}"], (block > 0).sum(axis=1))


def test_stored_markers_equal_find_all_markers(r_kernel):
    reply = call_ok(
        r_kernel, "stored_markers", object="es_pbmc", groupby="RNA_snn_res.1", n=3, key="es_markers"
    )
    result = reply.result
    assert result["available"] is True
    assert result["method"] == "FindAllMarkers" and result["reference"] == "rest"
    assert result["matrix"] == "RNA/data" and result["groups"] == ["0", "1", "2"]
    table = reply.table()
    assert table.schema.types == [
        pa.utf8(),
        pa.int32(),
        pa.utf8(),
        pa.float64(),
        pa.float64(),
        pa.float64(),
    ]
    expected = r_json(
        r_kernel,
        "local({ m <- es_markers; top <- do.call(rbind, lapply(split(m, m$cluster), head, 3)); "
        "list(group = I(as.character(top$cluster)), gene = I(as.character(top$gene)), "
        "lfc = I(top$avg_log2FC), padj = I(top$p_val_adj)) })",
    )
    assert table.column("group").to_pylist() == expected["group"]
    assert table.column("gene").to_pylist() == expected["gene"]
    assert table.column("rank").to_pylist() == [1, 2, 3] * 3
    np.testing.assert_allclose(table.column("score").to_numpy(), expected["lfc"], rtol=1e-14)
    np.testing.assert_allclose(
        table.column("logfoldchange").to_numpy(), expected["lfc"], rtol=1e-14
    )
    np.testing.assert_allclose(table.column("pval_adj").to_numpy(), expected["padj"], rtol=1e-14)
    # Without a key: the first marker table computed for this groupby.
    default = call_ok(r_kernel, "stored_markers", object="es_pbmc", groupby="RNA_snn_res.1", n=3)
    assert default.table().equals(table)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"groupby": "groups"}, "No stored marker table"),
        ({"groupby": "groups", "key": "es_markers"}, "is for 'RNA_snn_res.1', not 'groups'"),
        ({"groupby": "groups", "key": "es_frame"}, "is not a marker table"),
    ],
)
def test_stored_markers_unavailable(r_kernel, args, reason):
    result = call_ok(r_kernel, "stored_markers", object="es_pbmc", **args).result
    assert result["available"] is False and reason in result["reason"]
    assert set(result) == {"available", "reason", "fingerprint"}


def test_seurat_v5_split_layers_are_joined(r_kernel):
    describe = call_ok(r_kernel, "describe", object="es_v5").result
    matrices = {m["id"]: m for m in describe["matrices"]}
    assert list(matrices) == ["RNA/data", "RNA/counts"]
    assert matrices["RNA/data"]["label"] == "RNA data (2 layers joined)"
    genes = ["MS4A1", "CD79B", "LYZ"]
    reply = call_ok(
        r_kernel, "fetch", object="es_v5", matrix="RNA/data", genes=genes, obs=["groups"]
    )
    table = reply.table()
    assert reply.result["genes"] == genes
    expected = r_array(
        r_kernel, "GetAssayData(es_pbmc, slot = 'data')[c('MS4A1', 'CD79B', 'LYZ'), ]"
    )
    g2 = np.array(table.column("obs:groups").to_pylist()) == "g2"
    for i, gene in enumerate(genes[1:], start=1):
        np.testing.assert_array_equal(
            table.column(f"gene:{gene}").to_numpy(), expected[i].astype(np.float32)
        )
    # MS4A1 is not in the data.g2 layer: NaN for those cells only.
    ms4a1 = table.column("gene:MS4A1").to_numpy()
    assert np.isnan(ms4a1[g2]).all()
    np.testing.assert_array_equal(ms4a1[~g2], expected[0][~g2].astype(np.float32))

    # Group statistics add up over the layers and equal the unsplit object's.
    split = call_ok(
        r_kernel, "group_stats", object="es_v5", matrix="RNA/data", groupby=["RNA_snn_res.1"]
    )
    whole = call_ok(
        r_kernel, "group_stats", object="es_pbmc", matrix="RNA/data", groupby=["RNA_snn_res.1"]
    )
    assert split.result["excluded_genes"] == ["MS4A1"]
    assert split.result["groups"] == whole.result["groups"]
    split_columns, whole_columns = stats_table(split), stats_table(whole)
    keep = whole_columns["gene"] != "MS4A1"
    for name, values in whole_columns.items():
        if name == "gene":
            assert list(split_columns[name]) == list(values[keep])
        else:
            np.testing.assert_allclose(split_columns[name], values[keep], rtol=1e-12)
    counts = call_ok(
        r_kernel, "group_stats", object="es_v5", matrix="RNA/counts", groupby=["groups"]
    )
    whole_counts = call_ok(
        r_kernel, "group_stats", object="es_pbmc", matrix="RNA/counts", groupby=["groups"]
    )
    assert (
        stats_table(counts)["total_sum"].tolist() == stats_table(whole_counts)["total_sum"].tolist()
    )


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "args", "code", "message"),
    [
        ("describe", {"object": "nope"}, "not_found", "No object named 'nope'"),
        ("describe", {"object": ".es_hidden"}, "not_found", "No object named '.es_hidden'"),
        ("describe", {"object": "es_frame"}, "not_supported", "'es_frame' is a data.frame"),
        ("describe", {"object": 3}, "bad_request", "Argument 'object' must be a string"),
        ("describe", {}, "bad_request", "Argument 'object'"),
        (
            "fetch",
            {"object": "es_kang", "matrix": "SCT/data", "genes": ["ISG15"]},
            "unknown_matrix",
            "No matrix 'SCT/data'",
        ),
        (
            "fetch",
            {"object": "es_kang", "matrix": "RNA/data", "genes": [], "obs": ["nope"]},
            "unknown_column",
            "No cell metadata column 'nope'",
        ),
        (
            "fetch",
            {"object": "es_kang", "matrix": "RNA/data", "genes": [], "embedding": "nope"},
            "unknown_column",
            "No embedding 'nope'",
        ),
        (
            "fetch",
            {"object": "es_kang", "matrix": "RNA/data", "genes": 5},
            "bad_request",
            "Argument 'genes' must be a list of strings",
        ),
        (
            "fetch",
            {"object": "es_kang", "matrix": "RNA/data", "genes": [f"G{i}" for i in range(2001)]},
            "too_large",
            "at most 2000 per fetch",
        ),
        (
            "group_stats",
            {"object": "es_kang", "matrix": "RNA/data", "groupby": ["a", "b", "c", "d"]},
            "bad_request",
            "Argument 'groupby'",
        ),
        (
            "pair_stats",
            {
                "object": "es_kang",
                "matrix": "RNA/data",
                "gene_x": "ISG15",
                "gene_y": "IFI6",
                "groupby": ["orig.ident"],
                "spearman": "approximate",
            },
            "bad_request",
            "Argument 'spearman'",
        ),
        (
            "stored_markers",
            {"object": "es_pbmc", "groupby": "groups", "n": 0},
            "bad_request",
            "from 1 to 200",
        ),
        ("frobnicate", {}, "unknown_op", "Unknown op 'frobnicate'"),
    ],
)
def test_error_replies(r_kernel, op, args, code, message):
    reply = r_kernel.call(op, **args)
    assert not reply.ok
    assert reply.error["code"] == code, reply.error
    assert message in reply.error["message"]


def test_malformed_requests_get_bad_request(r_kernel):
    for data, expected_id in [([1, 2], None), ({"op": "hello"}, None), ({"id": "x"}, "x")]:
        reply = r_kernel.send_raw(data)
        reply.assert_single_reply(expected_id)
        assert reply.error["code"] == "bad_request"
    reply = r_kernel.send_raw({"id": 17, "op": "hello"})
    reply.assert_single_reply(17)
    assert reply.ok


def test_r_error_in_handler_is_an_internal_reply_and_the_kernel_survives(r_kernel):
    r_kernel.execute("es_broken <- es_pbmc; es_broken@reductions$bad <- 42")
    try:
        reply = r_kernel.call("describe", object="es_broken")
        assert reply.error["code"] == "internal"
        assert "cell.embeddings" in reply.error["message"]
        assert "embeddings(view)" in reply.error["details"]["traceback"]
    finally:
        r_kernel.execute("rm(es_broken)")
    assert call_ok(r_kernel, "hello").result["language"] == "R"
    assert r_json(r_kernel, "1 + 1") == 2
