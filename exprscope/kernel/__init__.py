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

#: The constant code the frontend executes (``src/bridge/setup.ts`` holds a verbatim copy
#: between ``// BEGIN PYTHON SETUP`` and ``// END PYTHON SETUP``; a test keeps the two equal).
#: It prints nothing, leaves no names in the user namespace, and when ``exprscope`` cannot be
#: imported registers a fallback target answering every request with ``not_installed``.
#: It contains no backticks, ``${`` or backslashes, so it can sit in a TypeScript template
#: literal unchanged.
PYTHON_SETUP_SNIPPET = """\
def _exprscope_setup():
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from exprscope.kernel import register
    except Exception as error:
        reason = type(error).__name__ + ": " + str(error)

        def open_comm(comm, open_msg):
            def reply(msg):
                data = msg["content"].get("data")
                comm.send({
                    "id": data.get("id") if isinstance(data, dict) else None,
                    "ok": False,
                    "error": {
                        "code": "not_installed",
                        "message": "The exprscope package cannot be imported in this kernel ("
                        + reason + "). Install it in the kernel's environment.",
                        "details": {"reason": reason},
                    },
                })

            comm.on_msg(reply)

        get_ipython().kernel.comm_manager.register_target("exprscope", open_comm)
    else:
        register()


try:
    _exprscope_setup()
finally:
    del _exprscope_setup
"""

#: The constant code the frontend executes in R kernels (IRkernel): the whole R helper
#: ``exprscope/kernel/r/exprscope.R``, which ends by registering the ``exprscope`` comm target.
#: ``src/bridge/setup.ts`` holds a verbatim copy between ``// BEGIN R SETUP`` and
#: ``// END R SETUP`` (a test keeps the two equal), so nothing needs installing in the user's R.
R_SETUP_SNIPPET = files(__package__).joinpath("r", "exprscope.R").read_text(encoding="utf-8")


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
