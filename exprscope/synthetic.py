"""Seeded synthetic single-cell data at any scale, for out-of-core tests and benchmarks.

Negative-binomial UMI counts with cluster- and dataset-specific means: every cluster has
marker genes, some genes shift between datasets, cells have size factors. About 92% of the
counts are zero (a typical 10x matrix). ``X`` holds ``log1p(counts / total * 1e4)`` (scanpy's
``normalize_total(target_sum=1e4)`` + ``log1p``) as float32, ``layers['counts']`` the counts.

The matrix is generated sparsely in tiles of ``TILE_CELLS`` cells × ``TILE_GENES`` genes, each
seeded by (seed, tile row, tile column): the same seed gives the same numbers whatever the
layout, and whether the data are built in memory (:func:`make_synthetic`) or streamed to an
h5ad file (:func:`write_synthetic`, for sizes that do not fit in memory).

Sampling: one float32 uniform u per entry; the count is the NB quantile of u (inversion), so
u ≤ P(0) gives a zero at the price of one comparison, and only non-zero entries pay for the
quantile search. Means are exact per (cluster, dataset, size-factor level); cell size factors
are log-normal, quantised to ``SIZE_LEVELS`` levels so that P(0) can be tabulated.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import sparse

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["make_synthetic", "write_synthetic"]

TILE_CELLS = 8192
TILE_GENES = 2048
SIZE_LEVELS = 8
#: Per-gene mean UMIs at size factor 1: log-normal, tuned for ~92% zeros overall.
BASE_LOG_MEAN, BASE_LOG_SD = -3.5, 1.6
#: NB dispersion (variance = mu + phi·mu²), per gene, around 0.2-0.4 as in UMI data.
DISPERSION_RANGE = (0.1, 0.6)
MARKERS_PER_CLUSTER = 40
MARKER_LOG_FOLD = (1.5, 3.5)
DATASET_SHIFT_FRACTION = 0.02  # genes that respond to the dataset (e.g. a stimulation)
DATASET_LOG_FOLD = 1.5
TARGET_SUM = 1e4


@dataclass(frozen=True)
class _Model:
    n_cells: int
    n_genes: int
    seed: int
    cell_class: np.ndarray  # per cell: cluster · n_datasets · levels + dataset · levels + level
    p_zero: np.ndarray  # classes × genes, float32: P(count = 0)
    odds: np.ndarray  # classes × genes, float64: mu / (r + mu)
    size: np.ndarray  # genes: r = 1 / phi
    obs: pd.DataFrame
    embedding: np.ndarray
    #: Ground truth: genes whose mean shifts between datasets, and their log fold (dataset k
    #: vs dataset 1, natural log, the same in every cluster).
    responsive: np.ndarray
    responsive_log_fold: np.ndarray  # (n_datasets - 1) × responsive genes


def _model(
    n_cells: int,
    n_genes: int,
    n_datasets: int,
    samples_per_dataset: int,
    n_clusters: int,
    seed: int,
) -> _Model:
    rng = np.random.default_rng([seed, 0])
    # Genes: base means, dispersions, cluster markers, dataset-responsive genes
    base = np.exp(rng.normal(BASE_LOG_MEAN, BASE_LOG_SD, n_genes))
    phi = rng.uniform(*DISPERSION_RANGE, n_genes)
    log_effect = np.zeros((n_clusters, n_datasets, n_genes))
    for cluster in range(n_clusters):
        markers = rng.choice(n_genes, min(MARKERS_PER_CLUSTER, n_genes), replace=False)
        log_effect[cluster, :, markers] += rng.uniform(*MARKER_LOG_FOLD, markers.size)[:, None]
    responsive = rng.choice(n_genes, int(n_genes * DATASET_SHIFT_FRACTION), replace=False)
    responsive_log_fold = np.zeros((max(n_datasets - 1, 0), responsive.size))
    for dataset in range(1, n_datasets):
        responsive_log_fold[dataset - 1] = rng.choice([-1, 1], responsive.size) * (
            DATASET_LOG_FOLD * rng.uniform(0.5, 1.0, responsive.size)
        )
        log_effect[:, dataset, responsive] += responsive_log_fold[dataset - 1]

    # Cells: dataset and sample (equal shares), cluster (skewed sizes, varying by sample),
    # size factor (log-normal, quantised)
    n_samples = n_datasets * samples_per_dataset
    sample = rng.integers(0, n_samples, n_cells)
    dataset = sample // samples_per_dataset
    proportions = rng.dirichlet(np.geomspace(4, 0.5, n_clusters) * 20, n_samples)
    cumulative = np.cumsum(proportions, axis=1)
    cluster = (rng.random(n_cells)[:, None] > cumulative[sample]).sum(axis=1)
    cluster = np.minimum(cluster, n_clusters - 1)
    level_factors = np.exp(np.linspace(-0.6, 0.6, SIZE_LEVELS))
    level = rng.integers(0, SIZE_LEVELS, n_cells)
    cell_class = (cluster * n_datasets + dataset) * SIZE_LEVELS + level

    r = 1 / phi
    mu = (np.exp(log_effect)[:, :, None, :] * base * level_factors[None, None, :, None]).reshape(
        -1, n_genes
    )
    p_zero = (r / (r + mu)) ** r
    odds = mu / (r + mu)

    # A UMAP-like embedding: one blob per cluster, datasets slightly apart
    centres = rng.normal(0, 8, (n_clusters, 2))
    embedding = centres[cluster] + rng.normal(0, 1, (n_cells, 2)) + 0.6 * dataset[:, None]

    width = len(str(max(n_cells - 1, 0)))
    obs = pd.DataFrame(
        {
            "dataset": pd.Categorical.from_codes(
                dataset, [f"dataset{d + 1}" for d in range(n_datasets)]
            ),
            "sample": pd.Categorical.from_codes(
                sample,
                [
                    f"dataset{d + 1}_s{s + 1}"
                    for d in range(n_datasets)
                    for s in range(samples_per_dataset)
                ],
            ),
            "cluster": pd.Categorical.from_codes(cluster, [str(c) for c in range(n_clusters)]),
        },
        index=pd.Index([f"cell{i:0{width}d}" for i in range(n_cells)]),
    )
    return _Model(
        n_cells=n_cells,
        n_genes=n_genes,
        seed=seed,
        cell_class=cell_class,
        p_zero=p_zero.astype(np.float32),
        odds=odds,
        size=r,
        obs=obs,
        embedding=embedding.astype(np.float32),
        responsive=responsive,
        responsive_log_fold=responsive_log_fold,
    )


def _tile(model: _Model, row: int, column: int) -> sparse.csr_matrix:
    """Counts of tile (row, column): cells ``row·TILE_CELLS …``, genes ``column·TILE_GENES …``."""
    cells = slice(row * TILE_CELLS, min((row + 1) * TILE_CELLS, model.n_cells))
    genes = slice(column * TILE_GENES, min((column + 1) * TILE_GENES, model.n_genes))
    classes = model.cell_class[cells]
    n_genes = genes.stop - genes.start
    rng = np.random.default_rng([model.seed, 1, row, column])
    u = rng.random((classes.size, n_genes), dtype=np.float32)
    rows, cols = np.nonzero(u > model.p_zero[classes, genes])
    u = u[rows, cols].astype(np.float64)
    entry_class, entry_gene = classes[rows], cols + genes.start
    odds = model.odds[entry_class, entry_gene]
    size = model.size[entry_gene]
    # Quantile search from k = 1 upward; entries leave once the CDF reaches their u
    pmf = np.power(1 - odds, size)  # P(0) = (r / (r + mu))^r, in float64
    cdf = pmf.copy()
    counts = np.zeros(u.size, dtype=np.float32)
    active = np.flatnonzero(u > cdf)
    k = 0
    while active.size and k < 100_000:
        pmf_a = pmf[active] * (k + size[active]) / (k + 1) * odds[active]
        cdf_a = cdf[active] + pmf_a
        k += 1
        counts[active] = k
        pmf[active], cdf[active] = pmf_a, cdf_a
        active = active[u[active] > cdf_a]
    # An entry with u just above the float32 P(0) but below the float64 one gets count 0:
    # keep only true non-zeros.
    keep = counts > 0
    return sparse.csr_matrix(
        (counts[keep], (rows[keep], cols[keep])), shape=(classes.size, n_genes)
    )


def _n_tiles(n: int, size: int) -> int:
    return max(1, -(-n // size))


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _cell_block(model: _Model, row: int, pool: ThreadPoolExecutor) -> sparse.csr_matrix:
    """All genes of one tile row of cells, as CSR counts."""
    columns = range(_n_tiles(model.n_genes, TILE_GENES))
    return sparse.hstack(list(pool.map(lambda c: _tile(model, row, c), columns)), format="csr")


def _normalise(counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """log1p(counts / total · 1e4) per cell, float32 (cells without counts stay zero)."""
    totals = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
    scale = np.divide(TARGET_SUM, totals, out=np.zeros_like(totals), where=totals > 0)
    values = np.log1p(counts.data * np.repeat(scale, np.diff(counts.indptr)))
    return sparse.csr_matrix(
        (values.astype(np.float32), counts.indices, counts.indptr), shape=counts.shape
    )


def _skeleton(model: _Model, layout: str) -> AnnData:
    import anndata as ad

    var = pd.DataFrame(index=pd.Index([f"GENE{j:05d}" for j in range(model.n_genes)]))
    return ad.AnnData(
        obs=model.obs,
        var=var,
        obsm={"X_umap": model.embedding},
        uns={
            "exprscope": {
                "synthetic": {
                    "seed": model.seed,
                    "layout": layout,
                    "target_sum": TARGET_SUM,
                    # Ground truth for condition comparisons: these genes change between
                    # datasets (natural-log fold of dataset k + 1 vs dataset 1, per row).
                    "dataset_responsive_genes": np.asarray(var.index[model.responsive]),
                    "dataset_log_fold": model.responsive_log_fold,
                }
            },
            "log1p": {"base": None},
        },
    )


def make_synthetic(
    n_cells: int,
    n_genes: int = 20_000,
    *,
    n_datasets: int = 2,
    samples_per_dataset: int = 3,
    n_clusters: int = 20,
    layout: Literal["csr", "csc"] = "csr",
    seed: int = 0,
    counts: bool = True,
) -> AnnData:
    """An in-memory AnnData of synthetic log-normalised expression.

    obs ``dataset`` (``dataset1``, …), ``sample`` (``dataset1_s1``, …; samples are nested in
    datasets) and ``cluster`` (``"0"`` … , skewed sizes) are categoricals; ``obsm['X_umap']``
    is a 2-D embedding with one blob per cluster. ``layout`` is the sparse format of ``X``
    and ``layers['counts']`` (``counts=False`` leaves the counts out, halving memory).

    Memory is about 16 bytes per non-zero with counts (8% of cells × genes): ~2.6 GB at 10⁵
    cells × 20,000 genes. For 10⁶ cells use :func:`write_synthetic`, which streams to disk.
    """
    if layout not in ("csr", "csc"):
        raise ValueError(f"layout must be 'csr' or 'csc', not {layout!r}.")
    model = _model(n_cells, n_genes, n_datasets, samples_per_dataset, n_clusters, seed)
    with ThreadPoolExecutor(_threads()) as pool:
        blocks = [_cell_block(model, row, pool) for row in range(_n_tiles(n_cells, TILE_CELLS))]
    count_matrix = sparse.vstack(blocks, format="csr")
    del blocks
    x = _normalise(count_matrix)
    adata = _skeleton(model, layout)
    adata.X = x.tocsc() if layout == "csc" else x
    if counts:
        adata.layers["counts"] = count_matrix.tocsc() if layout == "csc" else count_matrix
    return adata


def write_synthetic(
    path: str | os.PathLike,
    n_cells: int,
    n_genes: int = 20_000,
    *,
    n_datasets: int = 2,
    samples_per_dataset: int = 3,
    n_clusters: int = 20,
    layout: Literal["csr", "csc"] = "csr",
    seed: int = 0,
    counts: bool = True,
) -> Path:
    """The data of :func:`make_synthetic` (same arguments, same numbers) written to an h5ad
    file one block at a time, never holding the whole matrix: for 10⁶ cells and more.

    CSR is written one tile row of cells at a time. CSC needs each cell's total before any
    gene block can be normalised: a first pass over the tiles sums the counts per cell, a
    second regenerates them one block of genes at a time (the tiles are seeded, so both
    passes see the same counts).
    """
    import h5py
    from anndata.io import sparse_dataset, write_elem

    if layout not in ("csr", "csc"):
        raise ValueError(f"layout must be 'csr' or 'csc', not {layout!r}.")
    path = Path(path)
    model = _model(n_cells, n_genes, n_datasets, samples_per_dataset, n_clusters, seed)
    _skeleton(model, layout).write_h5ad(path)
    n_rows, n_columns = _n_tiles(n_cells, TILE_CELLS), _n_tiles(n_genes, TILE_GENES)
    names = ["X", "layers/counts"] if counts else ["X"]

    def append(file: h5py.File, blocks: list[sparse.spmatrix]) -> None:
        for name, block in zip(names, blocks, strict=False):
            if name in file:
                sparse_dataset(file[name]).append(block)
            else:
                # anndata writes sparse datasets resizable, so later blocks can be appended
                write_elem(file, name, block)

    with ThreadPoolExecutor(_threads()) as pool, h5py.File(path, "a") as file:
        if "X" in file:  # an empty placeholder, depending on the anndata version
            del file["X"]
        if layout == "csr":
            for row in range(n_rows):
                block = _cell_block(model, row, pool)
                append(file, [_normalise(block), block])
        else:
            totals = np.zeros(n_cells)
            for row in range(n_rows):
                block = _cell_block(model, row, pool)
                start = row * TILE_CELLS
                totals[start : start + block.shape[0]] = np.asarray(block.sum(axis=1)).ravel()
            scale = np.divide(TARGET_SUM, totals, out=np.zeros_like(totals), where=totals > 0)
            for column in range(n_columns):
                block = sparse.vstack(
                    list(pool.map(lambda r, c=column: _tile(model, r, c), range(n_rows))),
                    format="csc",
                )
                rows = block.indices
                values = np.log1p(block.data * scale[rows]).astype(np.float32)
                x = sparse.csc_matrix((values, block.indices, block.indptr), shape=block.shape)
                append(file, [x, block])
    # Check the assembled matrices (read_h5ad(backed="r") would load the layers into memory)
    with h5py.File(path, "r") as file:
        for name in names:
            assert sparse_dataset(file[name]).shape == (n_cells, n_genes), name
    return path
