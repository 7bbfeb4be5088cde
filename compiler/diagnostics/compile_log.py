"""Compile logs: the time of each stage of every trace and compile, why a function compiles again,
a warning when it keeps compiling, and a notice when a compile takes long.

Every compile of a transformed function (`dispatch.Transformed`) is a `Compile` record with the
stages trace, transform (jvp/vjp, simplify), lower (IR to Python source) and compile (Numba
compiling the kernel, or loading it from its disk cache, on the first call).  Records go to the
logger "gradjit": at DEBUG level, or at WARNING level (shown without any logging set-up) under
`log_compiles()` / GRADJIT_LOG_COMPILES=1.  Log records carry the data as attributes:
`gradjit_event` ("recompile", "compiled", "long_compile"), `gradjit_function`,
`gradjit_changes`, `gradjit_stages` (seconds per stage) and `gradjit_equations`.

Always on, whatever the log level:
- a `RecompileWarning` once per function when it reaches `config.recompile_warning` signatures;
- a WARNING log record once per function when tracing plus compiling passes
  `config.long_compile_seconds` (while it is still running, and with the breakdown at the end).
"""
import collections
import functools
import logging
import threading
import time
import weakref

from .categories import RecompileWarning
from .config import config, warn_at_user
from .names import describe_leaf, describe_tree, leaf_change, leaf_names

logger = logging.getLogger("gradjit")
STAGES = ("trace", "transform", "lower", "compile")
HISTORY = 64     # signatures remembered per function, to explain the next recompile
EVICTED = ("the signature was compiled before, but its kernel was dropped from the cache (raise "
           "GRADJIT_CACHE_SIZE or call compiler.set_cache_size)")


class _History:
    """What one transformed function has compiled."""

    def __init__(self):
        self.keys = collections.deque(maxlen=HISTORY)
        self.distinct = 0
        self.seen = set()               # hashes of the keys compiled (to count distinct ones)
        self.rebound = []               # captured bindings that changed since the last compile
        self.warned_recompiles = self.warned_slow = False


_histories = weakref.WeakKeyDictionary()
_local = threading.local()     # .record: the Compile running in this thread (None outside)


def _history(fun):
    h = _histories.get(fun)
    if h is None:
        h = _histories[fun] = _History()
    return h


def rebound(fun, captured):
    """`fun` is forgetting its kernels because values it captured were rebound: remember which."""
    _history(fun).rebound = captured.changed() if captured is not None else []


def timed_trace(trace):
    """Decorator for dispatch.trace_to_program: its time (outermost call only) is the trace stage."""
    @functools.wraps(trace)
    def wrapper(*args, **kwargs):
        record = getattr(_local, "record", None)
        if record is None or record.tracing:
            return trace(*args, **kwargs)
        record.tracing, record.stage = True, "trace"
        start = time.perf_counter()
        try:
            return trace(*args, **kwargs)
        finally:
            record.times["trace"] += time.perf_counter() - start
            record.tracing, record.stage = False, "transform"
    return wrapper


def _seconds(t):
    return f"{t:.2f} s" if t >= 1 else f"{t * 1e3:.1f} ms"


def _level():
    return logging.WARNING if config.log_compiles else logging.DEBUG


def explain(previous, rebound, key, fun=None):
    """Why signature `key` is compiled although the function compiled the signatures `previous`:
    what differs from the most similar of them, and which captured values were `rebound`."""
    rebound = [f"{what} was rebound since the function was traced" for what in rebound]
    if key in previous:
        return rebound or [EVICTED]
    same_tree = [k for k in previous if k[0] == key[0]]
    if not same_tree:
        return rebound + _tree_changes(previous[-1][0], key[0])
    names = leaf_names(key[0], fun)
    diff = lambda old: [i for i, (a, b) in enumerate(zip(old[1], key[1])) if a != b]
    old = min(reversed(same_tree), key=lambda k: len(diff(k)))
    return rebound + [f"{names[i]}: {leaf_change(old[1][i], key[1][i])}" for i in diff(old)]


def _tree_changes(old, new):
    (_, old_args), old_kw = old[1]
    (_, new_args), new_kw = new[1]
    out = []
    if len(old_args) != len(new_args):
        out.append(f"number of positional arguments {len(old_args)} -> {len(new_args)}")
    for i, (a, b) in enumerate(zip(old_args, new_args)):
        if a != b:
            out.append(f"argument {i}: structure {describe_tree(a)} -> {describe_tree(b)}")
    if old_kw != new_kw:
        out.append(f"keyword arguments {describe_tree(old_kw)} -> {describe_tree(new_kw)}")
    return out or ["the argument structure changed"]


