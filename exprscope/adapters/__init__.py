"""Adapters: read supported in-kernel objects (AnnData in memory, backed or on Dask;
TileDB-SOMA experiments) for the comm service.

``adapter_for(obj)`` returns the adapter for an object, or None when it is not supported.
"""

from . import anndata as _anndata  # noqa: F401  (registers the AnnData adapter)
from . import outofcore as _outofcore  # noqa: F401  (backed and Dask AnnData)
from . import soma as _soma  # noqa: F401  (TileDB-SOMA experiments)
from .base import Adapter, adapter_for, register_adapter

__all__ = ["Adapter", "adapter_for", "register_adapter"]
