"""Reductions over a tuple of axes (keepdims is a reshape in the front end), and the scan
`linear_scan` that cumulative sums and products, and the product of the other entries, are made of.

Lowering: an accumulator in the loop nest of the operand's shape, with its initial value and
update template; the scan is a loop of its own along its axis.
"""
import numpy as np

from ..errors import MissingRuleError, ShapeError
from ..ir import ShapedArray
from .core import Primitive, defjvp, deflinear, deflowering, is_undefined, jvp_rules, shape_of, transpose_rules
from .elementwise import add, convert, div, eq, mul
from .structural import broadcast_in_dim, pad, reshape, slice_array, transpose


def _reduce_rule(name):
    def rule(x, *, axes):
        if tuple(sorted(set(axes))) != tuple(axes) or any(not 0 <= a < x.ndim for a in axes):
            raise ShapeError(f"{name}: axes {axes} are not sorted distinct axes of a rank-{x.ndim} array")
        if name in ("reduce_max", "reduce_min") and any(x.shape[a] == 0 for a in axes):
            raise ShapeError(f"{name}: zero-size array along axis {axes} has no identity")
        return ShapedArray([d for i, d in enumerate(x.shape) if i not in axes], x.dtype)
    return rule


def _reduce_impl(fn):
    def impl(x, *, axes):
        return fn(x, axis=axes) if axes else x
    return impl


def _make(name, fn, init, update):
    prim = Primitive(name, _reduce_impl(fn), _reduce_rule(name))
    deflowering(prim, "reduce", (init, update))
    return prim


reduce_sum_p = _make("reduce_sum", np.sum, "0", "{acc} + {x}")
reduce_max_p = _make("reduce_max", np.max, "-np.inf", "np.maximum({acc}, {x})")
reduce_min_p = _make("reduce_min", np.min, "np.inf", "np.minimum({acc}, {x})")
reduce_prod_p = _make("reduce_prod", np.prod, "1", "{acc} * {x}")


def reduce_sum(x, axes): return reduce_sum_p.bind(x, axes=tuple(axes))
def reduce_prod(x, axes): return reduce_prod_p.bind(x, axes=tuple(axes))


def kept_dims(ndim, axes):
    return tuple(i for i in range(ndim) if i not in axes)


def expand_back(y, x, axes):
    """Broadcast a reduction result `y` back to the operand `x`'s shape."""
    return broadcast_in_dim(y, x.shape, kept_dims(len(x.shape), axes))


deflinear(reduce_sum_p, lambda ct, x, *, axes: (expand_back(ct, x.aval, axes),))


def _extremum_jvp(g, ans, x, *, axes):
    """Ties share the derivative evenly, as in JAX."""
    at_extremum = convert(eq(x, expand_back(ans, x, axes)), x.dtype)
    count = reduce_sum(at_extremum, axes)
    return div(reduce_sum(mul(g, at_extremum), axes), count)


defjvp(reduce_max_p, _extremum_jvp)
defjvp(reduce_min_p, _extremum_jvp)


# ---------------------------------------------------------------- linear_scan

def _scan_rule(a, b, *, axis, reverse):
    if not 0 <= axis < b.ndim:
        raise ShapeError(f"linear_scan: axis {axis} is out of bounds for a rank-{b.ndim} operand")
    if a.shape not in ((), b.shape) or a.dtype != b.dtype:
        raise ShapeError(f"linear_scan: coefficients {a} do not fit the inputs {b}")
    return b


def _scan_impl(a, b, *, axis, reverse):
    b = np.asarray(b)
    out = np.empty_like(b)
    am, bm, om = (np.moveaxis(v, axis, 0) for v in (np.broadcast_to(a, b.shape), b, out))
    h = None
    for k in (reversed(range(len(bm))) if reverse else range(len(bm))):
        h = om[k] = bm[k] if h is None else am[k] * h + bm[k]
    return out


