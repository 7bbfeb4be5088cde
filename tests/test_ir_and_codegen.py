"""The IR (printer, typechecker, transforms keep programs well typed) and the Numba backend
(fusion structure, compiled kernels against the reference interpreter on multi-root programs)."""
import re

import numpy as np
import pytest

from compiler import disable_jit, grad, jit, make_ir, value_and_grad
from compiler.errors import ShapeError
from compiler.ir import Eqn, Program, ShapedArray, Var, typecheck
from compiler.primitives import registry
from compiler.transforms import jvp_program, simplify, vjp_program
from runtime import kernels


def lennard_jones(pos, eye, mask):
    d = pos[:, None, :] - pos[None, :, :]
    r2 = np.sum(d * d, axis=-1) + eye
    inv6 = 1.0 / r2 ** 3
    return 0.5 * np.sum(mask * 4.0 * (inv6 * inv6 - inv6))


def lj_inputs(n, seed=0):
    rng = np.random.default_rng(seed)
    side = int(np.ceil(n ** (1 / 3)))
    g = np.arange(side) * 1.2
    pos = np.stack(np.meshgrid(g, g, g), -1).reshape(-1, 3)[:n] + rng.uniform(-0.1, 0.1, (n, 3))
    return pos, np.eye(n), 1.0 - np.eye(n)


def lj_forces_by_hand(pos):
    d = pos[:, None, :] - pos[None, :, :]
    r2 = np.sum(d * d, -1) + np.eye(len(pos))
    inv6 = 1.0 / r2 ** 3
    coef = (1.0 - np.eye(len(pos))) * 24.0 * (2.0 * inv6 * inv6 - inv6) / r2
    return np.sum(coef[:, :, None] * d, axis=1)     # force = -grad


def test_printer_is_jaxpr_style():
    text = str(make_ir(lambda a, b: np.sin(a) * b)(np.ones(3), np.ones(3)))
    assert text.splitlines()[0] == "{ lambda  ; a:f64[3] b:f64[3]. let"
    assert "c:f64[3] = sin a" in text and "d:f64[3] = mul c b" in text and text.endswith("in (d,) }")


def test_typechecker_catches_bad_programs():
    a = Var(ShapedArray((3,), np.float64))
    out = Var(ShapedArray((4,), np.float64))
    bad = Program([], [a], [Eqn(registry["sin"], [a], {}, [out])], [out], [])
    with pytest.raises(ShapeError, match="shape rule"):
        typecheck(bad)
    undefined = Var(ShapedArray((3,), np.float64))
    ok_out = Var(ShapedArray((3,), np.float64))
    with pytest.raises(ShapeError, match="before it is defined"):
        typecheck(Program([], [a], [Eqn(registry["sin"], [undefined], {}, [ok_out])], [ok_out], []))


def test_transforms_produce_well_typed_programs():
    pos, eye, mask = lj_inputs(5)
    prog = make_ir(lennard_jones)(pos, eye, mask)
    typecheck(prog)
    typecheck(jvp_program(prog, [True, False, False]))
    adjoint = vjp_program(prog, [True, False, False], [np.float64(1.0)])
    typecheck(adjoint)
    typecheck(simplify(adjoint))


def test_symbolic_zeros_emit_no_dead_derivative_code():
    """Only x is differentiated: nothing in the adjoint program computes a derivative for y."""
    f = lambda x, y: np.sum(np.sin(x) * np.exp(y))
    g = grad(f).program(np.ones(3), np.ones(3))[0]
    names = [e.prim.name for e in g.eqns]
    assert names.count("exp") == 1 and "cos" in names and names.count("mul") <= 2


def test_cse_and_dce():
    f = lambda x: np.sum(np.sin(x) + np.sin(x)) + 0.0 * np.sum(np.cos(x))
    prog = simplify(make_ir(f)(np.ones(3)))
    assert [e.prim.name for e in prog.eqns].count("sin") == 1


def test_lennard_jones_gradient_matches_hand_derived_forces():
    pos, eye, mask = lj_inputs(27)
    np.testing.assert_allclose(-grad(lennard_jones)(pos, eye, mask), lj_forces_by_hand(pos), rtol=1e-10, atol=1e-12)


def _loops(source):
    return len(re.findall(r"^\s*for _i\d+ in range", source, re.M))


def _nests(source):
    return len(re.findall(r"^    for _i\d+ in range", source, re.M))


