"""Backward programs for eager operations, derived once per signature from the compiler's rules.

An operation at a signature (function, input shapes/dtypes, static arguments, which inputs
require grad) is traced into a small Program; `compiler.transforms.vjp_program` turns it into its
adjoint, built from the very JVP/transpose rules the compiler uses.  The forward outputs the
adjoint needs are made inputs of the backward program instead of being recomputed (exp's backward
reads exp(x), it does not call exp again), and only the inputs it still reads are saved.

The backward program runs two ways: compiled to a Python function over the primitives' NumPy
impls (plain backward), or with `compiler.interpreter.eval_program` on tensors (create_graph=True),
which records the backward pass itself, so it can be differentiated again.

Where PyTorch's derivative convention differs from the compiler's (JAX's) rules, an operation
carries PyTorch's own backward formula instead (`build_formula_entry`, formulas in `torch_ops`).
"""
import numpy as np

from compiler import pytree
from compiler.errors import at_line, user_source
from compiler.ir import Program, Var
from compiler.primitives import is_float, nondiff
from compiler.tracing import Builder
from compiler.transforms import cse, dce, vjp_program

from .errors import AutogradError
from .pyfunc import to_function


class Entry:
    """What every node of one operation signature shares. `formula`/`in_avals`: set for an
    operation with its own backward formula (create_graph runs the formula on tensors)."""

    __slots__ = ("name", "n_out", "out_avals", "diff_out", "record", "program", "backward", "fast",
                 "fast_in", "fast_out", "aligned", "needs_saved", "formula", "in_avals", "wrt")

    def __init__(self):
        self.formula = None


def _used(prog):
    used = {x for e in prog.eqns for x in e.inputs if isinstance(x, Var)}
    used.update(v for v in prog.outvars if isinstance(v, Var))
    return used


def _depends(prog, wrt):
    """Which outputs depend differentiably on an input flagged in `wrt`."""
    dep = {v for v, w in zip(prog.invars, wrt) if w}
    for eqn in prog.eqns:
        if eqn.prim not in nondiff and any(isinstance(x, Var) and x in dep for x in eqn.inputs):
            dep.update(o for o in eqn.outputs if is_float(o.aval.dtype))
    return [isinstance(v, Var) and v in dep and is_float(v.aval.dtype) for v in prog.outvars]


def trace(call, in_avals):
    """Trace `call(*tracers)` into (program, output tree)."""
    with Builder() as b:
        tracers = [b.new_arg(a) for a in in_avals]
        out_leaves, out_tree = pytree.flatten(call(*tracers))
        return b.finish(out_leaves), out_tree


def build_entry(call, in_avals, wrt, name):
    """The Entry of `call` (a function of the dynamic inputs) at these avals and `wrt` mask.

    Its backward program takes (saved inputs `fast_in`, saved outputs `fast_out`, one cotangent
    per differentiable output) and returns one gradient per input (None where not in `wrt`)."""
    prog, _ = trace(call, in_avals)
    e = Entry()
    e.name, e.program = name, prog
    e.n_out = len(prog.outvars)
    e.out_avals = [v.aval for v in prog.outvars]
    e.diff_out = _depends(prog, wrt)
    e.record = any(e.diff_out)
    if not e.record:
        return e
    n_in, n_out = len(prog.invars), len(prog.outvars)
    vjp = cse(vjp_program(prog, list(wrt), ["input" if d else None for d in e.diff_out]))
    primal_in, ct_in = vjp.invars[:n_in], vjp.invars[n_in:]
    outs, grads = vjp.outvars[:n_out], vjp.outvars[n_out:]
    it = iter(grads)
    e.aligned = [next(it) if w else None for w in wrt]

    # forward outputs become inputs: their defining equations (and what feeds only them) go
    defining = {}
    for k, eqn in enumerate(vjp.eqns):
        if len(eqn.outputs) == 1:
            defining[eqn.outputs[0]] = k
    out_vars, removed = [], set()
    for k, o in enumerate(outs):
        if isinstance(o, Var) and o in defining and o not in [v for _, v in out_vars]:
            removed.add(defining[o])
            out_vars.append((k, o))
    eqns = [eqn for k, eqn in enumerate(vjp.eqns) if k not in removed]
    bwd = dce(Program(vjp.constvars, vjp.invars + [o for _, o in out_vars], eqns, grads, vjp.consts))
    used = _used(bwd)
    e.fast_in = [i for i, v in enumerate(primal_in) if v in used]
    saved_out = [(k, o) for k, o in out_vars if o in used]
    e.fast_out = [k for k, _ in saved_out]
    invars = [primal_in[i] for i in e.fast_in] + [o for _, o in saved_out] + ct_in
    e.backward = Program(bwd.constvars, invars, bwd.eqns, bwd.outvars, bwd.consts)
    e.fast = to_function(e.backward, invars, e.aligned, name=_identifier(name))
    e.needs_saved = bool(e.fast_in or e.fast_out)
    return e


