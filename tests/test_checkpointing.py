"""Reverse mode through loops under a memory budget: while_loop and traced-bound fori_loop
gradients, checkpointed scans equal to storing everything, Revolve's optimal step count, and
what is stored staying within the budget."""
from functools import lru_cache

import numpy as np
import pytest

from compiler import disable_jit, fori_loop, grad, scan, value_and_grad, vjp, while_loop
from compiler import revolve as rv
from compiler.checkpointing import parse_budget
from compiler.errors import DifferentiationError
from compiler.primitives import checkpoint

P = np.array([1.1, 0.4, 0.4, 0.1])


def lotka_volterra(p, xs, budget=None, reverse=False):
    def step(c, x):
        a, b = c["prey"], c["pred"]
        a2 = a + 0.01 * (p[0] * a - p[1] * a * b) + 0.001 * x
        b2 = b + 0.01 * (p[2] * a * b - p[3] * b)
        return {"prey": a2, "pred": b2}, (a2 * b2, np.sin(a2))
    final, (ys, zs) = scan(step, {"prey": 1.0, "pred": 0.5}, xs, reverse=reverse, memory_budget=budget)
    return final["prey"] + final["pred"] + np.sum(ys ** 2) + np.sum(zs)


def unrolled(p, xs, reverse=False):
    a, b, total = 1.0, 0.5, 0.0
    for x in (xs[::-1] if reverse else xs):
        a, b = a + 0.01 * (p[0] * a - p[1] * a * b) + 0.001 * x, b + 0.01 * (p[2] * a * b - p[3] * b)
        total = total + (a * b) ** 2 + np.sin(a)
    return a + b + total


def close(got, want, rtol=1e-12):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-13)


STATE = 16        # two float64 carries


@pytest.mark.parametrize("reverse", [False, True])
def test_checkpointed_scan_equals_store_all_and_unrolled(reverse):
    xs = np.linspace(0.0, 1.0, 40)
    want = grad(unrolled, argnums=(0, 1))(P, xs, reverse)
    stored = grad(lambda p, x: lotka_volterra(p, x, None, reverse), argnums=(0, 1))(P, xs)
    close(stored, want)
    for snapshots in (1, 3, 40):        # Revolve with 1 and 3 snapshots, a snapshot per step
        ckpt = grad(lambda p, x: lotka_volterra(p, x, STATE * snapshots, reverse), argnums=(0, 1))
        close(ckpt(P, xs), stored, rtol=1e-13)


def test_grad_memory_budget_applies_to_every_loop():
    xs = np.linspace(0.0, 1.0, 30)
    f = lambda p, x: lotka_volterra(p, x)
    small = value_and_grad(f, argnums=(0, 1), memory_budget=3 * STATE)
    program = small.lower(P, xs).ir
    loops = [e for e in program.eqns if e.prim is checkpoint.checkpointed_p]
    assert len(loops) == 1 and loops[0].params["slots"] == 3
    value, g = small(P, xs)
    want_value, want = value_and_grad(unrolled, argnums=(0, 1))(P, xs)
    assert value == pytest.approx(want_value, rel=1e-13)
    close(g, want)


def test_store_all_when_residuals_fit():
    xs = np.linspace(0.0, 1.0, 30)
    program = grad(lotka_volterra).lower(P, xs).ir
    assert not any(e.prim is checkpoint.checkpointed_p for e in program.eqns)


@lru_cache(None)
def optimal_advances(n, free):
    """Brute force: fewest forward steps to reverse n steps from the start state with `free` more snapshots."""
    if n <= 1:
        return 0
    if free == 0:
        return n * (n - 1) // 2
    return min(m + optimal_advances(n - m, free - 1) + optimal_advances(m, free) for m in range(1, n))


def test_revolve_formula_is_the_optimum():
    for c in range(1, 6):
        for n in range(1, 60):
            assert rv.advances(n, c) == optimal_advances(n, c - 1), (n, c)
    assert rv.advances(10 ** 4, 100) == 24747            # 3.47x the forward steps in all, with the n recordings


