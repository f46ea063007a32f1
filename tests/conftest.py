"""Fixtures shared by several test modules."""

import brian2 as b2
import pytest


@pytest.fixture
def numpy_runtime():
    """Runtime device with numpy code generation (no compilation for tiny networks)."""
    b2.set_device("runtime")
    previous = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    yield
    b2.prefs.codegen.target = previous
