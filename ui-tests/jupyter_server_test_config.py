"""JupyterLab server configuration for the Galata UI tests.

Galata's helper opens the server without a token in a fresh temporary root directory.
`allow_root` because CI runs as root.
"""

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821
configure_jupyter_server(c)
c.ServerApp.allow_root = True
c.ServerApp.open_browser = False
# Tests upload notebooks and read outputs; keep kernels responsive and quiet.
c.LanguageServerManager.autodetect = False
