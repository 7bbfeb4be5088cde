"""Diagnostics: graph pictures, compile logs and recompile explanations, debug_nans, disconnected
gradients, long compiles, memory reports.

Most tests only trace and lower (`.lower()`), which compiles nothing; the few that call kernels use
tiny programs."""
import gc
import logging
import re
import shutil
import time
import warnings

import numpy as np
import pytest

import compiler
import runtime as rt
from compiler import grad, jit, stop_gradient, value_and_grad
from compiler import dispatch
from compiler.diagnostics import (DisconnectedGradientWarning, GraphvizNotFound, RecompileWarning, config,
                                  debug_nans, draw_program, log_compiles, strict_gradients)
from compiler.diagnostics.compile_log import explain
from compiler.diagnostics.config import Config
from compiler.errors import DifferentiationError
from compiler.ir import Eqn, Program, Var


def line_of(fun, marker):
    """file:line of the line of `fun`'s source that contains `marker`."""
    import inspect
    lines, first = inspect.getsourcelines(fun)
    k = next(i for i, text in enumerate(lines) if marker in text)
    return f"{inspect.getsourcefile(fun)}:{first + k}"


# ---------------------------------------------------------------- a small DOT reader

_NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
_EDGE = re.compile(r"^\s*(\w+) -> (\w+)( \[.*\])?;$")


def parse_dot(text):
    """{node: (label, attrs text, cluster labels around it)}, [(tail, head, attrs text)]."""
    nodes, edges, clusters = {}, [], []
    for line in text.splitlines():
        if line.strip().startswith("subgraph cluster_"):
            clusters.append(None)
        elif clusters and clusters[-1] is None and line.strip().startswith("label="):
            clusters[-1] = line.strip()[len('label="'):-2]
        elif line.strip() == "}" and clusters:
            clusters.pop()
        elif (m := _EDGE.match(line)) is not None:
            edges.append((m.group(1), m.group(2), m.group(3) or ""))
        elif (m := _NODE.match(line)) is not None:
            nodes[m.group(1)] = (m.group(2).replace("\\n", "\n"), m.group(3), tuple(clusters))
    return nodes, edges


def check_with_graphviz(text):
    """Where Graphviz is installed, it must accept the DOT text."""
    graphviz = pytest.importorskip("graphviz") if shutil.which("dot") else None
    if graphviz is not None:
        assert b"<svg" in graphviz.Source(text).pipe(format="svg")


# ---------------------------------------------------------------- graph pictures

def sin_times(x):
    return np.sin(x) * x                         # marker: sin_times


def test_dot_of_a_known_program_has_its_nodes_and_edges():
    graph = jit(sin_times).lower(np.ones(3)).draw()
    nodes, edges = parse_dot(graph.source)
    labels = {n: label.split("\n") for n, (label, _, _) in nodes.items()}
    assert set(nodes) == {"in0", "e0", "e1", "out0"}
    assert labels["in0"] == ["argument 0 (x)", "f64[3]"]
    assert labels["e0"][:2] == ["sin", "f64[3]"] and labels["e1"][:2] == ["mul", "f64[3]"]
    where = line_of(sin_times, "marker: sin_times").rsplit("/", 1)[1]
    assert labels["e0"][2] == where and labels["e1"][2] == where
    assert {(t, h) for t, h, _ in edges} == {("in0", "e0"), ("in0", "e1"), ("e0", "e1"), ("e1", "out0")}
    check_with_graphviz(graph.source)


def sin_x(x):
    return np.sum(np.sin(x) * x)


