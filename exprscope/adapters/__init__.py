"""Adapters: read supported in-kernel objects (AnnData today) for the comm service.

``adapter_for(obj)`` returns the adapter for an object, or None when it is not supported.
"""

from . import anndata as _anndata  # noqa: F401  (registers the AnnData adapter)
from .base import Adapter, adapter_for, register_adapter

__all__ = ["Adapter", "adapter_for", "register_adapter"]
