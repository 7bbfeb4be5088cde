"""Which equations of a reverse-mode program are the forward pass and which the backward pass,
and which values the backward pass reads from the forward pass (the residuals).

`vjp_program` says which variables the forward pass defines (`transforms.vjp.Split`); the
transformation that built a program records it here, keyed by the program (weakly), so the
graph drawing, the NaN checker and the memory report all read the same marking.
"""
import weakref

from ..ir import Var

_splits = weakref.WeakKeyDictionary()


def record(program, split):
    _splits[program] = split


class Passes:
    """The forward/backward marking of one program (`known` is False for programs that are not
    the output of reverse mode, such as `jit` programs: every equation is then 'forward')."""

    def __init__(self, program):
        split = _splits.get(program)
        self.program, self.known = program, split is not None
        self.forward_vars = split.forward if split is not None else None

    def is_forward(self, eqn):
        return self.forward_vars is None or eqn.outputs[0] in self.forward_vars

    def pass_of(self, eqn):
        """'forward' or 'backward' (None when the program has no marking)."""
        if not self.known:
            return None
        return "forward" if self.is_forward(eqn) else "backward"

    def residuals(self):
        """Variables defined by the forward pass that backward equations read."""
        if not self.known:
            return set()
        out = set()
        for eqn in self.program.eqns:
            if not self.is_forward(eqn):
                out.update(x for x in eqn.inputs if isinstance(x, Var) and x in self.forward_vars)
        return out


def passes_of(program):
    return Passes(program)
