"""Regressions of the NumPy front end and its primitives (issue 7): indexing, roll, norms, special
values of logaddexp/hypot/fmax/prod, axis validation, NumPy 2 promotion, dtypes, random numbers in
traced functions, and errors that say the fix.  Values are checked against NumPy, derivatives
against JAX (when installed), finite differences or analytic values."""
import itertools
import math
import warnings

import numpy as np
import pytest

from compiler import (TracingError, UnsupportedFunctionError, disable_jit, grad, hessian, jacfwd, jit, jvp,
                      make_ir)
from compiler.errors import RandomInTraceError, UnsupportedDtypeError
from compiler.interpreter import eval_program
from conftest import central_difference

HERE = __file__


def interpret(f, *xs):
    """f traced and run by the reference interpreter: the front end's values, without a compile."""
    out = eval_program(make_ir(f)(*xs), list(xs))
    return out[0] if len(out) == 1 else out


def line_of(fn, marker):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if marker in line)


def jax_grad(f, *xs):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return [np.asarray(g) for g in jax.grad(f, argnums=tuple(range(len(xs))))(*xs)]


# ---------------------------------------------------------------- item 3: advanced indexing

X3 = np.arange(60.0).reshape(3, 4, 5)
_ENTRIES = [0, -1, slice(None), slice(1, None, 2), slice(None, None, -2), np.array([0, 2, 1]),
            np.array([[1], [3]]), None, Ellipsis, np.array(2), [2, 0]]


def _keys():
    for r in range(1, 4):
        for key in itertools.product(_ENTRIES, repeat=r):
            try:
                X3[key]
            except IndexError:
                continue
            yield key


def test_indexing_matches_numpy_for_every_combination_of_index_kinds():
    """Integer arrays, integers, slices, None and ... in every order: advanced indices separated by
    a slice, None or ... put their dimensions first, adjacent ones keep their place (NumPy's rule)."""
    count = 0
    for key in _keys():
        ours = interpret(lambda x: x[key], X3)
        assert np.shape(ours) == X3[key].shape and np.array_equal(ours, X3[key]), key
        count += 1
    assert count > 1000


@pytest.mark.parametrize("key", [(0, slice(None), np.array([3, 0, 4])), (np.array([2, 0]), slice(1, 3), -1),
                                 (slice(None), 1, np.array([[0], [4]])), (np.array([1, 1]), None, np.array([0, 2]))])
def test_separated_advanced_index_compiled_value_and_gradient(key):
    w = np.random.default_rng(0).standard_normal(X3[key].shape)
    np.testing.assert_array_equal(jit(lambda x: x[key])(X3), X3[key])
    expected = np.zeros_like(X3)
    np.add.at(expected, key, w)                      # NumPy's own scatter of the cotangent
    np.testing.assert_array_equal(grad(lambda x: np.sum(x[key] * w))(X3), expected)


def test_float_index_arrays_raise_index_error_as_in_numpy():
    with pytest.raises(IndexError, match="integer"):
        jit(lambda x: x[np.array([0.0, 1.0])])(np.ones(3))
    with pytest.raises(IndexError, match="integer"):
        jit(lambda x, i: x[i])(np.ones(3), np.array([0.0, 1.0]))     # a traced float index


def test_empty_integer_index_of_an_empty_axis():
    x = np.ones((0, 3))
    out = interpret(lambda x: x[np.array([], int)], x)
    assert np.shape(out) == x[np.array([], int)].shape


# ---------------------------------------------------------------- item 4 and 21: roll, diff

@pytest.mark.parametrize("shift, axis", [(1, (0, 1)), ((1, -2), (0, 1)), ((2, 3), 1), (1, (1, 1)), (-7, None),
                                         ((1, 2), (-1, 0)), (0, 0)])
def test_roll_with_tuple_shifts_and_axes(shift, axis):
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(interpret(lambda x: np.roll(x, shift, axis), x), np.roll(x, shift, axis))


def test_roll_over_two_axes_compiled():
    x = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(jit(lambda x: np.roll(x, 1, axis=(0, 1)))(x), np.roll(x, 1, axis=(0, 1)))


