"""Regressions of the code-generation back end found by the randomized differential test (issue 7):
derivative equality tests on recomputed values, aliased outputs, recursion on program length,
dtype edge cases, and kernel source that must be a pure function of the program."""
import sys

import numpy as np
import pytest

from compiler import disable_jit, grad, hessian, jit, jvp, make_ir, value_and_grad
from compiler.interpreter import eval_program
from compiler.lowering.codegen import lower_program
from runtime import kernels


# ---------------------------------------------------------------- max/min ties and equality tests

def _argmax_mask(x, axis, pick):
    """One-hot mask of the (unique) extremum along `axis`."""
    k = pick(x, axis=axis)
    mask = np.zeros_like(x)
    np.put_along_axis(mask, np.expand_dims(k, axis), 1.0, axis=axis)
    return mask


def test_max_of_quotient_issue_example():
    a, b = np.array([[3., .5]]), np.array([[10., 9.]])
    ga, gb = grad(lambda a, b: np.sum(np.max(a / b, axis=1)), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga, [[0.1, 0.]], rtol=1e-14)
    np.testing.assert_allclose(gb, [[-0.03, 0.]], rtol=1e-14)
    _, t = jvp(lambda a, b: np.max(a / b, axis=1), (a, b), (np.ones_like(a), np.ones_like(b)))
    np.testing.assert_allclose(t, [0.1 - 0.03], rtol=1e-14)
    h = hessian(lambda b: np.max(a / b))(b)
    expected = np.zeros((1, 2, 1, 2))
    expected[0, 0, 0, 0] = 2 * 3. / 10. ** 3
    np.testing.assert_allclose(h, expected, rtol=1e-14)


@pytest.mark.parametrize("reduce, pick, axis", [(np.max, np.argmax, 1), (np.min, np.argmin, 0)])
def test_extremum_derivatives_of_recomputed_operands_on_random_inputs(reduce, pick, axis):
    f = lambda a, b: np.sum(reduce(a / b, axis=axis) ** 2)
    g = grad(f, argnums=(0, 1))
    fwd = lambda a, b, ta, tb: jvp(lambda a, b: reduce(a / b, axis=axis), (a, b), (ta, tb))[1]
    h = hessian(lambda b, a: reduce(a / b, axis=axis)[0])
    rng = np.random.default_rng(7)
    for _ in range(40):
        a, b = rng.normal(size=(3, 4)), rng.uniform(0.5, 2.0, size=(3, 4))
        ta, tb = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
        q = a / b
        mask = _argmax_mask(q, axis, pick)
        m = np.expand_dims(reduce(q, axis=axis), axis)
        ga, gb = g(a, b)
        np.testing.assert_allclose(ga, 2 * m * mask / b, rtol=1e-12)
        np.testing.assert_allclose(gb, -2 * m * mask * q / b, rtol=1e-12)
        np.testing.assert_allclose(fwd(a, b, ta, tb), np.sum(mask * (ta / b - q * tb / b), axis=axis),
                                   rtol=1e-12, atol=1e-15)
        i, j = (0, pick(q[0])) if axis == 1 else (pick(q[:, 0]), 0)   # extremum of output element 0
        expected = np.zeros((3, 4, 3, 4))
        expected[i, j, i, j] = 2 * a[i, j] / b[i, j] ** 3
        np.testing.assert_allclose(h(b, a), expected, rtol=1e-12, atol=1e-15)


def test_tie_between_maximum_and_its_own_max_reduction_splits_evenly():
    # at the argmax, maximum(x, max(x)) ties: half goes to x, half to max(x), which passes it back
    f = lambda a, b: np.sum(np.maximum(a / b, np.max(a / b)))
    g = grad(f, argnums=(0, 1))
    rng = np.random.default_rng(3)
    for _ in range(20):
        a, b = rng.normal(size=(3, 4)), rng.uniform(0.5, 2.0, size=(3, 4))
        mask = (a / b == np.max(a / b)).astype(float)
        ga, gb = g(a, b)
        np.testing.assert_allclose(ga, a.size * mask / b, rtol=1e-12)
        np.testing.assert_allclose(gb, -a.size * mask * a / b ** 2, rtol=1e-12)


