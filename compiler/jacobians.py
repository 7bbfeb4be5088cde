"""Jacobians and Hessians: jacfwd, jacrev, hessian."""
import functools

import numpy as np

from . import pytree
from .api import _directional, _jit, _wrt_mask
from .checkpointing import parse_budget
from .dispatch import Signature, _argnums_tuple, _aval, _decorator, _is_dynamic
from .errors import filter_traceback
from .ir import ShapedArray


def _basis(aval, j):
    e = np.zeros(aval.size, aval.dtype)
    e[j] = 1
    return e.reshape(aval.shape)


class _Jacobian:
    """jacfwd / jacrev: one directional derivative per input (fwd) or output (rev) element, stacked.

    Concrete calls reuse one compiled directional kernel; inside another transformation the
    directions are inlined into the trace."""

    def __init__(self, fun, argnums, has_aux, mode, memory_budget=None):
        self.fun, self.argnums, self.has_aux, self.mode = fun, argnums, has_aux, mode
        self.memory_budget = None if memory_budget is None else parse_budget(memory_budget)
        self.forward = _jit(fun, has_aux, "jacfwd" if mode == "jvp" else "jacrev")
        functools.update_wrapper(self, fun, updated=())

    def __reduce__(self):      # as Transformed: see compiler.pickling
        from .pickling import reduce_transformed
        return reduce_transformed(self)

    def __call__(self, *args, **kwargs):
        try:
            return self._call(args, kwargs)
        except Exception as e:
            raise e.with_traceback(filter_traceback(e.__traceback__)) from None

    def _call(self, args, kwargs):
        sig = Signature(args, kwargs)
        wrt, _ = _wrt_mask(sig, self.argnums, "jacfwd" if self.mode == "jvp" else "jacrev")
        nums = _argnums_tuple(self.argnums, len(args))
        in_leaves = [leaf for leaf, flag in zip(sig.dynamic_leaves(), wrt) if flag]
        in_avals = [_aval(leaf) for leaf in in_leaves]
        result = self.forward(*args, **kwargs)
        out = result[0] if self.has_aux else result
        out_leaves, out_tree = pytree.flatten(out)
        out_avals = [_aval(leaf) if _is_dynamic(leaf) else ShapedArray((), np.float64) for leaf in out_leaves]
        directional = _directional(self.fun, self.argnums, self.mode, self.has_aux, self.memory_budget)
        forward = self.mode == "jvp"
        # parts[o][i]: derivatives of output leaf o wrt input leaf i, one per basis direction:
        # columns (one per input element) in forward mode, rows (one per output element) in reverse
        parts = [[[] for _ in in_avals] for _ in out_avals]
        basis_avals = in_avals if forward else out_avals
        for b, aval in enumerate(basis_avals):
            for j in range(aval.size):
                directions = [_basis(a, j) if k == b else np.zeros(a.shape, a.dtype)
                              for k, a in enumerate(basis_avals)]
                result_j = directional((args, kwargs), directions)
                if forward:
                    for o, t in enumerate(pytree.flatten(result_j[1])[0]):
                        parts[o][b].append(t)
                else:
                    for i, g in enumerate(result_j):
                        parts[b][i].append(g)
        blocks = [[_assemble(parts[o][i], oa, ia, columns_last=forward) for i, ia in enumerate(in_avals)]
                  for o, oa in enumerate(out_avals)]
        arg_trees = [sig.arg_trees[a] for a in nums]
        per_out = []
        for o in range(len(out_avals)):
            it = iter(blocks[o])
            trees = [pytree.unflatten(t, [next(it) for _ in range(pytree.num_leaves(t))]) for t in arg_trees]
            per_out.append(trees[0] if isinstance(self.argnums, int) else tuple(trees))
        jac = pytree.unflatten(out_tree, per_out)
        return (jac, result[1]) if self.has_aux else jac


def _assemble(parts, out_aval, in_aval, columns_last):
    """Stack directional derivatives into an array of shape out.shape + in.shape: columns stack
    to (*out, n_in), rows to (n_out, *in); either reshapes to the same layout."""
    stacked = np.stack(parts, axis=-1 if columns_last else 0) if parts else np.zeros((0,), out_aval.dtype)
    return np.reshape(stacked, out_aval.shape + in_aval.shape)


@_decorator
def jacfwd(fun, argnums=0, has_aux=False):
    """The Jacobian by forward mode: one JVP per input element. Shape: out.shape + in.shape."""
    return _Jacobian(fun, argnums, has_aux, "jvp")


@_decorator
def jacrev(fun, argnums=0, has_aux=False, memory_budget=None):
    """The Jacobian by reverse mode: one VJP per output element. Shape: out.shape + in.shape.
    `memory_budget` bounds what the reverse pass stores per loop."""
    return _Jacobian(fun, argnums, has_aux, "vjp", memory_budget)


@_decorator
def hessian(fun, argnums=0, has_aux=False, memory_budget=None):
    """Forward-over-reverse: jacfwd(jacrev(f)); `memory_budget` as for jacrev."""
    return jacfwd(jacrev(fun, argnums, has_aux, memory_budget), argnums, has_aux)
