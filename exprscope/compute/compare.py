"""Condition comparisons within clusters: pseudobulk sums, pseudobulk DE (pydeseq2), cell-level
Wilcoxon, and differential correlation (kernel side of ``exprscope.compare`` and friends).

Statistics come from the libraries made for them: DESeq2's model from ``pydeseq2``, run on the
pseudobulk counts exactly as a user would run it by hand; the Wilcoxon test is scanpy's (see
:mod:`.ranksum`, held to scanpy by the tests). Pseudobulk sums go through the adapters'
``group_stats`` (the per-group sufficient statistics of the kernel path), so backed, Dask and
SOMA-backed objects are summed where they live.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

if TYPE_CHECKING:
    from anndata import AnnData

#: Layers looked for, in order, when no counts layer is named.
COUNTS_LAYER_NAMES = ("counts", "raw_counts", "umi_counts")
PSEUDOBULK = "pseudobulk"
WILCOXON = "wilcoxon"
WILCOXON_NOTE = (
    "cell-level Wilcoxon rank-sum: cells are not independent replicates, so p values overstate "
    "the evidence for a difference between conditions"
)
#: DESeq2 p values come from pydeseq2 (Wald test, Cook's outlier refit, independent filtering).
DESEQ_NOTE = "pseudobulk DESeq2 (pydeseq2, Wald test, design ~condition)"


class ComparisonError(ValueError):
    """A comparison that cannot be made as asked (a user's mistake or data that do not allow
    it): the message says why. ``argument`` names the argument to change and ``suggest`` a
    value that would work (e.g. ``method="wilcoxon"`` without replicates)."""

    def __init__(self, message: str, argument: str | None = None, suggest: str | None = None):
        super().__init__(message)
        self.argument = argument
        self.suggest = suggest


@dataclass(frozen=True)
class Pseudobulk:
    """Sums of counts per (sample, cluster) group: ``sums`` is groups × genes."""

    sums: np.ndarray
    obs: pd.DataFrame  # sample, dataset, cluster, n_cells; one row per group with cells
    genes: list[str]
    matrix: str


def guess_sample_key(obs: pd.DataFrame, dataset_key: str | None) -> str | None:
    """The sample column ``describe`` guesses (:func:`~exprscope.adapters.anndata.guess_sample`)
    for these obs columns and this dataset column."""
    from ..adapters._describe import SAMPLE_COLUMN_NAMES, _describe_obs_column, guess_sample

    wanted = {*SAMPLE_COLUMN_NAMES, str(dataset_key).lower()}
    described = [
        _describe_obs_column(str(name), column)
        for name, column in obs.items()
        if str(name).lower() in wanted
    ]
    return guess_sample(described, dataset_key)


def counts_matrix(adata: AnnData, layer: str | None = None) -> str:
    """The matrix id (``layers/<name>``, ``raw`` or ``X``) that holds raw counts: the given
    layer, else the first of :data:`COUNTS_LAYER_NAMES`, else ``raw`` or ``X`` when their
    stored values are integers. Raises ValueError when there is none."""
    if layer is not None:
        if layer not in adata.layers:
            raise KeyError(f"No layer {layer!r}; available layers: {sorted(adata.layers.keys())}.")
        return f"layers/{layer}"
    for name in COUNTS_LAYER_NAMES:
        if name in adata.layers:
            return f"layers/{name}"
    checked = []
    if adata.raw is not None:
        checked.append("raw")
        if _looks_like_counts(adata.raw.X):
            return "raw"
    checked.append("X")
    if _looks_like_counts(adata.X):
        return "X"
    raise ComparisonError(
        "Pseudobulk needs raw counts, but this object has no counts layer (looked for "
        f"{', '.join(repr(n) for n in COUNTS_LAYER_NAMES)}) and {' and '.join(checked)} hold "
        "non-integer or negative values (log-normalised or scaled). Add the counts, e.g. "
        "adata.layers['counts'], or use method='wilcoxon' on the log-normalised values.",
        argument="counts",
        suggest=WILCOXON,
    )


def _looks_like_counts(data: Any, n_cells: int = 2000) -> bool:
    """Whether the stored values of the first ``n_cells`` cells are non-negative integers
    (counts, not log-normalised or scaled values)."""
    from scipy import sparse

    try:
        block = data[: min(data.shape[0], n_cells)]
        values = block.data if sparse.issparse(block) else np.asarray(block)
    except (TypeError, ValueError, IndexError):  # a matrix that cannot be sliced
        return False
    values = np.asarray(values).ravel()
    if values.size == 0:
        return False
    return bool(np.all(values >= 0) and np.all(np.mod(values, 1) == 0))


def pseudobulk_sums(
    adata: AnnData,
    *,
    sample_key: str,
    dataset_key: str,
    cluster_key: str,
    matrix: str,
    genes: Sequence[str] | None = None,
) -> Pseudobulk:
    """Sums of ``matrix`` per sample × cluster, each sample's dataset alongside (samples must
    nest in datasets). Checks that the sums are non-negative integers (counts)."""
    from ..adapters.base import GROUP_STATS, adapter_for, group_stat_column

    obs = adata.obs
    for role, key in (("sample", sample_key), ("dataset", dataset_key), ("cluster", cluster_key)):
        if key not in obs.columns:
            raise KeyError(
                f"Unknown {role} column {key!r}; obs columns are {list(map(str, obs.columns))}."
            )
    nesting = (
        pd.DataFrame({"s": obs[sample_key].astype(str), "d": obs[dataset_key].astype(str)})
        .drop_duplicates()
        .groupby("s")["d"]
        .agg(list)
    )
    crossing = nesting[nesting.map(len) > 1]
    if len(crossing):
        raise ComparisonError(
            f"Samples must belong to one dataset each, but {list(crossing.index[:5])} of "
            f"{sample_key!r} occur in several datasets of {dataset_key!r}; give a sample column "
            "whose labels are unique per dataset (e.g. donor + condition).",
            argument="sample_key",
        )
    adapter = adapter_for(adata)
    if adapter is None:
        raise TypeError(f"Cannot read objects of type {type(adata).__name__}.")
    table, result = adapter.group_stats(
        matrix, [sample_key, cluster_key], None if genes is None else list(dict.fromkeys(genes))
    )
    if result.get("missing"):
        raise KeyError(f"Genes not in {matrix}: {result['missing']}.")
    sums_name = GROUP_STATS[0]
    groups = result["groups"]
    sums = (
        np.vstack(
            [table.column(group_stat_column(sums_name, i)).to_numpy() for i in range(len(groups))]
        )
        if groups
        else np.zeros((0, table.num_rows))
    )
    if sums.size and (np.any(sums < 0) or np.any(np.abs(sums - np.round(sums)) > 1e-6)):
        raise ComparisonError(
            f"Pseudobulk needs raw counts, but {matrix} holds non-integer or negative values "
            "(log-normalised or scaled). Choose the counts layer, or use method='wilcoxon'.",
            argument="counts",
            suggest=WILCOXON,
        )
    dataset_of = {sample: datasets[0] for sample, datasets in nesting.items()}
    frame = pd.DataFrame(
        {
            "sample": [g["labels"][0] for g in groups],
            "dataset": [dataset_of[g["labels"][0]] for g in groups],
            "cluster": [g["labels"][1] for g in groups],
            "n_cells": [int(g["n"]) for g in groups],
        }
    )
    return Pseudobulk(
        sums=np.round(sums),
        obs=frame,
        genes=[str(g) for g in table.column("gene").to_pylist()],
        matrix=matrix,
    )


def deseq_contrast(
    counts: pd.DataFrame, condition: pd.Series, reference: str, target: str
) -> pd.DataFrame:
    """pydeseq2's Wald test of ``target`` vs ``reference`` on pseudobulk ``counts`` (samples ×
    genes) with design ``~condition``: pydeseq2's defaults, nothing re-derived. Returns
    ``results_df`` (baseMean, log2FoldChange, lfcSE, stat, pvalue, padj) by gene."""
    try:
        from pydeseq2.dds import DeseqDataSet
        from pydeseq2.default_inference import DefaultInference
        from pydeseq2.ds import DeseqStats
    except ImportError as error:  # pragma: no cover - the test extra installs it
        raise ImportError(
            "Pseudobulk differential expression needs pydeseq2: pip install 'exprscope[de]' "
            "(or use method='wilcoxon')."
        ) from error
    inference = DefaultInference(n_cpus=max(1, min(2, os.cpu_count() or 1)))
    metadata = pd.DataFrame({"condition": condition.astype(str).to_numpy()}, index=counts.index)
    dds = DeseqDataSet(
        counts=counts, metadata=metadata, design="~condition", inference=inference, quiet=True
    )
    dds.deseq2()
    result = DeseqStats(
        dds, contrast=["condition", target, reference], inference=inference, quiet=True
    )
    result.summary()
    return result.results_df


def fisher_z_difference(
    r_target: np.ndarray,
    n_target: np.ndarray,
    r_reference: np.ndarray,
    n_reference: np.ndarray,
    level: float = 0.95,
) -> dict[str, np.ndarray]:
    """Δr = r_target − r_reference of two independent correlations: Fisher's z test
    z = (atanh r₁ − atanh r₂) / √(1/(n₁ − 3) + 1/(n₂ − 3)) with a two-sided normal p, and
    Zou's (2007) interval for Δr from the two Fisher-z intervals (l, u):
    [Δr − √((r₁ − l₁)² + (u₂ − r₂)²), Δr + √((u₁ − r₁)² + (r₂ − l₂)²)].
    NaN where either group has n ≤ 3 or r is NaN."""
    r1, r2 = np.asarray(r_target, float), np.asarray(r_reference, float)
    n1, n2 = np.asarray(n_target, float), np.asarray(n_reference, float)
    valid = (n1 > 3) & (n2 > 3) & np.isfinite(r1) & np.isfinite(r2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z1 = np.arctanh(np.clip(r1, -1, 1))
        z2 = np.arctanh(np.clip(r2, -1, 1))
        se = np.sqrt(1 / (n1 - 3) + 1 / (n2 - 3))
        z = (z1 - z2) / se
        crit = stats.norm.ppf(0.5 + level / 2)
        l1, u1 = np.tanh(z1 - crit / np.sqrt(n1 - 3)), np.tanh(z1 + crit / np.sqrt(n1 - 3))
        l2, u2 = np.tanh(z2 - crit / np.sqrt(n2 - 3)), np.tanh(z2 + crit / np.sqrt(n2 - 3))
        delta = r1 - r2
        low = delta - np.sqrt((r1 - l1) ** 2 + (u2 - r2) ** 2)
        high = delta + np.sqrt((u1 - r1) ** 2 + (r2 - l2) ** 2)
    p = 2 * stats.norm.sf(np.abs(z))

    def masked(values: np.ndarray) -> np.ndarray:
        return np.where(valid, values, np.nan)

    return {
        "delta_r": masked(delta),
        "delta_r_ci_low": masked(low),
        "delta_r_ci_high": masked(high),
        "z": masked(z),
        "p": masked(p),
    }
