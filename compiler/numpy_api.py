"""The NumPy front end: NumPy's functions and ufuncs expressed with gradjit's primitives.

Every function here takes traced values, eager tensors or plain arrays alike (primitives `bind`
to whichever is present).  Dtype promotion (NumPy 2 rules, Python scalars are weak) and
broadcasting happen here, once, so the primitives see equal shapes and dtypes.
"""
import builtins
import math

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
    return type(x) in (int, float, bool)


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


def promote(*xs, to_float=False):
    dtype = np.result_type(*[x if _is_weak(x) else dtype_of(x) for x in xs])
    if to_float and not is_float(dtype):
        dtype = np.dtype(np.float64)
    return [cast(x, dtype) for x in xs]


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

def _unary(prim, needs_float=True):
    def fn(x):
        x = _asarray_arg(x)
        if needs_float and not is_float(dtype_of(x)):
            x = cast(x, np.float64)
        return prim.bind(x)
    return fn


def _binary(prim, needs_float=False):
    def fn(x, y):
        x, y = promote(_asarray_arg(x), _asarray_arg(y), to_float=needs_float)
        return prim.bind(*broadcast_arrays(x, y))
    return fn


for _uf, _prim in [(np.exp, ew.exp_p), (np.log, ew.log_p), (np.log1p, ew.log1p_p), (np.expm1, ew.expm1_p),
                   (np.sqrt, ew.sqrt_p), (np.sin, ew.sin_p), (np.cos, ew.cos_p), (np.tan, ew.tan_p),
                   (np.tanh, ew.tanh_p), (np.sinh, ew.sinh_p), (np.cosh, ew.cosh_p), (np.arctan, ew.arctan_p),
                   (np.arcsin, ew.arcsin_p), (np.arccos, ew.arccos_p)]:
    UFUNCS[_uf] = _unary(_prim)
for _uf, _prim in [(np.negative, ew.neg_p), (np.absolute, ew.abs_p), (np.fabs, ew.abs_p), (np.sign, ew.sign_p)]:
    UFUNCS[_uf] = _unary(_prim, needs_float=False)
for _uf, _prim in [(np.add, ew.add_p), (np.subtract, ew.sub_p), (np.multiply, ew.mul_p),
                   (np.maximum, ew.max_p), (np.minimum, ew.min_p), (np.fmax, ew.max_p), (np.fmin, ew.min_p),
                   (np.equal, ew.eq_p), (np.not_equal, ew.ne_p), (np.less, ew.lt_p),
                   (np.less_equal, ew.le_p), (np.greater, ew.gt_p), (np.greater_equal, ew.ge_p)]:
    UFUNCS[_uf] = _binary(_prim)
UFUNCS[np.true_divide] = _binary(ew.div_p, needs_float=True)

add, subtract, multiply = UFUNCS[np.add], UFUNCS[np.subtract], UFUNCS[np.multiply]
divide, negative, maximum, minimum = UFUNCS[np.true_divide], UFUNCS[np.negative], UFUNCS[np.maximum], UFUNCS[np.minimum]
exp, log, log1p, sqrt, absolute = UFUNCS[np.exp], UFUNCS[np.log], UFUNCS[np.log1p], UFUNCS[np.sqrt], UFUNCS[np.absolute]
equal, not_equal, less, less_equal = UFUNCS[np.equal], UFUNCS[np.not_equal], UFUNCS[np.less], UFUNCS[np.less_equal]
greater, greater_equal = UFUNCS[np.greater], UFUNCS[np.greater_equal]


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


@implements(np.power, np.float_power, table=UFUNCS)
def power(x, y):
    k = _static_scalar(y)
    if k is not None and float(k).is_integer() and builtins.abs(k) <= 64:
        x = _asarray_arg(x)
        if not is_float(dtype_of(x)) and k < 0:
            x = cast(x, np.float64)
        return ew.integer_pow(x, int(k))
    if k == 0.5:
        return sqrt(x)
    x, y = promote(_asarray_arg(x), _asarray_arg(y), to_float=True)
    return ew.pow_p.bind(*broadcast_arrays(x, y))


@implements(np.square, table=UFUNCS)
def square(x):
    return ew.integer_pow(_asarray_arg(x), 2)


@implements(np.reciprocal, table=UFUNCS)
def reciprocal(x):
    return divide(1.0, x)


@implements(np.exp2, table=UFUNCS)
def exp2(x):
    return exp(multiply(x, math.log(2.0)))


@implements(np.log2, table=UFUNCS)
def log2(x):
    return divide(log(x), math.log(2.0))