def test_elementwise_chain_gradient_is_one_fused_loop():
    f = lambda x: np.sum(np.tanh(np.sin(x) * np.exp(-x * x)) + np.log1p(x * x))
    src = grad(f).lower(np.ones(1000)).source
    assert _nests(src) == 1 and src.count("np.empty") == 1, src


def test_value_and_gradient_share_one_pass():
    f = lambda x: np.sum(np.sin(x) ** 2)
    src = value_and_grad(f).lower(np.ones(100)).source
    assert _nests(src) == 1, src


def test_broadcast_reduction_fusion_in_lennard_jones():
    """No (N, N, 3) intermediate is ever allocated, and each pass over pairs is one nest."""
    pos, eye, mask = lj_inputs(8)
    src = grad(lennard_jones).lower(pos, eye, mask).source
    assert "(8, 8, 3)" not in src
    assert _nests(src) <= 3, src


def test_matmul_uses_blas_and_transposes_are_views():
    f = lambda w, x: np.sum(np.tanh(x @ w) ** 2)
    src = grad(f).lower(np.ones((4, 3)), np.ones((5, 4))).source
    assert "np.dot(" in src and ".T, " in src and "np.empty((4, 5)" not in src


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
def test_compiled_multi_output_programs_match_interpreter(shape):
    rng = np.random.default_rng(3)
    x = rng.uniform(0.5, 1.5, shape)

    def f(x):
        s = x.sum(axis=-1, keepdims=True)
        m = x.max(axis=0)
        return (x / s, np.exp(-x) * m, np.sum(x * x), x[..., ::2] ** 2, np.concatenate([x, -x], axis=-1))
    compiled = jit(f)(x)
    with disable_jit():
        reference = jit(f)(x)
    for c, r in zip(compiled, reference):
        np.testing.assert_allclose(c, r, rtol=1e-12)


def test_gather_scatter_and_pad_kernels_match_interpreter():
    idx = np.array([3, 0, 3, 1, 2])
    f = lambda x, w: np.sum(x[idx] * w) + np.sum(np.diff(x) ** 2) + np.sum(x[::-2][:2] * x[1::2][::-1][:2])
    x, w = np.linspace(0.1, 1, 6), np.arange(5.0)
    g = grad(f, argnums=(0, 1))(x, w)
    with disable_jit():
        r = grad(f, argnums=(0, 1))(x, w)
    for a, b in zip(g, r):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
    expected = np.zeros(6)
    np.add.at(expected, idx, w)
    d = np.diff(x)
    expected[:-1] -= 2 * d
    expected[1:] += 2 * d
    expected[[5, 3]] += 2 * x[[5, 3]]      # x5 * x5 + x3 * x3
    np.testing.assert_allclose(g[0], expected, rtol=1e-13, atol=1e-14)


def stencil(u):
    lap = u[2:] - 2.0 * u[1:-1] + u[:-2]
    return np.sum(lap ** 2) + np.sum(np.diff(u) ** 4) + np.sum(np.concatenate([u[:2], u ** 3, u[-1:]]) ** 2)


def test_boundary_iterations_are_split_from_a_test_free_interior():
    src = grad(stencil).lower(np.ones(50)).source
    interior = [block for block in src.split("    for ")[1:] if "in range(2, 48)" in block]
    assert interior, src
    assert "min(max(" not in interior[0] and " if " not in interior[0], interior[0]


@pytest.mark.parametrize("n", [3, 4, 5, 7, 12])
def test_split_loops_are_exact_at_every_size(n):
    u = np.random.default_rng(n).standard_normal(n)
    with disable_jit():
        expected = grad(stencil)(u)
    np.testing.assert_allclose(grad(stencil)(u), expected, rtol=1e-12, atol=1e-13)


def test_float32_kernel_stays_float32():
    f = lambda x: np.sum(np.exp(x) * x ** -2 + np.tanh(x) * 0.5)
    src = grad(f).lower(np.ones(4, np.float32)).source
    assert "np.float32" in src and "np.float64" not in src


def test_kernel_source_is_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADJIT_CACHE_DIR", str(tmp_path))
    source = "def kernel(a0):\n    return (a0 * 2.0,)\n"
    fn = kernels.compile_source(source)
    assert fn(1.5) == (3.0,)
    files = list(tmp_path.glob("gj_*.py"))
    assert len(files) == 1 and files[0].read_text().endswith(source)
    assert kernels.compile_source(source) is fn
