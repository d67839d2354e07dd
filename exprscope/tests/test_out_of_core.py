"""Out-of-core sources against the in-memory path, on real stores made from the demo data.

Stores (built once per module in a temporary folder from ``exprscope.datasets.kang_pbmc()``):
a backed h5ad with CSR X and one with CSC X, a Zarr store read lazily into Dask arrays (on
the local threaded scheduler and on a ``distributed.LocalCluster``), and a TileDB-SOMA
experiment written with ``tiledbsoma.io.from_anndata``. Every number is compared with the
in-memory adapter / ``exprscope.correlate`` and, for some, with scanpy and scipy. The last
tests go through the real comm (``comm_kernel``) as the frontend does.
"""

from __future__ import annotations

import json
import warnings

import anndata as ad
import numpy as np
import pytest
import scanpy as sc
from scipy import stats

import exprscope
from exprscope import datasets
from exprscope.adapters import adapter_for
from exprscope.adapters.anndata import AnnDataAdapter
from exprscope.adapters.outofcore import BackedAnnDataAdapter, DaskAnnDataAdapter
from exprscope.adapters.soma import SomaExperimentAdapter

pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning"),
    pytest.mark.skipif(not datasets.KANG_PBMC_PATH.is_file(), reason="Kang demo data not built"),
]

GENES = ["ISG15", "CD14", "NOT_A_GENE", "IFI6", "LYZ", "ISG15"]
GROUPBY = ["cluster", "dataset"]
SOURCES = [
    "backed-csr",
    "backed-csc",
    "dask",
    "dask-distributed",
    "tiledbsoma",
    "tiledbsoma-distributed",
]
# Chunked sums differ from the in-memory ones by summation order only
RTOL = 1e-12


@pytest.fixture(scope="module")
def kang():
    return datasets.kang_pbmc()


@pytest.fixture(scope="module")
def stores(tmp_path_factory, kang):
    import tiledbsoma.io

    folder = tmp_path_factory.mktemp("stores")
    csc = kang.copy()
    csc.X = csc.X.tocsc()
    paths = {
        "csr": folder / "kang_csr.h5ad",
        "csc": folder / "kang_csc.h5ad",
        "zarr": folder / "kang.zarr",
        "soma": folder / "kang_soma",
    }
    kang.write_h5ad(paths["csr"])
    csc.write_h5ad(paths["csc"])
    kang.write_zarr(paths["zarr"])
    tiledbsoma.io.from_anndata(str(paths["soma"]), kang_soma(kang), measurement_name="RNA")
    return paths


def kang_soma(kang):
    """The genes of the SOMA store: ingesting the dense integrated layer of all 9,015 genes
    takes ~30 s, of a few hundred ~1 s. Integrated and non-integrated genes are kept."""
    keep = kang.var_names[:400].union(["ISG15", "CD14", "IFI6", "LYZ", "PTPRC"], sort=False)
    return kang[:, kang.var_names.isin(keep)].copy()


def lazy_zarr(path):
    """AnnData with Dask-array matrices read lazily from a Zarr store (obs, obsm in memory).
    ``anndata.experimental.read_lazy`` would also need xarray; read_elem_lazy does not."""
    import zarr
    from anndata.experimental import read_elem_lazy
    from anndata.io import read_elem

    group = zarr.open(path, mode="r")
    return ad.AnnData(
        X=read_elem_lazy(group["X"], chunks=(500, -1)),
        obs=read_elem(group["obs"]),
        var=read_elem(group["var"]),
        layers={key: read_elem_lazy(group["layers"][key]) for key in group["layers"]},
        obsm=read_elem(group["obsm"]),
        uns=read_elem(group["uns"]),
    )