@pytest.mark.parametrize("n, snapshots", [(1, 1), (2, 1), (17, 2), (40, 3), (40, 39)])
def test_forward_steps_equal_revolve(n, snapshots):
    xs = np.linspace(0.0, 1.0, n)
    f = grad(lambda p, x: lotka_volterra(p, x, STATE * snapshots))
    with disable_jit():
        checkpoint.stats.update(forward_steps=0, adjoint_steps=0)
        g = f(P, xs)
        steps = dict(checkpoint.stats)
    close([g], [grad(unrolled)(P, xs)])
    if n * STATE <= STATE * snapshots:      # a state per step fits: plain loops, nothing counted here
        return
    # Revolve's advances, the primal pass's last step, and one recording run per step
    assert steps == {"forward_steps": rv.advances(n, snapshots) + 1, "adjoint_steps": n}


def test_tape_stays_within_budget():
    xs = np.linspace(0.0, 1.0, 1000)
    for budget in (2 * STATE, 100 * STATE, 999 * STATE):
        program = grad(lambda p, x: lotka_volterra(p, x, budget)).lower(P, xs).ir
        (loop,) = [e for e in program.eqns if e.prim is checkpoint.checkpointed_p]
        snaps = loop.outputs[-(2 * 2 + 1):-(2 + 1)]
        assert sum(v.aval.size * v.aval.dtype.itemsize for v in snaps) <= budget


def newton_sqrt(a, x0):
    def cond(s):
        return np.abs(s[0] * s[0] - a) > 1e-12 * a
    def body(s):
        return (0.5 * (s[0] + a / s[0]), s[1] + s[0])
    x, total = while_loop(cond, body, (x0, 0.0))
    return x + 0.1 * total


@pytest.mark.parametrize("budget", [None, 2 * STATE, 3 * STATE])      # 2 and 3 snapshots: online thinning
def test_while_loop_gradient(budget):
    f = lambda a, x0: newton_sqrt(a, x0) if budget is None else _newton_budget(a, x0, budget)
    a, x0 = 7.0, 30.0
    g = grad(f, argnums=(0, 1))(a, x0)
    with disable_jit():
        ref = grad(f, argnums=(0, 1))(a, x0)
    close(g, ref, rtol=1e-12)
    eps = 1e-6
    fd = [(f(a + eps, x0) - f(a - eps, x0)) / (2 * eps), (f(a, x0 + eps) - f(a, x0 - eps)) / (2 * eps)]
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def _newton_budget(a, x0, budget):
    def cond(s):
        return np.abs(s[0] * s[0] - a) > 1e-12 * a
    def body(s):
        return (0.5 * (s[0] + a / s[0]), s[1] + s[0])
    x, total = while_loop(cond, body, (x0, 0.0), memory_budget=budget)
    return x + 0.1 * total


def test_while_loop_gradient_matches_unrolled_python():
    def f(x, n):
        return fori_loop(0, n, lambda i, s: 0.8 * np.sin(s) + x / (i + 1.0), x, memory_budget=3 * 8)

    def python(x, n):
        s = x
        for i in range(n):
            s = 0.8 * np.sin(s) + x / (i + 1.0)
        return s
    for n in (0, 1, 7, 50):
        np.testing.assert_allclose(grad(f)(0.7, np.int64(n)), grad(python)(0.7, n), rtol=1e-12)


