"""Random numbers drawn inside a traced function: a clear error instead of numbers frozen at trace time.

A traced function runs once per signature, so a draw inside it becomes a constant of the program
and every call of the compiled function returns the same numbers.  While the outermost trace runs
the user's function (`call_guarded`), two checks watch for draws:

- Random generators the function can reach (NumPy's global RandomState behind np.random.normal &
  co., Generators, `random` module instances, found in closure cells, defaults, arguments, the
  object of a bound method, and the globals and module attributes its code names, following the
  functions it references) have their states compared before and after the call.  On a change
  the states are restored and the call is repeated under a line tracer to name the line.
- A generator created without a seed (np.random.default_rng()) asks NumPy's `randbits` for
  entropy; for the tracing thread that raises at once.

Seeded generators created inside the function draw the same numbers on every call, traced or not,
so they are left alone.  Cost: a scan of the names the function's code uses (microseconds); a
generator's state is read only if the function can reach one.  (A C-call profile hook sees no
NumPy draw: NumPy's Cython methods raise no c_call events, and the hook makes tracing 3-5x slower.)
"""
import functools
import os
import random
import sys
import threading
import types

import numpy as np
import numpy.random.bit_generator as _bit_generator

from .errors import RandomInTraceError, _is_internal, at_line, user_source

_RNG_TYPES = (np.random.Generator, np.random.RandomState, np.random.BitGenerator, random.Random)
_MAX_DEPTH, _MAX_OBJECTS = 4, 2000
_ATOMS = frozenset([str, bytes, int, float, bool, complex, type(None), np.ndarray, np.ufunc, types.CodeType,
                    np.dtype, type(np.sum)])
_local = threading.local()
_patch_lock = threading.Lock()
_patch_count = 0
_original_randbits = _bit_generator.randbits


def _message(what, source):
    return at_line(
        f"{what} inside a function traced by gradjit: the function runs once, while it is traced, so "
        "the random numbers would become constants and every call of the compiled function would "
        "return the same ones. Draw them outside and pass them in as an argument, e.g. f(x, noise) "
        "with noise = rng.standard_normal(x.shape).", source)


def _guarded_randbits(*args, **kwargs):
    if getattr(_local, "depth", 0):
        raise RandomInTraceError(_message(
            "np.random.default_rng() without a seed (a random generator seeded from fresh entropy)",
            user_source()))
    return _original_randbits(*args, **kwargs)


def call_guarded(fun, args, kwargs):
    """fun(*args, **kwargs), raising RandomInTraceError if it draws random numbers."""
    depth = getattr(_local, "depth", 0)
    if depth:
        return fun(*args, **kwargs)
    rngs = reachable_rngs(fun, args, kwargs)
    before = [_state(r) for r in rngs]
    _patch(+1)
    _local.depth = 1
    try:
        out = fun(*args, **kwargs)
    finally:
        _local.depth = 0
        _patch(-1)
    changed = [r for r, s in zip(rngs, before) if not _same(_state(r), s)]
    if changed:
        _restore(rngs, before)
        source = _locate(fun, args, kwargs, changed, [s for r, s in zip(rngs, before) if r in changed])
        _restore(rngs, before)
        raise RandomInTraceError(_message(f"{_describe(changed[0])} draws random numbers", source))
    return out


def _patch(step):
    global _patch_count
    with _patch_lock:
        _patch_count += step
        _bit_generator.randbits = _guarded_randbits if _patch_count else _original_randbits


# ---------------------------------------------------------------- which generators can the function reach

