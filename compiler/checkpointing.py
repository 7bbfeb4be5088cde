"""How much a reverse pass through a loop may store: the memory budget and each loop's plan.

A loop's adjoint needs per-step values of its forward pass.  Per loop, from the budget:
- "residuals": every step's residuals are stored;
- "states": the carried state of every step is stored and each step's residuals are recomputed
  from it (one extra forward evaluation per step, less memory traffic);
- "checkpoints": only `slots` snapshots of the state are stored: binomial checkpointing (Revolve,
  compiler/revolve.py) with the fewest forward steps there are.  A while_loop,
  whose trip count is known only when it ends, always works this way (online checkpointing).
The budget is bytes per loop: `grad(f, memory_budget="256MB")`, a loop's own `memory_budget=`,
or GRADJIT_MEMORY_BUDGET; by default a quarter of physical memory.
"""
import contextlib
import os
import re
import threading

CACHED_RESIDUALS = 1 << 20         # bytes of stacked residuals that stay cheap to store and read back
RECOMPUTE_RATIO = 4                # residuals this many times the state: recompute them instead
MAX_SLOTS = 1 << 16                # snapshots of a while_loop at most (1 MiB for two float64 numbers)
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
    """(strategy, snapshots) for a scan:
    "residuals" when they fit the budget and stacking them is cheap (they fit in cache, or are
    not much bigger than the state); "states" when the state fits: stacking it and recomputing
    each step's residuals moves less memory, which for a loop of cheap steps is faster (measured:
    benchmarks/RESULTS.md); else "checkpoints", with as many snapshots as the budget holds."""
    stacked = length * residual_bytes
    if stacked <= budget and (stacked <= CACHED_RESIDUALS or residual_bytes <= RECOMPUTE_RATIO * state_bytes):
        return "residuals", 0
    if length * state_bytes <= budget:
        return "states", 0
    return "checkpoints", max(1, min(length, budget // max(state_bytes, 1)))


def while_slots(state_bytes, budget):
    return max(2, min(MAX_SLOTS, budget // max(state_bytes, 1)))



def describe_loops(program):
    """One line per loop of a differentiated program: what its reverse pass stores and recomputes."""
    from .diagnostics.draw import short_source
    from .diagnostics.passes import passes_of
    from .primitives.checkpoint import checkpointed_p
    from .primitives.control import scan_p, while_p
    from .revolve import advances
    lines, forward = [], passes_of(program).forward_vars

    def visit(prog, depth):
        for eqn in prog.eqns:
            if depth == 0 and forward is not None and not forward.intersection(eqn.outputs):
                continue              # the backward pass's loops: they store nothing for later
            where = f"{'  ' * depth}{short_source(eqn.source) if eqn.source else '?'}: "
            p = eqn.params
            if eqn.prim is checkpointed_p:
                state = nbytes([v.aval for v in p["body"].outvars[:p["num_carry"]]])
                if p["kind"] == "scan":
                    n, c = p["length"], p["slots"]
                    plan = (f"a state per step ({_fmt(c * state)}), each step's residuals recomputed once"
                            if c >= n else f"{c} snapshots ({_fmt(c * state)}), Revolve: {advances(n, c) + 1} "
                                           f"forward steps to reverse {n} ({(advances(n, c) + 1 + n) / n:.2f}x)")
                    lines.append(f"{where}scan of {n} steps: {plan}")
                else:
                    lines.append(f"{where}while_loop: up to {p['slots']} snapshots ({_fmt(p['slots'] * state)}), "
                                 "online; each step's residuals recomputed, Revolve between snapshots")
            elif eqn.prim is scan_p and p.get("stacks"):
                ys = _fmt(nbytes([v.aval for v in eqn.outputs[p["num_carry"]:]]))
                what = ("the state of every step, and recomputes each step's residuals from it"
                        if p["stacks"] == "states" else "every step's residuals")
                lines.append(f"{where}scan of {p['length']} steps: stores {what} ({ys} with its outputs)")
            elif eqn.prim in (scan_p, while_p):
                lines.append(f"{where}{eqn.prim.name}: nothing stored")
            if isinstance(p.get("body"), type(program)):
                visit(p["body"], depth + 1)

    visit(program, 0)
    return "\n".join(lines) if lines else "no loops"


def _fmt(n):
    from .diagnostics.memory import format_bytes
    return format_bytes(n)
