"""The public transformations: grad, value_and_grad, jvp, vjp, jit, make_ir, stop_gradient.

Each wires a user-facing function to the IR transforms; `dispatch.Transformed` traces, compiles
and caches per argument signature.
"""
import functools

import numpy as np

from . import pytree
from .checkpointing import budget_scope, parse_budget
from .diagnostics import disconnected, passes
from .dispatch import (Signature, Transformed, _argnums_tuple, _aval, _decorator, _is_dynamic, _name,
                       disable_jit, trace_to_program)
from .errors import DifferentiationError, ShapeError
from .lru import LRU, set_cache_size  # noqa: F401 (public)
from .primitives import elementwise as ew
from .primitives import is_float
from .transforms import dce, jvp_program, simplify, vjp_program

__all__ = ["disable_jit", "grad", "value_and_grad", "jvp", "vjp", "jit", "make_ir", "stop_gradient", "set_cache_size"]


def stop_gradient(x):
    """The identity, with a zero derivative."""
    return pytree.tree_map(lambda v: ew.stop_gradient_p.bind(v), x)


# ---------------------------------------------------------------- jit and make_ir

def _jit(fun, has_aux=False, fname="jit"):
    """jit; with has_aux, fun returns (out, aux) and aux leaves that are not arrays pass through."""
    def build(sig):
        prog, out_tree = trace_to_program(fun, sig, has_aux)
        if has_aux:
            _split_aux(out_tree, fun, fname)
        return simplify(prog), out_tree
    return Transformed(fun, build, "jit")


@_decorator
def jit(fun):
    return _jit(fun)


def make_ir(fun):
    """`make_ir(f)(*args)` returns the traced IR program (print it to read it)."""
    @functools.wraps(fun)
    def make(*args, **kwargs):
        return trace_to_program(fun, Signature(args, kwargs))[0]
    return make


# ---------------------------------------------------------------- reverse mode

def _wrt_mask(sig, argnums, fname):
    """Which dynamic leaves are differentiated, and the tree of the gradient."""
    nums = _argnums_tuple(argnums, len(sig.arg_trees))
    owners = sig.positional_owner()
    for i, leaf in enumerate(sig.leaves):
        if owners[i] in nums and i not in sig.dynamic:
            raise DifferentiationError(
                f"{fname} cannot differentiate with respect to argument {owners[i]}: it holds a Python "
                f"{type(leaf).__name__} ({leaf!r}). Pass a float instead (1.0, not 1), or leave the "
                f"argument out of argnums.")
    wrt = [owners[i] in nums for i in sig.dynamic]
    for flag, leaf in zip(wrt, sig.dynamic_leaves()):
        if flag and not is_float(_aval(leaf).dtype):
            raise DifferentiationError(
                f"{fname} requires floating-point inputs to differentiate, got an argument of dtype "
                f"{_aval(leaf).dtype}. Pass floats (e.g. x.astype(float)), or leave this argument "
                f"out of argnums.")
    arg_trees = [sig.arg_trees[a] for a in nums]
    grad_tree = arg_trees[0] if isinstance(argnums, int) else (tuple, tuple(arg_trees))
    return wrt, grad_tree


def _split_aux(out_tree, fun, fname):
    """(value tree, aux tree) of a function that must return a pair (value, aux)."""
    if not (isinstance(out_tree, tuple) and out_tree[0] in (tuple, list) and len(out_tree[1]) == 2):
        raise DifferentiationError(f"{fname}(has_aux=True): {_name(fun)} must return a pair (value, aux)")
    return out_tree[1]


def _scalar_output(prog, out_tree, has_aux, fun, fname):
    """Split the output tree into (value, aux) and check the value is a real scalar."""
    if has_aux:
        value_tree, aux_tree = _split_aux(out_tree, fun, fname)
    else:
        value_tree, aux_tree = out_tree, None
    if value_tree != pytree._LEAF or prog.outvars[0].aval.shape != ():
        shape = prog.outvars[0].aval.shape if value_tree == pytree._LEAF else "a tuple/list/dict"
        raise DifferentiationError(
            f"{fname} requires a function with a scalar output, but {_name(fun)} returned shape {shape}. "
            f"Use jacrev/jacfwd for the Jacobian of a non-scalar function, or vjp for a "
            f"vector-Jacobian product.")
    if not is_float(prog.outvars[0].aval.dtype):
        raise DifferentiationError(f"{fname} requires a real floating-point output, "
                                   f"got {prog.outvars[0].aval.dtype}")
    return aux_tree


