"""Elementwise primitives: impl, shape rule, derivative rules and the scalar lowering template.

Operands have equal shapes, except that a rank-0 operand stands for a value broadcast to the
other's shape (broadcasting of anything else is explicit, in the front end).  Lowering templates
are scalar Python expressions with `{0}`, `{1}` ... for the operands.
"""
import numpy as np

from ..errors import ShapeError
from ..lowering.mathlib import logaddexp_template, template
from ..ir import ShapedArray, dtype_short
from .core import (Primitive, add_tangents, defjvp, deflinear, deflowering, defnondiff, is_float,
                   is_undefined, jvp_rules, shape_of, transpose_rules)


def _result_shape(name, avals):
    shapes = {a.shape for a in avals if a.shape != ()}
    if len(shapes) > 1:
        raise ShapeError(f"{name}: operand shapes {' and '.join(str(a.shape) for a in avals)} differ")
    return shapes.pop() if shapes else ()


def _same_dtype(name, avals):
    dtypes = {a.dtype for a in avals}
    if len(dtypes) > 1:
        names = ", ".join(dtype_short(a.dtype) for a in avals)
        raise ShapeError(f"{name}: operand dtypes {names} differ; cast one with .astype()")
    return dtypes.pop()


def _elementwise_rule(name, float_only, out_dtype=None):
    def rule(*avals):
        dtype = _same_dtype(name, avals)
        if float_only and not is_float(dtype):
            raise ShapeError(f"{name} needs floating-point operands, got {dtype_short(dtype)}")
        return ShapedArray(_result_shape(name, avals), out_dtype or dtype)
    return rule


def _make(name, impl, template, float_only=True, out_dtype=None):
    prim = Primitive(name, impl, _elementwise_rule(name, float_only, out_dtype))
    deflowering(prim, "elementwise", template)
    return prim


# ---------------------------------------------------------------- primitives

neg_p = _make("neg", np.negative, "(-{0})", float_only=False)
add_p = _make("add", np.add, "({0} + {1})", float_only=False)
sub_p = _make("sub", np.subtract, "({0} - {1})", float_only=False)
mul_p = _make("mul", np.multiply, "({0} * {1})", float_only=False)
div_p = _make("div", np.divide, "({0} / {1})")
pow_p = _make("pow", np.power, template("({0} ** {1})", "vm.power({0}, {1})"))
max_p = _make("max", np.maximum, "np.maximum({0}, {1})", float_only=False)
min_p = _make("min", np.minimum, "np.minimum({0}, {1})", float_only=False)

exp_p = _make("exp", np.exp, template("np.exp({0})", "vm.exp({0})"))
log_p = _make("log", np.log, template("np.log({0})", "vm.log({0})"))
log1p_p = _make("log1p", np.log1p, template("np.log1p({0})", "vm.log1p({0})"))
expm1_p = _make("expm1", np.expm1, template("np.expm1({0})", "vm.expm1({0})"))
sqrt_p = _make("sqrt", np.sqrt, "np.sqrt({0})")
sin_p = _make("sin", np.sin, template("np.sin({0})", "vm.sin({0})"))
cos_p = _make("cos", np.cos, template("np.cos({0})", "vm.cos({0})"))
tan_p = _make("tan", np.tan, "np.tan({0})")
tanh_p = _make("tanh", np.tanh, template("np.tanh({0})", "vm.tanh({0})"))
sinh_p = _make("sinh", np.sinh, "np.sinh({0})")
cosh_p = _make("cosh", np.cosh, "np.cosh({0})")
arctan_p = _make("arctan", np.arctan, "np.arctan({0})")
arcsin_p = _make("arcsin", np.arcsin, "np.arcsin({0})")
arccos_p = _make("arccos", np.arccos, "np.arccos({0})")
abs_p = _make("abs", np.abs, "abs({0})", float_only=False)
sign_p = _make("sign", np.sign, "np.sign({0})", float_only=False)
# composites that buy accuracy: no overflow, no nan at equal infinities, an exact derivative
logaddexp_p = _make("logaddexp", np.logaddexp, logaddexp_template)
hypot_p = _make("hypot", np.hypot, "np.hypot({0}, {1})")
# NumPy's floor division and remainder (the remainder takes the divisor's sign); Numba's `//` and `%`
# on floats and ints follow the same rules, inf and nan included
floor_divide_p = _make("floor_divide", np.floor_divide, "({0} // {1})", float_only=False)
remainder_p = _make("remainder", np.remainder, "({0} % {1})", float_only=False)
floor_p = _make("floor", np.floor, "np.floor({0})")
ceil_p = _make("ceil", np.ceil, "np.ceil({0})")
trunc_p = _make("trunc", np.trunc, "np.trunc({0})")
rint_p = _make("rint", np.rint, "np.rint({0})")

