"""Build exprscope's demo data ``exprscope/data/kang_pbmc.h5ad`` from the real Kang 2018 PBMCs.

Source
------
``kang2018-pbmc-ifnb-2k.RData``: two R ``dgCMatrix`` objects of raw UMI counts, ``pbmc.ctrl``
and ``pbmc.stim`` (9,015 genes x 1,000 cells each), a subset of Kang et al., *Nature
Biotechnology* 36, 89-94 (2018), GEO GSE96583: human PBMCs, control vs interferon-beta
stimulated. The file is redistributed from the R package harmony (``data/pbmc_stim.RData``,
GPL-3). Its sha256 is checked before anything else.

Output (2,000 cells x 9,015 genes)
----------------------------------
- ``obs['dataset']``: categorical, ``ctrl`` then ``stim``. ``obs_names`` are the cell barcodes
  (prefixed ``<dataset>_`` only if barcodes collide between the datasets; they do not in this
  file). ``obs['n_counts']`` (UMIs per cell) and ``obs['n_genes']`` (detected genes per cell).
- ``layers['counts']``: raw UMI counts, CSR, float32. float32 rather than int32 because it is
  the dtype scanpy/anndata produce and expect for counts (``read_10x_h5``, ``normalize_total``)
  so no tool has to cast or warn, X and counts share one dtype for serialisation, and float32
  represents every integer below 2**24 exactly (the largest count here is 2,950).
- ``X``: log-normalised over all genes, ``log1p(normalize_total(counts, target_sum=1e4))``,
  CSR, float32 (Seurat's ``LogNormalize`` with scale factor 1e4).
- ``var['integrated']``: boolean, the 2,000 highly variable genes (``flavor='seurat'`` on the
  log data, ``batch_key='dataset'``) that form the integrated matrix.
- ``layers['integrated']``: batch-corrected expression from ComBat (``sc.pp.combat``, key
  ``dataset``) on the log-normalised HVG matrix. Like Seurat's ``integrated`` assay it covers
  only the integrated genes, but AnnData layers must be n_obs x n_vars, hence the convention:
  **a dense float32 matrix holding the ComBat values in the columns where
  ``var['integrated']`` is True and NaN in every other column.** exprscope reports an all-NaN
  gene as "missing from this matrix" instead of showing zeros.
  ``uns['exprscope']['layer_genes']`` = ``{'integrated': 'var:integrated'}`` says so in the
  file. The ComBat values are stored at full float32 precision: with gzip the layer costs
  ~2.1 MB of the ~7.5 MB file (the NaN columns, and the single value ComBat maps each gene's
  zeros to within a dataset, compress to almost nothing); rounding them to float16
  resolution saved only ~0.4 MB, so it is not done.
- ``obs['cluster']``: Leiden clusters (igraph flavour, fixed seed) computed on the integrated
  layer as stored (scale -> 50 PCs -> 20-NN graph -> Leiden at resolution 0.5), so clusters
  mix ctrl and stim cells. Categorical with string labels ``"0"``, ``"1"``, ... in numeric
  order (``"0"`` the largest). With these parameters there are 8 clusters, every one with
  both datasets (by markers: CD14 monocytes, T cells, B cells, NK/cytotoxic T, FCGR3A
  monocytes, megakaryocytes/platelets, dendritic cells, erythrocytes). ComBat shifts each
  gene by one amount per dataset, so it cannot remove the monocyte-specific interferon
  response: from resolution 0.7 the CD14 monocytes split into a ctrl and a stim cluster
  (~90 % one dataset each) before the T cells split. 0.5 sits in the middle of a plateau
  (0.4 and 0.6 give the same 8 clusters up to a few cells), which also makes the labels
  robust to small numeric differences between machines.
- ``obsm['X_pca']`` (PCA of the scaled integrated matrix) and ``obsm['X_umap']`` (UMAP of the
  same kNN graph, fixed seed).
- ``uns['exprscope']``: small provenance (source, citation, licence, build parameters, software
  versions). No ``uns['rank_genes_groups']``: the tool computes markers itself.

Run from the repository root (needs the ``data`` extra: scanpy, rdata, leidenalg, igraph)::

    python scripts/build_kang_pbmc.py [--input PATH] [--output PATH] [--resolution R]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUT = REPO_ROOT / ".." / "shared" / "data" / "kang2018-pbmc-ifnb-2k.RData"
DEFAULT_OUTPUT = REPO_ROOT / "exprscope" / "data" / "kang_pbmc.h5ad"
EXPECTED_SHA256 = "d85a18ce8ec9dcb4ac86c8e195ed53ff893c5952a7d6bf70035a17856c9dc0ef"

DATASETS = {"ctrl": "pbmc.ctrl", "stim": "pbmc.stim"}  # dataset label -> R object, in order

# Build parameters (written into uns['exprscope']['parameters']).
TARGET_SUM = 1e4
N_TOP_GENES = 2000
N_PCS = 50
N_NEIGHBORS = 20
LEIDEN_RESOLUTION = 0.5
SEED = 0


def sha256sum(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dgcmatrix_to_csr(obj) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """An R dgCMatrix (genes x cells) as its slots -> (cells x genes CSR, genes, barcodes)."""
    n_genes, n_cells = (int(d) for d in obj.Dim)
    genes, barcodes = (np.asarray(names, dtype=str) for names in obj.Dimnames)
    csc = sp.csc_matrix(
        (np.asarray(obj.x, dtype=np.float32), np.asarray(obj.i), np.asarray(obj.p)),
        shape=(n_genes, n_cells),
    )
    csr = csc.T.tocsr()  # the transpose of a CSC matrix is CSR of the same buffers
    csr.sort_indices()
    if csr.shape != (len(barcodes), len(genes)):
        raise ValueError(f"Dim {obj.Dim} does not match Dimnames lengths")
    return csr, genes, barcodes


def read_kang(path: Path) -> ad.AnnData:
    import rdata

    digest = sha256sum(path)
    if digest != EXPECTED_SHA256:
        raise SystemExit(
            f"error: sha256 of {path} is {digest}, expected {EXPECTED_SHA256}. "
            "This is not the Kang 2018 file described in shared/data/README.md."
        )
    with warnings.catch_warnings():  # "Missing constructor for R class dgCMatrix": slots are fine
        warnings.simplefilter("ignore", UserWarning)
        objects = rdata.read_rda(str(path))

    parts = []
    for label, name in DATASETS.items():
        counts, genes, barcodes = dgcmatrix_to_csr(objects[name])
        part = ad.AnnData(
            X=counts,
            obs=pd.DataFrame({"barcode": barcodes}, index=barcodes),
            var=pd.DataFrame(index=genes),
        )
        part.obs["dataset"] = label
        parts.append(part)

    genes = parts[0].var_names
    for part in parts[1:]:
        if not part.var_names.equals(genes):
            raise ValueError("ctrl and stim have different genes")
    all_barcodes = pd.Index(np.concatenate([p.obs_names.to_numpy() for p in parts]))
    if not all_barcodes.is_unique:
        for part in parts:
            part.obs_names = part.obs["dataset"].astype(str) + "_" + part.obs_names
    adata = ad.concat(parts, join="outer", merge="same")
    adata.var_names = genes
    adata.obs["dataset"] = pd.Categorical(adata.obs["dataset"], categories=list(DATASETS))
    if not adata.obs_names.is_unique:
        raise ValueError("cell names are not unique")
    # The barcodes are the obs_names unless they had to be prefixed.
    if (adata.obs_names == adata.obs["barcode"]).all():
        del adata.obs["barcode"]
    return adata


def build(input_path: Path, resolution: float) -> ad.AnnData:
    adata = read_kang(input_path)
    counts = sp.csr_matrix(adata.X, dtype=np.float32)
    adata.layers["counts"] = counts
    adata.obs["n_counts"] = np.asarray(counts.sum(axis=1)).ravel().astype(np.float32)
    adata.obs["n_genes"] = np.diff(counts.indptr).astype(np.int32)

    # Log-normalise over all genes.
    adata.X = counts.copy()
    sc.pp.normalize_total(adata, target_sum=TARGET_SUM)
    sc.pp.log1p(adata)
    adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    adata.uns.pop("log1p", None)

    # Highly variable genes per dataset, combined (seurat_v3 would need scikit-misc).
    hvg = sc.pp.highly_variable_genes(
        adata,
        n_top_genes=N_TOP_GENES,
        flavor="seurat",
        batch_key="dataset",
        inplace=False,
    )
    is_hvg = np.asarray(hvg["highly_variable"], dtype=bool)
    adata.var["integrated"] = is_hvg

    # ComBat on the log-normalised HVG matrix.
    sub = ad.AnnData(
        X=adata.X[:, is_hvg].toarray().astype(np.float64),
        obs=adata.obs[["dataset"]].copy(),
        var=pd.DataFrame(index=adata.var_names[is_hvg]),
    )
    with warnings.catch_warnings():
        # Its convergence check divides by the previous estimate, which is 0 for the few HVGs
        # absent from one dataset; the corrected values are finite (checked below).
        warnings.filterwarnings("ignore", "divide by zero", RuntimeWarning)
        sc.pp.combat(sub, key="dataset")
    corrected = np.asarray(sub.X, dtype=np.float32)
    if not np.isfinite(corrected).all():
        raise ValueError("ComBat produced non-finite values")
    integrated = np.full(adata.shape, np.nan, dtype=np.float32)
    integrated[:, is_hvg] = corrected
    adata.layers["integrated"] = integrated

    # Clustering on the integrated data as stored: scale -> PCA -> kNN -> Leiden, and UMAP.
    sub.X = corrected.astype(np.float64)
    sc.pp.scale(sub, max_value=10)
    sc.pp.pca(sub, n_comps=N_PCS, svd_solver="arpack", random_state=SEED)
    sc.pp.neighbors(sub, n_neighbors=N_NEIGHBORS, n_pcs=N_PCS, random_state=SEED)
    sc.tl.leiden(
        sub,
        resolution=resolution,
        flavor="igraph",
        n_iterations=2,
        directed=False,
        random_state=SEED,
        key_added="cluster",
    )
    sc.tl.umap(sub, random_state=SEED)

    labels = sub.obs["cluster"].astype(int)
    categories = [str(c) for c in sorted(labels.unique())]
    adata.obs["cluster"] = pd.Categorical(labels.astype(str), categories=categories)
    adata.obsm["X_pca"] = np.asarray(sub.obsm["X_pca"], dtype=np.float32)
    adata.obsm["X_umap"] = np.asarray(sub.obsm["X_umap"], dtype=np.float32)

    adata.uns = {
        "exprscope": {
            "layer_genes": {"integrated": "var:integrated"},
            "source": {
                "description": (
                    "Human PBMCs, control vs interferon-beta stimulated "
                    "(1,000 cells each, 9,015 genes), raw UMI counts"
                ),
                "citation": (
                    "Kang HM et al. Multiplexed droplet single-cell RNA-sequencing using "
                    "natural genetic variation. Nature Biotechnology 36, 89-94 (2018). "
                    "doi:10.1038/nbt.4042"
                ),
                "geo": "GSE96583",
                "file": "kang2018-pbmc-ifnb-2k.RData (data/pbmc_stim.RData of the R package harmony)",
                "license": "GPL-3 (redistributed from the R package harmony)",
                "sha256": EXPECTED_SHA256,
            },
            "parameters": {
                "X": f"normalize_total(target_sum={TARGET_SUM:g}) + log1p, all genes",
                "hvg": f"highly_variable_genes(flavor='seurat', n_top_genes={N_TOP_GENES}, batch_key='dataset')",
                "integrated": "combat(key='dataset') on log-normalised HVGs, float32",
                "pca": f"scale(max_value=10) on integrated, pca(n_comps={N_PCS}, svd_solver='arpack')",
                "neighbors": f"n_neighbors={N_NEIGHBORS}, n_pcs={N_PCS}",
                "leiden": (
                    f"flavor='igraph', resolution={resolution}, n_iterations=2, "
                    f"directed=False, random_state={SEED}"
                ),
                "umap": f"random_state={SEED}",
            },
            "versions": {
                pkg: version(pkg)
                for pkg in ("scanpy", "anndata", "numpy", "scipy", "igraph", "leidenalg", "rdata")
            },
            "script": "scripts/build_kang_pbmc.py",
        }
    }
    return adata


def summary(adata: ad.AnnData) -> str:
    lines = [f"{adata.n_obs} cells x {adata.n_vars} genes"]
    lines.append(
        "cells per dataset: "
        + adata.obs["dataset"].value_counts(sort=False).to_string().replace("\n", ", ")
    )
    n_clusters = len(adata.obs["cluster"].cat.categories)
    lines.append(f"{n_clusters} clusters; cells per dataset x cluster:")
    table = pd.crosstab(
        adata.obs["cluster"], adata.obs["dataset"], margins=True, margins_name="total"
    )
    lines.append(table.to_string())
    lines.append(f"integrated genes: {int(adata.var['integrated'].sum())}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--input", type=Path, default=DEFAULT_INPUT, help="the Kang 2018 RData file"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the h5ad to write")
    parser.add_argument(
        "--resolution", type=float, default=LEIDEN_RESOLUTION, help="Leiden resolution"
    )
    parser.add_argument(
        "--compression-level", type=int, default=9, help="gzip level for the h5ad (0-9)"
    )
    parser.add_argument(
        "--check-determinism",
        action="store_true",
        help="build twice and fail unless clusters, UMAP and all matrices are identical",
    )
    args = parser.parse_args(argv)

    start = time.perf_counter()
    input_path = args.input.resolve()
    if not input_path.exists():
        print(f"error: input file not found: {input_path}", file=sys.stderr)
        return 1
    sc.settings.verbosity = 0
    adata = build(input_path, args.resolution)
    if args.check_determinism:
        again = build(input_path, args.resolution)
        same = {
            "cluster": adata.obs["cluster"].equals(again.obs["cluster"]),
            "X_umap": np.array_equal(adata.obsm["X_umap"], again.obsm["X_umap"]),
            "X": (adata.X != again.X).nnz == 0,
            "integrated": np.array_equal(
                adata.layers["integrated"], again.layers["integrated"], equal_nan=True
            ),
        }
        if not all(same.values()):
            print(f"error: the build is not deterministic: {same}", file=sys.stderr)
            return 1
        print("determinism check: two builds gave identical clusters, UMAP and matrices")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    adata.write_h5ad(args.output, compression="gzip", compression_opts=args.compression_level)
    elapsed = time.perf_counter() - start
    size = args.output.stat().st_size

    print(summary(adata))
    print(f"wrote {args.output} ({size / 1e6:.2f} MB) in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
