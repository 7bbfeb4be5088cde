"""Eager operations: forward values against NumPy, gradients against central finite differences
of the same function run by plain NumPy, and textbook derivatives worked out by hand."""
import numpy as np
import pytest

import runtime as rt
from runtime import functional as F

RNG = np.random.default_rng(0)


def arr(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, shape)


def pos(*shape):
    return arr(*shape, lo=0.5, hi=2.0)


def away(*shape):
    """Values at least 0.2 away from 0 and from each other (no kinks, no ties)."""
    n = int(np.prod(shape))
    vals = np.linspace(0.25, 0.25 + 0.2 * (n - 1), n) * RNG.choice([-1.0, 1.0], n)
    return RNG.permutation(vals).reshape(shape)


def numerical_vjp(f, arrays, v, h=1e-6):
    """d <v, f(x)> / dx_i for every input, by central differences on plain NumPy."""
    grads = []
    for i, a in enumerate(arrays):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus = [b.copy() for b in arrays]
            minus = [b.copy() for b in arrays]
            plus[i][idx] += h
            minus[i][idx] -= h
            g[idx] = (np.sum(v * f(*plus)) - np.sum(v * f(*minus))) / (2 * h)
        grads.append(g)
    return grads


def check(fn, arrays, np_fn=None, rtol=1e-5, atol=1e-7):
    np_fn = np_fn or fn
    xs = [rt.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*xs)
    expected = np.asarray(np_fn(*[a.copy() for a in arrays]))
    np.testing.assert_allclose(y.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    v = RNG.standard_normal(y.shape)
    y.backward(rt.tensor(v))
    for x, g in zip(xs, numerical_vjp(np_fn, arrays, v)):
        assert x.grad is not None and x.grad.shape == x.shape
        np.testing.assert_allclose(x.grad.numpy(), g, rtol=rtol, atol=atol)


def sig(x):
    return 1 / (1 + np.exp(-x))


def np_log_softmax(x, axis=-1):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


CASES = {
    # arithmetic, with broadcasting and Python scalars
    "add_broadcast": (lambda x, y: x + y, [arr(3, 4), arr(4)]),
    "rsub_scalar": (lambda x: 2.0 - x, [arr(3)]),
    "mul_outer_broadcast": (lambda x, y: x * y, [arr(3, 1), arr(1, 4)]),
    "div": (lambda x, y: x / y, [arr(2, 3), pos(2, 3)]),
    "rdiv_scalar": (lambda x: 3.0 / x, [pos(4)]),
    "neg": (lambda x: -x, [arr(3)]),
    "pow_int": (lambda x: x ** 3, [arr(4)]),
    "pow_neg_int": (lambda x: x ** -2, [pos(4)]),
    "pow_tensor": (lambda x, y: x ** y, [pos(3), arr(3)]),
    "rpow": (lambda x: 2.0 ** x, [arr(3)]),
    "pow_half": (lambda x: x ** 0.5, [pos(3)]),
    "square": (np.square, [arr(3)]),
    "reciprocal": (np.reciprocal, [pos(3)]),
    # unary ufuncs
    **{f"ufunc_{u.__name__}": (u, [d]) for u, d in [
        (np.exp, arr(2, 3)), (np.log, pos(5)), (np.log1p, pos(4)), (np.expm1, arr(4)), (np.sqrt, pos(4)),
        (np.sin, arr(4)), (np.cos, arr(4)), (np.tan, arr(4)), (np.tanh, arr(4)), (np.sinh, arr(4)),
        (np.cosh, arr(4)), (np.arctan, arr(4)), (np.arcsin, arr(4, lo=-0.8, hi=0.8)),
        (np.arccos, arr(4, lo=-0.8, hi=0.8)), (np.abs, away(5)), (np.exp2, arr(3)), (np.log2, pos(3)),
        (np.log10, pos(3))]},
    "maximum": (np.maximum, [away(6), away(6)]),
    "minimum": (np.minimum, [away(6), away(6)]),
    "logaddexp": (np.logaddexp, [arr(4), arr(4)]),
    "hypot": (np.hypot, [away(3), away(3)]),
    "where": (lambda x, y: np.where(x > 0, x, y), [away(5), arr(5)]),
    "clip": (lambda x: np.clip(x, -0.5, 0.5), [away(6)]),
    "clip_method": (lambda x: x.clip(-0.5, 0.5), [away(6)]),
    # products
    "matmul_mm": (lambda a, b: a @ b, [arr(3, 4), arr(4, 2)]),
    "matmul_mv": (lambda a, b: a @ b, [arr(3, 4), arr(4)]),
    "matmul_vm": (lambda a, b: a @ b, [arr(4), arr(4, 2)]),
    "matmul_dot": (lambda a, b: a @ b, [arr(4), arr(4)]),
    "matmul_batched": (lambda a, b: a @ b, [arr(2, 3, 4), arr(4, 5)]),
    "np_dot": (np.dot, [arr(2, 3), arr(3)]),
    "np_outer": (np.outer, [arr(3), arr(2)]),
    "np_inner": (np.inner, [arr(3), arr(3)]),
    # reductions
    "sum": (np.sum, [arr(3, 4)]),
    "sum_axis_keepdims": (lambda x: x.sum(1, keepdims=True), [arr(3, 4)]),
    "sum_dim_alias": (lambda x: x.sum(dim=0, keepdim=True), [arr(3, 4)],
                      lambda x: x.sum(0, keepdims=True)),
    "mean": (np.mean, [arr(3, 4)]),
    "mean_axes": (lambda x: np.mean(x, axis=(0, 2)), [arr(2, 3, 4)]),
    "var": (np.var, [arr(3, 4)]),
    "std_ddof": (lambda x: x.std(ddof=1), [arr(5)]),
    "max": (np.max, [away(3, 4)]),
    "max_axis": (lambda x: x.max(axis=0), [away(3, 4)]),
    "min": (lambda x: x.min(), [away(3, 4)]),
    "prod": (np.prod, [pos(4)]),
    "norm": (np.linalg.norm, [arr(5)]),
    # shapes
    "reshape": (lambda x: x.reshape(4, 3), [arr(3, 4)]),
    "reshape_minus1": (lambda x: np.reshape(x, (2, -1)), [arr(3, 4)]),
    "ravel": (np.ravel, [arr(3, 4)]),
    "T": (lambda x: x.T, [arr(3, 4)]),
    "transpose_axes": (lambda x: np.transpose(x, (1, 2, 0)), [arr(2, 3, 4)]),
    "swapaxes": (lambda x: np.swapaxes(x, 0, 2), [arr(2, 3, 4)]),
    "moveaxis": (lambda x: np.moveaxis(x, 0, -1), [arr(2, 3, 4)]),
    "squeeze": (np.squeeze, [arr(3, 1, 2)]),
    "expand_dims": (lambda x: np.expand_dims(x, 1), [arr(3, 2)]),
    "broadcast_to": (lambda x: np.broadcast_to(x, (3, 4)), [arr(4)]),
    "flip": (lambda x: np.flip(x, 0), [arr(3, 2)]),
    "roll": (lambda x: np.roll(x, 2), [arr(5)]),
    "concatenate": (lambda x, y: np.concatenate([x, y], axis=1), [arr(2, 3), arr(2, 2)]),
    "stack": (lambda x, y: np.stack([x, y]), [arr(3), arr(3)]),
    "vstack": (lambda x, y: np.vstack([x, y]), [arr(3), arr(3)]),
    "hstack": (lambda x, y: np.hstack([x, y]), [arr(3), arr(2)]),
    "diff": (np.diff, [arr(5)]),
    # indexing
    "index_int": (lambda x: x[1], [arr(3, 4)]),
    "index_negative": (lambda x: x[-1, 2], [arr(3, 4)]),
    "index_slices": (lambda x: x[1:, ::2], [arr(3, 4)]),
    "index_reverse": (lambda x: x[::-1], [arr(4)]),
    "index_newaxis_ellipsis": (lambda x: x[None, ..., 1], [arr(3, 4)]),
    "index_int_array": (lambda x: x[np.array([2, 0, 2])], [arr(3, 4)]),
    "index_list_axis1": (lambda x: x[:, [1, 3]], [arr(3, 4)]),
    "index_two_arrays": (lambda x: x[np.array([0, 2]), np.array([1, 3])], [arr(3, 4)]),
    "index_bool_mask": (lambda x: x[np.array([True, False, True])], [arr(3, 2)]),
    "rosenbrock_slices": (lambda x: np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2), [arr(6)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences(name):
    fn, arrays, *np_fn = CASES[name]
    check(fn, arrays, np_fn[0] if np_fn else None)


FUNCTIONAL = {
    "softmax": (lambda x: F.softmax(x, 1), lambda x: np.exp(np_log_softmax(x, 1)), [arr(3, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x, 0), lambda x: np_log_softmax(x, 0), [arr(3, 4)]),
    "logsumexp": (lambda x: F.logsumexp(x, 1), lambda x: np.log(np.exp(x).sum(1)), [arr(3, 4)]),
    "sigmoid": (F.sigmoid, sig, [arr(5)]),
    "relu": (F.relu, lambda x: np.maximum(x, 0), [away(6)]),
    "softplus": (F.softplus, lambda x: np.log1p(np.exp(x)), [arr(5)]),
    "mse_loss": (F.mse_loss, lambda x, y: np.mean((x - y) ** 2), [arr(3, 2), arr(3, 2)]),
    "mse_loss_sum": (lambda x, y: F.mse_loss(x, y, reduction="sum"), lambda x, y: np.sum((x - y) ** 2),
                     [arr(4), arr(4)]),
    "l1_loss": (F.l1_loss, lambda x, y: np.mean(np.abs(x - y)), [away(4), away(4) * 0.1]),
    "bce_with_logits": (F.binary_cross_entropy_with_logits,
                        lambda x, t: np.mean(-(t * np.log(sig(x)) + (1 - t) * np.log(1 - sig(x)))),
                        [arr(3, 2) * 3, arr(3, 2, lo=0, hi=1)]),
    "bce_with_logits_weights": (
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, weight=rt.tensor([1.0, 2.0]),
                                                        pos_weight=rt.tensor([3.0, 0.5]), reduction="sum"),
        lambda x, t: np.sum(np.array([1.0, 2.0]) * -(np.array([3.0, 0.5]) * t * np.log(sig(x))
                                                       + (1 - t) * np.log(1 - sig(x)))),
        [arr(3, 2), arr(3, 2, lo=0, hi=1)]),
    "bce": (F.binary_cross_entropy, lambda p, t: np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))),
            [arr(4, lo=0.1, hi=0.9), arr(4, lo=0, hi=1)]),
    "cross_entropy_probs": (F.cross_entropy, lambda x, q: np.mean(-(q * np_log_softmax(x)).sum(1)),
                            [arr(3, 4), np.exp(np_log_softmax(arr(3, 4)))]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONAL))
