"""Disconnected gradients: a differentiated argument whose gradient is structurally zero because the
output does not depend on it, or only through stop_gradient, integer casts or comparisons.

Reverse mode knows which gradients are zero (`transforms.vjp.Split.zero`); this module says why,
by following the argument through the traced program, and warns once per signature
(`DisconnectedGradientWarning`), or raises DifferentiationError under `strict_gradients()` /
GRADJIT_STRICT_GRADIENTS=1.
"""
import numpy as np

from ..errors import DifferentiationError
from ..ir import Var
from ..primitives import is_float, nondiff
from .categories import DisconnectedGradientWarning
from .config import config, warn_at_user
from .draw import short_source
from .names import leaf_names

COMPARISONS = {"eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not"}


def _blocker(eqn):
    """Why derivatives stop at this equation (it has an input that carries one)."""
    name = eqn.prim.name
    if name == "stop_gradient":
        what = "stop_gradient"
    elif name == "convert":
        what = f"a cast to {np.dtype(eqn.params['dtype']).name}"
    elif name in COMPARISONS:
        what = f"a comparison ('{name}')"
    elif eqn.prim in nondiff:
        what = f"'{name}' (its derivative is zero)"
    else:
        what = f"'{name}' (its result is not floating point)"
    return what + (f" at {short_source(eqn.source)}" if eqn.source else "")


def why_disconnected(program, invar, outputs):
    """Why the `outputs` (variables) of `program` carry no derivative with respect to `invar`."""
    depends, carries, blockers = {invar}, {invar}, []
    for eqn in program.eqns:
        if not any(isinstance(x, Var) and x in depends for x in eqn.inputs):
            continue
        depends.update(eqn.outputs)
        if any(isinstance(x, Var) and x in carries for x in eqn.inputs):
            passes = eqn.prim not in nondiff and all(is_float(v.aval.dtype) for v in eqn.outputs)
            if passes:
                carries.update(eqn.outputs)
            else:
                blockers.append(eqn)
    if not any(v in depends for v in outputs if isinstance(v, Var)):
        return "the output does not depend on it"
    upstream = _upstream(program, outputs)
    reasons = list(dict.fromkeys(_blocker(e) for e in blockers if e.outputs[0] in upstream))
    if not reasons:
        return "every derivative path from it to the output is zero"
    return "the output depends on it only through " + ", ".join(reasons)


def _upstream(program, outputs):
    """Variables the outputs depend on."""
    producer = {v: e for e in program.eqns for v in e.outputs}
    seen, stack = set(), [v for v in outputs if isinstance(v, Var)]
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        eqn = producer.get(v)
        if eqn is not None:
            stack.extend(x for x in eqn.inputs if isinstance(x, Var))
    return seen


def check(fun, fname, sig, wrt, program, differentiated, zero, warned):
    """After reverse mode built the gradient of `program` (traced from `fun` for `sig`): warn, or
    raise in strict mode, if a gradient is structurally zero. `wrt` flags the differentiated
    inputs, `zero` (one per flagged input) those with a zero gradient, `differentiated` the outputs
    that are differentiated; `warned` (a set-like cache) holds the signatures already reported."""
    if not any(zero) or (sig.key in warned and not config.strict_gradients):
        return
    names = leaf_names(sig.key[0], fun)
    inputs = [j for j, flag in enumerate(wrt) if flag]
    outputs = [v for v, d in zip(program.outvars, differentiated) if d]
    reasons = [(names[sig.dynamic[j]], why_disconnected(program, program.invars[j], outputs))
               for j, z in zip(inputs, zero) if z]
    fn_name = getattr(fun, "__name__", repr(fun))
    if len(reasons) == 1:
        found = f"the gradient with respect to {reasons[0][0]} is zero: {reasons[0][1]}."
    else:
        found = "these gradients are zero:\n" + "".join(f"  {name}: {why}\n" for name, why in reasons)
    message = (f"{fname}({fn_name}): {found} If that is intended, leave the argument out of argnums; "
               f"if not, check the function.")
    if config.strict_gradients:
        raise DifferentiationError(message + " (This is an error because strict_gradients is on.)")
    warned[sig.key] = True
    warn_at_user(message + " Set GRADJIT_STRICT_GRADIENTS=1 (or use compiler.strict_gradients()) to make this "
                 "an error.", DisconnectedGradientWarning)
