"""gradjit's diagnostic switches: each an environment variable read at import, an attribute of
`config` to set at run time, and (for the on/off ones) a context manager.

    GRADJIT_LOG_COMPILES=1         log every trace and compile at WARNING level (else DEBUG)
    GRADJIT_DEBUG_NANS=1           check outputs of compiled calls for NaN/inf, find the culprit
    GRADJIT_STRICT_GRADIENTS=1     a gradient that cannot reach the output is an error
    GRADJIT_LONG_COMPILE_SECONDS   say so when tracing plus compiling takes longer (default 5)
    GRADJIT_RECOMPILE_WARNING      warn when a function has this many signatures (default 8)
    GRADJIT_LIBM=1                 kernels call libm instead of gradjit's vectorisable math
                                   (`config.libm`; applies to functions compiled afterwards)
"""
import contextlib
import os
import sys

from ..errors import _is_internal


def _flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def _number(name, default, kind):
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{name}={text!r} must be a non-negative {kind.__name__}")
    return value


class Config:
    """The switches (read from the environment when gradjit is imported)."""

    def __init__(self):
        self.log_compiles = _flag("GRADJIT_LOG_COMPILES")
        self._debug_nans = _flag("GRADJIT_DEBUG_NANS")
        self.strict_gradients = _flag("GRADJIT_STRICT_GRADIENTS")
        self.long_compile_seconds = _number("GRADJIT_LONG_COMPILE_SECONDS", 5.0, float)
        self.recompile_warning = _number("GRADJIT_RECOMPILE_WARNING", 8, int)
        self.libm = _flag("GRADJIT_LIBM")

    @property
    def debug_nans(self):
        return self._debug_nans

    @debug_nans.setter
    def debug_nans(self, value):
        value = bool(value)
        if value != self._debug_nans:
            from .. import dispatch         # checked calls leave the dispatch fast path
            dispatch._detour(1 if value else -1)
            self._debug_nans = value

    def __repr__(self):
        names = ("log_compiles", "debug_nans", "strict_gradients", "long_compile_seconds", "recompile_warning", "libm")
        return "gradjit config(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in names) + ")"


config = Config()


@contextlib.contextmanager
def _switched(name, enabled):
    old = getattr(config, name)
    setattr(config, name, enabled)
    try:
        yield
    finally:
        setattr(config, name, old)


def log_compiles(enabled=True):
    """Context manager: log every trace and compile (logger "gradjit") at WARNING level, with the
    time of each stage and, on a recompile, what changed. Same as GRADJIT_LOG_COMPILES=1."""
    return _switched("log_compiles", enabled)


def debug_nans(enabled=True):
    """Context manager: after each compiled call, check the outputs for NaN and inf; if there are
    any, find the first equation that produced one and raise FloatingPointError naming it, your
    line and the pass (forward or backward). Same as GRADJIT_DEBUG_NANS=1."""
    return _switched("debug_nans", enabled)


def strict_gradients(enabled=True):
    """Context manager: a differentiated argument the output does not depend on raises
    DifferentiationError instead of a DisconnectedGradientWarning. Same as GRADJIT_STRICT_GRADIENTS=1."""
    return _switched("strict_gradients", enabled)


def user_frame():
    """(filename, line, module globals) of the innermost frame outside gradjit and NumPy."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not _is_internal(filename) and os.sep + "numpy" + os.sep not in filename:
            return filename, frame.f_lineno, frame.f_globals
        frame = frame.f_back
    return "<unknown>", 0, {}


def warn_at_user(message, category):
    """A warning attributed to the user's line (not to gradjit's internals)."""
    import warnings
    filename, line, globals_ = user_frame()
    warnings.warn_explicit(message, category, filename, line, module=globals_.get("__name__"),
                           module_globals=globals_ or None)


__all__ = ["config", "log_compiles", "debug_nans", "strict_gradients"]
