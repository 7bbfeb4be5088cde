"""Property tests over NumPy broadcasting shapes (hypothesis), and cross-checks against JAX,
PyTorch and HIPS autograd where they are installed."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from compiler import disable_jit, grad, jvp, value_and_grad
from conftest import central_difference

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1.0),
    "max": np.maximum,
    "where": lambda a, b: np.where(a > b, np.sin(a), b * b),
    "pow": lambda a, b: (a * a + 1.0) ** np.tanh(b),
}


@settings(max_examples=40, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4),
       op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2 ** 16))
def test_broadcast_gradients_match_finite_differences(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a, b = (rng.uniform(-2, 2, s) for s in shapes.input_shapes)
    w = rng.standard_normal(shapes.result_shape)
    f = lambda a, b: np.sum(BINARY[op](a, b) * w)
    with disable_jit():
        ga, gb = grad(f, argnums=(0, 1))(a, b)
    assert np.shape(ga) == np.shape(a) and np.shape(gb) == np.shape(b)
    va, vb = rng.standard_normal(np.shape(a)), rng.standard_normal(np.shape(b))
    directional = np.sum(ga * va) + np.sum(gb * vb)
    np.testing.assert_allclose(directional, central_difference(f, [a, b], [va, vb]), rtol=1e-5, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), seed=st.integers(0, 2 ** 16),
       keepdims=st.booleans())
def test_reductions_over_random_axes(shape, seed, keepdims):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    axis = int(rng.integers(-len(shape), len(shape)))
    f = lambda x: np.sum(np.sin(np.sum(x * x, axis=axis, keepdims=keepdims))) + np.sum(np.mean(x, axis=axis) ** 2)
    v = rng.standard_normal(shape)
    with disable_jit():
        _, t = jvp(f, (x,), (v,))
    np.testing.assert_allclose(t, central_difference(f, [x], [v]), rtol=1e-5, atol=1e-6)


def test_compiled_broadcast_kernels_for_a_few_shapes():
    rng = np.random.default_rng(0)
    for sa, sb in [((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (5,)), ((4, 1, 2), (3, 1))]:
        a, b = rng.uniform(0.5, 2, sa), rng.uniform(0.5, 2, sb)
        f = lambda a, b: np.sum(np.log(a * b) * (a - b) ** 2)
        got = value_and_grad(f, argnums=(0, 1))(a, b)
        with disable_jit():
            ref = value_and_grad(f, argnums=(0, 1))(a, b)
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-12)
        for g, r in zip(got[1], ref[1]):
            np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- other libraries as oracles

def mlp_loss(w1, w2, x, y):
    h = np.tanh(x @ w1)
    return np.mean((h @ w2 - y) ** 2) + 0.01 * np.sum(w1 * w1)


@pytest.fixture(scope="module")
def mlp_data():
    rng = np.random.default_rng(7)
    return rng.standard_normal((6, 5)), rng.standard_normal((5, 2)), rng.standard_normal((10, 6)), \
        rng.standard_normal((10, 2))


def test_against_jax(mlp_data):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def jloss(w1, w2, x, y):
        h = jnp.tanh(x @ w1)
        return jnp.mean((h @ w2 - y) ** 2) + 0.01 * jnp.sum(w1 * w1)
    ours = grad(mlp_loss, argnums=(0, 1))(*mlp_data)
    theirs = jax.grad(jloss, argnums=(0, 1))(*mlp_data)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-12, atol=1e-14)


def test_against_torch(mlp_data):
    torch = pytest.importorskip("torch")
    w1, w2, x, y = (torch.tensor(a, requires_grad=i < 2) for i, a in enumerate(mlp_data))
    h = torch.tanh(x @ w1)
    loss = torch.mean((h @ w2 - y) ** 2) + 0.01 * torch.sum(w1 * w1)
    theirs = torch.autograd.grad(loss, [w1, w2])
    ours = grad(mlp_loss, argnums=(0, 1))(*mlp_data)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-12, atol=1e-14)


def test_against_hips_autograd():
    ag = pytest.importorskip("autograd")
    anp = pytest.importorskip("autograd.numpy")
    f = lambda x: anp.sum(anp.tanh(anp.sin(x) * anp.exp(-x * x)) + anp.log1p(x * x))
    g = lambda x: np.sum(np.tanh(np.sin(x) * np.exp(-x * x)) + np.log1p(x * x))
    x = np.linspace(-2, 2, 101)
    np.testing.assert_allclose(grad(g)(x), ag.grad(f)(x), rtol=1e-12, atol=1e-15)


@st.composite
def _slices(draw, n):
    start = draw(st.integers(-n - 1, n + 1))
    stop = draw(st.integers(-n - 1, n + 1))
    step = draw(st.sampled_from([1, 1, 2, 3, -1, -2]))
    return slice(start, stop, step)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), n=st.integers(1, 9), m=st.integers(1, 4))
def test_compiled_index_maps_match_interpreter(data, n, m):
    """Slices, negative steps, diff, roll and concatenate in the backward pass become pads and
    split loops: the compiled kernel must agree with the reference interpreter everywhere."""
    s1, s2, s3 = data.draw(_slices(n)), data.draw(_slices(n)), data.draw(_slices(m))
    shift = data.draw(st.integers(-3, 3))
    x = np.random.default_rng(n * 7 + m).standard_normal((n, m))

    def f(x):
        a = x[s1] * 2.0
        b = np.sin(x[s2])
        out = np.sum(a * a) + np.sum(b) + np.sum(np.diff(x, axis=0) ** 2) + np.sum(np.roll(x, shift, 0)[:1] * x[-1:])
        out = out + np.sum(np.tanh(x[:, s3]) * x[:, s3][::-1]) + np.sum(np.concatenate([x, x[:, s3]], axis=1) ** 3)
        return out + np.sum(np.concatenate([x[s1], x, x[s2] ** 2], axis=0) ** 2)
    value, g = value_and_grad(f)(x)
    with disable_jit():
        ref_value, ref_g = value_and_grad(f)(x)
    np.testing.assert_allclose(value, ref_value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, ref_g, rtol=1e-12, atol=1e-12)
    assert value == pytest.approx(f(x), rel=1e-12, abs=1e-12)   # and NumPy agrees on the value