eq_p = _make("eq", np.equal, "({0} == {1})", float_only=False, out_dtype=np.bool_)
ne_p = _make("ne", np.not_equal, "({0} != {1})", float_only=False, out_dtype=np.bool_)
lt_p = _make("lt", np.less, "({0} < {1})", float_only=False, out_dtype=np.bool_)
le_p = _make("le", np.less_equal, "({0} <= {1})", float_only=False, out_dtype=np.bool_)
gt_p = _make("gt", np.greater, "({0} > {1})", float_only=False, out_dtype=np.bool_)
ge_p = _make("ge", np.greater_equal, "({0} >= {1})", float_only=False, out_dtype=np.bool_)
and_p = _make("and", np.logical_and, "({0} and {1})", float_only=False)
or_p = _make("or", np.logical_or, "({0} or {1})", float_only=False)
not_p = _make("not", np.logical_not, "(not {0})", float_only=False)


def _integer_pow_rule(x, *, y):
    if not isinstance(y, int):
        raise ShapeError(f"integer_pow exponent must be a Python int, got {y!r}")
    return x


def _integer_pow_impl(x, *, y):
    return np.power(x, x.dtype.type(y)) if y < 0 else np.power(x, y)


def _integer_pow_template(args, params, dtype):
    x, y = args[0], params["y"]
    one = "1" if not is_float(dtype) else "1.0" if dtype == np.float64 else f"np.{dtype.name}(1)"
    if y == 0:
        return one
    body = " * ".join([x] * abs(y)) if abs(y) <= 4 else f"{x} ** {abs(y)}"
    return f"({one} / ({body}))" if y < 0 else f"({body})"


integer_pow_p = Primitive("integer_pow", _integer_pow_impl, _integer_pow_rule)
deflowering(integer_pow_p, "elementwise", _integer_pow_template)


def _select_rule(pred, on_true, on_false):
    if pred.dtype != np.bool_:
        raise ShapeError(f"where: the condition must be boolean, got {dtype_short(pred.dtype)}")
    dtype = _same_dtype("where", (on_true, on_false))
    return ShapedArray(_result_shape("where", (pred, on_true, on_false)), dtype)


select_p = Primitive("select", np.where, _select_rule)
deflowering(select_p, "elementwise", "({1} if {0} else {2})")


def _convert_rule(x, *, dtype):
    return x.update(dtype=dtype)


def _convert_impl(x, *, dtype):
    return np.asarray(x).astype(dtype)[()] if np.ndim(x) == 0 else x.astype(dtype)


def _convert_template(args, params, dtype):
    return f"np.{np.dtype(params['dtype']).name}({args[0]})"


convert_p = Primitive("convert", _convert_impl, _convert_rule)
deflowering(convert_p, "elementwise", _convert_template)

stop_gradient_p = Primitive("stop_gradient", lambda x: x, lambda x: x)
deflowering(stop_gradient_p, "elementwise", "{0}")


# ---------------------------------------------------------------- helpers the rules are written with

def neg(x): return neg_p.bind(x)
def add(x, y): return add_p.bind(x, y)
def sub(x, y): return sub_p.bind(x, y)
def mul(x, y): return mul_p.bind(x, y)
def div(x, y): return div_p.bind(x, y)
def exp(x): return exp_p.bind(x)
def log(x): return log_p.bind(x)
def sqrt(x): return sqrt_p.bind(x)
def sin(x): return sin_p.bind(x)
def cos(x): return cos_p.bind(x)
def sinh(x): return sinh_p.bind(x)
def cosh(x): return cosh_p.bind(x)
def sign(x): return sign_p.bind(x)
def eq(x, y): return eq_p.bind(x, y)
def ne(x, y): return ne_p.bind(x, y)
def gt(x, y): return gt_p.bind(x, y)
def ge(x, y): return ge_p.bind(x, y)
def and_(x, y): return and_p.bind(x, y)
def select(p, x, y): return select_p.bind(p, x, y)
def convert(x, dtype): return convert_p.bind(x, dtype=np.dtype(dtype))
def integer_pow(x, y): return integer_pow_p.bind(x, y=y)


