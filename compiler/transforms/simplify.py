"""Program clean-ups: dead-code elimination and common-subexpression elimination."""
import numpy as np

from ..ir import Eqn, Literal, Program, Var
from ..primitives.core import dce_rules


def dce(prog, keep_outputs=None):
    """Drop equations whose results nothing uses (all primitives are pure).

    `keep_outputs`: a mask over the outputs; dropped outputs are removed from the program."""
    outvars = prog.outvars if keep_outputs is None else [v for v, k in zip(prog.outvars, keep_outputs) if k]
    live = {v for v in outvars if isinstance(v, Var)}
    kept = []
    for eqn in reversed(prog.eqns):
        if any(v in live for v in eqn.outputs):
            prune = dce_rules.get(eqn.prim)      # loops and conditionals drop dead outputs and inputs
            if prune is not None:
                eqn = prune(eqn, [v in live for v in eqn.outputs])
            kept.append(eqn)
            live.update(x for x in eqn.inputs if isinstance(x, Var))
    kept.reverse()
    used = [(v, c) for v, c in zip(prog.constvars, prog.consts) if v in live]
    return Program([v for v, _ in used], prog.invars, kept, outvars, [c for _, c in used])


def _param_key(params):
    items = []
    for k, v in sorted(params.items()):
        if isinstance(v, np.ndarray):
            return None
        items.append((k, v if not isinstance(v, Program) else id(v)))
    key = tuple(items)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def cse(prog):
    """Merge equations that apply the same primitive to the same inputs with the same params."""
    subst, seen, eqns = {}, {}, []
    atom = lambda x: subst.get(x, x) if isinstance(x, Var) else x
    atom_key = lambda x: (x.val.tobytes(), x.aval.dtype) if isinstance(x, Literal) else id(x)
    for eqn in prog.eqns:
        inputs = [atom(x) for x in eqn.inputs]
        pkey = _param_key(eqn.params)
        key = None if pkey is None else (eqn.prim, tuple(atom_key(x) for x in inputs), pkey)
        if key is not None and key in seen:
            subst.update(zip(eqn.outputs, seen[key].outputs))
            continue
        new = Eqn(eqn.prim, inputs, eqn.params, eqn.outputs, eqn.source)
        if key is not None:
            seen[key] = new
        eqns.append(new)
    return Program(prog.constvars, prog.invars, eqns, [atom(v) for v in prog.outvars], prog.consts)


def simplify(prog, keep_outputs=None):
    return dce(cse(prog), keep_outputs)
