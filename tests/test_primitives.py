"""Every primitive, through the table in primitive_specs.py, against three oracles:
NumPy (forward values), central finite differences (JVP) and the inner-product identity
<u, J v> = <J^T u, v> (VJP), plus second order and compiled kernel vs reference interpreter."""
import numpy as np
import pytest

from compiler import disable_jit, grad, hessian, jvp, make_ir, value_and_grad, vjp
from compiler.interpreter import eval_program
from compiler.ir import typecheck
from compiler.primitives import jvp_rules, lowering_rules, nondiff, registry, transpose_rules
from conftest import central_difference
from primitive_specs import SPECS

ids = [s.name for s in SPECS]


def _case(spec, seed=0):
    rng = np.random.default_rng(seed)
    xs = spec.inputs(rng)
    vs = [rng.standard_normal(np.shape(x)) for x in xs]
    return rng, xs, vs


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_forward_matches_numpy(spec):
    _, xs, _ = _case(spec)
    prog = make_ir(spec.fn)(*xs)
    typecheck(prog)
    (ours,) = eval_program(prog, xs)
    np.testing.assert_allclose(ours, spec.fn(*xs), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_jvp_matches_finite_differences(spec):
    _, xs, vs = _case(spec)
    with disable_jit():
        out, tangent = jvp(spec.fn, xs, vs)
    np.testing.assert_allclose(out, spec.fn(*xs), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tangent, central_difference(spec.fn, xs, vs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_vjp_inner_product_identity(spec):
    rng, xs, vs = _case(spec)
    with disable_jit():
        out, jv = jvp(spec.fn, xs, vs)
        u = rng.standard_normal(np.shape(out))
        _, vjp_fn = vjp(spec.fn, *xs)
        jtu = vjp_fn(u)
    lhs = np.sum(u * jv)
    rhs = sum(np.sum(g * v) for g, v in zip(jtu, vs))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)
    assert any(np.any(g != 0) for g in jtu) or np.all(jv == 0)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.smooth], ids=[s.name for s in SPECS if s.smooth])
def test_second_order_matches_finite_differences_of_gradient(spec):
    rng, xs, vs = _case(spec)
    weights = rng.standard_normal(np.shape(spec.fn(*xs)))
    scalar = lambda *a: np.sum(spec.fn(*a) * weights)
    argnums = tuple(range(len(xs)))
    with disable_jit():
        g = grad(scalar, argnums=argnums)
        _, hv = jvp(lambda *a: g(*a), xs, vs)
        fd = central_difference(lambda *a: np.concatenate([np.ravel(t) for t in g(*a)]), xs, vs, h=1e-5)
    np.testing.assert_allclose(np.concatenate([np.ravel(t) for t in hv]), fd, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_compiled_kernel_matches_interpreter(spec):
    rng, xs, _ = _case(spec)
    weights = rng.standard_normal(np.shape(spec.fn(*xs)))
    scalar = lambda *a: np.sum(spec.fn(*a) * weights)
    vg = value_and_grad(scalar, argnums=tuple(range(len(xs))))
    value, grads = vg(*xs)
    with disable_jit():
        ref_value, ref_grads = vg(*xs)
    np.testing.assert_allclose(value, ref_value, rtol=1e-11, atol=1e-12)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=1e-11, atol=1e-12)
    assert all(np.shape(g) == np.shape(x) for g, x in zip(grads, xs))


def test_hessian_of_smooth_function_matches_analytic():
    x = np.array([0.3, -0.4, 1.1])
    f = lambda x: np.sum(np.exp(x) * x[::-1])
    h = hessian(f)(x)
    exact = np.diag(np.exp(x) * x[::-1]) + np.exp(x)[:, None] * np.eye(3)[::-1] + (np.exp(x)[:, None] * np.eye(3)[::-1]).T
    np.testing.assert_allclose(h, exact, rtol=1e-12)


def test_registry_is_complete():
    """Every primitive has an impl, a shape rule, a lowering, and a JVP rule or is nondiff;
    every primitive whose JVP is linear in its tangents has a transpose rule."""
    linear = {"neg", "add", "sub", "mul", "div", "convert", "select", "reduce_sum", "broadcast_in_dim",
              "reshape", "transpose", "slice", "pad", "rev", "concatenate", "take", "scatter_add", "matmul",
              "linear_scan"}
    transposed_only = {"checkpointed_linear"}     # lives only between linearize and transpose
    assert len(registry) >= 40
    for name, prim in registry.items():
        assert callable(prim.impl) and callable(prim.shape_rule), name
        if name in transposed_only:
            assert prim in transpose_rules, f"{name} has no transpose rule"
            continue
        assert prim in lowering_rules, f"{name} has no lowering"
        assert prim in jvp_rules or prim in nondiff, f"{name} has no JVP rule"
        if name in linear:
            assert prim in transpose_rules, f"{name} has no transpose rule"
    missing = linear - set(registry)
    assert not missing