@implements(np.log10, table=UFUNCS)
def log10(x):
    return divide(log(x), math.log(10.0))


@implements(np.logaddexp, table=UFUNCS)
def logaddexp(x, y):
    """max(x, y) + log1p(exp(-|x - y|)): never overflows."""
    big = maximum(x, y)
    return add(big, log1p(exp(negative(absolute(subtract(x, y))))))


@implements(np.hypot, table=UFUNCS)
def hypot(x, y):
    return sqrt(add(square(x), square(y)))


# ---------------------------------------------------------------- reductions

def normalize_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(at_line(f"axis {a} is out of bounds for array of dimension {ndim}",
                                                  user_source()))
        out.append(a % ndim)
    if len(set(out)) != len(out):
        _raise_shape(f"duplicate value in 'axis': {axis}")
    return tuple(sorted(out))


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
    if dtype is not None:
        x = cast(x, dtype)
    elif dtype_of(x) == np.bool_ or np.issubdtype(dtype_of(x), np.integer):
        x = cast(x, np.int64)
    axes = normalize_axes(axis, len(shape_of(x)))
    return _keep(red.reduce_sum(x, axes) if axes else x, x, axes, keepdims)


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
        axes = normalize_axes(axis, len(shape_of(x)))
        return _keep(prim.bind(x, axes=axes) if axes else x, x, axes, keepdims)
    return fn


max = amax = implements(np.max, np.amax)(_extremum(red.reduce_max_p, "max"))
min = amin = implements(np.min, np.amin)(_extremum(red.reduce_min_p, "min"))


@implements(np.prod)
def prod(x, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _no_extras("prod", out=out, initial=initial, where=where)
    x = _asarray_arg(x)
    if dtype is not None:
        x = cast(x, dtype)
    axes = normalize_axes(axis, len(shape_of(x)))
    return _keep(red.reduce_prod(x, axes) if axes else x, x, axes, keepdims)


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
    axes = tuple(reversed(range(nd))) if axes is None else tuple(a % nd for a in axes)
    if sorted(axes) != list(range(nd)):
        _raise_shape(f"axes {axes} don't match array of dimension {nd}")
    return st.transpose(x, axes)


@implements(np.swapaxes)
def swapaxes(x, axis1, axis2):
    perm = list(range(len(shape_of(x))))
    a, b = normalize_axes(axis1, len(perm))[0], normalize_axes(axis2, len(perm))[0]
    perm[a], perm[b] = perm[b], perm[a]
    return st.transpose(x, perm)


@implements(np.moveaxis)
def moveaxis(x, source, destination):
    nd = len(shape_of(x))
    src = [normalize_axes(s, nd)[0] for s in (source if isinstance(source, (tuple, list)) else [source])]
    dst = [normalize_axes(d, nd)[0] for d in (destination if isinstance(destination, (tuple, list)) else [destination])]
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
    axis = normalize_axes(axis, len(shape_of(arrays[0])))[0]
    return st.concatenate(arrays, axis)


@implements(np.stack)
def stack(arrays, axis=0, out=None, dtype=None):
    arrays = [_asarray_arg(a) for a in arrays]
    shapes = {shape_of(a) for a in arrays}
    if len(shapes) != 1:
        _raise_shape(f"all input arrays must have the same shape, got {sorted(shapes)}")
    axis = normalize_axes(axis, len(shapes.pop()) + 1)[0]
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
def diff(x, n=1, axis=-1):
    for _ in range(n):
        nd = len(shape_of(x))
        ax = normalize_axes(axis, nd)[0]
        lo = tuple(slice(None) if i != ax else slice(1, None) for i in range(nd))
        hi = tuple(slice(None) if i != ax else slice(None, -1) for i in range(nd))
        x = subtract(getitem(x, lo), getitem(x, hi))
    return x


@implements(np.roll)
def roll(x, shift, axis=None):
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), shape_of(x))
    ax = normalize_axes(axis, len(shape_of(x)))[0]
    n = shape_of(x)[ax]
    k = int(shift) % n if n else 0
    if k == 0:
        return x
    head = tuple(slice(None) if i != ax else slice(n - k, None) for i in range(len(shape_of(x))))
    tail = tuple(slice(None) if i != ax else slice(None, n - k) for i in range(len(shape_of(x))))
    return concatenate([getitem(x, head), getitem(x, tail)], ax)


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
    return st.broadcast_in_dim(cast(fill_value, dtype), shape, ())


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
    x = _asarray_arg(x)
    if ord in (None, 2, "fro") and (ord != 2 or axis is not None or len(shape_of(x)) == 1):
        return sqrt(sum(square(x), axis, keepdims=keepdims))
    if ord == 1 and (axis is not None or len(shape_of(x)) == 1):
        return sum(absolute(x), axis, keepdims=keepdims)
    if ord in (np.inf, "inf") and (axis is not None or len(shape_of(x)) == 1):
        return max(absolute(x), axis, keepdims=keepdims)
    raise UnsupportedFunctionError(at_line(
        f"np.linalg.norm(ord={ord!r}) of a rank-{len(shape_of(x))} array is not supported; "
        "supported: vector norms ord=None/1/2/inf and the Frobenius norm", user_source()))


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