class Compile:
    """Context manager around one compile of `fun` (a Transformed) for the signature `sig`."""

    def __init__(self, fun, sig):
        # no reference to `fun` itself: the watchdog thread may outlive the compile for a moment
        self.user_fun, self.sig, self.name = getattr(fun, "fun", None), sig, fun.__name__
        self.times = dict.fromkeys(STAGES, 0.0)
        self.stage, self.tracing, self.equations, self.how = "trace", False, None, None
        self.history = _history(fun)
        self._watchdog, self._noticed = None, False

    # -- stages, in the order dispatch reaches them
    def __enter__(self):
        self._outer, _local.record = getattr(_local, "record", None), self
        if config.long_compile_seconds and not self.history.warned_slow:
            self._watchdog = threading.Timer(config.long_compile_seconds, self._still_running)
            self._watchdog.daemon = True
            self._watchdog.start()
        self._start = self._mark = time.perf_counter()
        return self

    def built(self, prog):
        """Traced and transformed into `prog`."""
        now = time.perf_counter()
        self.times["transform"] = max(0.0, now - self._mark - self.times["trace"])
        self._mark, self.stage, self.equations = now, "lower", len(prog.eqns)

    def lowered(self, kernel):
        """Lowered and wrapped; `kernel` (a Numba dispatcher) compiles on its first call.
        (Traces that are not compiled, under disable_jit or inlined, never get here.)"""
        from runtime.kernels import compile_counts
        now = time.perf_counter()
        self.times["lower"] = now - self._mark
        self._mark, self.stage, self.kernel = now, "compile", kernel
        self._explain()
        self._counts = compile_counts(kernel)

    def compiled(self):
        """The first call returned."""
        from runtime.kernels import compile_counts
        now = time.perf_counter()
        self.times["compile"] = now - self._mark
        (compiled0, loaded0), (compiled1, loaded1) = self._counts, compile_counts(self.kernel)
        self.how = ("loaded from Numba's disk cache" if loaded1 > loaded0 else
                    "Numba compile" if compiled1 > compiled0 else "kernel already compiled in this process")
        self.stage = None

    def __exit__(self, exc_type, *exc):
        _local.record = self._outer
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if exc_type is None and self.stage is None:
            self._summary(time.perf_counter() - self._start)
        return False

    # -- messages
    def _log(self, level, message, event, **data):
        if logger.isEnabledFor(level):
            extra = {"gradjit_event": event, "gradjit_function": self.name, **{f"gradjit_{k}": v for k, v in data.items()}}
            logger.log(level, message, extra=extra)

    def _explain(self):
        """Before the kernel compiles: if the function compiled before, say what is new; count
        signatures."""
        h, key = self.history, self.sig.key
        changes = None
        if h.keys:
            changes = explain(h.keys, h.rebound, key, self.user_fun)
            self._log(_level(), f"compiling {self.name} again ({len(h.keys)} signature"
                      f"{'s' if len(h.keys) != 1 else ''} compiled before): " + "; ".join(changes),
                      "recompile", changes=changes)
        h.rebound = []
        h.keys.append(key)
        if hash(key) not in h.seen:
            h.seen.add(hash(key))
            h.distinct += 1
            if h.distinct >= config.recompile_warning > 0 and not h.warned_recompiles:
                h.warned_recompiles = True
                warn_at_user(self._recompile_warning(h.distinct, changes or []), RecompileWarning)

    def _recompile_warning(self, n, changes):
        text = " ".join(changes)
        if "shape" in text:
            fix = ("pad or bucket arrays to a few fixed shapes (e.g. the next power of two, with a mask), "
                   "so that calls share a signature")
        elif "static" in text:
            fix = ("pass values that change from call to call as floats or arrays (traced) instead of "
                   "Python ints, bools or strings (static: part of the signature)")
        elif "rebound" in text:
            fix = "pass values that change as arguments instead of reading them from globals or closures"
        else:
            fix = "keep the dtypes and the structure of the arguments the same from call to call"
        last = f" The latest change: {'; '.join(changes)}." if changes else ""
        return (f"{self.name} has been compiled for {n} different argument signatures; each new one is "
                f"traced and compiled again.{last} To avoid it, {fix}. Set GRADJIT_LOG_COMPILES=1 to "
                f"see every compile and what changed.")

    def _signature_text(self):
        return ", ".join(describe_leaf(k) for k in self.sig.key[1])

    def _stage_text(self):
        parts = [f"{s} {_seconds(self.times[s])}" for s in STAGES]
        if self.how:
            parts[-1] += f" ({self.how})"
        return ", ".join(parts)

    def _summary(self, total):
        stages = dict(self.times)
        message = (f"compiled {self.name} for ({self._signature_text()}) in {_seconds(total)}: "
                   f"{self._stage_text()}; {self.equations} equations")
        self._log(_level(), message, "compiled", stages=stages, equations=self.equations)
        limit = config.long_compile_seconds
        if limit and total > limit and (self._noticed or not self.history.warned_slow):
            self.history.warned_slow = True
            slowest = max(STAGES, key=self.times.get)
            self._log(logging.WARNING, f"{self.name} took {total:.1f} s to trace and compile "
                      f"({self.equations} equations; slowest stage: {slowest}). {self._advice(slowest)}",
                      "long_compile", stages=stages, equations=self.equations)

    def _advice(self, stage):
        if stage == "trace" or self.equations and self.equations > 2000:
            return ("Python loops are unrolled while tracing: each iteration adds its equations. Write "
                    "long loops with compiler.fori_loop or compiler.scan (compiled once, whatever the trip "
                    "count), or vectorise them.")
        if stage == "compile":
            return ("Numba's compile time grows with the kernel's size; it is cached on disk, so the next "
                    "process loads it instead.")
        return ""

    def _still_running(self):
        """Called by the watchdog timer if the compile is still running after the limit."""
        if self.stage is None or self.history.warned_slow:
            return
        self.history.warned_slow = self._noticed = True
        elapsed = time.perf_counter() - self._start
        size = f"{self.equations} equations, " if self.equations is not None else ""
        self._log(logging.WARNING, f"{self.name} has been tracing and compiling for {elapsed:.1f} s "
                  f"so far ({size}now in stage: {self.stage}). It runs once per argument signature.",
                  "long_compile", stage=self.stage, equations=self.equations)
