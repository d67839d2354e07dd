"""The seeded synthetic generator, on small sizes (the large ones are benchmarks)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
import scanpy as sc
from scipy import sparse

from exprscope.synthetic import make_synthetic, write_synthetic

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

N_CELLS, N_GENES = 3000, 2000


@pytest.fixture(scope="module")
def small():
    return make_synthetic(N_CELLS, N_GENES, seed=7)


def test_shape_fields_and_sparsity(small):
    assert small.shape == (N_CELLS, N_GENES)
    assert small.X.format == "csr" and small.X.dtype == np.float32
    counts = small.layers["counts"]
    # ~92% zeros, as a 10x matrix
    assert 0.9 < 1 - counts.nnz / (N_CELLS * N_GENES) < 0.94
    assert counts.nnz == small.X.nnz
    np.testing.assert_array_equal(counts.data, np.round(counts.data))
    assert (counts.data > 0).all()
    obs = small.obs
    assert list(obs["dataset"].cat.categories) == ["dataset1", "dataset2"]
    assert len(obs["sample"].cat.categories) == 6
    assert list(obs["cluster"].cat.categories) == [str(c) for c in range(20)]
    assert (obs["cluster"].value_counts() > 0).all()
    # Samples are nested in datasets
    assert (obs["sample"].astype(str).str.split("_").str[0] == obs["dataset"].astype(str)).all()
    assert small.obsm["X_umap"].shape == (N_CELLS, 2)


def test_x_is_log_normalised_counts(small):
    reference = ad.AnnData(small.layers["counts"].astype(np.float64))
    sc.pp.normalize_total(reference, target_sum=1e4)
    sc.pp.log1p(reference)
    np.testing.assert_allclose(small.X.toarray(), reference.X.toarray(), rtol=1e-6, atol=1e-6)


def test_clusters_have_markers_and_datasets_differ(small):
    means = sc.get.aggregate(small, by="cluster", func="mean").layers["mean"]
    # Every cluster has genes well above the other clusters' mean
    others = (means.sum(axis=0) - means) / (means.shape[0] - 1)
    assert ((means - others).max(axis=1) > 1).all()
    by_dataset = sc.get.aggregate(small, by="dataset", func="mean").layers["mean"]
    assert (np.abs(by_dataset[0] - by_dataset[1]) > 0.3).sum() >= 10


def test_seeded_and_layout_independent(small):
    again = make_synthetic(N_CELLS, N_GENES, seed=7)
    assert (again.X != small.X).nnz == 0 and again.obs.equals(small.obs)
    other = make_synthetic(N_CELLS, N_GENES, seed=8)
    assert (other.X != small.X).nnz > 0
    csc = make_synthetic(N_CELLS, N_GENES, seed=7, layout="csc")
    assert csc.X.format == "csc" and csc.layers["counts"].format == "csc"
    assert (csc.X != small.X).nnz == 0
    with pytest.raises(ValueError, match="layout"):
        make_synthetic(10, 10, layout="coo")


@pytest.mark.parametrize("layout", ["csr", "csc"])
def test_write_synthetic_streams_the_same_data(small, tmp_path, layout):
    path = write_synthetic(tmp_path / f"syn_{layout}.h5ad", N_CELLS, N_GENES, seed=7, layout=layout)
    backed = ad.read_h5ad(path, backed="r")
    assert backed.X.format == layout
    backed.file.close()
    written = ad.read_h5ad(path)
    assert sparse.issparse(written.X) and written.X.format == layout
    assert (written.X != small.X).nnz == 0
    assert (written.layers["counts"] != small.layers["counts"]).nnz == 0
    assert written.obs.equals(small.obs)
    np.testing.assert_array_equal(written.obsm["X_umap"], small.obsm["X_umap"])
