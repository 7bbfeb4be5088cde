"""How much a reverse pass through a loop may store: the memory budget and each loop's plan.

A loop's adjoint needs per-step values of its forward pass.  Per loop, from the budget:
- "residuals": every step's residuals are stored (fastest); chosen when they fit;
- "checkpoints": only carried states are stored, in `slots` snapshots, and each step's residuals
  are recomputed from its state; with a snapshot per step that is one extra forward evaluation
  per step, with fewer it is binomial checkpointing (Revolve, compiler/revolve.py).  A while_loop,
  whose trip count is known only when it ends, always works this way (online checkpointing).
The budget is bytes per loop: `grad(f, memory_budget="256MB")`, a loop's own `memory_budget=`,
or GRADJIT_MEMORY_BUDGET; by default a quarter of physical memory.
"""
import contextlib
import os
import re
import threading

MAX_SLOTS = 1 << 20                # snapshots of a while_loop, allocated (not touched) up front
_UNITS = {"": 1, "b": 1, "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9, "tb": 10 ** 12,
          "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}
_local = threading.local()


def parse_budget(value, what="memory_budget"):
    """Bytes from an int or a string such as "256MB", "1.5 GiB" (KB/MB/GB are powers of 1000,
    KiB/MiB/GiB of 1024)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} must be a number of bytes or a string like '256MB', got {value!r}")
    if isinstance(value, (int, float)):
        number, unit = value, ""
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(value))
        if match is None or match.group(2).lower() not in _UNITS:
            raise ValueError(f"{what}={value!r} is not a size: write a number of bytes or e.g. '256MB', '2GiB'")
        number, unit = float(match.group(1)), match.group(2).lower()
    size = int(number * _UNITS[unit])
    if size <= 0:
        raise ValueError(f"{what} must be positive, got {value!r}")
    return size


def default_budget():
    env = os.environ.get("GRADJIT_MEMORY_BUDGET")
    if env:
        return parse_budget(env, "GRADJIT_MEMORY_BUDGET")
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (ValueError, OSError, AttributeError):
        return 2 * 2 ** 30


@contextlib.contextmanager
def budget_scope(value):
    """While transforms build a program, loops without their own budget use `value` (None: default)."""
    previous = getattr(_local, "budget", None)
    _local.budget = None if value is None else parse_budget(value)
    try:
        yield
    finally:
        _local.budget = previous


def current_budget(own=None):
    if own is not None:
        return own
    scoped = getattr(_local, "budget", None)
    return scoped if scoped is not None else default_budget()


def nbytes(avals):
    return sum(a.size * a.dtype.itemsize for a in avals)


def scan_plan(length, residual_bytes, state_bytes, budget):
    """(strategy, snapshots) for a scan: residuals if they fit, else as many state snapshots as
    the budget holds (at least one)."""
    if length * residual_bytes <= budget:
        return "residuals", 0
    return "checkpoints", max(1, min(length, budget // max(state_bytes, 1)))


def while_slots(state_bytes, budget):
    return max(2, min(MAX_SLOTS, budget // max(state_bytes, 1)))

