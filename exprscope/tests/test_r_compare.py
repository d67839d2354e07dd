"""The R helper's ``compare`` op (``exprscope/kernel/r/04b-compare.R``) in a real IRkernel.

The data: ``exprscope.synthetic.make_synthetic`` (seeded: samples nested in two datasets,
genes that respond to the dataset), built in the test process and handed to R as raw binary
columns, from which the kernel builds a Seurat object (the counts slot the generator's counts,
the data slot its log-normalised values) and a SingleCellExperiment. The replies are held to
the libraries run directly in the same R kernel (DESeq2 on counts summed by base R's
``rowsum``, ``wilcox.test`` gene by gene) and to the Python kernel's ``compare`` op on the same
data.

Skipped only when R or IRkernel is not installed (CI installs both).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from kernel_harness import r_kernel_session
from scipy import sparse, stats
from test_r_kernel import _irkernel_installed, r_array, r_json, r_strings

from exprscope.synthetic import make_synthetic

pytestmark = pytest.mark.skipif(not _irkernel_installed(), reason="R with IRkernel not installed")

SYNTHETIC = {"n_cells": 3000, "n_genes": 300, "n_clusters": 3, "samples_per_dataset": 3, "seed": 1}
SYNTHETIC_CODE = f"""
from exprscope.synthetic import make_synthetic as _make_synthetic
es_rcompare = _make_synthetic(
    {SYNTHETIC["n_cells"]}, {SYNTHETIC["n_genes"]}, n_clusters={SYNTHETIC["n_clusters"]},
    samples_per_dataset={SYNTHETIC["samples_per_dataset"]}, seed={SYNTHETIC["seed"]}
)
es_rcompare_partial = es_rcompare[~((es_rcompare.obs["cluster"] == "2")
    & (es_rcompare.obs["dataset"] == "dataset2"))].copy()
