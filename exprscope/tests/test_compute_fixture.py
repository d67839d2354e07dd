"""The cross-implementation fixture is what the Python code computes today.

``conformance/compute_fixture.json`` stores inputs and the outputs of
``exprscope.compute``; the jest test ``crossImpl.spec.ts`` holds the TypeScript functions to
those outputs. Here the outputs are recomputed from the stored inputs, so a change to the
Python side that is not carried into the fixture (``python scripts/make_compute_fixtures.py``)
fails.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "conformance" / "compute_fixture.json"
SCRIPT = REPO / "scripts" / "make_compute_fixtures.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("make_compute_fixtures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assert_same(stored, recomputed, path="outputs"):
    """Equal structure; numbers equal to 1e-12 relative (BLAS summation order may differ)."""
    if isinstance(stored, dict):
        assert stored.keys() == recomputed.keys(), path
        for key in stored:
            _assert_same(stored[key], recomputed[key], f"{path}.{key}")
    elif isinstance(stored, list):
        assert len(stored) == len(recomputed), path
        for i, (a, b) in enumerate(zip(stored, recomputed, strict=True)):
            _assert_same(a, b, f"{path}[{i}]")
    elif isinstance(stored, float) and isinstance(recomputed, float):
        assert recomputed == pytest.approx(stored, rel=1e-12, abs=1e-300), path
    else:
        assert stored == recomputed, path


def test_fixture_matches_python_outputs():
    script = _load_script()
    fixture = json.loads(FIXTURE.read_text())
    recomputed = script.to_json_compatible(script.compute_outputs(fixture["inputs"]))
    _assert_same(fixture["outputs"], json.loads(json.dumps(recomputed)))


def test_fixture_is_small_and_real():
    assert FIXTURE.stat().st_size < 300_000
    fixture = json.loads(FIXTURE.read_text())
    values = np.asarray(fixture["inputs"]["cells"]["values"], dtype=np.float64)
    assert values.shape == (8, 300)
    # log-normalised counts: non-negative, sparse, float32-exact
    assert values.min() == 0 and (values == 0).mean() > 0.2
    np.testing.assert_array_equal(values, values.astype(np.float32))