def test_adjoint_drawing_separates_the_passes_and_marks_the_residuals():
    # d/dx sum(sin(x) x) = cos(x) x + sin(x): the backward pass reads sin(x) and cos(x)
    lowered = value_and_grad(sin_x).lower(np.ones(4))
    nodes, edges = parse_dot(lowered.draw().source)
    prog = lowered.ir
    eqn_nodes = {f"e{k}": eqn for k, eqn in enumerate(prog.eqns)}
    assert set(eqn_nodes) <= set(nodes)
    for node, eqn in eqn_nodes.items():
        assert nodes[node][0].split("\n")[0].startswith(eqn.prim.name)
    # data flow: one edge per use of a variable, from the node that defines it
    producer = {v: f"in{i}" for i, v in enumerate(prog.invars)}
    expected = set()
    for k, eqn in enumerate(prog.eqns):
        expected |= {(producer[x], f"e{k}") for x in eqn.inputs if isinstance(x, Var)}
        producer.update((v, f"e{k}") for v in eqn.outputs)
    expected |= {(producer[v], f"out{i}") for i, v in enumerate(prog.outvars)}
    assert {(t, h) for t, h, _ in edges} == expected
    # the equations computing the value are the forward pass; the gradient's last one is backward
    value_eqns, stack = set(), [producer[prog.outvars[0]]]
    while stack:
        node = stack.pop()
        if node in eqn_nodes and node not in value_eqns:
            value_eqns.add(node)
            stack += [producer[x] for x in eqn_nodes[node].inputs if isinstance(x, Var)]
    assert {eqn_nodes[n].prim.name for n in value_eqns} == {"sin", "mul", "reduce_sum"}
    assert all(nodes[n][2] == ("forward pass",) for n in value_eqns)
    assert nodes[producer[prog.outvars[1]]][2] == ("backward pass",)
    # residuals: exactly the nodes computing sin(x) and cos(x), and the red edges leave them for the backward pass
    residual_nodes = {n for n, (_, attrs, _) in nodes.items() if "penwidth" in attrs}
    assert {eqn_nodes[n].prim.name for n in residual_nodes} == {"sin", "cos"}
    for tail, head, attrs in edges:
        if "penwidth" in attrs:
            assert tail in residual_nodes and nodes[head][2] == ("backward pass",)
    assert {t for t, _, a in edges if "penwidth" in a} == residual_nodes
    check_with_graphviz(lowered.draw().source)


def test_transformed_equations_point_at_the_users_lines():
    def f(x):
        y = np.log(x)                     # marker: log
        return np.sum(y * np.sqrt(x))     # marker: sqrt
    prog = grad(f).lower(np.ones(3)).ir
    lines = {line_of(f, "marker: log"), line_of(f, "marker: sqrt")}
    assert {eqn.source for eqn in prog.eqns} <= lines
    assert any(eqn.prim.name == "div" for eqn in prog.eqns)     # derivatives too, not only the forward pass


class _CallPrimitive:
    """A stand-in for a primitive holding a program (a loop or a branch): drawn without knowing it."""
    name, multiple_results = "call_body", False


def test_programs_in_params_are_drawn_as_clusters():
    body = compiler.make_ir(lambda x: np.cos(x) + 1.0)(np.ones(2))
    x, y = Var(body.invars[0].aval), Var(body.outvars[0].aval)
    outer = Program([], [x], [Eqn(_CallPrimitive, [x], {"body": body, "length": 3}, [y])], [y], [])
    nodes, edges = parse_dot(draw_program(outer).source)
    inner = {n for n, (_, _, clusters) in nodes.items() if clusters == ("call_body: body",)}
    assert {nodes[n][0].split("\n")[0] for n in inner} >= {"cos", "add(·, 1.0)", "input 0"}
    assert nodes["e0"][0].startswith("call_body[length=3]")
    assert any(t == "e0" and h in inner and "lhead" in a for t, h, a in edges)
    check_with_graphviz(draw_program(outer).source)