@pytest.mark.parametrize("kwargs", [dict(prepend=0.0), dict(append=[[5.0], [6.0], [7.0]]), dict(prepend=1, append=2.5),
                                    dict(n=2, prepend=np.zeros((3, 1))), dict(n=0), dict(axis=0, prepend=-1.0)])
def test_diff_with_prepend_and_append(kwargs):
    x = np.arange(12.0).reshape(3, 4) ** 2
    np.testing.assert_array_equal(interpret(lambda x: np.diff(x, **kwargs), x), np.diff(x, **kwargs))


def test_diff_gradient_with_prepend():
    x = np.array([1.0, 4.0, 2.0])
    w = np.array([1.0, -2.0, 3.0])
    f = lambda x: np.sum(np.diff(x, prepend=x[-1]) * w)
    g = grad(f)(x)
    np.testing.assert_allclose(g, [w[0] - w[1], w[1] - w[2], w[2] - w[0]])
    v = np.array([0.3, -1.0, 2.0])
    np.testing.assert_allclose(np.sum(g * v), central_difference(f, [x], [v]), rtol=1e-8)


def test_diff_errors_as_numpy():
    with pytest.raises(ValueError, match="non-negative"):
        jit(lambda x: np.diff(x, n=-1))(np.ones(3))
    with pytest.raises(ValueError, match="at least one dimensional"):
        jit(lambda x: np.diff(x))(1.0)


# ---------------------------------------------------------------- item 5: norms

_ORDS = [None, 1, -1, 2, -2, np.inf, -np.inf, 0, 3, 0.5, -1.5, "fro", "f", "nuc", "bad"]
_AXES = [None, 0, -1, (0, 1), (1, 0), (0, 0), (-1, -2), 2, (0, 1, 2)]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_norm_matches_numpy_for_every_order_and_axis():
    """Every (ord, axis, keepdims) NumPy accepts gives NumPy's value; what NumPy rejects raises the
    same kind of error; matrix 2/-2/nuc norms (singular values) raise a clear unsupported error."""
    rng = np.random.default_rng(1)
    for shape in [(5,), (3, 4), (2, 3, 4), (0, 3)]:
        x = rng.standard_normal(shape)
        x[(0,) * x.ndim if x.size else ()] = 0.0
        for ord_, axis, keepdims in itertools.product(_ORDS, _AXES, [False, True]):
            fn = lambda x: np.linalg.norm(x, ord_, axis, keepdims)
            case = (shape, ord_, axis, keepdims)
            try:
                expected, expected_error = fn(x), None
            except Exception as e:
                expected, expected_error = None, e
            try:
                ours = interpret(fn, x)
            except UnsupportedFunctionError as e:
                assert ord_ in (2, -2, "nuc") and "singular values" in str(e), case
                continue
            except Exception as e:
                assert isinstance(e, type(expected_error)) or isinstance(expected_error, type(e)), (case, e)
                continue
            assert expected_error is None, case
            assert np.shape(ours) == np.shape(expected), case
            np.testing.assert_allclose(ours, expected, rtol=1e-13, atol=1e-13, err_msg=str(case))


@pytest.mark.parametrize("ord_", [1, -1, np.inf, -np.inf, "fro"])
def test_matrix_norm_compiled_value_and_gradient(ord_):
    a = np.array([[1.0, -2.0, 3.5], [0.5, 4.0, -1.0]])
    f = lambda a: np.linalg.norm(a, ord_, axis=(0, 1))
    assert jit(f)(a) == pytest.approx(f(a), rel=1e-14)
    v = np.random.default_rng(2).standard_normal(a.shape)
    np.testing.assert_allclose(np.sum(grad(f)(a) * v), central_difference(f, [a], [v]), rtol=1e-6)


def test_vector_norm_orders_gradient():
    x = np.array([0.3, -1.2, 2.0, 0.7])
    for ord_ in [3, 0.5, -1, -np.inf, np.inf, 1]:
        f = lambda x: np.linalg.norm(x, ord_)
        v = np.random.default_rng(3).standard_normal(4)
        with disable_jit():
            g = grad(f)(x)
        np.testing.assert_allclose(np.sum(g * v), central_difference(f, [x], [v]), rtol=1e-6, err_msg=str(ord_))


