"""exprscope: compare gene expression across datasets and clusters in JupyterLab.

The Python package holds three things:

- the kernel side of the comm bridge (:mod:`exprscope.kernel`) that the JupyterLab extension
  talks to, with one adapter per data type (:mod:`exprscope.adapters`);
- the Python API (aggregates, markers, correlations) that computes the same numbers as the
  browser, for use in notebooks and scripts, and the notebook widgets
  (:func:`heatmap`, :func:`dual_expression`, :mod:`exprscope.widgets`);
- the bundled demo data (:mod:`exprscope.datasets`).
"""

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    import warnings

    warnings.warn("Importing 'exprscope' outside a proper installation.", stacklevel=2)
    __version__ = "dev"

from . import datasets
from .api import aggregate, correlate, markers
from .convert import to_gene_friendly

__all__ = [
    "__version__",
    "aggregate",
    "correlate",
    "datasets",
    "dual_expression",
    "heatmap",
    "markers",
    "to_gene_friendly",
]


def __getattr__(name: str):
    # The notebook widgets import ipywidgets: only on first use, so the comm setup that runs
    # in every kernel stays light.
    if name in ("heatmap", "dual_expression"):
        from . import widgets

        return getattr(widgets, name)
    raise AttributeError(f"module 'exprscope' has no attribute {name!r}")


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "exprscope"}]
