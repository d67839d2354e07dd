"""``exprscope.conserved_markers`` and its core (``exprscope.compute.markers``) against outside
references: scanpy's ``rank_genes_groups(method='t-test')`` run on each dataset's cells,
``scipy.stats.combine_pvalues`` for Fisher's method, and what is known of PBMCs under
interferon-beta (Kang et al. 2018): cell-type markers hold across stimulation, interferon-
stimulated genes mark stimulated monocytes.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from scipy import stats

import exprscope
from exprscope import datasets
from exprscope.compute._matrix import group_codes
from exprscope.compute.aggregate import group_moments
from exprscope.compute.markers import conserved_statistics

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

RTOL_SCANPY = 1e-6
REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "conformance" / "conserved_fixture.json"
SCRIPT = REPO / "scripts" / "make_compute_fixtures.py"


@pytest.fixture(scope="module")
def kang():
    if not datasets.KANG_PBMC_PATH.is_file():
        pytest.skip("the Kang demo data (exprscope/data/kang_pbmc.h5ad) is not built")
    return datasets.kang_pbmc()


@pytest.fixture(scope="module")
def pbmc():
    """pbmc68k_reduced with its raw (log-normalised) matrix as X; cell-cycle phase serves
    as three "datasets" in which some cell types have no or almost no cells."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = sc.datasets.pbmc68k_reduced()
    return adata.raw.to_adata()


def _scanpy_per_dataset(adata, cluster_key, dataset_key, groups=None) -> dict:
    """{dataset: {cluster: frame indexed by gene}} from rank_genes_groups on each subset."""
    result = {}
    for dataset in adata.obs[dataset_key].cat.categories:
        subset = adata[adata.obs[dataset_key] == dataset].copy()
        subset.obs[cluster_key] = subset.obs[cluster_key].cat.remove_unused_categories()
        tested = groups[dataset] if groups is not None else "all"
        sc.tl.rank_genes_groups(
            subset, cluster_key, groups=tested, method="t-test", n_genes=subset.n_vars
        )
        stored = subset.uns["rank_genes_groups"]
        result[dataset] = {
            cluster: pd.DataFrame(
                {
                    key: np.asarray(stored[key][cluster], dtype=np.float64)
                    for key in ("scores", "logfoldchanges", "pvals", "pvals_adj")
                },
                index=np.asarray(stored["names"][cluster]),
            )
            for cluster in stored["names"].dtype.names
        }
    return result


def _cluster_of(adata, gene: str, dataset: str = "ctrl") -> str:
    """The cluster with the highest mean of a marker gene (the data store no cell types)."""
    cells = adata.obs["dataset"] == dataset
    values = np.asarray(adata[cells, gene].X.todense()).ravel()
    return str(pd.Series(values).groupby(adata.obs["cluster"][cells].to_numpy()).mean().idxmax())


# --------------------------------------------------------------------------- per dataset


def test_every_gene_of_every_test_matches_scanpy_on_each_dataset(kang):
    codes, labels = group_codes(kang.obs, ["cluster", "dataset"])
    moments = group_moments(kang.X, codes, len(labels))
    clusters = list(kang.obs["cluster"].cat.categories)
    datasets_ = list(kang.obs["dataset"].cat.categories)
    ours = conserved_statistics(moments, len(clusters), len(datasets_))
    assert ours.tested.all()  # every cluster has ≥ 3 cells in ctrl and in stim
    reference = _scanpy_per_dataset(kang, "cluster", "dataset")
    for d, dataset in enumerate(datasets_):
        for k, cluster in enumerate(clusters):
            expected = reference[dataset][cluster].loc[kang.var_names]
            for key, values in [
                ("scores", ours.score),
                ("logfoldchanges", ours.logfoldchange),
                ("pvals", ours.pval),
                ("pvals_adj", ours.pval_adj),
            ]:
                np.testing.assert_allclose(
                    values[k, d],
                    expected[key],
                    rtol=RTOL_SCANPY,
                    atol=0,
                    err_msg=f"{key} of cluster {cluster} in {dataset}",
                )


