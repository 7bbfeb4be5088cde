"""Anomaly detection: remember where each backward node was created and stop at the first NaN.

While enabled, every recorded operation stores the user's file:line; a backward node that returns
NaN raises AnomalyError naming the node and that line.
"""
import functools
import threading

import numpy as np

from compiler.errors import user_source

from .errors import AnomalyError


class _State(threading.local):
    enabled = False


state = _State()


def is_anomaly_enabled():
    return state.enabled


class set_detect_anomaly:
    """`set_detect_anomaly(True)` switches detection on at once; as a context manager it restores on exit."""

    def __init__(self, mode, check_nan=True):
        self._prev = state.enabled
        state.enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False


class detect_anomaly:
    """Context manager and decorator: anomaly detection on inside."""

    def __init__(self, check_nan=True):
        pass

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = True
        return self

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            with detect_anomaly():
                return fn(*a, **k)
        return wrapper


def forward_source():
    """The user's file:line of the operation being recorded (only while detection is on)."""
    return user_source() if state.enabled else None


def _has_nan(g):
    data = getattr(g, "_data", g)
    return isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind == "f" and bool(np.isnan(data).any())


def check_nan(node, grads):
    for i, g in enumerate(grads):
        if g is not None and _has_nan(g):
            where = (f"The forward operation that created it is at {node._source}."
                     if node._source else
                     "It was created before anomaly detection was enabled; enable it before the "
                     "forward pass to see where.")
            raise AnomalyError(
                f"Function '{node.name()}' returned nan values in its {i}th output. {where} "
                "Look for log/sqrt of non-positive values, 0/0 or inf - inf there.")