@pytest.fixture
def local_cluster():
    """The user's client: a LocalCluster with threads in this process, closed after the test
    (so that no default client is left for the tests of the local scheduler)."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture
def source(request, stores, kang):
    """(adapter, matrix id of X, matrix id of the integrated layer, the in-memory AnnData it
    was made from) for one source."""
    import tiledbsoma

    kind = request.param
    if kind == "backed-csr":
        obj = ad.read_h5ad(stores["csr"], backed="r")
        yield adapter_for(obj), "X", "layers/integrated", kang
        obj.file.close()
    elif kind == "backed-csc":
        obj = ad.read_h5ad(stores["csc"], backed="r")
        yield adapter_for(obj), "X", "layers/integrated", kang
        obj.file.close()
    elif kind == "dask":
        yield adapter_for(lazy_zarr(stores["zarr"])), "X", "layers/integrated", kang
    elif kind == "dask-distributed":
        request.getfixturevalue("local_cluster")
        yield adapter_for(lazy_zarr(stores["zarr"])), "X", "layers/integrated", kang
    else:
        if kind == "tiledbsoma-distributed":
            request.getfixturevalue("local_cluster")
        with tiledbsoma.Experiment.open(str(stores["soma"])) as experiment:
            yield adapter_for(experiment), "X/data", "X/integrated", kang_soma(kang)


def columns(table, prefix):
    return {name: table.column(name).to_numpy() for name in table.column_names if prefix(name)}


def assert_same_group_stats(out, reference):
    (table, result), (ref_table, ref_result) = out, reference
    assert table.column_names == ref_table.column_names
    assert table.column("gene").to_pylist() == ref_table.column("gene").to_pylist()
    for name in table.column_names[1:]:
        exact = name.startswith("nnz:")
        got, want = table.column(name).to_numpy(), ref_table.column(name).to_numpy()
        if exact:
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-9, err_msg=name)
    for key in ("groups", "n_cells_total", "n_genes", "excluded_genes", "has_negative", "expm1"):
        assert result[key] == ref_result[key], key
    assert result.get("missing") == ref_result.get("missing")


# -- describe ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "adapter_type", "storage"),
    [
        ("backed-csr", BackedAnnDataAdapter, "backed-csr"),
        ("backed-csc", BackedAnnDataAdapter, "backed-csc"),
        ("dask", DaskAnnDataAdapter, "dask"),
        ("tiledbsoma", SomaExperimentAdapter, "tiledbsoma"),
    ],
    indirect=["source"],
)
def test_describe_out_of_core(source, adapter_type, storage):
    adapter, x, _, data = source
    assert type(adapter) is adapter_type
    described = adapter.describe()
    assert described["execution"]["path"] == "kernel"
    assert described["execution"]["reason"]
    matrices = {m["id"]: m for m in described["matrices"]}
    assert matrices[x]["storage"] == storage
    assert (described["n_obs"], described["n_vars"]) == data.shape
    assert described["genes"] == list(data.var_names)
    assert described["guesses"] == {"dataset": "dataset", "cluster": "cluster", "sample": None}
    reference = {c["name"]: c for c in AnnDataAdapter(data).describe()["obs"]}
    for column in described["obs"]:
        assert column == reference[column["name"]]
    assert {"name": "X_umap", "n_dims": 2} in described["embeddings"]
    if adapter_type is SomaExperimentAdapter:
        assert set(matrices) == {"X/data", "X/counts", "X/integrated"}
        assert described["type"] == "tiledbsoma.Experiment"


def test_execution_path_of_in_memory_objects(kang, monkeypatch):
    assert AnnDataAdapter(kang).describe()["execution"]["path"] == "browser"
    monkeypatch.setattr("exprscope.adapters.anndata.KERNEL_PATH_MIN_CELLS", 1000)
    execution = AnnDataAdapter(kang).describe()["execution"]
    assert execution["path"] == "kernel" and "2,000 cells" in execution["reason"]


# -- fetch ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES, indirect=True)
def test_fetch_equals_in_memory(source):
    adapter, x, integrated, data = source
    genes = [*dict.fromkeys(GENES), "PTPRC"]
    table, result = adapter.fetch(x, genes, ["cluster", "dataset"], "X_umap", cell_ids=True)
    ref_table, ref_result = AnnDataAdapter(data).fetch(
        "X", genes, ["cluster", "dataset"], "X_umap", cell_ids=True
    )
    assert table.equals(ref_table)
    for key in ("genes", "missing", "missing_reason", "n_obs"):
        assert result[key] == ref_result[key]
    # A layer with NaN outside its genes: the same missing reasons
    table, result = adapter.fetch(integrated, ["ISG15", "CD14"])
    ref_table, ref_result = AnnDataAdapter(data).fetch("layers/integrated", ["ISG15", "CD14"])
    assert result["missing_reason"] == ref_result["missing_reason"]
    assert table.equals(ref_table)


def test_csr_backed_fetch_warns_and_conversion_fixes_it(stores, kang, tmp_path):
    csr = ad.read_h5ad(stores["csr"], backed="r")
    _, result = adapter_for(csr).fetch("X", ["ISG15"])
    (warning,) = result["warnings"]
    assert "scans the whole matrix" in warning and "exprscope.to_gene_friendly" in warning
    _, result = adapter_for(csr).group_stats("X", ["cluster"], genes=["ISG15"])
    assert result["warnings"] == [warning]
    csr.file.close()

    converted = exprscope.to_gene_friendly(stores["csr"], tmp_path / "genes.h5ad", max_memory=4e5)
    backed = ad.read_h5ad(converted, backed="r")
    assert type(backed.X).__name__ == "_CSCDataset"
    table, result = adapter_for(backed).fetch("X", ["ISG15", "LYZ"])
    assert "warnings" not in result
    assert table.equals(AnnDataAdapter(kang).fetch("X", ["ISG15", "LYZ"])[0])
    backed.file.close()
    # Every element survives, the CSR layer becomes CSC too
    loaded = ad.read_h5ad(converted)
    assert loaded.X.format == "csc" and loaded.layers["counts"].format == "csc"
    assert (loaded.X != kang.X).nnz == 0
    assert (loaded.layers["counts"] != kang.layers["counts"]).nnz == 0
    np.testing.assert_array_equal(loaded.layers["integrated"], kang.layers["integrated"])
    assert loaded.obs.equals(kang.obs) and loaded.var.equals(kang.var)
    np.testing.assert_array_equal(loaded.obsm["X_umap"], kang.obsm["X_umap"])
    with pytest.raises(ValueError, match="must differ"):
        exprscope.to_gene_friendly(converted, converted)


# -- group_stats ---------------------------------------------------------------------------------


ENGINES = {
    "backed-csr": "h5py (csr chunks)",
    "backed-csc": "h5py (csc chunks)",
    "dask": "dask (local threads)",
    "dask-distributed": "dask.distributed (inproc://",
    "tiledbsoma": "tiledbsoma (axis query)",
    "tiledbsoma-distributed": "tiledbsoma (axis query), on dask.distributed (inproc://",
}


@pytest.mark.parametrize("source", SOURCES, indirect=True)
def test_group_stats_equals_in_memory(source, request):
    adapter, x, integrated, data = source
    reference = AnnDataAdapter(data)
    # The heatmap's kernel path: some genes, linear-space sums, two groupby columns
    out = adapter.group_stats(x, GROUPBY, genes=list(dict.fromkeys(GENES)), expm1=True)
    # Dask runs on the user's client when there is one, else on local threads
    assert out[1]["engine"].startswith(ENGINES[request.node.callspec.params["source"]])
    assert_same_group_stats(
        out, reference.group_stats("X", GROUPBY, genes=list(dict.fromkeys(GENES)), expm1=True)
    )
    assert out[1]["missing"] == ["NOT_A_GENE"]
    assert "sumexpm1:0" in out[0].column_names
    # All genes (marker statistics), and a layer with NaN genes and negative values
    assert_same_group_stats(
        adapter.group_stats(x, ["cluster"]), reference.group_stats("X", ["cluster"])
    )
    out = adapter.group_stats(integrated, ["dataset"], genes=["ISG15", "CD14", "LYZ"])
    assert_same_group_stats(
        out, reference.group_stats("layers/integrated", ["dataset"], ["ISG15", "CD14", "LYZ"])
    )
    assert out[1]["has_negative"]
    # No genes requested: an empty table, as in memory
    assert_same_group_stats(
        adapter.group_stats(x, GROUPBY, genes=[]), reference.group_stats("X", GROUPBY, genes=[])
    )


@pytest.mark.parametrize("source", ["backed-csr"], indirect=True)
def test_group_stats_against_scanpy_aggregate(source):
    adapter, x, _, data = source
    genes = ["ISG15", "CD14", "IFI6", "LYZ"]
    table, result = adapter.group_stats(x, ["cluster"], genes=genes, expm1=True)
    expected = sc.get.aggregate(data[:, genes], by="cluster", func=["mean", "count_nonzero"])
    for i, group in enumerate(result["groups"]):
        (label,) = group["labels"]
        n = group["n"]
        np.testing.assert_allclose(
            table.column(f"sum:{i}").to_numpy() / n,
            expected[label].layers["mean"].ravel(),
            rtol=1e-5,
        )
        np.testing.assert_array_equal(
            table.column(f"nnz:{i}").to_numpy(), expected[label].layers["count_nonzero"].ravel()
        )
        # Seurat's linear-space mean from Σexpm1
        cells = (data.obs["cluster"] == label).to_numpy()
        linear = np.log1p(np.expm1(data[cells, genes].X.toarray().astype(np.float64)).mean(0))
        np.testing.assert_allclose(
            np.log1p(table.column(f"sumexpm1:{i}").to_numpy() / n), linear, rtol=1e-12
        )


# -- pair_stats ----------------------------------------------------------------------------------


def expected_correlation(kang, gene_x, gene_y, groupby, detected_only=False):
    return exprscope.correlate(
        kang, gene_x, gene_y, groupby, detected_only=detected_only, n_boot=0
    ).reset_index(drop=True)


@pytest.mark.parametrize("source", SOURCES, indirect=True)
@pytest.mark.parametrize("detected_only", [False, True])
def test_pair_stats_equals_correlate(source, detected_only):
    adapter, x, _, data = source
    table, result = adapter.pair_stats(x, "ISG15", "IFI6", GROUPBY, detected_only=detected_only)
    frame = table.to_pandas()
    expected = expected_correlation(data, "ISG15", "IFI6", GROUPBY, detected_only)
    assert [" · ".join(g["labels"]) for g in result["groups"]] == list(expected["group"])
    assert not result["spearman_sampled"] and result["missing"] == []
    np.testing.assert_array_equal(frame["n"], expected["n_cells"])
    for column in ("pearson_r", "pearson_ci_low", "pearson_ci_high", "pearson_p"):
        np.testing.assert_array_equal(frame[column], expected[column])
    np.testing.assert_array_equal(frame["spearman_rho"], expected["spearman_rho"])
    np.testing.assert_array_equal(frame["spearman_p"], expected["spearman_p"])
    np.testing.assert_allclose(
        frame["n_both_positive"] / frame["n_cells"], expected["frac_double_positive"]
    )
    # Sums against the in-memory values, and r from the sums
    values = data[:, ["ISG15", "IFI6"]].X.toarray().astype(np.float64)
    labels = data.obs[GROUPBY].astype(str).agg(" · ".join, axis=1).to_numpy()
    for row, group in zip(frame.itertuples(), expected["group"], strict=True):
        gx, gy = values[labels == group].T
        if detected_only:
            gx, gy = gx[(gx > 0) & (gy > 0)], gy[(gx > 0) & (gy > 0)]
        np.testing.assert_allclose(
            [row.sum_x, row.sum_y, row.sumsq_x, row.sumsq_y, row.sum_xy],
            [gx.sum(), gy.sum(), (gx * gx).sum(), (gy * gy).sum(), (gx * gy).sum()],
            rtol=1e-12,
        )
        if row.reason is None:
            n = row.n
            cov = row.sum_xy - row.sum_x * row.sum_y / n
            var_x = row.sumsq_x - row.sum_x**2 / n
            var_y = row.sumsq_y - row.sum_y**2 / n
            assert cov / np.sqrt(var_x * var_y) == pytest.approx(row.pearson_r, abs=1e-9)


@pytest.mark.parametrize("source", ["tiledbsoma"], indirect=True)
def test_pair_stats_against_scipy_and_sampled_spearman(source):
    adapter, x, _, data = source
    table, result = adapter.pair_stats(x, "ISG15", "IFI6", ["dataset"])
    values = data[:, ["ISG15", "IFI6"]].X.toarray().astype(np.float64)
    for row, label in zip(table.to_pylist(), ["ctrl", "stim"], strict=True):
        gx, gy = values[(data.obs["dataset"] == label).to_numpy()].T
        pearson = stats.pearsonr(gx, gy)
        interval = pearson.confidence_interval()
        assert row["pearson_r"] == pytest.approx(pearson.statistic, abs=1e-6)
        assert row["pearson_ci_low"] == pytest.approx(interval.low, abs=1e-6)
        assert row["pearson_ci_high"] == pytest.approx(interval.high, abs=1e-6)
        assert row["spearman_rho"] == pytest.approx(stats.spearmanr(gx, gy).statistic, abs=1e-6)

    table, result = adapter.pair_stats(
        x, "ISG15", "IFI6", ["dataset"], spearman="sample", max_sample=300
    )
    assert result["spearman_sampled"] and result["spearman"] == "sample"
    rows = table.to_pylist()
    assert [row["spearman_n"] for row in rows] == [300, 300]
    assert [row["n"] for row in rows] == [1000, 1000]
    again, _ = adapter.pair_stats(
        x, "ISG15", "IFI6", ["dataset"], spearman="sample", max_sample=300
    )
    assert again.equals(table)  # seeded
    exact = adapter.pair_stats(x, "ISG15", "IFI6", ["dataset"])[0].to_pylist()
    for sampled, full in zip(rows, exact, strict=True):
        assert sampled["pearson_r"] == full["pearson_r"]  # Pearson uses every cell
        assert abs(sampled["spearman_rho"] - full["spearman_rho"]) < 0.15

    table, result = adapter.pair_stats(x, "ISG15", "NOT_A_GENE", ["dataset"])
    assert table is None and result["missing_reason"] == {"NOT_A_GENE": "not_in_matrix"}
    # Genes outside the integrated layer are all NaN there
    table, result = adapter.pair_stats("X/integrated", "ISG15", "IFI6", ["dataset"])
    assert table is None and result["missing_reason"] == {"IFI6": "all_nan"}


# -- through the comm ----------------------------------------------------------------------------

KERNEL_STORES_CODE = """
import anndata as _es_ad
import tiledbsoma as _es_soma
_es_paths = {paths}
es_backed_csr = _es_ad.read_h5ad(_es_paths["csr"], backed="r")
es_backed_csc = _es_ad.read_h5ad(_es_paths["csc"], backed="r")
es_soma = _es_soma.Experiment.open(_es_paths["soma"])
del _es_ad, _es_soma, _es_paths
"""


@pytest.fixture(scope="module")
def kernel_stores(comm_kernel, stores):
    paths = {key: str(value) for key, value in stores.items()}
    comm_kernel.execute(KERNEL_STORES_CODE.format(paths=json.dumps(paths)))
    yield comm_kernel
    comm_kernel.execute(
        "es_backed_csr.file.close(); es_backed_csc.file.close(); es_soma.close()\n"
        "del es_backed_csr, es_backed_csc, es_soma"
    )


@pytest.mark.parametrize(
    ("name", "x", "storage"),
    [
        ("es_backed_csr", "X", "backed-csr"),
        ("es_backed_csc", "X", "backed-csc"),
        ("es_soma", "X/data", "tiledbsoma"),
    ],
)
def test_comm_out_of_core_sources(kernel_stores, kang, name, x, storage):
    kang = kang_soma(kang) if name == "es_soma" else kang
    listed = {o["name"]: o for o in kernel_stores.call("list").result["objects"]}
    assert listed[name]["n_obs"] == kang.n_obs

    described = kernel_stores.call("describe", object=name).result
    assert described["execution"]["path"] == "kernel"
    assert {m["id"]: m["storage"] for m in described["matrices"]}[x] == storage

    genes = list(dict.fromkeys(GENES))
    reply = kernel_stores.call(
        "group_stats", object=name, matrix=x, groupby=GROUPBY, genes=GENES, expm1=True
    )
    reference = AnnDataAdapter(kang).group_stats("X", GROUPBY, genes=genes, expm1=True)
    assert_same_group_stats((reply.table(), reply.result), reference)
    assert ("warnings" in reply.result) == (storage == "backed-csr")

    reply = kernel_stores.call(
        "pair_stats", object=name, matrix=x, gene_x="ISG15", gene_y="IFI6", groupby=["dataset"]
    )
    frame = reply.table().to_pandas()
    expected = expected_correlation(kang, "ISG15", "IFI6", ["dataset"])
    np.testing.assert_array_equal(frame["pearson_r"], expected["pearson_r"])
    np.testing.assert_array_equal(frame["spearman_rho"], expected["spearman_rho"])

    reply = kernel_stores.call("fetch", object=name, matrix=x, genes=["ISG15"], obs=["cluster"])
    np.testing.assert_array_equal(
        reply.table().column("gene:ISG15").to_numpy(), kang[:, "ISG15"].X.toarray().ravel()
    )
    assert ("warnings" in reply.result) == (storage == "backed-csr")


def test_comm_pair_stats_arguments(kernel_stores):
    call = kernel_stores.call
    base = {"object": "es_soma", "matrix": "X/data", "gene_x": "ISG15", "gene_y": "IFI6"}
    for bad in (
        {"groupby": "dataset"},
        {"groupby": ["dataset"], "spearman": "approximate"},
        {"groupby": ["dataset"], "max_sample": 1},
        {"groupby": ["dataset"], "detected_only": "yes"},
    ):
        error = call("pair_stats", **base, **bad).error
        assert error["code"] == "bad_request"
    assert call("pair_stats", **base, groupby=["nope"]).error["code"] == "unknown_column"
    assert call("pair_stats", **{**base, "matrix": "X"}, groupby=["dataset"]).error["code"] == (
        "unknown_matrix"
    )
    reply = call("pair_stats", **base, groupby=["dataset"], spearman="sample", max_sample=100)
    assert reply.result["spearman_sampled"]
    assert reply.table().column("spearman_n").to_pylist() == [100, 100]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert (
            call(
                "group_stats", object="es_soma", matrix="X/data", groupby=["dataset"], genes="ISG15"
            ).error["code"]
            == "bad_request"
        )


# -- refusals before any work (issue 16) --------------------------------------------------------


class _RecordingComm:
    """Stands in for the kernel's comm: keeps what the service sends."""

    def __init__(self):
        self.sent = []

    def send(self, data, buffers=None):
        self.sent.append(data)


