"""Which math the generated kernels call for exp, expm1, log, log1p, tanh, sin, cos and float powers.

By default our own vectorisable functions (`compiler/lowering/vecmath.py`, imported as `vm` by every
kernel): LLVM inlines and vectorises them inside the fused loops.  `GRADJIT_LIBM=1` in the
environment, or `compiler.config.libm = True`, switches to NumPy's scalar libm calls for functions
compiled afterwards.  The choice is part of the generated source, hence of the kernel cache key.
"""


def template(libm_template, vec_template):
    """An elementwise lowering template choosing between the libm and the vectorisable spelling."""
    def lower(args, params, dtype):
        from ..diagnostics.config import config
        return (libm_template if config.libm else vec_template).format(*args)
    return lower


def logaddexp_template(args, params, dtype):
    """log(e^a + e^b) = max(a, b) + softplus(-|a - b|), as NumPy computes it; a == b (equal
    infinities included, where a - b is nan) gives a + log 2."""
    from ..diagnostics.config import config
    a, b = args
    if config.libm:
        return f"np.logaddexp({a}, {b})"
    ln2 = "0.6931471805599453" if dtype == "float64" else f"np.{dtype.name}(0.6931471805599453)"
    return f"(({a} + {ln2}) if {a} == {b} else (np.maximum({a}, {b}) + vm.softplus(-abs({a} - {b}))))"