def test_prod_derivatives_with_zero_entries_of_recomputed_operands():
    f = lambda a, b: np.sum(np.prod(a / b, axis=1))
    g = grad(f, argnums=0)
    rng = np.random.default_rng(5)
    for zeros in range(3):
        a, b = rng.normal(size=(4, 5)), rng.uniform(0.5, 2.0, size=(4, 5))
        for row in range(4):
            a[row, rng.choice(5, zeros, replace=False)] = 0.0
        q = a / b
        expected = np.array([[np.prod(np.delete(q[i], j)) / b[i, j] for j in range(5)] for i in range(4)])
        np.testing.assert_allclose(g(a, b), expected, rtol=1e-12, atol=1e-300)


def test_extremum_derivatives_match_jax_on_random_programs():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def f(xp, a, b, c):
        return xp.sum(xp.max(xp.sin(a) * b / c, axis=0) * xp.min(a - b * c, axis=1)[0])

    ours = grad(lambda a, b, c: f(np, a, b, c), argnums=(0, 1, 2))
    theirs = jax.grad(lambda a, b, c: f(jnp, a, b, c), argnums=(0, 1, 2))
    rng = np.random.default_rng(11)
    for _ in range(20):
        a, b, c = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.uniform(0.5, 2, size=(3, 4))
        for mine, ref in zip(ours(a, b, c), theirs(a, b, c)):
            np.testing.assert_allclose(mine, np.asarray(ref), rtol=1e-10, atol=1e-13)


# ---------------------------------------------------------------- outputs are fresh arrays

@pytest.mark.parametrize("interpreted", [False, True])
def test_outputs_never_alias_inputs_constants_or_each_other(interpreted):
    c = np.arange(3.0) + 1
    x = np.ones(3)
    m = np.ones((2, 3))

    def twice(x):
        y = x * 2
        return y, y

    with disable_jit() if interpreted else _nothing():
        g = grad(lambda x: np.sum(x * c))(x)
        assert not np.shares_memory(g, c)
        g *= 10
        np.testing.assert_array_equal(c, np.arange(3.0) + 1)
        assert not np.shares_memory(jit(lambda x: x)(x), x)
        assert not np.shares_memory(jit(lambda x: x.reshape(3, 2))(m), m)
        y1, y2 = jit(twice)(x)
        assert not np.shares_memory(y1, y2)
        r1, r2 = jit(lambda m: (m.reshape(6), m * 1))(m)
        assert not np.shares_memory(r1, m)
        k1, k2 = jit(lambda m: (m * 2, (m * 2).reshape(6)))(m)
        assert not np.shares_memory(k1, k2)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------- nothing recurses on program length

def _chain(n):
    def f(x):
        for k in range(n):
            x = np.sin(x) * 1.0001 + 0.001 * k
        return x
    return f


def test_code_generation_does_not_recurse_on_program_length():
    x = np.linspace(0.0, 1.0, 4)
    limit = sys.getrecursionlimit()
    prog = make_ir(grad(lambda x: np.sum(_chain(3500)(x))))(x)     # > 10^4 equations
    assert len(prog.eqns) > 10_000
    sys.setrecursionlimit(200)
    try:
        source = lower_program(prog)
    finally:
        sys.setrecursionlimit(limit)
    assert source.count("\n") > 10_000


def test_long_elementwise_chain_compiles_and_matches_interpreter():
    x = np.linspace(0.0, 1.0, 4)
    f = lambda x: np.sum(_chain(110)(x))      # 330 nested operations crashed code generation
    value, gradient = value_and_grad(f)(x)
    prog = make_ir(value_and_grad(f))(x)
    ref_value, ref_grad = eval_program(prog, [x])
    np.testing.assert_allclose(value, ref_value, rtol=1e-12)
    np.testing.assert_allclose(gradient, ref_grad, rtol=1e-10)