# ---------------------------------------------------------------- item 7: logaddexp and hypot

INF, NAN = np.inf, np.nan


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_logaddexp_special_values_compiled():
    a = np.array([-INF, INF, INF, -INF, 1.0, NAN, 700.0, -745.0])
    b = np.array([-INF, INF, 1.0, 2.0, 1.0, 1.0, 700.0, -745.0])
    np.testing.assert_array_equal(jit(np.logaddexp)(a, b), np.logaddexp(a, b))


def test_logaddexp_gradient_matches_jax_and_is_finite_at_equal_infinities():
    jnp = pytest.importorskip("jax.numpy")
    g = grad(lambda a, b: np.logaddexp(a, b), argnums=(0, 1))
    for a, b in [(1.0, 1.0), (0.3, -2.0), (-INF, 1.0), (1.0, -INF), (INF, 1.0), (40.0, -3.0)]:
        if a == INF:            # JAX says (1, e) here: d/db of log(e^inf + e^b) is 0
            np.testing.assert_allclose(g(a, b), (1.0, 0.0))
            continue
        np.testing.assert_allclose(g(a, b), jax_grad(jnp.logaddexp, a, b), rtol=1e-14, err_msg=str((a, b)))
    # JAX gives nan at (-inf, -inf) and (1, 1) at (inf, inf); the limit along the diagonal is 1/2 each
    np.testing.assert_array_equal(g(-INF, -INF), (0.5, 0.5))
    np.testing.assert_array_equal(g(INF, INF), (0.5, 0.5))


def test_logaddexp_second_derivative_at_a_tie():
    """d2/da2 logaddexp(a, b) = s (1 - s) with s = sigmoid(a - b): 1/4 at a == b."""
    h = hessian(lambda v: np.logaddexp(v[0], v[1]))(np.array([0.7, 0.7]))
    np.testing.assert_allclose(h, [[0.25, -0.25], [-0.25, 0.25]], rtol=1e-14)


def test_hypot_does_not_overflow_or_underflow():
    a = np.array([1e200, 1e-200, 3e-320, INF, 0.0, -3.0])
    b = np.array([1e200, 1e-200, 4e-320, NAN, 0.0, 4.0])
    np.testing.assert_array_equal(jit(np.hypot)(a, b), np.hypot(a, b))


def test_hypot_gradient_follows_jax_at_zero_and_is_exact_elsewhere():
    jnp = pytest.importorskip("jax.numpy")
    g = grad(lambda a, b: np.hypot(a, b), argnums=(0, 1))
    for a, b in [(0.0, 0.0), (3.0, -4.0), (0.0, 2.0), (-3.0, 0.0)]:
        np.testing.assert_allclose(g(a, b), jax_grad(jnp.hypot, a, b), rtol=1e-14, err_msg=str((a, b)))
    for big_or_tiny in (1e200, 1e-200):    # JAX: 1.06 and -inf
        np.testing.assert_allclose(g(big_or_tiny, big_or_tiny), (2 ** -0.5, 2 ** -0.5), rtol=1e-14)
    x = np.array([0.6, -1.3])
    h = hessian(lambda v: np.hypot(v[0], v[1]))(x)
    r = np.hypot(*x)
    np.testing.assert_allclose(h, (np.eye(2) * r ** 2 - np.outer(x, x)) / r ** 3, rtol=1e-13)


# ---------------------------------------------------------------- item 8: fmax / fmin

def test_fmax_fmin_ignore_nan_as_numpy():
    a = np.array([NAN, 1.0, NAN, 2.0, -INF, 3.0])
    b = np.array([2.0, NAN, NAN, 2.0, NAN, -1.0])
    fmax, fmin = jit(lambda a, b: (np.fmax(a, b), np.fmin(a, b)))(a, b)
    np.testing.assert_array_equal(fmax, np.fmax(a, b))
    np.testing.assert_array_equal(fmin, np.fmin(a, b))


