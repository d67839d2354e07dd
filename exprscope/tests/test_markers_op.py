"""The ``markers`` op in a real kernel: scanpy's one-vs-rest Wilcoxon markers computed in the
kernel for the heatmap. Held to ``scanpy.tl.rank_genes_groups(method="wilcoxon")`` run directly
(names, scores, adjusted p) and to ``exprscope.markers(..., method="wilcoxon")``; progress and
``cancel`` as ``compare``'s; clear errors for requests that cannot be answered."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scanpy as sc
from kernel_harness import KANG_PBMC_H5AD

import exprscope

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

needs_kang = pytest.mark.skipif(
    not KANG_PBMC_H5AD.is_file(), reason="exprscope/data/kang_pbmc.h5ad not built"
)

#: The columns (and types) of the ``stored_markers`` payload, which the browser decodes.
STORED_MARKER_SCHEMA = [
    ("group", "string"),
    ("rank", "int32"),
    ("gene", "string"),
    ("score", "double"),
    ("logfoldchange", "double"),
    ("pval_adj", "double"),
]


def scanpy_wilcoxon(adata, groupby: str, n: int, **options):
    """``rank_genes_groups(method="wilcoxon")`` on a copy: scanpy's own numbers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copy = adata.copy()
        sc.tl.rank_genes_groups(copy, groupby, method="wilcoxon", n_genes=n, **options)
    return copy.uns["rank_genes_groups"]


def markers_frame(reply):
    table = reply.table()
    assert [(f.name, str(f.type)) for f in table.schema] == STORED_MARKER_SCHEMA
    return table.to_pandas()


def assert_same_ranking(genes, scores, their_genes):
    """The same genes at each rank, except that genes of exactly equal score may come in any
    order (scanpy leaves their order to numpy's argpartition; exprscope puts the lower gene
    index first); a run of equal scores cut at the last rank is only checked by its scores."""
    genes, scores, their_genes = list(genes), np.asarray(scores), list(their_genes)
    assert len(genes) == len(their_genes)
    start = 0
    while start < len(genes):
        stop = start + 1
        while stop < len(genes) and scores[stop] == scores[start]:
            stop += 1
        if stop < len(genes):
            assert set(genes[start:stop]) == set(their_genes[start:stop]), (start, genes[start])
        start = stop


