"""The comm ops behind "top N marker genes per cluster": ``group_stats`` and ``stored_markers``.

Against the real kernel of ``conftest.py``: the statistics that come back over the comm are
compared with plain numpy sums on the same AnnData, and a Welch t-test computed from them (as
the browser does) must rank the same top genes as ``scanpy.tl.rank_genes_groups``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from kernel_harness import KANG_PBMC_H5AD, SYNTHETIC_OBJECTS, stored_matrix

from exprscope.compute.aggregate import GroupMoments
from exprscope.compute.markers import welch_markers

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

needs_kang = pytest.mark.skipif(
    not KANG_PBMC_H5AD.is_file(), reason="exprscope/data/kang_pbmc.h5ad not built"
)
KANG_MATRICES = ["X", "layers/counts", "layers/integrated"]
KANG_GROUPINGS = [["cluster"], ["cluster", "dataset"]]
N_TOP = 10


# -- expected values, the plain way ---------------------------------------------------------------


def group_labels(column: pd.Series) -> tuple[list[str], np.ndarray]:
    """Categories (in order; sorted values for other columns) as text, and each cell's
    category index (−1 for a missing label)."""
    categorical = pd.Categorical(column)
    return [str(c) for c in categorical.categories], np.asarray(categorical.codes)


def expected_group_stats(adata, matrix: str, groupby: list[str]) -> dict:
    values, genes = stored_matrix(adata, matrix)
    has_nan = np.isnan(values).any(axis=0)
    values = values[:, ~has_nan]
    # Squares as scanpy forms them: rounded to the matrix's float32, summed in float64.
    squares = np.square(values).astype(np.float64)
    values = values.astype(np.float64)
    columns = [group_labels(adata.obs[name]) for name in groupby]
    groups = []
    for combination in np.ndindex(*[len(categories) for categories, _ in columns]):
        cells = np.ones(adata.n_obs, dtype=bool)
        for (_, codes), index in zip(columns, combination, strict=True):
            cells &= codes == index
        if not cells.any():
            continue
        groups.append(
            {
                "labels": [columns[i][0][index] for i, index in enumerate(combination)],
                "n": int(cells.sum()),
                "sum": values[cells].sum(axis=0),
                "sumsq": squares[cells].sum(axis=0),
                "nnz": (values[cells] > 0).sum(axis=0),
            }
        )
    return {
        "genes": [gene for gene, nan in zip(genes, has_nan, strict=True) if not nan],
        "excluded": [gene for gene, nan in zip(genes, has_nan, strict=True) if nan],
        "groups": groups,
        "total_sum": values.sum(axis=0),
        "total_sumsq": squares.sum(axis=0),
        "has_negative": bool((values < 0).any()),
    }


def check_group_stats(reply, adata, matrix: str, groupby: list[str]) -> pa.Table:
    result, table = reply.result, reply.table()
    expected = expected_group_stats(adata, matrix, groupby)
    n_groups = len(expected["groups"])
    assert result["matrix"] == matrix
    assert result["groupby"] == groupby
    assert result["groups"] == [{"labels": g["labels"], "n": g["n"]} for g in expected["groups"]]
    assert result["n_cells_total"] == adata.n_obs
    assert result["excluded_genes"] == expected["excluded"]
    assert result["n_genes"] == len(expected["genes"]) == table.num_rows
    assert result["has_negative"] is expected["has_negative"]
    assert result["log1p_base"] is None
    assert isinstance(result["fingerprint"], str)

    names = ["gene"]
    for i in range(n_groups):
        names += [f"sum:{i}", f"sumsq:{i}", f"nnz:{i}"]
    assert table.column_names == [*names, "total_sum", "total_sumsq"]
    assert table.schema.field("gene").type == pa.utf8()
    assert all(field.type == pa.float64() for field in table.schema if field.name != "gene")
    assert table.column("gene").to_pylist() == expected["genes"]
    for i, group in enumerate(expected["groups"]):
        for stat in ("sum", "sumsq", "nnz"):
            np.testing.assert_allclose(
                table.column(f"{stat}:{i}").to_numpy(), group[stat], rtol=1e-12, atol=1e-12
            )
    for stat in ("total_sum", "total_sumsq"):
        np.testing.assert_allclose(
            table.column(stat).to_numpy(), expected[stat], rtol=1e-12, atol=1e-12
        )
    return table


def moments_from_reply(reply, pool: int | None = None) -> tuple[GroupMoments, list[str]]:
    """The transmitted statistics as GroupMoments, as the browser reads them; ``pool``
    sums the groups that share the label in that groupby position (e.g. datasets into
    clusters)."""
    result, table = reply.result, reply.table()
    groups = result["groups"]
    keys = [g["labels"][pool] if pool is not None else " · ".join(g["labels"]) for g in groups]
    names = list(dict.fromkeys(keys))
    n_genes = table.num_rows
    stats = {stat: np.zeros((len(names), n_genes)) for stat in ("sum", "sumsq", "nnz")}
    n = np.zeros(len(names))
    for i, (group, key) in enumerate(zip(groups, keys, strict=True)):
        row = names.index(key)
        n[row] += group["n"]
        for stat in stats:
            stats[stat][row] += table.column(f"{stat}:{i}").to_numpy()
    moments = GroupMoments(
        n=n,
        sum=stats["sum"],
        sum_sq=stats["sumsq"],
        nnz=stats["nnz"],
        has_negative=np.zeros(n_genes, dtype=bool),
        total_n=float(result["n_cells_total"]),
        total_sum=table.column("total_sum").to_numpy(),
        total_sum_sq=table.column("total_sumsq").to_numpy(),
    )
    return moments, names


# -- group_stats --------------------------------------------------------------------------------


@needs_kang
@pytest.mark.parametrize("groupby", KANG_GROUPINGS)
@pytest.mark.parametrize("matrix", KANG_MATRICES)
def test_group_stats_kang(comm_kernel, local_data, matrix, groupby):
    adata = local_data["es_kang"]
    reply = comm_kernel.call("group_stats", object="es_kang", matrix=matrix, groupby=groupby)
    check_group_stats(reply, adata, matrix, groupby)
    excluded = reply.result["excluded_genes"]
    if matrix == "layers/integrated":
        assert excluded == list(adata.var_names[~adata.var["integrated"].to_numpy()])
        assert reply.result["has_negative"]
    else:
        assert excluded == []
    n_groups = len(reply.result["groups"])
    assert n_groups == (8 if groupby == ["cluster"] else 16)
    assert reply.result["groups"][:2] == (
        [{"labels": ["0"], "n": 467}, {"labels": ["1"], "n": 902}]
        if groupby == ["cluster"]
        else [{"labels": ["0", "ctrl"], "n": 244}, {"labels": ["0", "stim"], "n": 223}]
    )


@needs_kang
def test_group_stats_is_fast(comm_kernel):
    args = dict(object="es_kang", matrix="X", groupby=["cluster", "dataset"])
    comm_kernel.call("group_stats", **args)  # warm up
    start = time.perf_counter()
    reply = comm_kernel.call("group_stats", **args)
    elapsed = time.perf_counter() - start
    assert reply.table().num_rows == 9015
    assert elapsed < 1.0, f"group_stats took {elapsed:.2f} s for 9015 genes × 2000 cells"


@pytest.mark.parametrize("name", SYNTHETIC_OBJECTS)
@pytest.mark.parametrize("matrix", ["X", "raw", "layers/counts", "layers/integrated"])
def test_group_stats_synthetic(comm_kernel, local_data, name, matrix):
    """Dense float64, CSR, CSC, views, duplicated gene names; raw; a float32 CSR layer; a
    dense float32 layer with NaN genes; cells without a cluster label."""
    adata = local_data[name]
    if matrix == "raw" and adata.raw is None:
        reply = comm_kernel.call("group_stats", object=name, matrix="raw", groupby=["cluster"])
        assert reply.error["code"] == "unknown_matrix"
        return
    for groupby in [["cluster"], ["cluster", "sample"], ["batch"], ["is_doublet", "batch"]]:
        reply = comm_kernel.call("group_stats", object=name, matrix=matrix, groupby=groupby)
        check_group_stats(reply, adata, matrix, groupby)
    # The five cells without a cluster count in the totals only
    n_grouped = sum(group["n"] for group in reply.result["groups"])
    assert n_grouped == adata.n_obs


def test_group_stats_no_cells_in_any_group(comm_kernel, local_data):
    comm_kernel.execute("es_unlabelled = es_dense.copy()\nes_unlabelled.obs['cluster'] = np.nan")
    reply = comm_kernel.call("group_stats", object="es_unlabelled", matrix="X", groupby=["cluster"])
    assert reply.result["groups"] == []
    assert reply.result["n_cells_total"] == 300
    assert reply.table().column_names == ["gene", "total_sum", "total_sumsq"]
    comm_kernel.execute("del es_unlabelled")


# -- Welch t-test from the transmitted statistics vs scanpy -----------------------------------


@pytest.fixture(scope="module")
def scanpy_markers(local_data):
    """scanpy's t-test markers per cluster on the Kang data: X and the integrated layer."""
    if "es_kang" not in local_data:
        pytest.skip("exprscope/data/kang_pbmc.h5ad not built")
    import scanpy as sc

    adata = local_data["es_kang"]
    results = {}
    for matrix in ["X", "layers/integrated"]:
        if matrix == "X":
            reference = adata.copy()
            layer = None
        else:
            reference = adata[:, adata.var["integrated"].to_numpy()].copy()
            layer = "integrated"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc.tl.rank_genes_groups(
                reference, "cluster", method="t-test", layer=layer, n_genes=N_TOP
            )
        results[matrix] = reference.uns["rank_genes_groups"]
    return results


