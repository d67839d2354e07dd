"""The ``compare`` op in a real kernel: the same table as ``exprscope.compare`` (held to pydeseq2
and scanpy in test_compare.py), progress per cluster, DESeq2 fits on a worker thread that a
``cancel`` stops, and clear errors for comparisons that cannot be made."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pytest

import exprscope
from exprscope.synthetic import make_synthetic

pytest.importorskip("pydeseq2")

REPLICATES_CODE = """
from exprscope.synthetic import make_synthetic as _make_synthetic
es_replicates = _make_synthetic(6000, 300, n_clusters=4, samples_per_dataset=3, seed=1)
del _make_synthetic
"""


@pytest.fixture(scope="module")
def replicates(comm_kernel):
    comm_kernel.execute(REPLICATES_CODE, silent=True)
    yield make_synthetic(6000, 300, n_clusters=4, samples_per_dataset=3, seed=1)
    comm_kernel.execute("del es_replicates", silent=True)


@pytest.fixture(scope="module")
def kang():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return exprscope.datasets.kang_pbmc()


def as_frame(reply):
    table = reply.table()
    assert table.schema.field("gene").type == pa.dictionary(pa.int32(), pa.utf8())
    return table.to_pandas().astype({"gene": str, "cluster": str})


def assert_same_table(reply, expected):
    """The op's rows equal the Python API's rows of the tested clusters (same order; NaN
    where DESeq2 leaves a gene untested, e.g. all zeros)."""
    finite = np.isfinite(expected["pvalue"].to_numpy(dtype=float))
    tested = expected[expected["cluster"].isin(set(expected["cluster"][finite]))]
    ours = as_frame(reply)
    assert list(ours["gene"]) == list(tested["gene"])
    assert list(ours["cluster"]) == list(tested["cluster"])
    for column in ("log2fc", "stat", "pvalue", "padj"):
        np.testing.assert_allclose(
            ours[column].to_numpy(),
            tested[column].to_numpy(dtype=float),
            rtol=1e-12,
            atol=0,
            equal_nan=True,
        )


def test_pseudobulk_compare_runs_on_a_worker_thread_with_progress(comm_kernel, replicates):
    reply, progress = comm_kernel.call_with_progress(
        "compare",
        object="es_replicates",
        matrix="X",
        reference="dataset1",
        dataset_key="dataset",
        cluster_key="cluster",
        sample_key="sample",
    )
    result = reply.result
    expected = exprscope.compare(
        replicates,
        reference="dataset1",
        dataset_key="dataset",
        cluster_key="cluster",
        sample_key="sample",
    )
    assert result["method"] == "pseudobulk" and result["matrix"] == "layers/counts"
    assert result["target"] == "dataset2" and result["caveat"] == expected.attrs["caveat"]
    assert [c["cluster"] for c in result["clusters"]] == ["0", "1", "2", "3"]
    assert all(c["n_samples_a"] == 3 and c["n_samples_b"] == 3 for c in result["clusters"])
    cells = replicates.obs.groupby(["cluster", "dataset"], observed=True).size()
    assert [(c["n_cells_a"], c["n_cells_b"]) for c in result["clusters"]] == [
        (cells[(k, "dataset1")], cells[(k, "dataset2")]) for k in ["0", "1", "2", "3"]
    ]
    assert_same_table(reply, expected)
    # One message before the reading, one per cluster, one at the end
    assert [p["progress"]["done"] for p in progress] == [0, 0, 1, 2, 3, 4]
    assert all(p["progress"]["total"] == 4 for p in progress)
    # The kernel went idle before the reply: the notebook was usable meanwhile
    assert comm_kernel.execute("1 + 1", silent=True) == []


def test_cancel_stops_the_deseq2_fits(comm_kernel, replicates):
    def cancel(request_id):
        comm_kernel._send(
            "comm_msg",
            {
                "comm_id": comm_kernel.comm_id,
                "data": {"id": "cancel-1", "op": "cancel", "args": {"id": request_id}},
            },
        )

    reply, progress = comm_kernel.call_with_progress(
        "compare",
        on_sent=cancel,
        object="es_replicates",
        matrix="X",
        reference="dataset1",
        dataset_key="dataset",
        cluster_key="cluster",
        sample_key="sample",
    )
    assert reply.error["code"] == "cancelled"
    assert progress[-1]["progress"]["done"] < 4
    # Nothing is left running and the kernel answers as before
    assert comm_kernel.call("hello").result["language"] == "python"


def test_wilcoxon_compare_equals_the_python_api(comm_kernel, kang):
    reply, progress = comm_kernel.call_with_progress(
        "compare",
        object="es_kang",
        matrix="X",
        reference="ctrl",
        dataset_key="dataset",
        cluster_key="cluster",
        clusters=["0", "3"],
        genes=["ISG15", "IFI6", "CD14", "MS4A1"],
    )
    expected = exprscope.compare(
        kang,
        reference="ctrl",
        dataset_key="dataset",
        cluster_key="cluster",
        clusters=["0", "3"],
        genes=["ISG15", "IFI6", "CD14", "MS4A1"],
        use_raw=False,
    )
    result = reply.result
    assert result["method"] == "wilcoxon" and result["sample_key"] is None
    assert "not independent replicates" in result["caveat"]
    assert [c["n_samples_a"] for c in result["clusters"]] == [None, None]
    assert_same_table(reply, expected)
    assert len(progress) == 4  # reading, two clusters, done


def test_a_cluster_absent_from_one_dataset_is_reported_untested(comm_kernel):
    comm_kernel.execute(
        "es_partial = es_replicates[~((es_replicates.obs['cluster'] == '2') & "
        "(es_replicates.obs['dataset'] == 'dataset2'))].copy()",
        silent=True,
    )
    try:
        reply, _ = comm_kernel.call_with_progress(
            "compare",
            object="es_partial",
            matrix="X",
            reference="dataset1",
            dataset_key="dataset",
            cluster_key="cluster",
            sample_key="sample",
            clusters=["1", "2"],
        )
    finally:
        comm_kernel.execute("del es_partial", silent=True)
    clusters = {c["cluster"]: c for c in reply.result["clusters"]}
    assert clusters["1"]["tested"] and not clusters["2"]["tested"]
    assert clusters["2"]["n_cells_b"] == 0 and "fewer than 2 samples" in clusters["2"]["note"]
    assert set(as_frame(reply)["cluster"]) == {"1"}


@pytest.mark.parametrize(
    ("args", "code", "details"),
    [
        ({"reference": "nope"}, "bad_request", {"argument": "reference"}),
        ({"method": "t-test"}, "bad_request", {"argument": "method"}),
        ({"clusters": ["99"]}, "bad_request", {"argument": "clusters"}),
        ({"sample_key": "no_such_column"}, "unknown_column", {"role": "sample_key"}),
        ({"counts": "layers/none"}, "unknown_matrix", {}),
        # One sample per dataset: pseudobulk needs two and offers the Wilcoxon test
        (
            {"sample_key": "dataset", "method": "pseudobulk"},
            "bad_request",
            {"argument": "method", "suggest": "wilcoxon"},
        ),
        # X is log-normalised: no counts to sum
        (
            {"sample_key": "sample", "counts": "X", "method": "pseudobulk"},
            "bad_request",
            {"argument": "counts", "suggest": "wilcoxon"},
        ),
    ],
)
def test_comparisons_that_cannot_be_made_say_why(comm_kernel, replicates, args, code, details):
    before = comm_kernel.state()
    request = {
        "object": "es_replicates",
        "matrix": "X",
        "reference": "dataset1",
        "dataset_key": "dataset",
        "cluster_key": "cluster",
        **args,
    }
    reply, _ = comm_kernel.call_with_progress("compare", **request)
    assert reply.error["code"] == code, reply.error
    assert len(reply.error["message"]) < 1000
    for key, value in details.items():
        assert reply.error["details"][key] == value
    assert comm_kernel.state() == before