def assert_equals_scanpy(frame, theirs, groups):
    for group in groups:
        mine = frame[frame["group"] == group]
        assert list(mine["rank"]) == list(range(1, len(mine) + 1))
        assert_same_ranking(mine["gene"], mine["score"], theirs["names"][group])
        np.testing.assert_allclose(mine["score"], theirs["scores"][group], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(mine["pval_adj"], theirs["pvals_adj"][group], rtol=1e-6)
        # Fold changes by gene (tied genes may sit at each other's rank)
        their_lfc = dict(zip(theirs["names"][group], theirs["logfoldchanges"][group], strict=True))
        shared = [gene in their_lfc for gene in mine["gene"]]
        np.testing.assert_allclose(
            mine["logfoldchange"][shared],
            [their_lfc[gene] for gene in mine["gene"][shared]],
            rtol=1e-5,
            atol=1e-5,
        )


def assert_equals_api(frame, expected):
    """Exactly the rows of ``exprscope.markers`` (the same compute functions)."""
    assert list(frame["group"]) == [str(g) for g in expected["group"]]
    assert list(frame["gene"]) == [str(g) for g in expected["gene"]]
    assert list(frame["rank"]) == list(expected["rank"])
    for column in ("score", "logfoldchange", "pval_adj"):
        np.testing.assert_allclose(frame[column], expected[column], rtol=1e-12, atol=1e-300)


@pytest.fixture(scope="module")
def kang():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return exprscope.datasets.kang_pbmc()


@needs_kang
def test_kang_markers_equal_scanpy_wilcoxon(comm_kernel, kang):
    reply, progress = comm_kernel.call_with_progress(
        "markers", object="es_kang", matrix="X", groupby="cluster", method="wilcoxon", n=25
    )
    result = reply.result
    frame = markers_frame(reply)
    theirs = scanpy_wilcoxon(kang, "cluster", 25, use_raw=False)
    groups = list(theirs["names"].dtype.names)
    assert result["groups"] == groups == list(kang.obs["cluster"].cat.categories)
    assert_equals_scanpy(frame, theirs, groups)
    assert_equals_api(frame, exprscope.markers(kang, "cluster", 25, method="wilcoxon"))
    assert result["method"] == "wilcoxon" and result["matrix"] == "X"
    assert result["groupby"] == "cluster" and result["reference"] == "rest"
    assert result["available"] is True and result["skipped_groups"] == []
    assert result["n_genes"] == kang.n_vars and result["excluded_genes"] == []
    assert (
        result["fingerprint"]
        == comm_kernel.call("describe", object="es_kang").result["fingerprint"]
    )
    # Progress from the first copy to the end, in genes
    done = [p["progress"]["done"] for p in progress]
    assert done[0] == 0 and done[-1] == kang.n_vars and done == sorted(done)
    assert {p["progress"]["total"] for p in progress} == {kang.n_vars}


@needs_kang
def test_tie_correction_on_a_dense_layer_with_negative_values(comm_kernel, kang):
    reply, _ = comm_kernel.call_with_progress(
        "markers",
        object="es_kang",
        matrix="layers/integrated",
        groupby="cluster",
        n=10,
        tie_correct=True,
    )
    theirs = scanpy_wilcoxon(kang, "cluster", 10, layer="integrated", tie_correct=True)
    groups = list(theirs["names"].dtype.names)
    frame = markers_frame(reply)
    assert reply.result["tie_correct"] is True
    assert reply.result["matrix"] == "layers/integrated"
    # The layer holds 2,000 integrated genes, the others NaN: left out here (and listed, as
    # exprscope.markers does), while scanpy keeps them in its Benjamini–Hochberg, so adjusted
    # p differ; names and scores are the same.
    assert len(reply.result["excluded_genes"]) == kang.n_vars - 2000
    for group in groups:
        mine = frame[frame["group"] == group]
        assert_same_ranking(mine["gene"], mine["score"], theirs["names"][group])
        np.testing.assert_allclose(mine["score"], theirs["scores"][group], rtol=1e-5, atol=1e-5)


def test_pbmc68k_raw_markers_equal_scanpy_wilcoxon(comm_kernel):
    pbmc = sc.datasets.pbmc68k_reduced()
    reply, _ = comm_kernel.call_with_progress(
        "markers", object="es_pbmc68k", matrix="raw", groupby="bulk_labels", n=200
    )
    theirs = scanpy_wilcoxon(pbmc, "bulk_labels", 200, use_raw=True)
    groups = list(theirs["names"].dtype.names)
    assert reply.result["groups"] == groups and reply.result["matrix"] == "raw"
    assert_equals_scanpy(markers_frame(reply), theirs, groups)


def test_unlabelled_cells_unused_categories_and_nan_genes(comm_kernel, local_data):
    """es_csr: five cells without a cluster (in every rest, as scanpy), an unused category
    (no row, not an error), and an integrated layer whose last genes are NaN (left out, as
    ``exprscope.markers`` leaves them, and listed)."""
    adata = local_data["es_csr"]
    for matrix, layer, use_raw in [("X", None, False), ("layers/integrated", "integrated", False)]:
        reply, _ = comm_kernel.call_with_progress(
            "markers", object="es_csr", matrix=matrix, groupby="cluster", n=7
        )
        expected = exprscope.markers(
            adata, "cluster", 7, method="wilcoxon", layer=layer, use_raw=use_raw
        )
        assert_equals_api(markers_frame(reply), expected)
        assert reply.result["groups"] == ["c", "a", "b"]
        assert reply.result["excluded_genes"] == expected.attrs["excluded_genes"]
    assert reply.result["excluded_genes"] == [f"G{i}" for i in range(20, 30)]
    assert reply.result["n_genes"] == 20


def test_a_view_ranks_its_own_cells(comm_kernel, local_data):
    reply, _ = comm_kernel.call_with_progress(
        "markers", object="es_dense_view", matrix="X", groupby="cluster", n=5
    )
    expected = exprscope.markers(
        local_data["es_dense_view"], "cluster", 5, method="wilcoxon", use_raw=False
    )
    assert_equals_api(markers_frame(reply), expected)


def test_the_ranking_runs_beside_the_notebook_and_cancel_stops_it(comm_kernel):
    """300,000 cells: the ranking runs on a worker thread (the kernel goes idle before the
    reply) and a ``cancel`` stops it before the next block of genes."""

    def cancel(request_id):
        comm_kernel._send(
            "comm_msg",
            {
                "comm_id": comm_kernel.comm_id,
                "data": {"id": "cancel-markers", "op": "cancel", "args": {"id": request_id}},
            },
        )

    reply, progress = comm_kernel.call_with_progress(
        "markers", on_sent=cancel, object="es_large", matrix="X", groupby="group"
    )
    assert reply.error["code"] == "cancelled"
    assert reply.error["message"] == "The marker search was cancelled."
    assert progress[-1]["progress"]["done"] < 20
    # Nothing is left running and the kernel answers as before
    assert comm_kernel.call("hello").result["language"] == "python"
    assert comm_kernel.execute("1 + 1", silent=True) == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            {"object": "es_csr", "matrix": "X", "groupby": "nope"},
            "unknown_column",
            "No obs column 'nope'.",
        ),
        (
            {"object": "es_csr", "matrix": "layers/nope", "groupby": "cluster"},
            "unknown_matrix",
            "No matrix 'layers/nope'; available: X, raw, layers/counts, layers/integrated.",
        ),
        (
            {"object": "es_view", "matrix": "X", "groupby": "sample"},
            "bad_request",
            "Markers compare each cluster with the other cells: 'sample' has 1 cluster with "
            "cells ('s1'). Choose a cluster column with at least two clusters.",
        ),
        (
            {"object": "es_csr", "matrix": "X", "groupby": "cluster", "method": "t-test"},
            "bad_request",
            "Argument 'method' must be \"wilcoxon\" (the t-test is computed in the browser).",
        ),
        (
            {"object": "es_csr", "matrix": "X", "groupby": "cluster", "n": 201},
            "bad_request",
            "Argument 'n' must be an integer from 1 to 200.",
        ),
        (
            {"object": "es_csr", "matrix": "X", "groupby": "cluster", "tie_correct": "yes"},
            "bad_request",
            "Argument 'tie_correct' must be true or false.",
        ),
        ({"object": "es_nope", "matrix": "X", "groupby": "cluster"}, "not_found", None),
        ({"object": "es_frame", "matrix": "X", "groupby": "cluster"}, "not_supported", None),
        ({"matrix": "X", "groupby": "cluster"}, "bad_request", None),
    ],
)
def test_bad_requests_get_clear_errors(comm_kernel, args, code, message):
    reply = comm_kernel.call("markers", **args)
    assert reply.error["code"] == code
    if message is not None:
        assert reply.error["message"] == message


