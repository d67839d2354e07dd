"""The exprscope Jupyter server extension: optional cross-origin isolation.

Browsers give ``SharedArrayBuffer`` only to cross-origin-isolated pages, i.e. pages
served with the ``Cross-Origin-Opener-Policy`` and ``Cross-Origin-Embedder-Policy``
headers. With it, the data the extension fetches from the kernel is decoded into shared
memory and its plots' Web Workers read that memory instead of a copy (at a million
cells: 18 MB not copied and ~30 ms of the UI thread saved per view; docs/performance.md).

It is off by default because it applies to the whole of JupyterLab: a page that embeds a
cross-origin iframe (a video, a map from another site) without its own COEP header, or
a login popup that talks to its opener, stops working. ``credentialless`` still lets
cross-origin images and scripts load, without cookies. Turn it on with::

    jupyter lab --ExprscopeServer.cross_origin_isolation=True

or ``c.ExprscopeServer.cross_origin_isolation = True`` in ``jupyter_server_config.py``.
Headers the server is already configured to send (``ServerApp.tornado_settings``) win.
"""

from __future__ import annotations

from traitlets import Bool
from traitlets.config import LoggingConfigurable

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "credentialless",
}


class ExprscopeServer(LoggingConfigurable):
    """Settings of the exprscope server extension."""

    cross_origin_isolation = Bool(
        False,
        config=True,
        help=(
            "Serve JupyterLab cross-origin isolated (COOP: same-origin, COEP: "
            "credentialless), so that exprscope's plots share fetched data with their "
            "workers instead of copying it. Breaks cross-origin iframes without a COEP "
            "header and popups that talk to their opener, in every JupyterLab page."
        ),
    )


def _load_jupyter_server_extension(server_app) -> None:
    settings = ExprscopeServer(parent=server_app)
    if not settings.cross_origin_isolation:
        return
    # Every Jupyter handler (pages, static files, the workers' scripts) sends these.
    headers = server_app.web_app.settings.setdefault("headers", {})
    for name, value in ISOLATION_HEADERS.items():
        headers.setdefault(name, value)
    server_app.log.info(
        "exprscope: serving JupyterLab cross-origin isolated (%s)",
        ", ".join(f"{name}: {headers[name]}" for name in ISOLATION_HEADERS),
    )
