"""What a traced function read from its environment, and whether that still holds.

A transformed function is traced once per signature, so values it closed over are frozen into its
kernel.  JAX documents this trap; gradjit notices it: after each trace it records the bindings the
function read that can later be rebound, and before each call it checks that every one of them
still refers to the same object (a rebound Python scalar, str or bytes equal to the old one also
counts as the same).  If one changed, the function is traced again; kernels of programs seen
before are reused by content, so switching back and forth does not recompile.

Recorded (see `record`):
- closure cells of the function (`nonlocal`-style rebinding of `scale` in an enclosing function);
- globals its code reads (LOAD_GLOBAL), including code of lambdas, comprehensions and functions
  it defines inside;
- attribute chains read from a global, a closure variable or a bound method's `self`, like
  `self.scale`, `cfg.model.width` or `config.lr` (with `config` a module of your own), as long as
  each step is an entry of the object's instance `__dict__` (or of a user module);
- the same, recursively, for Python functions reached that way (helpers called through globals,
  closures or attributes, methods called on `self`, functions wrapped by `functools.partial`,
  decorators that set `__wrapped__`, and gradjit transformations), up to `MAX_FUNCTIONS`.
Not detected: in-place mutation of a captured object (`w[0] = 1.0`, `lst.append(...)`); class
attributes, properties, `__slots__` and `__getattr__`; attributes of library modules and code
of installed packages; values reached through containers (`params["w"]` of a global dict: the
dict is the same object); default argument values; locals of enclosing functions read at call
time.  Pass such values as arguments instead.
"""
import dis
import functools
import inspect
import os
import sysconfig
import types

import numpy as np

from .errors import _is_internal

MAX_FUNCTIONS = 64
_NOTHING = object()
_SCALARS = (int, float, complex, str, bytes, bool, type(None), np.generic)


class Captured:
    """Recorded bindings: closure cells `[cell, value]` and dict entries `[dict, key, value]`.

    `unchanged()` is a function generated for these bindings (one `is` test each: it runs before
    every call of a compiled kernel); only when a test fails does the slower `_adopt` run.
    `cell_names` maps id(cell) to the closure variable's name (for `changed`)."""

    def __init__(self, cells, entries, cell_names=None):
        self.cells, self.entries = cells, entries
        self.cell_names = cell_names or {}
        self.unchanged = self._generate_check()

    def _generate_check(self):
        env, tests = {"missing": _NOTHING, "adopt": self._adopt}, []
        for i, (cell, value) in enumerate(self.cells):
            env[f"c{i}"], env[f"cv{i}"] = cell, value
            tests.append(f"c{i}.cell_contents is cv{i}")
        for i, (d, key, value) in enumerate(self.entries):
            env[f"d{i}"], env[f"dv{i}"] = d, value
            tests.append(f"d{i}.get({key!r}, missing) is dv{i}")
        source = (f"def make({', '.join(env)}):\n"
                  f"    def unchanged():\n"
                  f"        try:\n"
                  f"            return ({' and '.join(tests) or 'True'}) or adopt()\n"
                  f"        except ValueError:    # a deleted closure variable\n"
                  f"            return False\n"
                  f"    return unchanged\n")
        namespace = {}
        exec(source, namespace)
        return namespace["make"](**env)

    def _adopt(self):
        """True if every binding is the recorded object or an equal immutable scalar; equal
        scalars are adopted, so that the next check is by identity again."""
        records = [(r, r[0].cell_contents) for r in self.cells] + \
                  [(r, r[0].get(r[1], _NOTHING)) for r in self.entries]
        if not all(now is r[-1] or _same_scalar(r[-1], now) for r, now in records):
            return False
        for r, now in records:
            r[-1] = now
        self.unchanged = self._generate_check()
        return True

    def changed(self):
        """Descriptions of the bindings that no longer hold ("global 'scale'"), for diagnostics."""
        out = []
        for cell, value in self.cells:
            try:
                now = cell.cell_contents
            except ValueError:
                now = _NOTHING
            if now is not value and not _same_scalar(value, now):
                out.append(f"closure variable '{self.cell_names.get(id(cell), '?')}'")
        for d, key, value in self.entries:
            now = d.get(key, _NOTHING)
            if now is not value and not _same_scalar(value, now):
                kind = "global" if "__builtins__" in d or "__spec__" in d else "attribute"
                out.append(f"{kind} '{key}'")
        return out


def _same_scalar(old, now):
    """`now` is an immutable scalar equal to `old`: tracing again would give the same program."""
    if type(now) is not type(old) or not isinstance(now, _SCALARS):
        return False
    return repr(now) == repr(old)     # exact for floats (and tells 0.0 from -0.0, nan equals nan)