def const(value, like):
    """A scalar of `like`'s dtype (a literal once it reaches a program)."""
    return np.dtype(like.dtype).type(value)


def square(x): return integer_pow(x, 2)


# ---------------------------------------------------------------- derivative rules

def _unbroadcast(ct, aval):
    """Cotangent of a rank-0 operand that was implicitly broadcast: sum it."""
    if aval.shape == () and np.ndim(ct) != 0:
        from .reductions import reduce_sum
        return reduce_sum(ct, tuple(range(np.ndim(ct))))
    return ct


def _add_jvp(primals, tangents):
    ans = add(*primals)
    ta, tb = tangents
    return ans, add_tangents(ta, tb)


def _sub_jvp(primals, tangents):
    ans = sub(*primals)
    ta, tb = tangents
    if tb is None:
        return ans, ta
    return ans, neg(tb) if ta is None else sub(ta, tb)


def _add_transpose(ct, x, y):
    return (_unbroadcast(ct, x.aval) if is_undefined(x) else None,
            _unbroadcast(ct, y.aval) if is_undefined(y) else None)


def _sub_transpose(ct, x, y):
    return (_unbroadcast(ct, x.aval) if is_undefined(x) else None,
            _unbroadcast(neg(ct), y.aval) if is_undefined(y) else None)


jvp_rules[add_p], transpose_rules[add_p] = _add_jvp, _add_transpose
jvp_rules[sub_p], transpose_rules[sub_p] = _sub_jvp, _sub_transpose
deflinear(neg_p, lambda ct, x: (neg(ct),))


def _mul_jvp(primals, tangents):
    x, y = primals
    tx, ty = tangents
    out = None if tx is None else mul(tx, y)
    return mul(x, y), add_tangents(out, None if ty is None else mul(x, ty))


def _mul_transpose(ct, x, y):
    if is_undefined(x):
        return _unbroadcast(mul(ct, y), x.aval), None
    return None, _unbroadcast(mul(x, ct), y.aval)


def _div_transpose(ct, x, y):
    return _unbroadcast(div(ct, y), x.aval), None


jvp_rules[mul_p], transpose_rules[mul_p] = _mul_jvp, _mul_transpose
defjvp(div_p, lambda g, ans, x, y: div(g, y), lambda g, ans, x, y: neg(mul(g, div(ans, y))))
transpose_rules[div_p] = _div_transpose


def _safe_log(x):
    """log(x), but 0 where x == 0: d(x**y)/dy is 0 there, not 0 * -inf."""
    return select(eq(x, const(0, x)), const(0, x), log(x))


defjvp(pow_p,
       lambda g, ans, x, y: mul(g, mul(y, pow_p.bind(x, sub(y, const(1, y))))),
       lambda g, ans, x, y: mul(g, mul(_safe_log(x), ans)))


def _integer_pow_jvp(g, ans, x, *, y):
    if y == 0:
        return mul(g, const(0, x))
    # x ** 1: the slope is x ** 0 (ones), not a literal, so it stays a function of x as PyTorch's
    # formula is: an eager create_graph gradient then requires grad exactly when PyTorch's does
    slope = integer_pow(x, 0) if y == 1 else mul(const(y, x), x if y == 2 else integer_pow(x, y - 1))
    return mul(g, slope)


defjvp(integer_pow_p, _integer_pow_jvp)


def _pick_weight(a, b):
    """1 where a wins, 1/2 on ties, 0 where b wins: the derivative weight of max(a, b) wrt a."""
    half = const(0.5, a)
    return select(gt(a, b), const(1, a), select(eq(a, b), half, const(0, a)))


defjvp(max_p, lambda g, ans, a, b: mul(g, _pick_weight(a, b)),
       lambda g, ans, a, b: mul(g, _pick_weight(b, a)))
defjvp(min_p, lambda g, ans, a, b: mul(g, _pick_weight(b, a)),
       lambda g, ans, a, b: mul(g, _pick_weight(a, b)))