def test_table_columns_are_scanpy_per_dataset_values(kang):
    table = exprscope.conserved_markers(kang, "cluster", "dataset", n=10)
    assert list(table.columns) == [
        "cluster",
        "gene",
        "category",
        "specific_to",
        "rank",
        "combined_p",
        "combine",
        "logfc_ctrl",
        "pval_ctrl",
        "padj_ctrl",
        "logfc_stim",
        "pval_stim",
        "padj_stim",
    ]
    assert table.attrs["matrix"] == "X" and table.attrs["combine"] == "max"
    assert table.attrs["left_out"] == {} and table.attrs["untested_clusters"] == []
    reference = _scanpy_per_dataset(kang, "cluster", "dataset")
    for dataset in ("ctrl", "stim"):
        expected = np.array(
            [
                reference[dataset][str(cluster)].loc[gene, ["logfoldchanges", "pvals", "pvals_adj"]]
                for cluster, gene in zip(table["cluster"], table["gene"], strict=True)
            ]
        )
        ours = table[[f"logfc_{dataset}", f"pval_{dataset}", f"padj_{dataset}"]].to_numpy()
        np.testing.assert_allclose(ours, expected, rtol=RTOL_SCANPY, atol=0)


# --------------------------------------------------------------------------- combination


def test_max_p_is_the_largest_per_dataset_p_and_orders_the_table(kang):
    table = exprscope.conserved_markers(kang, n=10, combine="max")
    assert (table["combine"] == "max").all()
    largest = table[["pval_ctrl", "pval_stim"]].max(axis=1)
    np.testing.assert_array_equal(table["combined_p"], largest)
    conserved = table[table["category"] == "conserved"]
    for _, rows in conserved.groupby("cluster", observed=True):
        assert list(rows["rank"]) == list(range(1, len(rows) + 1))
        assert rows["combined_p"].is_monotonic_increasing
        assert ((rows[["padj_ctrl", "padj_stim"]] < 0.05).all(axis=1)).all()
        assert ((rows[["logfc_ctrl", "logfc_stim"]] > 0).all(axis=1)).all()


def test_fisher_combination_equals_scipy_combine_pvalues(kang):
    table = exprscope.conserved_markers(kang, n=10, combine="fisher")
    assert table.attrs["combine"] == "fisher" and (table["combine"] == "fisher").all()
    with np.errstate(divide="ignore"):
        expected = [
            stats.combine_pvalues([p_ctrl, p_stim], method="fisher").pvalue
            for p_ctrl, p_stim in zip(table["pval_ctrl"], table["pval_stim"], strict=True)
        ]
    np.testing.assert_allclose(table["combined_p"], expected, rtol=1e-10, atol=1e-300)
    # Every gene, not only the table's: the whole combination against scipy's
    codes, labels = group_codes(kang.obs, ["cluster", "dataset"])
    moments = group_moments(kang.X, codes, len(labels))
    ours = conserved_statistics(moments, 8, 2, combine="fisher")
    with np.errstate(divide="ignore"):
        scipy_p = stats.combine_pvalues(ours.pval, method="fisher", axis=1).pvalue
    np.testing.assert_allclose(ours.combined_p, scipy_p, rtol=1e-10, atol=1e-300)
    # The categories depend on the per-dataset tests only
    np.testing.assert_array_equal(
        ours.category, conserved_statistics(moments, 8, 2, combine="max").category
    )


# --------------------------------------------------------------------------- biology


def test_cell_type_markers_are_conserved_across_stimulation(kang):
    table = exprscope.conserved_markers(kang, n=10_000)
    conserved = table[table["category"] == "conserved"]
    for marker, also in [("CD14", "LYZ"), ("MS4A1", "CD79A"), ("NKG7", "GNLY"), ("CD3D", "IL7R")]:
        cluster = _cluster_of(kang, marker)
        assert cluster == _cluster_of(kang, marker, "stim")
        genes = set(conserved.loc[conserved["cluster"] == cluster, "gene"])
        assert {marker, also} <= genes, (marker, cluster)
    # The strongest conserved markers of the CD14 monocytes are myeloid genes
    monocytes = _cluster_of(kang, "CD14")
    ranks = conserved[conserved["cluster"] == monocytes].set_index("gene")["rank"]
    assert ranks[["TYROBP", "FCER1G"]].max() <= 10
    assert ranks[["LYZ", "CST3", "FCN1", "S100A8", "S100A9"]].max() <= 60


