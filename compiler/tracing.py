"""Tracing: a `Builder` records the primitives applied to its `Tracer`s as IR equations.

Builders nest (a transform running inside a traced function opens a new one); each has a level and
the highest-level tracer among a primitive's operands decides which builder records it.  A value
from an outer builder used inside an inner one is captured as a constant of the inner program.
"""
import dis
import linecache
import re
import sys
import threading

import numpy as np

from .array_like import ArrayLike
from .errors import ShapeError, TracingError, _is_internal, at_line, user_source
from .ir import Eqn, Literal, Program, Var
from .primitives import aval_of, registry

class _OpenBuilders(threading.local):
    """The open builders of the current thread, innermost last (each thread traces on its own)."""

    def __init__(self):
        self.stack = []
        self.source = None     # set while a transform replays an equation: the line new ones inherit


_active = _OpenBuilders()


def attribute_to(source):
    """Attribute the equations recorded from now on to `source` (the file:line of the equation a
    transform is replaying, so derivative equations point at the user's line); None restores
    the default (the caller's line). Returns the previous setting."""
    previous, _active.source = _active.source, source
    return previous


class Builder:
    def __init__(self):
        self.level = len(_active.stack) + 1
        self.invars, self.eqns = [], []
        self.constvars, self.consts, self._const_ids = [], [], {}
        self._scalar_broadcasts = {}   # var -> the rank-0 atom it broadcasts
        self.active = False
        self._outer_source = None

    def __enter__(self):
        _active.stack.append(self)
        self.active = True
        self._outer_source = attribute_to(None)
        return self

    def __exit__(self, *exc):
        _active.stack.pop()
        self.active = False
        attribute_to(self._outer_source)

    # -- inputs
    def new_arg(self, aval):
        var = Var(aval)
        self.invars.append(var)
        return Tracer(self, var)

    def const(self, value):
        """A tracer for a captured value (an array, or a tracer of an enclosing builder)."""
        return Tracer(self, self.atom(value))

    def atom(self, x):
        if isinstance(x, Tracer):
            if x._gj_trace is self:
                return x.atom
            if not x._gj_trace.active:
                raise TracingError(
                    "a traced value escaped the function it was traced in (it was stored in a global, "
                    "an attribute or a closure and used later); return it from the function instead")
        elif not isinstance(x, np.ndarray) or x.ndim == 0:
            aval = aval_of(x)
            if aval.shape == ():
                return Literal(x, aval.dtype)
        var = self._const_ids.get(id(x))
        if var is None:
            var = Var(aval_of(x))
            self.constvars.append(var)
            self.consts.append(x)
            self._const_ids[id(x)] = var
        return var

    # -- recording
    def process(self, prim, args, params):
        if not self.active:
            raise TracingError("a traced value escaped the function it was traced in; return it instead")
        atoms = [self.atom(a) for a in args]
        source = _active.source or user_source()
        try:
            out_aval = prim.abstract_eval(*[a.aval for a in atoms], **params)
        except ShapeError as e:
            raise ShapeError(at_line(str(e), source)) from None
        if prim.name in _ELEMENTWISE_ARITH and out_aval.shape:
            scalars = [self._unbroadcast_scalar(a, out_aval) for a in atoms]
            if any(a.aval.shape == out_aval.shape for a in scalars):
                atoms = scalars
            elif all(a.aval.shape == () for a in scalars):   # op(bcast(a), bcast(b)) = bcast(op(a, b))
                scalar = self.process(prim, [Tracer(self, a) for a in scalars], params)
                return self.process(registry["broadcast_in_dim"], [scalar],
                                    {"shape": out_aval.shape, "broadcast_dimensions": ()})
        simpler = _peephole(prim, atoms, params, out_aval)
        if simpler is not None:
            return Tracer(self, simpler)
        if not prim.multiple_results and out_aval.shape == () and all(isinstance(a, Literal) for a in atoms):
            value = prim.impl(*[a.val for a in atoms], **params)
            return Tracer(self, Literal(value, out_aval.dtype))
        outs = [Var(a) for a in (out_aval if prim.multiple_results else [out_aval])]
        eqn = Eqn(prim, atoms, params, outs, source)
        self.eqns.append(eqn)
        if prim.name == "broadcast_in_dim" and not params["broadcast_dimensions"]:
            self._scalar_broadcasts[outs[0]] = atoms[0]
        tracers = [Tracer(self, v) for v in outs]
        return tracers if prim.multiple_results else tracers[0]

    def _unbroadcast_scalar(self, atom, out_aval):
        """An elementwise operand that is a broadcast scalar can be the scalar itself."""
        scalar = self._scalar_broadcasts.get(atom) if isinstance(atom, Var) else None
        return scalar if scalar is not None and atom.aval.shape == out_aval.shape else atom

    def finish(self, outputs):
        outvars = [self.atom(o) for o in outputs]
        return Program(self.constvars, self.invars, self.eqns, outvars, self.consts)