def test_concatenating_many_pieces_gives_valid_python():
    x = np.arange(250.0)
    source = lower_program(make_ir(lambda x: np.concatenate([x[i:i + 1] * i for i in range(250)]))(x))
    compile(source, "kernel", "exec")     # 250 nested window tests: "too many nested parentheses"


def _heat(steps):
    def f(x):
        for _ in range(steps):
            x = np.concatenate([x[:1], (x[:-2] + x[2:]) / 2, x[-1:]])
        return x
    return f


def test_stencil_unrolled_in_time_gives_code_linear_in_steps():
    x = np.linspace(0.0, 1.0, 20) ** 2
    source = lower_program(make_ir(_heat(16))(x))     # inlining every step: 2**16 copies of the first
    assert source.count("\n") < 40 * 16
    np.testing.assert_allclose(jit(_heat(6))(x), _heat(6)(x), rtol=1e-14)


# ---------------------------------------------------------------- indexing, dtypes and literals

def test_grad_of_indexing_with_a_0d_integer_array():
    np.testing.assert_array_equal(grad(lambda x, i: x[i])(np.ones(3), np.array(1)), [0., 1., 0.])
    np.testing.assert_array_equal(grad(lambda x, i: 2 * x[i])(np.ones(3), np.array(-1)), [0., 0., 2.])


def test_boolean_scalar_outputs_and_boolean_aux():
    x = np.array([1.0, -2.0, 3.0])
    assert jit(lambda x: np.sum(x) > 0)(x) == np.True_
    (value, positive), g = value_and_grad(lambda x: (np.sum(x ** 2), np.sum(x) > 0), has_aux=True)(x)
    assert value == 14.0 and isinstance(positive, np.bool_) and positive
    np.testing.assert_array_equal(g, 2 * x)
    assert jit(lambda x: (np.max(x > 2), np.min(x > 2)))(x) == (np.True_, np.False_)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_max_and_min_of_integer_and_boolean_arrays(dtype):
    a = np.array([[3, 1, 2], [0, 5, 4]]).astype(dtype)
    f = jit(lambda a: (np.max(a), np.min(a), np.max(a, axis=0), np.min(a, axis=1)))
    for mine, ref in zip(f(a), (np.max(a), np.min(a), np.max(a, axis=0), np.min(a, axis=1))):
        assert np.asarray(mine).dtype == ref.dtype
        np.testing.assert_array_equal(mine, ref)


def test_small_integer_arithmetic_wraps_as_in_numpy():
    i32 = np.array([2 ** 31 - 1, 5, -3], np.int32)
    u8 = np.array([0, 5, 255], np.uint8)
    f = jit(lambda a, b: ((a + a) > 0, (b - np.uint8(1)) > 3, b * b, a + a))
    for mine, ref in zip(f(i32, u8), ((i32 + i32) > 0, (u8 - np.uint8(1)) > 3, u8 * u8, i32 + i32)):
        assert mine.dtype == ref.dtype
        np.testing.assert_array_equal(mine, ref)


# ---------------------------------------------------------------- source is a pure function of the program

def test_kernel_source_is_identical_for_identical_programs():
    def loss(w, x):
        return np.sum(np.tanh(x @ w) ** 2) + np.max(w)

    w, x = np.ones((3, 2)) * 0.1, np.ones((4, 3))
    sources = [grad(loss).lower(w, x).source for _ in range(2)]
    assert sources[0] == sources[1]
    grad(loss)(w, x)
    compiled = len(kernels._compiled)
    grad(loss)(w, x)          # a new transform object: traces again, compiles nothing
    assert len(kernels._compiled) == compiled
