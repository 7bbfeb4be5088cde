"""Cross-checks against PyTorch eager: gradients, node names and graph structure (skipped without torch)."""
import numpy as np
import pytest

import runtime as rt

torch = pytest.importorskip("torch")
TF = torch.nn.functional
F = rt.functional

RNG = np.random.default_rng(5)
A, B, V = RNG.standard_normal((3, 4)), RNG.standard_normal((2, 3, 4)), RNG.standard_normal(4)
P = RNG.uniform(0.1, 0.9, (3, 4))


def run(fn, arrays, lib):
    if lib == "rt":
        xs = [rt.tensor(a, requires_grad=True) for a in arrays]
    else:
        xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*xs)
    return xs, y


# (rt function, torch function, inputs); with one function it serves both
CASES = {
    "add_scalar": (lambda x: x + 2, None, [A]),
    "rsub": (lambda x: 2 - x, None, [A]),
    "mul_broadcast": (lambda x, v: x * v, None, [A, V]),
    "div": (lambda x, p: x / p, None, [A, P]),
    "pow_scalar": (lambda x: x ** 3, None, [A]),
    "pow_tensor": (lambda p, x: p ** x, None, [P, A]),
    "rpow": (lambda x: 2.0 ** x, None, [A]),
    "exp": (np.exp, torch.exp, [A]),
    "log": (np.log, torch.log, [P]),
    "tanh": (np.tanh, torch.tanh, [A]),
    "sqrt": (np.sqrt, torch.sqrt, [P]),
    "abs": (np.abs, torch.abs, [A]),
    "mm": (lambda x: x @ x.T, None, [A]),
    "mv": (lambda x, v: x @ v, None, [A, V]),
    "dot": (lambda v: v @ v, None, [V]),
    "sum": (lambda x: x.sum(), None, [A]),
    "sum_dim": (lambda x: x.sum(0), None, [A]),
    "mean": (lambda x: x.mean(), None, [A]),
    "mean_dim": (lambda x: x.mean(1), None, [A]),
    "prod": (lambda p: p.prod(), None, [P]),
    "max": (lambda x: x.max(), None, [A]),
    "reshape": (lambda x: x.reshape(4, 3), None, [A]),
    "T": (lambda x: x.T, None, [A]),
    "t": (lambda x: x.t(), None, [A]),
    "permute": (lambda b: b.permute(2, 0, 1), None, [B]),
    "transpose": (lambda b: b.transpose(0, 2), None, [B]),
    "select": (lambda x: x[1], None, [A]),
    "slice": (lambda x: x[1:], None, [A]),
    "index": (lambda x: x[[0, 2]], None, [A]),
    "mask": (lambda x: x[x > 0], None, [A]),
    "unsqueeze": (lambda x: x[None], None, [A]),
    "unbind": (lambda x: x.unbind()[1], None, [A]),
    "where": (lambda x: np.where(x > 0, x, 0.0), lambda x: torch.where(x > 0, x, 0.0), [A]),
    "maximum": (np.maximum, torch.maximum, [A, P]),
    "clamp": (lambda x: x.clamp(-0.5, 0.5), None, [A]),
    "cat": (lambda x: np.concatenate([x, x]), lambda x: torch.cat([x, x]), [A]),
    "stack": (lambda x: np.stack([x, x]), lambda x: torch.stack([x, x]), [A]),
    "expand": (lambda v: v.expand(3, 4), None, [V]),
    "clone": (lambda x: x.clone(), None, [A]),
    "to_float32": (lambda x: x.float(), None, [A]),
    "mse_loss": (F.mse_loss, TF.mse_loss, [A, P]),
    "bce_with_logits": (lambda x, p: F.binary_cross_entropy_with_logits(x, p.detach()),
                        lambda x, p: TF.binary_cross_entropy_with_logits(x, p.detach()), [A, P]),
    "softmax": (lambda x: F.softmax(x, 1), lambda x: TF.softmax(x, 1), [A]),
    "log_softmax": (lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1), [A]),
    "cross_entropy": (lambda x: F.cross_entropy(x, rt.tensor([0, 3, 1])),
                      lambda x: TF.cross_entropy(x, torch.tensor([0, 3, 1])), [A]),
    "sigmoid": (F.sigmoid, torch.sigmoid, [A]),
    "relu": (F.relu, TF.relu, [A]),
    "logsumexp": (lambda x: F.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1), [A]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_and_names_match_torch(name):
    fn, tfn, arrays = CASES[name]
    xs, y = run(fn, arrays, "rt")
    ts, yt = run(tfn or fn, arrays, "torch")
    assert y.grad_fn.name() == type(yt.grad_fn).__name__
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-6)
    v = RNG.standard_normal(y.shape)
    y.backward(rt.tensor(v.astype(y.dtype)))
    yt.backward(torch.tensor(v, dtype=yt.dtype))
    for x, t in zip(xs, ts):
        if t.grad is None:
            assert x.grad is None or not np.any(x.grad.numpy())
        else:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-12)