del _make_synthetic
"""


def build_synthetic():
    return make_synthetic(
        SYNTHETIC["n_cells"],
        SYNTHETIC["n_genes"],
        n_clusters=SYNTHETIC["n_clusters"],
        samples_per_dataset=SYNTHETIC["samples_per_dataset"],
        seed=SYNTHETIC["seed"],
    )


# Test-only R code: the Seurat object from the binary columns (a cells x genes CSR matrix is a
# genes x cells CSC one), its SingleCellExperiment, and the object minus the cells of cluster 2
# in dataset2. DATA_DIR is a JSON string literal, also a valid R string literal.
R_DATA_CODE = """
suppressPackageStartupMessages({
  library(Seurat)
  library(SingleCellExperiment)
})
local({
  dir <- DATA_DIR
  shape <- jsonlite::fromJSON(file.path(dir, "shape.json"))
  genes <- readLines(file.path(dir, "genes.txt"))
  cells <- readLines(file.path(dir, "cells.txt"))
  read_csr <- function(name) {
    part <- function(what, type) {
      path <- file.path(dir, paste0(name, ".", what))
      n <- file.size(path) / (if (type == "double") 8 else 4)
      readBin(path, type, n = n, size = if (type == "double") 8 else 4, endian = "little")
    }
    Matrix::sparseMatrix(
      i = part("indices", "integer"), p = part("indptr", "integer"),
      x = part("data", "double"), dims = c(shape$n_genes, shape$n_cells),
      dimnames = list(genes, cells), index1 = FALSE
    )
  }
  obs <- read.csv(file.path(dir, "obs.csv"), row.names = 1, colClasses = "character")
  for (column in names(obs)) obs[[column]] <- factor(obs[[column]], levels = shape$levels[[column]])
  obj <- CreateSeuratObject(counts = read_csr("counts"), meta.data = obs)
  obj <- SetAssayData(obj, slot = "data", new.data = read_csr("lognorm"))
  assign("es_syn", obj, envir = globalenv())
  assign("es_syn_sce", as.SingleCellExperiment(obj), envir = globalenv())
  partial <- !(obj$cluster == "2" & obj$dataset == "dataset2")
  assign("es_syn_partial", obj[, partial], envir = globalenv())
})
invisible(gc())
"""

# DESeq2 run directly: counts summed per sample x cluster by base R's rowsum, one fit per
# cluster with the real dataset names as the condition levels.
R_DESEQ2_CODE = """
suppressPackageStartupMessages(library(DESeq2))
es_direct <- local({
  counts <- GetAssayData(es_syn, slot = "counts")
  meta <- es_syn@meta.data
  out <- list()
  for (cluster in c("0", "1", "2")) {
    cells <- which(meta$cluster == cluster)
    sample <- as.character(meta$sample[cells])
    sums <- t(rowsum(t(as.matrix(counts[, cells])), sample))
    storage.mode(sums) <- "integer"
    condition <- factor(sub("_s[0-9]+$", "", colnames(sums)), levels = c("dataset1", "dataset2"))
    dds <- DESeqDataSetFromMatrix(sums, data.frame(condition = condition), design = ~condition)
    dds <- DESeq(dds, quiet = TRUE)
    res <- results(dds, contrast = c("condition", "dataset2", "dataset1"))
    out[[cluster]] <- data.frame(
      gene = rownames(res), baseMean = res$baseMean, log2fc = res$log2FoldChange,
      stat = res$stat, pvalue = res$pvalue, padj = res$padj
    )
  }
  do.call(rbind, out)
})
"""

# wilcox.test run directly, gene by gene, target (dataset2) vs reference cells of a cluster.
R_WILCOX_CODE = """
es_wilcox <- local({
  data <- GetAssayData(es_syn, slot = "data")
  meta <- es_syn@meta.data
  out <- list()
  for (cluster in c("1", "2")) {
    in_cluster <- meta$cluster == cluster
    target <- which(in_cluster & meta$dataset == "dataset2")
    reference <- which(in_cluster & meta$dataset == "dataset1")
    p <- vapply(rownames(data), function(gene) {
      suppressWarnings(wilcox.test(
        data[gene, target], data[gene, reference], exact = FALSE, correct = TRUE
      )$p.value)
    }, 0)
    out[[cluster]] <- data.frame(gene = rownames(data), pvalue = p, padj = p.adjust(p, "BH"))
  }
  do.call(rbind, out)
})
"""

ARGS = {"dataset_key": "dataset", "cluster_key": "cluster", "reference": "dataset1"}


@pytest.fixture(scope="module")
def synthetic():
    return build_synthetic()


@pytest.fixture(scope="module")
def r_kernel(synthetic, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("rcompare")
    write_for_r(synthetic, data_dir)
    code = R_DATA_CODE.replace("DATA_DIR", json.dumps(str(data_dir)))
    with r_kernel_session(code) as session:
        session.execute(R_DESEQ2_CODE)
        session.execute(R_WILCOX_CODE)
        yield session


@pytest.fixture(scope="module")
def python_kernel(comm_kernel):
    comm_kernel.execute(SYNTHETIC_CODE, silent=True)
    yield comm_kernel
    comm_kernel.execute("del es_rcompare, es_rcompare_partial", silent=True)


def write_for_r(adata, folder: Path) -> None:
    """The counts and log-normalised values as raw CSR columns, obs as text, the shape and the
    category order as JSON."""
    for name, matrix in (("counts", adata.layers["counts"]), ("lognorm", adata.X)):
        csr = sparse.csr_matrix(matrix)
        csr.data.astype("<f8").tofile(folder / f"{name}.data")
        csr.indices.astype("<i4").tofile(folder / f"{name}.indices")
        csr.indptr.astype("<i4").tofile(folder / f"{name}.indptr")
    (folder / "genes.txt").write_text("\n".join(map(str, adata.var_names)) + "\n")
    (folder / "cells.txt").write_text("\n".join(map(str, adata.obs_names)) + "\n")
    obs = adata.obs[["dataset", "sample", "cluster"]]
    obs.astype(str).to_csv(folder / "obs.csv")
    shape = {
        "n_cells": adata.n_obs,
        "n_genes": adata.n_vars,
        "levels": {column: [str(c) for c in obs[column].cat.categories] for column in obs},
    }
    (folder / "shape.json").write_text(json.dumps(shape))


def call(kernel, **args: Any):
    return kernel.call("compare", **args)


def as_frame(reply) -> pd.DataFrame:
    return reply.table().to_pandas().astype({"gene": str, "cluster": str})


def r_frame(kernel, name: str, columns: list[str]) -> pd.DataFrame:
    """An R data.frame's gene/cluster-free numeric columns, exactly, plus its genes."""
    frame = pd.DataFrame({column: r_array(kernel, f"{name}${column}")[:, 0] for column in columns})
    frame.insert(0, "gene", r_strings(kernel, f"{name}$gene"))
    return frame


