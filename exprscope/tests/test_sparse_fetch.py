"""Genes travel as their non-zeros when that is smaller (docs/protocol.md, "fetch payload").

On a synthetic 92%-zero object the reply's bytes stay within 1.2 × (nnz × 8) plus a small
overhead, for every storage the Python kernel reads (in-memory dense, CSR, CSC and views;
backed CSR/CSC h5ad; Dask; TileDB-SOMA). The payload is read back with pyarrow and scipy
directly (not with exprscope's decoder): its columns equal the stored values bit for bit, and
a gene denser than half its cells stays a dense column.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import sparse

from exprscope.adapters import adapter_for
from exprscope.adapters.fetch_payload import (
    SPARSE_GENES_SCHEMA,
    decode_fetch_payload,
    read_fetch_payload,
)
from exprscope.synthetic import make_synthetic

N_CELLS, N_GENES, N_FETCHED = 20_000, 2_000, 50
#: Schemas (two streams) and per-batch message headers; nothing proportional to cells.
OVERHEAD_BYTES = 8192
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def synthetic():
    adata = make_synthetic(N_CELLS, N_GENES, counts=False)
    assert 0.05 < adata.X.nnz / (N_CELLS * N_GENES) < 0.10  # ~92% zeros, as real data
    return adata


def fetched_genes(adata) -> list[str]:
    return list(adata.var_names[:: N_GENES // N_FETCHED][:N_FETCHED])


def stored_columns(adata, genes) -> np.ndarray:
    """Cells × genes as float32, straight from the stored matrix (scipy, numpy)."""
    x = adata.X[:, adata.var_names.get_indexer(genes)]
    x = x.toarray() if sparse.issparse(x) else np.asarray(x)
    return np.asarray(x, dtype=np.float32)


def columns_from_payload(payload: bytes, n_obs: int) -> dict[str, np.ndarray]:
    """Every gene column of a payload, read with pyarrow and scipy only: dense columns as
    they are, sparse ones through a CSC matrix built from their (indices, values) lists."""
    reader = pa.BufferReader(payload)
    cells = pa.ipc.open_stream(reader).read_all()
    columns = {
        name[len("gene:") :]: cells.column(name).to_numpy()
        for name in cells.column_names
        if name.startswith("gene:")
    }
    if reader.tell() < reader.size():
        table = pa.ipc.open_stream(reader).read_all().combine_chunks()
        assert table.schema.equals(SPARSE_GENES_SCHEMA)
        assert reader.tell() == reader.size()
        indices, values = table.column("indices").chunk(0), table.column("values").chunk(0)
        assert indices.offsets.equals(values.offsets)
        matrix = sparse.csc_matrix(
            (values.values.to_numpy(), indices.values.to_numpy(), indices.offsets.to_numpy()),
            shape=(n_obs, table.num_rows),
        )
        assert matrix.has_sorted_indices
        for i, gene in enumerate(table.column("gene").to_pylist()):
            assert gene not in columns
            # Assigned, not added (scipy's toarray adds to zeros, turning −0.0 into +0.0)
            column = np.zeros(n_obs, dtype=np.float32)
            start, stop = matrix.indptr[i], matrix.indptr[i + 1]
            column[matrix.indices[start:stop]] = matrix.data[start:stop]
            columns[gene] = column
    return columns


def assert_bitwise_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == np.float32 and actual.shape == expected.shape
    np.testing.assert_array_equal(actual.view(np.uint32), expected.view(np.uint32))


def check_sparse_reply(tables, result, adata, genes) -> int:
    """The reply's bytes are within budget and its columns equal the stored values; returns
    the payload size."""
    payload = tables.ipc_stream().to_pybytes()
    expected = stored_columns(adata, genes)
    nnz = int(np.count_nonzero(expected))
    assert len(payload) <= 1.2 * nnz * 8 + OVERHEAD_BYTES, (len(payload), nnz * 8)
    columns = columns_from_payload(payload, adata.n_obs)
    assert result["genes"] == genes and sorted(columns) == sorted(genes)
    for i, gene in enumerate(genes):
        assert_bitwise_equal(columns[gene], expected[:, i])
    return len(payload)


@pytest.mark.parametrize("layout", ["csr", "csc", "dense", "view"])
def test_in_memory_fetch_sends_nonzeros(synthetic, layout):
    adata = synthetic
    if layout == "csc":
        adata = ad.AnnData(synthetic.X.tocsc(), obs=synthetic.obs, var=synthetic.var)
    elif layout == "dense":
        adata = ad.AnnData(synthetic.X.toarray(), obs=synthetic.obs, var=synthetic.var)
    elif layout == "view":
        adata = synthetic[synthetic.obs["dataset"] == synthetic.obs["dataset"].iloc[0]]
    genes = fetched_genes(adata)
    tables, result = adapter_for(adata).fetch("X", genes)
    check_sparse_reply(tables, result, adata, genes)


def test_backed_and_dask_fetch_send_nonzeros(synthetic, tmp_path):
    genes = fetched_genes(synthetic)
    sizes = {}
    for layout in ("csr", "csc"):
        path = tmp_path / f"{layout}.h5ad"
        copy = ad.AnnData(
            synthetic.X if layout == "csr" else synthetic.X.tocsc(),
            obs=synthetic.obs,
            var=synthetic.var,
        )
        copy.write_h5ad(path)
        backed = ad.read_h5ad(path, backed="r")
        try:
            tables, result = adapter_for(backed).fetch("X", genes)
            sizes[layout] = check_sparse_reply(tables, result, synthetic, genes)
        finally:
            backed.file.close()
    dask_array = pytest.importorskip("dask.array")
    lazy = ad.AnnData(
        dask_array.from_array(synthetic.X, chunks=(5000, 100), asarray=False),
        obs=synthetic.obs,
        var=synthetic.var,
    )
    tables, result = adapter_for(lazy).fetch("X", genes)
    sizes["dask"] = check_sparse_reply(tables, result, synthetic, genes)
    assert len(set(sizes.values())) == 1, sizes  # the same bytes whatever the storage


def test_tiledbsoma_fetch_sends_nonzeros(synthetic, tmp_path):
    pytest.importorskip("tiledbsoma")
    import tiledbsoma.io

    uri = str(tmp_path / "soma")
    tiledbsoma.io.from_anndata(uri, synthetic, measurement_name="RNA")
    genes = fetched_genes(synthetic)
    with tiledbsoma.Experiment.open(uri) as experiment:
        tables, result = adapter_for(experiment).fetch("X/data", genes)
        check_sparse_reply(tables, result, synthetic, genes)


def test_encoding_per_gene_and_exact_values():
    """Dense only where dense is smaller; NaN, −0.0, subnormals and stored zeros survive
    exactly as float32 bits (stored +0.0 entries are simply zeros)."""
    n = 1000
    x = np.zeros((n, 6), dtype=np.float32)
    x[:, 0] = np.arange(1, n + 1)  # no zero: dense
    x[: n // 2, 1] = 2.0  # exactly half non-zero: sparse (nnz × 8 = n × 4)
    x[: n // 2 + 1, 2] = 3.0  # one more: dense
    x[[1, 5, 9, 700], 3] = np.array([np.nan, -0.0, 1e-45, -3e38], dtype=np.float32)
    x[:, 4] = np.nan  # all NaN: missing, not a column
    rows, columns = np.nonzero(x.view(np.uint32))
    stored = sparse.csr_matrix((x[rows, columns], (rows, columns)), shape=x.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sparse.SparseEfficiencyWarning)
        stored[2, 5] = 0.0  # an explicitly stored zero
    assert stored.nnz == rows.size + 1
    genes = [f"G{i}" for i in range(6)]
    for matrix in (stored, stored.tocsc(), x):
        adata = ad.AnnData(matrix, var=pd.DataFrame(index=genes))
        tables, result = adapter_for(adata).fetch("X", genes)
        assert result["missing_reason"] == {"G4": "all_nan"}
        assert tables.cells.column_names == ["gene:G0", "gene:G2"]
        assert tables.sparse_genes.column("gene").to_pylist() == ["G1", "G3", "G5"]
        payload = tables.ipc_stream().to_pybytes()
        columns = columns_from_payload(payload, n)
        for i in (0, 1, 2, 3, 5):
            assert_bitwise_equal(columns[f"G{i}"], x[:, i])
        decoded = decode_fetch_payload(payload, result["genes"])
        assert decoded.column_names == [f"gene:G{i}" for i in (0, 1, 2, 3, 5)]


def test_reply_without_dense_columns_announces_its_cells():
    adata = ad.AnnData(sparse.csr_matrix((7, 2), dtype=np.float32))
    tables, _ = adapter_for(adata).fetch("X", list(adata.var_names))
    assert tables.cells.num_columns == 0
    read = read_fetch_payload(tables.ipc_stream())
    assert read.n_obs == 7 and read.sparse_genes.num_rows == 2
    assert decode_fetch_payload(tables.ipc_stream()).num_rows == 7


def test_comm_fetch_sends_nonzeros(comm_kernel, synthetic):
    """Through a real kernel and comm: the bytes that cross it."""
    comm_kernel.execute(
        f"import exprscope.synthetic\n"
        f"es_sparse = exprscope.synthetic.make_synthetic({N_CELLS}, {N_GENES}, counts=False)"
    )
    genes = fetched_genes(synthetic)
    reply = comm_kernel.call("fetch", object="es_sparse", matrix="X", genes=genes, obs=["cluster"])
    payload = reply.payload()
    expected = stored_columns(synthetic, genes)
    nnz = int(np.count_nonzero(expected))
    # The obs column (int8 codes) travels too: 1 byte per cell
    assert len(payload) <= 1.2 * nnz * 8 + N_CELLS + OVERHEAD_BYTES
    assert len(payload) < 0.25 * N_CELLS * N_FETCHED * 4  # vs dense float32
    columns = columns_from_payload(payload, N_CELLS)
    for i, gene in enumerate(genes):
        assert_bitwise_equal(columns[gene], expected[:, i])
    comm_kernel.execute("del es_sparse")


def test_jest_fixtures_are_up_to_date():
    """src/data/__tests__/fixtures/ holds what scripts/write_fetch_fixtures.py writes now."""
    spec = importlib.util.spec_from_file_location(
        "write_fetch_fixtures", REPO / "scripts" / "write_fetch_fixtures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, data in module.fixtures().items():
        path = module.FIXTURES / name
        assert path.read_bytes() == data, f"{path} is stale: run scripts/write_fetch_fixtures.py"