@needs_kang
@pytest.mark.parametrize("groupby", KANG_GROUPINGS)
@pytest.mark.parametrize("matrix", ["X", "layers/integrated"])
def test_welch_from_group_stats_matches_scanpy(comm_kernel, scanpy_markers, matrix, groupby):
    reply = comm_kernel.call("group_stats", object="es_kang", matrix=matrix, groupby=groupby)
    # With cluster × dataset, the browser pools the datasets of each cluster.
    moments, clusters = moments_from_reply(reply, pool=0)
    genes = np.asarray(reply.table().column("gene").to_pylist(), dtype=object)
    ours = welch_markers(moments, n_top=N_TOP, log_base=reply.result["log1p_base"])
    stored = scanpy_markers[matrix]
    assert clusters == list(stored["names"].dtype.names)
    for index, cluster in enumerate(clusters):
        mine = ours[ours["group"] == index]
        assert list(genes[mine["gene"].to_numpy(dtype=int)]) == list(stored["names"][cluster])
        np.testing.assert_allclose(
            mine["score"], np.asarray(stored["scores"][cluster], dtype=np.float64), rtol=1e-5
        )


# -- stored_markers -----------------------------------------------------------------------------

RANK_GENES_CODE = """
import warnings as _es_warnings
es_kang_markers = es_kang.copy()
with _es_warnings.catch_warnings():
    _es_warnings.simplefilter("ignore")
    sc.tl.rank_genes_groups(es_kang_markers, "cluster", method="t-test")
    sc.tl.rank_genes_groups(
        es_kang_markers, "dataset", method="wilcoxon", layer="counts", key_added="by_dataset"
    )
del _es_warnings
"""

