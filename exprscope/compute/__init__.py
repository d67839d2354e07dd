"""Pure computations behind exprscope's plots, on arrays (kernel side of ``src/compute/``).

The AnnData-level functions are in :mod:`exprscope.api`.
"""

from .aggregate import GroupMoments, group_moments, summarise
from .correlation import correlate_groups, correlate_values
from .hclust import HclustResult, hclust
from .markers import benjamini_hochberg, welch_markers, welch_t_test
from .scale import scale_rows

__all__ = [
    "GroupMoments",
    "HclustResult",
    "benjamini_hochberg",
    "correlate_groups",
    "correlate_values",
    "group_moments",
    "hclust",
    "scale_rows",
    "summarise",
    "welch_markers",
    "welch_t_test",
]
