"""Row scaling of a genes × columns matrix (kernel side of ``src/compute/scale.ts``).

- ``"none"``: unchanged.
- ``"zscore"``: per gene (x − mean) / sd across columns with the sample sd (ddof = 1),
  clipped to ±clip (default 2.5): Seurat's DotPlot, which applies R's ``scale()`` (sample sd)
  per feature and then ``MinMax(min = -2.5, max = 2.5)``.
- ``"minmax"``: per gene (x − min) / (max − min), scanpy's ``standard_scale='var'``.

NaN (masked) columns are ignored and stay NaN. Rows without spread (constant over their
finite columns, or fewer than two of them) become 0 and are flagged.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

DEFAULT_ZSCORE_CLIP = 2.5

RowScaling = Literal["none", "zscore", "minmax"]


def scale_rows(
    matrix: np.ndarray, method: RowScaling, *, clip: float | None = DEFAULT_ZSCORE_CLIP
) -> tuple[np.ndarray, np.ndarray]:
    """Scale each row; returns the scaled copy and a boolean mask of constant rows."""
    values = np.array(matrix, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError("scale_rows expects a 2-D matrix.")
    constant = np.zeros(values.shape[0], dtype=bool)
    if method == "none":
        return values, constant
    if method not in ("zscore", "minmax"):
        raise ValueError(f"Unknown scaling {method!r}; use 'none', 'zscore' or 'minmax'.")
    finite = ~np.isnan(values)
    count = finite.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "zscore":
            mean = np.nansum(values, axis=1) / count
            sd = np.sqrt(np.nansum((values - mean[:, None]) ** 2, axis=1) / (count - 1))
            spread = (count >= 2) & (sd > 0)
            scaled = (values - mean[:, None]) / sd[:, None]
            if clip is not None:
                scaled = np.clip(scaled, -clip, clip)
        else:
            low = np.min(np.where(finite, values, np.inf), axis=1)
            high = np.max(np.where(finite, values, -np.inf), axis=1)
            spread = high - low > 0  # False for rows without finite values (inf − inf)
            scaled = (values - low[:, None]) / (high - low)[:, None]
    constant = ~spread
    scaled[constant] = 0
    scaled[~finite] = np.nan
    return scaled, constant
