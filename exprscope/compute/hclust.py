"""Average-linkage clustering of heatmap rows or columns: a thin wrapper around scipy.

``scipy.cluster.hierarchy.linkage(d, 'average')`` and ``dendrogram(Z, no_plot=True)``, with
one rule scipy lacks (the browser's ``src/compute/hclust.ts`` applies the same): with the
correlation metric, a constant observation has no defined distance, so its distance is 1 to
every other observation and 0 to another constant one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.cluster.hierarchy import dendrogram, linkage
from scipy.spatial.distance import pdist

DistanceMetric = Literal["euclidean", "correlation"]


@dataclass(frozen=True)
class HclustResult:
    linkage: np.ndarray  # (n − 1) × 4, scipy's layout
    leaves: list[int]
    icoord: list[list[float]]
    dcoord: list[list[float]]
    constant_observations: list[int]


def hclust(
    matrix: np.ndarray,
    *,
    metric: DistanceMetric = "euclidean",
    axis: Literal["rows", "columns"] = "rows",
) -> HclustResult:
    """Cluster the rows (default) or columns of a finite matrix with UPGMA."""
    values = np.asarray(matrix, dtype=np.float64)
    observations = values if axis == "rows" else values.T
    if not np.isfinite(observations).all():
        raise ValueError("hclust needs finite values: remove masked columns before clustering.")
    n = observations.shape[0]
    constant: list[int] = []
    if n < 2:
        return HclustResult(np.empty((0, 4)), list(range(n)), [], [], constant)
    if metric == "euclidean":
        distances = pdist(observations, "euclidean")
    elif metric == "correlation":
        is_constant = (observations == observations[:, :1]).all(axis=1)
        constant = np.flatnonzero(is_constant).tolist()
        with np.errstate(divide="ignore", invalid="ignore"):
            distances = pdist(observations, "correlation")
        i, j = np.triu_indices(n, k=1)
        distances = np.where(
            is_constant[i] | is_constant[j],
            np.where(is_constant[i] & is_constant[j], 0, 1),
            distances,
        )
    else:
        raise ValueError(f"Unknown metric {metric!r}; use 'euclidean' or 'correlation'.")
    z = linkage(distances, "average")
    tree = dendrogram(z, no_plot=True)
    return HclustResult(z, list(tree["leaves"]), tree["icoord"], tree["dcoord"], constant)
