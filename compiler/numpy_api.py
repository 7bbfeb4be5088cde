"""The NumPy front end: NumPy's functions and ufuncs expressed with gradjit's primitives.

Every function here takes traced values, eager tensors or plain arrays alike (primitives `bind`
to whichever is present).  Dtype promotion (NumPy 2 rules, Python scalars are weak) and
broadcasting happen here, once, so the primitives see equal shapes and dtypes.
"""
import builtins
import difflib
import math
import operator

import numpy as np

from .errors import ShapeError, UnsupportedFunctionError, at_line, user_source
from .primitives import elementwise as ew
from .primitives import linalg as la
from .primitives import reductions as red
from .primitives import structural as st
from .primitives.core import is_float, shape_of

UFUNCS = {}      # np.ufunc -> front-end function
FUNCTIONS = {}   # NumPy function -> front-end function


def implements(*np_funcs, table=FUNCTIONS):
    def register(fn):
        for f in np_funcs:
            table[f] = fn
        return fn
    return register


def _raise_shape(message):
    raise ShapeError(at_line(message, user_source()))


# ---------------------------------------------------------------- dtypes and broadcasting

def _is_weak(x):
    """Python scalars are weakly typed (NEP 50); NumPy scalars and 0-d arrays are not."""
    return type(x) in (int, float, bool, complex)


def dtype_of(x):
    d = getattr(x, "dtype", None)
    return np.dtype(d) if d is not None else np.asarray(x).dtype


def _is_traced(x):
    return getattr(x, "_gj_trace", None) is not None


def cast(x, dtype):
    dtype = np.dtype(dtype)
    if _is_weak(x):
        return dtype.type(x)
    if isinstance(x, (list, tuple)):
        return np.asarray(x, dtype)
    if dtype_of(x) == dtype:
        return x
    if not _is_traced(x):
        return np.asarray(x).astype(dtype)[()]
    return ew.convert(x, dtype)


def _dtype_key(x):
    """What NumPy's type resolution sees: Python int/float/complex stay weak, a Python bool is bool."""
    if _is_weak(x):
        return np.dtype(bool) if type(x) is bool else type(x)
    return dtype_of(x)


def promote(*xs, to_float=False):
    dtype = result_type(*xs)
    if to_float and not is_float(dtype):
        dtype = np.dtype(np.float64)
    return [cast(x, dtype) for x in xs]


_LOOPS = {}


def loop_dtypes(ufunc, *xs):
    """The dtypes NumPy computes `ufunc` in for these operands (inputs..., outputs...)."""
    key = (ufunc,) + tuple(_dtype_key(x) for x in xs)
    found = _LOOPS.get(key)
    if found is None:
        if all(isinstance(k, type) for k in key[1:]):   # only Python scalars: NumPy's default dtypes
            key = (ufunc,) + tuple(np.asarray(x).dtype for x in xs)
        found = _LOOPS[key] = ufunc.resolve_dtypes(key[1:] + (None,) * ufunc.nout)
    return found


