"""Demo data bundled with exprscope.

The module is import-light: :mod:`anndata` is imported only when a dataset is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import anndata

__all__ = ["KANG_PBMC_PATH", "kang_pbmc"]

DATA_DIR = Path(__file__).parent / "data"
KANG_PBMC_PATH = DATA_DIR / "kang_pbmc.h5ad"


def kang_pbmc() -> anndata.AnnData:
    """Real human PBMCs, control vs interferon-beta stimulated (Kang et al. 2018).

    2,000 cells (1,000 control, 1,000 stimulated with IFN-beta for 6 h, from the same
    donors) x 9,015 genes, the data behind Seurat's "ifnb" integration tutorial. Interferon
    response genes (ISG15, IFI6, IFIT1, CXCL10, ...) differ strongly between the two
    datasets, most of all in monocytes.

    Fields
    ------
    ``obs['dataset']``
        Categorical, ``"ctrl"`` then ``"stim"``. ``obs_names`` are the cell barcodes.
    ``obs['cluster']``
        Categorical Leiden clusters with string labels ``"0"``, ``"1"``, ... in numeric order
        (``"0"`` the largest), computed on the integrated (batch-corrected) data so that each
        cluster holds cells of both datasets. 8 clusters, by marker genes roughly: CD14
        monocytes, T cells, B cells, NK / cytotoxic T, FCGR3A monocytes, megakaryocytes,
        dendritic cells, erythrocytes. No cell-type labels are stored.
    ``obs['n_counts']``, ``obs['n_genes']``
        UMIs and detected genes per cell.
    ``X``
        Log-normalised expression of all genes: ``log1p(counts / total * 1e4)``
        (``sc.pp.normalize_total(target_sum=1e4)`` then ``sc.pp.log1p``; Seurat's
        ``LogNormalize``). Sparse CSR, float32.
    ``layers['counts']``
        Raw UMI counts, sparse CSR, float32 (whole numbers).
    ``layers['integrated']``
        Batch-corrected expression: ComBat (``sc.pp.combat``, batch key ``dataset``) on the
        log-normalised values of the 2,000 highly variable genes. Like Seurat's integrated
        assay it covers only those genes. **NaN convention:** the layer is a dense float32
        n_obs x n_vars matrix whose columns for genes outside the integrated set are all NaN;
        exprscope reports such genes as missing from this matrix instead of showing zeros.
        Values can be negative, so "fraction expressing" is meaningless on this layer. ComBat
        removes most of each gene's ctrl/stim difference, the interferon response included:
        compare datasets on ``X``, use this layer for cluster-level views.
    ``var['integrated']``
        Boolean, True for the genes the integrated layer covers (finite there).
    ``obsm['X_pca']``, ``obsm['X_umap']``
        PCA (50 components) of the scaled integrated matrix and the UMAP built from it.
    ``uns['exprscope']``
        Provenance: ``layer_genes`` (``{'integrated': 'var:integrated'}``, the machine-readable
        form of the NaN convention), source, citation, licence, build parameters and software
        versions. No stored marker genes (``uns['rank_genes_groups']``) are shipped.

    Source and licence
    ------------------
    Kang HM, Subramaniam M, Targ S, et al. Multiplexed droplet single-cell RNA-sequencing
    using natural genetic variation. *Nature Biotechnology* 36, 89-94 (2018).
    doi:10.1038/nbt.4042. GEO accession GSE96583.

    The raw counts come from ``data/pbmc_stim.RData`` of the R package harmony, which is
    distributed under the GPL-3; the derived file is redistributed under the same terms (see
    ``exprscope/data/README.md``). It is built by ``scripts/build_kang_pbmc.py``.

    Returns
    -------
    anndata.AnnData
        A fresh in-memory object on each call.

    Raises
    ------
    FileNotFoundError
        If the packaged file is missing (for example in a source checkout where it was never
        built).
    """
    if not KANG_PBMC_PATH.is_file():
        raise FileNotFoundError(
            f"The bundled demo data {KANG_PBMC_PATH} is missing. Rebuild it from the "
            "repository root with `python scripts/build_kang_pbmc.py` (needs the `data` extra: "
            "pip install 'exprscope[data]', and the Kang 2018 RData file; see the script's "
            "--input option)."
        )
    import anndata

    return anndata.read_h5ad(KANG_PBMC_PATH)
