"""Regressions of issue 7 in the transforms, their composition and dispatch: tangent and cotangent
shapes, constant derivatives, has_aux pass-through, inner transformations closing over outer
tracers, empty arrays, repeated argnums, re-tracing without recompiling, thread-local state,
bounded caches and captured values that were rebound after tracing."""
import contextlib
import threading
import types

import numpy as np
import pytest

import compiler
import compiler.dispatch
from compiler import (disable_jit, grad, hessian, jacfwd, jacrev, jit, jvp, set_cache_size, stop_gradient,
                      value_and_grad, vjp)
from compiler.dispatch import stats
from conftest import central_difference


@contextlib.contextmanager
def numba_compilations():
    """The names of the functions Numba compiles inside the block (cache loads are not compiles)."""
    from numba.core import event
    names = []

    class Listener(event.Listener):
        def on_start(self, ev):
            names.append(ev.data["dispatcher"].py_func.__name__)

        def on_end(self, ev):
            pass

    with event.install_listener("numba:compile", Listener()):
        yield names


@pytest.fixture
def interpreted_calls(monkeypatch):
    """Counts programs run by the reference interpreter instead of a compiled kernel."""
    calls = []
    original = compiler.dispatch.eval_program

    def counting(prog, args, consts=None):
        if not any(getattr(a, "_gj_trace", None) is not None for a in args):
            calls.append(prog)
        return original(prog, args, consts)
    monkeypatch.setattr(compiler.dispatch, "eval_program", counting)
    return calls


# ---------------------------------------------------------------- item 6: tangent and cotangent shapes

def test_jvp_tangent_has_its_primal_shape():
    out, t = jvp(lambda a: np.ones(3) * 2 + a, (1.0,), (1.0,))
    assert np.shape(t) == np.shape(out) == (3,)
    np.testing.assert_array_equal(t, np.ones(3))
    # a rank-0 tangent standing for a broadcast one must not reach a reduction over the array
    out, t = jvp(lambda a: np.sum(np.ones((2, 3)) + a, axis=0), (1.0,), (1.0,))
    np.testing.assert_array_equal(t, np.full(3, 2.0))


def test_vjp_cotangent_has_its_primal_shape():
    _, f_vjp = vjp(lambda a: np.ones(3) * 2 + a, 1.0)
    (ct,) = f_vjp(np.array([1.0, 2.0, 3.0]))
    assert np.shape(ct) == () and ct == pytest.approx(6.0)


def test_jvp_and_vjp_shapes_match_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    cases = [(lambda m, a: m.ones(3) * 2 + a, 0.5), (lambda m, a: m.sin(a) * m.arange(4.0) - a, 0.3),
             (lambda m, a: m.exp(a) + m.zeros((2, 2)), -0.2)]
    for f, a in cases:
        out, t = jvp(lambda v: f(np, v), (a,), (1.0,))
        ref_out, ref_t = jax.jvp(lambda v: f(jnp, v), (a,), (1.0,))
        assert np.shape(t) == ref_t.shape
        np.testing.assert_allclose(t, ref_t, rtol=1e-12)
        ct = np.linspace(1.0, 2.0, np.size(out)).reshape(np.shape(out))
        (g,) = vjp(lambda v: f(np, v), a)[1](ct)
        (ref_g,) = jax.vjp(lambda v: f(jnp, v), a)[1](jnp.asarray(ct))
        assert np.shape(g) == ref_g.shape
        np.testing.assert_allclose(g, ref_g, rtol=1e-12)


# ---------------------------------------------------------------- item 13: constant derivatives

def test_derivatives_of_constants_are_zero():
    assert grad(grad(lambda x: 3.0 * x))(2.0) == 0.0
    np.testing.assert_array_equal(hessian(lambda x: 3.0 * x)(2.0), 0.0)
    assert grad(lambda x: 1.0)(2.0) == 0.0
    x = np.array([0.5, -1.0, 2.0, 4.0])
    np.testing.assert_allclose(grad(lambda x: np.sum(grad(np.var)(x)))(x), np.zeros(4), atol=1e-12)
    # d/dx sum(x * 2 (x - mean) / n) = 4 (x - mean) / n
    np.testing.assert_allclose(grad(lambda x: np.sum(x * grad(np.var)(x)))(x), 4 * (x - x.mean()) / 4, rtol=1e-12)
    np.testing.assert_array_equal(hessian(lambda x: 3.0 * np.sum(x) + 1.0)(x), np.zeros((4, 4)))


