"""A warning for Python loops unrolled while tracing: one source line behind thousands of
equations of a trace means a loop around it, whose compile time grows with its trip count."""
import collections
import os
import warnings

from .categories import UnrolledLoopWarning

_warned = set()       # source lines already warned about in this process


def threshold():
    return int(os.environ.get("GRADJIT_UNROLLED_WARNING", 2000))


def check(program, name):
    """Warn once per line about any line that made at least `threshold()` equations of `program`."""
    if len(program.eqns) < threshold():
        return
    counts = collections.Counter(e.source for e in program.eqns if e.source)
    for source, n in counts.most_common():
        if n < threshold():
            break
        if source in _warned:
            continue
        _warned.add(source)
        path, _, line = source.rpartition(":")
        warnings.warn_explicit(
            f"tracing {name}, this line made {n:,} equations: a Python loop around it is unrolled, so "
            f"compiling takes longer the more steps it runs. Write the loop with compiler.fori_loop or "
            f"compiler.scan: it stays one loop, compiled once whatever its trip count. "
            f"(GRADJIT_UNROLLED_WARNING sets the threshold, now {threshold():,} equations.)",
            UnrolledLoopWarning, path or "<unknown>", int(line) if line.isdigit() else 0)
