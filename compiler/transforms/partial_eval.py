"""The linearize split: which equations of a JVP program are primal and which are linear.

A dependence analysis: an equation that reads a linear (tangent) value is linear, the others are
primal.  An equation holding a sub-program (a loop, a conditional) mixes both kinds of values
after JVP, so its `partial_eval_rules` entry splits it into a primal equation, which also emits
the residuals the linear part needs, and a linear one.
"""
from ..ir import Var
from ..primitives.core import partial_eval_rules


def is_linear(atom, linear):
    return isinstance(atom, Var) and atom in linear


def split_eqns(eqns, linear):
    """(primal equations, linear equations); `linear`, a set of variables, grows with the outputs
    of the linear ones."""
    primal_eqns, linear_eqns = [], []
    for eqn in eqns:
        flags = [is_linear(x, linear) for x in eqn.inputs]
        if not any(flags):
            primal_eqns.append(eqn)
            continue
        rule = partial_eval_rules.get(eqn.prim)
        known, unknown = rule(eqn, flags) if rule is not None else ([], [eqn])
        primal_eqns += known
        linear_eqns += unknown
        linear.update(v for e in unknown for v in e.outputs)
    return primal_eqns, linear_eqns
