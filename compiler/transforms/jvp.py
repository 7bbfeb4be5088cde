"""Forward mode as an IR-to-IR transform.

`jvp_program(prog, wrt)` returns a program taking (primals..., tangents of the inputs flagged in
`wrt`) and returning (primal outputs..., tangent outputs...).  Tangents that are structurally zero
are `None` while transforming (symbolic zeros): no code is emitted for them.
"""
from ..errors import MissingRuleError, at_line, source_of
from ..ir import Literal
from ..primitives import is_float, jvp_rules
from ..primitives.structural import broadcast_in_dim
from ..tracing import Builder


def zeros(aval):
    return broadcast_in_dim(aval.dtype.type(0), aval.shape, ())


def jvp_program(prog, wrt):
    with Builder() as b:
        primals = [b.new_arg(v.aval) for v in prog.invars]
        tangents = [b.new_arg(v.aval) if flag else None for v, flag in zip(prog.invars, wrt)]
        consts = [b.const(c) for c in prog.consts]
        outs, touts = jvp_trace(prog, consts, primals, tangents)
        touts = [zeros(o.aval) if t is None else t for o, t in zip(outs, touts)]
        return b.finish(list(outs) + touts)   # invars: primals, then the tangents in order


def jvp_trace(prog, consts, primals, tangents):
    """Evaluate `prog` on tracers, pushing tangents along; returns (outputs, output tangents)."""
    env, tenv = {}, {}

    def read(atom):
        return atom.val if isinstance(atom, Literal) else env[atom]

    env.update(zip(prog.constvars, consts))
    env.update(zip(prog.invars, primals))
    tenv.update((v, t) for v, t in zip(prog.invars, tangents) if t is not None)
    for eqn in prog.eqns:
        ins = [read(x) for x in eqn.inputs]
        tins = [None if isinstance(x, Literal) else tenv.get(x) for x in eqn.inputs]
        if all(t is None for t in tins):
            with source_of(eqn.source):       # re-emitted equations keep the user's line
                out = eqn.prim.bind(*ins, **eqn.params)
            tout = None
        else:
            rule = jvp_rules.get(eqn.prim)
            if rule is None:
                raise MissingRuleError(at_line(f"no derivative rule for primitive '{eqn.prim.name}'", eqn.source))
            with source_of(eqn.source):
                out, tout = rule(ins, tins, **eqn.params)
        outs = out if eqn.prim.multiple_results else [out]
        touts = tout if eqn.prim.multiple_results else [tout]
        for v, o, t in zip(eqn.outputs, outs, touts):
            env[v] = o
            if t is not None and is_float(v.aval.dtype):
                tenv[v] = t
    return [read(v) for v in prog.outvars], [None if isinstance(v, Literal) else tenv.get(v) for v in prog.outvars]
