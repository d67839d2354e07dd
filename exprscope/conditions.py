"""Python API for comparing conditions (datasets) within clusters, across replicates.

- :func:`pseudobulk`: counts summed per sample × cluster (an AnnData, as ``sc.get.aggregate``);
- :func:`compare`: target vs reference dataset within each cluster, by pseudobulk DESeq2
  (``pydeseq2``) when each dataset has replicates, else by a cell-level Wilcoxon test (scanpy's
  ``rank_genes_groups(method='wilcoxon', reference=...)``), with the caveat stated;
- :func:`differential_correlation`: Δr of two genes between two datasets, per cluster, by
  Fisher's z test.

Numbers come from :mod:`exprscope.compute.compare` and :mod:`exprscope.compute.ranksum`; the
tests hold them to pydeseq2, scanpy and scipy run directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .compute._matrix import gene_positions, resolve_matrix, select_columns
from .compute.compare import (
    DESEQ_NOTE,
    PSEUDOBULK,
    WILCOXON,
    WILCOXON_NOTE,
    ComparisonError,
    counts_matrix,
    deseq_contrast,
    fisher_z_difference,
    guess_sample_key,
    pseudobulk_sums,
)
from .compute.markers import benjamini_hochberg, log2_fold_change
from .compute.ranksum import group_rank_sums, rank_sum_test

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = [
    "ComparePlan",
    "CompareStep",
    "ComparisonError",
    "compare",
    "compare_plan",
    "differential_correlation",
    "pseudobulk",
]

RESULT_COLUMNS = [
    "gene",
    "cluster",
    "log2fc",
    "stat",
    "pvalue",
    "padj",
    "n_cells_a",
    "n_cells_b",
    "n_samples_a",
    "n_samples_b",
    "method",
    "note",
]


def _keys(adata: AnnData, dataset_key: str | None, cluster_key: str | None) -> tuple[str, str]:
    from .plot_data import column_guesses

    guesses = column_guesses(adata) if dataset_key is None or cluster_key is None else {}
    dataset_key = dataset_key if dataset_key is not None else guesses.get("dataset")
    cluster_key = cluster_key if cluster_key is not None else guesses.get("cluster")
    if dataset_key is None or cluster_key is None:
        raise ValueError(
            "Give dataset_key= and cluster_key=: no obs column could be guessed for "
            f"{'the dataset' if dataset_key is None else 'the cluster'}."
        )
    for role, key in (("dataset", dataset_key), ("cluster", cluster_key)):
        if key not in adata.obs.columns:
            raise KeyError(
                f"Unknown {role} column {key!r}; obs columns are "
                f"{list(map(str, adata.obs.columns))}."
            )
    return dataset_key, cluster_key


def _levels(column: pd.Series) -> list[str]:
    present = column.dropna().astype(str)
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [str(c) for c in column.cat.categories if str(c) in set(present)]
    return sorted(set(present))


def pseudobulk(
    adata: AnnData,
    *,
    sample_key: str | None = None,
    dataset_key: str | None = None,
    cluster_key: str | None = None,
    layer: str | None = None,
    genes: Sequence[str] | None = None,
) -> AnnData:
    """Raw counts summed per sample × cluster.

    The counts are ``layers[layer]``, else a layer named ``counts`` / ``raw_counts`` /
    ``umi_counts``, else ``raw`` or ``X`` when they hold integers; log-normalised or scaled
    values are refused with a ValueError. Samples must nest in datasets (each sample belongs to
    one dataset). The sums run through the kernel's per-group statistics, so backed and
    Dask-backed objects are summed out of core.

    Returns
    -------
    anndata.AnnData
        One observation per sample × cluster with cells: obs ``sample``, ``dataset``,
        ``cluster``, ``n_cells``; X the sums (float64 holding integers); var the genes;
        ``uns['exprscope_pseudobulk']['matrix']`` the matrix summed.
    """
    import anndata as ad

    dataset_key, cluster_key = _keys(adata, dataset_key, cluster_key)
    sample_key = sample_key or guess_sample_key(adata.obs, dataset_key)
    if sample_key is None:
        raise ValueError("Give sample_key=: no sample (replicate, donor) column could be guessed.")
    matrix = counts_matrix(adata, layer)
    bulk = pseudobulk_sums(
        adata,
        sample_key=sample_key,
        dataset_key=dataset_key,
        cluster_key=cluster_key,
        matrix=matrix,
        genes=genes,
    )
    obs = bulk.obs.copy()
    obs.index = [f"{s} · {c}" for s, c in zip(obs["sample"], obs["cluster"], strict=True)]
    for column in ("sample", "dataset", "cluster"):
        obs[column] = pd.Categorical(obs[column])
    return ad.AnnData(
        X=bulk.sums,
        obs=obs,
        var=pd.DataFrame(index=pd.Index(bulk.genes)),
        uns={
            "exprscope_pseudobulk": {
                "matrix": matrix,
                "sample_key": sample_key,
                "dataset_key": dataset_key,
                "cluster_key": cluster_key,
            }
        },
    )


def compare(
    adata: AnnData,
    *,
    reference: str,
    target: str | None = None,
    dataset_key: str | None = None,
    cluster_key: str | None = None,
    sample_key: str | None = None,
    method: str | None = None,
    clusters: Sequence[str] | None = None,
    genes: Sequence[str] | None = None,
    min_cells: int = 10,
    layer: str | None = None,
    use_raw: bool | None = None,
) -> pd.DataFrame:
    """Target vs reference dataset within each cluster, one row per gene × cluster.

    ``method="pseudobulk"`` (the default when a sample column is given or guessed): counts
    summed per sample × cluster (:func:`pseudobulk`), samples with fewer than ``min_cells``
    cells dropped, then pydeseq2's Wald test (design ``~condition``) per cluster; a cluster
    needs ≥ 2 samples in each dataset. ``method="wilcoxon"``: scanpy's cell-level rank-sum test
    of the cluster's target cells against its reference cells on the log-normalised matrix
    (``layer``/``use_raw``, scanpy's rules); it treats cells as replicates, which they are not,
    and says so in ``note``. Clusters with fewer than ``min_cells`` cells (or, for
    pseudobulk, 2 samples) in either dataset get NaN statistics and a ``note``.

    ``genes`` chooses the rows returned. Pseudobulk fits DESeq2 on every gene all the same
    (its size factors and dispersions are estimated across genes), so a gene's numbers do not
    depend on which others were asked for. The Wilcoxon test tests only ``genes``, and ``padj``
    is then Benjamini–Hochberg over them (as scanpy's ``mask_var``).

    Returns
    -------
    pandas.DataFrame
        ``gene``, ``cluster``, ``log2fc`` (target over reference), ``stat``, ``pvalue``,
        ``padj`` (BH within the cluster), ``n_cells_a``/``n_cells_b`` (reference/target),
        ``n_samples_a``/``n_samples_b``, ``method``, ``note``; ``attrs`` hold the matrix, the
        method's caveat and the columns used.
    """
    plan = compare_plan(
        adata,
        **resolve_comparison(
            adata,
            reference=reference,
            target=target,
            dataset_key=dataset_key,
            cluster_key=cluster_key,
            sample_key=sample_key,
            method=method,
            clusters=clusters,
        ),
        genes=genes,
        min_cells=min_cells,
        layer=layer,
        use_raw=use_raw,
    )
    return plan.finish([step.run() for step in plan.steps])


def resolve_comparison(
    adata: AnnData,
    *,
    reference: str,
    target: str | None = None,
    dataset_key: str | None = None,
    cluster_key: str | None = None,
    sample_key: str | None = None,
    method: str | None = None,
    clusters: Sequence[str] | None = None,
) -> dict[str, Any]:
    """:func:`compare`'s arguments checked and completed (columns guessed, the target and the
    method chosen, clusters as labels): the keyword arguments of :func:`compare_plan`.
    Raises :class:`ComparisonError` for a comparison that cannot be made."""
    dataset_key, cluster_key = _keys(adata, dataset_key, cluster_key)
    obs = adata.obs
    datasets = _levels(obs[dataset_key])
    reference, target = str(reference), None if target is None else str(target)
    if reference not in datasets:
        raise ComparisonError(
            f"Reference dataset {reference!r} is not in {dataset_key!r}; its datasets are "
            f"{datasets}.",
            argument="reference",
        )
    if target is None:
        others = [d for d in datasets if d != reference]
        if len(others) != 1:
            raise ComparisonError(
                f"Give target=: {dataset_key!r} has {len(others)} datasets besides the "
                f"reference ({others}).",
                argument="target",
            )
        target = others[0]
    if target not in datasets or target == reference:
        raise ComparisonError(
            f"Target dataset {target!r} must be another dataset of {dataset_key!r}: {datasets}.",
            argument="target",
        )
    if sample_key is None and method in (None, PSEUDOBULK):
        sample_key = guess_sample_key(obs, dataset_key)
    if method is None:
        method = PSEUDOBULK if sample_key is not None else WILCOXON
    if method not in (PSEUDOBULK, WILCOXON):
        raise ComparisonError(
            f"method must be 'pseudobulk' or 'wilcoxon', not {method!r}.", argument="method"
        )
    all_clusters = _levels(obs[cluster_key])
    chosen = all_clusters if clusters is None else [str(c) for c in clusters]
    unknown = [c for c in chosen if c not in all_clusters]
    if unknown:
        raise ComparisonError(
            f"Unknown clusters {unknown}; {cluster_key!r} has {all_clusters}.",
            argument="clusters",
        )
    return {
        "reference": reference,
        "target": target,
        "dataset_key": dataset_key,
        "cluster_key": cluster_key,
        "sample_key": sample_key,
        "method": method,
        "clusters": chosen,
    }


@dataclass
class CompareStep:
    """One cluster's test: ``run()`` returns its rows. ``reads_object`` is False when the
    step only uses data copied out of the object (pseudobulk counts), so it may run while
    user code runs (the comm service runs such steps on a worker thread)."""

    cluster: str
    run: Callable[[], pd.DataFrame]
    reads_object: bool


@dataclass
class ComparePlan:
    """What :func:`compare` runs: one step per cluster, then :meth:`finish`."""

    steps: list[CompareStep]
    attrs: dict[str, Any]

    def finish(self, frames: list[pd.DataFrame]) -> pd.DataFrame:
        frame = (
            pd.concat(frames, ignore_index=True)
            if frames
            else _empty_result([], "", self.attrs["method"]).iloc[0:0]
        )
        frame.attrs.update(self.attrs)
        return frame


def compare_plan(
    adata: AnnData,
    *,
    reference: str,
    target: str,
    dataset_key: str,
    cluster_key: str,
    sample_key: str | None,
    method: str,
    clusters: list[str],
    genes: Sequence[str] | None,
    min_cells: int,
    layer: str | None,
    use_raw: bool | None,
    counts: str | None = None,
) -> ComparePlan:
    """The checked, per-cluster plan of :func:`compare` (arguments already resolved): reads
    what every step needs that is shared (the pseudobulk sums) and raises on bad input before
    any test runs. ``counts`` names the counts matrix id for pseudobulk (default: guessed from
    ``layer`` as :func:`~.compute.compare.counts_matrix` does)."""
    comparison = _Comparison(
        reference, target, dataset_key, cluster_key, sample_key, clusters, genes, min_cells
    )
    if method == PSEUDOBULK:
        steps, matrix = _pseudobulk_steps(adata, comparison, counts or counts_matrix(adata, layer))
        caveat = DESEQ_NOTE
    else:
        steps, matrix = _wilcoxon_steps(adata, comparison, layer, use_raw)
        caveat = WILCOXON_NOTE
    attrs = {
        "matrix": matrix,
        "method": method,
        "caveat": caveat,
        "reference": reference,
        "target": target,
        "dataset_key": dataset_key,
        "cluster_key": cluster_key,
        "sample_key": sample_key,
    }
    return ComparePlan(steps=steps, attrs=attrs)


@dataclass(frozen=True)
class _Comparison:
    """What the per-cluster steps of :func:`compare_plan` read of its (resolved) arguments."""

    reference: str
    target: str
    dataset_key: str
    cluster_key: str
    sample_key: str | None
    clusters: list[str]
    genes: Sequence[str] | None
    min_cells: int


def _pseudobulk_steps(
    adata: AnnData, comparison: _Comparison, matrix: str
) -> tuple[list[CompareStep], str]:
    reference, target, sample_key = comparison.reference, comparison.target, comparison.sample_key
    min_cells = comparison.min_cells
    if sample_key is None:
        raise ComparisonError(
            "Pseudobulk needs a sample (replicate, donor) column with ≥ 2 samples per dataset; "
            "none was given or guessed. Give sample_key=, or use method='wilcoxon' (cells as "
            "replicates, which they are not).",
            argument="sample_key",
            suggest=WILCOXON,
        )
    # DESeq2 sees every gene whatever `genes` asks for: its size factors (median of ratios)
    # and dispersion trend are estimated across genes, and on a handful they are not the
    # test's (log2FC off by ~0.2, padj by orders of magnitude). `genes` picks the rows.
    bulk = pseudobulk_sums(
        adata,
        sample_key=sample_key,
        dataset_key=comparison.dataset_key,
        cluster_key=comparison.cluster_key,
        matrix=matrix,
        genes=None,
    )
    rows_of = _gene_rows(bulk.genes, comparison.genes, matrix)
    per_dataset = bulk.obs[bulk.obs["dataset"].isin([reference, target])]
    samples = per_dataset.groupby("dataset")["sample"].nunique()
    if samples.get(reference, 0) < 2 or samples.get(target, 0) < 2:
        raise ComparisonError(
            f"Pseudobulk needs ≥ 2 samples per dataset, but {sample_key!r} has "
            f"{int(samples.get(reference, 0))} in {reference!r} and "
            f"{int(samples.get(target, 0))} in {target!r}. Use method='wilcoxon' (cells as "
            "replicates, which they are not) or add replicates.",
            argument="method",
            suggest=WILCOXON,
        )

    def step(cluster: str) -> CompareStep:
        rows = bulk.obs.index[
            (bulk.obs["cluster"] == cluster) & bulk.obs["dataset"].isin([reference, target])
        ]
        groups = bulk.obs.loc[rows]
        n_cells = groups.groupby("dataset")["n_cells"].sum()
        enough = groups[groups["n_cells"] >= min_cells]
        n_samples = enough.groupby("dataset")["sample"].nunique()
        # Copies: the step must not read the object (it may run beside user code).
        counts = pd.DataFrame(
            bulk.sums[enough.index.to_numpy()].astype(np.int64),
            index=[f"{s}" for s in enough["sample"]],
            columns=bulk.genes,
        )
        condition = enough["dataset"].copy()

        def run() -> pd.DataFrame:
            return rows_of(fit())

        def fit() -> pd.DataFrame:
            frame = _empty_result(bulk.genes, cluster, PSEUDOBULK)
            frame["n_cells_a"] = int(n_cells.get(reference, 0))
            frame["n_cells_b"] = int(n_cells.get(target, 0))
            frame["n_samples_a"] = int(n_samples.get(reference, 0))
            frame["n_samples_b"] = int(n_samples.get(target, 0))
            if n_samples.get(reference, 0) < 2 or n_samples.get(target, 0) < 2:
                frame["note"] = (
                    f"fewer than 2 samples with ≥ {min_cells} cells in {reference!r} or {target!r}"
                )
                return frame
            result = deseq_contrast(counts, condition, reference, target)
            frame["log2fc"] = result["log2FoldChange"].to_numpy()
            frame["stat"] = result["stat"].to_numpy()
            frame["pvalue"] = result["pvalue"].to_numpy()
            frame["padj"] = result["padj"].to_numpy()
            return frame

        return CompareStep(cluster=cluster, run=run, reads_object=False)

    return [step(cluster) for cluster in comparison.clusters], matrix


def _wilcoxon_steps(
    adata: AnnData, comparison: _Comparison, layer: str | None, use_raw: bool | None
) -> tuple[list[CompareStep], str]:
    reference, target, sample_key = comparison.reference, comparison.target, comparison.sample_key
    genes, min_cells = comparison.genes, comparison.min_cells
    choice = resolve_matrix(adata, layer, use_raw)
    if genes is None:
        data, names = choice.data, [str(g) for g in choice.var_names]
    else:
        gene_list = list(dict.fromkeys(genes))
        data = select_columns(choice.data, gene_positions(choice, gene_list))
        names = gene_list
    dataset = adata.obs[comparison.dataset_key].astype(str).to_numpy()
    cluster = adata.obs[comparison.cluster_key].astype(str).to_numpy()
    sample = None if sample_key is None else adata.obs[sample_key].astype(str).to_numpy()
    log_base = adata.uns.get("log1p", {}).get("base")

    def step(label: str) -> CompareStep:
        def run() -> pd.DataFrame:
            in_cluster = cluster == label
            cells = np.flatnonzero(in_cluster & np.isin(dataset, [reference, target]))
            is_target = dataset[cells] == target
            n_b, n_a = int(is_target.sum()), int((~is_target).sum())
            frame = _empty_result(names, label, WILCOXON)
            frame["n_cells_a"], frame["n_cells_b"] = n_a, n_b
            if sample is not None:
                frame["n_samples_a"] = len(set(sample[cells[~is_target]]))
                frame["n_samples_b"] = len(set(sample[cells[is_target]]))
            if n_a < min_cells or n_b < min_cells:
                frame["note"] = f"fewer than {min_cells} cells in {reference!r} or {target!r}"
                return frame
            block = data[cells]
            codes = is_target.astype(np.int64)  # 0: reference, 1: target
            sums = group_rank_sums(block, codes, 2)
            z, p = rank_sum_test(sums.rank_sum[1], sums.n[1], sums.n_total)
            means = [
                np.asarray(block[codes == g].mean(axis=0), dtype=np.float64).ravel() for g in (0, 1)
            ]
            frame["log2fc"] = log2_fold_change(means[1], means[0], log_base)
            frame["stat"], frame["pvalue"], frame["padj"] = z, p, benjamini_hochberg(p)
            frame["note"] = WILCOXON_NOTE
            return frame

        return CompareStep(cluster=label, run=run, reads_object=True)

    return [step(label) for label in comparison.clusters], choice.label


def _gene_rows(
    names: Sequence[str], genes: Sequence[str] | None, matrix: str
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """The rows of ``genes`` (all rows for None) from a per-gene result over ``names``;
    a KeyError names genes the matrix does not hold."""
    if genes is None:
        return lambda frame: frame
    position = {str(name): i for i, name in enumerate(names)}
    wanted = list(dict.fromkeys(genes))
    missing = [gene for gene in wanted if gene not in position]
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        raise KeyError(f"Not in {matrix}: {shown}.")
    rows = np.array([position[gene] for gene in wanted], dtype=np.intp)
    return lambda frame: frame.iloc[rows].reset_index(drop=True)


def _empty_result(genes: Sequence[str], cluster: str, method: str) -> pd.DataFrame:
    n = len(genes)
    frame = pd.DataFrame(
        {
            "gene": list(genes),
            "cluster": str(cluster),
            "log2fc": np.full(n, np.nan),
            "stat": np.full(n, np.nan),
            "pvalue": np.full(n, np.nan),
            "padj": np.full(n, np.nan),
            "n_cells_a": 0,
            "n_cells_b": 0,
            "n_samples_a": pd.array([pd.NA] * n, dtype="Int64"),
            "n_samples_b": pd.array([pd.NA] * n, dtype="Int64"),
            "method": method,
            "note": "",
        }
    )
    return frame[RESULT_COLUMNS]


def differential_correlation(
    adata: AnnData,
    gene_x: str,
    gene_y: str,
    *,
    reference: str,
    target: str,
    dataset_key: str | None = None,
    cluster_key: str | None = None,
    layer: str | None = None,
    use_raw: bool | None = None,
    detected_only: bool = False,
) -> pd.DataFrame:
    """Δr of two genes' Pearson correlation, target minus reference dataset, overall and in
    each cluster: Fisher's z test for independent correlations (two-sided p) and Zou's (2007)
    95% interval for Δr.

    Returns
    -------
    pandas.DataFrame
        ``cluster`` ("all" for every cell), ``r_a``/``n_a`` (reference), ``r_b``/``n_b``
        (target), ``delta_r`` (r_b − r_a), ``delta_r_ci_low``, ``delta_r_ci_high``, ``z``,
        ``p``. NaN where a side has ≤ 3 cells or a constant gene.
    """
    from .api import correlate

    dataset_key, cluster_key = _keys(adata, dataset_key, cluster_key)
    datasets = _levels(adata.obs[dataset_key])
    for role, value in (("reference", reference), ("target", target)):
        if str(value) not in datasets:
            raise ValueError(
                f"{role.capitalize()} dataset {value!r} is not in {dataset_key!r}: {datasets}."
            )
    options = {"layer": layer, "use_raw": use_raw, "detected_only": detected_only, "n_boot": 0}
    overall = correlate(adata, gene_x, gene_y, dataset_key, **options)
    crossed = correlate(adata, gene_x, gene_y, [dataset_key, cluster_key], **options)
    rows = []

    def pick(frame: pd.DataFrame, label: str) -> tuple[float, float]:
        hit = frame[frame["group"] == label]
        if hit.empty:
            return np.nan, 0.0
        return float(hit["pearson_r"].iloc[0]), float(hit["n_cells"].iloc[0])

    rows.append(("all", *pick(overall, str(reference)), *pick(overall, str(target))))
    for cluster in _levels(adata.obs[cluster_key]):
        rows.append(
            (
                cluster,
                *pick(crossed, f"{reference} · {cluster}"),
                *pick(crossed, f"{target} · {cluster}"),
            )
        )
    frame = pd.DataFrame(rows, columns=["cluster", "r_a", "n_a", "r_b", "n_b"])
    frame["n_a"] = frame["n_a"].astype(int)
    frame["n_b"] = frame["n_b"].astype(int)
    test = fisher_z_difference(frame["r_b"], frame["n_b"], frame["r_a"], frame["n_a"])
    for key, values in test.items():
        frame[key] = values
    frame.attrs.update(
        {
            "matrix": overall.attrs.get("matrix"),
            "genes": (gene_x, gene_y),
            "reference": str(reference),
            "target": str(target),
            "test": "Fisher z for independent correlations; 95% CI by Zou (2007)",
        }
    )
    return frame
