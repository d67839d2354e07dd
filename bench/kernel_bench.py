"""Kernel-only part of ``make bench``: condition comparisons against the pipelines users write
by hand, timed in the same run (no browser involved). ``bench/run.py`` runs it in a
subprocess and merges its JSON (the last line of stdout) into the figures.

- ``pseudobulk_de_1m_ratio_vs_by_hand``: ``exprscope.compare(method="pseudobulk")`` over
  10⁶ cells × 20 clusters × 6 samples against ``sc.get.aggregate(func="sum")`` + pydeseq2 per
  cluster, written as a user would;
- ``wilcoxon_markers_100k_ratio_vs_scanpy``: ``exprscope.markers(method="wilcoxon")`` at 10⁵
  cells against ``sc.tl.rank_genes_groups(method="wilcoxon")`` (same top genes checked).

Gene counts are reduced (``DE_GENES``, ``WILCOXON_GENES``) so that scanpy's dense ranking
and the counts layer fit the 2-core, 24 GiB machine in minutes; the sizes are reported.
"""

from __future__ import annotations

import json
import os
import time
import warnings

import numpy as np
import pandas as pd

SIZES = {
    "full": {"de_cells": 1_000_000, "de_genes": 2000, "wx_cells": 100_000, "wx_genes": 2000},
    "smoke": {"de_cells": 20_000, "de_genes": 300, "wx_cells": 20_000, "wx_genes": 300},
}


def _by_hand_pseudobulk_de(adata, reference: str, target: str) -> pd.DataFrame:
    import scanpy as sc
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    summed = sc.get.aggregate(adata, by=["sample", "cluster"], func="sum", layer="counts")
    dataset_of = adata.obs.drop_duplicates("sample").set_index("sample")["dataset"]
    inference = DefaultInference(n_cpus=2)
    frames = []
    for cluster in summed.obs["cluster"].cat.categories:
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
        stats = DeseqStats(
            dds, contrast=["condition", target, reference], inference=inference, quiet=True
        )
        stats.summary()
        frames.append(stats.results_df.assign(cluster=cluster))
    return pd.concat(frames)


def pseudobulk_de(n_cells: int, n_genes: int) -> dict:
    import exprscope
    from exprscope.synthetic import make_synthetic

    adata = make_synthetic(n_cells, n_genes, n_clusters=20, samples_per_dataset=3, seed=0)
    # Imports and first-call costs out of both timings: one small run of each first
    warm = adata[: min(n_cells, 5000), :50].copy()
    _by_hand_pseudobulk_de(warm, "dataset1", "dataset2")
    exprscope.compare(warm, reference="dataset1", dataset_key="dataset", cluster_key="cluster")
    start = time.perf_counter()
    ours = exprscope.compare(
        adata, reference="dataset1", dataset_key="dataset", cluster_key="cluster"
    )
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    theirs = _by_hand_pseudobulk_de(adata, "dataset1", "dataset2")
    theirs_s = time.perf_counter() - start
    joined = ours.merge(
        theirs.reset_index(names="gene"), on=["gene", "cluster"], how="inner", validate="1:1"
    )
    agreement = float(np.nanmax(np.abs(joined["log2fc"] - joined["log2FoldChange"])))
    return {
        "seconds": ours_s,
        "by_hand_s": theirs_s,
        "ratio": ours_s / theirs_s,
        "max_abs_log2fc_difference": agreement,
        "n_cells": n_cells,
        "n_genes": n_genes,
        "clusters": 20,
        "samples": 6,
    }


def wilcoxon_markers(n_cells: int, n_genes: int) -> dict:
    import scanpy as sc

    import exprscope
    from exprscope.synthetic import make_synthetic

    adata = make_synthetic(n_cells, n_genes, n_clusters=20, seed=0, counts=False)
    start = time.perf_counter()
    ours = exprscope.markers(adata, "cluster", n=10, method="wilcoxon")
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.tl.rank_genes_groups(adata, "cluster", method="wilcoxon", n_genes=10)
    scanpy_s = time.perf_counter() - start
    names = adata.uns["rank_genes_groups"]["names"]
    same = np.mean(
        [
            list(ours.loc[ours["group"] == group, "gene"]) == list(names[group])
            for group in names.dtype.names
        ]
    )
    return {
        "seconds": ours_s,
        "scanpy_s": scanpy_s,
        "ratio": ours_s / scanpy_s,
        "share_of_groups_with_same_top10": float(same),
        "n_cells": n_cells,
        "n_genes": n_genes,
    }


def main() -> None:
    size = SIZES["smoke" if os.environ.get("EXPRSCOPE_BENCH_SIZE") == "smoke" else "full"]
    de = pseudobulk_de(size["de_cells"], size["de_genes"])
    wx = wilcoxon_markers(size["wx_cells"], size["wx_genes"])
    print(json.dumps({"pseudobulk_de": de, "wilcoxon_markers": wx}))


if __name__ == "__main__":
    main()
