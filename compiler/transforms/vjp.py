"""Reverse mode: JVP, then linearize (split the JVP program), then transpose the linear part.

On a static IR the linearize split is a dependence analysis: an equation that reads a tangent is
linear, the rest is the primal computation, and the primal values the linear part reads are the
residuals.  Transposing walks the linear equations backwards with each primitive's transpose
rule.  The result is one program: the forward pass, then the backward pass.  Asked for it,
`vjp_program` also returns a `Split` saying which variables the forward pass defines (so
diagnostics can tell the passes apart and find the residuals) and which gradients are zero.
"""
from ..errors import MissingRuleError, at_line
from ..ir import Literal, Var
from ..primitives import UndefinedPrimal, transpose_rules
from ..primitives.core import add_tangents
from ..tracing import Builder, attribute_to
from .jvp import jvp_program, like, zeros
from .partial_eval import split_eqns


class Split:
    """`forward`: the variables the forward pass defines (everything else an equation defines
    belongs to the backward pass; the variables keep their identity through `simplify`).
    `zero`: one flag per differentiated input, true where its gradient is structurally zero
    (no derivative path leads from it to a differentiated output)."""

    __slots__ = ("forward", "zero")

    def __init__(self, forward, zero):
        self.forward, self.zero = forward, zero


def vjp_program(prog, wrt, seeds, split=False):
    """Program (primals..., cotangent inputs...) -> (primal outputs..., cotangents of `wrt` inputs).

    `seeds[k]` says how output k is weighted: "input" (a cotangent argument of the program), a
    concrete scalar or array (a constant cotangent, e.g. 1.0 for `grad`), or None (not differentiated).
    With `split`, returns (program, Split).
    """
    jvp = jvp_program(prog, wrt)
    n_in, n_out = len(prog.invars), len(prog.outvars)
    tangent_in = jvp.invars[n_in:]
    linear = set(tangent_in)
    primal_eqns, linear_eqns = split_eqns(jvp.eqns, linear)   # loops split into primal and linear loops

    with Builder() as b:
        env = {}
        read = lambda atom: atom.val if isinstance(atom, Literal) else env[atom]
        env.update(zip(jvp.invars[:n_in], [b.new_arg(v.aval) for v in prog.invars]))
        seed_values = [b.new_arg(v.aval) if s == "input" else s for v, s in zip(prog.outvars, seeds)]
        env.update(zip(jvp.constvars, [b.const(c) for c in jvp.consts]))
        for eqn in primal_eqns:
            attribute_to(eqn.source)
            out = eqn.prim.bind(*[read(x) for x in eqn.inputs], **eqn.params)
            env.update(zip(eqn.outputs, out if eqn.prim.multiple_results else [out]))
        n_forward = len(b.eqns)

        cts = {}

        def accumulate(var, ct):
            if isinstance(var, Var) and var in linear and ct is not None:
                cts[var] = add_tangents(cts.get(var), like(ct, var.aval))

        for tout, seed in zip(jvp.outvars[n_out:], seed_values):
            if seed is not None:
                accumulate(tout, b.const(seed) if not hasattr(seed, "_gj_trace") else seed)
        for eqn in reversed(linear_eqns):
            out_cts = [cts.pop(v, None) for v in eqn.outputs]
            if all(c is None for c in out_cts):
                continue
            attribute_to(eqn.source)
            rule = transpose_rules.get(eqn.prim)
            if rule is None:
                raise MissingRuleError(at_line(f"no transpose rule for linear primitive '{eqn.prim.name}'",
                                               eqn.source))
            args = [UndefinedPrimal(x.aval) if isinstance(x, Var) and x in linear else read(x) for x in eqn.inputs]
            ct = out_cts if eqn.prim.multiple_results else out_cts[0]
            for x, c in zip(eqn.inputs, rule(ct, *args, **eqn.params)):
                accumulate(x, c)
        attribute_to(None)
        zero = [cts.get(t) is None for t in tangent_in]
        grads = [zeros(t.aval) if z else cts[t] for t, z in zip(tangent_in, zero)]
        result = b.finish([read(v) for v in jvp.outvars[:n_out]] + grads)
    if not split:
        return result
    return result, Split(frozenset(v for eqn in result.eqns[:n_forward] for v in eqn.outputs), zero)


