"""The autograd graph and the backward engine: graph attributes, accumulation, retain_graph,
vector-Jacobian products, several roots, autograd.grad, create_graph, inputs=, retain_grad."""
import warnings

import numpy as np
import pytest

import runtime as rt


def leaf(*values):
    return rt.tensor(list(values) if len(values) > 1 else values[0], requires_grad=True)


# ---------------------------------------------------------------- graph attributes

def test_grad_fn_and_next_functions():
    x, w = leaf(1.0, 2.0), leaf(3.0, 4.0)
    c = rt.tensor([5.0, 6.0])
    y = x * 2
    assert x.is_leaf and not y.is_leaf and x.grad_fn is None
    (acc, i), (none, j) = y.grad_fn.next_functions
    assert type(acc).__name__ == "AccumulateGrad" and acc.variable is x and i == 0
    assert none is None and j == 0
    z = (y + w) * c
    assert z.grad_fn.name() == "MulBackward0"
    add, _ = z.grad_fn.next_functions[0]
    assert add.name() == "AddBackward0"
    assert add.next_functions[0][0] is y.grad_fn
    assert add.next_functions[1][0].variable is w
    assert z.grad_fn.next_functions[1] == (None, 0)                     # c does not require grad
    assert (x * 3).grad_fn.next_functions[0][0] is acc                   # one accumulator per leaf


@pytest.mark.parametrize("expr, name", [
    (lambda x: x + 1, "AddBackward0"), (lambda x: x - x, "SubBackward0"), (lambda x: 1 - x, "RsubBackward1"),
    (lambda x: x * x, "MulBackward0"), (lambda x: x / 2, "DivBackward0"), (lambda x: -x, "NegBackward0"),
    (lambda x: x ** 2, "PowBackward0"), (lambda x: x ** x, "PowBackward1"), (lambda x: 2 ** x, "PowBackward2"),
    (lambda x: x.exp(), "ExpBackward0"), (lambda x: np.log(x), "LogBackward0"), (np.tanh, "TanhBackward0"),
    (np.sin, "SinBackward0"), (np.cos, "CosBackward0"), (np.sqrt, "SqrtBackward0"), (np.abs, "AbsBackward0"),
    (lambda x: x.sum(), "SumBackward0"), (lambda x: x.sum(0), "SumBackward1"),
    (lambda x: x.mean(), "MeanBackward0"), (lambda x: x.mean(1), "MeanBackward1"),
    (lambda x: x @ x.T, "MmBackward0"), (lambda x: x @ x[0], "MvBackward0"), (lambda x: x[0] @ x[1], "DotBackward0"),
    (lambda x: x.reshape(4), "ViewBackward0"), (lambda x: x.T, "PermuteBackward0"), (lambda x: x.t(), "TBackward0"),
    (lambda x: x[0], "SelectBackward0"), (lambda x: x[:1], "SliceBackward0"), (lambda x: x[[0, 1]], "IndexBackward0"),
    (lambda x: np.where(x > 1, x, 0.0), "WhereBackward0"), (lambda x: np.maximum(x, 1.5), "MaximumBackward0"),
    (lambda x: x.clip(0, 1), "ClampBackward1"), (lambda x: x.unbind()[0], "UnbindBackward0"),
    (lambda x: rt.functional.mse_loss(x, rt.zeros(2, 2)), "MseLossBackward0"),
    (lambda x: rt.functional.binary_cross_entropy_with_logits(x, rt.ones(2, 2)), "BinaryCrossEntropyWithLogitsBackward0"),
    (lambda x: rt.functional.softmax(x, 1), "SoftmaxBackward0"),
    (lambda x: rt.functional.log_softmax(x, 1), "LogSoftmaxBackward0"),
    (lambda x: rt.functional.cross_entropy(x, rt.tensor([0, 1])), "NllLossBackward0"),
])
def test_node_names_follow_pytorch(expr, name):
    x = rt.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert expr(x).grad_fn.name() == name


def test_no_graph_without_requires_grad():
    x = rt.ones(3)
    y = np.exp(x) * 2
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf


# ---------------------------------------------------------------- .grad

def test_gradient_accumulates_over_backward_calls():
    x = leaf(1.0, 2.0)
    for k in range(1, 4):
        (x * x).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), k * 2 * np.array([1.0, 2.0]))
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    x.grad.zero_()
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_grad_of_a_non_leaf_is_none_with_a_warning():
    x = leaf(1.0, 2.0)
    y = x * 2
    y.sum().backward()
    with pytest.warns(UserWarning, match=r"retain_grad\(\)"):
        assert y.grad is None


def test_retain_grad():
    x = leaf(1.0, 2.0)
    y = x * 2
    y.retain_grad()
    assert y.retains_grad
    (y * y).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [4.0, 8.0])            # 2 y
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, 16.0])           # 2 y * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y.grad


def test_backward_on_a_leaf():
    x = leaf(3.0)
    x.backward()
    assert x.grad.item() == 1.0


# ---------------------------------------------------------------- backward arguments

def test_non_scalar_backward_needs_a_gradient():
    y = leaf(1.0, 2.0) * 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        y.backward()
    with pytest.raises(RuntimeError, match="[Ss]hape"):
        y.backward(rt.ones(3))


def test_vector_jacobian_product():
    x = leaf(1.0, 2.0, 3.0)
    y = x ** 2                                   # J = diag(2x)
    y.backward(rt.tensor([1.0, 0.1, 0.01]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.4, 0.06])


def test_backward_of_something_without_grad_explains():
    with pytest.raises(RuntimeError, match="does not require grad"):
        rt.ones(2).sum().backward()


def test_freed_graph_asks_for_retain_graph():
    x = leaf(1.0, 2.0)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf(1.0, 2.0)
    y = (np.exp(x) * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))


