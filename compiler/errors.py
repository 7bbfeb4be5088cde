"""gradjit's error hierarchy. Each class subclasses the built-in a Python user would expect.

Messages name the problem, the user's file:line where there is one, and the fix.
"""
import os
import sys
import types


class GradjitError(Exception):
    """Base class of every error gradjit raises on purpose."""


class TracingError(GradjitError, TypeError):
    """A traced value was used where a concrete value is required (`if x > 0:`, `float(x)`)."""


class UnsupportedFunctionError(GradjitError, NotImplementedError):
    """A NumPy function or construct that gradjit cannot trace."""


class ShapeError(GradjitError, ValueError):
    """Operand shapes or dtypes do not fit an operation."""


class DifferentiationError(GradjitError, TypeError):
    """The function or its arguments cannot be differentiated as asked (non-scalar output, int input)."""


class MissingRuleError(GradjitError, NotImplementedError):
    """A primitive lacks the rule a transform needs (a bug in gradjit: please report it)."""


class UnsupportedDtypeError(UnsupportedFunctionError, TypeError):
    """An array of a dtype gradjit cannot compute with (float16, long double, complex, object)."""


class RandomInTraceError(GradjitError, RuntimeError):
    """A traced function draws random numbers: the draw would happen once, at trace time."""


def at_line(message, source):
    return f"{message}\n  at {source}" if source else message


_INTERNAL_DIRS = [os.path.dirname(os.path.abspath(__file__)) + os.sep]


def register_internal_dir(path):
    """Frames in files under `path` are gradjit's own: hidden from tracebacks and source lines."""
    _INTERNAL_DIRS.append(os.path.dirname(os.path.abspath(path)) + os.sep)


def _is_internal(filename):
    return filename.startswith(tuple(_INTERNAL_DIRS)) or filename.startswith("<__array_function__")


def user_source():
    """'file:line' of the innermost frame outside gradjit and NumPy's dispatch machinery."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not _is_internal(filename) and os.sep + "numpy" + os.sep not in filename:
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def surface(error):
    """The gradjit error NumPy wrapped, if it did: `array[i] = tracer` calls the tracer's
    `__float__`, and NumPy replaces our error by "setting an array element with a sequence"."""
    cause = error.__cause__
    return cause if isinstance(cause, GradjitError) and not isinstance(error, GradjitError) else error


def filter_traceback(tb):
    """Drop gradjit's own frames from a traceback, so the error points at the user's code.
    Set GRADJIT_TRACEBACK=full to keep them (for debugging gradjit itself)."""
    if os.environ.get("GRADJIT_TRACEBACK") == "full":
        return tb
    frames = []
    while tb is not None:
        if not _is_internal(tb.tb_frame.f_code.co_filename):
            frames.append(tb)
        tb = tb.tb_next
    new = None
    for t in reversed(frames):
        new = types.TracebackType(new, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return new