@pytest.mark.parametrize("fn", ["fmax", "fmin"])
def test_fmax_fmin_gradients_as_jax(fn):
    jnp = pytest.importorskip("jax.numpy")
    g = grad(lambda a, b: getattr(np, fn)(a, b), argnums=(0, 1))
    for a, b in [(1.0, 1.0), (NAN, 1.0), (1.0, NAN), (2.0, 1.0), (-1.0, 3.0)]:
        np.testing.assert_array_equal(g(a, b), jax_grad(getattr(jnp, fn), a, b), err_msg=str((a, b)))


# ---------------------------------------------------------------- item 9: prod through inf, nan, zeros, underflow

@pytest.mark.parametrize("x", [[INF, 2.0, 3.0], [1e-200, 1e-200, 1e200], [NAN, 2.0, 3.0], [0.0, 0.0, 2.0, 3.0],
                               [0.0, 5.0, -2.0], [2.0, 3.0, 0.5]])
def test_prod_gradient_as_jax(x):
    jnp = pytest.importorskip("jax.numpy")
    x = np.array(x)
    np.testing.assert_array_equal(grad(np.prod)(x), jax_grad(jnp.prod, x)[0])


def test_prod_second_derivative_with_several_zeros():
    """d2 prod / dx_i dx_j = product of the entries other than i and j."""
    for x in [np.array([0.0, 0.0, 2.0, 3.0]), np.array([0.0, 0.0, 0.0, 3.0]), np.array([1.5, 0.0, -2.0, 0.5])]:
        expected = np.array([[0.0 if i == j else np.prod(np.delete(x, [i, j])) for j in range(4)] for i in range(4)])
        np.testing.assert_array_equal(hessian(np.prod)(x), expected)
        with disable_jit():
            np.testing.assert_array_equal(hessian(np.prod)(x), expected)


def test_prod_over_several_axes_and_empty_axes():
    x = np.random.default_rng(4).uniform(0.5, 1.5, (2, 3, 4))
    f = lambda x: np.sum(np.prod(x, axis=(0, 2)) * np.arange(1.0, 4.0))
    v = np.random.default_rng(5).standard_normal(x.shape)
    np.testing.assert_allclose(np.sum(grad(f)(x) * v), central_difference(f, [x], [v]), rtol=1e-7)
    e = np.ones((3, 0))
    np.testing.assert_array_equal(jit(lambda e: np.prod(e, axis=1))(e), np.ones(3))
    assert grad(lambda e: np.sum(np.prod(e, axis=1)))(e).shape == (3, 0)


def test_cumsum_cumprod_values_and_derivatives():
    jnp = pytest.importorskip("jax.numpy")
    x = np.array([[2.0, 0.0, -1.5], [0.0, 3.0, 0.0]])
    for fn in ["cumsum", "cumprod"]:
        for axis in [None, 0, 1, -1]:
            np.testing.assert_array_equal(interpret(lambda x: getattr(np, fn)(x, axis=axis), x),
                                          getattr(np, fn)(x, axis=axis))
        w = np.arange(6.0).reshape(2, 3) if fn != "cumprod" else np.arange(1.0, 7.0).reshape(2, 3)
        f = lambda x: np.sum(getattr(np, fn)(x, axis=1) * w)
        jf = lambda x: jnp.sum(getattr(jnp, fn)(x, axis=1) * w)
        np.testing.assert_allclose(grad(f)(x), jax_grad(jf, x)[0], rtol=1e-14)
    assert interpret(lambda x: np.cumsum(x > 0), x).dtype == np.cumsum(x > 0).dtype


# ---------------------------------------------------------------- item 10: axes are validated

