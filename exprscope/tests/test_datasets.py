"""The bundled Kang 2018 PBMC demo data (exprscope/data/kang_pbmc.h5ad)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from exprscope import datasets


@pytest.fixture(scope="module")
def adata():
    return datasets.kang_pbmc()


def test_shape_and_names(adata):
    assert adata.shape == (2000, 9015)
    assert adata.obs_names.is_unique
    assert adata.var_names.is_unique
    assert {"ISG15", "IFI6", "IFIT1", "CD14", "MS4A1"} <= set(adata.var_names)


def test_dataset_column(adata):
    ds = adata.obs["dataset"]
    assert isinstance(ds.dtype, pd.CategoricalDtype)
    assert list(ds.cat.categories) == ["ctrl", "stim"]
    assert ds.value_counts().to_dict() == {"ctrl": 1000, "stim": 1000}


def test_clusters_mix_datasets(adata):
    cl = adata.obs["cluster"]
    assert isinstance(cl.dtype, pd.CategoricalDtype)
    cats = list(cl.cat.categories)
    assert len(cats) >= 5
    assert cats == [str(i) for i in range(len(cats))]  # "0", "1", ... in numeric order
    assert cl.notna().all()
    table = pd.crosstab(cl, adata.obs["dataset"])
    both = (table > 0).all(axis=1)
    assert both.mean() >= 0.8  # (mostly) every cluster holds cells of both datasets
    # Clusters of >= 100 cells are well mixed: neither dataset above 75 %.
    big = table[table.sum(axis=1) >= 100]
    assert len(big) >= 3
    assert (big.max(axis=1) / big.sum(axis=1)).max() <= 0.75


def test_counts_are_raw_integers(adata):
    counts = adata.layers["counts"]
    assert sp.issparse(counts) and counts.format == "csr"
    assert np.array_equal(counts.data, np.round(counts.data))
    assert counts.data.min() >= 1  # explicit zeros are not stored
    totals = np.asarray(counts.sum(axis=1)).ravel()
    np.testing.assert_allclose(totals, adata.obs["n_counts"].to_numpy(), rtol=1e-6)


def test_x_is_lognormalised_counts(adata):
    assert sp.issparse(adata.X) and adata.X.format == "csr"
    assert adata.X.dtype == np.float32
    rng = np.random.default_rng(0)
    cells = np.sort(rng.choice(adata.n_obs, size=200, replace=False))
    counts = adata.layers["counts"][cells].toarray().astype(np.float64)
    expected = np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e4)
    np.testing.assert_allclose(adata.X[cells].toarray(), expected, rtol=1e-5, atol=1e-5)


def test_integrated_layer_nan_convention(adata):
    layer = adata.layers["integrated"]
    mask = adata.var["integrated"].to_numpy()
    assert mask.dtype == bool
    assert 1000 <= mask.sum() <= 3000
    assert isinstance(layer, np.ndarray) and layer.dtype == np.float32
    assert layer.shape == adata.shape
    assert np.isnan(layer[:, ~mask]).all()
    assert np.isfinite(layer[:, mask]).all()
    assert adata.uns["exprscope"]["layer_genes"]["integrated"] == "var:integrated"


def test_integrated_layer_removes_dataset_shift(adata):
    # ComBat removes most of each gene's ctrl/stim shift (its empirical-Bayes shrinkage leaves a
    # residual for extreme genes such as ISG15).
    mask = adata.var["integrated"].to_numpy()
    layer = adata.layers["integrated"][:, mask]
    stim = (adata.obs["dataset"] == "stim").to_numpy()
    X = adata.X[:, mask].toarray()
    raw_shift = np.abs(X[stim].mean(0) - X[~stim].mean(0))
    corrected_shift = np.abs(layer[stim].mean(0) - layer[~stim].mean(0))
    assert np.median(corrected_shift) < 0.1 * np.median(raw_shift) + 1e-3
    isg15 = adata.var_names[mask].get_loc("ISG15")  # an integrated gene
    assert corrected_shift[isg15] < 0.25 * raw_shift[isg15]


def test_embeddings(adata):
    assert adata.obsm["X_umap"].shape == (2000, 2)
    assert np.isfinite(adata.obsm["X_umap"]).all()


def test_uns_is_small(adata):
    assert "rank_genes_groups" not in adata.uns
    assert set(adata.uns) == {"exprscope"}
    assert adata.uns["exprscope"]["source"]["geo"] == "GSE96583"


def test_isg15_induced_by_interferon(adata):
    # The IFN-beta response: ISG15 is far higher in stimulated cells.
    stim = (adata.obs["dataset"] == "stim").to_numpy()
    isg15 = adata[:, "ISG15"].X.toarray().ravel()
    assert isg15[stim].mean() > isg15[~stim].mean() + 1.0


def test_missing_file_message(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "KANG_PBMC_PATH", tmp_path / "kang_pbmc.h5ad")
    with pytest.raises(FileNotFoundError, match=r"scripts/build_kang_pbmc\.py"):
        datasets.kang_pbmc()
