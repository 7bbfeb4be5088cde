"""Run a program by binding each equation's primitive.

On concrete NumPy values this is the reference interpreter (each primitive's `impl`): the oracle
the compiled kernels are tested against, and the `disable_jit` path.  On tracers it inlines the
program into the enclosing trace, which is how transformed functions compose.
"""
from .ir import Literal


def eval_program(prog, args, consts=None, watch=None):
    """The program's outputs for `args`; `watch(eqn, inputs, outputs)` sees every equation run."""
    env = {}
    read = lambda atom: atom.val if isinstance(atom, Literal) else env[atom]
    for var, value in zip(prog.constvars, prog.consts if consts is None else consts):
        env[var] = value
    if len(args) != len(prog.invars):
        raise TypeError(f"program takes {len(prog.invars)} arguments, got {len(args)}")
    for var, value in zip(prog.invars, args):
        env[var] = value
    for eqn in prog.eqns:
        ins = [read(x) for x in eqn.inputs]
        out = eqn.prim.bind(*ins, **eqn.params)
        if eqn.prim.multiple_results:
            env.update(zip(eqn.outputs, out))
        else:
            env[eqn.outputs[0]] = out
        if watch is not None:
            watch(eqn, ins, out if eqn.prim.multiple_results else [out])
    return [read(v) for v in prog.outvars]