@pytest.fixture(scope="module")
def ten_million_cells():
    """10⁷ cells × 20,000 genes as a Dask array never computed (da.zeros: a graph, no data),
    in blocks of 250,000 cells × every gene, with a 20-cluster obs column."""
    import dask.array as da
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    n, n_genes = 10_000_000, 20_000
    names = pd.arrays.ArrowStringArray(pc.cast(pa.array(np.arange(n)), pa.string()))
    obs = pd.DataFrame(
        {"cluster": pd.Categorical.from_codes(np.arange(n) % 20, [f"c{i}" for i in range(20)])},
        index=pd.Index(names),
    )
    var = pd.DataFrame(index=[f"g{i}" for i in range(n_genes)])
    x = da.zeros((n, n_genes), chunks=(250_000, n_genes), dtype=np.float32)
    # The names are unique by construction; anndata's check of 10⁷ of them alone takes ~20 s
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ad.AnnData, "_check_uniqueness", lambda self: None)
        return ad.AnnData(X=x, obs=obs, var=var)


def test_too_large_requests_refused_before_any_work(ten_million_cells):
    import tracemalloc

    from exprscope.kernel.service import Service

    big = ten_million_cells
    small = lazy_zarr_like(big)
    comm = _RecordingComm()
    service = Service(comm, lambda: {"big": big, "small": small})
    all_genes = list(big.var_names)
    requests = [
        # every gene of 10⁷ cells (the heatmap's default) and 20,000 named genes
        ("group_stats", {"object": "big", "matrix": "X", "groupby": ["cluster"]}),
        (
            "group_stats",
            {"object": "big", "matrix": "X", "groupby": ["cluster"], "genes": all_genes},
        ),
        ("fetch", {"object": "big", "matrix": "X", "genes": all_genes}),
        ("fetch", {"object": "big", "matrix": "X", "genes": all_genes[:2000]}),
    ]
    tracemalloc.start()
    try:
        for i, (op, args) in enumerate(requests):
            service.handle({"id": str(i), "op": op, "args": args})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A refusal from shapes alone: nothing near one 250,000-cell block (20 GB) was allocated
    assert peak < 200 * 2**20
    assert len(comm.sent) == len(requests)
    for reply in comm.sent:
        assert reply["ok"] is False
        assert reply["error"]["code"] == "too_large"
    message = comm.sent[1]["error"]["message"]
    assert "20,000 genes × 10,000,000 cells" in message and "fewer genes" in message
    assert comm.sent[1]["error"]["details"]["values"] == 200_000_000_000

    # The session keeps answering: a small object's statistics, then hello
    comm.sent.clear()
    service.handle(
        {
            "id": "s",
            "op": "group_stats",
            "args": {"object": "small", "matrix": "X", "groupby": ["cluster"], "genes": ["g1"]},
        }
    )
    service.handle({"id": "h", "op": "hello"})
    assert [reply["ok"] for reply in comm.sent if reply.get("part", 0) == 0] == [True, True]


