"""Correlation of two genes per group (kernel side of ``src/compute/correlation.ts``).

Implemented from sums and ranks, independently of ``scipy.stats`` (the tests compare with
it); only the special functions come from ``scipy.special``.

- Pearson r from centred sums, clipped to [−1, 1]; two-sided p = I_{1−r²}((n − 2)/2, ½),
  which is scipy's beta-distribution p-value of ``pearsonr``;
- Fisher-z interval, as ``pearsonr(x, y).confidence_interval()``:
  tanh(atanh(r) ± Φ⁻¹(½ + level/2)/√(n − 3)), [−1, 1] when n ≤ 3;
- Spearman ρ = Pearson r of average ranks (``spearmanr``), p-value by the same formula;
- Spearman percentile-bootstrap interval: resample i of replicate b is drawn by the
  counter-based generator below, bit-identical to ``src/compute/rng.ts``, so the browser
  and the kernel get the same interval; each resample is ranked from the group's sort order
  with multiplicities; resamples in which a gene is constant are skipped; quantiles are
  interpolated linearly (numpy's default).

r and ρ are NaN, with a ``reason``, below 3 cells or when a gene is constant.
"""

from __future__ import annotations

import numpy as np
from scipy import special

MIN_CELLS = 3
_MASK32 = 0xFFFFFFFF


def hash32(values: np.ndarray) -> np.ndarray:
    """C. Wellons' lowbias32 integer hash on uint32 arrays (``hash32`` in rng.ts)."""
    x = np.asarray(values, dtype=np.uint32)
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


def _hash32_int(value: int) -> int:
    return int(hash32(np.array([value & _MASK32], dtype=np.uint32))[0])


def replicate_key(seed: int, replicate: int) -> int:
    """Key of bootstrap replicate ``replicate`` (``replicateKey`` in rng.ts)."""
    seed_key = _hash32_int((seed & _MASK32) ^ 0x9E3779B9)
    return _hash32_int(seed_key + replicate * 0x85EBCA6B)


def draw_indices(key: int, counter_hashes: np.ndarray) -> np.ndarray:
    """The n indices of one resample: ⌊u·n / 2³²⌋ in float64 (``drawIndices`` in rng.ts)."""
    n = counter_hashes.size
    u = hash32(counter_hashes ^ np.uint32(key))
    return np.floor(u.astype(np.float64) * n / 4294967296.0).astype(np.int64)


