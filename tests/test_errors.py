"""Every error a user can meet: the right class, a message naming the problem and the fix,
and the user's own file and line."""
import numpy as np
import pytest

from compiler import (DifferentiationError, ShapeError, TracingError, UnsupportedFunctionError, grad, jacrev,
                      jit)

HERE = __file__


def _line_of(fn, marker):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, l in enumerate(lines) if marker in l)


def test_grad_of_non_scalar_output_names_shape_and_fix():
    with pytest.raises(TypeError, match=r"scalar output.*shape \(3,\).*jacrev.*vjp"):
        grad(lambda x: np.sin(x))(np.ones(3))


@pytest.mark.parametrize("arg", [np.arange(3), np.ones(3, bool), 3, True])
def test_grad_of_integer_or_bool_argument(arg):
    with pytest.raises(TypeError, match="float"):
        grad(lambda x: np.sum(x * 2.0))(arg)


def test_shape_mismatch_reported_at_trace_time_at_user_line():
    def f(x):
        return np.sum(x + np.ones(4))   # MISMATCH
    with pytest.raises(ShapeError, match=rf"\(3,\) \(4,\)[\s\S]*{HERE}:{_line_of(f, 'MISMATCH')}"):
        grad(f)(np.ones(3))


def test_matmul_mismatch():
    with pytest.raises(ValueError, match="mismatch in its core dimension"):
        jit(lambda x: np.ones((2, 4)) @ x)(np.ones(3))


def test_python_if_on_traced_value_suggests_where():
    def f(x):
        if x.sum() > 0:   # BRANCH
            return x.sum()
        return -x.sum()
    with pytest.raises(TracingError, match=rf"np\.where[\s\S]*{HERE}:{_line_of(f, 'BRANCH')}"):
        grad(f)(np.ones(3))


@pytest.mark.parametrize("body", [lambda x: float(x[0]) * x.sum(), lambda x: np.asarray(x).sum(),
                                  lambda x: int(x[0]) * x.sum(), lambda x: x.sum().item()])
def test_concretization_errors(body):
    with pytest.raises(TracingError, match="traced array"):
        grad(body)(np.ones(3))


def test_in_place_assignment_is_rejected():
    def f(x):
        x[0] = 1.0
        return x.sum()
    with pytest.raises(TracingError, match="immutable"):
        grad(f)(np.ones(3))


@pytest.mark.parametrize("name, body, alternative", [
    ("np.median", lambda x: np.median(x), "np.mean"),
    ("np.sort", lambda x: np.sort(x)[0], "np.max"),
    ("np.arctan2", lambda x: np.arctan2(x, x).sum(), "np.arctan"),
    ("np.nanmax", lambda x: np.nanmax(x), "np.max")])
def test_unsupported_function_is_named_with_the_nearest_alternative(name, body, alternative):
    with pytest.raises(UnsupportedFunctionError, match=rf"{name} is not supported") as info:
        grad(body)(np.ones(3))
    assert alternative in str(info.value) and len(str(info.value)) < 600


def test_boolean_mask_indexing_suggests_where():
    with pytest.raises(UnsupportedFunctionError, match="np.where"):
        grad(lambda x: x[x > 0].sum())(np.ones(3))


def test_leaked_tracer():
    leaked = []
    grad(lambda x: (leaked.append(x), x.sum())[1])(np.ones(2))
    with pytest.raises(TracingError, match="escaped"):
        jit(lambda y: y + leaked[0])(np.ones(2))


def test_bad_argnums_and_out_of_range_index():
    with pytest.raises(ValueError, match="argnums"):
        grad(lambda x: x.sum(), argnums=2)(np.ones(3))
    with pytest.raises(IndexError, match="out of bounds"):
        grad(lambda x: x[5])(np.ones(3))


def test_has_aux_requires_pair():
    with pytest.raises(TypeError, match="pair"):
        grad(lambda x: np.sum(x), has_aux=True)(np.ones(2))


def test_jacrev_of_integer_output():
    with pytest.raises(TypeError, match="dtype"):
        jacrev(lambda x: (x > 0).astype(np.int64))(np.ones(2))


def test_internal_frames_are_hidden():
    import traceback
    try:
        grad(lambda x: np.sin(x))(np.ones(3))
    except DifferentiationError as e:
        files = {f.filename for f in traceback.extract_tb(e.__traceback__)}
    assert not any("/compiler/" in f and not f.endswith(("api.py", "dispatch.py")) for f in files)
