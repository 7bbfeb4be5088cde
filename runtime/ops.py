"""Module-level operations in PyTorch's spelling (`rt.exp(x)`, `rt.cat([a, b])`...); NumPy's own
functions (`np.exp(x)`) work on tensors too."""
import builtins

import numpy as np

from .dispatch import apply_function, apply_ufunc


def exp(x): return apply_ufunc(np.exp, (x,))
def log(x): return apply_ufunc(np.log, (x,))
def sin(x): return apply_ufunc(np.sin, (x,))
def cos(x): return apply_ufunc(np.cos, (x,))
def tanh(x): return apply_ufunc(np.tanh, (x,))
def sqrt(x): return apply_ufunc(np.sqrt, (x,))
def abs(x): return apply_ufunc(np.absolute, (x,))
def matmul(a, b): return apply_ufunc(np.matmul, (a, b))
def maximum(a, b): return apply_ufunc(np.maximum, (a, b))
def minimum(a, b): return apply_ufunc(np.minimum, (a, b))


def sigmoid(x):
    from .functional import sigmoid as f
    return f(x)


def sum(x, dim=None, keepdim=False):
    return apply_function(np.sum, x, _dim(dim), keepdims=keepdim)


def mean(x, dim=None, keepdim=False):
    return apply_function(np.mean, x, _dim(dim), keepdims=keepdim)


def clamp(x, min=None, max=None):
    return apply_function(np.clip, x, min, max)


def where(condition, x, y):
    return apply_function(np.where, condition, x, y)


def stack(tensors, dim=0):
    return apply_function(np.stack, list(tensors), dim)


def cat(tensors, dim=0):
    return apply_function(np.concatenate, list(tensors), dim)


def _dim(dim):
    return tuple(dim) if isinstance(dim, (list, builtins.tuple)) else dim