def test_functional_against_numpy_formula(name):
    fn, np_fn, arrays = FUNCTIONAL[name]
    check(fn, arrays, np_fn)


def test_cross_entropy_with_class_indices():
    x = arr(4, 3)
    target = rt.tensor([0, 2, 1, 2])
    onehot = np.eye(3)[[0, 2, 1, 2]]
    check(lambda t: F.cross_entropy(t, target), [x], lambda a: np.mean(-(onehot * np_log_softmax(a)).sum(1)))
    w = np.array([1.0, 2.0, 0.5])
    wi = w[[0, 2, 1, 2]]
    check(lambda t: F.cross_entropy(t, target, weight=rt.tensor(w)), [x],
          lambda a: np.sum(-wi * (onehot * np_log_softmax(a)).sum(1)) / wi.sum())
    check(lambda t: F.nll_loss(F.log_softmax(t, 1), target, reduction="none"), [x],
          lambda a: -(onehot * np_log_softmax(a)).sum(1))
    ignore = rt.tensor([0, -100, 1, 2])
    keep = np.array([1.0, 0.0, 1.0, 1.0])
    check(lambda t: F.cross_entropy(t, ignore), [x],
          lambda a: np.sum(-keep * (onehot * np_log_softmax(a)).sum(1)) / keep.sum())


