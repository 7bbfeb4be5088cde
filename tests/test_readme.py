"""The README's examples run as written."""
import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def _block(marker):
    """The README example that contains `marker`."""
    (block,) = [b for b in BLOCKS if marker in b]
    return block


def _run(block):
    namespace = {}
    exec(compile(block, str(README), "exec"), namespace)
    return namespace


def test_quick_start_runs(capsys):
    ns = _run(_block("def energy_grad"))
    out = capsys.readouterr().out
    assert "{ lambda" in out and "def kernel(a0):" in out
    assert ns["H"].shape == (3, 3) and set(ns["grads"]) == {"w", "b"}


def test_eager_example_runs_and_its_comments_hold(capsys):
    ns = _run(_block("z = (x + 2) * (x + 2) * 3"))
    assert capsys.readouterr().out.startswith("MulBackward0 <MeanBackward0")
    # x.grad: 4.5 from out.backward, plus v * 6 (x + 2) = 18 v from z.backward(v)
    np.testing.assert_allclose(ns["x"].grad.numpy(), 4.5 + 18 * np.array([[0.1, 1.0], [1.0, 1.0]]))
    np.testing.assert_allclose(ns["g"].detach().numpy(), 3 * np.ones((2, 2)))
    assert ns["w"].grad is None


def test_diagnostics_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _run(_block("lowered.draw("))
    dot = (tmp_path / "rosenbrock.dot").read_text()
    assert dot.startswith("digraph") and "integer_pow" in dot
    assert (tmp_path / "loss.dot").read_text().startswith("digraph")
    assert "allocated: 64 B" in capsys.readouterr().out     # only the gradient: everything else is fused


def test_loops_example_fits_the_parameters(capsys):
    from conftest import central_difference
    ns = _run(_block("def simulate(theta"))
    loss, state, observed, fit = ns["loss"], ns["state"], ns["observed"], ns["fit"]
    x0 = np.array([0.8, 0.3, 0.5, 0.12])
    fd = [central_difference(lambda t: loss(t, state, observed), [x0], [e]) for e in np.eye(4)]
    np.testing.assert_allclose(ns["value_and_grad"](loss)(x0, state, observed)[1], fd, rtol=1e-6)
    np.testing.assert_allclose(fit.x, [1.1, 0.4, 0.4, 0.1], rtol=0.05)


def test_dask_example_trains_as_one_process_would():
    import pytest
    pytest.importorskip("dask.distributed")
    ns = {"__name__": "__main__"}
    exec(compile(_block("import compiler.dask as gjd"), str(README), "exec"), ns)
    # the same 20 steps in one process, on the same data (dask.array draws it from the seed)
    da = ns["da"]
    X = da.random.default_rng(0).standard_normal((100_000, 20), chunks=(25_000, 20))
    X, y = (np.asarray(a) for a in da.compute(X, da.where(X[:, 0] - X[:, 1] > 0, 1.0, -1.0)))
    from compiler import value_and_grad
    w = np.zeros(20)
    for _ in range(20):
        w -= 1.0 * value_and_grad(ns["loss"])(w, X, y)[1]
    np.testing.assert_allclose(ns["w"], w, rtol=1e-10, atol=1e-13)


def test_checkpointing_example_says_what_it_stores(capsys):
    block = _block("def trajectory_loss")
    ns = _run(block)
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    promised = next(line for line in block.splitlines() if line.startswith("# ...: scan of"))
    assert printed.endswith(promised.split("...", 1)[1].lstrip(":").strip())
    p = np.array([4.0, 0.1])
    stored = ns["grad"](ns["trajectory_loss"])(p, ns["forcing"])
    np.testing.assert_allclose(ns["g"](p, ns["forcing"]), stored, rtol=1e-12)
