"""Operations whose eager derivative is PyTorch's own formula (derivatives.yaml, FunctionsManual.cpp).

The compiler's derivative rules follow JAX. Where PyTorch's convention differs (abs'(0) = 0, clamp
passes the gradient at a bound, max(dim) gives it to one index, norm and std at 0 give 0, a NaN
in maximum...), or where PyTorch's zero-gradient operations (sign, floor...) record a node, the
eager operation carries PyTorch's formula instead of deriving one from the front end.

A formula `backward(ct, out, *args)` returns one gradient per argument and is written with NumPy
calls: it is traced once per signature for the plain backward pass, and run on tensors under
create_graph=True, so second derivatives and the `requires_grad` of their results follow PyTorch.
Importing this module registers the operations with `dispatch`.
"""
import numpy as np

from compiler import numpy_api as api
from compiler.primitives import elementwise as ew

from . import dispatch
from .dispatch import apply, apply_ufunc
from .modes import state as _mode
from .tensor import Tensor


class Static(tuple):
    """A tuple argument (axes) passed to `apply` as one static value rather than as a pytree."""


def _static(axis):
    return Static(axis) if isinstance(axis, (tuple, list)) else axis


def _is_array(x):
    return isinstance(x, (Tensor, np.ndarray))


def _axes(axis, ndim):
    return api.normalize_axes(axis, ndim)


def _kept(g, shape, axes, keepdims):
    """A reduction's result or gradient `g` reshaped to broadcast against the operand (keepdims)."""
    return g if keepdims else np.reshape(g, [1 if i in axes else d for i, d in enumerate(shape)])


def _zeros(x):
    return np.zeros(x.shape, x.dtype)


# ---------------------------------------------------------------------- zero gradient, recorded

def _zero_backward(ct, out, x, *static):
    return (np.zeros_like(ct),) + (None,) * len(static)


def _zero_op(func, name, fe=None):
    def op(x, *args):
        return apply(func, fe or func, (x,) + args, name=name, forward=func, backward=_zero_backward)
    return op


def _round(x, decimals=0, out=None):
    if out is not None:
        raise TypeError("np.round(tensor, out=...) is not supported; use the returned value")
    return apply(np.round, np.round, (x, decimals), name="RoundBackward0" if decimals == 0 else "RoundBackward1",
                 forward=np.round, backward=_zero_backward)


# ---------------------------------------------------------------------- elementwise

def _isnan(x):
    return x != x                                 # np.isnan has no front-end rule; this traces too


def _sgn(x):
    """PyTorch's sign: 0 at 0 and at NaN (NumPy's is NaN there)."""
    return np.where(_isnan(x), 0.0, np.sign(x))


def _abs_backward(ct, out, x):
    return (ct * _sgn(x),)                        # abs'(0) = 0


def _fabs(x):
    return apply(np.fabs, api.UFUNCS[np.fabs], (x,), name="AbsBackward0", forward=np.fabs, backward=_abs_backward)


def _maximum_backward(ct, out, x, y):
    """Ties split the gradient; where an input is NaN both inputs get all of it."""
    shared = np.where(x == y, ct / 2, ct)
    return np.where(x < y, 0.0, shared), np.where(x > y, 0.0, shared)


def _minimum_backward(ct, out, x, y):
    shared = np.where(x == y, ct / 2, ct)
    return np.where(x > y, 0.0, shared), np.where(x < y, 0.0, shared)


def _fmax_backward(ct, out, x, y):
    """The gradient goes to x where x >= y or y is NaN, to y elsewhere (ties: all to x)."""
    to_x = np.logical_or(x >= y, _isnan(y))
    return np.where(to_x, ct, 0.0), np.where(to_x, 0.0, ct)


def _fmin_backward(ct, out, x, y):
    to_x = np.logical_or(x <= y, _isnan(y))
    return np.where(to_x, ct, 0.0), np.where(to_x, 0.0, ct)


def _logaddexp_backward(ct, out, x, y):
    return ct / (1 + np.exp(y - x)), ct / (1 + np.exp(x - y))


def _hypot_backward(ct, out, x, y):
    return ct * x / out, ct * y / out


def _pow_backward(ct, out, x, y):
    """No gradient through a zero exponent, nor to the exponent at a zero base when y >= 0."""
    gx = np.where(y == 0, 0.0, ct * (y * x ** (y - 1)))
    gy = ct * np.where(np.logical_and(np.equal(x, 0), y >= 0), 0.0, out * np.log(x))
    return gx, gy