_ELEMENTWISE_ARITH = {"add", "sub", "mul", "div", "max", "min", "pow", "select"}


def _is_literal(atom, value):
    return isinstance(atom, Literal) and atom.val == value


def _peephole(prim, atoms, params, out_aval):
    """Algebraic identities that keep transformed programs small (x*1, x+0, same-dtype casts)."""
    name = prim.name
    if name in ("mul", "add", "sub"):
        unit = 1 if name == "mul" else 0
        a, b = atoms
        if _is_literal(b, unit) and a.aval == out_aval:
            return a
        if name != "sub" and _is_literal(a, unit) and b.aval == out_aval:
            return b
    elif name == "convert" and atoms[0].aval == out_aval:
        return atoms[0]
    return None


class Tracer(ArrayLike):
    """A traced array: an IR atom of a builder. Behaves like an ndarray under NumPy."""

    __slots__ = ("_gj_trace", "atom")
    __array_priority__ = 1000

    def __init__(self, builder, atom):
        self._gj_trace = builder
        self.atom = atom

    @property
    def aval(self):
        return self.atom.aval

    @property
    def shape(self):
        return self.atom.aval.shape

    @property
    def dtype(self):
        return self.atom.aval.dtype

    def __repr__(self):
        return f"Tracer<{self.atom.aval}>"

    def _concrete_error(self, what, fix):
        source = user_source()
        return TracingError(at_line(
            f"{what} of a traced array {self.atom.aval}: its value is not known while the function "
            f"is traced. {fix}", source))

    def __bool__(self):
        raise self._concrete_error(
            "Python control flow on the value (an `if`, `while`, `and`/`or` or `bool()`)",
            "Use np.where(cond, a, b) to choose between values, or branch on shapes and Python numbers.")

    def __float__(self):
        context, name = _conversion_context()
        if context == "store":
            raise self._concrete_error(*_STORE)
        if context == "math":
            fix = " ".join(f"Use np.{n}(x) instead of math.{n}(x)." if hasattr(np, n) else
                           f"math.{n} has no NumPy twin that gradjit traces." for n in name)
            raise self._concrete_error(f"{'/'.join(f'math.{n}()' for n in name)} (needs a Python float)", fix)
        raise self._concrete_error("float()", "Keep the value as an array; np.float64(x) and .item() do not trace.")

    def __int__(self):
        raise self._concrete_error("int()", "Indices and sizes must be Python ints or shapes, not traced values.")

    __index__ = __int__
    __complex__ = __float__

    def item(self):
        raise self._concrete_error(".item()", "Keep the value as an array inside the traced function.")

    def tolist(self):
        raise self._concrete_error(".tolist()", "Keep the value as an array inside the traced function.")

    def __array__(self, dtype=None, copy=None):
        if _conversion_context()[0] == "store":
            raise self._concrete_error(*_STORE)
        raise self._concrete_error(
            "np.asarray()/np.array()", "Use the array itself (NumPy functions accept it). To build an array "
            "from traced values, use np.stack([a, b]) or np.concatenate, not np.array([a, b]).")

    def __setitem__(self, key, value):
        raise self._concrete_error(
            "In-place assignment (x[i] = v)", "Traced arrays are immutable: build a new array instead, "
            "e.g. np.where(mask, v, x) or np.concatenate([x[:i], v, x[i + 1:]]).")

    def __hash__(self):
        raise TypeError("unhashable type: a traced array (like numpy.ndarray)")


_STORE = ("Assignment into a NumPy array (y[i] = x)",
          "Build the array from traced values instead: np.stack([...]), np.concatenate([...]), or "
          "np.where(mask, x, y).")
_STORE_SUBSCR = dis.opmap["STORE_SUBSCR"]
_MATH_CALL = re.compile(r"\bmath\.(\w+)\s*\(")


def _conversion_context():
    """What the user's line was doing when NumPy or Python asked a tracer for its value:
    ("store", None) for `array[i] = tracer`, ("math", names) for calls of math functions, else (None, None)."""
    frame = sys._getframe(1)
    while frame is not None and (_is_internal(frame.f_code.co_filename) or "numpy" in frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return None, None
    code = frame.f_code
    if 0 <= frame.f_lasti < len(code.co_code) and code.co_code[frame.f_lasti] == _STORE_SUBSCR:
        return "store", None
    calls = _MATH_CALL.findall(linecache.getline(code.co_filename, frame.f_lineno))
    return ("math", list(dict.fromkeys(calls))) if calls else (None, None)


__all__ = ["Builder", "Tracer"]