def assert_close(actual, expected, rtol):
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float),
        np.asarray(expected, dtype=float),
        rtol=rtol,
        atol=0,
        equal_nan=True,
    )


# -- numbers against the libraries run directly ------------------------------------------------


def test_pseudobulk_equals_deseq2_run_directly(r_kernel):
    reply = call(r_kernel, object="es_syn", matrix="RNA/data", sample_key="sample", **ARGS)
    result = reply.result
    assert result["method"] == "pseudobulk" and result["matrix"] == "RNA/counts"
    assert result["sample_key"] == "sample" and result["target"] == "dataset2"
    assert "DESeq2" in result["caveat"]
    assert [c["cluster"] for c in result["clusters"]] == ["0", "1", "2"]
    assert all(c["tested"] and c["note"] == "" for c in result["clusters"])
    assert all(c["n_samples_a"] == 3 and c["n_samples_b"] == 3 for c in result["clusters"])
    assert result["n_genes"] == 300
    ours = as_frame(reply)
    direct = r_frame(r_kernel, "es_direct", ["baseMean", "log2fc", "stat", "pvalue", "padj"])
    assert list(ours["gene"]) == list(direct["gene"])
    assert list(ours["cluster"]) == [c for c in "012" for _ in range(300)]
    for column in ("log2fc", "stat", "pvalue", "padj"):
        assert_close(ours[column], direct[column], rtol=1e-6)
    # The fit tested most genes and found the dataset-responsive ones
    assert np.isfinite(ours["padj"]).mean() > 0.5
    assert (ours["padj"] < 0.05).sum() >= 3


def test_wilcoxon_p_values_equal_wilcox_test_run_directly(r_kernel):
    reply = call(
        r_kernel,
        object="es_syn",
        matrix="RNA/data",
        method="wilcoxon",
        clusters=["1", "2"],
        **ARGS,
    )
    result = reply.result
    assert result["method"] == "wilcoxon" and result["matrix"] == "RNA/data"
    assert "not independent replicates" in result["caveat"]
    assert [c["n_samples_a"] for c in result["clusters"]] == [None, None]
    ours = as_frame(reply)
    direct = r_frame(r_kernel, "es_wilcox", ["pvalue", "padj"])
    assert list(ours["gene"]) == list(direct["gene"])
    assert_close(ours["pvalue"], direct["pvalue"], rtol=1e-10)
    assert_close(ours["padj"], direct["padj"], rtol=1e-10)
    # The statistic is the z wilcox.test's p value comes from
    assert_close(2 * stats.norm.sf(np.abs(ours["stat"])), ours["pvalue"], rtol=1e-10)


def test_wilcoxon_vectorised_ranks_hold_for_ties_and_negative_values(r_kernel):
    # scale.data-like values: negative, with ties, in a dense matrix
    r_kernel.execute(
        "es_ties <- es_syn; local({ set.seed(5); m <- round(matrix(rnorm(300 * 3000), 300), 1); "
        "dimnames(m) <- dimnames(GetAssayData(es_syn, slot = 'data')); "
        "es_ties@assays$RNA@scale.data <<- m })"
    )
    try:
        reply = call(
            r_kernel,
            object="es_ties",
            matrix="RNA/scale.data",
            method="wilcoxon",
            clusters=["2"],
            genes=["GENE00003", "GENE00221", "GENE00017"],
            **ARGS,
        )
        expected = r_json(
            r_kernel,
            "local({ m <- es_ties@assays$RNA@scale.data; meta <- es_ties@meta.data; "
            "t <- meta$cluster == '2' & meta$dataset == 'dataset2'; "
            "r <- meta$cluster == '2' & meta$dataset == 'dataset1'; "
            "vapply(c('GENE00003', 'GENE00221', 'GENE00017'), function(g) "
            "wilcox.test(m[g, t], m[g, r], exact = FALSE, correct = TRUE)$p.value, 0) })",
        )
    finally:
        r_kernel.execute("rm(es_ties)")
    assert_close(as_frame(reply)["pvalue"], expected, rtol=1e-10)


# -- the same comparison in the Python kernel --------------------------------------------------