STORED_NAMES_CODE = """
import json as _es_json
_es_stored = es_kang_markers.uns[{key!r}]
print(_es_json.dumps({{
    group: {{
        "names": [str(g) for g in _es_stored["names"][group][:{n}]],
        "scores": [float(s) for s in _es_stored["scores"][group][:{n}]],
        "logfoldchanges": [float(s) for s in _es_stored["logfoldchanges"][group][:{n}]],
        "pvals_adj": [float(s) for s in _es_stored["pvals_adj"][group][:{n}]],
    }}
    for group in _es_stored["names"].dtype.names
}}))
del _es_json, _es_stored
"""


@pytest.fixture(scope="module")
def kernel_with_markers(comm_kernel, local_data):
    if "es_kang" not in local_data:
        pytest.skip("exprscope/data/kang_pbmc.h5ad not built")
    comm_kernel.execute(RANK_GENES_CODE)
    yield comm_kernel
    comm_kernel.execute("del es_kang_markers")


def check_stored(reply, kernel, key: str, n: int) -> None:
    stored = kernel.evaluate_json(STORED_NAMES_CODE.format(key=key, n=n))
    table = reply.table()
    assert table.column_names == ["group", "rank", "gene", "score", "logfoldchange", "pval_adj"]
    assert [field.type for field in table.schema] == [
        pa.utf8(),
        pa.int32(),
        pa.utf8(),
        pa.float64(),
        pa.float64(),
        pa.float64(),
    ]
    assert reply.result["groups"] == list(stored)
    frame = table.to_pandas()
    assert list(dict.fromkeys(frame["group"])) == list(stored)
    for group, expected in stored.items():
        mine = frame[frame["group"] == group]
        assert list(mine["gene"]) == expected["names"]
        assert list(mine["rank"]) == list(range(1, len(expected["names"]) + 1))
        for column, key_ in [
            ("score", "scores"),
            ("logfoldchange", "logfoldchanges"),
            ("pval_adj", "pvals_adj"),
        ]:
            np.testing.assert_allclose(mine[column], expected[key_], rtol=1e-6)


