"""The Python computations against outside references: scanpy and scipy, on real data.

- pbmc68k_reduced (ships in the scanpy wheel): ``raw`` is log-normalised (``X`` is scaled,
  with negatives), groups ``bulk_labels``, ``louvain``, ``phase``.
- The Kang 2018 demo data (``exprscope.datasets.kang_pbmc()``): ``X`` log-normalised, obs
  ``dataset`` (ctrl/stim) and ``cluster``, ``layers['integrated']`` NaN outside its genes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from scipy import sparse, stats
from scipy.cluster.hierarchy import dendrogram, linkage

from exprscope import datasets
from exprscope.api import aggregate, correlate, markers
from exprscope.compute.correlation import (
    RankOrder,
    bootstrap_spearman_interval,
    draw_indices,
    hash32,
    replicate_key,
)
from exprscope.compute.hclust import hclust
from exprscope.compute.scale import scale_rows

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

RTOL_SCANPY = 1e-5
TOL_SCIPY = 1e-6


@pytest.fixture(scope="module")
def pbmc():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sc.datasets.pbmc68k_reduced()


@pytest.fixture(scope="module")
def kang():
    if not datasets.KANG_PBMC_PATH.is_file():
        pytest.skip("the Kang demo data (exprscope/data/kang_pbmc.h5ad) is not built")
    return datasets.kang_pbmc()


def _scanpy_aggregate(adata, genes, by, *, use_raw=False, layer=None):
    source = adata.raw.to_adata() if use_raw else adata
    result = sc.get.aggregate(source[:, genes], by=by, func=["mean", "count_nonzero"], layer=layer)
    keys = adata.obs[by].astype(str).agg("_".join, axis=1)
    result.obs["n_cells"] = keys.value_counts().loc[result.obs_names].to_numpy()
    return result


def _pivot(frame: pd.DataFrame, by: list[str], value: str, reference) -> np.ndarray:
    """Our tidy frame as scanpy's groups × genes layout."""
    frame = frame.assign(_key=frame[by].astype(str).agg("_".join, axis=1))
    table = frame.pivot(index="_key", columns="gene", values=value)
    return table.loc[reference.obs_names, list(reference.var_names)].to_numpy()


# --------------------------------------------------------------------------- aggregate


@pytest.mark.parametrize("by", [["bulk_labels"], ["phase", "louvain"]])
def test_aggregate_matches_scanpy_on_pbmc_raw(pbmc, by):
    genes = list(pbmc.raw.var_names[::25])
    ours = aggregate(pbmc, genes, by if len(by) > 1 else by[0], use_raw=True)
    reference = _scanpy_aggregate(pbmc, genes, by, use_raw=True)
    n_cells = reference.obs["n_cells"].to_numpy()[:, None]
    np.testing.assert_allclose(
        _pivot(ours, by, "mean", reference), reference.layers["mean"], rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        _pivot(ours, by, "frac_expressing", reference),
        reference.layers["count_nonzero"] / n_cells,
        rtol=1e-6,
        atol=1e-6,
    )
    np.testing.assert_array_equal(_pivot(ours, by, "n_cells", reference)[:, 0], n_cells[:, 0])
    assert ours.attrs["matrix"] == "raw"


def _kang_genes(adata, layer):
    """Every gene the matrix holds: all of them, or the integrated layer's (finite) genes."""
    if layer == "integrated":
        return list(adata.var_names[adata.var["integrated"].to_numpy()])
    return list(adata.var_names)


def _as_scanpy_layout(frame: pd.DataFrame, by: list[str], genes, reference, value: str):
    """Our tidy frame (gene-major, groups in category order) as scanpy's groups × genes."""
    n_groups = reference.n_obs
    first = frame.iloc[:n_groups]
    assert list(first[by].astype(str).agg("_".join, axis=1)) == list(reference.obs_names)
    np.testing.assert_array_equal(frame["gene"].to_numpy(), np.repeat(genes, n_groups))
    assert list(reference.var_names) == list(genes)
    return frame[value].to_numpy().reshape(len(genes), n_groups).T