def test_wilcoxon_agrees_with_the_python_kernel(r_kernel, python_kernel, synthetic):
    theirs_reply, _ = python_kernel.call_with_progress(
        "compare", object="es_rcompare", matrix="X", method="wilcoxon", **ARGS
    )
    ours_reply = call(r_kernel, object="es_syn", matrix="RNA/data", method="wilcoxon", **ARGS)
    assert_same_clusters(ours_reply.result, theirs_reply.result)
    assert ours_reply.result["caveat"] == theirs_reply.result["caveat"]
    ours, theirs = as_frame(ours_reply), as_frame(theirs_reply)
    assert list(ours["gene"]) == list(theirs["gene"])
    # log2FC: scanpy's definition on the same values (Python averages float32)
    np.testing.assert_allclose(ours["log2fc"], theirs["log2fc"], rtol=1e-4, atol=1e-4)
    # p values: scanpy's normal approximation has no tie and no continuity correction,
    # wilcox.test's has both. With ~90% zeros the tie correction moves p a lot (rank
    # correlation ~0.8), so the check is exact instead: the same rank sums, i.e. Python's z
    # turned into wilcox.test's z with the ties counted here, and the p values of scipy's
    # mannwhitneyu (asymptotic, with continuity correction), an outside reference.
    values = synthetic.X.toarray().astype(np.float64)
    predicted, scipy_p = [], []
    for cluster in ("0", "1", "2"):
        in_cluster = (synthetic.obs["cluster"] == cluster).to_numpy()
        is_target = (synthetic.obs["dataset"] == "dataset2").to_numpy()
        target, reference = values[in_cluster & is_target], values[in_cluster & ~is_target]
        n_b, n_a = len(target), len(reference)
        n = n_a + n_b
        both = np.vstack([target, reference])
        ties = np.array(
            [
                np.sum(c.astype(float) ** 3 - c)
                for c in (np.unique(g, return_counts=True)[1] for g in both.T)
            ]
        )
        sigma_plain = np.sqrt(n_a * n_b * (n + 1) / 12)
        sigma_ties = np.sqrt(n_a * n_b / 12 * ((n + 1) - ties / (n * (n - 1))))
        z = theirs["stat"][theirs["cluster"] == cluster].to_numpy()
        shifted = z * sigma_plain  # rank sum minus its mean
        predicted.append((shifted - np.sign(shifted) * 0.5) / sigma_ties)
        scipy_p.append(
            stats.mannwhitneyu(target, reference, method="asymptotic", use_continuity=True).pvalue
        )
    predicted, scipy_p = np.concatenate(predicted), np.concatenate(scipy_p)
    tested = np.isfinite(ours["stat"].to_numpy())
    assert tested.mean() > 0.9
    np.testing.assert_allclose(ours["stat"][tested], predicted[tested], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours["pvalue"][tested], scipy_p[tested], rtol=1e-8)
    # Untested genes are the constant ones (wilcox.test's NaN; scanpy's z = 0, p = 1)
    assert np.all(theirs["stat"][~tested] == 0)


def test_pseudobulk_agrees_with_the_python_kernel(r_kernel, python_kernel):
    # Defaults in both kernels: the sample column guessed, hence pseudobulk on the counts
    theirs_reply, _ = python_kernel.call_with_progress(
        "compare", object="es_rcompare", matrix="X", **ARGS
    )
    ours_reply = call(r_kernel, object="es_syn", matrix="RNA/data", **ARGS)
    ours_result, theirs_result = ours_reply.result, theirs_reply.result
    assert ours_result["method"] == theirs_result["method"] == "pseudobulk"
    assert ours_result["sample_key"] == theirs_result["sample_key"] == "sample"
    assert_same_clusters(ours_result, theirs_result)
    ours, theirs = as_frame(ours_reply), as_frame(theirs_reply)
    assert list(ours["gene"]) == list(theirs["gene"])
    # DESeq2 and pydeseq2 (two implementations of one model): test_compare_deseq2_r.py's bar
    base_mean = r_array(r_kernel, "es_direct$baseMean")[:, 0]
    expressed = base_mean > 10
    assert expressed.sum() > 100
    np.testing.assert_allclose(ours["log2fc"][expressed], theirs["log2fc"][expressed], atol=0.02)
    finite = np.isfinite(ours["log2fc"]) & np.isfinite(theirs["log2fc"])
    assert np.corrcoef(ours["log2fc"][finite], theirs["log2fc"][finite])[0, 1] > 0.999
    called_ours = set(np.flatnonzero(ours["padj"] < 0.05))
    called_theirs = set(np.flatnonzero(theirs["padj"] < 0.05))
    assert called_ours and len(called_ours ^ called_theirs) <= 1