def lazy_zarr_like(big, n=1000):
    """A small Dask-backed AnnData with the same genes and cluster column."""
    import dask.array as da

    rng = np.random.default_rng(0)
    x = da.from_array(rng.random((n, big.n_vars), dtype=np.float32), chunks=(250, -1))
    obs = big.obs.iloc[:n].copy()
    obs.index = obs.index.astype(str)
    return ad.AnnData(X=x, obs=obs, var=big.var.copy())


def test_group_stats_refuses_blocks_too_big_for_a_worker(ten_million_cells, monkeypatch):
    """A scan of allowed size (10⁷ cells × 1,000 genes) whose blocks would not fit a worker
    (10⁶ cells × 1,000 genes, 4 GB each) is refused too, naming the rechunk."""
    import dask.array as da

    from exprscope.kernel.protocol import ProtocolError

    big = ten_million_cells
    x = da.zeros((10_000_000, 1000), chunks=(1_000_000, 1000), dtype=np.float32)
    monkeypatch.setattr(ad.AnnData, "_check_uniqueness", lambda self: None)
    obj = ad.AnnData(X=x, obs=big.obs, var=big.var.iloc[:1000].copy())
    with pytest.raises(ProtocolError) as refused:
        adapter_for(obj).group_stats("X", ["cluster"], genes=None)
    assert refused.value.code == "too_large"
    assert "rechunk" in str(refused.value)