class RankOrder:
    """Sort order of values with their runs of ties, for (weighted) average ranks."""

    def __init__(self, values: np.ndarray) -> None:
        n = values.size
        self.order = np.argsort(values, kind="stable")
        ordered = values[self.order]
        self.starts = np.concatenate(([0], np.flatnonzero(ordered[1:] != ordered[:-1]) + 1))
        self.run_of = np.repeat(np.arange(self.starts.size), np.diff(np.append(self.starts, n)))

    def ranks(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Average ranks (1-based) in the sample where value i occurs weights[i] times."""
        n = self.order.size
        ordered_weights = np.ones(n) if weights is None else weights[self.order].astype(float)
        run_weight = np.add.reduceat(ordered_weights, self.starts)
        before = np.cumsum(run_weight) - run_weight
        ranks = np.empty(n)
        ranks[self.order] = (before + (run_weight + 1) / 2)[self.run_of]
        return ranks


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks with ties sharing their mean rank (``rankdata(method='average')``)."""
    return RankOrder(np.asarray(values, dtype=np.float64)).ranks()


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    dx = x - x.mean()
    dy = y - y.mean()
    return float(np.clip(np.dot(dx, dy) / np.sqrt(np.dot(dx, dx) * np.dot(dy, dy)), -1, 1))


def correlation_p_value(r: float, n: int) -> float:
    """Two-sided p-value of a correlation coefficient: I_{1−r²}((n − 2)/2, ½)."""
    if np.isnan(r) or n < MIN_CELLS:
        return float("nan")
    return float(special.betainc((n - 2) / 2, 0.5, (1 - r) * (1 + r)))


def fisher_interval(r: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Fisher-z interval of Pearson's r (scipy's ``_pearsonr_fisher_ci``, two-sided)."""
    if n <= 3:
        return -1.0, 1.0
    half_width = special.ndtri(0.5 + level / 2) * np.sqrt(1 / (n - 3))
    with np.errstate(divide="ignore"):
        z = np.arctanh(r)  # ±inf for r = ±1: the interval collapses to r
    return float(np.tanh(z - half_width)), float(np.tanh(z + half_width))


def _rank_correlation(x: RankOrder, y: RankOrder, weights: np.ndarray | None) -> float:
    n = x.order.size
    centre = (n + 1) / 2  # mean rank of any sample of n values
    dx = x.ranks(weights) - centre
    dy = y.ranks(weights) - centre
    w = np.ones(n) if weights is None else weights.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.dot(w * dx, dy) / np.sqrt(np.dot(w * dx, dx) * np.dot(w * dy, dy))
    return float(np.clip(rho, -1, 1))


def percentile(sorted_values: np.ndarray, q: float) -> float:
    """Quantile q ∈ [0, 1] of sorted values, linear interpolation (``percentile`` in TS)."""
    m = sorted_values.size
    if m == 0:
        return float("nan")
    position = q * (m - 1)
    lower = int(np.floor(position))
    if lower + 1 >= m:
        return float(sorted_values[m - 1])
    fraction = position - lower
    return float(
        sorted_values[lower] + (sorted_values[lower + 1] - sorted_values[lower]) * fraction
    )


def bootstrap_spearman_interval(
    x: RankOrder, y: RankOrder, n_boot: int, seed: int, level: float
) -> tuple[float, float]:
    n = x.order.size
    if n_boot <= 0:
        return float("nan"), float("nan")
    counters = hash32(np.arange(n, dtype=np.uint32))
    replicates = []
    for b in range(n_boot):
        weights = np.bincount(draw_indices(replicate_key(seed, b), counters), minlength=n)
        rho = _rank_correlation(x, y, weights)
        if not np.isnan(rho):
            replicates.append(rho)
    ordered = np.sort(np.asarray(replicates))
    alpha = (1 - level) / 2
    return percentile(ordered, alpha), percentile(ordered, 1 - alpha)


def _undefined_reason(x: np.ndarray, y: np.ndarray) -> str | None:
    if x.size < MIN_CELLS:
        return f"fewer than {MIN_CELLS} cells"
    constant_x = bool((x == x[0]).all())
    constant_y = bool((y == y[0]).all())
    if constant_x and constant_y:
        return "both genes are constant"
    if constant_x or constant_y:
        return f"{'x' if constant_x else 'y'} gene is constant"
    return None


def correlate_values(
    x: np.ndarray,
    y: np.ndarray,
    *,
    detected_only: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    confidence_level: float = 0.95,
) -> dict[str, float | int | str | None]:
    """Correlation statistics of paired values (one group)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    double_positive = (x > 0) & (y > 0)
    frac_double_positive = float(double_positive.mean()) if x.size else float("nan")
    if detected_only:
        x, y = x[double_positive], y[double_positive]
    n = x.size
    result: dict[str, float | int | str | None] = {
        "n_cells": n,
        "pearson_r": np.nan,
        "pearson_ci_low": np.nan,
        "pearson_ci_high": np.nan,
        "pearson_p": np.nan,
        "spearman_rho": np.nan,
        "spearman_ci_low": np.nan,
        "spearman_ci_high": np.nan,
        "spearman_p": np.nan,
        "frac_double_positive": frac_double_positive,
        "reason": _undefined_reason(x, y),
    }
    if result["reason"] is not None:
        return result
    r = pearson(x, y)
    rank_x, rank_y = RankOrder(x), RankOrder(y)
    rho = _rank_correlation(rank_x, rank_y, None)
    result["pearson_r"] = r
    result["pearson_ci_low"], result["pearson_ci_high"] = fisher_interval(r, n, confidence_level)
    result["pearson_p"] = correlation_p_value(r, n)
    result["spearman_rho"] = rho
    result["spearman_ci_low"], result["spearman_ci_high"] = bootstrap_spearman_interval(
        rank_x, rank_y, n_boot, seed, confidence_level
    )
    result["spearman_p"] = correlation_p_value(rho, n)
    return result


def correlate_groups(
    x: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    *,
    detected_only: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    confidence_level: float = 0.95,
) -> list[dict[str, float | int | str | None]]:
    """``correlate_values`` within each group (cells with code −1 ignored)."""
    codes = np.asarray(codes)
    x = np.asarray(x)
    y = np.asarray(y)
    return [
        {
            "group": g,
            **correlate_values(
                x[codes == g],
                y[codes == g],
                detected_only=detected_only,
                n_boot=n_boot,
                seed=seed,
                confidence_level=confidence_level,
            ),
        }
        for g in range(n_groups)
    ]
