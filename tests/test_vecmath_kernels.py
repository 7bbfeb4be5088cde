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


def test_logaddexp_special_values_and_gradient():
    def f(a, b):
        return np.logaddexp(a, b)
    inf, nan = np.inf, np.nan
    a = np.array([inf, -inf, inf, -inf, nan, 1.0, 0.5, -700.0, 3.0, 1e308, -2.0])
    b = np.array([inf, -inf, -inf, 2.0, 1.0, nan, 0.5, -710.0, -40.0, 1e308, 5.0])
    assert "vm.softplus(" in lower_program(compiler.make_ir(f)(a, b))
    for dtype in (np.float64, np.float32):
        with np.errstate(all="ignore"):
            a_, b_ = a.astype(dtype), b.astype(dtype)
            np.testing.assert_array_equal(compiler.jit(f)(a_, b_), np.logaddexp(a_, b_))
    x = np.linspace(-3.0, 3.0, 11)
    y = x[::-1].copy()
    g = compiler.grad(lambda a, b: np.sum(np.logaddexp(a, b) ** 2), argnums=(0, 1))
    with compiler.disable_jit():
        expected = g(x, y)
    for got, want in zip(g(x, y), expected):
        np.testing.assert_allclose(got, want, rtol=1e-14)