@pytest.mark.parametrize("layer", [None, "counts", "integrated"])
@pytest.mark.parametrize("by", [["cluster"], ["dataset", "cluster"], ["cluster", "dataset"]])
def test_aggregate_matches_scanpy_on_kang(kang, by, layer):
    """All genes of X, layers['counts'] and layers['integrated'] (its finite genes)."""
    genes = _kang_genes(kang, layer)
    ours = aggregate(kang, genes, by if len(by) > 1 else by[0], layer=layer)
    assert ours.attrs["matrix"] == ("X" if layer is None else f"layers/{layer}")
    reference = _scanpy_aggregate(kang, genes, by, layer=layer)
    n_cells = reference.obs["n_cells"].to_numpy()[:, None]
    np.testing.assert_array_equal(
        _as_scanpy_layout(ours, by, genes, reference, "n_cells")[:, 0], n_cells[:, 0]
    )
    np.testing.assert_allclose(
        _as_scanpy_layout(ours, by, genes, reference, "mean"),
        reference.layers["mean"],
        rtol=1e-6,
        atol=1e-6,
    )
    frac = _as_scanpy_layout(ours, by, genes, reference, "frac_expressing")
    expected_frac = reference.layers["count_nonzero"] / n_cells
    values = kang.X if layer is None else kang.layers[layer]
    values = values[:, kang.var_names.get_indexer(genes)]
    values = values.toarray() if sparse.issparse(values) else values
    negative = values.min(axis=0) < 0
    # Genes with negative values (ComBat output) have no fraction expressing; the others
    # count values > 0, which for non-negative values is scanpy's count_nonzero.
    assert np.isnan(frac[:, negative]).all()
    assert negative.any() == (layer == "integrated")
    np.testing.assert_allclose(
        frac[:, ~negative], expected_frac[:, ~negative], rtol=1e-6, atol=1e-6
    )


def test_aggregate_variance_matches_scanpy(kang):
    genes = ["ISG15", "CD14", "LYZ", "NKG7"]
    ours = aggregate(kang, genes, ["dataset", "cluster"])
    reference = sc.get.aggregate(kang[:, genes], by=["dataset", "cluster"], func=["var"])
    np.testing.assert_allclose(
        _pivot(ours, ["dataset", "cluster"], "var", reference),
        reference.layers["var"],
        rtol=1e-6,
        atol=1e-9,
    )


def test_aggregate_linear_mean_is_seurats(pbmc):
    genes = ["CST3", "LYZ", "MS4A1"]
    ours = aggregate(pbmc, genes, "louvain", use_raw=True, linear_mean=True)
    values = pbmc.raw[:, genes].X.toarray().astype(np.float64)
    codes = pbmc.obs["louvain"].cat.codes.to_numpy()
    for row in ours.itertuples():
        cells = codes == pbmc.obs["louvain"].cat.categories.get_loc(row.louvain)
        expected = np.log1p(np.expm1(values[cells, genes.index(row.gene)]).mean())
        assert row.mean == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert ours.attrs["mean"] == "log1p(mean(expm1(x)))"


def test_aggregate_frac_expressing_is_nan_with_negative_values(pbmc):
    ours = aggregate(pbmc, ["CST3", "LYZ"], "louvain", use_raw=False)  # X is scaled
    assert ours["frac_expressing"].isna().all()
    assert ours.attrs["frac_expressing_undefined"] == ["CST3", "LYZ"]
    assert ours.attrs["matrix"] == "X"


def test_aggregate_missing_genes_raise(kang):
    with pytest.raises(KeyError, match=r"not in its genes: NOPE1, NOPE2"):
        aggregate(kang, ["ISG15", "NOPE1", "NOPE2"], "cluster")
    # IFI6 is outside the integrated gene set: its column is NaN there, never zeros
    with pytest.raises(KeyError, match=r"NaN \(not covered by this matrix\): IFI6"):
        aggregate(kang, ["ISG15", "IFI6"], "cluster", layer="integrated")
    with pytest.raises(ValueError, match="Unknown groupby column"):
        aggregate(kang, ["ISG15"], "no_such_column")
    ours = aggregate(kang, ["ISG15", "CD14"], "cluster", layer="integrated")
    assert ours.attrs["matrix"] == "layers/integrated"
    assert ours["mean"].notna().all()
    assert ours["frac_expressing"].isna().all()  # ComBat values are negative too