@pytest.mark.parametrize("fn, error", [
    (lambda x: np.transpose(x, (0, 3)), np.exceptions.AxisError),
    (lambda x: np.transpose(x, (0, 0)), ValueError),
    (lambda x: np.transpose(x, (1, 0, 2)), ValueError),
    (lambda x: x.transpose(0, -3), np.exceptions.AxisError),
    (lambda x: np.moveaxis(x, (0, 0), (1, 0)), ValueError),
    (lambda x: np.moveaxis(x, (0, 1), 0), ValueError),
    (lambda x: np.moveaxis(x, 2, 0), np.exceptions.AxisError),
    (lambda x: np.sum(x, axis=1.0), TypeError),
    (lambda x: np.sum(x, axis=(0, -2)), ValueError),
    (lambda x: np.max(x, axis=2), np.exceptions.AxisError),
    (lambda x: np.swapaxes(x, 0, 2), np.exceptions.AxisError),
    (lambda x: np.expand_dims(x, 3), np.exceptions.AxisError),
    (lambda x: np.expand_dims(x, None), TypeError),
    (lambda x: np.cumsum(x, axis=-3), np.exceptions.AxisError),
    (lambda x: np.roll(x, 1, axis=2), np.exceptions.AxisError),
    (lambda x: np.concatenate([x, x], axis=2), np.exceptions.AxisError),
    (lambda x: np.stack([x, x], axis=-4), np.exceptions.AxisError),
    (lambda x: np.linalg.norm(x, axis=(0, 0)), ValueError),
    (lambda x: np.diff(x, axis=2), np.exceptions.AxisError),
])
def test_axes_are_validated_as_numpy(fn, error):
    x = np.ones((2, 3))
    with pytest.raises(error):
        fn(x)                       # NumPy raises it...
    with pytest.raises(error):
        make_ir(fn)(x)              # ...and so does the front end


def test_zero_dimensional_reductions_accept_axis_zero_as_numpy():
    x = np.array(2.5)
    for fn in [np.sum, np.prod, np.max, np.min, np.cumsum, np.mean]:
        for axis in [0, -1, (0,), 1]:
            try:
                expected = fn(x, axis=axis)
            except (TypeError, ValueError) as e:
                with pytest.raises(type(e)):
                    interpret(lambda x: fn(x, axis=axis), x)
                continue
            np.testing.assert_array_equal(interpret(lambda x: fn(x, axis=axis), x), expected)


# ---------------------------------------------------------------- item 11: abs'(0)

def test_abs_derivative_at_zero_is_one_as_in_jax():
    assert grad(np.abs)(0.0) == 1.0 and grad(np.abs)(-0.0) == 1.0 and grad(np.abs)(-2.0) == -1.0
    with disable_jit():
        assert grad(lambda x: np.sum(np.abs(x)))(np.zeros(2)).tolist() == [1.0, 1.0]


# ---------------------------------------------------------------- item 12: NumPy 2 promotion

_OPERANDS = {
    "int": 3, "float": 2.0, "bool": True, "f64 scalar": np.float64(2.0), "f32 scalar": np.float32(2.0),
    "i32 scalar": np.int32(3), "f64 0-d": np.array(2.0), "i64 0-d": np.array(3), "f32 array": np.ones(3, np.float32),
    "f64 array": np.ones(3), "i32 array": np.ones(3, np.int32), "i64 array": np.ones(3, np.int64),
    "bool array": np.ones(3, bool), "u8 array": np.ones(3, np.uint8),
}
_OPS = {"+": lambda a, b: a + b, "*": lambda a, b: a * b, "/": lambda a, b: a / b, "**": lambda a, b: a ** b,
        "<": lambda a, b: a < b, "//": lambda a, b: a // b, "%": lambda a, b: a % b, "maximum": np.maximum,
        "float_power": np.float_power, "where": lambda a, b: np.where(True, a, b), "hypot": np.hypot,
        "logaddexp": np.logaddexp, "fmax": np.fmax, "-": lambda a, b: a - b}
_TRACED = ["f32 array", "f64 array", "i64 array", "bool array", "f32 scalar", "f64 0-d", "i32 array"]


