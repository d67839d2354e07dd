"""How a notebook widget names its object for the frontend.

The frontend asks the comm service for data by object *name* (``spec["object"]``). A widget
built from a variable uses that variable's name in the user namespace. An object no variable
holds (``exprscope.heatmap(sc.datasets.pbmc68k_reduced())``) is registered here under a handle
such as ``"exprscope-object-1"``, which the service resolves too; it stays registered while a
widget uses it. Handles contain a hyphen, so they can never be a Python name, and they are not
listed by the ``list`` op. Names are looked up as dictionary keys only, never evaluated.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

__all__ = ["find_name", "hold", "registered", "release", "resolve"]

HANDLE_PREFIX = "exprscope-object-"

_objects: dict[str, Any] = {}
_owners: dict[str, set[int]] = {}
_counter = itertools.count(1)


def user_namespace() -> dict[str, Any] | None:
    """The IPython user namespace, or None outside IPython (plain Python)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(shell, "user_ns", None)


def find_name(obj: Any) -> str | None:
    """The first variable of the user namespace that holds ``obj`` itself (by identity).

    Names starting with ``_`` (IPython's output cache ``_``, ``_3``, private names) are never
    chosen: the comm service does not serve them.
    """
    namespace = user_namespace()
    if namespace is None:
        return None
    for name, value in list(namespace.items()):
        if value is obj and isinstance(name, str) and name.isidentifier():
            if not name.startswith("_"):
                return name
    return None


def hold(obj: Any, owner: Any) -> str:
    """Register ``obj`` (or reuse its handle) for as long as ``owner`` holds it; returns the
    handle. ``owner`` releases it with :func:`release` or by being garbage-collected."""
    handle = next((h for h, held in _objects.items() if held is obj), None)
    if handle is None:
        handle = f"{HANDLE_PREFIX}{next(_counter)}"
        _objects[handle] = obj
        _owners[handle] = set()
    _owners[handle].add(id(owner))
    weakref.finalize(owner, release, handle, id(owner))
    return handle


def release(handle: str, owner_id: int) -> None:
    """``owner_id`` no longer uses ``handle``; the object is dropped with its last owner.
    Idempotent (a widget's ``close`` and its finaliser may both call it)."""
    owners = _owners.get(handle)
    if owners is None:
        return
    owners.discard(owner_id)
    if not owners:
        del _owners[handle]
        del _objects[handle]


def registered(name: str) -> Any | None:
    """The object registered under handle ``name``, or None."""
    return _objects.get(name)


def resolve(name: str) -> Any:
    """The object ``name`` refers to: a registered handle or a variable of the user namespace
    (as the comm service resolves it). Raises KeyError when there is none."""
    if name in _objects:
        return _objects[name]
    namespace = user_namespace()
    if namespace is not None and not name.startswith("_") and name in namespace:
        return namespace[name]
    raise KeyError(f"No object named {name!r} in the kernel.")