def test_stored_markers_available(kernel_with_markers):
    reply = kernel_with_markers.call(
        "stored_markers", object="es_kang_markers", groupby="cluster", n=10
    )
    result = reply.result
    assert result["available"] is True
    assert result["key"] == "rank_genes_groups"
    assert result["method"] == "t-test"
    assert result["matrix"] == "X"
    assert result["groupby"] == "cluster"
    assert result["reference"] == "rest"
    assert result["groups"] == [str(i) for i in range(8)]
    check_stored(reply, kernel_with_markers, "rank_genes_groups", 10)
    assert reply.table().num_rows == 80


def test_stored_markers_default_n_and_key(kernel_with_markers):
    reply = kernel_with_markers.call("stored_markers", object="es_kang_markers", groupby="cluster")
    assert reply.table().num_rows == 8 * 10
    reply = kernel_with_markers.call(
        "stored_markers", object="es_kang_markers", groupby="dataset", key="by_dataset", n=25
    )
    assert reply.result["method"] == "wilcoxon"
    assert reply.result["matrix"] == "layers/counts"
    assert reply.result["groups"] == ["ctrl", "stim"]
    check_stored(reply, kernel_with_markers, "by_dataset", 25)


def test_stored_markers_unavailable(kernel_with_markers):
    cases = [
        ("es_kang_markers", "dataset", "not 'dataset'"),  # stored for 'cluster'
        ("es_kang", "cluster", "no uns['rank_genes_groups']"),
        ("es_dense", "cluster", "that exprscope can read"),  # names is not a structured array
    ]
    for name, groupby, reason in cases:
        reply = kernel_with_markers.call("stored_markers", object=name, groupby=groupby)
        assert reply.result["available"] is False
        assert reason in reply.result["reason"]
        assert reply.messages[0]["parts"] == 1 and reply.buffers == [[]]


def test_stored_markers_pbmc68k_logreg(comm_kernel, local_data):
    """Stored logreg results: scores only, on raw (params.use_raw is an array in h5ad)."""
    reply = comm_kernel.call("stored_markers", object="es_pbmc68k", groupby="bulk_labels", n=200)
    stored = local_data["es_pbmc68k"].uns["rank_genes_groups"]
    assert reply.result["method"] == "logreg"
    assert reply.result["matrix"] == "raw"
    frame = reply.table().to_pandas()
    for group in stored["names"].dtype.names:
        mine = frame[frame["group"] == group]
        assert list(mine["gene"]) == [str(g) for g in stored["names"][group][:200]]
    assert frame["pval_adj"].isna().all() and frame["logfoldchange"].isna().all()
    assert frame["score"].notna().all()