def test_jacobians_of_constant_linear_and_pass_through_outputs():
    x = np.array([1.0, 2.0])
    for jac in (jacfwd, jacrev):
        np.testing.assert_array_equal(jac(lambda x: 1.0)(x), np.zeros(2))
        np.testing.assert_allclose(jac(lambda x: 3.0 * x)(x), 3 * np.eye(2))
        j_same, j_literal = jac(lambda x: (x, 2.0))(x)
        np.testing.assert_array_equal(j_same, np.eye(2))
        np.testing.assert_array_equal(j_literal, np.zeros(2))
    out, tangents = jvp(lambda x, y: (y, 1.0, x), (x, 3.0), (np.array([1.0, -1.0]), 2.0))
    assert tangents[0] == 2.0 and tangents[1] == 0.0
    np.testing.assert_array_equal(tangents[2], [1.0, -1.0])
    _, f_vjp = vjp(lambda x, y: (y, 1.0, x), x, 3.0)
    gx, gy = f_vjp((1.5, 7.0, np.array([4.0, 5.0])))
    np.testing.assert_array_equal(gx, [4.0, 5.0])
    assert gy == 1.5


# ---------------------------------------------------------------- item 17: has_aux with any leaves

def test_has_aux_returns_non_array_leaves_as_they_are():
    marker = object()

    def f(x):
        return np.sum(x ** 2), {"n": 3, "name": "loss", "none": None, "obj": marker, "flag": True,
                                "total": np.sum(x)}
    x = np.array([1.0, 2.0])

    def check(aux):
        assert type(aux["n"]) is int and aux["n"] == 3 and aux["name"] == "loss" and aux["none"] is None
        assert aux["obj"] is marker and aux["flag"] is True and aux["total"] == pytest.approx(3.0)

    g, aux = grad(f, has_aux=True)(x)
    np.testing.assert_allclose(g, 2 * x)
    check(aux)
    (value, aux), g = value_and_grad(f, has_aux=True)(x)
    assert value == pytest.approx(5.0)
    check(aux)
    out, f_vjp, aux = vjp(f, x, has_aux=True)
    check(aux)
    np.testing.assert_allclose(f_vjp(1.0)[0], 2 * x)
    for jac in (jacfwd, jacrev):
        j, aux = jac(f, has_aux=True)(x)
        np.testing.assert_allclose(j, 2 * x)
        check(aux)


@pytest.mark.parametrize("name", ["vjp", "jacfwd", "jacrev"])
def test_has_aux_without_a_pair_is_a_clear_error(name):
    call = {"vjp": lambda f: vjp(f, 1.0, has_aux=True), "jacfwd": lambda f: jacfwd(f, has_aux=True)(1.0),
            "jacrev": lambda f: jacrev(f, has_aux=True)(1.0)}[name]
    with pytest.raises(compiler.DifferentiationError, match=name + r"\(has_aux=True\).*must return a pair"):
        call(lambda x: x * 2.0)


# ---------------------------------------------------------------- item 18: closing over outer tracers

def test_inner_transformations_closing_over_outer_tracers():
    assert grad(lambda x: grad(lambda y: x * y * y)(1.0))(3.0) == pytest.approx(2.0)
    assert grad(lambda x: jit(lambda y: x * y * y)(2.0))(3.0) == pytest.approx(4.0)
    assert grad(lambda x: jvp(lambda y: x * y * y, (2.0,), (1.0,))[1])(3.0) == pytest.approx(4.0)
    assert grad(lambda x: vjp(lambda y: x * np.sin(y), 2.0)[1](1.0)[0])(3.0) == pytest.approx(np.cos(2.0))
    y = np.array([1.0, 2.0])
    for jac in (jacfwd, jacrev):     # sum of the diagonal 2 x y: 6 x
        assert grad(lambda x: np.sum(jac(lambda y: x * y ** 2)(y)))(3.0) == pytest.approx(6.0)


def test_three_nested_levels_closing_over_each_other():
    def f(x):
        return grad(lambda y: grad(lambda z: np.sin(x * y * z))(1.0))(2.0)
    x = 3.0
    # f(x) = d/dy [x y cos(x y)] at y = 2; f'(x) = cos(2x)(1 - 4x^2) - 6x sin(2x)
    expected = np.cos(2 * x) * (1 - 4 * x ** 2) - 6 * x * np.sin(2 * x)
    assert grad(f)(x) == pytest.approx(expected, rel=1e-12)
    assert grad(f)(x) == pytest.approx(central_difference(lambda v: f(v), [x], [1.0], 1e-5), rel=1e-6)


def test_compiled_function_composes_after_a_concrete_call():
    g = grad(lambda x: np.sum(np.sin(x)))
    x = np.linspace(0.0, 1.0, 3)
    np.testing.assert_allclose(g(x), np.cos(x))         # compiled and cached for this shape
    np.testing.assert_allclose(grad(lambda x: np.sum(g(x)))(x), -np.sin(x), rtol=1e-12)


# ---------------------------------------------------------------- item 20: empty arrays, stop_gradient

