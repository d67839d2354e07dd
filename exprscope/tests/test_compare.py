"""Condition comparisons (exprscope.pseudobulk, compare, differential_correlation and Wilcoxon
markers), held to the libraries that define them, run directly: scanpy's ``sc.get.aggregate``
and ``rank_genes_groups(method='wilcoxon')``, pydeseq2, scipy."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from scipy import sparse, stats

import exprscope
from exprscope.compute.compare import fisher_z_difference, guess_sample_key
from exprscope.synthetic import make_synthetic

pytest.importorskip("pydeseq2")  # the test extra installs it; a missing one fails CI's import


@pytest.fixture(scope="module")
def kang():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return exprscope.datasets.kang_pbmc()


@pytest.fixture(scope="module")
def replicates():
    """Two datasets × three samples, three clusters, known dataset-responsive genes."""
    return make_synthetic(6000, 600, n_clusters=3, samples_per_dataset=3, seed=1)


def rank_genes(adata, groupby, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copy = adata.copy()
        sc.tl.rank_genes_groups(copy, groupby, method="wilcoxon", **options)
    return copy.uns["rank_genes_groups"]


# -- pseudobulk ------------------------------------------------------------------------------


def test_pseudobulk_equals_scanpy_aggregate_sum(replicates):
    bulk = exprscope.pseudobulk(replicates)
    reference = sc.get.aggregate(replicates, by=["sample", "cluster"], func="sum", layer="counts")
    assert bulk.uns["exprscope_pseudobulk"]["matrix"] == "layers/counts"
    assert bulk.uns["exprscope_pseudobulk"]["sample_key"] == "sample"  # guessed
    ours = pd.DataFrame(
        bulk.X,
        index=[f"{s}_{c}" for s, c in zip(bulk.obs["sample"], bulk.obs["cluster"], strict=True)],
    )
    theirs = pd.DataFrame(
        np.asarray(reference.layers["sum"]),
        index=[
            f"{s}_{c}"
            for s, c in zip(reference.obs["sample"], reference.obs["cluster"], strict=True)
        ],
    )
    np.testing.assert_array_equal(ours.to_numpy(), theirs.loc[ours.index].to_numpy())
    counts = replicates.obs.groupby(["sample", "cluster"], observed=True).size()
    assert list(bulk.obs["n_cells"]) == [
        counts[(s, c)] for s, c in zip(bulk.obs["sample"], bulk.obs["cluster"], strict=True)
    ]
    dataset_of = replicates.obs.drop_duplicates("sample").set_index("sample")["dataset"]
    assert list(bulk.obs["dataset"].astype(str)) == [str(dataset_of[s]) for s in bulk.obs["sample"]]


def test_pseudobulk_of_a_backed_file_equals_in_memory(replicates, tmp_path):
    path = tmp_path / "replicates.h5ad"
    copy = replicates.copy()
    copy.layers["counts"] = sparse.csc_matrix(copy.layers["counts"])
    copy.write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    in_memory = exprscope.pseudobulk(replicates, genes=["GENE00002", "GENE00010"])
    on_disk = exprscope.pseudobulk(backed, genes=["GENE00002", "GENE00010"])
    np.testing.assert_array_equal(on_disk.X, in_memory.X)


def test_pseudobulk_refuses_log_values(kang):
    no_counts = ad.AnnData(X=kang.X, obs=kang.obs.assign(sample=kang.obs["dataset"]))
    with pytest.raises(ValueError, match="needs raw counts"):
        exprscope.pseudobulk(no_counts, sample_key="sample")
    with pytest.raises(ValueError, match="non-integer or negative"):
        exprscope.pseudobulk(kang, sample_key="dataset", layer="integrated")


def test_sample_guess(replicates, kang):
    assert guess_sample_key(replicates.obs, "dataset") == "sample"
    obs = replicates.obs.rename(columns={"sample": "donor_id"})
    assert guess_sample_key(obs, "dataset") == "donor_id"
    assert guess_sample_key(kang.obs, "dataset") is None  # Kang's bundled copy has no donors


# -- pseudobulk differential expression ------------------------------------------------------


def test_pseudobulk_de_equals_pydeseq2_run_directly(replicates):
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    result = exprscope.compare(
        replicates, reference="dataset1", dataset_key="dataset", cluster_key="cluster"
    )
    assert result.attrs["method"] == "pseudobulk" and result.attrs["sample_key"] == "sample"
    assert set(result["n_samples_a"]) == {3} and set(result["n_samples_b"]) == {3}
    # The pipeline a user writes by hand: sc.get.aggregate, then pydeseq2 per cluster
    summed = sc.get.aggregate(replicates, by=["sample", "cluster"], func="sum", layer="counts")
    dataset_of = replicates.obs.drop_duplicates("sample").set_index("sample")["dataset"]
    inference = DefaultInference(n_cpus=2)
    for cluster in ["0", "1"]:
        keep = (summed.obs["cluster"] == cluster).to_numpy()
        counts = pd.DataFrame(
            np.asarray(summed.layers["sum"])[keep].astype(np.int64),
            index=summed.obs["sample"][keep].astype(str),
            columns=summed.var_names,
        )
        metadata = pd.DataFrame(
            {"condition": [str(dataset_of[s]) for s in counts.index]}, index=counts.index
        )
        dds = DeseqDataSet(
            counts=counts, metadata=metadata, design="~condition", inference=inference, quiet=True
        )
        dds.deseq2()
        test = DeseqStats(
            dds, contrast=["condition", "dataset2", "dataset1"], inference=inference, quiet=True
        )
        test.summary()
        theirs = test.results_df
        ours = result[result["cluster"] == cluster].set_index("gene").loc[theirs.index]
        for mine, reference in (
            ("log2fc", "log2FoldChange"),
            ("stat", "stat"),
            ("pvalue", "pvalue"),
            ("padj", "padj"),
        ):
            np.testing.assert_allclose(ours[mine], theirs[reference], rtol=1e-6, equal_nan=True)


def test_pseudobulk_de_finds_the_known_differential_genes(replicates):
    result = exprscope.compare(
        replicates,
        reference="dataset1",
        target="dataset2",
        dataset_key="dataset",
        cluster_key="cluster",
        clusters=["0"],
    )
    truth = set(replicates.uns["exprscope"]["synthetic"]["dataset_responsive_genes"])
    found = set(result.loc[result["padj"] < 0.05, "gene"])
    assert len(found & truth) >= 0.8 * len(truth)
    assert len(found - truth) <= 2  # FDR 5% of ~12 calls


def test_pseudobulk_rows_do_not_depend_on_the_genes_asked_for(replicates):
    """DESeq2 is fitted on every gene (size factors, dispersions): asking for three genes
    gives their rows of the whole fit, not a fit on three genes."""
    args = dict(reference="dataset1", target="dataset2", dataset_key="dataset")
    args.update(cluster_key="cluster", clusters=["0"])
    whole = exprscope.compare(replicates, **args).set_index("gene")
    genes = list(whole.index[[5, 0, 42]])
    some = exprscope.compare(replicates, genes=genes, **args)
    assert list(some["gene"]) == genes
    for column in ("log2fc", "stat", "pvalue", "padj"):
        np.testing.assert_allclose(
            some[column].to_numpy(), whole.loc[genes, column].to_numpy(), rtol=1e-9
        )
    with pytest.raises(KeyError, match="NOT_A_GENE"):
        exprscope.compare(replicates, genes=[*genes, "NOT_A_GENE"], **args)


def test_pseudobulk_without_replicates_says_so(kang):
    with pytest.raises(ValueError, match=r"needs ≥ 2 samples per dataset.*wilcoxon"):
        exprscope.compare(
            kang,
            reference="ctrl",
            dataset_key="dataset",
            cluster_key="cluster",
            method="pseudobulk",
            sample_key="dataset",
        )
    with pytest.raises(ValueError, match="Pseudobulk needs a sample"):
        exprscope.compare(kang, reference="ctrl", method="pseudobulk")


def test_clusters_with_too_few_samples_are_flagged(replicates):
    obs = replicates.obs
    # Cluster "2" keeps one sample of dataset2 with cells: the others' cells go to cluster 0
    moved = (
        (obs["cluster"] == "2") & (obs["dataset"] == "dataset2") & (obs["sample"] != "dataset2_s1")
    )
    adata = replicates.copy()
    adata.obs["cluster"] = adata.obs["cluster"].where(~moved, "0")
    result = exprscope.compare(
        adata, reference="dataset1", dataset_key="dataset", cluster_key="cluster", clusters=["2"]
    )
    assert result["pvalue"].isna().all()
    assert result["note"].str.contains("fewer than 2 samples").all()
    assert set(result["n_samples_b"]) == {1}


# -- Wilcoxon ------------------------------------------------------------------------------


def test_compare_wilcoxon_equals_scanpy_with_reference(kang):
    result = exprscope.compare(
        kang, reference="ctrl", dataset_key="dataset", cluster_key="cluster", clusters=["0", "1"]
    )
    assert result.attrs["method"] == "wilcoxon"  # no sample column: cells, said plainly
    assert "not independent replicates" in result.attrs["caveat"]
    for cluster in ["0", "1"]:
        cells = kang[kang.obs["cluster"] == cluster]
        theirs = rank_genes(
            cells, "dataset", groups=["stim"], reference="ctrl", n_genes=kang.n_vars
        )
        names = list(theirs["names"]["stim"])
        ours = result[result["cluster"] == cluster].set_index("gene").loc[names]
        # scanpy stores scores and fold changes as float32
        np.testing.assert_allclose(ours["stat"], theirs["scores"]["stim"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ours["pvalue"], theirs["pvals"]["stim"], rtol=1e-6)
        np.testing.assert_allclose(ours["padj"], theirs["pvals_adj"]["stim"], rtol=1e-6)
        np.testing.assert_allclose(
            ours["log2fc"], theirs["logfoldchanges"]["stim"], rtol=1e-5, atol=1e-5
        )
        assert ours["n_cells_b"].iloc[0] == int((cells.obs["dataset"] == "stim").sum())


def test_wilcoxon_markers_equal_scanpy(kang):
    ours = exprscope.markers(kang, "cluster", n=25, method="wilcoxon")
    assert ours.attrs["source"] == "computed Wilcoxon rank-sum"
    theirs = rank_genes(kang, "cluster", n_genes=25)
    for group in theirs["names"].dtype.names:
        mine = ours[ours["group"] == group]
        assert list(mine["gene"]) == list(theirs["names"][group])
        np.testing.assert_allclose(mine["score"], theirs["scores"][group], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(mine["pval"], theirs["pvals"][group], rtol=1e-6)
        np.testing.assert_allclose(mine["pval_adj"], theirs["pvals_adj"][group], rtol=1e-6)


def test_wilcoxon_tie_correction_and_negative_values_equal_scanpy(kang):
    # The integrated layer is dense and has negative values: zeros are not the lowest rank
    ours = exprscope.markers(
        kang, "cluster", n=10, method="wilcoxon", layer="integrated", tie_correct=True
    )
    theirs = rank_genes(kang, "cluster", n_genes=10, layer="integrated", tie_correct=True)
    for group in theirs["names"].dtype.names:
        mine = ours[ours["group"] == group]
        assert list(mine["gene"]) == list(theirs["names"][group])
        np.testing.assert_allclose(mine["score"], theirs["scores"][group], rtol=1e-5, atol=1e-5)


def test_rank_sum_matches_scipy_mannwhitneyu(kang):
    from exprscope.compute.ranksum import group_rank_sums, rank_sum_test

    cells = kang[kang.obs["cluster"] == "0"]
    x = cells.X[:, cells.var_names.get_indexer(["ISG15", "IFI6", "CD14"])]
    codes = (cells.obs["dataset"] == "stim").to_numpy().astype(int)
    sums = group_rank_sums(x, codes, 2)
    _, p = rank_sum_test(sums.rank_sum[1], sums.n[1], sums.n_total, sums.tie_correction)
    dense = x.toarray().astype(np.float64)  # scipy keeps float32 p values otherwise
    for j in range(3):
        reference = stats.mannwhitneyu(
            dense[codes == 1, j], dense[codes == 0, j], use_continuity=False, method="asymptotic"
        )
        np.testing.assert_allclose(p[j], reference.pvalue, rtol=1e-9)


# -- differential correlation ----------------------------------------------------------------


def test_fisher_z_difference_worked_example():
    # r = .5 and .3 with n = 103 each: z = (0.5493 − 0.3095) / √(2/100) = 1.696, p = .0899
    out = fisher_z_difference(np.array([0.5]), np.array([103]), np.array([0.3]), np.array([103]))
    assert out["z"][0] == pytest.approx(1.6956, abs=1e-4)
    assert out["p"][0] == pytest.approx(0.08996, abs=1e-4)
    assert out["delta_r"][0] == pytest.approx(0.2)
    # Zou (2007) contains 0 exactly when the z test is not significant at 5%
    assert out["delta_r_ci_low"][0] < 0 < out["delta_r_ci_high"][0]
    small = fisher_z_difference(np.array([0.5]), np.array([3]), np.array([0.3]), np.array([50]))
    assert np.isnan(small["p"][0])


def test_correlate_with_a_reference_gives_delta_r_per_cluster(kang):
    crossed = exprscope.correlate(
        kang, "ISG15", "IFI6", ["dataset", "cluster"], n_boot=0, reference="ctrl"
    )
    by_dataset = exprscope.correlate(kang, "ISG15", "IFI6", "dataset", n_boot=0, reference="ctrl")
    expected = exprscope.differential_correlation(
        kang,
        "ISG15",
        "IFI6",
        reference="ctrl",
        target="stim",
        dataset_key="dataset",
        cluster_key="cluster",
    ).set_index("cluster")
    # The reference's own groups have no Δr
    assert crossed[crossed["group"].str.startswith("ctrl")]["delta_r"].isna().all()
    stim = by_dataset[by_dataset["group"] == "stim"].iloc[0]
    assert stim["delta_r"] == pytest.approx(expected.loc["all", "delta_r"], abs=1e-12)
    for _, row in crossed[crossed["group"].str.startswith("stim · ")].iterrows():
        cluster = row["group"].removeprefix("stim · ")
        for ours, theirs in (
            ("delta_r", "delta_r"),
            ("delta_r_ci_low", "delta_r_ci_low"),
            ("delta_r_ci_high", "delta_r_ci_high"),
            ("delta_r_z", "z"),
            ("delta_r_p", "p"),
        ):
            assert row[ours] == pytest.approx(expected.loc[cluster, theirs], abs=1e-12, nan_ok=True)
    with pytest.raises(ValueError, match="not a category"):
        exprscope.correlate(kang, "ISG15", "IFI6", "dataset", n_boot=0, reference="nope")


def test_differential_correlation_equals_scipy(kang):
    result = exprscope.differential_correlation(
        kang,
        "ISG15",
        "IFI6",
        reference="ctrl",
        target="stim",
        dataset_key="dataset",
        cluster_key="cluster",
    )
    x = kang[:, "ISG15"].X.toarray().ravel().astype(np.float64)
    y = kang[:, "IFI6"].X.toarray().ravel().astype(np.float64)
    dataset, cluster = kang.obs["dataset"].to_numpy(), kang.obs["cluster"].astype(str).to_numpy()
    for _, row in result.iterrows():
        where = np.ones(kang.n_obs, bool) if row["cluster"] == "all" else cluster == row["cluster"]
        a, b = where & (dataset == "ctrl"), where & (dataset == "stim")
        if a.sum() <= 3 or b.sum() <= 3 or np.ptp(x[a]) == 0 or np.ptp(y[a]) == 0:
            assert np.isnan(row["p"])  # too few cells, or a gene constant in a group
            continue
        fit_a, fit_b = stats.pearsonr(x[a], y[a]), stats.pearsonr(x[b], y[b])
        assert row["r_a"] == pytest.approx(fit_a.statistic, abs=1e-6)
        assert row["r_b"] == pytest.approx(fit_b.statistic, abs=1e-6)
        z = (np.arctanh(fit_b.statistic) - np.arctanh(fit_a.statistic)) / np.sqrt(
            1 / (b.sum() - 3) + 1 / (a.sum() - 3)
        )
        assert row["z"] == pytest.approx(z, abs=1e-6)
        assert row["p"] == pytest.approx(2 * stats.norm.sf(abs(z)), abs=1e-9)
        ci_a, ci_b = fit_a.confidence_interval(), fit_b.confidence_interval()
        delta = fit_b.statistic - fit_a.statistic
        low = delta - np.hypot(fit_b.statistic - ci_b.low, ci_a.high - fit_a.statistic)
        high = delta + np.hypot(ci_b.high - fit_b.statistic, fit_a.statistic - ci_a.low)
        assert row["delta_r_ci_low"] == pytest.approx(low, abs=1e-6)
        assert row["delta_r_ci_high"] == pytest.approx(high, abs=1e-6)


# -- bad input -------------------------------------------------------------------------------


def test_bad_input_is_refused_and_nothing_changes(kang):
    before = kang.obs.copy()
    with pytest.raises(ValueError, match=r"'nope' is not in 'dataset'.*ctrl"):
        exprscope.compare(kang, reference="nope", dataset_key="dataset", cluster_key="cluster")
    with pytest.raises(ValueError, match="Unknown clusters"):
        exprscope.compare(kang, reference="ctrl", dataset_key="dataset", clusters=["99"])
    with pytest.raises(ValueError, match="method must be"):
        exprscope.compare(kang, reference="ctrl", method="t-test")
    with pytest.raises(KeyError, match="Unknown sample column"):
        exprscope.pseudobulk(kang, sample_key="donor")
    pd.testing.assert_frame_equal(kang.obs, before)


def test_a_cluster_absent_from_one_dataset_is_flagged(kang):
    adata = kang.copy()
    drop = (adata.obs["cluster"] == "4") & (adata.obs["dataset"] == "stim")
    adata = adata[~drop.to_numpy()].copy()
    result = exprscope.compare(
        adata, reference="ctrl", dataset_key="dataset", cluster_key="cluster", clusters=["4"]
    )
    assert result["pvalue"].isna().all()
    assert result["note"].str.contains("fewer than 10 cells").all()
    assert set(result["n_cells_b"]) == {0}