defjvp(exp_p, lambda g, ans, x: mul(g, ans))
defjvp(log_p, lambda g, ans, x: div(g, x))
defjvp(log1p_p, lambda g, ans, x: div(g, add(x, const(1, x))))
defjvp(expm1_p, lambda g, ans, x: mul(g, add(ans, const(1, x))))
defjvp(sqrt_p, lambda g, ans, x: div(g, mul(ans, const(2, x))))
defjvp(sin_p, lambda g, ans, x: mul(g, cos(x)))
defjvp(cos_p, lambda g, ans, x: neg(mul(g, sin(x))))
defjvp(tan_p, lambda g, ans, x: mul(g, add(const(1, x), square(ans))))
defjvp(tanh_p, lambda g, ans, x: mul(g, sub(const(1, x), square(ans))))
defjvp(sinh_p, lambda g, ans, x: mul(g, cosh(x)))
defjvp(cosh_p, lambda g, ans, x: mul(g, sinh(x)))
defjvp(arctan_p, lambda g, ans, x: div(g, add(const(1, x), square(x))))
defjvp(arcsin_p, lambda g, ans, x: div(g, sqrt(sub(const(1, x), square(x)))))
defjvp(arccos_p, lambda g, ans, x: neg(div(g, sqrt(sub(const(1, x), square(x))))))
defjvp(abs_p, lambda g, ans, x: select(ge(x, const(0, x)), g, neg(g)))   # abs'(0) = 1, as in JAX

for _p in (sign_p, eq_p, ne_p, lt_p, le_p, gt_p, ge_p, and_p, or_p, not_p, stop_gradient_p,
           floor_divide_p, floor_p, ceil_p, trunc_p, rint_p):
    defnondiff(_p)


def _logaddexp_jvp(primals, tangents):
    """d logaddexp = tx * sigmoid(x - y) + ty * sigmoid(y - x); equal infinities share it evenly
    (their limit along the diagonal), where exp(x - ans) would be inf - inf."""
    x, y = primals
    tx, ty = tangents
    ans = logaddexp_p.bind(x, y)
    d = sub(y, x)
    d = select(and_(ne(d, d), eq(x, y)), const(0, d), d)
    one = const(1, d)
    out = None if tx is None else mul(tx, div(one, add(one, exp(d))))
    return ans, add_tangents(out, None if ty is None else mul(ty, div(one, add(one, exp(neg(d))))))


def _hypot_jvp(primals, tangents):
    """d hypot = (x tx + y ty) / hypot; at (0, 0) JAX's value, (tx + ty) / 2."""
    x, y = primals
    tx, ty = tangents
    ans = hypot_p.bind(x, y)
    at_zero, half = eq(ans, const(0, ans)), const(0.5, ans)
    out = None if tx is None else mul(tx, select(at_zero, half, div(x, ans)))
    return ans, add_tangents(out, None if ty is None else mul(ty, select(at_zero, half, div(y, ans))))


def _as_output(t, ans):
    """A tangent of a rank-0 operand, broadcast to the output's shape."""
    from .structural import broadcast_in_dim
    return t if shape_of(t) == shape_of(ans) else broadcast_in_dim(t, shape_of(ans), ())


jvp_rules[logaddexp_p], jvp_rules[hypot_p] = _logaddexp_jvp, _hypot_jvp
# x % y = x - y * floor(x / y): slope 1 in x, -floor(x / y) in y (as JAX; floor of the quotient, as
# PyTorch's formula writes it, so its eager create_graph pass records a zero-gradient floor node)
defjvp(remainder_p, lambda g, ans, x, y: _as_output(g, ans),
       lambda g, ans, x, y: neg(mul(g, floor_p.bind(div(x, y)))))


def _select_jvp(primals, tangents):
    p, a, b = primals
    _, ta, tb = tangents
    ans = select(p, a, b)
    if ta is None and tb is None:
        return ans, None
    ta = const(0, tb) if ta is None else ta  # a rank-0 zero broadcasts in select
    tb = const(0, ta) if tb is None else tb
    return ans, select(p, ta, tb)


def _select_transpose(ct, p, a, b):
    zero = const(0, ct)
    return (None,
            _unbroadcast(select(p, ct, zero), a.aval) if is_undefined(a) else None,
            _unbroadcast(select(p, zero, ct), b.aval) if is_undefined(b) else None)


jvp_rules[select_p], transpose_rules[select_p] = _select_jvp, _select_transpose


def _convert_jvp(primals, tangents, *, dtype):
    (x,), (t,) = primals, tangents
    ans = convert(x, dtype)
    if t is None or not is_float(dtype):
        return ans, None
    return ans, convert(t, dtype)


def _convert_transpose(ct, x, *, dtype):
    return (convert(ct, x.aval.dtype),)


jvp_rules[convert_p], transpose_rules[convert_p] = _convert_jvp, _convert_transpose
