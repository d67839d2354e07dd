"""exprscope.compare's pseudobulk DE (pydeseq2) against R's DESeq2 on the same counts.

Two implementations of one model: DESeq2 (Bioconductor, the reference) and pydeseq2 (a port
whose dispersion-trend and MAP fits use other optimisers), so they agree closely but not to
the last digit. The bar here: log2 fold changes within 0.02 for every gene with a mean above
10 counts, correlated above 0.999 overall, and the same genes called at padj < 0.05 (up to
one). R runs as a separate ``Rscript`` with a constant script; the data travel as CSV files.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import exprscope
from exprscope.synthetic import make_synthetic

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(DESeq2))
counts <- as.matrix(read.csv(args[[1]], row.names = 1, check.names = FALSE))
coldata <- read.csv(args[[2]], row.names = 1, stringsAsFactors = FALSE)
coldata$condition <- factor(coldata$condition, levels = c(args[[3]], args[[4]]))
dds <- DESeqDataSetFromMatrix(countData = t(counts), colData = coldata, design = ~condition)
dds <- DESeq(dds, quiet = TRUE)
res <- results(dds, contrast = c("condition", args[[4]], args[[3]]))
write.csv(as.data.frame(res), args[[5]])
"""


def _deseq2_installed() -> bool:
    if shutil.which("Rscript") is None:
        return False
    check = ["Rscript", "-e", 'quit(status = !requireNamespace("DESeq2", quietly = TRUE))']
    return subprocess.run(check, capture_output=True, check=False).returncode == 0


pytestmark = pytest.mark.skipif(not _deseq2_installed(), reason="R with DESeq2 not installed")


def test_pseudobulk_de_agrees_with_r_deseq2(tmp_path: Path):
    adata = make_synthetic(6000, 600, n_clusters=3, samples_per_dataset=3, seed=1)
    ours = exprscope.compare(
        adata, reference="dataset1", dataset_key="dataset", cluster_key="cluster", clusters=["0"]
    ).set_index("gene")
    bulk = exprscope.pseudobulk(adata)
    cluster = (bulk.obs["cluster"] == "0").to_numpy()
    counts = pd.DataFrame(
        bulk.X[cluster].astype(np.int64),
        index=bulk.obs["sample"][cluster].astype(str),
        columns=bulk.var_names,
    )
    metadata = pd.DataFrame(
        {"condition": bulk.obs["dataset"][cluster].astype(str).to_numpy()}, index=counts.index
    )
    paths = [tmp_path / name for name in ("counts.csv", "coldata.csv", "script.R", "res.csv")]
    counts.to_csv(paths[0])
    metadata.to_csv(paths[1])
    paths[2].write_text(R_SCRIPT)
    subprocess.run(
        [
            "Rscript",
            str(paths[2]),
            str(paths[0]),
            str(paths[1]),
            "dataset1",
            "dataset2",
            str(paths[3]),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    theirs = pd.read_csv(paths[3], index_col=0)
    joined = ours.join(theirs, how="inner", lsuffix="_py", rsuffix="_r")
    assert len(joined) == len(ours)
    expressed = joined[joined["baseMean"] > 10]
    assert len(expressed) > 50
    np.testing.assert_allclose(expressed["log2fc"], expressed["log2FoldChange"], atol=0.02)
    finite = joined.dropna(subset=["log2fc", "log2FoldChange"])
    assert np.corrcoef(finite["log2fc"], finite["log2FoldChange"])[0, 1] > 0.999
    called_ours = set(joined.index[joined["padj_py"] < 0.05])
    called_theirs = set(joined.index[joined["padj_r"] < 0.05])
    assert called_ours and len(called_ours ^ called_theirs) <= 1
