"""Shared test set-up: one kernel cache directory per test run, so compiled kernels are shared by
every test of the run (in memory and on disk) but never leak in from an earlier run."""
import os
import tempfile

import numpy as np
import pytest
from hypothesis import settings

# CI runs the same examples every time; local runs explore new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

os.environ.setdefault("GRADJIT_CACHE_DIR", tempfile.mkdtemp(prefix="gradjit-test-cache-"))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def central_difference(f, xs, vs, h=1e-6):
    """(f(x + h v) - f(x - h v)) / 2h, computed by NumPy alone: the oracle for forward mode."""
    plus = f(*[x + h * v for x, v in zip(xs, vs)])
    minus = f(*[x - h * v for x, v in zip(xs, vs)])
    return (np.asarray(plus) - np.asarray(minus)) / (2 * h)