def test_draw_writes_dot_text_and_renders_pictures(tmp_path):
    lowered = grad(sin_x).lower(np.ones(4))
    graph = lowered.draw(tmp_path / "f.dot")
    assert (tmp_path / "f.dot").read_text() == graph.source
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    pytest.importorskip("graphviz")
    lowered.draw(tmp_path / "f.svg")
    svg = (tmp_path / "f.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and ">cos<" in svg
    lowered.draw(tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rendering_without_graphviz_says_how_to_install_it(monkeypatch, tmp_path):
    import sys
    monkeypatch.setitem(sys.modules, "graphviz", None)          # import graphviz now fails
    with pytest.raises(GraphvizNotFound, match="pip install graphviz"):
        grad(sin_x).lower(np.ones(4)).draw(tmp_path / "f.svg")


def test_eager_make_dot_draws_the_backward_graph():
    x = rt.ones(2, 2, requires_grad=True)
    w = rt.tensor(np.arange(4.0).reshape(2, 2), requires_grad=True)
    loss = (x * w).sum()
    nodes, edges = parse_dot(rt.viz.make_dot(loss, params={"x": x, "w": w}).source)
    by_label = {}
    for n, (label, _, _) in nodes.items():
        by_label.setdefault(label, []).append(n)
    (out,), (total,), (mul,) = by_label["output\n()"], by_label["SumBackward0"], by_label["MulBackward0"]
    (vx,), (vw,) = by_label["x\n(2, 2)"], by_label["w\n(2, 2)"]
    acc = by_label["AccumulateGrad"]
    assert len(nodes) == 7 and len(acc) == 2
    pairs = {(t, h) for t, h, _ in edges}
    assert {(total, out), (mul, total)} <= pairs
    for v in (vx, vw):
        (a,) = [h for t, h in pairs if t == v]
        assert a in acc and (a, mul) in pairs
    assert len(pairs) == 6
    check_with_graphviz(rt.viz.make_dot(loss).source)


# ---------------------------------------------------------------- compile logs

@pytest.fixture
def gradjit_log(caplog):
    caplog.set_level(logging.DEBUG, logger="gradjit")
    return caplog


def records(caplog, event):
    return [r for r in caplog.records if getattr(r, "gradjit_event", None) == event]


def test_log_names_each_stage_and_what_changed_on_a_recompile(gradjit_log):
    f = jit(lambda x: x * 2.0 + 1.0)
    f(np.ones(3))
    f(np.ones(3))                                    # cached: no record
    f(np.ones(4))
    (compiled_3, compiled_4) = records(gradjit_log, "compiled")
    assert set(compiled_3.gradjit_stages) == {"trace", "transform", "lower", "compile"}
    assert compiled_3.levelno == logging.DEBUG      # visible only when asked for
    (recompile,) = records(gradjit_log, "recompile")
    assert recompile.gradjit_changes == ["argument 0 (x): shape (3,) -> (4,)"]
    assert "argument 0 (x): shape (3,) -> (4,)" in recompile.getMessage()
    gradjit_log.clear()
    with log_compiles():
        f(np.ones(5, np.float32))
    (recompile,) = records(gradjit_log, "recompile")
    assert recompile.levelno == logging.WARNING
    assert recompile.gradjit_changes == ["argument 0 (x): shape (4,) -> (5,), dtype float64 -> float32"]


def test_how_the_kernel_was_obtained_is_logged(gradjit_log):
    def make():
        return jit(lambda x: x * 1.25 - 0.5)       # a program no other test compiles
    f = make()
    f(np.ones(2))
    g = make()
    g(np.ones(2))                                 # same program: the kernel is shared
    del f, g
    gc.collect()
    from runtime import kernels
    kernels._compiled.clear()
    make()(np.ones(2))                            # a new dispatcher: Numba loads its disk cache
    stages = [r.getMessage() for r in records(gradjit_log, "compiled")]
    assert "(Numba compile)" in stages[0]
    assert "(kernel already compiled in this process)" in stages[1]
    assert "(loaded from Numba's disk cache)" in stages[2]


def test_explanations_name_dtype_static_and_structure_changes():
    def f(x, n, parts):
        return x
    key = lambda *args: dispatch.Signature(args).key
    base = key(np.ones(3), 2, [np.ones(2), np.ones(2)])
    assert explain([base], [], key(np.ones(3, np.float32), 2, [np.ones(2), np.ones(2)]), f) == \
        ["argument 0 (x): dtype float64 -> float32"]
    assert explain([base], [], key(np.ones(3), 3, [np.ones(2), np.ones(2)]), f) == \
        ["argument 1 (n): static value 2 -> 3"]
    assert explain([base], [], key(np.ones(3), 2, [np.ones(2), 1.0]), f) == \
        ["argument 2 (parts)[1]: float64[2] -> Python float"]
    assert explain([base], [], key(np.ones(3), 2, [np.ones(2)] * 3), f) == \
        ["argument 2: structure [*, *] -> [*, *, *]"]
    assert explain([base], ["global 'scale'"], base, f) == ["global 'scale' was rebound since the function was traced"]
    assert "dropped from the cache" in explain([base], [], base, f)[0]


SCALE = 2.0


def scaled(x):
    return x * SCALE


def test_a_rebound_global_is_named(gradjit_log, monkeypatch):
    f = jit(scaled)
    f(np.ones(3))
    monkeypatch.setitem(globals(), "SCALE", 3.0)
    np.testing.assert_allclose(f(np.ones(3)), 3.0)
    (recompile,) = records(gradjit_log, "recompile")
    assert recompile.gradjit_changes == ["global 'SCALE' was rebound since the function was traced"]


def test_many_signatures_warn_once_with_the_fix(monkeypatch):
    monkeypatch.setattr(config, "recompile_warning", 3)
    f = jit(lambda x, n: x * n)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in (2, 3, 4, 5):
            f(1.0, n)
    found = [w for w in caught if issubclass(w.category, RecompileWarning)]
    assert len(found) == 1
    message = str(found[0].message)
    assert "3 different argument signatures" in message and "static value 3 -> 4" in message
    assert "floats or arrays" in message
    assert found[0].filename == __file__


def test_a_long_compile_is_announced_while_it_runs_and_explained_after(gradjit_log, monkeypatch):
    monkeypatch.setattr(config, "long_compile_seconds", 0.05)

    def slow(x):
        time.sleep(0.5)                   # a long trace
        return x * 2.0 + 1.0
    f = jit(slow)
    f(np.ones(3))
    f(np.ones(4))                         # said once per function
    notices = records(gradjit_log, "long_compile")
    assert [r.levelno for r in notices] == [logging.WARNING, logging.WARNING]
    running, done = notices
    assert "so far" in running.getMessage() and running.gradjit_stage == "trace"
    assert "slowest stage: trace" in done.getMessage() and "jit(slow)" in done.getMessage()


def test_configuration_from_the_environment(monkeypatch):
    monkeypatch.setenv("GRADJIT_LOG_COMPILES", "1")
    monkeypatch.setenv("GRADJIT_STRICT_GRADIENTS", "0")
    monkeypatch.setenv("GRADJIT_LONG_COMPILE_SECONDS", "2.5")
    monkeypatch.setenv("GRADJIT_DEBUG_NANS", "yes")
    c = Config()
    assert c.log_compiles and not c.strict_gradients and c.long_compile_seconds == 2.5 and c.debug_nans
    assert dispatch._detours == 0          # only the global config leaves the fast path
    monkeypatch.setenv("GRADJIT_RECOMPILE_WARNING", "many")
    with pytest.raises(ValueError, match="GRADJIT_RECOMPILE_WARNING"):
        Config()


# ---------------------------------------------------------------- debug_nans

def log_times(x):
    return np.sum(np.log(x) * x)          # marker: log_times


def root(x):
    return np.sum(np.sqrt(x))             # marker: root


def test_debug_nans_points_at_the_forward_line():
    g = grad(log_times)
    x = np.array([-1.0, 2.0])             # log(-1) is NaN, and so is the gradient log(x) + 1
    assert np.isnan(g(x)[0])              # switched off: no check
    with debug_nans():
        with pytest.raises(FloatingPointError) as e:
            g(x)
    message = str(e.value)
    assert "'log'" in message and "forward pass" in message and line_of(log_times, "marker") in message


def test_debug_nans_points_at_the_backward_line():
    g = grad(root)
    x = np.array([0.0, 4.0])              # sqrt(0) = 0 is fine; its derivative 1/(2 sqrt(0)) is inf
    with debug_nans():
        np.testing.assert_allclose(g(np.array([1.0, 4.0])), [0.5, 0.25])
        with pytest.raises(FloatingPointError) as e:
            g(x)
    message = str(e.value)
    assert "inf" in message and "backward pass" in message and line_of(root, "marker") in message
    assert dispatch._detours == 0 and np.isinf(g(x)[0])   # off again: the fast path returns inf


def test_debug_nans_does_not_blame_the_program_for_nan_inputs():
    with debug_nans():
        with pytest.raises(FloatingPointError, match="argument 0 already contains NaN"):
            grad(root)(np.array([np.nan, 1.0]))


def test_debug_nans_is_checked_on_the_fast_path_too():
    f = jit(lambda x: np.log(x))
    f(np.ones(3))                           # now on the fast path
    config.debug_nans = True
    try:
        with pytest.raises(FloatingPointError, match="'log'"):
            f(-np.ones(3))
    finally:
        config.debug_nans = False


# ---------------------------------------------------------------- disconnected gradients

def disconnected_cases():
    return {
        "does not depend on it": lambda x, y: np.sum(x ** 2),
        "only through stop_gradient": lambda x, y: np.sum(x * stop_gradient(y)),
        "only through a comparison ('gt')": lambda x, y: np.sum(np.where(y > 0, x, 2 * x)),
        "only through a cast to int64": lambda x, y: np.sum(x * y.astype(np.int64)),
    }


@pytest.mark.parametrize("reason", list(disconnected_cases()))
def test_a_disconnected_argument_is_named_once_per_signature(reason):
    g = grad(disconnected_cases()[reason], argnums=(0, 1))
    with pytest.warns(DisconnectedGradientWarning) as caught:
        g.lower(np.ones(3), np.ones(3))
        g.lower(np.ones(3), np.ones(3))            # the same signature: not again
    (warning,) = [w for w in caught if issubclass(w.category, DisconnectedGradientWarning)]
    assert "argument 1 (y)" in str(warning.message) and reason in str(warning.message)
    assert warning.filename == __file__


def test_connected_arguments_give_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DisconnectedGradientWarning)
        grad(lambda x, y: np.sum(x * stop_gradient(y) + y), argnums=(0, 1)).lower(np.ones(3), np.ones(3))
        grad(lambda x, y: np.sum(np.where(y > 0, x, y)), argnums=(0, 1)).lower(np.ones(3), np.ones(3))
        grad(lambda x, y: np.sum(x ** 2), argnums=0).lower(np.ones(3), np.ones(3))   # y not differentiated


def test_strict_gradients_raise():
    with strict_gradients():
        with pytest.raises(DifferentiationError, match=r"argument 1 \(y\) is zero: the output does not depend on it"):
            grad(lambda x, y: np.sum(x ** 2), argnums=(0, 1)).lower(np.ones(3), np.ones(3))


# ---------------------------------------------------------------- memory report

def test_memory_report_counts_the_matmul_residual():
    n, k, m = 5, 3, 7
    f = lambda x, w: np.sum(np.tanh(x @ w))
    report = grad(f, argnums=(0, 1)).lower(np.ones((n, k)), np.ones((k, m))).memory
    # reverse mode keeps x @ w (n x m) for tanh's derivative; the cotangent of x @ w (n x m) is
    # materialised for the two products that give the gradients (n x k and k x m)
    assert report.inputs == (n * k + k * m) * 8
    assert report.residuals == n * m * 8
    assert report.temporaries == n * m * 8
    assert report.outputs == (n * k + k * m) * 8
    assert report.allocated == (2 * n * m + n * k + k * m) * 8
    text = str(report)
    assert "residuals" in text and "matmul" in text and "280 B" in text


def test_memory_report_of_a_fused_gradient_is_the_output_alone():
    report = grad(lambda x: np.sum(np.sin(x) ** 2 + np.exp(x))).lower(np.ones(1000)).memory
    assert (report.residuals, report.temporaries, report.outputs) == (0, 0, 8000)
    assert report.recomputed > 0
    assert "recomputed inline" in str(report)


def test_memory_report_counts_a_loops_stacked_residual():
    from compiler import fori_loop
    steps, n = 5, 3
    f = lambda x: np.sum(fori_loop(0, steps, lambda i, c: np.sin(c) * 1.1, x))
    report = grad(f).lower(np.ones(n)).memory
    # reverse mode keeps cos(c) of every step: one (steps, n) array; the gradient is the output
    assert report.residuals == steps * n * 8
    assert report.outputs == n * 8
    assert "scan" in str(report)
