"""The public API: argnums, has_aux, pytrees, composition, caching, dtypes, decorator forms."""
import numpy as np
import pytest

import compiler
from compiler import grad, hessian, jacfwd, jacrev, jit, jvp, make_ir, stop_gradient, value_and_grad, vjp
from compiler.dispatch import stats
from conftest import central_difference


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_grad(x):
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


def loss(params, x, y):
    pred = np.tanh(x @ params["w"] + params["b"])
    return np.mean((pred - y) ** 2)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    params = {"w": rng.standard_normal((4, 2)), "b": rng.standard_normal(2)}
    return params, rng.standard_normal((8, 4)), rng.standard_normal((8, 2))


def fd_grad(f, x, h=1e-6):
    x = np.asarray(x, float)
    return np.array([central_difference(f, [x], [e.reshape(x.shape)], h) for e in np.eye(x.size)]).reshape(x.shape)


def test_grad_matches_analytic_rosenbrock():
    x = np.linspace(-1.5, 1.5, 11)
    np.testing.assert_allclose(grad(rosenbrock)(x), rosenbrock_grad(x), rtol=1e-12)


def test_decorator_forms():
    @grad
    def f(x):
        return np.sum(x ** 3)

    @grad(argnums=(0, 1))
    def g(x, y):
        return np.sum(x * y ** 2)

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(f(x), 3 * x ** 2)
    gx, gy = g(x, x + 1)
    np.testing.assert_allclose(gx, (x + 1) ** 2)
    np.testing.assert_allclose(gy, 2 * x * (x + 1))
    assert grad(argnums=1)(lambda a, b: a * b)(2.0, 5.0) == 2.0


def test_argnums_tuple_and_negative():
    f = lambda a, b, c: a * np.sin(b) + c ** 2
    ga, gc = grad(f, argnums=(0, -1))(1.5, 0.3, 2.0)
    assert ga == pytest.approx(np.sin(0.3)) and gc == pytest.approx(4.0)


def test_pytree_params_dict_and_value_and_grad(data):
    params, x, y = data
    value, g = value_and_grad(loss)(params, x, y)
    assert value == pytest.approx(loss(params, x, y), rel=1e-13)
    assert set(g) == {"w", "b"}
    for k in params:
        def f(v, k=k):
            return loss({**params, k: v}, x, y)
        np.testing.assert_allclose(g[k], fd_grad(f, params[k]), rtol=1e-6, atol=1e-8)


def test_pytree_nested_lists_and_tuples():
    f = lambda p: p[0][0] * np.sum(p[1]["v"] ** 2) + p[0][1]
    p = ((2.0, 1.0), {"v": np.array([1.0, -2.0])})
    g = grad(f)(p)
    assert isinstance(g, tuple) and isinstance(g[0], tuple) and isinstance(g[1], dict)
    assert g[0][0] == pytest.approx(5.0) and g[0][1] == pytest.approx(1.0)
    np.testing.assert_allclose(g[1]["v"], [4.0, -8.0])


def test_has_aux(data):
    params, x, y = data
    f = lambda p, x, y: (loss(p, x, y), {"pred_mean": np.mean(x @ p["w"])})
    (value, aux), g = value_and_grad(f, has_aux=True)(params, x, y)
    assert value == pytest.approx(loss(params, x, y))
    assert aux["pred_mean"] == pytest.approx(np.mean(x @ params["w"]))
    g2, aux2 = grad(f, has_aux=True)(params, x, y)
    np.testing.assert_allclose(g2["w"], g["w"])
    assert aux2["pred_mean"] == pytest.approx(aux["pred_mean"])


def test_static_python_ints_drive_control_flow():
    def power_sum(x, n):
        out = x
        for _ in range(n - 1):
            out = out * x
        return np.sum(out)
    x = np.array([1.5, -0.5])
    np.testing.assert_allclose(grad(power_sum)(x, 3), 3 * x ** 2)
    np.testing.assert_allclose(grad(power_sum)(x, 4), 4 * x ** 3)


def test_closed_over_arrays_are_constants():
    w = np.array([1.0, 2.0, 3.0])
    f = jit(lambda x: np.sum(w * x))
    assert f(np.ones(3)) == 6.0
    np.testing.assert_allclose(grad(lambda x: np.sum(w * x ** 2))(np.ones(3)), 2 * w)


def test_composition_grad_of_grad_and_jit():
    f = lambda x: np.sin(x) * x ** 2
    d2 = grad(grad(f))
    x = 0.8
    exact = -np.sin(x) * x ** 2 + 4 * x * np.cos(x) + 2 * np.sin(x)
    assert d2(x) == pytest.approx(exact, rel=1e-12)
    assert jit(grad(grad(f)))(x) == pytest.approx(exact, rel=1e-12)
    assert grad(jit(f))(x) == pytest.approx(np.cos(x) * x ** 2 + 2 * x * np.sin(x), rel=1e-12)
    assert grad(grad(grad(f)))(x) == pytest.approx(
        -np.cos(x) * x ** 2 - 6 * x * np.sin(x) + 6 * np.cos(x), rel=1e-11)