def test_a_cluster_absent_from_one_dataset_as_in_python(r_kernel, python_kernel):
    args = {**ARGS, "sample_key": "sample", "clusters": ["1", "2"]}
    theirs, _ = python_kernel.call_with_progress(
        "compare", object="es_rcompare_partial", matrix="X", **args
    )
    ours = call(r_kernel, object="es_syn_partial", matrix="RNA/data", **args)
    clusters = {c["cluster"]: c for c in ours.result["clusters"]}
    assert clusters["1"]["tested"] and not clusters["2"]["tested"]
    assert clusters["2"]["n_cells_b"] == 0 and "fewer than 2 samples" in clusters["2"]["note"]
    assert set(as_frame(ours)["cluster"]) == {"1"}
    assert_same_clusters(ours.result, theirs.result)


def assert_same_clusters(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """The reply's JSON as the Python kernel's: keys, datasets, columns, per-cluster counts,
    tested flags and notes (the matrix ids differ: RNA/... vs X, layers/counts; R adds its
    "columns" payload descriptors)."""
    assert set(ours) - {"payload", "columns"} == set(theirs)
    assert ours["payload"] == "columns"
    for key in ("method", "reference", "target", "dataset_key", "cluster_key", "sample_key"):
        assert ours[key] == theirs[key], key
    assert ours["clusters"] == theirs["clusters"]
    assert ours["n_genes"] == theirs["n_genes"]


# -- other objects and the R API ---------------------------------------------------------------


def test_single_cell_experiment_gives_the_seurat_numbers(r_kernel):
    for method, seurat_matrix, sce_matrix, counts in (
        ("wilcoxon", "RNA/data", "assays/logcounts", "assays/logcounts"),
        ("pseudobulk", "RNA/data", "assays/logcounts", "assays/counts"),
    ):
        args = {**ARGS, "method": method, "clusters": ["2"], "sample_key": "sample"}
        seurat = call(r_kernel, object="es_syn", matrix=seurat_matrix, **args)
        sce = call(r_kernel, object="es_syn_sce", matrix=sce_matrix, **args)
        assert sce.result["matrix"] == counts
        assert sce.result["clusters"] == seurat.result["clusters"]
        for column in ("log2fc", "stat", "pvalue", "padj"):
            assert_close(as_frame(sce)[column], as_frame(seurat)[column], rtol=1e-12)


def test_r_api_returns_the_op_rows_as_a_data_frame(r_kernel):
    reply = call(
        r_kernel,
        object="es_syn",
        matrix="RNA/data",
        method="wilcoxon",
        clusters=["2", "0"],
        genes=["GENE00221", "GENE00084", "GENE00003"],
        **ARGS,
    )
    r_kernel.execute(
        'es_api <- exprscope_compare(es_syn, "dataset1", dataset_key = "dataset", '
        'cluster_key = "cluster", method = "wilcoxon", clusters = c(2, 0), '
        'genes = c("GENE00221", "GENE00084", "GENE00003"))'
    )
    try:
        shape = r_json(
            r_kernel,
            "list(names = I(names(es_api)), method = unique(es_api$method), "
            "cluster = I(es_api$cluster), n_cells_a = I(es_api$n_cells_a), "
            "samples = all(is.na(es_api$n_samples_a)), "
            "caveat = attr(es_api, 'comparison')$caveat)",
        )
        api = r_frame(r_kernel, "es_api", ["log2fc", "stat", "pvalue", "padj"])
    finally:
        r_kernel.execute("rm(es_api)")
    assert shape["names"] == [
        "gene", "cluster", "log2fc", "stat", "pvalue", "padj", "n_cells_a", "n_cells_b",
        "n_samples_a", "n_samples_b", "method", "note",
    ]  # fmt: skip
    assert shape["method"] == "wilcoxon" and shape["samples"] is True
    assert shape["cluster"] == ["2"] * 3 + ["0"] * 3
    assert shape["n_cells_a"] == [c["n_cells_a"] for c in reply.result["clusters"] for _ in "abc"]
    assert shape["caveat"] == reply.result["caveat"]
    ours = as_frame(reply)
    assert list(api["gene"]) == list(ours["gene"])
    for column in ("log2fc", "stat", "pvalue", "padj"):
        assert_close(api[column], ours[column], rtol=0)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ('exprscope_compare(es_syn, "nope", dataset_key = "dataset", cluster_key = "cluster")',
         "Reference dataset 'nope' is not in 'dataset'"),
        ('exprscope_compare(es_syn, "dataset1", dataset_key = "dataset", cluster_key = "cluster", '
         'method = "t")', "method must be one of"),
        ('exprscope_compare(es_syn, "dataset1", dataset_key = "dataset", cluster_key = "cluster", '
         'sample_key = "dataset", method = "pseudobulk")', "2 samples per dataset"),
        ('exprscope_compare(es_frame_rc, "dataset1")', "Seurat or SingleCellExperiment object"),
        ("exprscope_compare(es_syn)", "reference must be"),
    ],
)  # fmt: skip
def test_r_api_errors_name_the_argument(r_kernel, code, message):
    from test_r_api import run

    r_kernel.execute("es_frame_rc <- data.frame(a = 1)")
    outputs, reply = run(r_kernel, code)
    assert reply["status"] == "error", outputs
    assert message in reply["evalue"]
    assert "exprscope_compare" in reply["evalue"] or "exprscope_compare" in "".join(
        reply["traceback"]
    )