def _binary(func, name, backward):
    def op(x, y):
        return apply(func, api.UFUNCS[func], (x, y), name=name, forward=func, backward=backward)
    return op


def _power(func):
    def op(x, y):
        if not _is_array(y):                      # a constant exponent: the compiler's rule is PyTorch's
            return apply(func, api.UFUNCS[func], (x, y))
        return apply(func, api.UFUNCS[func], (x, y), forward=func, backward=_pow_backward)
    return op


# ---------------------------------------------------------------------- clamp

def _clamp_backward(ct, out, x, lo, hi):
    """Scalar bounds: the gradient passes where lo <= x <= hi (at a bound too)."""
    if lo is None and hi is None:
        return ct, None, None
    inside = x >= lo if hi is None else x <= hi if lo is None else np.logical_and(x >= lo, x <= hi)
    return np.where(inside, ct, 0.0), None, None


def _clamp_tensor_backward(ct, out, x, lo, hi):
    """Tensor bounds: the bound that is taken gets the gradient (hi where lo > hi)."""
    if hi is None:
        return np.where(x >= lo, ct, 0.0), np.where(x < lo, ct, 0.0), None
    if lo is None:
        return np.where(x <= hi, ct, 0.0), None, np.where(x > hi, ct, 0.0)
    return (np.where(np.logical_and(x >= lo, x <= hi), ct, 0.0),
            np.where(np.logical_and(x < lo, lo < hi), ct, 0.0),
            np.where(np.logical_or(x > hi, hi < lo), ct, 0.0))


def clip(x, a_min=None, a_max=None, out=None, **kwargs):
    a_min, a_max = kwargs.pop("min", a_min), kwargs.pop("max", a_max)
    if out is not None or kwargs:
        return api.clip(x, a_min, a_max, out, **kwargs)          # raises the front end's error
    tensors = _is_array(a_min) or _is_array(a_max)
    return apply(np.clip, api.clip, (x, a_min, a_max), name="ClampBackward0" if tensors else "ClampBackward1",
                 forward=np.clip, backward=_clamp_tensor_backward if tensors else _clamp_backward)


# ---------------------------------------------------------------------- reductions

def _evenly_backward(ct, out, x, axis, _, keepdims):
    """max()/min() of everything: ties share the gradient; a NaN result sends it to the NaNs."""
    hit = np.where(_isnan(out), _isnan(x), x == out)
    return np.where(hit, ct / np.sum(hit).astype(ct.dtype), 0.0), None, None, None


def _amax_backward(ct, out, x, axis, _, keepdims):
    """amax/amin over several axes: ties share the gradient."""
    axes = _axes(axis, x.ndim)
    hit = x == _kept(out, x.shape, axes, keepdims)
    return (_kept(ct, x.shape, axes, keepdims) / np.sum(hit, axes, keepdims=True)) * hit, None, None, None


def _index_backward(ct, out, x, index, axis, keepdims):
    """max(dim)/min(dim): all of the gradient goes to the index they return (the first extreme)."""
    axis = _axes(axis, x.ndim)[0]
    g = ct if keepdims else np.expand_dims(ct, axis)
    positions = np.arange(x.shape[axis]).reshape([-1 if i == axis else 1 for i in range(x.ndim)])
    return np.where(positions == index, g, 0.0), None, None, None


def _extremum(func, fe, arg, names):
    full, along, several = names
    fe_along = lambda v, i, a, k: fe(v, a, None, k)          # noqa: E731  (created once: part of the cache key)
    forward_along = lambda v, i, a, k: func(v, a, None, k)   # noqa: E731

    def op(x, axis=None, out=None, keepdims=False, initial=None, where=None):
        if out is not None or initial is not None or where is not None:
            return fe(x, axis, out, keepdims, initial, where)     # raises the front end's error
        if axis is None or isinstance(axis, (tuple, list)) and len(axis) != 1:
            return apply(func, fe, (x, _static(axis), None, keepdims),
                         name=full if axis is None else several, forward=func,
                         backward=_evenly_backward if axis is None else _amax_backward)
        axis = axis[0] if isinstance(axis, (tuple, list)) else axis
        index = None
        if isinstance(x, Tensor) and x._rg and _mode.grad_enabled:
            index = arg(x._data, axis, keepdims=True)
        return apply(func, fe_along, (x, index, axis, keepdims), name=along, forward=forward_along,
                     backward=_index_backward)
    return op


