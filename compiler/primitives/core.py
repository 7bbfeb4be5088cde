"""Primitives, `bind`, the rule tables the transforms own, and the combinators rules are written with.

A primitive is a name, a NumPy implementation and a shape/dtype rule.  `bind` applies it to
concrete values (runs `impl`) or to traced values (asks the highest-level trace to record it).
Anything that wants to intercept primitives (the IR builder, the eager runtime's tensors) carries
a `_gj_trace` attribute: an object with an integer `level` and `process(prim, args, params)`.
"""
import numpy as np

from ..errors import MissingRuleError, UnsupportedDtypeError, at_line
from ..ir import ShapedArray

registry = {}          # name -> Primitive
jvp_rules = {}         # prim -> fn(primals, tangents, **params) -> (out, tangent or None)
transpose_rules = {}   # prim -> fn(ct, *args, **params) -> cotangent per arg (None: zero / not linear)
lowering_rules = {}    # prim -> (kind, data): how compiler.lowering emits it
nondiff = set()        # prims whose outputs carry no derivative (comparisons, sign, ...)
partial_eval_rules = {} # prim -> fn(eqn, linear_inputs) -> (primal eqns, linear eqns): splits loops for linearize
dce_rules = {}         # prim -> fn(eqn, used_outputs) -> eqn without dead outputs and inputs (loops)


class Primitive:
    __slots__ = ("name", "impl", "shape_rule", "multiple_results")

    def __init__(self, name, impl, shape_rule, multiple_results=False):
        self.name = name
        self.impl = impl
        self.shape_rule = shape_rule
        self.multiple_results = multiple_results
        registry[name] = self

    def bind(self, *args, **params):
        trace = None
        for a in args:
            t = getattr(a, "_gj_trace", None)
            if t is not None and (trace is None or t.level > trace.level):
                trace = t
        if trace is None:
            return self.impl(*args, **params)
        return trace.process(self, args, params)

    def abstract_eval(self, *avals, **params):
        return self.shape_rule(*avals, **params)

    def __repr__(self):
        return self.name


def aval_of(x):
    """The ShapedArray of a concrete value, a tracer or a literal (in native byte order)."""
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    if isinstance(x, np.ndarray):
        return ShapedArray(x.shape, x.dtype if x.dtype.isnative else x.dtype.newbyteorder("="))
    if isinstance(x, (bool, np.bool_)):
        return ShapedArray((), np.bool_)
    if isinstance(x, (int, np.integer)) and not isinstance(x, np.timedelta64):
        return ShapedArray((), np.asarray(x).dtype if isinstance(x, np.integer) else np.int64)
    if isinstance(x, float):
        return ShapedArray((), np.float64)
    return ShapedArray(np.shape(x), np.asarray(x).dtype)


# ---------------------------------------------------------------- dtypes the kernels compute with

KERNEL_DTYPES = frozenset(np.dtype(t) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                                np.uint16, np.uint32, np.uint64, np.float32, np.float64))


def kernel_dtype(dtype, what):
    """`dtype` in native byte order if compiled kernels can compute with it, else an
    UnsupportedDtypeError naming `what` has it and the fix."""
    dtype = np.dtype(dtype)
    if dtype in KERNEL_DTYPES:
        return dtype
    native = dtype.newbyteorder("=") if dtype.byteorder not in "=|" else dtype
    if native in KERNEL_DTYPES:
        return native
    if native == np.float16:
        fix = "Numba has no float16 arithmetic on the CPU; convert with .astype(np.float32)"
    elif native.kind == "f":
        fix = "Numba has no long double; convert with .astype(np.float64)"
    elif native.kind == "c":
        fix = ("gradjit computes with real numbers; pass the real and imaginary parts as two float "
               "arrays (z.real, z.imag)")
    else:
        fix = "gradjit computes with bool, integer, float32 and float64 arrays"
    raise UnsupportedDtypeError(f"{what} has dtype {native.name}, which compiled kernels do not support: {fix}.")


def native_array(x):
    """`x` with its data in native byte order (Numba reads no other)."""
    if isinstance(x, np.ndarray) and not x.dtype.isnative:
        return x.astype(x.dtype.newbyteorder("="))
    return x


def check_kernel_dtypes(prog):
    """Raise, at the user's line, if a program to be compiled computes in a dtype kernels lack."""
    for kind, vars_ in (("argument", prog.invars), ("captured array", prog.constvars)):
        for i, v in enumerate(vars_):
            kernel_dtype(v.aval.dtype, f"{kind} {i} ({v.aval})")
    for eqn in prog.eqns:
        for v in eqn.outputs:
            if v.aval.dtype not in KERNEL_DTYPES:
                try:
                    kernel_dtype(v.aval.dtype, f"the result of {eqn.prim.name}")
                except UnsupportedDtypeError as e:
                    raise UnsupportedDtypeError(at_line(str(e), eqn.source)) from None


def shape_of(x):
    shape = getattr(x, "shape", None)
    return () if shape is None else tuple(shape)


def is_float(dtype):
    return np.issubdtype(dtype, np.floating)


# ---------------------------------------------------------------- rule combinators

class UndefinedPrimal:
    """Marks the linear argument of an equation being transposed."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval


def is_undefined(x):
    return isinstance(x, UndefinedPrimal)


def add_tangents(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return registry["add"].bind(a, b)


def defjvp(prim, *rules):
    """One rule per input: `rule(g, ans, *primals, **params)` is that input's tangent contribution."""
    def jvp(primals, tangents, **params):
        ans = prim.bind(*primals, **params)
        out = None
        for rule, t in zip(rules, tangents):
            if t is not None and rule is not None:
                out = add_tangents(out, rule(t, ans, *primals, **params))
        return ans, out
    jvp_rules[prim] = jvp


def deflinear(prim, transpose, zero=None):
    """A primitive linear in all its float inputs: its JVP is itself applied to the tangents.

    `zero(aval)` materialises a zero tangent for multi-input linear primitives (concatenate)."""
    def jvp(primals, tangents, **params):
        ans = prim.bind(*primals, **params)
        if all(t is None for t in tangents):
            return ans, None
        ts = [zero(aval_of(p)) if t is None else t for p, t in zip(primals, tangents)]
        return ans, prim.bind(*ts, **params)
    jvp_rules[prim] = jvp
    transpose_rules[prim] = transpose


def defbilinear(prim, lhs_transpose, rhs_transpose):
    """prim(a, b) linear in each argument: d prim = prim(da, b) + prim(a, db)."""
    def jvp(primals, tangents, **params):
        a, b = primals
        ta, tb = tangents
        ans = prim.bind(a, b, **params)
        out = None
        if ta is not None:
            out = prim.bind(ta, b, **params)
        if tb is not None:
            out = add_tangents(out, prim.bind(a, tb, **params))
        return ans, out

    def transpose(ct, a, b, **params):
        if is_undefined(a) and is_undefined(b):
            raise MissingRuleError(f"{prim.name}: both operands are linear, the program is not linear")
        if is_undefined(a):
            return lhs_transpose(ct, a, b, **params), None
        return None, rhs_transpose(ct, a, b, **params)
    jvp_rules[prim] = jvp
    transpose_rules[prim] = transpose


def defnondiff(prim):
    """Outputs have no derivative (booleans, integer results, piecewise-constant functions)."""
    def jvp(primals, tangents, **params):
        return prim.bind(*primals, **params), None
    jvp_rules[prim] = jvp
    nondiff.add(prim)


def deflowering(prim, kind, data=None):
    lowering_rules[prim] = (kind, data)