def _value_and_grad_build(fun, argnums, has_aux, fname, with_value, memory_budget):
    warned = LRU()     # signatures whose disconnected gradients were reported
    memory_budget = None if memory_budget is None else parse_budget(memory_budget)

    def build(sig):
        wrt, grad_tree = _wrt_mask(sig, argnums, fname)
        prog, out_tree = trace_to_program(fun, sig, has_aux)
        aux_tree = _scalar_output(prog, out_tree, has_aux, fun, fname)
        n_out = len(prog.outvars)
        seeds = [prog.outvars[0].aval.dtype.type(1.0)] + [None] * (n_out - 1)
        with budget_scope(memory_budget):
            full, split = vjp_program(prog, wrt, seeds, split=True)
        disconnected.check(fun, fname, sig, wrt, prog, [s is not None for s in seeds], split.zero, warned)
        value, aux, grads = [0], list(range(1, n_out)), list(range(n_out, n_out + sum(wrt)))
        if with_value and has_aux:
            order, tree = value + aux + grads, (tuple, ((tuple, (pytree._LEAF, aux_tree)), grad_tree))
        elif with_value:
            order, tree = value + grads, (tuple, (pytree._LEAF, grad_tree))
        elif has_aux:
            order, tree = grads + aux, (tuple, (grad_tree, aux_tree))
        else:
            order, tree = grads, grad_tree
        full.outvars = [full.outvars[i] for i in order]
        result = simplify(full)
        passes.record(result, split)       # for drawing, debug_nans and memory reports
        return result, tree
    return build


@_decorator
def value_and_grad(fun, argnums=0, has_aux=False, memory_budget=None):
    """f -> (x -> (f(x), df/dx)); with has_aux, f returns (value, aux) and you get ((value, aux), grad).
    `memory_budget` (bytes or "256MB") bounds what the reverse pass stores per loop."""
    return Transformed(fun, _value_and_grad_build(fun, argnums, has_aux, "value_and_grad", True, memory_budget),
                       "value_and_grad")


@_decorator
def grad(fun, argnums=0, has_aux=False, memory_budget=None):
    """f -> df/dx for a function with a scalar output. argnums may be a tuple; arguments may be pytrees.
    `memory_budget` (bytes or "256MB") bounds what the reverse pass stores per loop."""
    return Transformed(fun, _value_and_grad_build(fun, argnums, has_aux, "grad", False, memory_budget), "grad")


# ---------------------------------------------------------------- forward mode and Jacobians

def _float_leaves_only(sig, fname):
    for leaf in sig.leaves:
        if not _is_dynamic(leaf) or not is_float(_aval(leaf).dtype):
            raise DifferentiationError(
                f"{fname} differentiates every argument, but one is a {type(leaf).__name__}"
                f"{' of dtype ' + str(_aval(leaf).dtype) if _is_dynamic(leaf) else ''}. Pass floats, or "
                f"close over the non-float values (functools.partial or a lambda).")


def _value_part(prog, out_tree, fun, fname):
    """The program and tree of `value` for a function returning (value, aux)."""
    value_tree, _ = _split_aux(out_tree, fun, fname)
    n = pytree.num_leaves(value_tree)
    return dce(prog, [i < n for i in range(len(prog.outvars))]), value_tree


