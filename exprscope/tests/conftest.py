"""Fixtures shared by the test modules: one real kernel per session (see kernel_harness)."""

from __future__ import annotations

import pytest
from kernel_harness import build_local_data, kernel_session


@pytest.fixture(scope="session")
def comm_kernel():
    """A kernel that ran the setup snippet and holds the test data (shared by the modules
    that talk to a kernel; tests leave the objects they did not create unchanged)."""
    with kernel_session() as session:
        yield session


@pytest.fixture(scope="session")
def local_data():
    """The same objects as in the kernel, built in the test process."""
    return build_local_data()
