"""compiler.dask on a real dask.distributed LocalCluster (two worker processes): data-parallel
gradients equal the single-process gradient to rounding, parameter sweeps compile once per worker,
and a worker killed in the middle of a gradient does not change the result."""
import logging
import os
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from benchmarks import dask_scaling  # noqa: E402  (first: it pins thread counts before Numba starts threads)
import compiler                      # noqa: E402
import compiler.dask as gjd          # noqa: E402

EPS = np.finfo(np.float64).eps
LAMBDA = 1e-3
ROWS, CHUNKS = 200, (60, 60, 60, 20)      # unequal chunks: weights 0.3, 0.3, 0.3, 0.1


def logistic_loss(w, X, y):
    z = y * (X @ w)
    return np.mean(np.log1p(np.exp(-np.abs(z))) + np.maximum(-z, 0.0)) + LAMBDA * np.sum(w * w)


def per_example_gradients(w, X, y):
    """Row j: the gradient of example j's term (softplus(-z_j))' = -sigmoid(-z_j) y_j x_j, by NumPy."""
    z = y * (X @ w)
    return (-y / (1.0 + np.exp(z)))[:, None] * X


def mean_tolerance(w, X, y):
    """Two float64 sums of the same N terms in different orders differ by at most about
    2 N eps sum|term| (here the terms are g_j / N); the chunked version adds a few roundings of its
    own (n_i * mean_i, / N), covered by the factor 4."""
    return 4 * len(X) * EPS * (np.mean(np.abs(per_example_gradients(w, X, y)), axis=0) + 2 * LAMBDA * np.abs(w))


def _worker_traces():
    from compiler.dispatch import stats
    return stats["traces"]


@pytest.fixture(scope="module")
def client():
    # the test module's functions travel by value: the workers need not import it
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    # compile the chunk kernels here first: the workers load them from the shared disk cache
    # (GRADJIT_CACHE_DIR, set by conftest and inherited by the worker processes)
    kernel = compiler.value_and_grad(logistic_loss)
    for n in set(CHUNKS):
        kernel(np.ones(4), np.ones((n, 4)), np.ones(n))
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=":0", silence_logs=logging.CRITICAL)
    try:
        with distributed.Client(cluster) as c:
            yield c
    finally:
        cluster.close()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def data(client):
    """Logistic-regression data generated on the workers from a seed, kept there (persisted)."""
    X = da.random.default_rng(7).standard_normal((ROWS, 4), chunks=(CHUNKS, 4))
    y = da.where(X[:, 0] - 0.5 * X[:, 1] > 0.2, 1.0, -1.0)
    X, y = client.persist([X, y])
    w = np.array([0.3, -0.2, 0.5, 0.1])
    return w, X, y, X.compute(), y.compute()


def test_mean_gradient_over_unequal_chunks_equals_the_single_process_gradient(data):
    w, X, y, Xn, yn = data
    value, gradient = gjd.value_and_grad(logistic_loss, reduce="mean")(w, X, y)
    ref_value, ref_gradient = compiler.value_and_grad(logistic_loss)(w, Xn, yn)
    tol = mean_tolerance(w, Xn, yn)
    assert np.all(np.abs(gradient - ref_gradient) <= tol), (gradient - ref_gradient, tol)
    assert abs(value - ref_value) <= 4 * ROWS * EPS * abs(ref_value)
    analytic = np.mean(per_example_gradients(w, Xn, yn), axis=0) + 2 * LAMBDA * w
    assert np.all(np.abs(gradient - analytic) <= tol)
    # the weights matter: an unweighted mean of the chunks' gradients is far outside the tolerance
    bounds = np.cumsum((0,) + CHUNKS)
    unweighted = np.mean([compiler.grad(logistic_loss)(w, Xn[a:b], yn[a:b])
                          for a, b in zip(bounds[:-1], bounds[1:])], axis=0)
    assert np.any(np.abs(unweighted - ref_gradient) > 1000 * tol)


def squared_error_sum(params, X, y):
    r = X @ params["w"] + params["b"] - y
    return np.sum(r * r)


def test_sum_of_a_pytree_gradient(client):
    rng = np.random.default_rng(3)
    Xn, yn = rng.standard_normal((ROWS, 4)), rng.standard_normal(ROWS)
    params = {"w": np.array([1.0, -1.0, 0.5, 0.0]), "b": 0.25}
    X, y = da.from_array(Xn, chunks=(50, 2)), da.from_array(yn, chunks=100)     # rechunked to X's rows
    gradient = gjd.grad(squared_error_sum, reduce="sum")(params, X, y)
    r = Xn @ params["w"] + params["b"] - yn
    terms_w, terms_b = 2 * r[:, None] * Xn, 2 * r         # per-example gradients, by NumPy
    assert set(gradient) == {"w", "b"}
    assert np.all(np.abs(gradient["w"] - terms_w.sum(0)) <= 4 * ROWS * EPS * np.abs(terms_w).sum(0))
    assert abs(gradient["b"] - terms_b.sum()) <= 4 * ROWS * EPS * np.abs(terms_b).sum()


