"""Reductions over a tuple of axes (keepdims is a reshape in the front end).

Lowering: an accumulator in the loop nest of the operand's shape, with its initial value and
update template.
"""
import numpy as np

from ..errors import ShapeError
from ..ir import ShapedArray
from .core import Primitive, defjvp, deflinear, deflowering
from .elementwise import const, convert, div, eq, mul, ne, select
from .structural import broadcast_in_dim


def _reduce_rule(name):
    def rule(x, *, axes):
        if tuple(sorted(set(axes))) != tuple(axes) or any(not 0 <= a < x.ndim for a in axes):
            raise ShapeError(f"{name}: axes {axes} are not sorted distinct axes of a rank-{x.ndim} array")
        if name != "reduce_sum" and any(x.shape[a] == 0 for a in axes):
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


def _prod_jvp(g, ans, x, *, axes):
    """d prod = sum(g * product of the other entries), exact also where entries are zero."""
    zero = const(0, x)
    is_zero = eq(x, zero)
    zeros = reduce_sum(convert(is_zero, x.dtype), axes)
    nonzero_prod = reduce_prod(select(is_zero, const(1, x), x), axes)
    only_zero = select(eq(zeros, const(1, x)), nonzero_prod, zero)
    others = select(ne(x, zero), div(expand_back(ans, x, axes), select(is_zero, const(1, x), x)),
                    expand_back(only_zero, x, axes))
    return reduce_sum(mul(g, others), axes)


defjvp(reduce_prod_p, _prod_jvp)