def test_describe_lists_stored_markers(kernel_with_markers):
    def described(name):
        return kernel_with_markers.call("describe", object=name).result["stored_markers"]

    assert described("es_kang_markers") == [
        {"key": "rank_genes_groups", "groupby": "cluster", "method": "t-test", "matrix": "X"},
        {
            "key": "by_dataset",
            "groupby": "dataset",
            "method": "wilcoxon",
            "matrix": "layers/counts",
        },
    ]
    assert described("es_kang") == []
    assert described("es_dense") == []  # an unreadable entry is not listed
    assert described("es_pbmc68k") == [
        {"key": "rank_genes_groups", "groupby": "bulk_labels", "method": "logreg", "matrix": "raw"}
    ]


# -- errors -------------------------------------------------------------------------------------


def request(op: str, **args) -> dict:
    defaults = {
        "group_stats": {"object": "es_dense", "matrix": "X", "groupby": ["cluster"]},
        "stored_markers": {"object": "es_dense", "groupby": "cluster"},
    }[op]
    return {"id": "bad", "op": op, "args": {**defaults, **args}}


ERRORS = {
    "unknown column": (request("group_stats", groupby=["cluster", "nope"]), "unknown_column", None),
    "unknown matrix": (request("group_stats", matrix="layers/nope"), "unknown_matrix", None),
    "no raw": (request("group_stats", object="es_csc", matrix="raw"), "unknown_matrix", None),
    "unknown object": (request("group_stats", object="es_nothing"), "not_found", None),
    "not AnnData": (request("group_stats", object="es_frame"), "not_supported", None),
    "groupby a string": (request("group_stats", groupby="cluster"), "bad_request", "groupby"),
    "groupby empty": (request("group_stats", groupby=[]), "bad_request", "groupby"),
    "groupby four": (
        request("group_stats", groupby=["cluster", "sample", "batch", "dataset"]),
        "bad_request",
        "groupby",
    ),
    "groupby twice": (
        request("group_stats", groupby=["cluster", "cluster"]),
        "bad_request",
        "groupby",
    ),
    "groupby numbers": (request("group_stats", groupby=[1]), "bad_request", "groupby"),
    "matrix missing": (request("group_stats", matrix=None), "bad_request", "matrix"),
    "object missing": (request("group_stats", object=None), "bad_request", "object"),
    "markers unknown column": (
        request("stored_markers", groupby="nope"),
        "unknown_column",
        None,
    ),
    "markers groupby list": (
        request("stored_markers", groupby=["cluster"]),
        "bad_request",
        "groupby",
    ),
    "markers n zero": (request("stored_markers", n=0), "bad_request", "n"),
    "markers n too big": (request("stored_markers", n=201), "bad_request", "n"),
    "markers n text": (request("stored_markers", n="10"), "bad_request", "n"),
    "markers n bool": (request("stored_markers", n=True), "bad_request", "n"),
    "markers n fraction": (request("stored_markers", n=2.5), "bad_request", "n"),
    "markers key number": (request("stored_markers", key=3), "bad_request", "key"),
    "markers unknown object": (request("stored_markers", object="nope"), "not_found", None),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors(comm_kernel, case):
    message, code, argument = ERRORS[case]
    reply = comm_kernel.send_raw(message)
    reply.assert_single_reply("bad")
    assert reply.error["code"] == code, reply.error
    if argument is not None:
        assert reply.error["details"]["argument"] == argument
        assert repr(argument) in reply.error["message"]


@needs_kang
def test_too_many_groups_is_too_large(comm_kernel):
    # n_counts: 1,251 distinct values, over the 1,000 groups limit
    reply = comm_kernel.call("group_stats", object="es_kang", matrix="X", groupby=["n_counts"])
    assert reply.error["code"] == "too_large"
    assert reply.error["details"]["max_groups"] == 1000
    # n_genes: 661 groups × 9,015 genes, over the 4,000,000 values limit
    reply = comm_kernel.call("group_stats", object="es_kang", matrix="X", groupby=["n_genes"])
    assert reply.error["code"] == "too_large"
    assert reply.error["details"]["max_values"] == 4_000_000
    assert comm_kernel.call("hello").ok
