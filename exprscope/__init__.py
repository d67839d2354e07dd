"""exprscope: compare gene expression across datasets and clusters in JupyterLab.

The Python package holds three things:

- the kernel side of the comm bridge (:mod:`exprscope.kernel`) that the JupyterLab extension
  talks to, with one adapter per data type (:mod:`exprscope.adapters`);
- the Python API (aggregates, markers, correlations) that computes the same numbers as the
  browser, for use in notebooks and scripts;
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

__all__ = ["__version__", "aggregate", "correlate", "datasets", "markers"]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "exprscope"}]