def test_optimiser_loop_keeps_parameters_on_the_client_and_traces_once_per_worker(client, data):
    w0, X, y, Xn, yn = data
    loss_and_grad = gjd.value_and_grad(logistic_loss, reduce="mean")
    local = compiler.grad(logistic_loss)
    before = client.run(_worker_traces)
    w, w_local = w0.copy(), w0.copy()
    for _ in range(4):
        value, g = loss_and_grad(w, X, y)          # w lives on the client; chunks stay on the workers
        w = w - 0.5 * g
        w_local = w_local - 0.5 * local(w_local, Xn, yn)
    np.testing.assert_allclose(w, w_local, rtol=0, atol=1e-14)
    assert value < logistic_loss(w0, Xn, yn)
    after = client.run(_worker_traces)
    # every step ships the kernel again; each worker rebuilds it once and traces once per chunk shape
    assert all(after[k] - before[k] <= len(set(CHUNKS)) for k in after), (before, after)


def test_errors_name_the_problem():
    X = da.ones((10, 2), chunks=5)
    with pytest.raises(TypeError, match="no argument is a dask array"):
        gjd.grad(logistic_loss)(np.ones(2), np.ones((10, 2)), np.ones(10))
    with pytest.raises(compiler.DifferentiationError, match="argument 1 holds a dask array"):
        gjd.grad(logistic_loss, argnums=(0, 1))(np.ones(2), X, da.ones(10, chunks=5))
    with pytest.raises(compiler.ShapeError, match="10 and 9 rows"):
        gjd.grad(logistic_loss)(np.ones(2), X, da.ones(9, chunks=5))
    with pytest.raises(ValueError, match="reduce='max'"):
        gjd.grad(logistic_loss, reduce="max")


def simulate(p, t):
    return np.sum(p[1] * np.sin(p[0] * t))


def test_parameter_sweep_compiles_once_per_worker(client):
    t = np.linspace(0.0, 2.0, 50)
    g = compiler.grad(simulate)
    param_sets = [np.array([0.5 + 0.1 * i, 1.0 - 0.05 * i]) for i in range(8)]
    expected = [g(p, t) for p in param_sets]       # compiled here first: the workers load it from disk
    before = client.run(_worker_traces)
    swept = gjd.sweep(g, param_sets, t, client=client)
    mapped = client.gather(client.map(g, param_sets, [t] * len(param_sets)))   # plain Dask works too
    batched = gjd.sweep(g, param_sets, t, batch_size=3)        # the current client
    after = client.run(_worker_traces)
    for p, e, s, m, b in zip(param_sets, expected, swept, mapped, batched):
        analytic = [np.sum(p[1] * t * np.cos(p[0] * t)), np.sum(np.sin(p[0] * t))]
        np.testing.assert_allclose(e, analytic, rtol=1e-13)
        for result in (s, m, b):                   # the same kernel on the same numbers: bit for bit
            np.testing.assert_array_equal(result, e)
    assert all(after[k] - before[k] <= 1 for k in after), (before, after)
    assert sum(after.values()) > sum(before.values())      # the workers did trace it


def killing_loss(marker):
    """logistic_loss, whose first trace for the 20-row chunk on a worker kills that worker's process
    (once in the whole cluster: the marker file records it)."""
    def loss(w, X, y):
        if X.shape[0] == 20 and _on_a_worker():
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os._exit(1)
        return logistic_loss(w, X, y)
    return loss


def _on_a_worker():
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True


def test_a_worker_killed_during_the_gradient_does_not_change_it(client, data, tmp_path):
    w, X, y, Xn, yn = data
    marker = str(tmp_path / "killed")
    loss_and_grad = gjd.value_and_grad(killing_loss(marker), reduce="mean")
    value, gradient = loss_and_grad(w, X, y)
    assert os.path.exists(marker), "no worker was killed"
    killed = int(open(marker).read())
    client.wait_for_workers(2, timeout=60)
    assert killed not in client.run(os.getpid).values()       # the nanny started a new process
    again_value, again_gradient = loss_and_grad(w, X, y)       # nobody dies this time
    assert value == again_value
    np.testing.assert_array_equal(gradient, again_gradient)
    _, ref_gradient = compiler.value_and_grad(logistic_loss)(w, Xn, yn)
    assert np.all(np.abs(gradient - ref_gradient) <= mean_tolerance(w, Xn, yn))


def test_scaling_benchmark_runs_end_to_end(tmp_path):
    """`python -m benchmarks.dask_scaling` at a tiny size (its own one-worker cluster), so it cannot rot."""
    import json
    out = tmp_path / "scaling.json"
    assert dask_scaling.main(["--rows", "3000", "--chunk", "1000", "--workers", "1", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    [cluster] = results["dask"]
    assert cluster["workers"] == 1 and cluster["chunks"] == 3
    assert cluster["max_rel_diff_vs_single"] < 1e-12 and results["chunk_loop_max_rel_diff"] < 1e-12
    assert cluster["median_s"] > 0 and cluster["kernel_per_chunk_s"] > 0 and cluster["kernel_per_chunk_without_dask_s"] > 0
