"""The eager mode and the compiler agree: the same plain-NumPy function differentiated by
`compiler.grad` (compiled, or its reference interpreter) and by eager backward."""
import numpy as np
import pytest

import compiler
import runtime as rt


def logistic_regression(w, X, y):
    z = y * (X @ w)
    return np.mean(np.log1p(np.exp(-np.abs(z))) + np.maximum(-z, 0.0)) + 1e-3 * np.sum(w * w)


def mlp_loss(params, x, y):
    h = np.tanh(x @ params["W1"] + params["b1"])
    out = h @ params["W2"] + params["b2"]
    return np.mean((out - y) ** 2)


def lennard_jones(pos):
    n = pos.shape[0]
    d = pos[:, None, :] - pos[None, :, :]
    r2 = np.sum(d * d, axis=-1) + np.eye(n)
    inv6 = 1.0 / (r2 * r2 * r2)
    return 0.5 * np.sum(4.0 * (inv6 * inv6 - inv6) * (1.0 - np.eye(n)))


def lotka_volterra(theta, state0):
    a, b, c, d = theta[0], theta[1], theta[2], theta[3]
    x, y = state0[0], state0[1]
    for _ in range(10):
        x, y = x + 0.01 * (a * x - b * x * y), y + 0.01 * (d * x * y - c * y)
    return (x - 2.0) ** 2 + (y - 3.0) ** 2


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_compiled_grad_agrees_with_eager():
    rng = np.random.default_rng(0)
    X, w = rng.standard_normal((30, 4)), rng.standard_normal(4)
    y = np.where(rng.standard_normal(30) > 0, 1.0, -1.0)
    expected = compiler.grad(logistic_regression)(w, X, y)              # one Numba kernel
    wt = rt.tensor(w, requires_grad=True)
    loss = logistic_regression(wt, X, y)
    assert abs(loss.item() - logistic_regression(w, X, y)) < 1e-12
    loss.backward()
    np.testing.assert_allclose(wt.grad.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("fun, make", [
    (mlp_loss, lambda r: ({"W1": r.standard_normal((3, 5)), "b1": r.standard_normal(5),
                           "W2": r.standard_normal((5, 1)), "b2": r.standard_normal(1)},
                          r.standard_normal((8, 3)), r.standard_normal((8, 1)))),
    (lennard_jones, lambda r: (1.2 * np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 1.0]])
                               + 0.05 * r.standard_normal((4, 3)),)),
    (lotka_volterra, lambda r: (np.array([1.1, 0.4, 0.4, 0.1]), np.array([10.0, 5.0]))),
    (rosenbrock, lambda r: (r.uniform(-1.5, 1.5, 7),)),
], ids=["mlp", "lennard_jones", "lotka_volterra", "rosenbrock"])
def test_reference_grad_agrees_with_eager(fun, make):
    args = make(np.random.default_rng(1))
    with compiler.disable_jit():                                         # the compiler's own interpreter
        expected = compiler.grad(fun)(*args)
    first = args[0]
    if isinstance(first, dict):
        leaves = {k: rt.tensor(v, requires_grad=True) for k, v in first.items()}
    else:
        leaves = rt.tensor(first, requires_grad=True)
    fun(leaves, *args[1:]).backward()
    if isinstance(first, dict):
        for k in first:
            np.testing.assert_allclose(leaves[k].grad.numpy(), expected[k], rtol=1e-10, atol=1e-12)
    else:
        np.testing.assert_allclose(leaves.grad.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_compiler_grad_of_tensors_records_eagerly():
    """compiler.grad applied to tensors runs its program on them: a gradient inside the tape."""
    w = rt.tensor([0.5, -1.0, 2.0], requires_grad=True)
    with compiler.disable_jit():
        g = compiler.grad(lambda v: np.sum(np.sin(v) * v))(w)          # cos(w) w + sin(w)
    assert g.requires_grad
    g.sum().backward()                                                   # d/dw: -sin(w) w + 2 cos(w)
    a = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(g.detach().numpy(), np.cos(a) * a + np.sin(a), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), -np.sin(a) * a + 2 * np.cos(a), rtol=1e-12)


def test_tracers_win_over_tensors():
    """Inside a traced function a tensor without grad is a constant of the program."""
    c = rt.tensor([1.0, 2.0])
    with compiler.disable_jit():
        g = compiler.grad(lambda v: np.sum(c * v * v))(np.array([3.0, 4.0]))
    np.testing.assert_allclose(g, [6.0, 16.0])