def test_hessian_through_take_of_empty_arrays():
    f = lambda x: np.sum(np.take(x, np.array([0, 1]), axis=0) ** 2)
    x = np.ones((2, 0))
    assert hessian(f)(x).shape == (2, 0, 2, 0)
    with disable_jit():
        assert hessian(f)(x).shape == (2, 0, 2, 0)
    assert grad(f)(x).shape == (2, 0)


def test_stop_gradient_of_a_0d_input_then_broadcast():
    f = lambda x: np.sum(stop_gradient(x) * np.ones(3) + x)
    assert grad(f)(2.0) == pytest.approx(3.0)
    assert grad(f)(np.array(2.0)) == pytest.approx(3.0)
    # d/dx 6 sg(x) x = 6 sg(x); its derivative is 0
    assert hessian(lambda x: np.sum(stop_gradient(x) * np.ones((2, 3)) * x))(2.0) == 0.0


# ---------------------------------------------------------------- item 21: repeated argnums

@pytest.mark.parametrize("transform", [grad, value_and_grad, jacfwd, jacrev])
def test_repeated_argnums_raise_a_clear_error(transform):
    with pytest.raises(ValueError, match=r"argnums=\(0, 0\) names argument 0 more than once"):
        transform(lambda x, y: x * y, argnums=(0, 0))(2.0, 3.0)


# ---------------------------------------------------------------- item 22: re-tracing reuses kernels

def _loss(w):
    return np.sum(np.tanh(w) ** 2 + 0.5 * w)


def test_retracing_the_same_function_compiles_nothing_new():
    w = np.linspace(-1.0, 1.0, 5)

    def step(w):
        w = w - 0.1 * grad(_loss)(w)                # a new transformed function each step
        out, f_vjp = vjp(lambda v: np.sin(v) * 2.0, w)   # and a new lambda each call
        return w + 0.01 * f_vjp(np.ones(5))[0]
    w = step(w)
    traces = stats["traces"]
    with numba_compilations() as compiled:
        for _ in range(3):
            w = step(w)
    assert compiled == []
    assert stats["traces"] > traces           # it did trace again: the kernels were found by content


def test_repeated_vjp_of_one_function_traces_once():
    f = lambda v: np.cos(v) * v
    w, ct = np.linspace(0.0, 1.0, 4), np.ones(4)
    vjp(f, w)[1](ct)
    before = stats["traces"]
    for _ in range(3):
        out, f_vjp = vjp(f, w)
        np.testing.assert_allclose(f_vjp(ct)[0], np.cos(w) - w * np.sin(w), rtol=1e-12)
    assert stats["traces"] == before


# ---------------------------------------------------------------- item 24: disable_jit, threads

def test_disable_jit_does_not_leave_an_interpreted_entry(interpreted_calls):
    f = grad(lambda x: np.sum(np.sin(x) * 3.0))
    x = np.linspace(0.0, 1.0, 3)
    with disable_jit():
        np.testing.assert_allclose(f(x), 3 * np.cos(x), rtol=1e-14)
    assert len(interpreted_calls) == 1
    for _ in range(2):
        np.testing.assert_allclose(f(x), 3 * np.cos(x), rtol=1e-12)
    assert len(interpreted_calls) == 1        # later calls run the kernel


def test_disable_jit_is_per_thread(interpreted_calls):
    f = grad(lambda x: np.sum(np.cos(x) * 2.0))
    x = np.linspace(0.0, 1.0, 3)
    f(x)
    inside, release, results = threading.Event(), threading.Event(), []

    def worker():
        with disable_jit():
            inside.set()
            release.wait(30)
            results.append(f(x))
    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert inside.wait(30)
        np.testing.assert_allclose(f(x), -2 * np.sin(x), rtol=1e-12)
        assert interpreted_calls == []        # this thread still runs kernels
    finally:
        release.set()
        thread.join(30)
    np.testing.assert_allclose(results[0], -2 * np.sin(x), rtol=1e-14)
    assert len(interpreted_calls) == 1        # the worker's call was interpreted


def test_tracer_stack_is_per_thread():
    """Thread B holds two builders open while thread A opens its outer one, then closes them
    before A opens an inner one: with one stack for all threads, A's inner builder would rank
    below its outer one and record A's inner equations in the wrong program."""
    b_open, a_open, b_done, results = threading.Event(), threading.Event(), threading.Event(), {}

    def b_inner(y):
        b_open.set()
        a_open.wait(30)
        return y * 2.0

    def thread_b():
        results["b"] = jit(lambda v: jit(b_inner)(v))(1.5)
        b_done.set()

    def a_outer(x):
        a_open.set()
        b_done.wait(30)
        return jit(lambda y: x * y * y)(2.0)

    def thread_a():
        b_open.wait(30)
        try:
            results["a"] = grad(a_outer)(3.0)
        except Exception as e:       # reported below
            results["a"] = e
    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results["b"] == pytest.approx(3.0)
    assert results["a"] == pytest.approx(4.0)


