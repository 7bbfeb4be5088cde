"""gradjit's eager mode: PyTorch-style tape autograd on the compiler's primitives and rules.

    import runtime as rt
    x = rt.ones(2, 2, requires_grad=True)
    out = ((x + 2) * (x + 2) * 3).mean()
    out.backward()          # x.grad == 1.5 * (x + 2)

Each operation on tensors runs with NumPy and records one graph node whose backward is the VJP
program of that operation, derived (once per signature) from the same JVP/transpose rules the
compiler uses, or PyTorch's own formula where PyTorch's convention differs (`torch_ops`).  Plain
NumPy functions run eagerly on tensors (`np.sum(np.tanh(w @ x))`).
`runtime.kernels` is the compiler's Numba back end and is not imported here.
"""
from compiler.errors import register_internal_dir as _register_internal_dir

_register_internal_dir(__file__)

from .tensor import Tensor  # noqa: E402  (first: dispatch needs the class)
from . import torch_ops  # noqa: E402,F401  (registers PyTorch's derivative formulas with dispatch)
from . import autograd, functional  # noqa: E402
from . import viz  # noqa: E402  (make_dot: pictures of the backward graph)
from .anomaly import detect_anomaly, set_detect_anomaly  # noqa: E402
from .creation import (arange, as_tensor, bool_, empty, eye, float16, float32, float64, from_numpy,  # noqa: E402
                       full, full_like, int32, int64, linspace, manual_seed, ones, ones_like, rand, randint,
                       randn, randn_like, tensor, zeros, zeros_like)
from .errors import AnomalyError, AutogradError  # noqa: E402
from .modes import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,  # noqa: E402
                    no_grad, set_grad_enabled)
from .ops import (abs, cat, clamp, cos, exp, log, matmul, maximum, mean, minimum, sigmoid, sin, sqrt,  # noqa: E402
                  stack, sum, tanh, where)

__all__ = [
    "Tensor", "tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "eye", "arange",
    "linspace", "randn", "rand", "randint", "zeros_like", "ones_like", "full_like", "randn_like",
    "manual_seed", "float64", "float32", "float16", "int64", "int32", "bool_",
    "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
    "is_inference_mode_enabled", "autograd", "functional", "viz", "detect_anomaly", "set_detect_anomaly",
    "AutogradError", "AnomalyError",
    "exp", "log", "sin", "cos", "tanh", "sqrt", "abs", "sigmoid", "matmul", "sum", "mean", "maximum",
    "minimum", "clamp", "where", "stack", "cat",
]
