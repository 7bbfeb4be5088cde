"""Matrix products: `matmul` of (..., m, k) by (..., k, n) with equal batch dims.

The front end turns vectors into matrices and broadcasts batch dims; vector-vector dot products
are a multiply and a sum there, so they fuse.  Lowering calls BLAS through `np.dot`.
"""
import numpy as np

from ..errors import ShapeError
from ..ir import ShapedArray, dtype_short
from .core import Primitive, defbilinear, deflowering, is_float
from .structural import transpose


def _matmul_rule(a, b):
    if a.ndim < 2 or a.ndim != b.ndim or a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                         f"(need (..., m, k) @ (..., k, n) with equal batch dims)")
    if a.dtype != b.dtype or not is_float(a.dtype):
        raise ShapeError(f"matmul: needs two floating-point operands of one dtype, got "
                         f"{dtype_short(a.dtype)} and {dtype_short(b.dtype)}")
    return ShapedArray(a.shape[:-1] + b.shape[-1:], a.dtype)


matmul_p = Primitive("matmul", np.matmul, _matmul_rule)
deflowering(matmul_p, "matmul")


def matmul(a, b):
    return matmul_p.bind(a, b)


def swap_last(x):
    nd = len(x.shape)
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


defbilinear(matmul_p,
            lambda ct, a, b: matmul(ct, swap_last(b)),
            lambda ct, a, b: matmul(swap_last(a), ct))
