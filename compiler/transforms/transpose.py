"""Transpose a program that is linear in some of its inputs (the adjoint of a loop body).

Walks the linear equations backwards with each primitive's transpose rule, as `vjp_program`
does for a whole function; equations that read no linear value are evaluated forwards first.
"""
from ..errors import MissingRuleError, at_line
from ..ir import Literal, Program
from ..primitives import UndefinedPrimal, transpose_rules
from ..primitives.core import add_tangents
from ..tracing import Builder
from .jvp import like, zeros
from .partial_eval import is_linear


def transpose_program(prog, linear_in, ct_in):
    """`prog` is linear in the inputs flagged in `linear_in`.  Returns (program, consts): the
    program takes the other inputs, then a cotangent for each output flagged in `ct_in`, and
    returns the cotangent of each linear input (zeros where there is none); `consts` are values
    it captured, to be passed before its other inputs."""
    with Builder() as b:
        env = {}
        read = lambda atom: atom.val if isinstance(atom, Literal) else env[atom]
        for v, lin in zip(prog.invars, linear_in):
            if not lin:
                env[v] = b.new_arg(v.aval)
        out_cts = [b.new_arg(v.aval) if flag else None for v, flag in zip(prog.outvars, ct_in)]
        env.update(zip(prog.constvars, [b.const(c) for c in prog.consts]))
        linear = {v for v, lin in zip(prog.invars, linear_in) if lin}
        linear_eqns = []
        for eqn in prog.eqns:
            if any(is_linear(x, linear) for x in eqn.inputs):
                linear_eqns.append(eqn)
                linear.update(eqn.outputs)
            else:
                out = eqn.prim.bind(*[read(x) for x in eqn.inputs], **eqn.params)
                env.update(zip(eqn.outputs, out if eqn.prim.multiple_results else [out]))

        cts = {}

        def accumulate(var, ct):
            if is_linear(var, linear) and ct is not None:
                cts[var] = add_tangents(cts.get(var), like(ct, var.aval))

        for v, ct in zip(prog.outvars, out_cts):
            accumulate(v, ct)
        for eqn in reversed(linear_eqns):
            eqn_cts = [cts.pop(v, None) for v in eqn.outputs]
            if all(c is None for c in eqn_cts):
                continue
            rule = transpose_rules.get(eqn.prim)
            if rule is None:
                raise MissingRuleError(at_line(f"no transpose rule for linear primitive '{eqn.prim.name}'",
                                               eqn.source))
            args = [UndefinedPrimal(x.aval) if is_linear(x, linear) else read(x) for x in eqn.inputs]
            for x, c in zip(eqn.inputs, rule(eqn_cts if eqn.prim.multiple_results else eqn_cts[0],
                                             *args, **eqn.params)):
                accumulate(x, c)
        result = [cts.get(v) if cts.get(v) is not None else zeros(v.aval)
                  for v, lin in zip(prog.invars, linear_in) if lin]
        out = b.finish(result)
    return close(out)


def close(prog):
    """A program without captured constants: they become its leading inputs. Returns (program, values)."""
    return Program([], prog.constvars + prog.invars, prog.eqns, prog.outvars, []), list(prog.consts)