def test_interferon_genes_mark_stimulated_monocytes_not_conserved_ones(kang):
    table = exprscope.conserved_markers(kang, n=10_000)
    monocytes = _cluster_of(kang, "CD14")
    rows = table[table["cluster"] == monocytes].set_index("gene")
    for gene in ("ISG15", "IFIT1", "CXCL10", "RSAD2"):
        assert rows.loc[gene, "category"] == "specific", gene
        assert rows.loc[gene, "specific_to"] == "stim", gene
        assert rows.loc[gene, "padj_ctrl"] >= 0.05 and rows.loc[gene, "padj_stim"] < 1e-10
    # ISG15 is a marker of no lymphocyte cluster in both conditions
    lymphocytes = {_cluster_of(kang, g) for g in ("CD3D", "MS4A1", "NKG7")}
    conserved = table[table["category"] == "conserved"]
    for gene in ("ISG15", "IFI6"):
        assert not set(conserved.loc[conserved["gene"] == gene, "cluster"]) & lymphocytes
    # Within one dataset the test asks "higher here than in other cells?": IFI6 is, in
    # monocytes, before and after stimulation (baseline monocyte expression): conserved there
    assert rows.loc["IFI6", "category"] == "conserved"
    assert rows.loc["IFI6", "logfc_ctrl"] > rows.loc["IFI6", "logfc_stim"] > 0


# --------------------------------------------------------------------------- left out


def test_datasets_without_the_cluster_are_left_out_of_its_combination(pbmc):
    min_cells = 3
    table = exprscope.conserved_markers(pbmc, "bulk_labels", "phase", n=5, min_cells=min_cells)
    counts = pd.crosstab(pbmc.obs["bulk_labels"], pbmc.obs["phase"])
    rest = counts.sum(axis=0) - counts
    tested = (counts >= min_cells) & (rest >= min_cells)
    left_out = table.attrs["left_out"]
    assert set(left_out) == {str(c) for c in counts.index[~tested.all(axis=1)]}
    monocytes = left_out["CD14+ Monocyte"]
    assert monocytes == [{"dataset": "G2M", "n_cells": 0, "n_rest": int(counts["G2M"].sum())}]
    assert table.attrs["untested_clusters"] == []

    rows = table[table["cluster"] == "CD14+ Monocyte"]
    assert len(rows) and rows[["logfc_G2M", "pval_G2M", "padj_G2M"]].isna().all().all()
    np.testing.assert_array_equal(rows["combined_p"], rows[["pval_G1", "pval_S"]].max(axis=1))
    assert (rows["specific_to"].dropna() != "G2M").all()

    groups = {phase: [str(c) for c in counts.index[tested[phase]]] for phase in counts.columns}
    reference = _scanpy_per_dataset(pbmc, "bulk_labels", "phase", groups)
    for phase in counts.columns:
        for cluster, gene, p, logfc in zip(
            table["cluster"],
            table["gene"],
            table[f"pval_{phase}"],
            table[f"logfc_{phase}"],
            strict=True,
        ):
            if cluster in reference[phase]:
                expected = reference[phase][cluster].loc[gene]
                np.testing.assert_allclose(
                    [p, logfc], expected[["pvals", "logfoldchanges"]], rtol=RTOL_SCANPY
                )
            else:
                assert np.isnan(p) and np.isnan(logfc)


def test_clusters_left_in_one_dataset_get_no_rows_and_are_said(pbmc):
    table = exprscope.conserved_markers(pbmc, "bulk_labels", "phase", min_cells=5)
    # 4 naive CD4 T cells in G1, none in G2M, 4 in S: fewer than 5 everywhere
    assert "CD4+/CD45RA+/CD25- Naive T" in table.attrs["untested_clusters"]
    assert not (table["cluster"] == "CD4+/CD45RA+/CD25- Naive T").any()
    assert set(table["category"]) == {"conserved", "specific"}