GRAPHS = {  # functions of (library, x, c) whose graph structure must match PyTorch's
    "arith": lambda m, x, c: ((x * 2 + c) * x).sum(),
    "cross_entropy": lambda m, x, c: (F if m is rt else TF).cross_entropy(x[None], m.tensor([1])),
    "l1_loss": lambda m, x, c: (F if m is rt else TF).l1_loss(x, c),
    "relu_abs_clamp": lambda m, x, c: (m.abs(x) + (F if m is rt else TF).relu(x) * x.clamp(0.0, 1.0)).sum(),
}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_next_functions_match_torch(name):
    def graph(m):
        dtype = {} if m is rt else {"dtype": torch.float64}
        x = m.tensor([1.0, -2.0], requires_grad=True, **dtype)
        return GRAPHS[name](m, x, m.tensor([3.0, 4.0], **dtype))

    def describe(fn):                             # edges of inputs without a gradient are left out
        name = fn.name() if hasattr(fn, "_entry") else type(fn).__name__
        return (name, tuple(describe(n) for n, _ in fn.next_functions if n is not None))

    assert describe(graph(rt).grad_fn) == describe(graph(torch).grad_fn)


def test_second_order_matches_torch():
    a = RNG.standard_normal(4)

    def f(x, lib):
        m = np if lib == "rt" else torch
        return (m.sin(x) * x ** 2).sum() + (x @ x) ** 2

    x = rt.tensor(a, requires_grad=True)
    (g,) = rt.autograd.grad(f(x, "rt"), x, create_graph=True)
    (h,) = rt.autograd.grad((g * g).sum(), x)
    xt = torch.tensor(a, requires_grad=True)
    (gt,) = torch.autograd.grad(f(xt, "torch"), xt, create_graph=True)
    (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(g.detach().numpy(), gt.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-10)


def test_training_loop_matches_torch():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 3)), rng.integers(0, 2, 16).astype(float)
    w0 = rng.standard_normal(3)
    w, wt = rt.tensor(w0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(5):
        F.binary_cross_entropy_with_logits(X @ w, y).backward()
        TF.binary_cross_entropy_with_logits(Xt @ wt, yt).backward()
        with rt.no_grad():
            w -= 0.5 * w.grad
        with torch.no_grad():
            wt -= 0.5 * wt.grad
        w.grad.zero_()
        wt.grad.zero_()
    np.testing.assert_allclose(w.detach().numpy(), wt.detach().numpy(), rtol=1e-10)


def test_version_error_matches_torch_behaviour():
    def attempt(lib):
        m = rt if lib == "rt" else torch
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * 1
        z = y * y
        y.add_(1)
        try:
            z.sum().backward()
        except RuntimeError as e:
            return "modified by an inplace operation" in str(e)
        return False

    assert attempt("rt") and attempt("torch")
