"""`ArrayLike`: the ndarray surface (operators, methods, NEP-13/NEP-18 hooks) shared by the
compiler's tracers and the runtime's eager tensors.  Subclasses provide `shape` and `dtype`.
"""
import numpy as np

from . import numpy_api as api
from .errors import TracingError, UnsupportedFunctionError, at_line, user_source


def _unsupported(name):
    return UnsupportedFunctionError(at_line(
        f"{name} is not supported by gradjit (no primitive or front-end rule for it). "
        f"{api.suggestion(name)} (All supported functions: compiler.numpy_api.SUPPORTED_NAMES.)".replace(".  (", ". ("),
        user_source()))


class ArrayLike:
    __slots__ = ()

    # -- NumPy dispatch
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if kwargs.get("out") is not None:
            raise TracingError(at_line(
                f"np.{ufunc.__name__}(..., out=...) writes in place, which cannot be traced; "
                "use the returned value", user_source()))
        kwargs.pop("out", None)
        fn = api.UFUNCS.get(ufunc)
        if method == "__call__" and fn is not None and not kwargs:
            return fn(*inputs)
        if method == "reduce" and ufunc in _REDUCERS and len(inputs) == 1:
            return _REDUCERS[ufunc](inputs[0], **kwargs)
        if method == "accumulate" and ufunc in _ACCUMULATORS and len(inputs) == 1:
            return _ACCUMULATORS[ufunc](inputs[0], **{"axis": 0, **kwargs})
        name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        raise _unsupported(name + (f" with keyword arguments {sorted(kwargs)}" if kwargs else ""))

    def __array_function__(self, func, types, args, kwargs):
        fn = api.FUNCTIONS.get(func)
        if fn is None:
            raise _unsupported(api.public_name(func))
        return fn(*args, **kwargs)

    # -- attributes
    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def T(self):
        return api.transpose(self)

    @property
    def mT(self):
        return api.swapaxes(self, -1, -2)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    # -- operators
    def __add__(self, other): return api.add(self, other)
    def __radd__(self, other): return api.add(other, self)
    def __sub__(self, other): return api.subtract(self, other)
    def __rsub__(self, other): return api.subtract(other, self)
    def __mul__(self, other): return api.multiply(self, other)
    def __rmul__(self, other): return api.multiply(other, self)
    def __truediv__(self, other): return api.divide(self, other)
    def __rtruediv__(self, other): return api.divide(other, self)
    def __floordiv__(self, other): return api.floor_divide(self, other)
    def __rfloordiv__(self, other): return api.floor_divide(other, self)
    def __mod__(self, other): return api.remainder(self, other)
    def __rmod__(self, other): return api.remainder(other, self)
    def __divmod__(self, other): return api.divmod_(self, other)
    def __rdivmod__(self, other): return api.divmod_(other, self)
    def __pow__(self, other): return api.power(self, other)
    def __rpow__(self, other): return api.power(other, self)
    def __matmul__(self, other): return api.matmul(self, other)
    def __rmatmul__(self, other): return api.matmul(other, self)
    def __neg__(self): return api.negative(self)
    def __pos__(self): return self
    def __abs__(self): return api.absolute(self)
    def __round__(self, ndigits=None): return api.round_(self, ndigits or 0)
    def __lt__(self, other): return api.less(self, other)
    def __le__(self, other): return api.less_equal(self, other)
    def __gt__(self, other): return api.greater(self, other)
    def __ge__(self, other): return api.greater_equal(self, other)
    def __eq__(self, other): return api.equal(self, other)
    def __ne__(self, other): return api.not_equal(self, other)
    def __and__(self, other): return api.logical_and(self, other)
    def __rand__(self, other): return api.logical_and(other, self)
    def __or__(self, other): return api.logical_or(self, other)
    def __ror__(self, other): return api.logical_or(other, self)
    def __invert__(self): return api.logical_not(self)
    def __getitem__(self, key): return api.getitem(self, key)

    __hash__ = None

    # -- methods
    def sum(self, axis=None, dtype=None, out=None, keepdims=False, **kw): return api.sum(self, axis, dtype, out, keepdims, **kw)
    def mean(self, axis=None, dtype=None, out=None, keepdims=False, **kw): return api.mean(self, axis, dtype, out, keepdims, **kw)
    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False): return api.var(self, axis, dtype, out, ddof, keepdims)
    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False): return api.std(self, axis, dtype, out, ddof, keepdims)
    def max(self, axis=None, out=None, keepdims=False, **kw): return api.max(self, axis, out, keepdims, **kw)
    def min(self, axis=None, out=None, keepdims=False, **kw): return api.min(self, axis, out, keepdims, **kw)
    def prod(self, axis=None, dtype=None, out=None, keepdims=False, **kw): return api.prod(self, axis, dtype, out, keepdims, **kw)
    def cumsum(self, axis=None, dtype=None, out=None): return api.cumsum(self, axis, dtype, out)
    def cumprod(self, axis=None, dtype=None, out=None): return api.cumprod(self, axis, dtype, out)
    def round(self, decimals=0, out=None): return api.round_(self, decimals, out)
    def dot(self, other): return api.dot(self, other)
    def clip(self, min=None, max=None): return api.clip(self, min, max)
    def astype(self, dtype, copy=True): return api.astype(self, dtype)
    def ravel(self): return api.ravel(self)
    def flatten(self): return api.ravel(self)
    def squeeze(self, axis=None): return api.squeeze(self, axis)
    def swapaxes(self, a, b): return api.swapaxes(self, a, b)
    def copy(self): return self

    def reshape(self, *shape, order="C"):
        return api.reshape(self, shape[0] if len(shape) == 1 else shape, order)

    def transpose(self, *axes):
        return api.transpose(self, (axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes) or None)


_REDUCERS = {np.add: api.sum, np.multiply: api.prod, np.maximum: api.max, np.minimum: api.min}
_ACCUMULATORS = {np.add: api.cumsum, np.multiply: api.cumprod}