# --------------------------------------------------------------------------- API


def test_keys_are_guessed_like_the_sidebar(kang):
    guessed = exprscope.conserved_markers(kang, n=3)
    explicit = exprscope.conserved_markers(kang, "cluster", "dataset", n=3)
    pd.testing.assert_frame_equal(guessed, explicit)
    assert "conserved_markers" in exprscope.__all__ and "conserved_markers" in dir(exprscope)


def test_integrated_layer_leaves_out_genes_it_does_not_cover(kang):
    table = exprscope.conserved_markers(kang, n=3, layer="integrated")
    covered = kang.var["integrated"].to_numpy()
    assert set(table.attrs["excluded_genes"]) == set(kang.var_names[~covered])
    assert set(table["gene"]) <= set(kang.var_names[covered])
    assert table.attrs["matrix"] == "layers/integrated"


def test_bad_input_says_what_is_wrong(kang):
    with pytest.raises(ValueError, match="Unknown cluster_key column 'nope'"):
        exprscope.conserved_markers(kang, "nope", "dataset")
    with pytest.raises(ValueError, match="Unknown dataset_key column 'nope'"):
        exprscope.conserved_markers(kang, "cluster", "nope")
    with pytest.raises(ValueError, match=r"one dataset only \('ctrl'\)"):
        exprscope.conserved_markers(kang[kang.obs["dataset"] == "ctrl"], "cluster", "dataset")
    with pytest.raises(ValueError, match="same column"):
        exprscope.conserved_markers(kang, "cluster", "cluster")
    with pytest.raises(ValueError, match="combine must be one of"):
        exprscope.conserved_markers(kang, combine="stouffer")
    with pytest.raises(ValueError, match="min_cells must be an integer ≥ 2"):
        exprscope.conserved_markers(kang, min_cells=1)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        exprscope.conserved_markers(kang, n=0)
    with pytest.raises(ValueError, match="at least two clusters"):
        one_cluster = kang[kang.obs["cluster"] == "0"]
        exprscope.conserved_markers(one_cluster, "cluster", "dataset")
    bare = ad.AnnData(
        X=np.ones((4, 2), dtype=np.float32), obs=pd.DataFrame(index=[f"c{i}" for i in range(4)])
    )
    with pytest.raises(ValueError, match="Give cluster_key="):
        exprscope.conserved_markers(bare)


# --------------------------------------------------------------------------- fixture


def _load_script():
    spec = importlib.util.spec_from_file_location("make_compute_fixtures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assert_same(stored, recomputed, path="outputs"):
    if isinstance(stored, dict):
        assert stored.keys() == recomputed.keys(), path
        for key in stored:
            _assert_same(stored[key], recomputed[key], f"{path}.{key}")
    elif isinstance(stored, list):
        assert len(stored) == len(recomputed), path
        for i, (a, b) in enumerate(zip(stored, recomputed, strict=True)):
            _assert_same(a, b, f"{path}[{i}]")
    elif isinstance(stored, float) and isinstance(recomputed, float):
        assert recomputed == pytest.approx(stored, rel=1e-12, abs=1e-300), path
    else:
        assert stored == recomputed, path


def test_conserved_fixture_matches_python_outputs():
    """The browser's test (crossImpl.spec.ts) reads this fixture: it must be what the
    Python code computes today (``python scripts/make_compute_fixtures.py`` rewrites it)."""
    script = _load_script()
    fixture = json.loads(FIXTURE.read_text())
    recomputed = script.to_json_compatible(script.compute_conserved_outputs(fixture["inputs"]))
    _assert_same(fixture["outputs"], json.loads(json.dumps(recomputed)))
    assert FIXTURE.stat().st_size < 250_000
    names = [case["name"] for case in fixture["inputs"]["cases"]]
    assert names == ["kang", "pbmc68k_phase"]
