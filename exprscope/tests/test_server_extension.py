"""The server extension on a real Jupyter server: cross-origin isolation is opt-in, reaches
every page and the workers' scripts, and yields to headers the server already sets."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import exprscope
from exprscope.server import ISOLATION_HEADERS

STATIC = Path(exprscope.__file__).parent / "labextension" / "static"
START_TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def jupyter_server(tmp_path: Path, *args: str):
    port = _free_port()
    log = (tmp_path / f"server-{port}.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "server",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.allow_root=True",
            "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={tmp_path}",
            *args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, (tmp_path / f"server-{port}.log").read_text()
                assert time.monotonic() < deadline, "the Jupyter server did not start"
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _headers(url: str) -> dict[str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(response.headers)


def _worker_script() -> str:
    # webpack names a chunk after every module it holds, so the worker may share its chunk.
    workers = sorted(STATIC.glob("lib_plots_dual_worker_js*.js"))
    assert workers, f"the labextension is not built ({STATIC})"
    return workers[0].name


def test_off_by_default(tmp_path):
    with jupyter_server(tmp_path) as base:
        headers = _headers(f"{base}/lab")
    for name in ISOLATION_HEADERS:
        assert name not in headers


def test_isolates_pages_and_worker_scripts(tmp_path):
    with jupyter_server(tmp_path, "--ExprscopeServer.cross_origin_isolation=True") as base:
        page = _headers(f"{base}/lab")
        worker = _headers(f"{base}/lab/extensions/exprscope/static/{_worker_script()}")
    for headers in (page, worker):
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Embedder-Policy"] == "credentialless"


def test_headers_the_server_sets_win(tmp_path):
    tornado = {"headers": {"Cross-Origin-Embedder-Policy": "require-corp"}}
    with jupyter_server(
        tmp_path,
        "--ExprscopeServer.cross_origin_isolation=True",
        f"--ServerApp.tornado_settings={json.dumps(tornado)}",
    ) as base:
        headers = _headers(f"{base}/lab")
    assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
