"""Kernel side of the exprscope comm bridge.

The JupyterLab extension runs :data:`PYTHON_SETUP_SNIPPET` silently in every Python kernel it
attaches to (on start, restart and kernel change). The snippet calls :func:`register`, which
makes the kernel answer the comm target ``exprscope`` with a :class:`~.service.Service`.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import comm
import comm.base_comm

from .protocol import COMM_TARGET
from .service import Service

__all__ = ["PYTHON_SETUP_SNIPPET", "R_SETUP_SNIPPET", "register"]

_HERE = files(__package__)

#: The constant code the frontend executes in Python kernels: the text of ``setup_snippet.py``
#: beside this file (``src/bridge/setup.ts`` imports the same file at build time).
PYTHON_SETUP_SNIPPET = _HERE.joinpath("setup_snippet.py").read_text(encoding="utf-8")

#: The constant code the frontend executes in R kernels (IRkernel): the R helper, the files of
#: ``r/`` in name order joined into one text (``src/bridge/setup.ts`` joins the same files at
#: build time). It ends by registering the ``exprscope`` comm target, so nothing needs
#: installing in the user's R.
R_SETUP_SNIPPET = "".join(
    part.read_text(encoding="utf-8")
    for part in sorted(_HERE.joinpath("r").iterdir(), key=lambda part: part.name)
    if part.name.endswith(".R")
)


def register() -> None:
    """Register the ``exprscope`` comm target with the running kernel.

    Idempotent: running the setup snippet again keeps the existing registration; comms that
    are already open keep working.
    """
    manager = _comm_manager()
    if manager.targets.get(COMM_TARGET) is not _open_comm:
        manager.register_target(COMM_TARGET, _open_comm)


def _comm_manager() -> comm.base_comm.CommManager:
    """The running kernel's comm manager.

    ipykernel ≥ 6.22 installs its manager as ``comm.get_comm_manager()``. Older kernels leave
    the ``comm`` package's own default in place, which no kernel listens to; their manager is
    ``kernel.comm_manager``.
    """
    manager = comm.get_comm_manager()
    if type(manager) is not comm.base_comm.CommManager:
        return manager
    from IPython import get_ipython  # only needed, and only present, inside a kernel

    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None:
        raise RuntimeError("exprscope.kernel.register() must run inside a Jupyter kernel.")
    return kernel.comm_manager


def _user_namespace() -> dict[str, Any]:
    from IPython import get_ipython

    return get_ipython().user_ns


def _open_comm(new_comm: comm.base_comm.BaseComm, open_msg: dict[str, Any]) -> None:
    """Comm target callback: serve the new comm's requests."""
    new_comm.on_msg(Service(new_comm, _user_namespace).handle_msg)
