"""The R helper against the conformance suite (``conformance/``): ``exprscope/tests/r/conformance.R``
sources the helper without starting the comm and compares what it finishes with the stored
numbers (1e-10 relative), the same numbers jest and pytest hold TypeScript and Python to."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "exprscope" / "tests" / "r" / "conformance.R"


def _r_with_jsonlite() -> bool:
    if shutil.which("Rscript") is None:
        return False
    check = ["Rscript", "-e", 'quit(status = !requireNamespace("jsonlite", quietly = TRUE))']
    return subprocess.run(check, capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _r_with_jsonlite(), reason="R with jsonlite not installed")


def test_r_helper_reproduces_the_conformance_numbers():
    run = subprocess.run(
        ["Rscript", str(SCRIPT), str(REPO)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "checked" in run.stdout