@pytest.mark.parametrize("source", ["backed-csr", "backed-csc", "tiledbsoma"], indirect=True)
def test_scans_too_large_for_the_disk_refused_before_reading(source, monkeypatch):
    """A backed file and a SOMA experiment refuse a group_stats scan above MAX_SCAN_VALUES from
    its shape, as a Dask matrix does (the real 10⁷ × 20,000 case is the Dask test above; here
    the limit is lowered to the 2,000 Kang cells × 10 genes), before reading any value."""
    from exprscope.adapters import outofcore
    from exprscope.kernel.protocol import ProtocolError

    adapter, x, _, kang = source
    monkeypatch.setattr(outofcore, "MAX_SCAN_VALUES", 2000 * 10)
    read = []
    for hook in ("_gene_block", "_gene_values", "_batches", "_read_columns"):
        if hasattr(adapter, hook):
            monkeypatch.setattr(adapter, hook, lambda *a, **k: read.append(a))
    genes = list(kang.var_names[:11])
    with pytest.raises(ProtocolError) as refused:
        adapter.group_stats(x, ["cluster"], genes=genes)
    assert refused.value.code == "too_large"
    assert "11 genes × 2,000 cells" in str(refused.value) and "fewer genes" in str(refused.value)
    assert read == []
    # Within the limit the same adapter answers
    monkeypatch.undo()
    monkeypatch.setattr(outofcore, "MAX_SCAN_VALUES", 2000 * 10)
    _, result = adapter.group_stats(x, ["cluster"], genes=genes[:10])
    assert result["n_genes"] == 10