def test_backed_objects_are_refused_with_a_way_out(comm_kernel, tmp_path):
    path = tmp_path / "backed.h5ad"
    comm_kernel.execute(
        "import anndata as _ad\n"
        f"es_csr.write_h5ad({str(path)!r})\n"
        f"es_backed_markers = _ad.read_h5ad({str(path)!r}, backed='r')\n"
        "del _ad",
        silent=True,
    )
    try:
        reply = comm_kernel.call(
            "markers", object="es_backed_markers", matrix="X", groupby="cluster"
        )
        assert reply.error["code"] == "not_supported"
        assert "adata.to_memory()" in reply.error["message"]
    finally:
        comm_kernel.execute("es_backed_markers.file.close(); del es_backed_markers", silent=True)


def test_malformed_arguments_never_get_an_internal_error(comm_kernel):
    """test_comm_fuzz.py's junk values in every argument (its ``call`` waits only until the
    kernel is idle; this op answers from a worker thread, hence a test of its own)."""
    from test_comm_fuzz import JUNK

    valid = {"object": "es_csr", "matrix": "X", "groupby": "cluster", "n": 3}
    for field in ["object", "matrix", "groupby", "method", "n", "tie_correct"]:
        for junk in JUNK:
            reply, _ = comm_kernel.call_with_progress("markers", **{**valid, field: junk})
            if not reply.ok:
                assert reply.error["code"] != "internal", (field, repr(junk)[:80], reply.error)