# -- comparisons that cannot be made -------------------------------------------------------------

R_DIGEST_CODE = """
local({
  path <- tempfile()
  saveRDS(list(GetAssayData(es_syn, slot = "counts"), GetAssayData(es_syn, slot = "data"),
    es_syn@meta.data), path, compress = FALSE)
  cat(jsonlite::toJSON(unname(tools::md5sum(path))))
  unlink(path)
})
"""


@pytest.mark.parametrize(
    ("args", "code", "details"),
    [
        ({"reference": "nope"}, "bad_request", {"argument": "reference"}),
        ({"target": "dataset1"}, "bad_request", {"argument": "target"}),
        ({"method": "t-test"}, "bad_request", {"argument": "method"}),
        ({"clusters": ["99"]}, "bad_request", {"argument": "clusters"}),
        ({"clusters": []}, "bad_request", {"argument": "clusters"}),
        ({"genes": ["NOPE"]}, "bad_request", {"argument": "genes"}),
        ({"min_cells": 0}, "bad_request", {"argument": "min_cells"}),
        ({"sample_key": "no_such_column"}, "unknown_column", {"role": "sample_key"}),
        ({"cluster_key": "no_such_column"}, "unknown_column", {"role": "cluster_key"}),
        ({"counts": "RNA/none"}, "unknown_matrix", {"matrix": "RNA/none"}),
        ({"matrix": "RNA/none"}, "unknown_matrix", {"matrix": "RNA/none"}),
        ({"object": "es_nothing"}, "not_found", {}),
        # One sample per dataset: pseudobulk needs two and offers the Wilcoxon test
        (
            {"sample_key": "dataset", "method": "pseudobulk"},
            "bad_request",
            {"argument": "method", "suggest": "wilcoxon"},
        ),
        # The data slot is log-normalised: no counts to sum
        (
            {"sample_key": "sample", "counts": "RNA/data", "method": "pseudobulk"},
            "bad_request",
            {"argument": "counts", "suggest": "wilcoxon"},
        ),
    ],
)
def test_comparisons_that_cannot_be_made_say_why(r_kernel, args, code, details):
    before = r_kernel.evaluate_json(R_DIGEST_CODE)
    reply = call(r_kernel, **{"object": "es_syn", "matrix": "RNA/data", **ARGS, **args})
    assert reply.error["code"] == code, reply.error
    assert 0 < len(reply.error["message"]) < 1000
    for key, value in details.items():
        assert reply.error["details"][key] == value
    # Alive and unchanged
    assert r_kernel.call("hello").result["language"] == "R"
    assert r_kernel.evaluate_json(R_DIGEST_CODE) == before


def test_error_details_match_the_python_kernel(r_kernel, python_kernel):
    for args in (
        {"reference": "nope"},
        {"sample_key": "no_such_column"},
        {"sample_key": "dataset", "method": "pseudobulk"},
        {"clusters": ["99"]},
    ):
        theirs, _ = python_kernel.call_with_progress(
            "compare", object="es_rcompare", matrix="X", **{**ARGS, **args}
        )
        ours = call(r_kernel, object="es_syn", matrix="RNA/data", **{**ARGS, **args})
        assert ours.error["code"] == theirs.error["code"], args
        assert ours.error["details"] == theirs.error["details"], args
