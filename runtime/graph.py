"""Graph nodes: `Node` (one recorded operation) and `AccumulateGrad` (a leaf's gradient sink).

A Node keeps what its backward program reads: for the NumPy backward the input and output arrays
(`_args`), for create_graph the input tensors themselves (`_leaves`), and the version of every
saved tensor so that a later in-place change is detected instead of silently giving wrong grads.
"""
import numpy as np

from .derivatives import run_formula, zeros
from .errors import AutogradError

FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after "
         "they have already been freed). Saved intermediate values of the graph are freed when you call "
         ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
         "graph a second time or if you need to access saved tensors after calling backward.")


class Node:
    """A recorded operation. `name()` is PyTorch's name for it (MulBackward0); `next_functions`
    holds one `(node, output index)` per input: the input's grad_fn, an AccumulateGrad for a leaf
    that requires grad, or `(None, 0)`."""

    __slots__ = ("_entry", "next_functions", "_n_out", "_args", "_leaves", "_versions", "_out_versions",
                 "_retained", "_source", "__weakref__")

    def name(self):
        return self._entry.name

    def __repr__(self):
        return f"<{self._entry.name} object at {hex(id(self))}>"

    @property
    def metadata(self):
        return {"source": self._source} if self._source else {}

    # -- saved values: `_args` holds the arrays the backward program reads (saved inputs, then
    # saved outputs), `_leaves` the saved inputs themselves and `_versions` their versions.
    def _check(self):
        if self._args is None:
            raise AutogradError(FREED)
        for x, v in zip(self._leaves, self._versions):
            vc = getattr(x, "_vc", None)
            if vc is not None and vc[0] != v:
                self._modified(f"an input of {self.name()}", x.shape, x.dtype, vc[0], v)
        entry = self._entry
        for k, (vc, v) in zip(entry.fast_out, self._out_versions):
            if vc[0] != v:
                aval = entry.out_avals[k]
                self._modified(f"output {k} of {self.name()}", aval.shape, aval.dtype, vc[0], v)

    def _modified(self, what, shape, dtype, now, expected):
        raise AutogradError(
            "one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: [{np.dtype(dtype).name} tensor of shape {tuple(shape)}], which is {what}, is at "
            f"version {now}; expected version {expected} instead. Hint: use an out-of-place operation "
            "(y = y + 1 instead of y += 1), or .clone() the tensor before changing it in place.")

    def _cts(self, cts):
        entry = self._entry
        return [zeros(entry.out_avals[k]) if c is None else c
                for k, (c, d) in enumerate(zip(cts, entry.diff_out)) if d]

    def apply(self, cts):
        """NumPy backward: cotangents of the outputs -> gradients for each next_functions entry."""
        entry = self._entry
        if entry.needs_saved:
            self._check()
            args = self._args
        else:
            args = ()
        if len(cts) == 1 and cts[0] is not None:
            return entry.fast(*args, cts[0])
        return entry.fast(*args, *self._cts(cts))

    def apply_graph(self, cts):
        """Backward recorded as eager operations (create_graph=True). Saved outputs come back as
        tensors whose grad_fn is this node, so higher derivatives flow through it again."""
        from compiler.interpreter import eval_program

        from .tensor import new_tensor
        entry = self._entry
        leaves, outs = (), []
        if entry.needs_saved:
            self._check()
            leaves = self._leaves
            n_in = len(entry.fast_in)
            outs = [new_tensor(d, True, self, k) for k, d in zip(entry.fast_out, self._args[n_in:])]
        if entry.formula is not None:
            # what the formula does not read for the wanted gradients: zeros of the right shape
            args = [_placeholder(a) for a in entry.in_avals]
            for i, x in zip(entry.fast_in, leaves):
                args[i] = x
            (ct,) = self._cts(cts)
            out = outs[0] if outs else _placeholder(entry.out_avals[0])
            return run_formula(entry.formula, ct, out, args, entry.in_avals, entry.wrt)
        prog = entry.backward
        args = list(leaves) + outs + self._cts(cts)
        for i, (a, v) in enumerate(zip(args, prog.invars)):
            if type(a) in (int, float, bool):          # a weak Python scalar: the program's dtype
                args[i] = v.aval.dtype.type(a)
        it = iter(eval_program(prog, args))
        return [next(it) if a is not None else None for a in entry.aligned]

    def release(self):
        """Free the saved values (after a backward without retain_graph)."""
        self._args = None
        self._leaves = None

    def register_retained(self, index, ref):
        if self._retained is None:
            self._retained = {}
        self._retained[index] = ref


def _placeholder(aval):
    return np.broadcast_to(np.zeros((), aval.dtype), aval.shape)


class AccumulateGrad:
    """The sink of a leaf tensor that requires grad: backward adds into `variable.grad`."""

    __slots__ = ("variable", "__weakref__")
    next_functions = ()
    _n_out = 1
    _retained = None
    _source = None

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "torch::autograd::AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"
