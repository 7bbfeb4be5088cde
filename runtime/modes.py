"""Grad modes (thread-local, like PyTorch's): no_grad, enable_grad, set_grad_enabled, inference_mode.

Each is a context manager and a decorator (`@rt.no_grad()` or `@rt.no_grad`).
"""
import functools
import threading


class _State(threading.local):
    grad_enabled = True
    inference = False


state = _State()


def is_grad_enabled():
    return state.grad_enabled


def is_inference_mode_enabled():
    return state.inference


class _Mode:
    """Base class: subclasses define `_set()` (returns the state to restore) and take a bool or nothing."""

    def __new__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs and callable(args[0]) and not isinstance(args[0], bool):
            return cls()(args[0])         # bare decorator: @rt.no_grad
        return super().__new__(cls)

    def __init__(self, *args):
        self._args = args

    def __enter__(self):
        self._prev = (state.grad_enabled, state.inference)
        self._set()
        return self

    def __exit__(self, *exc):
        state.grad_enabled, state.inference = self._prev
        return False

    def __call__(self, fn):
        args = self._args

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with type(self)(*args):
                return fn(*a, **k)
        return wrapper


class no_grad(_Mode):
    """Operations record no graph: outputs do not require grad (use for evaluation and optimizer steps)."""

    def _set(self):
        state.grad_enabled = False


class enable_grad(_Mode):
    """Re-enable graph recording inside a no_grad region."""

    def _set(self):
        state.grad_enabled = True


class set_grad_enabled(_Mode):
    """`set_grad_enabled(False)` switches recording off at once; as a context manager it restores on exit."""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(mode) takes a bool, got {type(mode).__name__}")
        self._args = (mode,)
        self._prev = (state.grad_enabled, state.inference)
        state.grad_enabled = mode

    def __enter__(self):
        return self                   # already applied in __init__, as in PyTorch

    def _set(self):
        state.grad_enabled = self._args[0]

    def __call__(self, fn):
        state.grad_enabled, state.inference = self._prev   # used as a decorator: undo the eager switch
        mode = self._args[0]

        @functools.wraps(fn)
        def wrapper(*a, **k):
            prev = (state.grad_enabled, state.inference)
            state.grad_enabled = mode
            try:
                return fn(*a, **k)
            finally:
                state.grad_enabled, state.inference = prev
        return wrapper


class inference_mode(_Mode):
    """Like no_grad, and tensors created inside are marked as inference tensors: they can never
    take part in autograd later (clone them outside inference mode to get a normal tensor)."""

    def __init__(self, mode=True):
        self._args = (mode,)

    def _set(self):
        if self._args[0]:
            state.grad_enabled = False
            state.inference = True
        else:
            state.inference = False
