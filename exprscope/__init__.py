"""exprscope: compare gene expression across datasets and clusters in JupyterLab.

The Python package holds three things:

- the kernel side of the comm bridge (:mod:`exprscope.kernel`) that the JupyterLab extension
  talks to, with one adapter per data type (:mod:`exprscope.adapters`);
- the Python API (aggregates, markers, conserved markers, correlations) that computes the same numbers as the
  browser, for use in notebooks and scripts, and the notebook widgets
  (:func:`heatmap`, :func:`dual_expression`, :mod:`exprscope.widgets`);
- the bundled demo data (:mod:`exprscope.datasets`);
- a small Jupyter server extension (:mod:`exprscope.server`): optional cross-origin
  isolation of JupyterLab's pages, which lets the plots share memory with their workers.

Everything public is imported on first use, so that the server extension and the comm
setup that runs in every kernel do not load pandas and anndata.
"""

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    import warnings

    warnings.warn("Importing 'exprscope' outside a proper installation.", stacklevel=2)
    __version__ = "dev"

import importlib

__all__ = [
    "__version__",
    "aggregate",
    "compare",
    "conserved_markers",
    "correlate",
    "datasets",
    "differential_correlation",
    "dual_expression",
    "heatmap",
    "markers",
    "pseudobulk",
    "to_gene_friendly",
]


# Public name -> the module that defines it (None: the name is a submodule).
_LAZY = {
    "aggregate": "api",
    "correlate": "api",
    "markers": "api",
    "conserved_markers": "conserved",
    "compare": "conditions",
    "differential_correlation": "conditions",
    "pseudobulk": "conditions",
    "to_gene_friendly": "convert",
    "datasets": None,
    "heatmap": "widgets",
    "dual_expression": "widgets",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'exprscope' has no attribute {name!r}")
    module = _LAZY[name]
    if module is None:
        return importlib.import_module(f".{name}", __name__)
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def _jupyter_server_extension_points():
    return [{"module": "exprscope.server"}]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "exprscope"}]
