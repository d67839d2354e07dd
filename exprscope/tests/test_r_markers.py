"""The R helper's ``markers`` op (``exprscope/kernel/r/04c-markers.R``) in a real IRkernel.

The op claims Seurat's ``FindAllMarkers(test.use = "wilcox", logfc.threshold = 0, min.pct = 0,
only.pos = TRUE)``: its replies are held to that call and to ``wilcox.test`` gene by gene, both
run in the same kernel, on Seurat's ``pbmc_small`` (data, scale.data and counts slots), on a
copy with tie-free scale.data, and on ``test_r_compare.py``'s synthetic multi-sample Seurat
object (3,000 cells).

What is compared, and why so:

- ``FindAllMarkers`` runs with ``return.thresh = Inf``: its ``return.thresh`` keeps genes with
  ``p_val < return.thresh``, so 1 would drop genes whose p is exactly 1, which the op ranks last
  but still lists. With ``n = 200`` the op lists every positive gene of a cluster, so the whole
  ranking is compared: the same genes in the same order, ``avg_log2FC`` (``avg_diff`` for
  scale.data) and ``p_val_adj``.
- Seurat's p depends on the R it runs in: without limma ``WilcoxDETest`` calls
  ``wilcox.test``, whose p is exact when both sides have fewer than 50 cells and the gene has
  no ties; with limma (Seurat 4.3) it calls ``limma::rankSumTestWithCorrelation``, the same
  normal approximation with tie and continuity corrections for every gene, never exact. The op
  follows the R it runs in (``exact_p`` in its reply), so the comparison with
  ``FindAllMarkers`` holds either way. scripts/install-system-deps.sh installs no limma: CI
  takes the ``wilcox.test`` path. Every gene of pbmc_small's own slots has ties (zeros, scaled
  zeros), so a copy with tie-free random scale.data (``es_exact``: 44 vs 36 cells in
  ``groups``) is where exact p are compared. The limma path is run by switching the op's
  check, and held to ``wilcox.test(exact = FALSE)`` (and to limma itself when installed).
- ``score`` is the continuity-corrected z of the normal approximation: ``2 * pnorm(-|z|)``
  equals ``wilcox.test(exact = FALSE, correct = TRUE)``'s p and its sign is that of
  ``W - n1 n2 / 2``.

Skipped only when R or IRkernel is not installed (CI installs both).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from kernel_harness import r_kernel_session
from scipy import stats
from test_r_compare import R_DATA_CODE as R_SYNTHETIC_CODE
from test_r_compare import build_synthetic, write_for_r
from test_r_kernel import _irkernel_installed, r_array, r_json, r_strings

pytestmark = pytest.mark.skipif(not _irkernel_installed(), reason="R with IRkernel not installed")

# pbmc_small, with a cluster column that has cells in no cluster, a 2-cell cluster (under
# Seurat's min.cells.group) and an unused level; a data.frame that is no object.
R_PBMC_CODE = """
data("pbmc_small", package = "SeuratObject", envir = environment())
es_pbmc <- pbmc_small
rm(pbmc_small)
es_pbmc$es_partial <- local({
  v <- as.character(es_pbmc$RNA_snn_res.1)
  v[c(1, 5, 9, 40, 77)] <- NA
  v[c(2, 60)] <- "tiny"
  factor(v, levels = c("2", "tiny", "unused", "0", "1"))
})
es_frame <- data.frame(a = 1:3)
# Tie-free values (pbmc_small's own slots all have ties): wilcox.test's exact p for 44 vs 36
# cells, shifted up in g1 for 8 genes
es_exact <- local({
  obj <- es_pbmc
  set.seed(7)
  m <- matrix(rnorm(20 * 80), 20, dimnames = dimnames(obj@assays$RNA@scale.data))
  m[1:8, obj$groups == "g1"] <- m[1:8, obj$groups == "g1"] + seq(0.2, 1.6, 0.2)
  obj@assays$RNA@scale.data <- m
  obj
})
"""

# Test-only references, run in the kernel. es_find_all: Seurat's FindAllMarkers with the
# settings the op claims (its messages and warnings silenced). es_wilcox_by_gene: wilcox.test
# of every gene, cluster vs all other cells (cells without a cluster in every rest), p as
# Seurat's wilcox.test call (exact = NULL: exact for small tie-free genes) or without the
# exact p, p of the normal approximation, W, and whether wilcox.test's default would give the
# exact p (fewer than 50 cells on both sides, no ties).
R_REFERENCE_CODE = """
es_find_all <- function(obj, groupby, slot) {
  Idents(obj) <- groupby
  out <- suppressWarnings(suppressMessages(FindAllMarkers(
    obj, slot = slot, test.use = "wilcox", logfc.threshold = 0, min.pct = 0,
    only.pos = TRUE, return.thresh = Inf, verbose = FALSE
  )))
  list(cluster = as.character(out$cluster), gene = out$gene, p_val = out$p_val,
    fc = out[[2]], fc_name = names(out)[2], p_val_adj = out$p_val_adj)
}
es_wilcox_by_gene <- function(obj, assay, slot, groupby, clusters, exact) {
  m <- as.matrix(GetAssayData(obj, assay = assay, slot = slot))
  cluster <- as.character(obj@meta.data[[groupby]])
  out <- lapply(clusters, function(k) {
    inside <- !is.na(cluster) & cluster == k
    rows <- lapply(rownames(m), function(gene) {
      x <- m[gene, inside]
      y <- m[gene, !inside]
      seurat <- suppressWarnings(wilcox.test(x, y, exact = exact, correct = TRUE))
      normal <- suppressWarnings(wilcox.test(x, y, exact = FALSE, correct = TRUE))
      values <- c(x, y)
      data.frame(
        cluster = k, gene = gene, p = seurat$p.value, p_normal = normal$p.value,
        w = unname(normal$statistic), n_x = length(x), n_y = length(y),
        exact_case = length(x) < 50 && length(y) < 50 && !anyDuplicated(values),
        fc = if (slot == "scale.data") mean(x) - mean(y)
          else if (slot == "data" && "NormalizeData.RNA" %in% names(obj@commands))
            log2(mean(expm1(x)) + 1) - log2(mean(expm1(y)) + 1)
          else log2(mean(x) + 1) - log2(mean(y) + 1)
      )
    })
    do.call(rbind, rows)
  })
  do.call(rbind, out)
}
"""

# The objects' data and metadata, hashed through a file (R's own serialisation).
R_DIGEST_CODE = """
local({
  path <- tempfile()
  saveRDS(lapply(list(es_pbmc, es_syn), function(obj) list(
    GetAssayData(obj, slot = "counts"), GetAssayData(obj, slot = "data"),
    GetAssayData(obj, slot = "scale.data"), obj@meta.data, Idents(obj)
  )), path, compress = FALSE)
  cat(jsonlite::toJSON(unname(tools::md5sum(path))))
  unlink(path)
})
"""

STORED_MARKER_SCHEMA = [
    ("group", pa.utf8()),
    ("rank", pa.int32()),
    ("gene", pa.utf8()),
    ("score", pa.float64()),
    ("logfoldchange", pa.float64()),
    ("pval_adj", pa.float64()),
]

# object, matrix, groupby, the reply's fold_change, FindAllMarkers' fold change column
CASES = [
    ("es_pbmc", "RNA/data", "RNA_snn_res.1", "log2 of mean expm1", "avg_log2FC"),
    ("es_pbmc", "RNA/data", "groups", "log2 of mean expm1", "avg_log2FC"),
    ("es_pbmc", "RNA/scale.data", "groups", "avg_diff", "avg_diff"),
    ("es_pbmc", "RNA/scale.data", "RNA_snn_res.1", "avg_diff", "avg_diff"),
    ("es_pbmc", "RNA/counts", "RNA_snn_res.1", "log2 of mean", "avg_log2FC"),
    ("es_exact", "RNA/scale.data", "groups", "avg_diff", "avg_diff"),
    ("es_exact", "RNA/scale.data", "RNA_snn_res.1", "avg_diff", "avg_diff"),
    ("es_syn", "RNA/data", "cluster", "log2 of mean", "avg_log2FC"),
    ("es_syn", "RNA/data", "sample", "log2 of mean", "avg_log2FC"),
]
CASE_IDS = [f"{o}-{m.split('/')[1]}-{g}" for o, m, g, _, _ in CASES]


@pytest.fixture(scope="module")
def r_kernel(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("rmarkers")
    write_for_r(build_synthetic(), data_dir)
    code = R_SYNTHETIC_CODE.replace("DATA_DIR", json.dumps(str(data_dir)))
    with r_kernel_session(code + R_PBMC_CODE) as session:
        session.execute(R_REFERENCE_CODE)
        yield session


@pytest.fixture(scope="module")
def digest(r_kernel):
    return r_kernel.evaluate_json(R_DIGEST_CODE)


def markers(kernel, **args: Any) -> tuple[dict[str, Any], pd.DataFrame]:
    reply = kernel.call("markers", **args)
    table = reply.table()
    assert [(field.name, field.type) for field in table.schema] == STORED_MARKER_SCHEMA
    return reply.result, table.to_pandas()


def find_all_markers(kernel, obj: str, matrix: str, groupby: str) -> pd.DataFrame:
    slot = matrix.split("/")[1]
    kernel.execute(f"es_fam <- es_find_all({obj}, {json.dumps(groupby)}, {json.dumps(slot)})")
    try:
        frame = pd.DataFrame(
            {
                column: r_array(kernel, f"es_fam${column}")[:, 0]
                for column in ("p_val", "fc", "p_val_adj")
            }
        )
        frame.insert(0, "gene", r_strings(kernel, "es_fam$gene"))
        frame.insert(0, "cluster", r_strings(kernel, "es_fam$cluster"))
        frame.attrs["fc_name"] = r_json(kernel, "es_fam$fc_name")
    finally:
        kernel.execute("rm(es_fam)")
    return frame


def wilcox_by_gene(
    kernel, obj: str, matrix: str, groupby: str, clusters: list[str], exact: bool
) -> pd.DataFrame:
    assay, slot = matrix.split("/")
    kernel.execute(
        f"es_wbg <- es_wilcox_by_gene({obj}, {json.dumps(assay)}, {json.dumps(slot)}, "
        f"{json.dumps(groupby)}, c({', '.join(json.dumps(c) for c in clusters)}), "
        f"{'NULL' if exact else 'FALSE'})"
    )
    try:
        frame = pd.DataFrame(
            {
                column: r_array(kernel, f"es_wbg${column}")[:, 0]
                for column in ("p", "p_normal", "w", "n_x", "n_y", "exact_case", "fc")
            }
        )
        frame.insert(0, "gene", r_strings(kernel, "es_wbg$gene"))
        frame.insert(0, "cluster", r_strings(kernel, "es_wbg$cluster"))
    finally:
        kernel.execute("rm(es_wbg)")
    return frame


def relative_difference(actual, expected) -> float:
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    if actual.size == 0:
        return 0.0
    return float(np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-300)))


def assert_close(actual, expected, rtol: float) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=rtol, atol=0
    )


def check_against_wilcox_test(ours: pd.DataFrame, n_genes: int, reference: pd.DataFrame):
    """Each reply row against wilcox.test of its gene: adjusted p, z and fold change."""
    joined = ours.merge(
        reference, left_on=["group", "gene"], right_on=["cluster", "gene"], how="left"
    )
    assert joined["p"].notna().all()
    assert_close(joined["pval_adj"], np.minimum(1, joined["p"] * n_genes), rtol=1e-10)
    assert_close(2 * stats.norm.sf(np.abs(joined["score"])), joined["p_normal"], rtol=1e-9)
    # (|W - n1 n2 / 2| = 0.5 is z = 0 after the continuity correction)
    off_centre = np.abs(joined["w"] - joined["n_x"] * joined["n_y"] / 2) > 0.5
    assert (
        np.sign(joined["score"][off_centre])
        == np.sign(joined["w"] - joined["n_x"] * joined["n_y"] / 2)[off_centre]
    ).all()
    assert_close(joined["logfoldchange"], joined["fc"], rtol=1e-10)
    return joined


# -- numbers against Seurat and wilcox.test run directly ----------------------------------------


@pytest.mark.parametrize(
    ("obj", "matrix", "groupby", "fold_change", "fc_name"), CASES, ids=CASE_IDS
)
def test_markers_equal_find_all_markers(r_kernel, obj, matrix, groupby, fold_change, fc_name):
    result, ours = markers(r_kernel, object=obj, matrix=matrix, groupby=groupby, n=200)
    theirs = find_all_markers(r_kernel, obj, matrix, groupby)
    exact_p = r_json(r_kernel, "!nzchar(system.file(package = 'limma'))")
    assert result["available"] is True and result["key"] is None
    assert result["method"] == "wilcoxon" and result["reference"] == "rest"
    assert result["matrix"] == matrix and result["groupby"] == groupby
    assert result["fold_change"] == fold_change and theirs.attrs["fc_name"] == fc_name
    assert result["exact_p"] is exact_p
    # Clusters in category order: a factor's levels, as FindAllMarkers; a text column's sorted
    # values, where Seurat's Idents keep the order of first appearance
    assert sorted(result["groups"]) == sorted(dict.fromkeys(theirs["cluster"]))
    if r_json(r_kernel, f"is.factor({obj}@meta.data[[{json.dumps(groupby)}]])"):
        assert result["groups"] == list(dict.fromkeys(theirs["cluster"]))
    else:
        assert result["groups"] == sorted(result["groups"])
        order = {cluster: index for index, cluster in enumerate(result["groups"])}
        theirs = theirs.sort_values("cluster", key=lambda c: c.map(order), kind="stable")
    assert result["skipped_groups"] == [] and result["excluded_genes"] == []
    n_genes = r_json(r_kernel, f"nrow(GetAssayData({obj}, slot = '{matrix.split('/')[1]}'))")
    assert result["n_genes"] == n_genes
    # The whole ranking: every positive gene of each cluster, in FindAllMarkers' order
    assert list(ours["group"]) == list(theirs["cluster"])
    assert list(ours["gene"]) == list(theirs["gene"])
    assert list(ours["rank"]) == [
        rank for _, size in theirs.groupby("cluster", sort=False).size().items()
        for rank in range(1, size + 1)
    ]  # fmt: skip
    assert_close(ours["logfoldchange"], theirs["fc"], rtol=1e-6)
    assert_close(ours["pval_adj"], theirs["p_val_adj"], rtol=1e-6)
    assert (ours["logfoldchange"] > 0).all()
    # The top 10 (the default n) are the head of each cluster's list
    _, top = markers(r_kernel, object=obj, matrix=matrix, groupby=groupby)
    head = theirs.groupby("cluster", sort=False).head(10)
    assert list(top["group"]) == list(head["cluster"])
    assert list(top["gene"]) == list(head["gene"])


@pytest.mark.parametrize(
    ("obj", "matrix", "groupby", "fold_change", "fc_name"), CASES, ids=CASE_IDS
)
def test_p_values_and_scores_equal_wilcox_test(
    r_kernel, obj, matrix, groupby, fold_change, fc_name
):
    result, ours = markers(r_kernel, object=obj, matrix=matrix, groupby=groupby, n=200)
    reference = wilcox_by_gene(
        r_kernel, obj, matrix, groupby, result["groups"], exact=result["exact_p"]
    )
    joined = check_against_wilcox_test(ours, result["n_genes"], reference)
    exact_case = joined["exact_case"].astype(bool)
    if obj == "es_exact" and groupby == "groups":
        # 44 vs 36 cells and no ties: the exact p (without limma), not the normal one
        assert exact_case.all()
        if result["exact_p"]:
            assert relative_difference(joined["p"], joined["p_normal"]) > 1e-3
    elif obj == "es_exact":
        # Cluster 0 (36 vs 44 cells) exact, clusters 1 and 2 (25 and 19 cells) not
        assert set(joined["group"][exact_case]) == {"0"}
    else:
        assert not exact_case.any()  # ties (zeros, or scaled zeros) in every gene


def test_cells_without_a_cluster_and_small_clusters(r_kernel):
    result, ours = markers(
        r_kernel, object="es_pbmc", matrix="RNA/data", groupby="es_partial", n=200
    )
    # Category order; "tiny" has 2 cells (Seurat's min.cells.group is 3), "unused" none
    assert result["groups"] == ["2", "0", "1"]
    assert result["skipped_groups"] == ["tiny"]
    assert list(dict.fromkeys(ours["group"])) == ["2", "0", "1"]
    reference = wilcox_by_gene(
        r_kernel, "es_pbmc", "RNA/data", "es_partial", result["groups"], exact=result["exact_p"]
    )
    # Every rest holds the cells without a cluster and the tiny cluster's
    assert set(reference["n_x"] + reference["n_y"]) == {80}
    joined = check_against_wilcox_test(ours, result["n_genes"], reference)
    # Every positive gene, by p then larger fold change
    positive = reference[reference["fc"] > 0]
    assert len(ours) == len(positive)
    for cluster, rows in joined.groupby("group", sort=False):
        expected = positive[positive["cluster"] == cluster].sort_values(
            ["p", "fc"], ascending=[True, False], kind="stable"
        )
        assert list(rows["gene"]) == list(expected["gene"])


def test_the_normal_approximation_when_seurat_would_use_limma(r_kernel):
    """With limma installed Seurat 4.3 never computes an exact p; the op's check switched."""
    r_kernel.execute(
        ".exprscope$es_saved_check <- .exprscope$seurat_uses_wilcox_test; "
        ".exprscope$seurat_uses_wilcox_test <- function() FALSE"
    )
    try:
        result, ours = markers(
            r_kernel, object="es_exact", matrix="RNA/scale.data", groupby="groups", n=200
        )
    finally:
        r_kernel.execute(
            ".exprscope$seurat_uses_wilcox_test <- .exprscope$es_saved_check; "
            "rm('es_saved_check', envir = .exprscope)"
        )
    assert result["exact_p"] is False
    reference = wilcox_by_gene(
        r_kernel, "es_exact", "RNA/scale.data", "groups", result["groups"], exact=False
    )
    joined = check_against_wilcox_test(ours, result["n_genes"], reference)
    assert_close(
        ours["pval_adj"],
        np.minimum(1, 2 * stats.norm.sf(np.abs(ours["score"])) * result["n_genes"]),
        rtol=1e-9,
    )
    assert joined["exact_case"].astype(bool).all()  # genes that get the exact p without limma
    if r_json(r_kernel, "nzchar(system.file(package = 'limma'))"):
        limma = r_array(
            r_kernel,
            "local({ m <- GetAssayData(es_exact, slot = 'scale.data'); g <- es_exact$groups; "
            "unlist(lapply(c('g1', 'g2'), function(k) vapply(rownames(m), function(gene) "
            "min(1, 2 * min(limma::rankSumTestWithCorrelation(which(g == k), m[gene, ]))), "
            "0))) })",
        )[:, 0]
        genes = r_strings(r_kernel, "rownames(GetAssayData(es_exact, slot = 'scale.data'))")
        by_key = dict(zip([(k, g) for k in ("g1", "g2") for g in genes], limma, strict=True))
        expected = [by_key[(k, g)] for k, g in zip(ours["group"], ours["gene"], strict=True)]
        assert_close(ours["pval_adj"], np.minimum(1, np.array(expected) * 20), rtol=1e-9)
    # Without the switch the exact p is back (unless limma is installed)
    again, exact = markers(
        r_kernel, object="es_exact", matrix="RNA/scale.data", groupby="groups", n=200
    )
    assert again["exact_p"] is r_json(r_kernel, "!nzchar(system.file(package = 'limma'))")
    if again["exact_p"]:
        assert relative_difference(ours["pval_adj"], exact["pval_adj"]) > 1e-3


