"""gradjit's compiler: trace plain NumPy functions, differentiate them as IR programs, compile
them to fused native kernels with Numba.

    from compiler import grad
    df = grad(f)          # f is an ordinary NumPy function
"""
from .control_flow import cond, fori_loop, scan, switch, while_loop
from .api import disable_jit, grad, jit, jvp, make_ir, set_cache_size, stop_gradient, value_and_grad, vjp
from .diagnostics import (DisconnectedGradientWarning, RecompileWarning, UnrolledLoopWarning, config, debug_nans,
                          log_compiles, strict_gradients)
from .errors import (DifferentiationError, GradjitError, MissingRuleError, RandomInTraceError, ShapeError,
                     TracingError, UnsupportedDtypeError, UnsupportedFunctionError)
from .jacobians import hessian, jacfwd, jacrev

__all__ = ["grad", "value_and_grad", "jvp", "vjp", "jacfwd", "jacrev", "hessian", "jit", "make_ir", "stop_gradient",
           "disable_jit", "set_cache_size", "fori_loop", "scan", "while_loop", "cond", "switch",
           "config", "log_compiles", "debug_nans", "strict_gradients",
           "GradjitError", "TracingError", "UnsupportedFunctionError", "UnsupportedDtypeError", "ShapeError",
           "DifferentiationError", "MissingRuleError", "RandomInTraceError",
           "DisconnectedGradientWarning", "RecompileWarning", "UnrolledLoopWarning"]