def _scan_lines(o, args, eqn):
    """h = b[first]; then h = a[k] * h + b[k] along the axis, inside loops over the other axes."""
    (a, b), aval, axis, reverse = args, eqn.outputs[0].aval, eqn.params["axis"], eqn.params["reverse"]
    shape, n = aval.shape, aval.shape[axis]
    lines = [f"{o} = np.empty({shape}, np.{aval.dtype.name})"]
    if 0 in shape:
        return lines
    idx, indent = [f"{o}_i{d}" for d in range(len(shape))], ""
    for d in range(len(shape)):
        if d != axis:
            lines.append(f"{indent}for {idx[d]} in range({shape[d]}):")
            indent += "    "
    at = lambda name, k: f"{name}[{', '.join(k if d == axis else idx[d] for d in range(len(shape)))}]"
    coef = (lambda k: a) if eqn.inputs[0].aval.shape == () else (lambda k: at(a, k))
    first, rest = (str(n - 1), f"range({n - 2}, -1, -1)") if reverse else ("0", f"range(1, {n})")
    k, h = idx[axis], f"{o}_h"
    return lines + [f"{indent}{h} = {at(b, first)}", f"{indent}{at(o, first)} = {h}",
                    f"{indent}for {k} in {rest}:",
                    f"{indent}    {h} = {coef(k)} * {h} + {at(b, k)}",
                    f"{indent}    {at(o, k)} = {h}"]


linear_scan_p = Primitive("linear_scan", _scan_impl, _scan_rule)
deflowering(linear_scan_p, "statement", _scan_lines)


def linear_scan(a, b, axis, reverse=False):
    """h[first] = b[first], then h[k] = a[k] * h[k -+ 1] + b[k] along `axis` (backwards if `reverse`).
    `a` is an array like `b` or a scalar; its entry at the first position is not used."""
    return linear_scan_p.bind(a, b, axis=int(axis), reverse=bool(reverse))


def shift(x, axis, toward_end):
    """`x` moved one place along `axis` (toward the end: out[k] = x[k - 1]), zero in the vacated place."""
    shape = shape_of(x)
    if shape == ():
        return x
    n, rank = shape[axis], len(shape)
    start, limit = [0] * rank, list(shape)
    lo, hi = [0] * rank, [0] * rank
    if toward_end:
        limit[axis], lo[axis] = n - 1, 1
    else:
        start[axis], hi[axis] = 1, 1
    return pad(slice_array(x, start, limit), lo, hi)


def _scan_jvp(primals, tangents, *, axis, reverse):
    """dh[k] = a[k] dh[k -+ 1] + (ta[k] h[k -+ 1] + tb[k]): the same scan, driven by the tangents."""
    (a, b), (ta, tb) = primals, tangents
    h = linear_scan(a, b, axis, reverse)
    if ta is not None:
        from_a = mul(ta, shift(h, axis, toward_end=not reverse))
        tb = from_a if tb is None else add(tb, from_a)
    return h, None if tb is None else linear_scan(a, tb, axis, reverse)


def _scan_transpose(ct, a, b, *, axis, reverse):
    """Linear in b: h = L b with L lower triangular; L^T runs the scan the other way."""
    if is_undefined(a):
        raise MissingRuleError("linear_scan: the coefficients are linear, the program is not linear")
    return None, linear_scan(shift(a, axis, toward_end=reverse), ct, axis, not reverse)


jvp_rules[linear_scan_p], transpose_rules[linear_scan_p] = _scan_jvp, _scan_transpose


def _unit(x, axis, index):
    """A constant of x's shape and dtype: one at `index` along `axis`, zero elsewhere."""
    out = np.zeros(shape_of(x), x.dtype)
    out[(slice(None),) * axis + (index,)] = 1
    return out


def product_of_others(x, axis):
    """out[k] = product of x[j] for j != k along `axis`, without division: the exclusive prefix
    product times the exclusive suffix product, so zeros, infinities and underflow are exact."""
    n = shape_of(x)[axis]
    if n == 0:
        return x
    before = linear_scan(shift(x, axis, toward_end=True), _unit(x, axis, 0), axis)
    after = linear_scan(shift(x, axis, toward_end=False), _unit(x, axis, n - 1), axis, reverse=True)
    return mul(before, after)


def _prod_jvp(g, ans, x, *, axes):
    """d prod = sum(g * product of the other entries), the reduced axes flattened into one."""
    shape, rank = shape_of(x), len(shape_of(x))
    kept = kept_dims(rank, axes)
    perm = kept + tuple(axes)
    flat = reshape(transpose(x, perm), [shape[d] for d in kept] + [int(np.prod([shape[a] for a in axes]))])
    others = product_of_others(flat, len(kept))
    others = transpose(reshape(others, [shape[d] for d in perm]), tuple(np.argsort(perm)))
    return reduce_sum(mul(g, others), axes)


defjvp(reduce_prod_p, _prod_jvp)