# ---------------------------------------------------------------- item 25: bounded caches

def test_caches_are_bounded_and_evicted_least_recently_used():
    import runtime.kernels
    from compiler import api, lru
    old = lru.cache_size()
    try:
        set_cache_size(2)
        g = grad(lambda x: np.sum(x * x * 0.5))
        for n in (1, 2, 3, 4):
            np.testing.assert_allclose(g(np.ones(n)), np.ones(n))
        for cache in (g._cache, runtime.kernels._compiled, api._directional_cache):
            assert len(cache) <= 2
        before = stats["traces"]
        g(np.ones(4))
        assert stats["traces"] == before           # recent: kept
        np.testing.assert_allclose(g(np.ones(1)), np.ones(1))
        assert stats["traces"] == before + 1       # oldest: evicted, traced again
        with pytest.raises(ValueError, match="positive"):
            set_cache_size(0)
    finally:
        set_cache_size(old)


def test_cache_size_from_the_environment(monkeypatch):
    from compiler import lru
    monkeypatch.setenv("GRADJIT_CACHE_SIZE", "17")
    assert lru._size_from_environment() == 17
    monkeypatch.setenv("GRADJIT_CACHE_SIZE", "many")
    with pytest.raises(ValueError, match="GRADJIT_CACHE_SIZE"):
        lru._size_from_environment()


# ---------------------------------------------------------------- item 26: rebound captured values

_weights = np.ones(3)


def _weighted(x):
    return np.sum(_weights * x)


def test_rebound_closure_variable_is_noticed():
    x = np.arange(3.0)
    scale = 1.0
    g = grad(lambda x: scale * np.sum(x ** 2))
    np.testing.assert_allclose(g(x), 2 * x)
    scale = 10.0
    np.testing.assert_allclose(g(x), 20 * x)
    before = stats["traces"]
    scale = float("10.0")                      # an equal float: no need to trace again
    np.testing.assert_allclose(g(x), 20 * x)
    assert stats["traces"] == before
    scale = 1.0                                # back to a program seen before: no new compile
    with numba_compilations() as compiled:
        np.testing.assert_allclose(g(x), 2 * x)
    assert compiled == []


def test_rebound_global_read_by_a_helper_is_noticed():
    global _weights
    x = np.array([1.0, 2.0, 3.0])
    g = grad(lambda x: _weighted(x) ** 2 / 2)
    try:
        np.testing.assert_allclose(g(x), np.sum(x) * np.ones(3))
        _weights = np.array([1.0, 0.0, 2.0])
        np.testing.assert_allclose(g(x), 7.0 * _weights)
    finally:
        _weights = np.ones(3)


def test_rebound_attributes_are_noticed():
    class Model:
        def __init__(self):
            self.scale, self.config = 1.0, types.SimpleNamespace(power=2)

        def loss(self, x):
            return self.scale * np.sum(x ** self.config.power) + self.penalty(x)

        def penalty(self, x):
            return self.weight * np.sum(x)
    m = Model()
    m.weight = 0.0
    x = np.array([1.0, 2.0])
    g = grad(m.loss)
    np.testing.assert_allclose(g(x), 2 * x)
    m.scale = 3.0
    np.testing.assert_allclose(g(x), 6 * x)
    m.config.power = 3
    np.testing.assert_allclose(g(x), 9 * x ** 2)
    m.weight = 1.0                             # read by a method called on self
    np.testing.assert_allclose(g(x), 9 * x ** 2 + 1)


def test_frequent_rebinding_warns_to_pass_the_value_as_an_argument():
    x = np.arange(3.0)
    offset = np.zeros(3)
    g = grad(lambda x: np.sum((x - offset) ** 2))
    with pytest.warns(RuntimeWarning, match="traced again .* Pass values that change as arguments"):
        for k in range(compiler.dispatch.REBIND_WARNING + 1):
            offset = np.full(3, float(k))      # a new array each time (one kernel: arrays are arguments)
            np.testing.assert_allclose(g(x), 2 * (x - k))


def test_repeated_vjp_with_aux_traces_once():
    f = lambda v: (np.sum(np.cos(v) * v), {"n": 1})
    w = np.linspace(0.0, 1.0, 4)
    vjp(f, w, has_aux=True)[1](1.0)
    before = stats["traces"]
    for _ in range(3):
        out, f_vjp, aux = vjp(f, w, has_aux=True)
        np.testing.assert_allclose(f_vjp(1.0)[0], np.cos(w) - w * np.sin(w), rtol=1e-12)
    assert stats["traces"] == before and aux == {"n": 1}
