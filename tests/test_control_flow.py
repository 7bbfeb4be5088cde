"""Loops and conditionals (fori_loop, scan, while_loop, cond, switch): values and derivatives
against the same loop unrolled in Python, finite differences and JAX; second order and nesting;
concrete (untraced) execution; the reference interpreter against compiled kernels; errors; and
that the kernel source does not grow with the trip count.

Most checks run under disable_jit (the reference interpreter runs the sub-programs); a few
compiled kernels are compared against it."""
import re
import warnings

import numpy as np
import pytest

from compiler import (DifferentiationError, ShapeError, TracingError, cond, disable_jit, fori_loop, grad,
                      hessian, jacfwd, jacrev, jit, jvp, make_ir, scan, switch, value_and_grad, while_loop)
from compiler.ir import typecheck
from compiler.transforms import jvp_program, simplify, vjp_program
from conftest import central_difference

HERE = __file__
RNG = np.random.default_rng(7)
X = RNG.uniform(-1.0, 1.0, 3)
W = RNG.uniform(-0.6, 0.6, (3, 3))
XS = RNG.uniform(-1.0, 1.0, (5, 3))


def close(a, b, rtol=1e-12, atol=1e-13):
    for u, v in zip(np.atleast_1d(a) if not isinstance(a, (tuple, list)) else a,
                    np.atleast_1d(b) if not isinstance(b, (tuple, list)) else b):
        np.testing.assert_allclose(u, v, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- workloads: loop and unrolled twin

def rnn_scan(x, w, xs):
    """A pytree carry (tuple of array and scalar), scanned xs, stacked ys."""
    def step(carry, xt):
        h, s = carry
        h = np.tanh(w @ h + xt)
        return (h, s + np.sum(h ** 2)), {"twice": h * 2.0}
    (h, s), ys = scan(step, (x, 0.0), xs)
    return s + np.sum(ys["twice"] ** 3) + np.sum(h * x)


def rnn_unrolled(x, w, xs):
    h, s, ys = x, 0.0, []
    for t in range(xs.shape[0]):
        h = np.tanh(w @ h + xs[t])
        s = s + np.sum(h ** 2)
        ys.append(h * 2.0)
    return s + np.sum(np.stack(ys) ** 3) + np.sum(h * x)


def reverse_scan(x, xs):
    """reverse=True, ys in xs's order, a loop-invariant residual (cos x) and one read from xs."""
    c, ys = scan(lambda c, xt: (c * np.cos(x) + np.sin(xt * c), c * xt), x, xs, reverse=True)
    return np.sum(c ** 2) + np.sum(ys * np.arange(5.0)[:, None])


def reverse_unrolled(x, xs):
    c, ys = x, [None] * xs.shape[0]
    for t in reversed(range(xs.shape[0])):
        ys[t] = c * xs[t]
        c = c * np.cos(x) + np.sin(xs[t] * c)
    return np.sum(c ** 2) + np.sum(np.stack(ys) * np.arange(5.0)[:, None])


def oscillator(x):
    """fori_loop with static bounds, the index used as a value, a counter-free body."""
    return np.sum(fori_loop(0, 6, lambda i, c: c * np.sin(x) + 0.1 * i * np.cos(c), x) ** 2)


def oscillator_unrolled(x):
    c = x
    for i in range(6):
        c = c * np.sin(x) + 0.1 * i * np.cos(c)
    return np.sum(c ** 2)


def nested(x):
    """A loop in a loop, closing over the outer function's argument."""
    def outer(i, c):
        return fori_loop(0, 3, lambda j, d: d * 0.9 + np.sin(d) * x[0] + j * 0.01, c) + 0.1 * c
    return np.sum(fori_loop(0, 4, outer, x) ** 2)


def nested_unrolled(x):
    c = x
    for i in range(4):
        d = c
        for j in range(3):
            d = d * 0.9 + np.sin(d) * x[0] + j * 0.01
        c = d + 0.1 * c
    return np.sum(c ** 2)


def branchy(x):
    """cond in a loop (its branches close over x), a loop in a cond branch."""
    def body(i, c):
        return cond(np.sum(c) > 0, lambda c: c * np.cos(c),
                    lambda c: fori_loop(0, 2, lambda j, d: np.sin(d) - x * d, c), c)
    return np.sum(fori_loop(0, 6, body, x) ** 2)


def branchy_unrolled(x):      # the branch taken at each step is known for concrete x
    c = x
    for i in range(6):
        if np.sum(c) > 0:
            c = c * np.cos(c)
        else:
            for j in range(2):
                c = np.sin(c) - x * c
    return np.sum(c ** 2)


def frozen_branches(x):
    """The unrolled twin of `branchy` with the branch decisions it takes at concrete `x` replayed:
    traceable, and its derivatives at `x` are those of `branchy`."""
    decisions, c = [], x
    for i in range(6):
        decisions.append(bool(np.sum(c) > 0))
        c = c * np.cos(c) if decisions[-1] else np.sin(np.sin(c) - x * c) - x * (np.sin(c) - x * c)

    def replay(x):
        c = x
        for take in decisions:
            if take:
                c = c * np.cos(c)
            else:
                for j in range(2):
                    c = np.sin(c) - x * c
        return np.sum(c ** 2)
    return replay


def switched(x):
    fs = [lambda c: c * 1.1, lambda c: np.sin(c), lambda c: c ** 2 - 0.5]
    return np.sum(fori_loop(0, 5, lambda i, c: switch(i - 1, fs, c), x))


def switched_unrolled(x):
    fs = [lambda c: c * 1.1, lambda c: np.sin(c), lambda c: c ** 2 - 0.5]
    c = x
    for i in range(5):
        c = fs[min(max(i - 1, 0), 2)](c)
    return np.sum(c)


PAIRS = [(rnn_scan, rnn_unrolled, (X, W, XS), (0, 1, 2)),
         (reverse_scan, reverse_unrolled, (X, XS), (0, 1)),
         (oscillator, oscillator_unrolled, (X,), 0),
         (nested, nested_unrolled, (X,), 0),
         (switched, switched_unrolled, (X,), 0)]
IDS = ["rnn_scan", "reverse_scan", "fori_loop", "nested", "switch"]


# ---------------------------------------------------------------- values and gradients vs unrolled

@pytest.mark.parametrize("loop, unrolled, args, argnums", PAIRS, ids=IDS)
def test_value_and_gradient_match_unrolled_loop(loop, unrolled, args, argnums):
    with disable_jit():
        value, g = value_and_grad(loop, argnums=argnums)(*args)
        ref_value, ref = value_and_grad(unrolled, argnums=argnums)(*args)
    close(value, ref_value)
    close(g, ref)
    close(loop(*args), unrolled(*args))          # untraced: plain Python loops


@pytest.mark.parametrize("loop, unrolled, args, argnums", PAIRS, ids=IDS)
def test_compiled_kernel_matches_interpreter(loop, unrolled, args, argnums):
    vg = value_and_grad(loop, argnums=argnums)
    value, g = vg(*args)
    with disable_jit():
        ref_value, ref = vg(*args)
    close(value, ref_value, rtol=1e-11)
    close(g, ref, rtol=1e-11)


def test_cond_in_loop_and_loop_in_cond_gradient():
    replay = frozen_branches(X)
    with disable_jit():
        close(value_and_grad(branchy)(X), value_and_grad(replay)(X))
        close(hessian(branchy)(X), hessian(replay)(X), rtol=1e-10)
    close(grad(branchy)(X), grad(replay)(X), rtol=1e-11)
    fd = np.array([central_difference(branchy_unrolled, [X], [e]) for e in np.eye(3)])
    close(grad(branchy)(X), fd, rtol=1e-6, atol=1e-7)


def test_forward_mode_matches_unrolled():
    v = RNG.standard_normal(3)
    with disable_jit():
        for loop, unrolled, args, _ in PAIRS:
            tangents = [v if a is X else np.zeros_like(a) for a in args]
            close(jvp(loop, args, tangents), jvp(unrolled, args, tangents))


# ---------------------------------------------------------------- second order

def test_second_order_through_loops():
    with disable_jit():
        close(hessian(rnn_scan)(X, W, XS), hessian(rnn_unrolled)(X, W, XS), rtol=1e-10, atol=1e-12)
        close(hessian(nested)(X), hessian(nested_unrolled)(X), rtol=1e-10)
        gg = lambda f: grad(lambda x: np.sum(grad(f)(x, XS) ** 2))(X)
        close(gg(reverse_scan), gg(reverse_unrolled), rtol=1e-10)
        close(jacfwd(jacrev(oscillator))(X), jacrev(jacfwd(oscillator_unrolled))(X), rtol=1e-10)
        v = RNG.standard_normal(3)
        close(jvp(grad(oscillator), (X,), (v,)), jvp(grad(oscillator_unrolled), (X,), (v,)), rtol=1e-10)
    close(hessian(oscillator)(X), hessian(oscillator_unrolled)(X), rtol=1e-10)    # compiled


# ---------------------------------------------------------------- while_loop and traced bounds

def damped(x, n):
    return np.sum(fori_loop(0, n, lambda i, c: c * 0.95 + 0.1 * np.sin(c + x), x) ** 2)


def grow(x):
    """A while loop whose trip count depends on the data."""
    k, c = while_loop(lambda v: np.sum(v[1] ** 2) < 50.0, lambda v: (v[0] + 1, v[1] * 1.3 + np.sin(v[1])), (0, x))
    return np.sum(c) + k


def test_while_loop_and_traced_bounds_forward_mode():
    v = RNG.standard_normal(3)
    x = X + 1.5
    n = np.int64(7)
    assert jit(damped)(x, n) == pytest.approx(damped(x, 7), rel=1e-12)
    assert jit(grow)(x) == pytest.approx(grow(x), rel=1e-12)
    with disable_jit():
        _, t = jvp(lambda x: damped(x, n), (x,), (v,))
        _, t2 = jvp(grow, (x,), (v,))
        jac = jacfwd(grow)(x)
    close(t, central_difference(lambda x: damped(x, 7), [x], [v]), rtol=1e-6)
    close(t2, central_difference(grow, [x], [v]), rtol=1e-6)
    close(jac, [central_difference(grow, [x], [e]) for e in np.eye(3)], rtol=1e-6)


def test_reverse_mode_through_while_loop_and_traced_bounds():
    x = X + 1.5
    g = grad(damped)(x, np.int64(4))          # n is an argument: a traced bound
    close(g, [central_difference(lambda x: damped(x, 4), [x], [e]) for e in np.eye(len(x))], rtol=1e-6)
    close(g, grad(damped)(x, 4), rtol=1e-12)     # the same loop with a Python-int bound is a scan
    g2 = grad(grow)(x)
    close(g2, [central_difference(grow, [x], [e]) for e in np.eye(len(x))], rtol=1e-6)


# ---------------------------------------------------------------- oracle: JAX

def test_gradients_match_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp, lax = jax.numpy, jax.lax

    def jax_rnn(x, w, xs):
        def step(carry, xt):
            h, s = carry
            h = jnp.tanh(w @ h + xt)
            return (h, s + jnp.sum(h ** 2)), {"twice": h * 2.0}
        (h, s), ys = lax.scan(step, (x, 0.0), xs)
        return s + jnp.sum(ys["twice"] ** 3) + jnp.sum(h * x)

    def jax_reverse(x, xs):
        c, ys = lax.scan(lambda c, xt: (c * jnp.cos(x) + jnp.sin(xt * c), c * xt), x, xs, reverse=True)
        return jnp.sum(c ** 2) + jnp.sum(ys * jnp.arange(5.0)[:, None])

    def jax_branchy(x):
        def body(i, c):
            return lax.cond(jnp.sum(c) > 0, lambda c: c * jnp.cos(c),
                            lambda c: lax.fori_loop(0, 2, lambda j, d: jnp.sin(d) - x * d, c), c)
        return jnp.sum(lax.fori_loop(0, 6, body, x) ** 2)

    def jax_switched(x):
        fs = [lambda c: c * 1.1, lambda c: jnp.sin(c), lambda c: c ** 2 - 0.5]
        return jnp.sum(lax.fori_loop(0, 5, lambda i, c: lax.switch(i - 1, fs, c), x))

    with disable_jit():
        close(grad(rnn_scan, argnums=(0, 1, 2))(X, W, XS), jax.grad(jax_rnn, argnums=(0, 1, 2))(X, W, XS))
        close(grad(reverse_scan, argnums=(0, 1))(X, XS), jax.grad(jax_reverse, argnums=(0, 1))(X, XS))
        close(grad(branchy)(X), jax.grad(jax_branchy)(X))
        close(hessian(branchy)(X), jax.hessian(jax_branchy)(X), rtol=1e-10)
        close(grad(switched)(X), jax.grad(jax_switched)(X))
        close(hessian(rnn_scan)(X, W, XS), jax.hessian(jax_rnn)(X, W, XS), rtol=1e-10, atol=1e-12)


def test_tie_masks_inside_a_loop_body_match_jax():
    """max/min derivatives compare a value with itself: a body lowering must store such values
    once, as the top level does (codegen re-lowers the whole kernel)."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    a, b = np.array([[3.0, 0.5], [1.0, 2.0]]), np.array([[10.0, 9.0], [4.0, 1.0]])

    def body(i, c, xp=np):
        return c * 0.5 + xp.max(c / b, axis=1, keepdims=True) * xp.minimum(c, 1.5)
    g = grad(lambda a: np.sum(fori_loop(0, 3, body, a)))(a)
    expected = jax.grad(lambda a: jax.numpy.sum(jax.lax.fori_loop(0, 3, lambda i, c: body(i, c, jax.numpy), a)))(a)
    close(g, expected)


# ---------------------------------------------------------------- concrete execution and eager tensors

def test_untraced_calls_run_as_python_loops():
    assert fori_loop(2, 5, lambda i, c: c + i, 0) == 9
    assert fori_loop(5, 2, lambda i, c: c + i, 1.5) == 1.5
    c, ys = scan(lambda c, t: (c + t, c * t), 0.0, np.arange(4.0))
    assert c == 6.0 and ys.tolist() == [0.0, 0.0, 2.0, 9.0]
    c, ys = scan(lambda c, t: (c + t, c * t), 0.0, np.arange(4.0), reverse=True)
    assert ys.tolist() == [0.0, 5.0, 6.0, 0.0]
    c, ys = scan(lambda c, _: (c, {"a": c * np.ones(2)}), 1.0, length=0)
    assert c == 1.0 and ys["a"].shape == (0, 2)
    assert while_loop(lambda v: v[0] < 3, lambda v: (v[0] + 1, v[1] * 2.0), (0, 1.0)) == (3, 8.0)
    assert cond(np.bool_(False), lambda a: a + 1, lambda a: a - 1, 1.0) == 0.0
    assert cond(2, lambda: "taken", lambda: "not taken") == "taken"
    assert [switch(k, [lambda: 0, lambda: 1, lambda: 2]) for k in (-3, 1, 9)] == [0, 1, 2]


def test_traced_and_untraced_give_the_same_values():
    for loop, _, args, _ in PAIRS:
        close(jit(loop)(*args), loop(*args))
    f = lambda x: scan(lambda c, t: (c * 0.5 + t, np.stack([c, c])), x, XS[:, :2], reverse=True)
    traced = jit(f)(X[:2])
    close(traced[0], f(X[:2])[0])
    close(traced[1], f(X[:2])[1])


def test_eager_runtime_tensors_through_fori_loop():
    rt = pytest.importorskip("runtime")
    x = rt.tensor(X, requires_grad=True)
    out = fori_loop(0, 6, lambda i, c: c * np.sin(x) + 0.1 * i * np.cos(c), x)
    (out ** 2).sum().backward()
    with disable_jit():
        close(x.grad.numpy(), grad(oscillator)(X), rtol=1e-12)


# ---------------------------------------------------------------- IR, DCE, residuals, code

def test_ir_is_nested_typed_and_stays_typed_through_transforms():
    prog = make_ir(rnn_scan)(X, W, XS)
    text = str(prog)
    assert re.search(r"= scan\[\n\s+body=\{ lambda  ; .*\. let\n", text), text
    assert "length=5" in text and "num_carry=2" in text and "reverse=False" in text
    typecheck(prog)
    typecheck(jvp_program(prog, [True, True, False]))
    typecheck(simplify(vjp_program(prog, [True, True, True], [np.float64(1.0)])))
    typecheck(make_ir(grad(branchy))(X))
    assert "branches=(" in str(make_ir(branchy)(X))


def _scans(prog):
    return [e for e in prog.eqns if e.prim.name == "scan"]


def test_linearized_loop_stores_only_per_step_residuals():
    """cos(x) is loop-invariant: computed once, not stacked; xs is read as given, not copied;
    the forward loop stacks only values that change from step to step."""
    adjoint = grad(reverse_scan, argnums=(0, 1)).program(X, XS)[0]
    forward, backward = _scans(adjoint)
    assert forward.params["reverse"] and not backward.params["reverse"]
    stacked = forward.outputs[forward.params["num_carry"]:]
    assert all(v.aval.shape[0] == 5 for v in stacked)
    assert len(stacked) == 2, adjoint          # the carry c and cos(xs[t] * c)
    (cos_x,) = [e.outputs[0] for e in adjoint.eqns if e.prim.name == "cos" and e.inputs[0] is adjoint.invars[0]]
    assert cos_x in forward.inputs and cos_x in backward.inputs, adjoint     # computed once, before the loops
    assert [e.prim.name for e in forward.params["body"].eqns].count("cos") == 1
    assert adjoint.invars[1] in backward.inputs, "the backward loop reads xs itself"


def scan_with_invariant_body_code(x, y):
    """A scan equation whose body computes sin/cos of its constant input: the residuals sin(x) and
    cos(x) are loop-invariant (user code never produces this: operations on closed-over values are
    recorded outside the body, but transformed bodies do)."""
    from compiler.primitives.control import scan_p
    from compiler.transforms.subprograms import trace_program
    aval = make_ir(lambda x: x)(X).invars[0].aval
    body, _ = trace_program(lambda s, c: [c * np.sin(s) + np.cos(s) * c ** 2], [aval, aval])
    (c,) = scan_p.bind(x, y, body=body, num_consts=1, num_carry=1, length=4, reverse=False)
    return np.sum(c)


def test_loop_invariant_residuals_are_computed_once():
    adjoint = grad(scan_with_invariant_body_code, argnums=(0, 1)).program(X, X + 0.5)[0]
    forward, backward = _scans(adjoint)
    assert [v.aval.shape for v in forward.outputs[1:]] == [(4, 3)] * 3, adjoint   # c, 2c, c**2: not sin, cos
    hoisted = [e.outputs[0] for e in adjoint.eqns if e.prim.name in ("sin", "cos")]
    assert len(hoisted) == 2 and all(v in backward.inputs for v in hoisted), adjoint
    assert not {"sin", "cos"} & {e.prim.name for e in backward.params["body"].eqns}
    unrolled = lambda x, y: np.sum(fori_loop(0, 4, lambda i, c: c * np.sin(x) + np.cos(x) * c ** 2, y))
    with disable_jit():
        close(grad(scan_with_invariant_body_code, argnums=(0, 1))(X, X + 0.5), grad(unrolled, argnums=(0, 1))(X, X + 0.5))


def test_dead_loop_outputs_and_carries_are_pruned():
    def f(x):
        (a, b, i), ys = scan(lambda c, t: ((c[0] * t, c[1] + 1.0, c[2] + 1), (c[0], np.exp(c[1]))), (x, x, 0), XS)
        return np.sum(a) + np.sum(ys[0])
    (loop,) = _scans(jit(f).program(X)[0])
    assert loop.params["num_carry"] == 1 and len(loop.outputs) == 2
    assert "exp" not in [e.prim.name for e in loop.params["body"].eqns]


def test_edge_cases_compiled_against_interpreter():
    """Zero steps, no carry, scalar ys, a literal switch index, float32, dead while/cond outputs."""
    cases = [
        lambda x: np.sum(scan(lambda c, t: (c * t, c), x, np.zeros((0, 3)))[0] ** 2),
        lambda x: np.sum(scan(lambda c, t: (c, np.sin(t) * x), (), XS)[1]),
        lambda x: np.sum(scan(lambda c, t: (c * 0.9 + t, np.sum(c * c)), x, XS)[1]),
        lambda x: np.sum(switch(1, [np.exp, np.sin], x)),
        lambda x: np.sum(while_loop(lambda v: v[0] < 5, lambda v: (v[0] + 1, v[1] * 1.1, np.exp(v[2])), (0, x, x))[1]),
        lambda x: np.sum(cond(x[0] > 0, lambda x: (x * 2, np.exp(x)), lambda x: (x * 3, np.cos(x)), x)[0]),
    ]
    for f in cases:
        value = jit(f)(X)
        with disable_jit():
            close(value, jit(f)(X))
            if "while_loop" not in f.__code__.co_names:
                close(grad(f)(X), [central_difference(f, [X], [e]) for e in np.eye(3)], rtol=1e-6, atol=1e-8)
    (loop,) = [e for e in jit(cases[4]).program(X)[0].eqns if e.prim.name == "while_loop"]
    assert len(loop.outputs) == 2                 # the dead third carry is gone
    (branch,) = [e for e in jit(cases[5]).program(X)[0].eqns if e.prim.name == "cond"]
    assert len(branch.outputs) == 1
    g = grad(lambda x: np.sum(fori_loop(0, 3, lambda i, c: c * np.float32(0.5) + np.sin(c), x)))(X.astype(np.float32))
    assert g.dtype == np.float32


def indexed_by_counter(x, w):
    """The loop counter indexes an array: an integer per-step residual for the adjoint."""
    return np.sum(fori_loop(0, 4, lambda i, c: c * w[i] + np.sin(c), x))


def test_loop_counter_as_index():
    w = np.array([0.5, -1.0, 2.0, 0.1])

    def unrolled(x, w):
        c = x
        for i in range(4):
            c = c * w[i] + np.sin(c)
        return np.sum(c)
    g = grad(indexed_by_counter, argnums=(0, 1))(X, w)
    with disable_jit():
        close(grad(indexed_by_counter, argnums=(0, 1))(X, w), grad(unrolled, argnums=(0, 1))(X, w))
        close(g, grad(indexed_by_counter, argnums=(0, 1))(X, w), rtol=1e-11)


def _canonical(source):
    """Name variables by order of appearance (variable numbering is global)."""
    names = {}
    return re.sub(r"\bv\d+\b", lambda m: names.setdefault(m.group(), f"v{len(names)}"), source)


def test_kernel_source_does_not_depend_on_trip_count():
    def make(T):
        return lambda x: np.sum(fori_loop(0, T, lambda i, c: c * np.cos(c) + 0.01 * x, x) ** 2)
    short, long = (_canonical(grad(make(T)).lower(X).source) for T in (10, 10_000))
    trip = lambda src, t: re.sub(rf"\b{t - 1}\b", "T-1", re.sub(rf"\b{t}\b", "T", src))
    assert trip(short, 10) == trip(long, 10_000), (short, long)
    assert short.count("for _s") == 2 and len(short.splitlines()) < 100, short


def test_long_loop_compiles_and_runs():
    T = 20_000
    f = lambda x: np.sum(fori_loop(0, T, lambda i, c: c + 1e-4 * np.sin(c), x))
    g = grad(f)(X)
    c, dc = X.copy(), np.ones(3)
    for _ in range(T):
        dc = dc * (1 + 1e-4 * np.cos(c))
        c = c + 1e-4 * np.sin(c)
    close(g, dc, rtol=1e-10)


# ---------------------------------------------------------------- errors

def _line_of(fn, marker):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, l in enumerate(lines) if marker in l)


def test_carry_shape_change_names_leaf_line_and_fix():
    def f(x):
        return fori_loop(0, 3, lambda i, c: (c[0], c[1][:2]), (x, x))   # SHAPE
    with pytest.raises(ShapeError, match=rf"val\[1\][\s\S]*\(3,\)[\s\S]*\(2,\)[\s\S]*initial value"
                                          rf"[\s\S]*{HERE}:{_line_of(f, 'SHAPE')}"):
        grad(lambda x: np.sum(f(x)[0]))(X)
    with pytest.raises(ShapeError, match=r"val\[1\]"):
        f(X)                                             # the untraced loop checks too


def test_carry_dtype_change_suggests_float_start():
    with pytest.raises(ShapeError, match=r"carry\['n'\][\s\S]*i64[\s\S]*f64[\s\S]*0\.0 rather than 0"):
        jit(lambda x: scan(lambda c, t: ({"n": c["n"] + t}, None), {"n": 0}, x))(X)


def test_body_returning_another_structure():
    with pytest.raises(ShapeError, match=r"structure[\s\S]*\(\*, \*\)[\s\S]*\[\*, \*\]"):
        jit(lambda x: fori_loop(0, 2, lambda i, c: [c[0], c[1]], (x, x)))(X)
    with pytest.raises(TypeError, match="pair"):
        jit(lambda x: scan(lambda c, t: c, x, XS))(X)
    with pytest.raises(ShapeError, match="structure"):
        jit(lambda x: while_loop(lambda v: v[1] < 1, lambda v: v[0], (x, 0)))(X)


def test_cond_branches_with_different_types():
    def f(x):
        return cond(x[0] > 0, lambda x: x, lambda x: x[:2], x)   # BRANCHES
    with pytest.raises(ShapeError, match=rf"false_fun gives shape \(2,\)[\s\S]*true_fun gives shape \(3,\)"
                                          rf"[\s\S]*{HERE}:{_line_of(f, 'BRANCHES')}"):
        jit(f)(X)
    with pytest.raises(ShapeError, match=r"same structure, but branch 0 returns \(\*, \*\) and branch 1"):
        jit(lambda x: switch(0, [lambda x: (x, x), lambda x: x], x))(X)


def test_python_number_outputs_take_the_branch_and_carry_dtype():
    x32 = X.astype(np.float32)
    out = jit(lambda x: cond(x[0] > 0, lambda x: x[0], lambda x: 0.0, x))(x32)
    assert out.dtype == np.float32
    out = jit(lambda x: fori_loop(0, 2, lambda i, c: 1.0, x[0]))(x32)
    assert out.dtype == np.float32 and out == 1.0


def test_bad_predicates():
    with pytest.raises(ShapeError, match="predicate must be a scalar, got shape"):
        jit(lambda x: cond(x > 0, lambda: x, lambda: -x))(X)
    with pytest.raises(ShapeError, match="predicate must be a boolean scalar, got dtype f64"):
        jit(lambda x: cond(x[0], lambda: x, lambda: -x))(X)
    with pytest.raises(ShapeError, match="predicate must be a boolean scalar"):
        cond(0.5, lambda: 1, lambda: 2)                  # untraced too
    with pytest.raises(ShapeError, match="cond_fun must return a boolean scalar"):
        jit(lambda x: while_loop(lambda c: c, lambda c: c * 0.5, x))(X)


def test_bad_switch_index_and_scan_lengths():
    with pytest.raises(ShapeError, match="integer scalar"):
        jit(lambda x: switch(x[0], [lambda: x, lambda: -x]))(X)
    with pytest.raises(ShapeError, match="different lengths"):
        scan(lambda c, t: (c, None), 0.0, (np.ones(3), np.ones(4)))
    with pytest.raises(ShapeError, match="give length="):
        scan(lambda c, t: (c, None), 0.0)
    with pytest.raises(TracingError, match="length must be a Python int"):
        jit(lambda x: scan(lambda c, t: (c, None), x, length=x[0]))(X)
    with pytest.raises(ShapeError, match="integer scalar"):
        jit(lambda x: fori_loop(0, x[0], lambda i, c: c, x))(X)


def test_second_order_through_cond_whose_operand_has_no_tangent_in_the_outer_pass():
    """Found by the randomized test: the outer JVP met a cond none of whose inputs had a tangent
    (a multiple-result equation with no tangents) and crashed."""
    def loss(x0, x1, x2):
        v = np.where(x0 <= x1, x2, x1)
        return np.sum(cond(np.sum(v) > 0.0, lambda v: np.sin(v) * 2.0, lambda v: v * v, v))
    x0, x1, x2 = np.array([0.3, -0.5]), -0.296, np.array([1.2, 0.4])
    mask = x0 <= x1                                     # [False, True]: v = [x1, x2[1]], sum > 0
    gg = grad(lambda x2: np.sum(grad(loss, argnums=2)(x0, x1, x2)))(x2)
    close(gg, np.where(mask, -2.0 * np.sin(x2), 0.0), rtol=1e-12)


def test_a_long_unrolled_loop_warns_once_naming_its_line(monkeypatch):
    from compiler import UnrolledLoopWarning
    monkeypatch.setenv("GRADJIT_UNROLLED_WARNING", "60")

    def euler(x):
        for _ in range(40):
            x = x + 0.01 * np.sin(x)      # three equations a step
        return x

    line = _line_of(euler, "x = x + 0.01")
    with pytest.warns(UnrolledLoopWarning, match=r"120 equations[\s\S]*fori_loop or compiler.scan") as caught:
        jit(euler)(0.5)
    assert [(w.filename, w.lineno) for w in caught if w.category is UnrolledLoopWarning] == [(__file__, line)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnrolledLoopWarning)
        jit(euler)(np.ones(2))            # a new signature: traced again, not warned again
        jit(lambda x: fori_loop(0, 40, lambda i, v: v + 0.01 * np.sin(v), x))(0.5)