def test_vjp_through_while_loop_with_array_carry():
    def f(v):
        def body(s):
            return (s[0] + 1, np.tanh(s[1] * 1.5) + 0.1 * v)
        return while_loop(lambda s: s[0] < 9, body, (0, v), memory_budget=4 * 8 * 3)[1]
    v = np.linspace(-1.0, 1.0, 3)
    out, back = vjp(f, v)
    ct = np.array([1.0, -2.0, 0.5])
    (g,) = back(ct)
    eps = 1e-6
    fd = np.array([(ct @ f(v + eps * e) - ct @ f(v - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(g, fd, rtol=1e-7)


def test_budget_strings():
    assert parse_budget("256MB") == 256 * 10 ** 6
    assert parse_budget("1.5 GiB") == 3 * 2 ** 29
    assert parse_budget(4096) == 4096
    for bad in ("lots", "-1MB", 0, True):
        with pytest.raises(ValueError, match="memory_budget"):
            parse_budget(bad)
    with pytest.raises(ValueError, match="256MB"):
        grad(lambda x: x, memory_budget="a bit")


def test_second_order_through_checkpointed_loops():
    from compiler import hessian, jacfwd, jacrev

    def traced(x, n):
        return fori_loop(0, n, lambda i, s: 0.8 * np.sin(s) + x * s / (i + 1.0), x)
    x = 0.7
    static = hessian(traced)(x, 6)                   # Python-int bound: a scan storing its residuals
    np.testing.assert_allclose(hessian(traced)(x, np.int64(6)), static, rtol=1e-12)
    np.testing.assert_allclose(jacfwd(grad(traced))(x, np.int64(6)), static, rtol=1e-12)
    eps = 1e-5
    fd = (grad(traced)(x + eps, 6) - grad(traced)(x - eps, 6)) / (2 * eps)
    np.testing.assert_allclose(static, fd, rtol=1e-7)
    xs = np.linspace(0.0, 1.0, 12)
    stored = hessian(lambda p: lotka_volterra(p, xs))(P)
    ckpt = hessian(lambda p: lotka_volterra(p, xs, 3 * STATE))(P)
    np.testing.assert_allclose(ckpt, stored, rtol=1e-12, atol=1e-14)
    budgeted = hessian(lambda p: lotka_volterra(p, xs), memory_budget=3 * STATE)
    np.testing.assert_allclose(budgeted(P), stored, rtol=1e-12, atol=1e-14)
    with disable_jit():                       # the budget reaches jacrev's reverse pass: it recomputes
        checkpoint.stats.update(forward_steps=0)
        jacrev(lambda p: lotka_volterra(p, xs), memory_budget=3 * STATE)(P)
        assert checkpoint.stats["forward_steps"] > 0
    with pytest.raises(DifferentiationError, match=r"hessian\(f\) or jacfwd\(grad\(f\)\)"):
        grad(grad(traced))(x, np.int64(6))


def test_nested_loops_with_while_loops_and_cond():
    from compiler import cond, hessian

    def while_in_scan(p):
        def outer(c, x):
            def body(s):
                return (s[0] + 1, 0.9 * s[1] + 0.1 * np.sin(s[1] * p[0] + x))
            _, v = while_loop(lambda s: s[0] < 3 + (x > 0.5), body, (0, c))
            v = cond(v > 0.2, lambda u: u * p[1], lambda u: u + p[1], v)
            return v, v * x
        c, ys = scan(outer, 0.3, np.linspace(0.0, 1.0, 20))
        return c + ys.sum()

    def scan_in_while(p):
        def body(s):
            i, v = s
            _, ys = scan(lambda c, x: (c * np.cos(p[0] * x) + 0.01, c), v, np.linspace(0.0, 1.0, 5))
            return i + 1, v + 0.1 * ys.sum() * p[1]
        return while_loop(lambda s: s[0] < 4, body, (0, 0.5))[1]
    p = np.array([0.7, 1.3])
    for f in (while_in_scan, scan_in_while):
        g = grad(f)(p)
        fd = [(f(p + 1e-6 * e) - f(p - 1e-6 * e)) / 2e-6 for e in np.eye(2)]
        np.testing.assert_allclose(g, fd, rtol=1e-7)
        h = hessian(f)(p)
        fd2 = [(grad(f)(p + 1e-5 * e) - grad(f)(p - 1e-5 * e)) / 2e-5 for e in np.eye(2)]
        np.testing.assert_allclose(h, fd2, rtol=1e-7)