def test_cross_entropy_closed_form_gradient():
    """d CE / d logits = (softmax(x) - onehot(target)) / N."""
    x = rt.tensor(arr(2, 3), requires_grad=True)
    F.cross_entropy(x, rt.tensor([2, 0])).backward()
    p = np.exp(np_log_softmax(x.detach().numpy()))
    np.testing.assert_allclose(x.grad.numpy(), (p - np.eye(3)[[2, 0]]) / 2, rtol=1e-12)


def test_unbind_and_iteration():
    x = rt.tensor(arr(3, 2), requires_grad=True)
    rows = x.unbind()
    assert len(rows) == 3 and rows[0].grad_fn is rows[2].grad_fn and rows[0].grad_fn.name() == "UnbindBackward0"
    (rows[0] * 2 + rows[2] * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 2], [0, 0], [3, 3]])
    assert [r.shape for r in x] == [(2,), (2,), (2,)]


# ---------------------------------------------------------------- textbook derivatives by hand

def test_readme_example():
    x = rt.ones(2, 2, requires_grad=True)
    y = x + 2
    z = y * y * 3
    out = z.mean()
    assert z.grad_fn.name() == "MulBackward0" and out.grad_fn.name() == "MeanBackward0"
    assert out.item() == 27.0
    out.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 4.5))      # 6 (x + 2) / 4
    v = np.array([[0.1, 1.0], [1.0, 1.0]])
    z.backward(rt.tensor(v))                                                 # v^T J = 6 (x + 2) v
    np.testing.assert_allclose(x.grad.numpy(), 4.5 + 18 * v)


