"""Generated kernels call the vectorisable math (vecmath) by default and libm with config.libm."""
import numpy as np

import compiler
from compiler.interpreter import eval_program
from compiler.lowering.codegen import lower_program


def chain(x):
    return np.sum(np.tanh(np.sin(x) * np.exp(-x * x)) + np.log1p(x * x) + np.cos(x) ** 1.5
                  + np.log(x + 3.0) + np.expm1(-x))


def _source(flag):
    old = compiler.config.libm
    compiler.config.libm = flag
    try:
        prog = compiler.make_ir(compiler.value_and_grad(chain))(np.ones(5))
        return prog, lower_program(prog)
    finally:
        compiler.config.libm = old


def test_kernels_use_vecmath_unless_libm_is_set():
    _, vec_source = _source(False)
    _, libm_source = _source(True)
    for name in ("exp", "log1p", "tanh", "sin", "cos", "power", "log", "expm1"):
        assert f"vm.{name}(" in vec_source
        assert f"vm.{name}(" not in libm_source
    assert "np.exp(" in libm_source and "np.exp(" not in vec_source


def test_vecmath_gradient_matches_libm_and_interpreter():
    x = np.linspace(-0.9, 1.2, 1001)
    got = compiler.grad(chain)(x)
    with compiler.disable_jit():
        expected = compiler.grad(chain)(x)
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    x32 = x.astype(np.float32)
    np.testing.assert_allclose(compiler.grad(chain)(x32), expected.astype(np.float32), rtol=2e-5, atol=1e-6)
