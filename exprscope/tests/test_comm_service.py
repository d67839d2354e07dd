"""End-to-end tests of the kernel side of the comm bridge, against a real ipykernel.

One kernel is started for the test session (``conftest.py``, ``kernel_harness.py``). It runs
the extension's setup snippet and loads the test data; the tests then talk to it exactly as the
frontend does: a ``comm_open`` on the shell channel, ``comm_msg`` requests, replies (with binary
buffers) read from iopub. The same data is built in the test process, and every value that
comes back is compared with it.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from kernel_harness import KANG_PBMC_H5AD, SYNTHETIC_OBJECTS, Reply, stored_matrix

from exprscope.kernel import PYTHON_SETUP_SNIPPET
from exprscope.kernel.protocol import MAX_GENES_PER_FETCH

# -- expected values, computed the plain way --------------------------------------------------


def check_fetch(reply: Reply, adata, matrix: str, genes, obs=(), embedding=None, cell_ids=False):
    """Compare a fetch reply with ``adata``, value by value."""
    values, names = stored_matrix(adata, matrix)
    values = values.astype(np.float32)  # what fetch sends
    result, table = reply.result, reply.table()
    requested = list(dict.fromkeys(genes))

    expected_found, expected_reason = [], {}
    for gene in requested:
        if gene not in names:
            expected_reason[gene] = "not_in_matrix"
        elif adata.n_obs and np.isnan(values[:, names.index(gene)]).all():
            expected_reason[gene] = "all_nan"
        else:
            expected_found.append(gene)
    assert result["genes"] == expected_found
    assert result["missing"] == [gene for gene in requested if gene in expected_reason]
    assert result["missing_reason"] == expected_reason
    assert result["n_obs"] == adata.n_obs == table.num_rows
    assert result["matrix"] == matrix

    expected_columns = [f"gene:{gene}" for gene in expected_found]
    expected_columns += [f"obs:{column}" for column in dict.fromkeys(obs)]
    if embedding is not None:
        expected_columns += [f"obsm:{embedding}:{dim}" for dim in range(2)]
    if cell_ids:
        expected_columns.append("cell_id")
    assert table.column_names == expected_columns

    for gene in expected_found:
        column = table.column(f"gene:{gene}")
        assert column.type == pa.float32()
        # names.index: the first column of a duplicated gene name.
        np.testing.assert_array_equal(column.to_numpy(), values[:, names.index(gene)])
    for name in dict.fromkeys(obs):
        check_obs_column(table.column(f"obs:{name}"), adata.obs[name])
    if embedding is not None:
        coordinates = np.asarray(adata.obsm[embedding], dtype=np.float32)
        for dim in range(2):
            column = table.column(f"obsm:{embedding}:{dim}")
            assert column.type == pa.float32()
            np.testing.assert_array_equal(column.to_numpy(), coordinates[:, dim])
    if cell_ids:
        assert table.column("cell_id").type == pa.utf8()
        assert table.column("cell_id").to_pylist() == list(adata.obs_names)


def check_obs_column(column: pa.ChunkedArray, expected: pd.Series) -> None:
    """Float columns and integer columns with > 200 distinct values are numeric (float64);
    everything else is dictionary-encoded text."""
    dtype = expected.dtype
    if pd.api.types.is_float_dtype(dtype) or (
        pd.api.types.is_integer_dtype(dtype) and expected.nunique() > 200
    ):
        assert column.type == pa.float64()
        np.testing.assert_array_equal(column.to_numpy(), expected.to_numpy(dtype=np.float64))
        return
    # Indices at pandas's width for the codes: the narrowest signed integer whose maximum
    # exceeds the number of categories (int8 below 127)
    assert pa.types.is_dictionary(column.type) and column.type.value_type == pa.utf8()
    categories = len(column.chunk(0).dictionary)
    width = next(w for w in (8, 16, 32) if categories < np.iinfo(f"int{w}").max)
    assert column.type.index_type == getattr(pa, f"int{width}")()
    assert column.to_pylist() == [None if pd.isna(value) else str(value) for value in expected]
    if isinstance(expected.dtype, pd.CategoricalDtype):
        dictionary = column.chunk(0).dictionary.to_pylist()
        assert dictionary == [str(category) for category in expected.cat.categories]


# -- setup snippet ------------------------------------------------------------------------------


def test_setup_snippet_is_silent_leaves_no_names_and_is_idempotent(comm_kernel):
    # The first run imports exprscope, which may warn (e.g. from a source checkout).
    assert comm_kernel.setup_outputs == []
    before = comm_kernel.state()
    for _ in range(2):
        outputs = comm_kernel.execute(PYTHON_SETUP_SNIPPET, silent=True)
        assert outputs == []
    after = comm_kernel.state()
    assert after == before
    assert after["targets"].count("exprscope") == 1
    # Still one reply per request on a comm opened after the re-runs.
    comm_id = comm_kernel.open_comm()
    assert comm_kernel.call("hello", comm_id=comm_id).result["protocol"] == 2
    comm_kernel.close_comm(comm_id)
    assert comm_kernel.state()["comms"] == before["comms"]


def test_fallback_target_answers_not_installed(comm_kernel):
    """Without an importable exprscope, every request gets a ``not_installed`` reply."""
    comm_kernel.execute(
        "import sys\n"
        "_es_saved_kernel_module = sys.modules['exprscope.kernel']\n"
        "sys.modules['exprscope.kernel'] = None  # makes 'from exprscope.kernel import' fail\n"
    )
    try:
        assert comm_kernel.execute(PYTHON_SETUP_SNIPPET, silent=True) == []
        comm_id = comm_kernel.open_comm()
        reply = comm_kernel.call("hello", comm_id=comm_id)
        assert reply.error["code"] == "not_installed"
        assert "exprscope" in reply.error["message"]
        garbage = comm_kernel.send_raw("not a request", comm_id=comm_id)
        garbage.assert_single_reply(None)
        assert garbage.error["code"] == "not_installed"
        comm_kernel.close_comm(comm_id)
    finally:
        comm_kernel.execute(
            "sys.modules['exprscope.kernel'] = _es_saved_kernel_module\n"
            "del _es_saved_kernel_module\n"
        )
    assert comm_kernel.execute(PYTHON_SETUP_SNIPPET, silent=True) == []
    comm_id = comm_kernel.open_comm()
    assert comm_kernel.call("hello", comm_id=comm_id).ok
    comm_kernel.close_comm(comm_id)


# -- hello, list, describe ----------------------------------------------------------------------


def test_hello(comm_kernel):
    result = comm_kernel.call("hello").result
    assert result["protocol"] == 2
    assert result["language"] == "python"
    assert isinstance(result["version"], str)


def test_list_reports_supported_objects_only(comm_kernel, local_data):
    objects = {entry["name"]: entry for entry in comm_kernel.call("list").result["objects"]}
    expected = [*SYNTHETIC_OBJECTS, "es_large", "es_pbmc68k"]
    assert set(expected) <= set(objects)
    assert "es_frame" not in objects and "_es_hidden" not in objects
    for name in expected:
        entry = objects[name]
        assert entry["type"] == "AnnData"
        assert (entry["n_obs"], entry["n_vars"]) == local_data[name].shape
        assert re.fullmatch(r"[0-9a-f]+", entry["fingerprint"])


def test_describe_synthetic(comm_kernel, local_data):
    result = comm_kernel.call("describe", object="es_dense").result
    adata = local_data["es_dense"]
    assert result["name"] == "es_dense" and result["type"] == "AnnData"
    assert (result["n_obs"], result["n_vars"]) == adata.shape
    assert result["genes"] == list(adata.var_names)

    obs = {column["name"]: column for column in result["obs"]}
    assert [column["name"] for column in result["obs"]] == list(adata.obs.columns)
    counts = adata.obs["cluster"].value_counts()
    assert obs["cluster"]["kind"] == "categorical"
    assert obs["cluster"]["categories"] == [
        {"name": name, "n_cells": int(counts[name])} for name in ["c", "a", "b", "unused"]
    ]
    assert obs["cluster"]["categories"][-1]["n_cells"] == 0
    assert [c["name"] for c in obs["sample"]["categories"]] == ["s1", "s2"]
    assert [c["name"] for c in obs["batch"]["categories"]] == ["0", "1", "2"]
    assert [c["name"] for c in obs["is_doublet"]["categories"]] == ["False", "True"]
    assert {name: obs[name]["kind"] for name in ["score", "n_counts", "note"]} == {
        "score": "numeric",
        "n_counts": "numeric",
        "note": "other",
    }
    assert obs["note"]["n_unique"] == 300

    assert result["guesses"] == {"dataset": "sample", "cluster": "cluster", "sample": None}
    # Its uns holds a rank_genes_groups stub without names or method: not readable, not listed.
    assert result["stored_markers"] == []
    assert result["embeddings"] == [{"name": "X_umap", "n_dims": 2}, {"name": "X_pca", "n_dims": 5}]
    matrices = {matrix["id"]: matrix for matrix in result["matrices"]}
    assert list(matrices) == ["X", "raw", "layers/counts", "layers/integrated"]
    assert matrices["X"] == {
        "id": "X",
        "label": "X",
        "n_vars": 30,
        "dtype": "float64",
        "storage": "dense",
    }
    assert matrices["raw"]["genes"] == list(adata.raw.var_names)
    assert matrices["raw"]["n_vars"] == 35
    assert matrices["layers/counts"]["storage"] == "csr"
    assert "genes" not in matrices["layers/counts"]


@pytest.mark.parametrize(
    ("name", "storage"), [("es_csr", "csr"), ("es_csc", "csc"), ("es_view", "csr")]
)
def test_describe_storage_and_views(comm_kernel, local_data, name, storage):
    result = comm_kernel.call("describe", object=name).result
    adata = local_data[name]
    assert (result["n_obs"], result["n_vars"]) == adata.shape
    assert result["genes"] == list(adata.var_names)
    matrices = {matrix["id"]: matrix for matrix in result["matrices"]}
    assert matrices["X"]["storage"] == storage
    assert ("raw" in matrices) == (adata.raw is not None)


def test_describe_pbmc68k(comm_kernel, local_data):
    result = comm_kernel.call("describe", object="es_pbmc68k").result
    adata = local_data["es_pbmc68k"]
    assert result["guesses"] == {"dataset": None, "cluster": "louvain", "sample": None}
    assert [(m["key"], m["groupby"]) for m in result["stored_markers"]] == [
        ("rank_genes_groups", "bulk_labels")
    ]
    obs = {column["name"]: column for column in result["obs"]}
    assert obs["n_genes"]["kind"] == "numeric"  # integer, but > 200 distinct values
    assert [c["name"] for c in obs["bulk_labels"]["categories"]] == list(
        adata.obs["bulk_labels"].cat.categories
    )
    matrices = {matrix["id"]: matrix for matrix in result["matrices"]}
    assert matrices["raw"]["storage"] == "csr" and "genes" not in matrices["raw"]


# -- fetch --------------------------------------------------------------------------------------

SYNTHETIC_GENES = ["G3", "G0", "NOPE", "G3", "G25", "RAW2", "G29", "G1"]
SYNTHETIC_OBS = ["cluster", "sample", "batch", "is_doublet", "score", "n_counts", "note"]


@pytest.mark.parametrize("name", SYNTHETIC_OBJECTS)
@pytest.mark.parametrize("matrix", ["X", "raw", "layers/counts", "layers/integrated"])
def test_fetch_synthetic(comm_kernel, local_data, name, matrix):
    adata = local_data[name]
    args = dict(obs=SYNTHETIC_OBS, embedding="X_umap", cell_ids=True)
    reply = comm_kernel.call("fetch", object=name, matrix=matrix, genes=SYNTHETIC_GENES, **args)
    if matrix == "raw" and adata.raw is None:
        assert reply.error["code"] == "unknown_matrix"
        return
    check_fetch(reply, adata, matrix, SYNTHETIC_GENES, **args)


def test_fetch_pbmc68k(comm_kernel, local_data):
    adata = local_data["es_pbmc68k"]
    genes = [*adata.var_names[::15], "NOT_A_GENE"]
    obs = list(adata.obs.columns)
    for matrix in ["X", "raw"]:
        reply = comm_kernel.call(
            "fetch", object="es_pbmc68k", matrix=matrix, genes=genes, obs=obs, embedding="X_umap"
        )
        check_fetch(reply, adata, matrix, genes, obs=obs, embedding="X_umap")


@pytest.mark.skipif(not KANG_PBMC_H5AD.is_file(), reason="exprscope/data/kang_pbmc.h5ad not built")
def test_fetch_kang_pbmc(comm_kernel, local_data):
    adata = local_data["es_kang"]
    integrated = list(adata.var_names[adata.var["integrated"]][:3])
    not_integrated = list(adata.var_names[~adata.var["integrated"]][:3])
    genes = ["ISG15", "CD14", *integrated, *not_integrated, "NOT_A_GENE"]
    obs = ["dataset", "cluster", "n_counts"]
    for matrix in ["X", "layers/counts", "layers/integrated"]:
        reply = comm_kernel.call(
            "fetch", object="es_kang", matrix=matrix, genes=genes, obs=obs, embedding="X_umap"
        )
        check_fetch(reply, adata, matrix, genes, obs=obs, embedding="X_umap")
        missing_reason = reply.result["missing_reason"]
        if matrix == "layers/integrated":
            assert all(missing_reason[gene] == "all_nan" for gene in not_integrated)
            assert all(gene in reply.result["genes"] for gene in integrated)
        assert missing_reason["NOT_A_GENE"] == "not_in_matrix"


def test_fetch_large_reply_is_chunked(comm_kernel, local_data):
    adata = local_data["es_large"]
    genes = list(adata.var_names)
    reply = comm_kernel.call("fetch", object="es_large", matrix="X", genes=genes, obs=["group"])
    assert reply.messages[0]["parts"] >= 3  # 300k cells × 20 genes × 4 bytes = 24 MB
    assert len(reply.batches()) > 1
    check_fetch(reply, adata, "X", genes, obs=["group"])


def test_fetch_without_genes_sends_obs_only(comm_kernel, local_data):
    reply = comm_kernel.call("fetch", object="es_dense", matrix="X", genes=[], obs=["cluster"])
    check_fetch(reply, local_data["es_dense"], "X", [], obs=["cluster"])


# -- errors -------------------------------------------------------------------------------------


def fetch_request(**overrides: Any) -> dict[str, Any]:
    args = {"object": "es_dense", "matrix": "X", "genes": ["G1"]}
    return {"id": "bad", "op": "fetch", "args": {**args, **overrides}}


MALFORMED_REQUESTS = {
    "not an object": ("fetch G1 please", "bad_request"),
    "a list": ([1, 2], "bad_request"),
    "missing id": ({"op": "hello"}, "bad_request"),
    "id not a string": ({"id": ["x"], "op": "hello"}, "bad_request"),
    "missing op": ({"id": "bad"}, "bad_request"),
    "unknown op": ({"id": "bad", "op": "explode"}, "unknown_op"),
    "args not an object": ({"id": "bad", "op": "fetch", "args": [1]}, "bad_request"),
    "genes not a list": (fetch_request(genes="G1"), "bad_request"),
    "genes not strings": (fetch_request(genes=["G1", 2]), "bad_request"),
    "matrix not a string": (fetch_request(matrix=5), "bad_request"),
    "missing matrix": (fetch_request(matrix=None), "bad_request"),
    "obs not a list": (fetch_request(obs="cluster"), "bad_request"),
    "cell_ids not a bool": (fetch_request(cell_ids="yes"), "bad_request"),
    "object not a string": (fetch_request(object=None), "bad_request"),
    "unknown object": (fetch_request(object="es_nothing"), "not_found"),
    "private object": (fetch_request(object="_es_hidden"), "not_found"),
    "code as object name": (fetch_request(object="print('run')"), "not_found"),
    "dotted object name": (fetch_request(object="es_dense.raw"), "not_found"),
    "not AnnData": (fetch_request(object="es_frame"), "not_supported"),
    "unknown layer": (fetch_request(matrix="layers/nope"), "unknown_matrix"),
    "no raw": (fetch_request(object="es_csc", matrix="raw"), "unknown_matrix"),
    "unknown obs column": (fetch_request(obs=["cluster", "nope"]), "unknown_column"),
    "unknown embedding": (fetch_request(embedding="X_nope"), "unknown_column"),
    "line embedding": (fetch_request(embedding="X_line"), "unknown_column"),
    "describe unknown": ({"id": "bad", "op": "describe", "args": {"object": "x"}}, "not_found"),
}
ARGUMENT_NAMES = {
    "genes not a list": "genes",
    "genes not strings": "genes",
    "matrix not a string": "matrix",
    "missing matrix": "matrix",
    "obs not a list": "obs",
    "cell_ids not a bool": "cell_ids",
    "object not a string": "object",
    "args not an object": "args",
}


@pytest.mark.parametrize("case", list(MALFORMED_REQUESTS))
def test_malformed_request_gets_one_error_reply(comm_kernel, case):
    request, code = MALFORMED_REQUESTS[case]
    reply = comm_kernel.send_raw(request)
    request_id = request.get("id") if isinstance(request, dict) else None
    reply.assert_single_reply(request_id if isinstance(request_id, str) else None)
    assert reply.error["code"] == code
    if case in ARGUMENT_NAMES:
        assert reply.error["details"]["argument"] == ARGUMENT_NAMES[case]
        assert repr(ARGUMENT_NAMES[case]) in reply.error["message"]


def test_too_many_genes_is_refused_quickly(comm_kernel):
    genes = [f"UNKNOWN{i}" for i in range(100_000)]
    start = time.monotonic()
    reply = comm_kernel.call("fetch", object="es_dense", matrix="X", genes=genes)
    assert reply.error["code"] == "too_large"
    assert reply.error["details"]["max_genes"] == MAX_GENES_PER_FETCH
    assert time.monotonic() - start < 10


def test_unexpected_exception_is_an_internal_error_reply(comm_kernel):
    comm_kernel.execute(
        "from exprscope.adapters.anndata import AnnDataAdapter as _EsAdapter\n"
        "_es_describe = _EsAdapter.describe\n"
        "_EsAdapter.describe = lambda self: 1 / 0\n"
    )
    try:
        reply = comm_kernel.call("describe", object="es_dense")
    finally:
        comm_kernel.execute("_EsAdapter.describe = _es_describe\ndel _EsAdapter, _es_describe\n")
    assert reply.error["code"] == "internal"
    assert "ZeroDivisionError" in reply.error["message"]
    assert "ZeroDivisionError" in reply.error["details"]["traceback"]


def test_kernel_still_serves_after_errors(comm_kernel):
    for request, _ in MALFORMED_REQUESTS.values():
        comm_kernel.send_raw(request)
    assert comm_kernel.call("hello").ok
    assert comm_kernel.evaluate_json("print(1 + 1)") == 2


def test_cancel_is_acknowledged(comm_kernel):
    # r1 was answered long ago: nothing runs under that id (test_comm_compare.py cancels one)
    assert comm_kernel.call("cancel", id="r1").result == {"running": False}


# -- fingerprint --------------------------------------------------------------------------------


def test_fingerprint_tracks_changes(comm_kernel):
    def fingerprint() -> str:
        listed = {entry["name"]: entry for entry in comm_kernel.call("list").result["objects"]}
        described = comm_kernel.call("describe", object="es_fp").result
        fetched = comm_kernel.call("fetch", object="es_fp", matrix="X", genes=["G1"]).result
        assert listed["es_fp"]["fingerprint"] == described["fingerprint"]
        assert described["fingerprint"] == fetched["fingerprint"]
        return described["fingerprint"]

    changes = {
        "nothing": "es_unrelated = 1",
        "reassign": "es_fp = es_fp.copy()",
        "subset": "es_fp = es_fp[:200]",
        "nothing on a view": "es_unrelated = 2",
        "subset of a view": "es_fp = es_fp[:, :20]",
        "copy of a view": "es_fp = es_fp.copy()",
        "new layer": "es_fp.layers['scaled'] = es_fp.X * 2",
        "replaced layer": "es_fp.layers['scaled'] = es_fp.X * 3",
        "replaced X": "es_fp.X = es_fp.X.copy()",
        "new obs column": "es_fp.obs['extra'] = 1.0",
        "new obsm entry": "es_fp.obsm['X_tsne'] = es_fp.obsm['X_umap'] * 2",
        "renamed categories": (
            "es_fp.obs['cluster'] = es_fp.obs['cluster'].cat.rename_categories(str.upper)"
        ),
        "reassigned cells": (
            "es_fp.obs['cluster'] = pd.Categorical("
            "np.roll(es_fp.obs['cluster'].to_numpy(), 1), categories=list('CAB'))"
        ),
        "new marker results": (
            "es_fp.uns['rank_genes_groups'] = {'names': [], 'params': {'groupby': 'cluster'}}"
        ),
    }
    comm_kernel.execute("es_fp = es_dense.copy()")
    previous = fingerprint()
    assert fingerprint() == previous
    for change, code in changes.items():
        comm_kernel.execute(code)
        current = fingerprint()
        if change.startswith("nothing"):
            assert current == previous, change
        else:
            assert current != previous, change
        previous = current