def broadcast_shapes(*shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        _raise_shape("operands could not be broadcast together with shapes " + " ".join(map(str, shapes)))


def broadcast_to(x, shape):
    shape = tuple(shape)
    xs = shape_of(x)
    if xs == shape:
        return x
    if len(xs) > len(shape) or broadcast_shapes(xs, shape) != shape:
        _raise_shape(f"cannot broadcast an array of shape {xs} to shape {shape}")
    return st.broadcast_in_dim(x, shape, range(len(shape) - len(xs), len(shape)))


def broadcast_arrays(*xs):
    """Broadcast to a common shape; rank-0 operands stay rank-0 (primitives broadcast those)."""
    shape = broadcast_shapes(*[shape_of(x) for x in xs])
    return [x if shape_of(x) == () else broadcast_to(x, shape) for x in xs]


def _asarray_arg(x):
    return np.asarray(x) if isinstance(x, (list, tuple)) else x


# ---------------------------------------------------------------- ufuncs

def _unary(ufunc, prim):
    def fn(x):
        x = _asarray_arg(x)
        return prim.bind(cast(x, loop_dtypes(ufunc, x)[0]))
    return fn


def _operands(ufunc, x, y):
    """x and y cast to the dtypes NumPy computes `ufunc` in, and broadcast."""
    x, y = _asarray_arg(x), _asarray_arg(y)
    dx, dy = loop_dtypes(ufunc, x, y)[:2]
    return broadcast_arrays(cast(x, dx), cast(y, dy))


def _binary(ufunc, prim):
    def fn(x, y):
        return prim.bind(*_operands(ufunc, x, y))
    return fn


for _uf, _prim in [(np.exp, ew.exp_p), (np.log, ew.log_p), (np.log1p, ew.log1p_p), (np.expm1, ew.expm1_p),
                   (np.sqrt, ew.sqrt_p), (np.sin, ew.sin_p), (np.cos, ew.cos_p), (np.tan, ew.tan_p),
                   (np.tanh, ew.tanh_p), (np.sinh, ew.sinh_p), (np.cosh, ew.cosh_p), (np.arctan, ew.arctan_p),
                   (np.arcsin, ew.arcsin_p), (np.arccos, ew.arccos_p), (np.negative, ew.neg_p),
                   (np.absolute, ew.abs_p), (np.fabs, ew.abs_p), (np.sign, ew.sign_p), (np.rint, ew.rint_p)]:
    UFUNCS[_uf] = _unary(_uf, _prim)
for _uf, _prim in [(np.add, ew.add_p), (np.subtract, ew.sub_p), (np.multiply, ew.mul_p), (np.true_divide, ew.div_p),
                   (np.maximum, ew.max_p), (np.minimum, ew.min_p), (np.logaddexp, ew.logaddexp_p),
                   (np.hypot, ew.hypot_p), (np.remainder, ew.remainder_p), (np.floor_divide, ew.floor_divide_p),
                   (np.equal, ew.eq_p), (np.not_equal, ew.ne_p), (np.less, ew.lt_p),
                   (np.less_equal, ew.le_p), (np.greater, ew.gt_p), (np.greater_equal, ew.ge_p)]:
    UFUNCS[_uf] = _binary(_uf, _prim)

add, subtract, multiply = UFUNCS[np.add], UFUNCS[np.subtract], UFUNCS[np.multiply]
divide, negative, maximum, minimum = UFUNCS[np.true_divide], UFUNCS[np.negative], UFUNCS[np.maximum], UFUNCS[np.minimum]
exp, log, log1p, sqrt, absolute = UFUNCS[np.exp], UFUNCS[np.log], UFUNCS[np.log1p], UFUNCS[np.sqrt], UFUNCS[np.absolute]
equal, not_equal, less, less_equal = UFUNCS[np.equal], UFUNCS[np.not_equal], UFUNCS[np.less], UFUNCS[np.less_equal]
greater, greater_equal = UFUNCS[np.greater], UFUNCS[np.greater_equal]
remainder, floor_divide = UFUNCS[np.remainder], UFUNCS[np.floor_divide]


def _rounding(ufunc, prim):
    """floor, ceil, trunc: the identity on integers and booleans (NumPy 2 keeps their dtype)."""
    def fn(x):
        x = _asarray_arg(x)
        dtype = loop_dtypes(ufunc, x)[0]
        return prim.bind(cast(x, dtype)) if is_float(dtype) else cast(x, dtype)
    return fn


for _uf, _prim in [(np.floor, ew.floor_p), (np.ceil, ew.ceil_p), (np.trunc, ew.trunc_p)]:
    UFUNCS[_uf] = _rounding(_uf, _prim)


@implements(np.divmod, table=UFUNCS)
def divmod_(x, y):
    return floor_divide(x, y), remainder(x, y)


@implements(np.round, np.around)
def round_(x, decimals=0, out=None):
    """NumPy's rounding: half to even, at 10**-decimals (scaled, rounded, scaled back)."""
    _no_extras("round", out=out)
    x = _asarray_arg(x)
    if not is_float(dtype_of(x)):
        if decimals >= 0:
            return x
        raise UnsupportedFunctionError(at_line(
            "np.round of integers to negative decimals is not supported; cast to float first", user_source()))
    if decimals == 0:
        return ew.rint_p.bind(x)
    scale = 10.0 ** builtins.abs(decimals)
    if decimals > 0:
        return divide(ew.rint_p.bind(multiply(x, scale)), scale)
    return multiply(ew.rint_p.bind(divide(x, scale)), scale)


def _to_bool(x):
    return x if dtype_of(x) == np.bool_ else not_equal(x, 0)


@implements(np.logical_and, table=UFUNCS)
def logical_and(x, y):
    return ew.and_p.bind(*broadcast_arrays(_to_bool(x), _to_bool(y)))


@implements(np.logical_or, table=UFUNCS)
def logical_or(x, y):
    return ew.or_p.bind(*broadcast_arrays(_to_bool(x), _to_bool(y)))


@implements(np.logical_not, table=UFUNCS)
def logical_not(x):
    return ew.not_p.bind(_to_bool(x))


@implements(np.positive, table=UFUNCS)
def positive(x):
    return x


def _static_scalar(y):
    """A concrete scalar exponent, or None."""
    if _is_weak(y) or isinstance(y, np.generic) or (isinstance(y, np.ndarray) and y.ndim == 0):
        return y.item() if hasattr(y, "item") else y
    return None


@implements(np.power, table=UFUNCS)
def power(x, y):
    x, y = _asarray_arg(x), _asarray_arg(y)
    dx, dy, _ = loop_dtypes(np.power, x, y)
    k = _static_scalar(y)
    if k is not None and float(k).is_integer() and builtins.abs(k) <= 64:
        if k < 0 and not is_float(dx):
            raise ValueError(at_line("Integers to negative integer powers are not allowed.", user_source()))
        return ew.integer_pow(cast(x, dx), int(k))
    if k == 0.5 and is_float(dx):
        return ew.sqrt_p.bind(cast(x, dx))
    if not is_float(dx):
        raise UnsupportedFunctionError(at_line(
            "integer ** integer array is not supported (only constant integer exponents are); "
            "cast to float first: x.astype(float) ** y", user_source()))
    return ew.pow_p.bind(*broadcast_arrays(cast(x, dx), cast(y, dy)))


@implements(np.float_power, table=UFUNCS)
def float_power(x, y):
    """Always computed in float64 (NumPy's rule), whatever the operands."""
    x, y = _asarray_arg(x), _asarray_arg(y)
    dx, dy, _ = loop_dtypes(np.float_power, x, y)
    return power(cast(x, dx), cast(y, dy))


@implements(np.square, table=UFUNCS)
def square(x):
    x = _asarray_arg(x)
    return ew.integer_pow(cast(x, loop_dtypes(np.square, x)[0]), 2)


@implements(np.reciprocal, table=UFUNCS)
def reciprocal(x):
    x = _asarray_arg(x)
    dtype = loop_dtypes(np.reciprocal, x)[0]
    if not is_float(dtype):
        raise UnsupportedFunctionError(at_line(
            "np.reciprocal of integers truncates (1 / 2 == 0); cast to float first: 1.0 / x", user_source()))
    return divide(dtype.type(1), x)


@implements(np.exp2, table=UFUNCS)
def exp2(x):
    x = _asarray_arg(x)
    dtype = loop_dtypes(np.exp2, x)[0]
    return ew.pow_p.bind(dtype.type(2), cast(x, dtype))


@implements(np.log2, table=UFUNCS)
def log2(x):
    return divide(log(x), math.log(2.0))


@implements(np.log10, table=UFUNCS)
def log10(x):
    return divide(log(x), math.log(10.0))


def _fextremum(ufunc, prim):
    """NaN-ignoring maximum/minimum, as JAX writes them (x wins strictly or where y is NaN),
    so the derivative follows JAX's too."""
    def fn(x, y):
        x, y = _operands(ufunc, x, y)
        keep_x = ew.or_p.bind(prim.bind(x, y), ew.ne_p.bind(y, y))
        return ew.select_p.bind(*broadcast_arrays(keep_x, x, y))
    return fn


UFUNCS[np.fmax] = _fextremum(np.fmax, ew.gt_p)
UFUNCS[np.fmin] = _fextremum(np.fmin, ew.lt_p)


def _falses(x):
    shape = shape_of(x)
    return np.False_ if shape == () else st.broadcast_in_dim(np.False_, shape, ())


@implements(np.isnan, table=UFUNCS)
def isnan(x):
    x = _asarray_arg(x)
    return ew.ne_p.bind(x, x) if is_float(dtype_of(x)) else _falses(x)


@implements(np.isinf, table=UFUNCS)
def isinf(x):
    x = _asarray_arg(x)
    return ew.eq_p.bind(ew.abs_p.bind(x), dtype_of(x).type(np.inf)) if is_float(dtype_of(x)) else _falses(x)


@implements(np.isfinite, table=UFUNCS)
def isfinite(x):
    x = _asarray_arg(x)
    if not is_float(dtype_of(x)):
        return logical_not(_falses(x))
    return ew.and_p.bind(ew.eq_p.bind(x, x), ew.ne_p.bind(ew.abs_p.bind(x), dtype_of(x).type(np.inf)))


# ---------------------------------------------------------------- reductions

def normalize_axis(axis, ndim):
    """One axis as a non-negative int, with NumPy's errors (TypeError for non-integers, AxisError)."""
    try:
        a = operator.index(axis)
    except TypeError:
        raise TypeError(at_line(f"'{type(axis).__name__}' object cannot be interpreted as an integer "
                                f"(axis={axis!r})", user_source())) from None
    if not -ndim <= a < ndim:
        raise np.exceptions.AxisError(at_line(f"axis {a} is out of bounds for array of dimension {ndim}",
                                              user_source()))
    return a % ndim


def normalize_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    out = [normalize_axis(a, ndim) for a in (axis if isinstance(axis, (tuple, list)) else (axis,))]
    if len(set(out)) != len(out):
        _raise_shape(f"duplicate value in 'axis': {axis}")
    return tuple(sorted(out))


def _reduction_axes(axis, ndim):
    """normalize_axes, with NumPy's leniency for the ufunc reductions of 0-d arrays: axis 0 or -1."""
    if ndim == 0 and axis is not None and not isinstance(axis, (tuple, list)):
        normalize_axis(axis, 1)
        return ()
    return normalize_axes(axis, ndim)


def _keep(result, x, axes, keepdims):
    if not keepdims:
        return result
    return reshape(result, [1 if i in axes else d for i, d in enumerate(shape_of(x))])


def _no_extras(name, **kwargs):
    for key, value in kwargs.items():
        if value is not None:
            raise UnsupportedFunctionError(at_line(
                f"np.{name}(..., {key}=...) is not supported by gradjit; compute without `{key}`", user_source()))


@implements(np.sum)
def sum(x, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _no_extras("sum", out=out, initial=initial, where=where)
    x = _asarray_arg(x)
    x = cast(x, _accumulator(dtype_of(x)) if dtype is None else dtype)
    axes = _reduction_axes(axis, len(shape_of(x)))
    return _keep(red.reduce_sum(x, axes) if axes else x, x, axes, keepdims)


def _accumulator(dtype):
    """NumPy sums and multiplies booleans and small integers in the default integer type."""
    if dtype == np.bool_ or np.issubdtype(dtype, np.signedinteger):
        return np.dtype(np.int64)
    return np.dtype(np.uint64) if np.issubdtype(dtype, np.unsignedinteger) else dtype


def _count(x, axes):
    shape = shape_of(x)
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


@implements(np.mean)
def mean(x, axis=None, dtype=None, out=None, keepdims=False, where=None):
    _no_extras("mean", out=out, where=where)
    x = _asarray_arg(x)
    x = cast(x, dtype or (dtype_of(x) if is_float(dtype_of(x)) else np.float64))
    axes = normalize_axes(axis, len(shape_of(x)))
    return divide(sum(x, axes, keepdims=keepdims), float(_count(x, axes)))


@implements(np.var)
def var(x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None, mean=None, correction=None):
    _no_extras("var", out=out, where=where, mean=mean)
    ddof = correction if correction is not None else ddof
    x = _asarray_arg(x)
    x = cast(x, dtype or (dtype_of(x) if is_float(dtype_of(x)) else np.float64))
    axes = normalize_axes(axis, len(shape_of(x)))
    centered = subtract(x, globals()["mean"](x, axes, keepdims=True))
    return divide(sum(square(centered), axes, keepdims=keepdims), float(_count(x, axes) - ddof))


@implements(np.std)
def std(x, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None, mean=None, correction=None):
    return sqrt(var(x, axis, dtype, out, ddof, keepdims, where, mean, correction))


def _extremum(prim, name):
    def fn(x, axis=None, out=None, keepdims=False, initial=None, where=None):
        _no_extras(name, out=out, initial=initial, where=where)
        x = _asarray_arg(x)
        axes = _reduction_axes(axis, len(shape_of(x)))
        return _keep(prim.bind(x, axes=axes) if axes else x, x, axes, keepdims)
    return fn


max = amax = implements(np.max, np.amax)(_extremum(red.reduce_max_p, "max"))
min = amin = implements(np.min, np.amin)(_extremum(red.reduce_min_p, "min"))


@implements(np.prod)
def prod(x, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _no_extras("prod", out=out, initial=initial, where=where)
    x = _asarray_arg(x)
    x = cast(x, _accumulator(dtype_of(x)) if dtype is None else dtype)
    axes = _reduction_axes(axis, len(shape_of(x)))
    return _keep(red.reduce_prod(x, axes) if axes else x, x, axes, keepdims)


def _cumulative(name, first_and_scan):
    def fn(x, axis=None, dtype=None, out=None):
        _no_extras(name, out=out)
        x = _asarray_arg(x)
        x = cast(x, _accumulator(dtype_of(x)) if dtype is None else dtype)
        if axis is None or len(shape_of(x)) == 0:
            axis = 0 if axis is None else normalize_axis(axis, 1)
            x = ravel(x)
        ax = normalize_axis(axis, len(shape_of(x)))
        return x if shape_of(x)[ax] == 0 else first_and_scan(x, ax)
    return fn


def _cumprod(x, ax):
    """h[0] = x[0], h[k] = x[k] h[k - 1]: exact derivatives through zeros, without division."""
    shape = shape_of(x)
    first = st.slice_array(x, [0] * len(shape), [1 if d == ax else n for d, n in enumerate(shape)])
    b = st.pad(first, [0] * len(shape), [shape[ax] - 1 if d == ax else 0 for d in range(len(shape))])
    return red.linear_scan(x, b, ax)


cumsum = implements(np.cumsum)(_cumulative("cumsum", lambda x, ax: red.linear_scan(dtype_of(x).type(1), x, ax)))
cumprod = implements(np.cumprod)(_cumulative("cumprod", _cumprod))


# ---------------------------------------------------------------- shape manipulation

@implements(np.reshape)
def reshape(x, shape, order="C", *, newshape=None, copy=None):
    if order != "C":
        raise UnsupportedFunctionError(at_line("reshape supports only order='C'", user_source()))
    shape = newshape if shape is None else shape
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    size = int(np.prod(shape_of(x), dtype=np.int64))
    if shape.count(-1) > 1:
        _raise_shape("can only specify one unknown dimension")
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        if known == 0 or size % known:
            _raise_shape(f"cannot reshape array of size {size} into shape {shape}")
        shape = tuple(size // known if d == -1 else d for d in shape)
    if int(np.prod(shape, dtype=np.int64)) != size:
        _raise_shape(f"cannot reshape array of size {size} into shape {shape}")
    return st.reshape(x, shape)


@implements(np.ravel)
def ravel(x, order="C"):
    return reshape(x, (-1,), order)


@implements(np.transpose)
def transpose(x, axes=None):
    nd = len(shape_of(x))
    if axes is None:
        return st.transpose(x, tuple(reversed(range(nd))))
    axes = tuple(axes) if isinstance(axes, (tuple, list)) else (axes,)
    if len(axes) != nd:
        _raise_shape(f"axes don't match array: {len(axes)} axes {axes} for an array of dimension {nd}")
    perm = tuple(normalize_axis(a, nd) for a in axes)
    if len(set(perm)) != nd:
        _raise_shape(f"repeated axis in transpose: {axes}")
    return st.transpose(x, perm)


@implements(np.swapaxes)
def swapaxes(x, axis1, axis2):
    perm = list(range(len(shape_of(x))))
    a, b = normalize_axis(axis1, len(perm)), normalize_axis(axis2, len(perm))
    perm[a], perm[b] = perm[b], perm[a]
    return st.transpose(x, perm)


@implements(np.moveaxis)
def moveaxis(x, source, destination):
    nd = len(shape_of(x))
    src, dst = [], []
    for axes, out, what in ((source, src, "source"), (destination, dst, "destination")):
        out.extend(normalize_axis(a, nd) for a in (axes if isinstance(axes, (tuple, list)) else [axes]))
        if len(set(out)) != len(out):
            _raise_shape(f"repeated axis in `{what}` argument: {axes}")
    if len(src) != len(dst):
        _raise_shape("`source` and `destination` arguments must have the same number of elements")
    order = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return st.transpose(x, order)


@implements(np.squeeze)
def squeeze(x, axis=None):
    shape = shape_of(x)
    axes = tuple(i for i, d in enumerate(shape) if d == 1) if axis is None else normalize_axes(axis, len(shape))
    for a in axes:
        if shape[a] != 1:
            _raise_shape(f"cannot select an axis to squeeze out which has size not equal to one (axis {a})")
    return st.reshape(x, [d for i, d in enumerate(shape) if i not in axes])


@implements(np.expand_dims)
def expand_dims(x, axis):
    if axis is None:
        raise TypeError(at_line("np.expand_dims needs an axis (an int or a tuple of ints), not None", user_source()))
    shape = list(shape_of(x))
    axes = normalize_axes(axis, len(shape) + (len(axis) if isinstance(axis, (tuple, list)) else 1))
    for a in axes:
        shape.insert(a, 1)
    return st.reshape(x, shape)


@implements(np.broadcast_to)
def broadcast_to_fn(x, shape, subok=False):
    return broadcast_to(_asarray_arg(x), (shape,) if isinstance(shape, int) else shape)


@implements(np.atleast_1d)
def atleast_1d(x):
    return reshape(x, (1,)) if len(shape_of(x)) == 0 else x


@implements(np.flip)
def flip(x, axis=None):
    axes = normalize_axes(axis, len(shape_of(x)))
    return st.rev_p.bind(x, dimensions=axes) if axes else x


@implements(np.concatenate)
def concatenate(arrays, axis=0, out=None, dtype=None):
    _no_extras("concatenate", out=out)
    arrays = [_asarray_arg(a) for a in arrays]
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    arrays = promote(*arrays) if dtype is None else [cast(a, dtype) for a in arrays]
    if any(len(shape_of(a)) == 0 for a in arrays):
        _raise_shape("zero-dimensional arrays cannot be concatenated")
    axis = normalize_axis(axis, len(shape_of(arrays[0])))
    return st.concatenate(arrays, axis)


@implements(np.stack)
def stack(arrays, axis=0, out=None, dtype=None):
    arrays = [_asarray_arg(a) for a in arrays]
    shapes = {shape_of(a) for a in arrays}
    if len(shapes) != 1:
        _raise_shape(f"all input arrays must have the same shape, got {sorted(shapes)}")
    axis = normalize_axis(axis, len(shapes.pop()) + 1)
    return concatenate([expand_dims(a, axis) for a in arrays], axis, out, dtype)


@implements(np.vstack)
def vstack(arrays):
    arrays = [reshape(a, (1, -1)) if len(shape_of(a)) <= 1 else a for a in arrays]
    return concatenate(arrays, 0)


@implements(np.hstack)
def hstack(arrays):
    arrays = [atleast_1d(a) for a in arrays]
    return concatenate(arrays, 0 if len(shape_of(arrays[0])) == 1 else 1)


@implements(np.diff)
def diff(x, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    x = _asarray_arg(x)
    nd = len(shape_of(x))
    if n < 0:
        raise ValueError(at_line(f"order must be non-negative but got {n}", user_source()))
    if nd == 0:
        raise ValueError(at_line("diff requires input that is at least one dimensional", user_source()))
    ax = normalize_axis(axis, nd)
    if n == 0:
        return x
    parts = []
    for value in (prepend, x, append):
        if value is np._NoValue:
            continue
        value = _asarray_arg(value)
        if value is not x and len(shape_of(value)) == 0:   # a scalar fills one slice along the axis
            value = broadcast_to(value, [1 if d == ax else size for d, size in enumerate(shape_of(x))])
        parts.append(value)
    x = concatenate(parts, ax) if len(parts) > 1 else x
    op = not_equal if dtype_of(x) == np.bool_ else subtract
    for _ in range(n):
        lo = tuple(slice(None) if i != ax else slice(1, None) for i in range(nd))
        hi = tuple(slice(None) if i != ax else slice(None, -1) for i in range(nd))
        x = op(getitem(x, lo), getitem(x, hi))
    return x


@implements(np.roll)
def roll(x, shift, axis=None):
    """Shifts and axes broadcast against each other; shifts of a repeated axis add up (NumPy)."""
    x = _asarray_arg(x)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), shape_of(x))
    shape = shape_of(x)
    try:
        pairs = np.broadcast(np.asarray(shift), np.asarray(axis))
    except ValueError:
        _raise_shape("'shift' and 'axis' should be scalars or 1D sequences")
    total = {}
    for k, a in pairs:
        a = normalize_axis(a, len(shape))
        total[a] = total.get(a, 0) + operator.index(k)
    for ax, k in total.items():
        n = shape[ax]
        k = k % n if n else 0
        if k:
            head = tuple(slice(None) if i != ax else slice(n - k, None) for i in range(len(shape)))
            tail = tuple(slice(None) if i != ax else slice(None, n - k) for i in range(len(shape)))
            x = concatenate([getitem(x, head), getitem(x, tail)], ax)
    return x


# ---------------------------------------------------------------- selection and creation

@implements(np.where)
def where(condition, x=None, y=None):
    if x is None or y is None:
        raise UnsupportedFunctionError(at_line(
            "np.where(condition) with one argument returns data-dependent indices and cannot be traced; "
            "use the three-argument form np.where(condition, x, y)", user_source()))
    x, y = promote(_asarray_arg(x), _asarray_arg(y))
    return ew.select_p.bind(*broadcast_arrays(_to_bool(_asarray_arg(condition)), x, y))


@implements(np.clip)
def clip(x, a_min=None, a_max=None, out=None, **kwargs):
    _no_extras("clip", out=out)
    a_min = kwargs.get("min", a_min)
    a_max = kwargs.get("max", a_max)
    if a_min is not None:
        x = maximum(x, a_min)
    if a_max is not None:
        x = minimum(x, a_max)
    return x


def full_like(x, fill_value, dtype=None, shape=None):
    dtype = np.dtype(dtype or dtype_of(x))
    shape = shape_of(x) if shape is None else ((shape,) if isinstance(shape, int) else tuple(shape))
    return broadcast_to(cast(_asarray_arg(fill_value), dtype), shape)


@implements(np.copyto)
def copyto(dst, src, casting="same_kind", where=True):
    raise UnsupportedFunctionError(at_line(
        "np.copyto writes a traced value into a NumPy array, which cannot be traced. (np.full_like(a, v) "
        "does this when `a` is a NumPy array and `v` is traced: NumPy dispatches full_like on `a` "
        "only.) Build a new array instead: np.broadcast_to(v, a.shape), or np.full_like(v, v, shape=a.shape)",
        user_source()))


FUNCTIONS[np.full_like] = lambda x, fill_value, dtype=None, order="K", subok=True, shape=None: \
    full_like(x, fill_value, dtype, shape)
FUNCTIONS[np.zeros_like] = lambda x, dtype=None, order="K", subok=True, shape=None: full_like(x, 0, dtype, shape)
FUNCTIONS[np.empty_like] = FUNCTIONS[np.zeros_like]
FUNCTIONS[np.ones_like] = lambda x, dtype=None, order="K", subok=True, shape=None: full_like(x, 1, dtype, shape)


@implements(np.copy)
def copy(x, order="K", subok=False):
    return x


@implements(np.shape)
def shape(x):
    return shape_of(x)


@implements(np.ndim)
def ndim(x):
    return len(shape_of(x))


@implements(np.size)
def size(x, axis=None):
    s = shape_of(x)
    return int(np.prod(s, dtype=np.int64)) if axis is None else s[axis]


@implements(np.result_type)
def result_type(*xs):
    return np.result_type(*[x if _is_weak(x) else dtype_of(x) for x in xs])


# ---------------------------------------------------------------- products

@implements(np.matmul, table=UFUNCS)
def matmul(a, b):
    a, b = promote(_asarray_arg(a), _asarray_arg(b), to_float=True)
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise ShapeError(at_line("matmul: an operand is a scalar; use * for scalar multiplication", user_source()))
    if len(sa) == 1 and len(sb) == 1:
        if sa != sb:
            _raise_shape(f"matmul: shapes {sa} and {sb} are not aligned")
        return sum(multiply(a, b))
    if len(sa) == 1:
        a = st.reshape(a, (1,) + sa)
    if len(sb) == 1:
        b = st.reshape(b, sb + (1,))
    ka, kb = shape_of(a)[-1], shape_of(b)[-2]
    if ka != kb:
        _raise_shape(f"matmul: input operand 1 has a mismatch in its core dimension 0 "
                     f"(size {kb} is different from {ka}); shapes {sa} @ {sb}")
    batch = broadcast_shapes(shape_of(a)[:-2], shape_of(b)[:-2])
    a = broadcast_to(a, batch + shape_of(a)[-2:])
    b = broadcast_to(b, batch + shape_of(b)[-2:])
    out = la.matmul(a, b)
    if len(sa) == 1 or len(sb) == 1:
        out_shape = shape_of(out)
        drop = {len(out_shape) - 2} if len(sa) == 1 else set()
        drop |= {len(out_shape) - 1} if len(sb) == 1 else set()
        out = st.reshape(out, [d for i, d in enumerate(out_shape) if i not in drop])
    return out


@implements(np.dot)
def dot(a, b, out=None):
    _no_extras("dot", out=out)
    a, b = _asarray_arg(a), _asarray_arg(b)
    if not shape_of(a) or not shape_of(b):
        return multiply(a, b)
    if len(shape_of(b)) > 2 or (len(shape_of(b)) == 2 and len(shape_of(a)) > 2):
        raise UnsupportedFunctionError(at_line(
            "np.dot of arrays with more than two dimensions is not supported; use np.matmul (@), "
            "which broadcasts batch dimensions", user_source()))
    return matmul(a, b)


@implements(np.vdot, np.inner)
def inner(a, b):
    if len(shape_of(a)) > 1 or len(shape_of(b)) > 1:
        raise UnsupportedFunctionError(at_line("np.inner/np.vdot supports vectors only; use @", user_source()))
    return matmul(a, b)


@implements(np.outer)
def outer(a, b, out=None):
    _no_extras("outer", out=out)
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


@implements(np.linalg.norm)
def norm(x, ord=None, axis=None, keepdims=False):
    """NumPy's vector and matrix norms, case by case as numpy.linalg.norm computes them."""
    x = _asarray_arg(x)
    if not is_float(dtype_of(x)):
        x = cast(x, np.float64)
    nd = len(shape_of(x))
    if axis is None:
        if ord is None:
            out = sqrt(sum(square(x)))
            return reshape(out, [1] * nd) if keepdims else out
        if nd not in (1, 2):
            raise ValueError(at_line("Improper number of dimensions to norm.", user_source()))
        axis = tuple(range(nd))
    elif not isinstance(axis, tuple):
        try:
            axis = (operator.index(axis),)
        except TypeError:
            raise TypeError(at_line("'axis' must be None, an integer or a tuple of integers", user_source())) from None
    if len(axis) == 1:
        return _vector_norm(x, ord, normalize_axis(axis[0], nd), keepdims)
    if len(axis) == 2:
        rows, cols = normalize_axis(axis[0], nd), normalize_axis(axis[1], nd)
        if rows == cols:
            raise ValueError(at_line("Duplicate axes given.", user_source()))
        out = _matrix_norm(x, ord, rows, cols)
        return reshape(out, [1 if d in (rows, cols) else n for d, n in enumerate(shape_of(x))]) if keepdims else out
    raise ValueError(at_line("Improper number of dimensions to norm.", user_source()))


def _max0(x, axis, keepdims=False):
    """max(x, initial=0) of a non-negative x: 0 over an empty axis."""
    if shape_of(x)[axis] == 0:
        return sum(x, axis, keepdims=keepdims)
    return max(x, axis, keepdims=keepdims)


def _vector_norm(x, ord, axis, keepdims):
    if ord == np.inf:
        return _max0(absolute(x), axis, keepdims)
    if ord == -np.inf:
        return min(absolute(x), axis, keepdims=keepdims)
    if ord == 0:
        return sum(cast(not_equal(x, 0), dtype_of(x)), axis, keepdims=keepdims)
    if ord == 1:
        return sum(absolute(x), axis, keepdims=keepdims)
    if ord is None or ord == 2:
        return sqrt(sum(square(x), axis, keepdims=keepdims))
    if isinstance(ord, (str, bytes)) or _static_scalar(ord) is None:
        raise ValueError(at_line(f"Invalid norm order '{ord}' for vectors", user_source()))
    total = sum(power(absolute(x), ord), axis, keepdims=keepdims)
    return power(total, dtype_of(total).type(1.0 / ord))


def _matrix_norm(x, ord, rows, cols):
    if ord in (1, -1):              # the largest (smallest) column sum of |x|
        pick = _max0 if ord == 1 else min
        return pick(sum(absolute(x), rows), cols - 1 if cols > rows else cols)
    if ord in (np.inf, -np.inf):    # the largest (smallest) row sum of |x|
        pick = _max0 if ord == np.inf else min
        return pick(sum(absolute(x), cols), rows - 1 if rows > cols else rows)
    if ord is None or (isinstance(ord, str) and ord in ("fro", "f")):
        return sqrt(sum(square(x), (rows, cols)))
    if ord in (2, -2) or (isinstance(ord, str) and ord == "nuc"):
        raise UnsupportedFunctionError(at_line(
            f"np.linalg.norm(x, ord={ord!r}) of a matrix needs its singular values, which gradjit cannot "
            "compute. Supported matrix norms: ord=None/'fro', 1, -1, inf, -inf; every vector norm "
            "(axis=int or a 1-D array)", user_source()))
    raise ValueError(at_line("Invalid norm order for matrices.", user_source()))


# ---------------------------------------------------------------- indexing

def _index_error(message):
    raise IndexError(at_line(message, user_source()))


def _concrete_int_array(idx, n, axis):
    idx = np.asarray(idx)
    if idx.dtype == np.bool_:
        raise UnsupportedFunctionError(at_line(
            "boolean mask indexing gives a data-dependent shape and cannot be traced; use "
            "np.where(mask, x, 0) and reduce, or index with integer arrays", user_source()))
    if not np.issubdtype(idx.dtype, np.integer):
        _index_error("arrays used as indices must be of integer (or boolean) type")
    if idx.size and (idx.max() >= n or idx.min() < -n):
        bad = idx.max() if idx.max() >= n else idx.min()
        _index_error(f"index {bad} is out of bounds for axis {axis} with size {n}")
    return np.where(idx < 0, idx + n, idx).astype(np.int64)


def _is_index_array(k):
    return isinstance(k, (list, np.ndarray)) or (_is_traced(k) and not isinstance(k, slice))


def _index_entry(k):
    """A key entry as getitem handles it: lists become arrays, 0-d integer arrays integers."""
    if isinstance(k, list):
        k = np.asarray(k)
    if isinstance(k, np.ndarray) and k.ndim == 0 and np.issubdtype(k.dtype, np.integer):
        return int(k)
    return k


def _traced_index(k, n, axis):
    if dtype_of(k) == np.bool_:
        _concrete_int_array(np.zeros(0, bool), n, axis)
    if not np.issubdtype(dtype_of(k), np.integer):
        _index_error("arrays used as indices must be of integer (or boolean) type")
    if n == 0 and int(np.prod(shape_of(k), dtype=np.int64)):
        _index_error(f"index is out of bounds for axis {axis} with size 0")
    return k


_SEPARATOR = object()   # where an ellipsis that stands for no axis was


def getitem(x, key):
    """NumPy indexing: basic (integers, slices, None, ...) and advanced (integer arrays).

    Integers and slices are a slice of x.  Integer arrays, and integers when arrays are present,
    are advanced indices: their broadcast shape replaces the axes they index, in place if they are
    adjacent in the key, and in front otherwise (NumPy's rule)."""
    x = _asarray_arg(x)
    key = tuple(_index_entry(k) for k in (key if isinstance(key, tuple) else (key,)))
    shape = shape_of(x)
    n_axes = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
    if n_axes > len(shape):
        _index_error(f"too many indices for array: array is {len(shape)}-dimensional, "
                     f"but {n_axes} were indexed")
    if builtins.sum(1 for k in key if k is Ellipsis) > 1:
        _index_error("an index can only have a single ellipsis ('...')")
    if any(k is Ellipsis for k in key):
        i = [j for j, k in enumerate(key) if k is Ellipsis][0]
        fill = (slice(None),) * (len(shape) - n_axes) or (_SEPARATOR,)   # an empty ... still separates
        key = key[:i] + fill + key[i + 1:]
    key = key + (slice(None),) * (len(shape) - builtins.sum(1 for k in key if k is not None and k is not _SEPARATOR))
    has_array = any(_is_index_array(k) for k in key)

    starts, limits, strides, reversed_axes = [], [], [], []
    kinds, kept, arrays = [], [], []      # per key entry; axes left after slicing; (kept position, index)
    axis = 0
    for k in key:
        if k is None or k is _SEPARATOR:
            kinds.append("new" if k is None else "separator")
            continue
        n = shape[axis]
        if isinstance(k, slice):
            start, stop, step = k.indices(n)
            if step < 0:  # a reversed axis, sliced forwards
                count = len(range(start, stop, step))
                reversed_axes.append(axis)
                start, step = builtins.min(builtins.max(n - 1 - start, 0), n), -step
                stop = start + (count - 1) * step + 1 if count else start
            starts.append(start), limits.append(builtins.max(start, stop)), strides.append(step)
            kinds.append("slice")
            kept.append(axis)
        elif isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
            if not -n <= k < n:
                _index_error(f"index {k} is out of bounds for axis {axis} with size {n}")
            k = int(k) % n
            starts.append(k), limits.append(k + 1), strides.append(1)
            kinds.append("advanced" if has_array else "int")
        elif _is_index_array(k) or isinstance(k, (bool, np.bool_)):
            idx = _traced_index(k, n, axis) if _is_traced(k) else _concrete_int_array(k, n, axis)
            starts.append(0), limits.append(n), strides.append(1)
            kinds.append("advanced")
            arrays.append((len(kept), idx))
            kept.append(axis)
        else:
            _index_error(f"only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and "
                         f"integer arrays are valid indices (got {type(k).__name__})")
        axis += 1

    y = x
    if reversed_axes:
        y = st.rev_p.bind(y, dimensions=tuple(reversed_axes))
    y = st.slice_array(y, starts, limits, strides)
    y = st.reshape(y, [shape_of(y)[a] for a in kept])       # integer-indexed axes have size 1: drop them
    index_shape, in_front = (), False
    if arrays:
        advanced = [i for i, kind in enumerate(kinds) if kind == "advanced"]
        in_front = advanced[-1] - advanced[0] + 1 != len(advanced)
        y, index_shape = _gather(y, arrays, in_front)
    final, pos, placed = list(index_shape) if in_front else [], 0, in_front
    y_shape = shape_of(y)
    if in_front:
        pos = len(index_shape)
    for kind in kinds:
        if kind == "new":
            final.append(1)
        elif kind == "slice":
            final.append(y_shape[pos])
            pos += 1
        elif kind == "advanced" and not placed:
            final.extend(index_shape)
            pos += len(index_shape)
            placed = True
    return st.reshape(y, final)


def _gather(y, arrays, in_front):
    """Gather along the (adjacent, or moved to the front) axes of y the index arrays select:
    one `take` on those axes merged into one, with the broadcast indices flattened."""
    axes = [a for a, _ in arrays]
    shape = shape_of(y)
    if in_front:
        y = st.transpose(y, axes + [d for d in range(len(shape)) if d not in axes])
        first = 0
    else:
        first = axes[0]
    idxs = [i for _, i in arrays]
    index_shape = broadcast_shapes(*[shape_of(i) for i in idxs])
    flat = None
    for a, idx in zip(axes, idxs):
        idx = broadcast_to(cast(idx, np.int64), index_shape)
        flat = idx if flat is None else add(multiply(flat, shape[a]), idx)
    moved = shape_of(y)
    size = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    y = st.reshape(y, moved[:first] + (size,) + moved[first + len(axes):])
    if size == 0:     # an empty axis takes only empty (checked) indices: the result is empty too
        return st.reshape(y, moved[:first] + index_shape + moved[first + len(axes):]), index_shape
    return st.take(y, flat, first), index_shape


@implements(np.take)
def take(x, indices, axis=None, out=None, mode=None):
    _no_extras("take", out=out, mode=mode)
    if axis is None:
        x, axis = ravel(x), 0
    axis = normalize_axis(axis, len(shape_of(x)))
    key = (slice(None),) * axis + (indices,)
    return getitem(x, key)


def astype(x, dtype):
    return cast(x, dtype)


def public_name(f):
    """How a user writes a NumPy function: np.sum, np.linalg.norm, np.fft.fft."""
    module = getattr(f, "__module__", None) or "numpy"
    sub = module.split(".")[1] if module.startswith("numpy.") else ""
    return f"np.{sub}.{f.__name__}" if sub in ("linalg", "fft", "random") else f"np.{f.__name__}"


SUPPORTED_NAMES = sorted({public_name(f) for f in list(UFUNCS) + list(FUNCTIONS)})

# What to write instead of common NumPy functions gradjit has no rule for.
_NO_SOLVER = "There is no linear solver or decomposition primitive yet; pass {} in as an argument."
ALTERNATIVES = {
    "np.einsum": "Use @ (np.matmul) with transposes and reshapes, or * and np.sum over the contracted axes.",
    "np.tensordot": "Use @ (np.matmul) on reshaped operands.",
    "np.linalg.solve": _NO_SOLVER.format("the inverse (then use @), or the solution"),
    "np.linalg.inv": _NO_SOLVER.format("the inverse"),
    "np.linalg.det": _NO_SOLVER.format("the determinant"),
    "np.linalg.svd": _NO_SOLVER.format("the factors"),
    "np.linalg.eigh": _NO_SOLVER.format("the factors"),
    "np.linalg.cholesky": _NO_SOLVER.format("the factor"),
    "np.arctan2": "Use np.arctan(y / x) with np.where for the quadrant.",
    "np.sort": "Sorting has no rule yet; np.max and np.min give the extremes.",
    "np.median": "It needs sorting, which has no rule yet; np.mean is the nearest.",
    "np.argmax": "Use np.max, or np.where(x == np.max(x), ...) for a mask.",
    "np.argmin": "Use np.min, or np.where(x == np.min(x), ...) for a mask.",
    "np.average": "Use np.sum(x * w) / np.sum(w).",
    "np.nansum": "Use np.sum(np.where(np.isnan(x), 0, x)).",
    "np.nanmean": "Use np.sum(np.where(np.isnan(x), 0, x)) / np.sum(~np.isnan(x)).",
    "np.nanmax": "Use np.max(np.where(np.isnan(x), -np.inf, x)).",
    "np.nanmin": "Use np.min(np.where(np.isnan(x), np.inf, x)).",
    "np.tile": "Use np.broadcast_to and reshape, or np.concatenate.",
    "np.repeat": "Use np.broadcast_to on a new axis, then reshape.",
    "np.append": "Use np.concatenate.",
    "np.pad": "Use np.concatenate with np.zeros_like slices.",
    "np.split": "Use slicing (x[a:b]).",
    "np.array_split": "Use slicing (x[a:b]).",
    "np.tril": "Use np.where(np.tri(n, dtype=bool), x, 0).",
    "np.triu": "Use np.where(np.tri(n, dtype=bool).T, x, 0).",
    "np.trace": "Use np.sum(x * np.eye(n)).",
    "np.diagonal": "Use np.sum(x * np.eye(n), axis=1).",
    "np.diag": "Use v[:, None] * np.eye(n) to build, np.sum(x * np.eye(n), axis=1) to extract.",
    "np.ptp": "Use np.max(x) - np.min(x).",
    "np.cross": "Use slicing and * on the components.",
    "np.atleast_2d": "Use np.reshape or x[None].",
    "np.fmod": "Use np.remainder (%), whose result takes the divisor's sign, or x - y * np.trunc(x / y).",
    "np.sinc": "Use np.sin(np.pi * x) / (np.pi * x).",
    "np.logaddexp2": "Use np.logaddexp(x * np.log(2), y * np.log(2)) / np.log(2).",
}


def suggestion(name):
    """The nearest supported alternatives to the NumPy function `name`, as a sentence."""
    if name in ALTERNATIVES:
        return ALTERNATIVES[name]
    close = difflib.get_close_matches(name, SUPPORTED_NAMES, n=3, cutoff=0.75)
    return f"Nearest supported: {', '.join(close)}." if close else ""