def _var_grad(g, x, axis, ddof, keepdims):
    """d var / dx for an incoming gradient `g` of the variance: 2 / (N - ddof) * g * (x - mean)."""
    axes = _axes(axis, x.ndim)
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64)) - ddof
    scale = 2.0 / n if n else float("inf")
    return scale * _kept(g, x.shape, axes, keepdims) * (x - np.mean(x, axes, keepdims=True))


def _var_backward(ct, out, x, axis, ddof, keepdims):
    return _var_grad(ct, x, axis, ddof, keepdims), None, None, None


def _std_backward(ct, out, x, axis, ddof, keepdims):
    """0 where the standard deviation is 0 (a constant), not 0/0."""
    return _var_grad(np.where(out == 0, 0.0, ct / (out * 2)), x, axis, ddof, keepdims), None, None, None


def _moment(func, fe, backward, name):
    fe_positional = lambda v, a, d, k: fe(v, a, ddof=d, keepdims=k)         # noqa: E731  (created once)
    forward = lambda v, a, d, k: func(v, a, ddof=d, keepdims=k)             # noqa: E731

    def op(x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
           correction=None):
        if dtype is not None or out is not None or where is not None or mean is not None:
            return apply(func, fe, (x,), {"axis": axis, "dtype": dtype, "out": out, "ddof": ddof,
                                              "keepdims": keepdims, "where": where, "mean": mean,
                                              "correction": correction})
        ddof = correction if correction is not None else ddof
        return apply(func, fe_positional, (x, _static(axis), ddof, keepdims), name=name, forward=forward,
                     backward=backward)
    return op


def _prod_backward(ct, out, x, axis, keepdims):
    """result / x without zeros; with zeros, the product of the other entries, written so that its
    own derivative is right too (with up to two zeros in a slice)."""
    if x.ndim == 0:
        return ct, None, None
    axes = _axes(axis, x.ndim)
    if x.size == 0:                               # an empty gradient, that requires grad as in PyTorch
        return _kept(ct, x.shape, axes, keepdims) * x, None, None
    zero = x == 0
    count = np.sum(zero, axes, keepdims=True)
    nonzero = np.where(zero, 1.0, x)              # no division by zero, even in unused branches
    nonzero_prod = np.prod(nonzero, axes, keepdims=True)
    zeros_prod = np.prod(np.where(zero, x, 1.0), axes, keepdims=True)           # 0, differentiably
    other_zero = np.sum(np.where(zero, x, 0.0), axes, keepdims=True) - x        # the other zero of two
    at_zero = nonzero_prod * np.where(count == 1, 1.0, np.where(count == 2, other_zero, 0.0))
    others = np.where(count == 0, _kept(out, x.shape, axes, keepdims) / nonzero,
                      np.where(zero, at_zero, nonzero_prod / nonzero * zeros_prod))
    return _kept(ct, x.shape, axes, keepdims) * others, None, None