# --------------------------------------------------------------------------- markers


def _assert_same_markers(ours: pd.DataFrame, adata, n: int) -> dict[str, float]:
    stored = adata.uns["rank_genes_groups"]
    worst = dict.fromkeys(["score", "logfoldchange", "pval_adj"], 0.0)
    for group in stored["names"].dtype.names:
        mine = ours[ours["group"] == group]
        assert list(mine["gene"]) == list(stored["names"][group][:n]), group
        assert list(mine["rank"]) == list(range(1, n + 1))
        for ours_key, key in [
            ("score", "scores"),
            ("logfoldchange", "logfoldchanges"),
            ("pval_adj", "pvals_adj"),
        ]:
            expected = np.asarray(stored[key][group][:n], dtype=np.float64)
            np.testing.assert_allclose(mine[ours_key], expected, rtol=RTOL_SCANPY, atol=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.abs(mine[ours_key].to_numpy() - expected) / np.abs(expected)
            worst[ours_key] = max(worst[ours_key], float(rel.max()))
    return worst


@pytest.mark.parametrize("groupby", ["bulk_labels", "louvain"])
def test_markers_match_scanpy_t_test_on_pbmc(pbmc, groupby):
    n = 25
    reference = pbmc.copy()
    sc.tl.rank_genes_groups(reference, groupby, method="t-test", use_raw=True, n_genes=n)
    ours = markers(pbmc, groupby, n, use_raw=True)  # stored results are logreg: computed
    assert ours.attrs["source"] == "computed Welch t-test"
    assert ours.attrs["matrix"] == "raw"
    _assert_same_markers(ours, reference, n)


@pytest.mark.parametrize("groupby", ["cluster", "dataset"])
def test_markers_match_scanpy_t_test_on_kang(kang, groupby):
    n = 10
    reference = kang.copy()
    sc.tl.rank_genes_groups(reference, groupby, method="t-test", n_genes=n)
    ours = markers(kang, groupby, n)
    assert ours.attrs["matrix"] == "X"
    _assert_same_markers(ours, reference, n)


def test_markers_on_integrated_layer_leave_out_nan_genes(kang):
    n = 10
    ours = markers(kang, "cluster", n, layer="integrated")
    covered = kang.var["integrated"].to_numpy()
    assert set(ours.attrs["excluded_genes"]) == set(kang.var_names[~covered])
    reference = kang[:, covered].copy()
    sc.tl.rank_genes_groups(reference, "cluster", method="t-test", layer="integrated", n_genes=n)
    _assert_same_markers(ours, reference, n)


def test_markers_use_stored_results_and_say_so(pbmc):
    stored = markers(pbmc, "bulk_labels", 5, method="logreg")
    assert stored.attrs["source"] == "stored rank_genes_groups"
    assert stored.attrs["method"] == "logreg"
    first = pbmc.uns["rank_genes_groups"]["names"].dtype.names[0]
    assert list(stored[stored["group"] == first]["gene"]) == list(
        pbmc.uns["rank_genes_groups"]["names"][first][:5]
    )
    assert stored["pval"].isna().all()  # logreg stores no p-values
    with pytest.raises(ValueError, match="Only method='t-test' or 'wilcoxon'"):
        markers(pbmc, "louvain", 5, method="logreg")  # wilcoxon is computed (test_compare.py)
    reference = pbmc.copy()
    sc.tl.rank_genes_groups(reference, "louvain", method="t-test", n_genes=7)
    from_store = markers(reference, "louvain", 7)
    assert from_store.attrs["source"] == "stored rank_genes_groups"
    computed = markers(reference, "louvain", 7, use_stored=False)
    assert list(computed["gene"]) == list(from_store["gene"])
    np.testing.assert_allclose(computed["score"], from_store["score"], rtol=RTOL_SCANPY)


# --------------------------------------------------------------------------- hclust


def _aggregated_matrix(adata, genes, by, **kwargs) -> np.ndarray:
    frame = aggregate(adata, genes, by, **kwargs)
    return (
        frame.pivot_table(index="gene", columns=by, values="mean", observed=True)
        .loc[genes]
        .to_numpy()
    )


@pytest.mark.parametrize("metric", ["euclidean", "correlation"])
@pytest.mark.parametrize("axis", ["rows", "columns"])
def test_hclust_leaves_match_scipy(pbmc, kang, metric, axis):
    for adata, genes, by, kwargs in [
        (pbmc, list(pbmc.raw.var_names[:30]), ["phase", "louvain"], {"use_raw": True}),
        (
            kang,
            [
                "ISG15",
                "IFI6",
                "IFIT1",
                "CXCL10",
                "CD14",
                "LYZ",
                "S100A8",
                "S100A9",
                "FCGR3A",
                "MS4A7",
                "CD79A",
                "MS4A1",
                "CD3E",
                "IL7R",
                "CCR7",
                "NKG7",
                "GNLY",
                "GZMB",
                "PPBP",
                "PF4",
                "HBB",
                "FCER1A",
                "CST3",
                "TYROBP",
                "FTL",
                "FTH1",
                "B2M",
                "CCL5",
                "CD8A",
                "CD4",
            ],
            ["dataset", "cluster"],
            {},
        ),
    ]:
        matrix = _aggregated_matrix(adata, genes, by, **kwargs)
        observations = matrix if axis == "rows" else matrix.T
        z = linkage(observations, "average", metric=metric)
        result = hclust(matrix, metric=metric, axis=axis)
        np.testing.assert_array_equal(result.linkage, z)
        expected = dendrogram(z, no_plot=True)
        assert result.leaves == expected["leaves"]
        assert result.icoord == expected["icoord"]


def test_hclust_constant_rows_with_correlation():
    matrix = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0], [3.0, 1.0, 0.0], [5.0, 5.0, 5.0]])
    result = hclust(matrix, metric="correlation")
    assert result.constant_observations == [1, 3]
    assert sorted(result.leaves) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="finite"):
        hclust(np.array([[1.0, np.nan], [2.0, 3.0]]))