def record(fun):
    """The bindings `fun` (any callable) reads from its environment; None if there are none."""
    recorder = _Recorder()
    recorder.callable(fun)
    if not recorder.cells and not recorder.entries:
        return None
    return Captured(recorder.cells, recorder.entries, recorder.cell_names)


_LIBRARY_DIRS = tuple(sorted({os.path.join(p, "") for k, p in sysconfig.get_paths().items()
                              if k in ("stdlib", "platstdlib", "purelib", "platlib")}))


def _code_kind(filename):
    """'gradjit' for our own code, 'library' for the standard library and installed packages."""
    if _is_internal(filename):
        return "gradjit"
    if filename.startswith(_LIBRARY_DIRS) or filename.startswith("<frozen"):
        return "library"
    return "user"


def _user_module(module):
    filename = getattr(module, "__file__", None)
    return isinstance(filename, str) and _code_kind(os.path.abspath(filename)) == "user"


@functools.lru_cache(maxsize=1024)
def _loads(code):
    """(opname, argument) of each instruction of a code object."""
    return tuple((ins.opname, ins.argval) for ins in dis.get_instructions(code))


def _nested_codes(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _nested_codes(const)


class _Recorder:
    def __init__(self):
        self.cells, self.entries, self.cell_names = [], [], {}
        self._functions, self._recorded = set(), set()

    def callable(self, obj, bound_self=_NOTHING):
        """Find the Python function behind a callable (unwrapping methods, partials, decorators)."""
        for _ in range(16):
            if isinstance(obj, types.FunctionType):
                self.function(obj, bound_self)
                return
            if isinstance(obj, types.MethodType):
                bound_self, obj = obj.__self__, obj.__func__
            elif isinstance(obj, functools.partial):
                obj = obj.func
            elif inspect.getattr_static(obj, "__wrapped__", None) is not None:
                obj = inspect.getattr_static(obj, "__wrapped__")
            else:
                call = inspect.getattr_static(type(obj), "__call__", None)
                if not isinstance(call, types.FunctionType):
                    return
                bound_self, obj = obj, call

    def function(self, fn, bound_self):
        if id(fn) in self._functions or len(self._functions) >= MAX_FUNCTIONS:
            return
        self._functions.add(id(fn))
        code = fn.__code__
        kind = _code_kind(code.co_filename)
        if kind == "library":
            return
        cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
        for name, cell in cells.items():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if kind == "user":           # gradjit's own closures (wrappers) are never rebound
                self.cells.append([cell, value])
                self.cell_names[id(cell)] = name
            self.value(value)
        if kind == "user":
            for nested in _nested_codes(code):
                self.scan(nested, fn.__globals__, cells, bound_self if nested is code else _NOTHING)

    def scan(self, code, globals_, cells, bound_self):
        """Record globals and attribute chains the bytecode loads."""
        self_name = code.co_varnames[0] if bound_self is not _NOTHING and code.co_argcount else None
        obj = _NOTHING     # the object the current chain of loads has reached
        for op, name in _loads(code):
            if op == "LOAD_GLOBAL":
                obj = self.entry(globals_, name) if name in globals_ else _NOTHING
            elif op == "LOAD_DEREF" and name in cells:
                try:
                    obj = cells[name].cell_contents
                except ValueError:
                    obj = _NOTHING
            elif op == "LOAD_FAST" and name == self_name:
                obj = bound_self
            elif op in ("LOAD_ATTR", "LOAD_METHOD") and obj is not _NOTHING:
                obj = self.attribute(obj, name)
            else:
                obj = _NOTHING

    def attribute(self, obj, name):
        if isinstance(obj, types.ModuleType):
            return self.entry(obj.__dict__, name) if _user_module(obj) and name in obj.__dict__ else _NOTHING
        if isinstance(obj, type):
            return _NOTHING
        try:
            d = object.__getattribute__(obj, "__dict__")
        except AttributeError:
            d = None
        if isinstance(d, dict) and name in d:
            return self.entry(d, name)
        method = inspect.getattr_static(type(obj), name, None)
        if isinstance(method, types.FunctionType):
            self.function(method, obj)
        return _NOTHING

    def entry(self, d, name):
        value = d[name]
        if isinstance(value, types.ModuleType):
            return value if _user_module(value) else _NOTHING
        if (id(d), name) not in self._recorded:
            self._recorded.add((id(d), name))
            self.entries.append([d, name, value])
            self.value(value)
        return value

    def value(self, value):
        if callable(value) and not isinstance(value, type):
            self.callable(value)