def _directional_build(fun, argnums, mode, has_aux, memory_budget=None):
    """Programs for one direction. Called as f(((args...), {kwargs}), [directions]):
    mode "jvp": directions are tangents of the differentiated leaves -> ((outs), (tangent outs));
    mode "vjp": directions are cotangents of the outputs -> [gradients of the differentiated leaves].
    With has_aux, fun returns (out, aux) and only out is differentiated."""
    def build(sig):
        ((args, kwargs), directions), _ = sig.rebuild(sig.dynamic_leaves())
        inner = Signature(tuple(args), kwargs)
        wrt, _ = _wrt_mask(inner, argnums, mode)
        prog, out_tree = trace_to_program(fun, inner, has_aux)
        if has_aux:
            prog, out_tree = _value_part(prog, out_tree, fun, mode)
        n_dir = len(sig.dynamic) - len(inner.dynamic)
        if mode == "jvp":
            program = jvp_program(prog, wrt)
            tree = (tuple, (out_tree, out_tree))
        else:
            for v in prog.outvars:
                if not is_float(v.aval.dtype):
                    raise DifferentiationError(f"vjp/jacrev: {_name(fun)} has an output of dtype {v.aval.dtype}; "
                                               "only floating-point outputs can be differentiated")
            with budget_scope(memory_budget):
                program, split = vjp_program(prog, wrt, ["input"] * len(prog.outvars), split=True)
            program.outvars = program.outvars[len(prog.outvars):]
            tree = (list, (pytree._LEAF,) * sum(wrt))
        if len(program.invars) != len(inner.dynamic) + n_dir:
            raise ValueError(f"{mode}: expected {len(program.invars) - len(inner.dynamic)} direction arrays, "
                             f"got {n_dir}")
        result = simplify(program)
        if mode == "vjp":
            passes.record(result, split)
        return result, tree
    return build


_directional_cache = LRU()


def _directional(fun, argnums, mode, has_aux=False, memory_budget=None):
    """A cached transformed function for the functional API (jvp, vjp, jacobians), which has no
    decorator object to hold compiled kernels between calls.  Mode "jit" ignores argnums."""
    key = (fun, argnums, mode, has_aux, memory_budget)
    t = _directional_cache.get(key)
    if t is None:
        if mode == "jit":
            t = _jit(fun, has_aux, "vjp")
        else:
            t = Transformed(fun, _directional_build(fun, argnums, mode, has_aux, memory_budget), mode)
        _directional_cache[key] = t
    return t


def _check_like(values, references, what):
    for v, r in zip(values, references):
        if np.shape(v) != np.shape(r):
            raise ShapeError(f"{what} has shape {np.shape(v)}, but the matching primal has shape {np.shape(r)}")


def jvp(fun, primals, tangents):
    """Forward mode: returns (fun(*primals), J @ tangents), tangents shaped like primals."""
    primals, tangents = tuple(primals), tuple(tangents)
    p_leaves, p_tree = pytree.flatten(primals)
    t_leaves, t_tree = pytree.flatten(tangents)
    if p_tree != t_tree:
        raise TypeError("jvp: primals and tangents must have the same tree structure")
    _float_leaves_only(Signature(primals), "jvp")
    _check_like(t_leaves, p_leaves, "a tangent")
    t_leaves = [np.asarray(t, dtype=_aval(p).dtype) if not _is_dynamic(t) or isinstance(t, (float, np.generic))
                else t for t, p in zip(t_leaves, p_leaves)]
    return _directional(fun, tuple(range(len(primals))), "jvp")((primals, {}), t_leaves)


def vjp(fun, *primals, has_aux=False, memory_budget=None):
    """Reverse mode: returns (fun(*primals), vjp_fn) where vjp_fn(ct) = ct @ J, one gradient per primal.

    With has_aux, fun returns (out, aux) and vjp returns (out, vjp_fn, aux).  `memory_budget` as for grad.
    The forward pass runs again, fused with the backward pass, when vjp_fn is called."""
    _float_leaves_only(Signature(primals), "vjp")
    result = _directional(fun, None, "jit", has_aux)(*primals)
    out = result[0] if has_aux else result
    out_leaves, out_tree = pytree.flatten(out)
    budget = None if memory_budget is None else parse_budget(memory_budget)
    backward = _directional(fun, tuple(range(len(primals))), "vjp", has_aux, budget)
    arg_trees = [pytree.flatten(p)[1] for p in primals]

    def vjp_fn(ct):
        ct_leaves, ct_tree = pytree.flatten(ct)
        if ct_tree != out_tree:
            raise TypeError("vjp_fn: the cotangent must have the same structure as the output")
        _check_like(ct_leaves, out_leaves, "the cotangent")
        ct_leaves = [np.asarray(c, dtype=_aval(o).dtype) if not hasattr(c, "_gj_trace") else c
                     for c, o in zip(ct_leaves, out_leaves)]
        grads = iter(backward((primals, {}), ct_leaves))
        return tuple(pytree.unflatten(t, [next(grads) for _ in range(pytree.num_leaves(t))]) for t in arg_trees)

    return (out, vjp_fn, result[1]) if has_aux else (out, vjp_fn)