def test_jacobians_and_hessian_match_finite_differences():
    f = lambda x: np.tanh(x[:-1] * x[1:]) * np.sum(x)
    x = np.array([0.3, -0.7, 1.1, 0.5])
    fd = np.stack([central_difference(f, [x], [e]) for e in np.eye(4)], axis=-1)
    np.testing.assert_allclose(jacfwd(f)(x), fd, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(jacrev(f)(x), fd, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(jacfwd(jacrev(rosenbrock))(x), hessian(rosenbrock)(x))
    h = hessian(rosenbrock)(x)
    fd_h = np.stack([central_difference(rosenbrock_grad, [x], [e], 1e-5) for e in np.eye(4)], axis=-1)
    np.testing.assert_allclose(h, fd_h, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(jacrev(jacfwd(rosenbrock))(x), h, rtol=1e-12, atol=1e-9)


def test_jacobian_pytree_structure():
    f = lambda p: {"a": p["x"] * p["y"], "b": np.sum(p["x"])}
    p = {"x": np.array([1.0, 2.0]), "y": 3.0}
    j = jacrev(f)(p)
    np.testing.assert_allclose(j["a"]["x"], np.diag([3.0, 3.0]))
    np.testing.assert_allclose(j["a"]["y"], [1.0, 2.0])
    np.testing.assert_allclose(j["b"]["x"], [1.0, 1.0])
    jf = jacfwd(f)(p)
    np.testing.assert_allclose(jf["a"]["x"], j["a"]["x"])
    np.testing.assert_allclose(jf["a"]["y"], j["a"]["y"])


def test_jvp_and_vjp():
    f = lambda x, y: (x * y, np.sin(x))
    x, y = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    (o1, o2), (t1, t2) = jvp(f, (x, y), (np.ones(2), np.zeros(2)))
    np.testing.assert_allclose(t1, y)
    np.testing.assert_allclose(t2, np.cos(x))
    out, vjp_fn = vjp(f, x, y)
    gx, gy = vjp_fn((np.ones(2), np.ones(2)))
    np.testing.assert_allclose(gx, y + np.cos(x))
    np.testing.assert_allclose(gy, x)
    out, vjp_fn, aux = vjp(lambda x: (np.sum(x ** 2), np.max(x)), x, has_aux=True)
    assert out == pytest.approx(5.0) and aux == pytest.approx(2.0)
    np.testing.assert_allclose(vjp_fn(2.0)[0], 4 * x)


def test_stop_gradient():
    f = lambda x: np.sum(x * stop_gradient(x))
    x = np.array([1.0, -2.0])
    np.testing.assert_allclose(grad(f)(x), x)


def test_float32_stays_float32_and_float64_default():
    f = lambda x: np.sum(np.exp(x) * 0.5 + x ** 2 / 3.0)
    x32 = np.linspace(0, 1, 5, dtype=np.float32)
    g32 = grad(f)(x32)
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, np.exp(x32) * 0.5 + 2 * x32 / 3, rtol=1e-5)
    v, g = value_and_grad(f)(x32)
    assert v.dtype == np.float32
    assert grad(f)(x32.astype(np.float64)).dtype == np.float64
    assert isinstance(grad(lambda a: a * a)(3.0), np.float64)


def test_caching_traces_once_per_signature():
    calls = []

    def f(x):
        calls.append(1)
        return np.sum(x * x)
    g = grad(f)
    before = stats["traces"]
    g(np.ones(3)), g(np.zeros(3)), g(np.arange(3.0))
    assert len(calls) == 1 and stats["traces"] == before + 1
    g(np.ones(4))
    assert len(calls) == 2
    g(np.ones(4, np.float32))
    assert len(calls) == 3
    g(np.ones(3)[::-1])            # a non-contiguous view reuses the kernel
    assert len(calls) == 3


def test_make_ir_and_lower_are_readable():
    ir = make_ir(rosenbrock)(np.ones(5))
    text = str(ir)
    assert text.startswith("{ lambda") and "reduce_sum" in text and "f64[5]" in text
    lowered = grad(rosenbrock).lower(np.ones(5))
    assert "def kernel(a0):" in lowered.source and "in range(" in lowered.source


def test_disable_jit_uses_reference_interpreter():
    f = grad(lambda x: np.sum(np.sin(x)))
    x = np.linspace(0, 1, 4)
    with compiler.disable_jit():
        np.testing.assert_allclose(f(x), np.cos(x), rtol=1e-14)


def test_scalar_inputs_numpy_and_zero_dim():
    f = grad(lambda x: x ** 3)
    assert f(np.float64(2.0)) == pytest.approx(12.0)
    assert f(np.array(2.0)) == pytest.approx(12.0)


def test_methods_and_attributes_trace():
    def f(x):
        assert x.shape == (2, 3) and x.ndim == 2 and x.dtype == np.float64 and len(x) == 2
        return x.T.reshape(-1).sum() + x.mean(axis=0).max() + x.squeeze().var()
    x = np.arange(6.0).reshape(2, 3)
    g = grad(f)(x)
    fd = fd_grad(f, x)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_keyword_arguments_are_passed_and_not_differentiated():
    def f(x, scale=1.0, power=2):
        return np.sum(scale * x ** power)
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(grad(f)(x, scale=3.0), 6.0 * x)
    np.testing.assert_allclose(grad(f)(x, power=3), 3.0 * x ** 2)
    np.testing.assert_allclose(jacrev(lambda x, k=1.0: k * x)(x, k=2.0), 2.0 * np.eye(2))
    assert value_and_grad(f)(x, scale=np.float64(0.5))[0] == pytest.approx(2.5)


def test_functional_jvp_reuses_compiled_kernels():
    f = lambda x: np.sin(x) * 2.0
    jvp(f, (np.ones(3),), (np.ones(3),))
    before = stats["traces"]
    for _ in range(3):
        jvp(f, (np.ones(3),), (np.ones(3),))
    assert stats["traces"] == before