def test_saved_values_are_freed_after_backward():
    x = leaf(1.0, 2.0)
    y = np.tanh(x)
    z = y.sum()
    z.backward()
    assert y.grad_fn._args is None and y.grad_fn._leaves is None


def test_several_roots_with_weights():
    x = leaf(1.0, 2.0)
    a = (x * x).sum()                           # da/dx = 2x
    b = (x ** 3).sum()                          # db/dx = 3x^2
    rt.autograd.backward([a, b], [rt.tensor(2.0), rt.tensor(0.5)])
    np.testing.assert_allclose(x.grad.numpy(), 2 * 2 * np.array([1.0, 2.0]) + 0.5 * 3 * np.array([1.0, 4.0]))


def test_several_roots_sharing_a_graph():
    x = leaf(2.0)
    y = x * x
    z = y * 3                                   # y is both a root and an input of z
    rt.autograd.backward([y, z])
    assert x.grad.item() == 2 * 2 + 3 * 2 * 2


def test_inputs_restricts_accumulation():
    x, w = leaf(1.0, 2.0), leaf(3.0, 4.0)
    (x * w).sum().backward(inputs=[x])
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    assert w.grad is None
    h = x * 2
    (h * w).sum().backward(inputs=[h, w])       # a non-leaf input gets its .grad too
    np.testing.assert_array_equal(h.grad.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])       # unchanged


# ---------------------------------------------------------------- autograd.grad

def test_autograd_grad_touches_no_grad_attribute():
    x, w = leaf(1.0, 2.0), leaf(3.0, 4.0)
    gx, gw = rt.autograd.grad((x * w).sum(), [x, w])
    np.testing.assert_array_equal(gx.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None and not gx.requires_grad


def test_autograd_grad_with_respect_to_an_intermediate():
    x = leaf(1.0, 2.0)
    h = x * 3
    (gh,) = rt.autograd.grad((h * h).sum(), h)
    np.testing.assert_array_equal(gh.numpy(), [6.0, 12.0])


def test_autograd_grad_unused_inputs():
    x, u = leaf(1.0), leaf(2.0)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        rt.autograd.grad(x * 2, [x, u])
    gx, gu = rt.autograd.grad(x * 2, [x, u], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_autograd_grad_with_grad_outputs():
    x = leaf(1.0, 2.0)
    (g,) = rt.autograd.grad(x ** 2, x, grad_outputs=rt.tensor([1.0, -1.0]))
    np.testing.assert_array_equal(g.numpy(), [2.0, -4.0])


# ---------------------------------------------------------------- higher order (create_graph)

def test_higher_derivatives_of_a_cubic():
    x = leaf(2.0)
    y = x ** 3
    (g1,) = rt.autograd.grad(y, x, create_graph=True)        # 3 x^2
    (g2,) = rt.autograd.grad(g1, x, create_graph=True)       # 6 x
    (g3,) = rt.autograd.grad(g2, x, create_graph=True)       # 6: no longer depends on x
    assert (g1.item(), g2.item(), g3.item()) == (12.0, 12.0, 6.0)
    assert g1.requires_grad and g1.grad_fn is not None and not g3.requires_grad


def test_second_derivative_through_backward():
    x = leaf(0.5, 1.5)
    y = (np.sin(x) * x).sum()
    y.backward(create_graph=True)               # x.grad = cos(x) x + sin(x), differentiable
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    a = np.array([0.5, 1.5])
    np.testing.assert_allclose(x.grad.numpy(), -np.sin(a) * a + 2 * np.cos(a), rtol=1e-12)


def test_hessian_vector_product():
    # f(x, y) = x^2 y + y^3: H = [[2y, 2x], [2x, 6y]]
    x, y = leaf(1.0), leaf(2.0)
    f = x * x * y + y ** 3
    gx, gy = rt.autograd.grad(f, [x, y], create_graph=True)
    assert (gx.item(), gy.item()) == (4.0, 13.0)
    hx, hy = rt.autograd.grad(gx * 1.0 + gy * 0.5, [x, y])      # H v with v = (1, 0.5)
    assert (hx.item(), hy.item()) == (2 * 2.0 + 2 * 1.0 * 0.5, 2 * 1.0 + 6 * 2.0 * 0.5)


def test_gradient_penalty_double_backward():
    # d/dw |d/dx (w . x)^2|^2 with g = 2 (w.x) w: |g|^2 = 4 (w.x)^2 |w|^2
    w, x = rt.tensor([1.0, 2.0], requires_grad=True), rt.tensor([3.0, -1.0], requires_grad=True)
    (g,) = rt.autograd.grad((w @ x) ** 2, x, create_graph=True)
    ((g * g).sum()).backward()
    wx, ww = 1.0, 5.0                           # w.x and |w|^2
    expected = 8 * wx * np.array([3.0, -1.0]) * ww + 8 * wx ** 2 * np.array([1.0, 2.0])
    np.testing.assert_allclose(w.grad.numpy(), expected)


def test_create_graph_with_matmul_and_reductions_matches_hand_hessian():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    x = rt.tensor([1.0, -1.0], requires_grad=True)
    f = 0.5 * (x @ (A @ x))                     # gradient A x, Hessian A
    (g,) = rt.autograd.grad(f, x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), A @ np.array([1.0, -1.0]))
    rows = [rt.autograd.grad(g[i], x, retain_graph=True)[0].numpy() for i in range(2)]
    np.testing.assert_allclose(np.stack(rows), A)


def test_detach_cuts_the_graph():
    x = leaf(2.0)
    y = x * x
    z = y.detach() * x                          # dz/dx = y = 4
    z.backward()
    assert x.grad.item() == 4.0
    y.detach_()
    assert y.is_leaf and not y.requires_grad
