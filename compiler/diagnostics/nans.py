"""debug_nans: after a call, check the outputs for NaN and inf; if there are any, re-run the
program with the reference interpreter, equation by equation, and raise FloatingPointError at
the first equation that produced one, naming its primitive, the user's line and the pass.

Only calls made while `config.debug_nans` is on are checked (they leave the dispatch fast path),
so switched off it costs nothing.
"""
import numpy as np

from .. import pytree
from ..interpreter import eval_program
from ..ir import Var
from .names import leaf_names
from .passes import passes_of

ADVICE = {
    "forward": "Look there for log or sqrt of a negative number or zero, 0/0, inf - inf, 0 * inf, or an "
               "overflow (exp of a large number).",
    "backward": "The backward pass computes the derivatives of the operations at that line: look for a "
                "derivative that is infinite where it is evaluated (sqrt, log, x ** a with a < 1, or "
                "arcsin at 0 or at the ends of their domains), or for a NaN/inf the forward pass hides "
                "(np.where evaluates both branches: guard the input of the unsafe branch too).",
    None: "Look there for log or sqrt of a negative number or zero, 0/0, inf - inf, or an overflow.",
}


def _float_values(value):
    a = np.asarray(value)
    return a if a.dtype.kind in "fc" else None


def _has(value, kind):
    a = _float_values(value)
    if a is None:
        return False
    return bool(np.isnan(a).any()) if kind == "NaN" else bool(np.isinf(a).any())


class _Found(Exception):
    def __init__(self, eqn):
        self.eqn = eqn


def _ancestors(program, outputs):
    """Equations the given output variables depend on."""
    producer = {v: e for e in program.eqns for v in e.outputs}
    needed, stack = set(), [v for v in outputs if isinstance(v, Var)]
    while stack:
        eqn = producer.get(stack.pop())
        if eqn is not None and id(eqn) not in needed:
            needed.add(id(eqn))
            stack.extend(x for x in eqn.inputs if isinstance(x, Var))
    return needed


def check(name, sig, program, leaves, out):
    """Raise FloatingPointError if the outputs `out` of `program` (the function `name` called with
    the kernel arguments `leaves`, signature `sig`) hold NaN or inf."""
    flat = pytree.flatten(out)[0]
    bad = [i for i, v in enumerate(flat) if _has(v, "NaN") or _has(v, "inf")]
    if not bad:
        return
    kind = "NaN" if any(_has(flat[i], "NaN") for i in bad) else "inf"
    outputs = ", ".join(f"output {i}" for i in bad if _has(flat[i], kind))
    names = leaf_names(sig.key[0])
    for j, leaf in enumerate(leaves):
        if _has(leaf, kind):
            raise FloatingPointError(
                f"debug_nans: {name} returned {kind} ({outputs}), but its input {names[sig.dynamic[j]]} already "
                f"contains {kind}: the program did not produce it. Find where that input came from.")
    for c in program.consts:
        if _has(c, kind):
            raise FloatingPointError(
                f"debug_nans: {name} returned {kind} ({outputs}), but an array it captured from its "
                f"environment (shape {np.shape(c)}) already contains {kind}: the program did not produce it.")
    suspects = _ancestors(program, [program.outvars[i] for i in bad if i < len(program.outvars)])

    def watch(eqn, ins, outs):
        if id(eqn) in suspects and any(_has(o, kind) for o in outs) and not any(_has(x, kind) for x in ins):
            raise _Found(eqn)

    try:
        with np.errstate(all="ignore"):
            eval_program(program, list(leaves), watch=watch)
    except _Found as found:
        raise FloatingPointError(_message(name, program, found.eqn, kind, outputs)) from None
    raise FloatingPointError(
        f"debug_nans: the compiled kernel of {name} returned {kind} ({outputs}), but the reference "
        f"interpreter does not reproduce it on the same inputs, so no single equation produced it. "
        f"Please report this (with the function and inputs) as a gradjit bug.")


def _message(name, program, eqn, kind, outputs):
    which = passes_of(program).pass_of(eqn)
    where = f" in the {which} pass" if which else ""
    ins = ", ".join(str(x.aval) for x in eqn.inputs)
    outs = ", ".join(str(v.aval) for v in eqn.outputs)
    at = f"at {eqn.source}" if eqn.source else "(source line unknown)"
    return (f"debug_nans: {name} produced {kind}{where} ({outputs}): the first equation that made it "
            f"is '{eqn.prim.name}' {at}, which returned {kind} from inputs without {kind}\n"
            f"  equation: {eqn.prim.name}({ins}) -> {outs}, the {eqn_index(program, eqn)} of {len(program.eqns)} "
            f"equations\n  {ADVICE[which]}")


def eqn_index(program, eqn):
    k = next(i for i, e in enumerate(program.eqns) if e is eqn) + 1
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"
