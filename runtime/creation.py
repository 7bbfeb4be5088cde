"""Tensor factories (`rt.tensor`, `rt.ones`, `rt.randn`...) and the random seed.

The default float dtype is float64, as in NumPy; float32 data stays float32.
"""
import numpy as np

from .tensor import Tensor, check_requires_grad, new_tensor

float64, float32, float16 = np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16)
int64, int32, bool_ = np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.bool_)

_rng = np.random.default_rng(67280421310721)


def manual_seed(seed):
    """Seed the generator behind randn/rand/randint (results are reproducible after this)."""
    global _rng
    _rng = np.random.default_rng(int(seed))
    return _rng


def _make(data, requires_grad):
    check_requires_grad(data.dtype, requires_grad)
    t = new_tensor(data)
    t._rg = bool(requires_grad)
    return t


def _size(size):
    if len(size) == 1 and not isinstance(size[0], (int, np.integer)):
        return tuple(int(s) for s in size[0])
    return tuple(int(s) for s in size)


def _float(dtype):
    return float64 if dtype is None else np.dtype(dtype)


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of `data` (a number, nested list, array or tensor)."""
    if isinstance(data, Tensor):
        data = data._data
    elif isinstance(data, (list, tuple)):
        data = [x.detach()._data if isinstance(x, Tensor) else x for x in data]
    return _make(np.array(data, dtype=None if dtype is None else np.dtype(dtype)), requires_grad)


def as_tensor(data, dtype=None):
    """Like tensor(), but shares memory with a NumPy array when no conversion is needed."""
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype == np.dtype(dtype) else data.astype(dtype)
    return _make(np.asarray(data, dtype=dtype), False)


def from_numpy(array):
    """A tensor sharing memory with `array`."""
    return _make(np.asarray(array), False)


def zeros(*size, dtype=None, requires_grad=False):
    return _make(np.zeros(_size(size), _float(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    return _make(np.ones(_size(size), _float(dtype)), requires_grad)


def empty(*size, dtype=None, requires_grad=False):
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    dtype = np.dtype(dtype) if dtype is not None else np.asarray(fill_value).dtype
    return _make(np.full(size, fill_value, dtype), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    return _make(np.eye(n, m, dtype=_float(dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Like NumPy: integer arguments give int64, floats give float64."""
    data = np.arange(start, end, step) if end is not None else np.arange(start)
    return _make(data if dtype is None else data.astype(dtype), requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    return _make(np.linspace(start, end, steps, dtype=_float(dtype)), requires_grad)


def randn(*size, dtype=None, requires_grad=False):
    """Standard normal samples (seed with rt.manual_seed)."""
    return _make(_rng.standard_normal(_size(size)).astype(_float(dtype)), requires_grad)


def rand(*size, dtype=None, requires_grad=False):
    """Uniform samples in [0, 1) (seed with rt.manual_seed)."""
    return _make(_rng.random(_size(size)).astype(_float(dtype)), requires_grad)


def randint(low, high, size, dtype=None):
    return _make(_rng.integers(low, high, size=size).astype(dtype or int64), False)


def _like(t, dtype):
    return np.dtype(dtype) if dtype is not None else t.dtype


def zeros_like(t, dtype=None, requires_grad=False):
    return _make(np.zeros(t.shape, _like(t, dtype)), requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return _make(np.ones(t.shape, _like(t, dtype)), requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return _make(np.full(t.shape, fill_value, _like(t, dtype)), requires_grad)


def randn_like(t, dtype=None, requires_grad=False):
    return _make(_rng.standard_normal(t.shape).astype(_like(t, dtype)), requires_grad)