# -- requests that cannot be answered --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "details", "message"),
    [
        (
            {"groupby": "orig.ident"},
            "bad_request",
            {"argument": "groupby"},
            "Markers compare each cluster with the other cells: 'orig.ident' has 1 cluster "
            "with cells ('SeuratProject'). Choose a cluster column with at least two clusters.",
        ),
        (
            {"matrix": "RNA/nope"},
            "unknown_matrix",
            {"matrix": "RNA/nope"},
            "No matrix 'RNA/nope'; this object has: RNA/data, RNA/scale.data, RNA/counts.",
        ),
        (
            {"object": "es_nope"},
            "not_found",
            {"object": "es_nope"},
            "No object named 'es_nope' in the kernel.",
        ),
        (
            {"object": "es_frame"},
            "not_supported",
            {"object": "es_frame", "type": "data.frame"},
            "'es_frame' is a data.frame; exprscope reads Seurat and SingleCellExperiment objects.",
        ),
        (
            {"method": "t-test"},
            "bad_request",
            {"argument": "method"},
            "Argument 'method' must be \"wilcoxon\" (the t-test is computed in the browser).",
        ),
        (
            {"n": 201},
            "bad_request",
            {"argument": "n"},
            "Argument 'n' must be an integer from 1 to 200.",
        ),
        ({"n": 0}, "bad_request", {"argument": "n"}, None),
        (
            {"tie_correct": "yes"},
            "bad_request",
            {"argument": "tie_correct"},
            "Argument 'tie_correct' must be true or false.",
        ),
        (
            {"groupby": "no_such_column"},
            "unknown_column",
            {"column": "no_such_column"},
            "No cell metadata column 'no_such_column'.",
        ),
        ({"groupby": None}, "bad_request", {"argument": "groupby"}, None),
        ({"matrix": ["RNA/data", "RNA/counts"]}, "bad_request", {"argument": "matrix"}, None),
    ],
)
def test_requests_that_cannot_be_answered_say_why(r_kernel, digest, args, code, details, message):
    request = {"object": "es_pbmc", "matrix": "RNA/data", "groupby": "RNA_snn_res.1", **args}
    reply = r_kernel.call("markers", **{k: v for k, v in request.items() if v is not None})
    assert reply.error["code"] == code, reply.error
    assert reply.error["details"] == details
    if message is not None:
        assert reply.error["message"] == message
    # Alive and unchanged
    assert r_kernel.call("hello").result["language"] == "R"
    assert r_kernel.evaluate_json(R_DIGEST_CODE) == digest


def test_a_valid_request_changes_nothing(r_kernel, digest):
    for obj, matrix, groupby, _, _ in CASES:
        assert r_kernel.call("markers", object=obj, matrix=matrix, groupby=groupby, n=3).ok
    assert r_kernel.evaluate_json(R_DIGEST_CODE) == digest
