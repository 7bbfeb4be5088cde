"""Building the closed sub-programs that loops and conditionals hold.

A sub-program has no captured constants: whatever it captured while being traced becomes one of
its leading inputs (`close`), and the equation holding it passes the values explicitly.
"""
from ..errors import MissingRuleError
from ..ir import Literal, Var
from ..primitives.structural import broadcast_in_dim_p
from ..tracing import Builder, _active
from .jvp import jvp_trace, zeros
from .simplify import simplify
from .transpose import close


def trace_program(fn, in_avals):
    """Trace `fn(*tracers) -> list of outputs` into a closed, simplified program.
    Returns (program, consts): `consts` are the captured values, its leading inputs."""
    with Builder() as b:
        outs = fn(*[b.new_arg(a) for a in in_avals])
        prog = b.finish(outs)
    closed, consts = close(prog)
    return simplify(closed), consts


def current_builder():
    """The innermost open trace, or None outside any trace."""
    return _active.stack[-1] if _active.stack else None


def bind_eqns(eqns, env):
    """Re-emit `eqns` into the current trace on the values in `env` (var -> value), adding their
    outputs; returns a reader.  Equations of constants are recorded, not evaluated: a sub-program
    built this way captures no constant arrays."""
    read = lambda atom: atom.val if isinstance(atom, Literal) else env[atom]
    builder = current_builder()
    for eqn in eqns:
        args = [read(x) for x in eqn.inputs]
        if any(getattr(a, "_gj_trace", None) is not None for a in args):
            out = eqn.prim.bind(*args, **eqn.params)
        else:
            out = builder.process(eqn.prim, args, eqn.params)
        env.update(zip(eqn.outputs, out if eqn.prim.multiple_results else [out]))
    return read


def recorded_zeros(aval):
    """Zeros as an equation of the current trace (not a captured constant)."""
    zero = aval.dtype.type(0)
    if aval.shape == ():
        return zero
    return current_builder().process(broadcast_in_dim_p, [zero], {"shape": aval.shape, "broadcast_dimensions": ()})


def trace_closed(fn, in_avals):
    """`trace_program` for a sub-program that must capture nothing (built with `bind_eqns`)."""
    prog, consts = trace_program(fn, in_avals)
    if consts:
        raise MissingRuleError("internal error: a split loop body captured constants; please report this")
    return prog


def jvp_subprogram(prog, nonzero, instantiate, in_groups, out_groups):
    """The JVP of a closed program, with the tangents placed next to their primals.

    `in_groups` partitions the inputs (lists of indices, e.g. consts, carries, xs): for each group
    the result takes the group's primals, then the tangents of its members flagged in `nonzero`.
    `out_groups` does the same for outputs, with a tangent for each output that has one; outputs
    flagged in `instantiate` always have one (zeros if need be).
    Returns (program, consts, which outputs have tangents)."""
    out_nonzero = []

    def fn(*args):
        it = iter(args)
        primals, tangents = [None] * len(prog.invars), [None] * len(prog.invars)
        for group in in_groups:
            for i in group:
                primals[i] = next(it)
            for i in group:
                if nonzero[i]:
                    tangents[i] = next(it)
        outs, touts = jvp_trace(prog, [], primals, tangents)
        touts = [zeros(v.aval) if t is None and inst else t
                 for v, t, inst in zip(prog.outvars, touts, instantiate)]
        out_nonzero[:] = [t is not None for t in touts]
        result = []
        for group in out_groups:
            result += [outs[k] for k in group] + [touts[k] for k in group if touts[k] is not None]
        return result

    avals = []
    for group in in_groups:
        avals += [prog.invars[i].aval for i in group] + [prog.invars[i].aval for i in group if nonzero[i]]
    program, consts = trace_program(fn, avals)
    return program, consts, out_nonzero


def residuals(linear_eqns, linear, outputs):
    """The primal variables the linear part reads (in first-use order), including primal `outputs`
    it must return."""
    found = {}
    for atom in [x for eqn in linear_eqns for x in eqn.inputs] + list(outputs):
        if isinstance(atom, Var) and atom not in linear:
            found.setdefault(atom, None)
    return list(found)


def used_vars(prog):
    """The variables a program's equations and outputs read."""
    used = {x for eqn in prog.eqns for x in eqn.inputs if isinstance(x, Var)}
    return used | {v for v in prog.outvars if isinstance(v, Var)}
