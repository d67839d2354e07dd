"""``group_stats``' fast sums (``_stats.group_sums``: one ``np.bincount`` pass over the stored
values) against a straightforward per-group reference, on CSR, CSC and dense matrices.

The data hold negative values, explicitly stored zeros, empty genes and a gene with NaN; the
cells are grouped by one or two columns with missing labels. Blocks are made tiny so that
every path adds up several blocks.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from exprscope.adapters import _stats
from exprscope.adapters._stats import group_sums
from exprscope.adapters.anndata import AnnDataAdapter

N_CELLS, N_GENES = 613, 37
FORMATS = ["csr", "csc", "dense"]
RTOL = 1e-12  # summation order only


def make_values(seed: int = 0, dtype: type = np.float32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.normal(1.0, 1.5, (N_CELLS, N_GENES)).astype(dtype)
    values[rng.random(values.shape) < 0.7] = 0
    values[:, 3] = 0  # an empty gene
    values[:, 5] = np.abs(values[:, 5])  # a gene without negative values
    return values


def as_format(values: np.ndarray, fmt: str, stored_zeros: bool = True):
    if fmt == "dense":
        return values.copy()
    matrix = sparse.coo_matrix(values)
    if stored_zeros:
        # A few explicitly stored zeros (stored, but not expressed)
        rows = np.flatnonzero(values[:, 1] == 0)[:3]
        matrix = sparse.coo_matrix(
            (
                np.concatenate([matrix.data, np.zeros(rows.size, values.dtype)]),
                (np.concatenate([matrix.row, rows]), np.concatenate([matrix.col, [1] * rows.size])),
            ),
            shape=values.shape,
        )
    return matrix.asformat(fmt)


def reference(values: np.ndarray, codes: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    """Per group, the plain sums of the dense values (squares formed in the data's dtype)."""
    x64 = values.astype(np.float64)
    sq = np.square(values).astype(np.float64)
    out = {
        name: np.zeros((n_groups, values.shape[1]))
        for name in ("sum", "sum_sq", "nnz", "sum_expm1")
    }
    for g in range(n_groups):
        rows = codes == g
        out["sum"][g] = x64[rows].sum(axis=0)
        out["sum_sq"][g] = sq[rows].sum(axis=0)
        out["nnz"][g] = (values[rows] > 0).sum(axis=0)
        out["sum_expm1"][g] = np.expm1(x64[rows]).sum(axis=0)
    out["total_sum"] = x64.sum(axis=0)
    out["total_sum_sq"] = sq.sum(axis=0)
    out["has_negative"] = (values < 0).any(axis=0)
    out["has_nan"] = np.isnan(values).any(axis=0)
    return out


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(_stats, "BLOCK_VALUES", 1000)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("expm1", [False, True])
def test_group_sums_equal_reference(fmt, dtype, expm1):
    values = make_values(1, dtype)
    rng = np.random.default_rng(2)
    codes = rng.integers(-1, 6, N_CELLS)  # −1: no group
    want = reference(values, codes, 6)
    got = group_sums(as_format(values, fmt), codes, 6, expm1)
    for key, expected in want.items():
        if key == "sum_expm1" and not expm1:
            assert got[key] is None
        elif expected.dtype == bool:
            np.testing.assert_array_equal(got[key], expected, err_msg=key)
        elif key == "nnz":
            np.testing.assert_array_equal(got[key], expected, err_msg=key)
        else:
            np.testing.assert_allclose(got[key], expected, rtol=RTOL, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("fmt", FORMATS)
def test_group_sums_columns_subset(fmt):
    values = make_values(3)
    codes = np.random.default_rng(4).integers(-1, 4, N_CELLS)
    columns = np.array([9, 2, 9, 36, 0, 5])  # unsorted, with a repeat
    whole = group_sums(as_format(values, fmt), codes, 4, True)
    subset = group_sums(as_format(values, fmt), codes, 4, True, columns)
    for key, value in whole.items():
        # Blocks fall elsewhere in the subset: the summation order may differ
        np.testing.assert_allclose(subset[key], value[..., columns], rtol=RTOL, err_msg=key)


@pytest.mark.parametrize("fmt", FORMATS)
def test_group_sums_nan_and_no_cells(fmt):
    values = make_values(5)
    values[[4, 200], 7] = np.nan
    codes = np.full(N_CELLS, -1)
    got = group_sums(as_format(values, fmt, stored_zeros=False), codes, 2, False)
    assert np.flatnonzero(got["has_nan"]).tolist() == [7]
    np.testing.assert_array_equal(got["sum"], 0)
    np.testing.assert_array_equal(got["nnz"], 0)
    ok = ~got["has_nan"]
    np.testing.assert_allclose(
        got["total_sum"][ok], values[:, ok].astype(np.float64).sum(axis=0), rtol=RTOL, atol=1e-9
    )


def labelled_adata(values: np.ndarray, fmt: str) -> ad.AnnData:
    rng = np.random.default_rng(6)
    cluster = pd.Categorical(rng.choice(["c0", "c1", "c2", "c3"], N_CELLS))
    cluster[rng.random(N_CELLS) < 0.05] = np.nan
    batch = pd.Categorical(rng.choice(["b0", "b1"], N_CELLS))
    batch[rng.random(N_CELLS) < 0.05] = np.nan
    sample = pd.Categorical(rng.choice(["s2", "s0", "s1"], N_CELLS), categories=["s2", "s0", "s1"])
    obs = pd.DataFrame(
        {"cluster": cluster, "batch": batch, "sample": sample},
        index=[f"c{i}" for i in range(N_CELLS)],
    )
    var = pd.DataFrame(index=[f"g{j}" for j in range(N_GENES)])
    return ad.AnnData(as_format(values, fmt), obs=obs, var=var)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "groupby", [["cluster"], ["cluster", "batch"], ["batch", "cluster", "sample"]]
)
@pytest.mark.parametrize("genes", [None, ["g9", "g2", "g7", "g30"]])
def test_adapter_group_stats_equal_reference(fmt, groupby, genes):
    values = make_values(7)
    values[11, 7] = np.nan  # g7 is left out (excluded_genes)
    adata = labelled_adata(values, fmt)
    table, result = AnnDataAdapter(adata).group_stats("X", groupby, genes=genes, expm1=True)
    assert "g7" in result["excluded_genes"]
    names = [g for g in (genes or list(adata.var_names)) if g != "g7"]
    positions = adata.var_names.get_indexer(names)
    assert table.column("gene").to_pylist() == names
    # The groups: non-empty combinations of labels, cells with a missing label in none
    labels = adata.obs[groupby].astype(str).agg(" | ".join, axis=1)
    missing = adata.obs[groupby].isna().any(axis=1).to_numpy()
    group_labels = [" | ".join(group["labels"]) for group in result["groups"]]
    lookup = {label: i for i, label in enumerate(group_labels)}
    codes = np.array([-1 if m else lookup[label] for label, m in zip(labels, missing, strict=True)])
    assert [group["n"] for group in result["groups"]] == np.bincount(codes[codes >= 0]).tolist()
    # In category order, the first column outermost (as sc.get.aggregate)
    order = [
        tuple(
            list(adata.obs[c].cat.categories).index(v)
            for c, v in zip(groupby, g["labels"], strict=True)
        )
        for g in result["groups"]
    ]
    assert order == sorted(order)
    want = reference(values[:, positions], codes, len(group_labels))
    for i in range(len(group_labels)):
        for stat, key in (
            ("sum", "sum"),
            ("sumsq", "sum_sq"),
            ("nnz", "nnz"),
            ("sumexpm1", "sum_expm1"),
        ):
            np.testing.assert_allclose(
                table.column(f"{stat}:{i}").to_numpy(), want[key][i], rtol=RTOL, atol=1e-9
            )
    for column, key in (("total_sum", "total_sum"), ("total_sumsq", "total_sum_sq")):
        np.testing.assert_allclose(table.column(column).to_numpy(), want[key], rtol=RTOL, atol=1e-9)
    assert result["has_negative"] is True
    assert result["n_cells_total"] == N_CELLS


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("genes", [[], ["not_a_gene"]])
def test_adapter_group_stats_of_no_genes(fmt, genes):
    # An empty gene list (or none the matrix holds) is a valid request, as in fetch: groups,
    # totals and an empty table, not an error. CSR once failed: a position map of -1 in uint8.
    adata = labelled_adata(make_values(3), fmt)
    table, result = AnnDataAdapter(adata).group_stats("X", ["cluster"], genes=genes, expm1=True)
    whole, everything = AnnDataAdapter(adata).group_stats("X", ["cluster"], expm1=True)
    assert table.num_rows == result["n_genes"] == 0
    assert table.column_names == whole.column_names
    assert result["missing"] == genes
    assert result["groups"] == everything["groups"]
    assert result["n_cells_total"] == adata.n_obs


@pytest.mark.parametrize("n_categories", [1, 5, 127, 128, 300])
@pytest.mark.parametrize("ordered", [False, True])
def test_drop_unused_categories_equals_pandas(n_categories: int, ordered: bool) -> None:
    """Counting the codes gives pandas' ``remove_unused_categories``, missing labels and the
    widest codes of each code type included."""
    from exprscope.compute._matrix import drop_unused_categories

    rng = np.random.default_rng(n_categories)
    categories = [f"c{k}" for k in range(n_categories)]
    used = categories[::3] + categories[-1:]  # the last category: the largest code
    values = rng.choice(np.array([*used, None], dtype=object), size=2_000)
    categorical = pd.Categorical(values, categories=categories, ordered=ordered)
    ours = drop_unused_categories(categorical)
    theirs = categorical.remove_unused_categories()
    assert list(ours.categories) == list(theirs.categories)
    np.testing.assert_array_equal(ours.codes, theirs.codes)
    assert ours.ordered == ordered
    # Nothing unused: the same object back
    assert drop_unused_categories(theirs) is theirs
