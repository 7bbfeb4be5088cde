"""Lowering of loops and conditionals: a scan is a `for` loop, a while_loop a `while` loop and a
cond an `if`/`elif` chain in the kernel source.

A sub-program is lowered once, with the fusion machinery of codegen.py, into the statements of
the loop body; its inputs are names already in scope (the constants, the carries, the current
slices of the scanned inputs) and its names come from the enclosing lowering, so they stay unique
at every nesting level.  Compile time does not depend on the trip count: it is a literal.

Carries are local variables rebound every step.  Generated code never writes into an array it did
not allocate in the same statement group, so rebinding cannot clobber a value still needed; a
carry that would alias a constant or a scanned input is copied, so loop outputs never alias the
kernel's inputs.
"""
from ..ir import Program, Var
from .codegen import Lowering, literal_code


class _BodyLowering(Lowering):
    """Lowers a sub-program whose inputs are already named, drawing names from `root`."""

    def __init__(self, root, prog, input_names):
        super().__init__(Program([], [], prog.eqns, prog.outvars, []), materialize=root.materialize)
        self.root = root
        self.names.update(zip(prog.invars, input_names))

    def fresh_temp(self, prefix="_t"):
        return self.root.fresh_temp(prefix)

    def fresh_loop(self):
        return self.root.fresh_loop()

    def bind_name(self, var):
        name = self.names.get(var)
        if name is None:
            name = self.names[var] = self.root.bind_name(var)
        return name


def _root(low):
    return getattr(low, "root", low)


def lower_subprogram(low, prog, input_names):
    """(statements, output expressions) computing `prog` from the named inputs."""
    child = _BodyLowering(_root(low), prog, input_names)
    lines = child.lower().splitlines()[1:-1]          # without `def kernel():` and `return ...`
    child.root.recomputed |= child.recomputed         # lower_program lowers again materialising these
    results = [child.names[v] if isinstance(v, Var) else literal_code(v.val, v.aval.dtype) for v in prog.outvars]
    return [line[4:] for line in lines], results


def _owned(value, var, foreign):
    """`value`, copied if it is an array the loop does not own (a constant or a scanned input)."""
    return f"{value}.copy()" if var in foreign and var.aval.shape != () else value


def _assign(names, values):
    if not names:
        return []
    return [f"{', '.join(names)} = {', '.join(values)}"]


def _emit(low, eqn, lines):
    low.items.append(lines)
    for v in eqn.outputs:
        low.position[v] = len(low.items) - 1


def _indent(lines):
    return ["    " + line for line in lines]


def lower_scan(low, eqn):
    p = eqn.params
    body, nc, nk, length = p["body"], p["num_consts"], p["num_carry"], p["length"]
    consts, init, xs = eqn.inputs[:nc], eqn.inputs[nc:nc + nk], eqn.inputs[nc + nk:]
    carry_names = [low.bind_name(v) for v in eqn.outputs[:nk]]
    ys_names = [low.bind_name(v) for v in eqn.outputs[nk:]]
    step = f"_s{low.fresh_loop()}"
    slices = [low.fresh_temp("_x") for _ in xs]
    names = [low._operand(x) for x in consts] + carry_names + slices
    stmts, results = lower_subprogram(low, body, names)
    foreign = set(body.invars[:nc]) | set(body.invars[nc + nk:])
    lines = [f"# scan: {length} steps{', reversed' if p['reverse'] else ''}"]
    lines += [f"{name} = {_owned(low._operand(x), x, {x}) if isinstance(x, Var) else low._operand(x)}"
              for name, x in zip(carry_names, init)]
    lines += [f"{name} = np.empty({v.aval.shape}, np.{v.aval.dtype.name})" for name, v in zip(ys_names, eqn.outputs[nk:])]
    lines.append(f"for {step} in range({length - 1}, -1, -1):" if p["reverse"] else f"for {step} in range({length}):")
    loop = [f"{s} = {step_slice(low, eqn, x, step)}" for s, x in zip(slices, xs)] + stmts
    loop += [f"{name}[{step}] = {r}" for name, r in zip(ys_names, results[nk:])]    # before the carries move on
    loop += _assign(carry_names, [_owned(r, v, foreign) for r, v in zip(results[:nk], body.outvars[:nk])])
    _emit(low, eqn, lines + _indent(loop))


def scanned_inputs(eqn):
    """The inputs a loop equation reads one slice of per step (along axis 0)."""
    p = eqn.params
    if eqn.prim.name == "scan":
        return eqn.inputs[p["num_consts"] + p["num_carry"]:]
    if eqn.prim.name == "loop_adjoint":          # the cotangents of the ys (the xs are read by advances too)
        n_tape = 2 * p["num_carry"] + 1 if p["kind"] == "scan" else p["num_carry"] + 1
        return eqn.inputs[p["num_adjoint_consts"] + p["num_consts"] + p["num_xs"] + n_tape + p["counts"][1]:]
    return []


def step_slice(low, eqn, x, step):
    """The expression for the slice of scanned input `x` a loop reads at `step`."""
    same = low.same_every_step(eqn, x) if isinstance(x, Var) else None
    if same is None:
        return f"{low._operand(x)}[{step}]"
    return low._operand(same)


def lower_while(low, eqn):
    p = eqn.params
    cond, body, ncc, nbc = p["cond"], p["body"], p["cond_nconsts"], p["body_nconsts"]
    cond_consts, body_consts, init = eqn.inputs[:ncc], eqn.inputs[ncc:ncc + nbc], eqn.inputs[ncc + nbc:]
    carry_names = [low.bind_name(v) for v in eqn.outputs]
    test, (pred,) = lower_subprogram(low, cond, [low._operand(x) for x in cond_consts] + carry_names)
    stmts, results = lower_subprogram(low, body, [low._operand(x) for x in body_consts] + carry_names)
    foreign = set(body.invars[:nbc])
    lines = ["# while_loop"]
    lines += [f"{name} = {_owned(low._operand(x), x, {x}) if isinstance(x, Var) else low._operand(x)}"
              for name, x in zip(carry_names, init)]
    loop = test + [f"if not {pred}:", "    break"] + stmts
    loop += _assign(carry_names, [_owned(r, v, foreign) for r, v in zip(results, body.outvars)])
    _emit(low, eqn, lines + ["while True:"] + _indent(loop))


def lower_cond(low, eqn):
    branches, index, operands = eqn.params["branches"], eqn.inputs[0], eqn.inputs[1:]
    out_names = [low.bind_name(v) for v in eqn.outputs]
    names = [low._operand(x) for x in operands]
    lines = [f"# cond: {len(branches)} branches"]
    which = low.fresh_temp("_k")
    lines.append(f"{which} = min(max({low._operand(index)}, 0), {len(branches) - 1})")
    for k, branch in enumerate(branches):
        stmts, results = lower_subprogram(low, branch, names)
        foreign = set(branch.invars)
        head = "else:" if k == len(branches) - 1 and k else f"{'el' if k else ''}if {which} == {k}:"
        body = stmts + _assign(out_names, [_owned(r, v, foreign) for r, v in zip(results, branch.outvars)])
        lines += [head] + _indent(body or ["pass"])
    _emit(low, eqn, lines)