def test_result_dtypes_follow_numpy_2():
    """Every op between a traced operand (first or second) and a Python scalar, NumPy scalar, 0-d
    array or array of another dtype has the dtype NumPy 2 gives (Python scalars weak, NumPy ones not)."""
    checked = 0
    for (op_name, op), traced, other in itertools.product(_OPS.items(), _TRACED, _OPERANDS):
        for order in (0, 1):
            a, b = (_OPERANDS[traced], _OPERANDS[other])[::1 if order == 0 else -1]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    expected = np.result_type(op(a, b))
            except (TypeError, ValueError, OverflowError):
                continue
            fn = (lambda t: op(t, b)) if order == 0 else (lambda t: op(a, t))
            try:
                prog = make_ir(fn)(_OPERANDS[traced])
            except UnsupportedFunctionError:      # integer ** integer array: a clear error
                assert op_name == "**"
                continue
            assert prog.outvars[0].aval.dtype == expected, (op_name, traced, other, order)
            checked += 1
    assert checked > 1000


def test_float_power_and_numpy_scalar_exponents_compiled():
    x = np.array([1.5, 2.0], np.float32)
    assert jit(lambda x: np.float_power(x, 2))(x).dtype == np.float64
    assert jit(lambda x: x ** np.float64(2.0))(x).dtype == np.float64
    assert jit(lambda x: x ** 2.0)(x).dtype == np.float32
    assert jit(lambda x: x.astype(np.int64) ** 2.0)(x).dtype == np.float64
    with pytest.raises(ValueError, match="negative integer powers"):
        jit(lambda x: x.astype(np.int64) ** -1)(x)


def test_reductions_accumulate_small_integers_in_numpy_default_types():
    for dtype in [np.bool_, np.int8, np.uint8, np.int32]:
        x = np.array([1, 0, 1], dtype)
        for fn in [np.sum, np.prod, np.cumsum, np.cumprod]:
            assert interpret(fn, x).dtype == fn(x).dtype, (fn, dtype)


# ---------------------------------------------------------------- item 21: dtypes and byte orders

def test_big_endian_arguments_and_constants_are_converted():
    x = np.arange(3.0).astype(">f8")
    c = np.array([1.0, 2.0, 4.0], ">f8")
    f = jit(lambda x: x * c + np.ones(3))
    np.testing.assert_array_equal(f(x), x * c + 1)
    np.testing.assert_array_equal(f(x), x * c + 1)        # the fast path too
    np.testing.assert_array_equal(f(x.astype("<f8")), x * c + 1)
    np.testing.assert_array_equal(grad(lambda x: np.sum(x * c))(x), c)


@pytest.mark.parametrize("dtype, fix", [(np.float16, "float32"), (np.longdouble, "float64"),
                                        (np.complex128, "real and imaginary")])
def test_unsupported_dtypes_name_the_dtype_and_the_fix(dtype, fix):
    if np.dtype(dtype) == np.float64:
        pytest.skip("long double is double on this platform")
    name = np.dtype(dtype).name
    with pytest.raises(UnsupportedDtypeError, match=rf"{name}[\s\S]*{fix}"):
        jit(lambda x: x * 2)(np.ones(3, dtype))                       # an argument
    c = np.ones(3, dtype)
    with pytest.raises(UnsupportedDtypeError, match=rf"{name}[\s\S]*{fix}"):
        jit(lambda x: (x, c * 2))(np.ones(3))                          # a captured constant

    def inside(x):
        return x.astype(dtype) * 2   # CAST
    with pytest.raises(UnsupportedDtypeError, match=rf"{name}[\s\S]*{fix}[\s\S]*{HERE}:{line_of(inside, 'CAST')}"):
        jit(inside)(np.ones(3))                                        # a value computed inside
    with disable_jit():                                                # NumPy computes it fine
        assert jit(lambda x: x * 2)(np.ones(3, dtype)).dtype == np.dtype(dtype)


