"""Forward mode as an IR-to-IR transform.

`jvp_program(prog, wrt)` returns a program taking (primals..., tangents of the inputs flagged in
`wrt`) and returning (primal outputs..., tangent outputs...).  Tangents that are structurally zero
are `None` while transforming (symbolic zeros): no code is emitted for them.  Every tangent that is
not None has exactly its primal's aval (see `like`).
"""
import numpy as np

from ..errors import MissingRuleError, at_line
from ..ir import Literal
from ..primitives import aval_of, is_float, jvp_rules
from ..primitives.elementwise import convert
from ..primitives.structural import broadcast_in_dim
from ..tracing import Builder, attribute_to


def zeros(aval):
    return broadcast_in_dim(aval.dtype.type(0), aval.shape, ())


def like(t, aval):
    """`t` with exactly `aval`: elementwise rules may return a rank-0 tangent (or cotangent) that
    stands for one broadcast to the operand's shape, e.g. d(c + x) = dx for an array c."""
    if aval_of(t).dtype != aval.dtype:
        t = convert(t, aval.dtype)
    if np.shape(t) != aval.shape:
        t = broadcast_in_dim(t, aval.shape, ())
    return t


def jvp_program(prog, wrt):
    with Builder() as b:
        primals = [b.new_arg(v.aval) for v in prog.invars]
        tangents = [b.new_arg(v.aval) if flag else None for v, flag in zip(prog.invars, wrt)]
        consts = [b.const(c) for c in prog.consts]
        outs, touts = jvp_trace(prog, consts, primals, tangents)
        touts = [zeros(v.aval) if t is None else t for v, t in zip(prog.outvars, touts)]
        return b.finish(list(outs) + touts)   # invars: primals, then the tangents in order


def jvp_trace(prog, consts, primals, tangents):
    """Evaluate `prog` on tracers, pushing tangents along; returns (outputs, output tangents)."""
    env, tenv = {}, {}

    def read(atom):
        return atom.val if isinstance(atom, Literal) else env[atom]

    env.update(zip(prog.constvars, consts))
    env.update(zip(prog.invars, primals))
    tenv.update((v, t) for v, t in zip(prog.invars, tangents) if t is not None)
    outer_source = attribute_to(None)     # (a Builder's exit restores it if a rule raises)
    for eqn in prog.eqns:
        attribute_to(eqn.source)            # derivative equations point at the user's line
        ins = [read(x) for x in eqn.inputs]
        tins = [None if isinstance(x, Literal) else tenv.get(x) for x in eqn.inputs]
        if all(t is None for t in tins):
            out = eqn.prim.bind(*ins, **eqn.params)
            tout = [None] * len(eqn.outputs) if eqn.prim.multiple_results else None
        else:
            rule = jvp_rules.get(eqn.prim)
            if rule is None:
                raise MissingRuleError(at_line(f"no derivative rule for primitive '{eqn.prim.name}'", eqn.source))
            out, tout = rule(ins, tins, **eqn.params)
        outs = out if eqn.prim.multiple_results else [out]
        touts = tout if eqn.prim.multiple_results else [tout]
        for v, o, t in zip(eqn.outputs, outs, touts):
            env[v] = o
            if t is not None and is_float(v.aval.dtype):
                tenv[v] = like(t, v.aval)
    attribute_to(outer_source)
    return [read(v) for v in prog.outvars], [None if isinstance(v, Literal) else tenv.get(v) for v in prog.outvars]