# --------------------------------------------------------------------------- scale


def test_minmax_scaling_matches_scanpy_dotplot(pbmc):
    import matplotlib

    matplotlib.use("Agg")
    genes = ["CD79A", "MS4A1", "CST3", "LYZ", "NKG7", "FCER1A"]
    plot = sc.pl.dotplot(
        pbmc, genes, "bulk_labels", standard_scale="var", return_fig=True, use_raw=True
    )
    matrix = _aggregated_matrix(pbmc, genes, "bulk_labels", use_raw=True)
    scaled, constant = scale_rows(matrix, "minmax")
    np.testing.assert_allclose(scaled.T, plot.dot_color_df[genes].to_numpy(), atol=1e-6)
    assert not constant.any()


def test_zscore_is_r_scale_with_seurat_clip():
    matrix = np.array([[0.0, 1.0, 2.0, 10.0], [1.0, 1.0, 1.0, 1.0], [3.0, np.nan, 1.0, 2.0]])
    scaled, constant = scale_rows(matrix, "zscore")
    row = matrix[0]
    expected = np.clip((row - row.mean()) / row.std(ddof=1), -2.5, 2.5)
    np.testing.assert_allclose(scaled[0], expected)
    assert constant.tolist() == [False, True, False]
    assert scaled[1].tolist() == [0, 0, 0, 0]
    assert np.isnan(scaled[2, 1])
    np.testing.assert_allclose(scaled[2, [0, 2, 3]], [1, -1, 0])


# --------------------------------------------------------------------------- correlate


def _group_values(adata, genes, groupby, *, use_raw):
    source = adata.raw if use_raw else adata
    values = source[:, genes].X
    values = values.toarray() if hasattr(values, "toarray") else np.asarray(values)
    return values.astype(np.float64), adata.obs[groupby]