def test_full_like_with_a_traced_fill_value():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(jit(lambda x: np.full_like(x, x[1]))(x), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(grad(lambda x: np.sum(np.full_like(x, x[1], shape=(2, 2))))(x), [0, 4.0, 0])
    np.testing.assert_array_equal(interpret(lambda x: np.full_like(x, [5.0, 6.0, 7.0]), x), [5.0, 6.0, 7.0])
    with pytest.raises(UnsupportedFunctionError, match=r"np\.broadcast_to\(v, a\.shape\)"):
        jit(lambda x: np.full_like(np.zeros(3), x[1]))(x)             # NumPy dispatches on `a` only


# ---------------------------------------------------------------- item 27: random numbers inside a trace

_RNG = np.random.default_rng(7)


def _draws_from_closed_over_generator(x):
    return x + _RNG.normal(size=3)   # DRAW


def _draws_from_global_state(x):
    noise = np.random.normal(size=3)   # GLOBAL
    return x + noise


@pytest.mark.parametrize("fn, marker", [(_draws_from_closed_over_generator, "DRAW"),
                                        (_draws_from_global_state, "GLOBAL")])
def test_random_draws_inside_a_trace_raise_at_the_line(fn, marker):
    state = _RNG.bit_generator.state, np.random.get_state(legacy=False)
    with pytest.raises(RandomInTraceError, match=rf"pass them in as an argument[\s\S]*{HERE}:{line_of(fn, marker)}"):
        jit(fn)(np.ones(3))
    assert _RNG.bit_generator.state == state[0]                          # the failed trace drew nothing
    assert np.array_equal(np.random.get_state(legacy=False)["state"]["key"], state[1]["state"]["key"])


def test_unseeded_generator_inside_a_trace_raises_and_seeded_one_is_allowed():
    def unseeded(x):
        return x * np.random.default_rng().uniform()   # UNSEEDED
    with pytest.raises(RandomInTraceError, match=rf"without a seed[\s\S]*{HERE}:{line_of(unseeded, 'UNSEEDED')}"):
        grad(lambda x: np.sum(unseeded(x)))(np.ones(2))
    seeded = lambda x: x * np.random.default_rng(0).uniform()          # the same numbers on every call
    np.testing.assert_array_equal(jit(seeded)(np.ones(2)), seeded(np.ones(2)))
    assert np.random.default_rng().uniform() >= 0                      # untouched outside traces


# ---------------------------------------------------------------- item 28: errors that say the fix; % and //

_A = np.array([5.0, -5.0, 5.0, -5.0, 7.5, -0.5, 3.0, 0.0, INF, 2.0, NAN, 4.0])
_B = np.array([3.0, 3.0, -3.0, -3.0, 2.0, 2.0, 0.0, 3.0, 2.0, INF, 1.0, -INF])


def test_mod_and_floor_divide_follow_numpy_sign_conventions():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = jit(lambda a, b: (a % b, a // b, np.remainder(a, b), np.mod(a, 2.5), np.floor_divide(-a, b),
                              np.divmod(a, b)[0], divmod(a, b)[1], 7.0 % b, 7 // b))
        expected = (_A % _B, _A // _B, np.remainder(_A, _B), np.mod(_A, 2.5), np.floor_divide(-_A, _B),
                    np.divmod(_A, _B)[0], divmod(_A, _B)[1], 7.0 % _B, 7 // _B)
        for ours, ref in zip(f(_A, _B), expected):
            np.testing.assert_array_equal(ours, ref)
    i, j = np.array([7, -7, 7, -7, 0]), np.array([2, 2, -2, -2, 3])
    ours = jit(lambda i, j: (i % j, i // j, i % 3))(i, j)
    for o, r in zip(ours, (i % j, i // j, i % 3)):
        assert o.dtype == r.dtype and np.array_equal(o, r)


def test_remainder_gradient_as_jax():
    jnp = pytest.importorskip("jax.numpy")
    g = grad(lambda a, b: np.remainder(a, b), argnums=(0, 1))
    for a, b in [(5.0, 3.0), (-5.0, 3.0), (5.0, -3.0), (-5.0, -3.0), (7.5, 2.0)]:
        np.testing.assert_array_equal(g(a, b), jax_grad(jnp.remainder, a, b))
    assert grad(lambda a: a // 2.0)(5.0) == 0.0


def test_rounding_functions_values_dtypes_and_zero_derivatives():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.125, 2.675, -3.7])
    fns = [np.floor, np.ceil, np.trunc, np.rint, np.round, lambda x: np.round(x, 2), lambda x: np.round(x * 100, -1),
           lambda x: x.round(1)]
    for fn in fns:
        np.testing.assert_array_equal(interpret(fn, x), fn(x))
        np.testing.assert_array_equal(grad(lambda x: np.sum(fn(x)))(x), np.zeros_like(x))
    ints = np.array([-3, 4])
    for fn in [np.floor, np.ceil, np.trunc, np.rint, np.round]:
        out = interpret(fn, ints)
        assert out.dtype == fn(ints).dtype and np.array_equal(out, fn(ints))


def test_isnan_isinf_isfinite():
    x = np.array([1.0, NAN, INF, -INF, 0.0])
    for fn in [np.isnan, np.isinf, np.isfinite]:
        np.testing.assert_array_equal(jit(fn)(x), fn(x))
        np.testing.assert_array_equal(interpret(fn, np.arange(3)), fn(np.arange(3)))


def test_assigning_a_traced_value_into_a_numpy_array_says_build_it_instead():
    def f(x):
        y = np.zeros(3)
        y[0] = x[0]   # STORE
        return y
    with pytest.raises(TracingError, match=rf"np\.stack[\s\S]*{HERE}:{line_of(f, 'STORE')}"):
        jit(f)(np.ones(3))

    def g(x):
        y = np.zeros(3)
        y[:2] = x[:2]   # SLICE
        return y
    with pytest.raises(TracingError, match=rf"np\.stack[\s\S]*{HERE}:{line_of(g, 'SLICE')}"):
        jit(g)(np.ones(3))


def test_math_module_call_says_use_numpy():
    with pytest.raises(TracingError, match=r"np\.exp\(x\) instead of math\.exp\(x\)"):
        grad(lambda x: math.exp(x))(1.0)


def test_np_array_of_traced_values_says_stack():
    with pytest.raises(TracingError, match=r"np\.stack"):
        jit(lambda x: np.array([x[0], x[1]]))(np.ones(3))


def test_unsupported_function_error_is_short_and_suggests():
    with pytest.raises(UnsupportedFunctionError) as info:
        jit(lambda x: np.einsum("i,i", x, x))(np.ones(3))
    message = str(info.value)
    assert "np.einsum is not supported" in message and "np.matmul" in message and len(message) < 400
    with pytest.raises(UnsupportedFunctionError, match=r"Nearest supported: .*np\.cumsum"):
        jit(lambda x: np.nancumsum(x))(np.ones(3))


# ---------------------------------------------------------------- front-end odds and ends

def test_ufunc_accumulate_is_a_cumulative_sum():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(interpret(lambda x: np.add.accumulate(x), x), np.add.accumulate(x))
    np.testing.assert_array_equal(interpret(lambda x: np.multiply.accumulate(x, axis=1), x),
                                  np.multiply.accumulate(x, axis=1))


def test_jvp_of_new_primitives_matches_finite_differences():
    x = np.array([0.4, -1.1, 2.3])
    y = np.array([1.7, 0.6, -0.9])
    f = lambda x, y: np.logaddexp(x, y) * np.hypot(x, y) + np.cumprod(x) + np.remainder(x, 3.0)
    _, t = jvp(f, (x, y), (np.ones(3), np.ones(3) * 0.5))
    np.testing.assert_allclose(t, central_difference(f, [x, y], [np.ones(3), np.ones(3) * 0.5]), rtol=1e-7)
    np.testing.assert_allclose(jacfwd(lambda x: np.cumsum(x))(x), np.tril(np.ones((3, 3))))


def test_an_empty_index_into_an_empty_axis_is_empty_as_in_numpy():
    """Found by the randomized test: x[..., empty index] with x of size 0 raised IndexError."""
    import runtime as rt
    from compiler import grad, jit
    empty, none = np.ones(0), np.array([], dtype=np.int64)
    assert jit(lambda x, i: x[i])(empty, none).shape == empty[none].shape == (0,)
    assert grad(lambda x, i: np.sum(x[i]))(empty, none).shape == (0,)
    t = rt.from_numpy(empty.copy()).requires_grad_()
    t[..., none].sum().backward()
    assert t.grad.shape == (0,)