def prod(x, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    if dtype is not None or out is not None or initial is not None or where is not None:
        return apply(np.prod, api.prod, (x,), {"axis": axis, "dtype": dtype, "out": out, "keepdims": keepdims,
                                                   "initial": initial, "where": where})
    return apply(np.prod, _prod_fe, (x, _static(axis), keepdims), name="ProdBackward0" if axis is None else
                 "ProdBackward1", forward=_prod_forward, backward=_prod_backward)


def _prod_fe(x, axis, keepdims):
    return api.prod(x, axis, keepdims=keepdims)


def _prod_forward(x, axis, keepdims):
    return np.prod(x, axis, keepdims=keepdims)


# ---------------------------------------------------------------------- vector norms

def _norm_backward(ct, out, x, ord, axis, keepdims):
    """PyTorch's linalg_vector_norm_backward: 0 (not 0/0) where the norm is 0."""
    p = 2.0 if ord is None or ord == "fro" else float(ord)
    axes = _axes(_vector_axes(x.ndim, ord, axis), x.ndim)
    g, n = _kept(ct, x.shape, axes, keepdims), _kept(out, x.shape, axes, keepdims)
    if p == 0:
        grad = _zeros(x)
    elif p == 1:
        grad = _sgn(x) * g
    elif p == 2:
        grad = g * np.where(n == 0, 0.0, x / n)
    elif np.isinf(p):                             # ties share the gradient, as in amax
        size = np.abs(x)
        hit = np.logical_or(size == n, _isnan(size))
        grad = _sgn(x) * ((g / np.sum(hit, axes, keepdims=True)) * hit)
    elif p < 1:
        grad = _sgn(x) * np.where(x == 0, 0.0, np.abs(x) ** (p - 1)) * g * n ** (1 - p)
    elif p < 2:
        grad = _sgn(x) * np.abs(x) ** (p - 1) * np.where(n == 0, 0.0, g / n ** (p - 1))
    else:
        grad = x * np.abs(x) ** (p - 2) * np.where(n == 0, 0.0, g / n ** (p - 1))
    return grad, None, None, None


def _vector_axes(ndim, ord, axis):
    """The axes np.linalg.norm takes a vector norm over (the Frobenius norm is one), or None for a
    matrix norm."""
    if axis is None:
        if ord is None or (ord == "fro" and ndim == 2):
            return tuple(range(ndim))
        return (0,) if ndim == 1 and not isinstance(ord, str) else None
    axes = (axis,) if not isinstance(axis, (tuple, list)) else tuple(axis)
    if len(axes) == 1 and not isinstance(ord, str) or len(axes) == 2 and ord in (None, "fro"):
        return axes
    return None


def norm(x, ord=None, axis=None, keepdims=False):
    vector = _vector_axes(len(np.shape(x)), ord, axis) is not None
    return apply(np.linalg.norm, api.norm, (x, ord, _static(axis), keepdims), name="LinalgVectorNormBackward0",
                 forward=np.linalg.norm if vector else None, backward=_norm_backward if vector else None)


# ---------------------------------------------------------------------- registration

dispatch.UFUNC_FORMULAS.update({np.absolute: _abs_backward, np.maximum: _maximum_backward,
                                np.minimum: _minimum_backward})
dispatch.OPS.update({
    np.sign: _zero_op(np.sign, "SignBackward0", api.UFUNCS[np.sign]),
    np.floor: _zero_op(np.floor, "FloorBackward0"), np.ceil: _zero_op(np.ceil, "CeilBackward0"),
    np.trunc: _zero_op(np.trunc, "TruncBackward0"), np.rint: _zero_op(np.rint, "RoundBackward0"),
    np.round: _round, np.around: _round,
    np.fabs: _fabs,
    np.fmax: _binary(np.fmax, "FmaxBackward0", _fmax_backward),
    np.fmin: _binary(np.fmin, "FminBackward0", _fmin_backward),
    np.logaddexp: _binary(np.logaddexp, "LogaddexpBackward0", _logaddexp_backward),
    np.hypot: _binary(np.hypot, "HypotBackward0", _hypot_backward),
    np.power: _power(np.power), np.float_power: _power(np.float_power),
    np.clip: clip,
    np.max: _extremum(np.max, api.max, np.argmax, ("MaxBackward1", "MaxBackward0", "AmaxBackward0")),
    np.amax: _extremum(np.max, api.max, np.argmax, ("MaxBackward1", "MaxBackward0", "AmaxBackward0")),
    np.min: _extremum(np.min, api.min, np.argmin, ("MinBackward1", "MinBackward0", "AminBackward0")),
    np.amin: _extremum(np.min, api.min, np.argmin, ("MinBackward1", "MinBackward0", "AminBackward0")),
    np.var: _moment(np.var, api.var, _var_backward, "VarBackward0"),
    np.std: _moment(np.std, api.std, _std_backward, "StdBackward0"),
    np.prod: prod,
    np.linalg.norm: norm,
})
dispatch.PRIMITIVE_OPS.update({
    ew.sign_p: dispatch.OPS[np.sign], ew.abs_p: lambda x: apply_ufunc(np.absolute, (x,)),
    ew.max_p: lambda x, y: apply_ufunc(np.maximum, (x, y)), ew.min_p: lambda x, y: apply_ufunc(np.minimum, (x, y)),
    ew.pow_p: dispatch.OPS[np.power],
    # zero-gradient primitives bound in backward formulas (remainder's -floor(x / y)) record a node, as in PyTorch
    ew.floor_p: dispatch.OPS[np.floor], ew.ceil_p: dispatch.OPS[np.ceil], ew.trunc_p: dispatch.OPS[np.trunc],
    ew.rint_p: dispatch.OPS[np.rint],
})