@pytest.mark.parametrize("source", ["tiledbsoma-distributed"], indirect=True)
def test_soma_statistics_as_dask_reductions_over_cell_ranges(source, monkeypatch):
    """On the user's client the SOMA layer is summed by tasks of SOMA_TASK_CELLS cells each,
    reading in the worker by the experiment's URI, and tree-added: the in-memory numbers."""
    from exprscope.adapters import soma

    adapter, x, _, data = source
    monkeypatch.setattr(soma, "SOMA_TASK_CELLS", 333)  # 2,000 cells: 7 tasks, the last short
    reference = AnnDataAdapter(data)
    genes = list(dict.fromkeys(GENES))
    out = adapter.group_stats(x, GROUPBY, genes=genes, expm1=True)
    assert "dask.distributed" in out[1]["engine"]
    assert_same_group_stats(out, reference.group_stats("X", GROUPBY, genes=genes, expm1=True))
    assert (
        "Dask reductions on your dask.distributed client"
        in adapter.describe()["execution"]["reason"]
    )


def test_soma_range_moments_of_scattered_cells(stores, kang):
    """A task's cells need not be a joinid range: every third cell, as coordinates."""
    import tiledbsoma

    from exprscope.adapters._stats import group_sums
    from exprscope.adapters.soma import GeneLookup, soma_range_moments

    with tiledbsoma.Experiment.open(str(stores["soma"])) as experiment:
        var = experiment.ms["RNA"].var.read().concat().to_pandas().sort_values("soma_joinid")
    names = list(var["var_id"])
    columns = np.array(sorted(names.index(g) for g in ("ISG15", "CD14", "LYZ")))
    cells = np.arange(0, kang.n_obs, 3)
    codes = kang.obs["cluster"].cat.codes.to_numpy()[cells]
    n_groups = len(kang.obs["cluster"].cat.categories)
    genes = GeneLookup.of(var["soma_joinid"].to_numpy(), columns)
    got = soma_range_moments(
        str(stores["soma"]),
        "RNA",
        "data",
        cells.astype(np.int64),
        codes,
        genes,
        var["soma_joinid"].to_numpy()[columns],
        n_groups,
        True,
    )
    chosen = kang[:, [names[c] for c in columns]].X
    want = group_sums(chosen[cells], codes.astype(np.int64), n_groups, True)
    for key in ("sum", "sum_sq", "nnz", "sum_expm1"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-10, err_msg=key)
