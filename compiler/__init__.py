"""gradjit's compiler: trace plain NumPy functions, differentiate them as IR programs, compile
them to fused native kernels with Numba.

    from compiler import grad
    df = grad(f)          # f is an ordinary NumPy function
"""
from .api import disable_jit, grad, jit, make_ir, stop_gradient, value_and_grad
from .errors import (DifferentiationError, GradjitError, MissingRuleError, ShapeError, TracingError,
                     UnsupportedFunctionError)

__all__ = ["grad", "value_and_grad", "jit", "make_ir", "stop_gradient", "disable_jit",
           "GradjitError", "TracingError", "UnsupportedFunctionError", "ShapeError",
           "DifferentiationError", "MissingRuleError"]
