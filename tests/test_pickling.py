"""Transformed functions pickle by re-tracing where they are loaded (compiler.pickling), so they cross
process boundaries: pickle, multiprocessing and concurrent.futures with the spawn start method."""
import concurrent.futures
import multiprocessing
import pickle
import sys

import numpy as np
import pytest

import compiler
from compiler import grad, hessian, jacrev, jit, value_and_grad
from compiler.dispatch import stats


def squares(x):
    return np.sum(x * x)


def scaled_squares(scale):
    return lambda x: np.sum(scale * x * x)         # a closure: needs cloudpickle to leave the process


def _apply(fun, *args):
    return fun(*args)


X = np.array([0.5, -1.0, 2.0])


def test_transformed_functions_round_trip_and_keep_their_arguments():
    pytest.importorskip("cloudpickle")
    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    cases = [
        (grad(scaled_squares(3.0)), (X,), 6.0 * X),
        (value_and_grad(lambda u, v: np.sum(u * v), argnums=(0, 1)), (a, b), (np.sum(a * b), (b, a))),
        (grad(lambda u, v: np.sum(u * v), argnums=1), (a, b), a),
        (jit(scaled_squares(2.0)), (X,), 2.0 * np.sum(X * X)),
        (jacrev(lambda x: x * x), (X,), np.diag(2 * X)),
        (hessian(lambda x: np.sum(x ** 3)), (X,), np.diag(6 * X)),
        (grad(grad(lambda t: t ** 3)), (2.0,), 12.0),
    ]
    for fun, args, expected in cases:
        copy = pickle.loads(pickle.dumps(fun))
        assert copy is not fun and copy.__name__ == fun.__name__
        result = copy(*args)
        np.testing.assert_allclose(np.asarray(result[0] if isinstance(expected, tuple) else result),
                                   np.asarray(expected[0] if isinstance(expected, tuple) else expected),
                                   rtol=1e-14, err_msg=fun.__name__)
        if isinstance(expected, tuple):
            for r, e in zip(result[1], expected[1]):
                np.testing.assert_allclose(r, e, rtol=1e-14)


def test_copies_unpickled_in_one_process_are_one_object_traced_once():
    pytest.importorskip("cloudpickle")
    payload = pickle.dumps(grad(scaled_squares(5.0)))
    before = stats["traces"]
    copies = [pickle.loads(payload) for _ in range(3)]
    results = [c(X) for c in copies]
    assert copies[0] is copies[1] is copies[2]
    assert stats["traces"] - before == 1
    np.testing.assert_allclose(results[2], 10.0 * X, rtol=1e-14)


def test_internal_functions_refuse_with_a_clear_error():
    cloudpickle = pytest.importorskip("cloudpickle")
    _, vjp_fn = compiler.vjp(lambda x: x * x, X)
    with pytest.raises(TypeError, match="internal gradjit function .* Ship the user function"):
        cloudpickle.dumps(vjp_fn)


def test_without_cloudpickle_module_functions_pickle_and_lambdas_explain(monkeypatch):
    monkeypatch.setitem(sys.modules, "cloudpickle", None)        # import cloudpickle -> ImportError
    np.testing.assert_allclose(pickle.loads(pickle.dumps(grad(squares)))(X), 2 * X, rtol=1e-14)
    with pytest.raises(pickle.PicklingError, match="Install cloudpickle"):
        pickle.dumps(grad(scaled_squares(1.0)))


@pytest.fixture(scope="module")
def spawn():
    pytest.importorskip("cloudpickle")
    return multiprocessing.get_context("spawn")       # a fresh interpreter: nothing inherited but arguments


def test_process_pool_executor_with_spawn_runs_lambdas_closures_and_jacobians(spawn):
    jobs = [(grad(squares), X, 2 * X),
            (grad(scaled_squares(3.0)), X, 6 * X),
            (hessian(lambda x: np.sum(x ** 3)), X, np.diag(6 * X))]
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        futures = [pool.submit(_apply, fun, x) for fun, x, _ in jobs]
        for future, (fun, _, expected) in zip(futures, jobs):
            np.testing.assert_allclose(future.result(timeout=120), expected, rtol=1e-14, err_msg=fun.__name__)


def test_multiprocessing_pool_with_spawn_maps_a_closure_gradient(spawn):
    g = grad(scaled_squares(-2.0))
    inputs = [X, 2 * X, -X]
    with spawn.Pool(1) as pool:
        results = pool.map(g, inputs)
    for x, r in zip(inputs, results):
        np.testing.assert_allclose(r, -4.0 * x, rtol=1e-14)