def reachable_rngs(fun, args, kwargs):
    found, seen = {}, set()

    def visit(obj, depth, names=None):
        if type(obj) in _ATOMS or id(obj) in seen or len(seen) > _MAX_OBJECTS:
            return
        seen.add(id(obj))
        owner = getattr(obj, "__self__", None)            # a bound method: np.random.normal, rng.normal
        for candidate in (obj, owner):
            if isinstance(candidate, _RNG_TYPES):
                found[id(candidate)] = candidate
                return
        if depth > _MAX_DEPTH or isinstance(obj, (type, types.BuiltinFunctionType)):
            return
        if isinstance(obj, types.FunctionType):
            visit_function(obj, depth)
        elif isinstance(obj, types.ModuleType):
            attrs = vars(obj)
            for name in names or ():                      # only the attributes the code uses
                if name in attrs:
                    visit(attrs[name], depth + 1, names)
        elif isinstance(obj, (list, tuple)):
            for item in obj[:64]:
                visit(item, depth + 1)
        elif isinstance(obj, dict):
            for item in list(obj.values())[:64]:
                visit(item, depth + 1)
        elif isinstance(obj, types.MethodType):
            visit(obj.__func__, depth)
            visit(owner, depth + 1)
        elif isinstance(obj, functools.partial):
            visit((obj.func, obj.args, obj.keywords), depth + 1)
        else:                                             # objects: gradjit transforms, models holding an rng
            attrs = getattr(obj, "__dict__", None)
            if isinstance(attrs, dict):
                visit(attrs, depth + 1)

    def visit_function(fn, depth):
        module = getattr(fn, "__module__", None) or ""
        if module.split(".")[0] in ("numpy", "compiler", "runtime") or _is_internal(fn.__code__.co_filename):
            return
        names = _code_names(fn.__code__)
        for cell in fn.__closure__ or ():
            try:
                visit(cell.cell_contents, depth + 1, names)
            except ValueError:                            # an empty cell
                pass
        visit(fn.__defaults__, depth + 1)
        visit(fn.__kwdefaults__, depth + 1)
        globals_ = fn.__globals__
        for name in names:
            if name in globals_:
                visit(globals_[name], depth + 1, names)

    visit(fun, 0)
    visit(args, 1)
    visit(kwargs, 1)
    return list(found.values())


def _code_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


# ---------------------------------------------------------------- states

def _state(rng):
    if isinstance(rng, np.random.RandomState):
        return rng.get_state(legacy=False)
    if isinstance(rng, np.random.Generator):
        return rng.bit_generator.state
    return rng.state if isinstance(rng, np.random.BitGenerator) else rng.getstate()


def _restore(rngs, states):
    for rng, state in zip(rngs, states):
        if isinstance(rng, np.random.RandomState):
            rng.set_state(state)
        elif isinstance(rng, np.random.Generator):
            rng.bit_generator.state = state
        elif isinstance(rng, np.random.BitGenerator):
            rng.state = state
        else:
            rng.setstate(state)


def _same(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def _describe(rng):
    if rng is np.random.mtrand._rand:
        return "NumPy's global random state (np.random.normal, np.random.rand, ...)"
    if rng is getattr(random, "_inst", None):
        return "Python's random module (random.random, random.gauss, ...)"
    return f"a {type(rng).__module__.split('.')[0]}.{type(rng).__name__} random generator"


# ---------------------------------------------------------------- which line drew

class _Found(BaseException):
    pass


def _locate(fun, args, kwargs, rngs, before):
    """Run the call again with a line tracer; the line after which a state first changed drew."""
    last, where = [None], []

    def drew():
        return any(not _same(_state(r), s) for r, s in zip(rngs, before))

    def local(frame, event, arg):
        if event in ("line", "return"):
            if drew():
                where.append(last[0])
                raise _Found
            caller = frame.f_back if event == "return" else frame
            user = caller is not None and not _skip(caller.f_code.co_filename)
            last[0] = f"{caller.f_code.co_filename}:{caller.f_lineno}" if user else last[0]
        return local

    def global_trace(frame, event, arg):
        return None if _skip(frame.f_code.co_filename) else local

    old = sys.gettrace()
    sys.settrace(global_trace)
    _local.depth = 1
    try:
        fun(*args, **kwargs)
    except _Found:
        pass
    except Exception:     # the first run succeeded; a failing repeat leaves the line unknown
        pass
    finally:
        sys.settrace(old)
        _local.depth = 0
    return where[0] if where else None


def _skip(filename):
    return _is_internal(filename) or os.sep + "numpy" + os.sep in filename