def fit(g, aval):
    """Gradient `g` summed over the dimensions its input was broadcast along, in the input's dtype."""
    shape = tuple(g.shape)
    if shape != aval.shape:
        lead = len(shape) - len(aval.shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(aval.shape) if d == 1 and shape[lead + i] != 1)
        if axes:
            g = np.sum(g, axis=axes)
        g = np.reshape(g, aval.shape)
    return g if g.dtype == aval.dtype else g.astype(aval.dtype)


def run_formula(formula, ct, out, args, in_avals, wrt):
    """`formula(ct, out, *args)` with each wanted gradient fitted to its input."""
    grads = formula(ct, out, *args)
    return [fit(g, a) if w else None for g, a, w in zip(grads, in_avals, wrt)]


def build_formula_entry(formula, in_avals, out_aval, wrt, name, save=()):
    """The Entry of a one-output operation whose backward is `formula(ct, out, *inputs)`: one
    gradient per input (None where it has none), written with NumPy calls and operators so that it
    runs on compiler tracers (traced here, once per signature, into the plain backward program) and
    on tensors (create_graph=True: every call records, so higher derivatives follow the formula).
    The inputs it reads are saved, and those listed in `save` (positions) even if it does not."""
    e = Entry()
    e.name, e.n_out, e.out_avals, e.in_avals = name, 1, [out_aval], list(in_avals)
    e.diff_out = [is_float(out_aval.dtype) and any(wrt)]
    e.record = e.diff_out[0]
    if not e.record:
        return e
    with Builder() as b:
        ins = [b.new_arg(a) for a in in_avals]
        out, ct = b.new_arg(out_aval), b.new_arg(out_aval)
        grads = formula(ct, out, *ins)
        for i, (g, w) in enumerate(zip(grads, wrt)):
            if w and g is None:
                raise AutogradError(at_line(f"{name}: the derivative for input {i} is not implemented (as in "
                                            "PyTorch); pass it detached (.detach()) or as a constant",
                                            user_source()))
        grads = [fit(g, a) if w else None for g, a, w in zip(grads, in_avals, wrt)]
        prog = dce(b.finish([g for g in grads if g is not None]))
    n = len(in_avals)
    used = _used(prog)
    e.fast_in = [i for i in range(n) if prog.invars[i] in used or i in save]
    e.fast_out = [0] if prog.invars[n] in used else []
    invars = [prog.invars[i] for i in e.fast_in] + [prog.invars[n]] * len(e.fast_out) + [prog.invars[n + 1]]
    it = iter(prog.outvars)
    e.aligned = [next(it) if g is not None else None for g in grads]
    e.backward = Program(prog.constvars, invars, prog.eqns, prog.outvars, prog.consts)
    e.fast = to_function(e.backward, invars, e.aligned, name=_identifier(name))
    e.needs_saved = bool(e.fast_in or e.fast_out)
    e.formula = formula
    e.wrt = list(wrt)
    return e


def _identifier(name):
    return "".join(c if c.isalnum() else "_" for c in name) or "backward"


def zeros(aval):
    return np.zeros(aval.shape, aval.dtype)