def test_chain_and_product_rules():
    x = rt.tensor(0.7, requires_grad=True)
    (np.sin(x ** 2) * np.exp(x)).backward()
    a = 0.7
    expected = 2 * a * np.cos(a ** 2) * np.exp(a) + np.sin(a ** 2) * np.exp(a)
    assert abs(x.grad.item() - expected) < 1e-12


def test_quotient_rule_two_inputs():
    x, y = rt.tensor(3.0, requires_grad=True), rt.tensor(2.0, requires_grad=True)
    (x / y + x * y).backward()
    assert x.grad.item() == 1 / 2 + 2 and y.grad.item() == -3 / 4 + 3


def test_matmul_gradients_by_hand():
    W = rt.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    v = rt.tensor([1.0, -1.0], requires_grad=True)
    (W @ v).sum().backward()                       # d/dW = 1 v^T, d/dv = W^T 1
    np.testing.assert_array_equal(W.grad.numpy(), [[1, -1]] * 3)
    np.testing.assert_array_equal(v.grad.numpy(), [9.0, 12.0])


def test_logistic_regression_gradient_closed_form():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20).astype(float)
    w = rt.tensor(rng.standard_normal(3), requires_grad=True)
    F.binary_cross_entropy_with_logits(X @ w, y).backward()
    expected = X.T @ (sig(X @ w.detach().numpy()) - y) / 20
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)


def test_mse_gradient_closed_form():
    x = rt.tensor([1.0, 2.0, 4.0], requires_grad=True)
    F.mse_loss(x, rt.tensor([0.0, 2.0, 1.0])).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1.0, 0.0, 3.0]) / 3)


def test_plain_numpy_loss_runs_eagerly():
    def my_numpy_loss(w, data):
        X, y = data
        return np.mean((np.tanh(X @ w) - y) ** 2) + 0.01 * np.sum(w * w)

    rt.manual_seed(0)
    w = rt.randn(5, 3, requires_grad=True)
    data = (np.random.default_rng(2).standard_normal((4, 5)), np.zeros((4, 3)))
    loss = my_numpy_loss(w, data)
    assert isinstance(loss, rt.Tensor) and loss.grad_fn.name() == "AddBackward0"
    loss.backward()
    w0 = w.detach().numpy()
    [num] = numerical_vjp(lambda a: my_numpy_loss(a, data), [w0.copy()], np.array(1.0))
    np.testing.assert_allclose(w.grad.numpy(), num, rtol=1e-6, atol=1e-9)


def test_numpy_functions_without_a_rule():
    x = rt.tensor([3.0, 1.0, 2.0], requires_grad=True)
    assert np.argmax(x).item() == 0 and np.isfinite(x).tolist() == [True] * 3
    with pytest.raises(NotImplementedError, match=r"detach\(\)"):
        np.median(x)
    assert np.median(x.detach()) == 2.0
    for differentiable_but_unsupported in (np.sort, np.unique):   # never a silently missing path
        with pytest.raises(NotImplementedError, match="not differentiable"):
            differentiable_but_unsupported(x)
    assert np.sort(x.detach()).tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(NotImplementedError, match="out="):
        np.add(x, 1, out=x)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="broadcast"):
        rt.ones(3, requires_grad=True) + rt.ones(4)
    with pytest.raises(ValueError):
        rt.ones(2, 3, requires_grad=True) @ rt.ones(2)