def _check_against_scipy(adata, gene_x, gene_y, groupby, *, use_raw, detected_only):
    ours = correlate(
        adata, gene_x, gene_y, groupby, use_raw=use_raw, detected_only=detected_only, n_boot=200
    )
    values, groups = _group_values(adata, [gene_x, gene_y], groupby, use_raw=use_raw)
    worst = 0.0
    for row in ours.itertuples():
        cells = (groups == row.group).to_numpy()
        x, y = values[cells, 0], values[cells, 1]
        positive = (x > 0) & (y > 0)
        assert row.frac_double_positive == pytest.approx(positive.mean(), abs=1e-15)
        if detected_only:
            x, y = x[positive], y[positive]
        assert row.n_cells == x.size
        if row.reason is not None:
            assert np.isnan(row.pearson_r)
            continue
        pearson = stats.pearsonr(x, y)
        low, high = pearson.confidence_interval(0.95)
        spearman = stats.spearmanr(x, y)
        for ours_value, expected in [
            (row.pearson_r, pearson.statistic),
            (row.pearson_ci_low, low),
            (row.pearson_ci_high, high),
            (row.spearman_rho, spearman.statistic),
        ]:
            assert abs(ours_value - expected) <= TOL_SCIPY
            worst = max(worst, abs(ours_value - expected))
        for ours_p, expected_p in [
            (row.pearson_p, pearson.pvalue),
            (row.spearman_p, spearman.pvalue),
        ]:
            assert ours_p == pytest.approx(expected_p, rel=TOL_SCIPY, abs=1e-300)
    return ours


@pytest.mark.parametrize("detected_only", [False, True])
@pytest.mark.parametrize("groupby", ["louvain", "phase", "bulk_labels"])
def test_correlate_matches_scipy_on_pbmc(pbmc, groupby, detected_only):
    _check_against_scipy(
        pbmc, "HLA-DRA", "CD74", groupby, use_raw=True, detected_only=detected_only
    )


@pytest.mark.parametrize("detected_only", [False, True])
@pytest.mark.parametrize("groupby", ["dataset", "cluster"])
def test_correlate_matches_scipy_on_kang(kang, groupby, detected_only):
    ours = _check_against_scipy(
        kang, "ISG15", "IFI6", groupby, use_raw=False, detected_only=detected_only
    )
    if groupby == "dataset" and not detected_only:
        assert set(ours["group"]) == {"ctrl", "stim"}


def test_correlate_two_groupby_columns_and_reasons(kang):
    ours = correlate(kang, "ISG15", "IFI6", ["dataset", "cluster"], n_boot=50)
    assert "stim · 0" in set(ours["group"])
    tiny = correlate(kang, "HBB", "PPBP", "cluster", detected_only=True, n_boot=50)
    reasons = set(tiny["reason"].dropna())
    assert reasons <= {
        "fewer than 3 cells",
        "x gene is constant",
        "y gene is constant",
        "both genes are constant",
    }
    assert reasons
    with pytest.raises(KeyError, match="IFI6"):
        correlate(kang, "ISG15", "IFI6", "cluster", layer="integrated")


def test_spearman_bootstrap_equals_brute_force_resampling(kang):
    values, groups = _group_values(kang, ["ISG15", "IFI6"], "dataset", use_raw=False)
    x, y = values[(groups == "stim").to_numpy()].T
    n_boot, seed = 300, 7
    counters = hash32(np.arange(x.size, dtype=np.uint32))
    rhos = []
    for b in range(n_boot):
        idx = draw_indices(replicate_key(seed, b), counters)
        rhos.append(stats.spearmanr(x[idx], y[idx]).statistic)
    expected = np.percentile(rhos, [2.5, 97.5])
    low, high = bootstrap_spearman_interval(RankOrder(x), RankOrder(y), n_boot, seed, 0.95)
    np.testing.assert_allclose([low, high], expected, rtol=0, atol=1e-12)
    assert low < stats.spearmanr(x, y).statistic < high


def test_bootstrap_draws_are_uniform_and_seeded():
    counters = hash32(np.arange(100_000, dtype=np.uint32))
    draws = draw_indices(replicate_key(0, 0), counters)
    counts = np.bincount(draws, minlength=100_000)
    # a multinomial resample: ~e⁻¹ of the values are left out
    assert abs((counts == 0).mean() - np.exp(-1)) < 0.01
    assert not np.array_equal(draws, draw_indices(replicate_key(0, 1), counters))
    assert not np.array_equal(draws, draw_indices(replicate_key(1, 0), counters))
    # the values shared with src/compute/__tests__/rng.spec.ts
    assert hash32(np.array([0, 1, 0xDEADBEEF], dtype=np.uint32)).tolist() == [
        0,
        1753845952,
        3861431939,
    ]
    assert replicate_key(0, 0) == 2926543089
    assert replicate_key(42, 999) == 534800740