def getitem(x, key):
    x = _asarray_arg(x)
    key = key if isinstance(key, tuple) else (key,)
    shape = shape_of(x)
    n_axes = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
    if n_axes > len(shape):
        _index_error(f"too many indices for array: array is {len(shape)}-dimensional, "
                     f"but {n_axes} were indexed")
    if builtins.sum(1 for k in key if k is Ellipsis) > 1:
        _index_error("an index can only have a single ellipsis ('...')")
    if Ellipsis in [k for k in key if not _is_index_array(k)]:
        i = [j for j, k in enumerate(key) if k is Ellipsis and not _is_index_array(k)][0]
        key = key[:i] + (slice(None),) * (len(shape) - n_axes) + key[i + 1:]
    key = key + (slice(None),) * (len(shape) - builtins.sum(1 for k in key if k is not None))

    starts, limits, strides, reversed_axes, advanced, out_dims = [], [], [], [], [], []
    axis = 0
    for k in key:
        if k is None:
            out_dims.append(("new", None))
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
            out_dims.append(("keep", axis))
        elif isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
            if not -n <= k < n:
                _index_error(f"index {k} is out of bounds for axis {axis} with size {n}")
            k = int(k) % n
            starts.append(k), limits.append(k + 1), strides.append(1)
            out_dims.append(("drop", axis))
        elif _is_index_array(k) or isinstance(k, (bool, np.bool_)):
            if _is_traced(k):
                if dtype_of(k) == np.bool_:
                    _concrete_int_array(np.zeros(0, bool), n, axis)
                idx = k
            else:
                idx = _concrete_int_array(k, n, axis)
            starts.append(0), limits.append(n), strides.append(1)
            advanced.append((axis, idx))
            out_dims.append(("advanced", axis))
        else:
            _index_error(f"only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and "
                         f"integer arrays are valid indices (got {type(k).__name__})")
        axis += 1

    y = x
    if reversed_axes:
        y = st.rev_p.bind(y, dimensions=tuple(reversed_axes))
    y = st.slice_array(y, starts, limits, strides)
    if advanced:
        y, index_shape = _gather(y, advanced)
    final, y_shape, pos, placed = [], shape_of(y), 0, False
    for kind, ax in out_dims:
        if kind == "new":
            final.append(1)
        elif kind == "drop":
            pos += 1
        elif kind == "keep":
            final.append(y_shape[pos])
            pos += 1
        elif not placed:
            final.extend(index_shape)
            pos += len(index_shape)
            placed = True
    return st.reshape(y, final)


def _gather(y, advanced):
    axes = [a for a, _ in advanced]
    if axes != list(range(axes[0], axes[0] + len(axes))):
        raise UnsupportedFunctionError(at_line(
            "integer-array indices on non-adjacent axes are not supported; index one axis at a time",
            user_source()))
    shape = shape_of(y)
    idxs = broadcast_arrays(*[i for _, i in advanced]) if len(advanced) > 1 else [advanced[0][1]]
    index_shape = shape_of(idxs[0]) if idxs else ()
    first = axes[0]
    if len(advanced) == 1:
        return st.take(y, cast(idxs[0], np.int64) if _is_traced(idxs[0]) else idxs[0], first), index_shape
    flat = None
    for (a, _), idx in zip(advanced, idxs):
        idx = cast(idx, np.int64)
        flat = idx if flat is None else add(multiply(flat, shape[a]), idx)
    merged = shape[:first] + (int(np.prod([shape[a] for a in axes])),) + shape[axes[-1] + 1:]
    return st.take(st.reshape(y, merged), flat, first), index_shape


@implements(np.take)
def take(x, indices, axis=None, out=None, mode=None):
    _no_extras("take", out=out, mode=mode)
    if axis is None:
        x, axis = ravel(x), 0
    axis = normalize_axes(axis, len(shape_of(x)))[0]
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
