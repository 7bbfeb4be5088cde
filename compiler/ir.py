"""The typed IR: SSA equations over shaped variables, a typechecker and a jaxpr-style printer.

A `Program` is a list of `Eqn`s.  Every `Var` has a `ShapedArray` (shape + dtype); an equation
names its primitive, positional inputs (vars or literals), keyword params, outputs and the user's
source line.  Params may hold other Programs, so structured control flow fits without a redesign.
"""
import itertools

import numpy as np

from .errors import ShapeError


class ShapedArray:
    """The abstract value of a variable: a shape and a dtype."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def __eq__(self, other):
        return isinstance(other, ShapedArray) and self.shape == other.shape and self.dtype == other.dtype

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"{dtype_short(self.dtype)}[{','.join(map(str, self.shape))}]"

    def update(self, shape=None, dtype=None):
        return ShapedArray(self.shape if shape is None else shape, self.dtype if dtype is None else dtype)


_SHORT = {"float64": "f64", "float32": "f32", "int64": "i64", "int32": "i32", "bool": "bool",
          "int8": "i8", "int16": "i16", "uint8": "u8", "float16": "f16"}


def dtype_short(dtype):
    return _SHORT.get(np.dtype(dtype).name, np.dtype(dtype).name)


_ids = itertools.count()


class Var:
    """An SSA variable. Identity is the object; `count` only orders names in printing."""

    __slots__ = ("aval", "count")

    def __init__(self, aval):
        self.aval = aval
        self.count = next(_ids)

    def __repr__(self):
        return f"Var({self.count}:{self.aval})"


class Literal:
    """A scalar constant written into the program text."""

    __slots__ = ("val", "aval")

    def __init__(self, val, dtype):
        self.aval = ShapedArray((), dtype)
        self.val = self.aval.dtype.type(val)

    def __repr__(self):
        return repr(self.val.item())


class Eqn:
    __slots__ = ("prim", "inputs", "params", "outputs", "source")

    def __init__(self, prim, inputs, params, outputs, source=None):
        self.prim = prim
        self.inputs = tuple(inputs)
        self.params = params
        self.outputs = tuple(outputs)
        self.source = source

    def __repr__(self):
        return f"Eqn({self.prim.name})"


class Program:
    """invars are the arguments, constvars the captured arrays (values in `consts`)."""

    __slots__ = ("constvars", "invars", "eqns", "outvars", "consts", "__weakref__")

    def __init__(self, constvars, invars, eqns, outvars, consts):
        self.constvars = list(constvars)
        self.invars = list(invars)
        self.eqns = list(eqns)
        self.outvars = list(outvars)
        self.consts = list(consts)

    @property
    def in_avals(self):
        return [v.aval for v in self.invars]

    @property
    def out_avals(self):
        return [v.aval for v in self.outvars]

    def __str__(self):
        return pp_program(self)

    def __repr__(self):
        return pp_program(self)


# ---------------------------------------------------------------- printer

class _Namer:
    def __init__(self):
        self.names = {}

    def __call__(self, atom):
        if isinstance(atom, Literal):
            return repr(atom)
        name = self.names.get(atom)
        if name is None:
            n = len(self.names)
            name = ""
            while True:
                name = chr(ord("a") + n % 26) + name
                n = n // 26 - 1
                if n < 0:
                    break
            self.names[atom] = name
        return name


def subprograms(params):
    """The Programs among an equation's params (loop bodies, conditional branches)."""
    for value in params.values():
        if isinstance(value, Program):
            yield value
        elif isinstance(value, tuple):
            yield from (p for p in value if isinstance(p, Program))


def _pp_param(value, indent, namer):
    if isinstance(value, Program):
        return pp_program(value, indent, namer).lstrip()
    if isinstance(value, tuple) and value and all(isinstance(p, Program) for p in value):
        inner = ",\n".join(pp_program(p, indent + 2, namer) for p in value)
        return f"(\n{inner}\n{' ' * indent})"
    if isinstance(value, np.dtype):
        return dtype_short(value)
    return repr(value)


def pp_program(prog, indent=0, namer=None):
    name = namer or _Namer()
    pad = " " * indent
    decl = lambda v: f"{name(v)}:{v.aval}"
    consts = " ".join(decl(v) for v in prog.constvars)
    args = " ".join(decl(v) for v in prog.invars)
    lines = [f"{pad}{{ lambda {consts} ; {args}. let"]
    for eqn in prog.eqns:
        outs = " ".join(decl(v) for v in eqn.outputs)
        items = sorted(eqn.params.items())
        if any(True for _ in subprograms(eqn.params)):     # one param per line, sub-programs nested
            params = "".join(f"\n{pad}      {k}={_pp_param(v, indent + 6, name)}" for k, v in items)
            params = f"[{params}\n{pad}    ]"
        else:
            params = "".join(f" {k}={_pp_param(v, indent + 4, name)}" for k, v in items)
            params = f"[{params.strip()}]" if params else ""
        ins = " ".join(name(x) for x in eqn.inputs)
        lines.append(f"{pad}    {outs} = {eqn.prim.name}{params} {ins}")
    outs = ", ".join(name(v) for v in prog.outvars)
    lines.append(f"{pad}  in ({outs}{',' if len(prog.outvars) == 1 else ''}) }}")
    return "\n".join(lines)


# ---------------------------------------------------------------- typechecker

def typecheck(prog):
    """Check SSA form and that every equation's outputs match its primitive's shape rule."""
    defined = set(prog.constvars) | set(prog.invars)
    if len(defined) != len(prog.constvars) + len(prog.invars):
        raise ShapeError("program binds an input variable twice")
    if len(prog.consts) != len(prog.constvars):
        raise ShapeError("program has a different number of constants and constvars")
    for eqn in prog.eqns:
        for x in eqn.inputs:
            if isinstance(x, Var) and x not in defined:
                raise ShapeError(f"{eqn.prim.name}: input {x} is used before it is defined")
        for sub in subprograms(eqn.params):     # loop bodies and branches are programs too
            typecheck(sub)
        expected = eqn.prim.abstract_eval(*[x.aval for x in eqn.inputs], **eqn.params)
        expected = expected if eqn.prim.multiple_results else [expected]
        got = [v.aval for v in eqn.outputs]
        if list(expected) != got:
            raise ShapeError(f"{eqn.prim.name}: outputs typed {got}, shape rule says {list(expected)}")
        for v in eqn.outputs:
            if v in defined:
                raise ShapeError(f"{eqn.prim.name}: output {v} is assigned twice")
            defined.add(v)
    for v in prog.outvars:
        if isinstance(v, Var) and v not in defined:
            raise ShapeError(f"program output {v} is never defined")
    return True
