"""Turn an IR program into a plain Python function that calls each primitive's NumPy `impl`.

This is the reference interpreter specialised to one program: the same `impl` calls in the same
order, without the per-equation dispatch of `compiler.interpreter.eval_program`.  The eager
backward pass runs its cached VJP programs this way.
"""
import numpy as np

from compiler.ir import Literal


def _broadcast_in_dim(x, *, shape, broadcast_dimensions):
    """The primitive's impl without the final contiguous copy (a read-only view is enough here:
    the backward pass never writes into the arrays it passes along)."""
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = np.shape(x)[i]
    return np.broadcast_to(np.reshape(x, expanded), shape)


def _reduce_sum(x, *, axes):
    return np.add.reduce(x, axis=axes) if axes else x


# equivalent, faster implementations of a few primitives (same values, same shapes and dtypes)
FAST_IMPLS = {"broadcast_in_dim": _broadcast_in_dim, "reduce_sum": _reduce_sum}


def to_function(prog, invars, outputs, name="backward"):
    """A function of the values of `invars` returning a tuple: the value of each atom in
    `outputs`, or None where the entry is None."""
    env = {}
    names = {}

    def constant(value):
        key = f"k{len(env)}"
        env[key] = value
        return key

    def atom(x):
        return constant(x.val) if isinstance(x, Literal) else names[x]

    for i, v in enumerate(invars):
        names[v] = f"a{i}"
    for v, c in zip(prog.constvars, prog.consts):
        names[v] = constant(c)
    lines = [f"def {name}({', '.join(names[v] for v in invars)}):"]
    for k, eqn in enumerate(prog.eqns):
        fn = f"f{k}"
        env[fn] = FAST_IMPLS.get(eqn.prim.name, eqn.prim.impl)
        args = [atom(x) for x in eqn.inputs]
        args += [f"{p}={constant(v)}" for p, v in eqn.params.items()]
        outs = [f"v{k}_{j}" for j in range(len(eqn.outputs))]
        names.update(zip(eqn.outputs, outs))
        target = ", ".join(outs) + ("," if eqn.prim.multiple_results else "")
        lines.append(f"    {target} = {fn}({', '.join(args)})  # {eqn.prim.name}")
    rets = ["None" if o is None else atom(o) for o in outputs]
    lines.append(f"    return ({', '.join(rets)}{',' if rets else ''})")
    source = "\n".join(lines)
    exec(compile(source, f"<gradjit backward {name}>", "exec"), env)
    fn = env[name]
    fn.source = source
    return fn
