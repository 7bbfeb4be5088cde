"""Structured control flow: `scan`, `while_loop` and `cond`, primitives whose params hold closed
sub-programs (a loop body, a loop condition, the branches of a conditional).

A sub-program captures nothing: what the user's function closed over is an explicit input of the
equation (the leading `num_consts` inputs of a scan).  Here are all their rules: impl (the
reference interpreter runs the sub-programs), shape rule (checks the sub-programs' interfaces),
JVP (the JVP of a loop is a loop, with tangents for the carries found by a fixed point), partial
evaluation (a JVP'd loop splits into a primal loop that also stacks per-step residuals and a linear
loop that reads them), transpose (a linear scan runs its transposed body in the other direction),
dead-code pruning, and the lowering (compiler/lowering/control.py).

    scan      inputs: consts, initial carries, xs (scanned along axis 0)
              params: body (consts, carries, x slices -> new carries, y slices), num_consts,
                      num_carry, length, reverse, memory_budget (None: the transform's),
                      stacks (a primal scan of reverse mode: what its extra ys are, "residuals"
                      or "states"; for reports)
              outputs: final carries, ys stacked along a new axis 0
    while_loop inputs: cond consts, body consts, initial carries
              params: cond (consts, carries -> bool scalar), body (consts, carries -> carries),
                      cond_nconsts, body_nconsts
    cond      inputs: an integer index (clamped into range, as JAX does), operands
              params: branches (a tuple of programs taking the operands)
"""
import numpy as np

from ..checkpointing import current_budget, nbytes, scan_plan, while_slots
from ..errors import DifferentiationError, ShapeError, at_line
from ..ir import Eqn, Program, ShapedArray, Var
from .core import (Primitive, aval_of, dce_rules, deflowering, is_undefined, jvp_rules, partial_eval_rules,
                   transpose_rules)


class ControlPrimitive(Primitive):
    """Recorded by the innermost open trace even when every operand is a constant, so that a long
    loop stays one equation instead of running in Python while a function is traced."""

    __slots__ = ()

    def bind(self, *args, **params):
        if not any(getattr(a, "_gj_trace", None) is not None for a in args):
            from ..transforms.subprograms import current_builder
            builder = current_builder()
            if builder is not None:
                return builder.process(self, args, params)
        return super().bind(*args, **params)


def _cut(seq, *counts):
    """Split `seq` into consecutive pieces of the given lengths, and the rest."""
    out, start = [], 0
    for n in counts:
        out.append(list(seq[start:start + n]))
        start += n
    return out + [list(seq[start:])]


def _avals(atoms):
    return [x.aval for x in atoms]


def _check(cond, message):
    if not cond:
        raise ShapeError(message)


def _concrete(value, aval):
    value = np.asarray(value, dtype=aval.dtype)
    return value[()] if value.ndim == 0 else value


def _lowering(name, module="control"):
    def lower(lowering, eqn):
        from importlib import import_module
        return getattr(import_module(f"compiler.lowering.{module}"), f"lower_{name}")(lowering, eqn)
    return lower


def _zeros(aval):
    from ..transforms.jvp import zeros
    return zeros(aval)


def _program(invars, eqns, outvars):
    return Program([], invars, eqns, outvars, [])


# ================================================================ scan

def _scan_impl(*args, body, num_consts, num_carry, length, reverse, memory_budget=None, stacks=None):
    from ..interpreter import eval_program
    consts, carry, xs = _cut(args, num_consts, num_carry)
    steps = range(length - 1, -1, -1) if reverse else range(length)
    ys = [[None] * length for _ in body.outvars[num_carry:]]
    for i in steps:
        outs = eval_program(body, consts + carry + [x[i] for x in xs])
        carry = outs[:num_carry]
        for stack, y in zip(ys, outs[num_carry:]):
            stack[i] = y
    ys = [np.stack([np.asarray(y, v.aval.dtype) for y in stack]) if length else
          np.empty((0,) + v.aval.shape, v.aval.dtype) for stack, v in zip(ys, body.outvars[num_carry:])]
    return [_concrete(c, v.aval) for c, v in zip(carry, body.outvars)] + ys


def _scan_rule(*avals, body, num_consts, num_carry, length, reverse, memory_budget=None, stacks=None):
    _check(isinstance(length, int) and length >= 0, f"scan: length must be a non-negative int, got {length!r}")
    _check(len(avals) == len(body.invars), f"scan: {len(avals)} operands for a body of {len(body.invars)} inputs")
    consts, carry, xs = _cut(avals, num_consts, num_carry)
    for x in xs:
        _check(x.ndim >= 1 and x.shape[0] == length,
               f"scan: a scanned input of shape {x.shape} does not have length {length} along axis 0")
    expected = consts + carry + [x.update(shape=x.shape[1:]) for x in xs]
    _check(expected == body.in_avals, f"scan: operands {expected} do not match the body's inputs {body.in_avals}")
    out = body.out_avals
    _check(out[:num_carry] == carry, f"scan: the body turns carries {carry} into {out[:num_carry]}")
    return carry + [y.update(shape=(length,) + y.shape) for y in out[num_carry:]]


scan_p = ControlPrimitive("scan", _scan_impl, _scan_rule, multiple_results=True)


def _scan_jvp(primals, tangents, *, body, num_consts, num_carry, length, reverse, memory_budget=None, stacks=None):
    from ..transforms.subprograms import jvp_subprogram
    nc, nk = num_consts, num_carry
    n, ny = len(body.invars), len(body.outvars) - nk
    nonzero = [t is not None for t in tangents]
    carry_nz = nonzero[nc:nc + nk]
    groups = [range(nc), range(nc, nc + nk), range(nc + nk, n)]
    out_groups = [range(nk), range(nk, nk + ny)]
    while True:            # a carry has a tangent if its initial value has one or the body gives it one
        flags = nonzero[:nc] + carry_nz + nonzero[nc + nk:]
        jbody, consts, out_nz = jvp_subprogram(body, flags, carry_nz + [False] * ny, groups, out_groups)
        grown = [a or b for a, b in zip(carry_nz, out_nz[:nk])]
        if grown == carry_nz:
            break
        carry_nz = grown
    (c, ct), (k, kt), (x, xt) = [([primals[i] for i in g], [tangents[i] for i in g]) for g in groups]
    kt = [t if t is not None else _zeros(v.aval) for t, v, nz in zip(kt, body.invars[nc:], carry_nz) if nz]
    args = (consts + c + [t for t in ct if t is not None] + k + kt + x + [t for t in xt if t is not None])
    outs = scan_p.bind(*args, body=jbody, num_consts=len(consts) + nc + sum(nonzero[:nc]),
                       num_carry=nk + len(kt), length=length, reverse=reverse, memory_budget=memory_budget)
    carry, carry_t, ys, ys_t = _cut(outs, nk, len(kt), ny)
    carry_t, ys_t = iter(carry_t), iter(ys_t)
    return carry + ys, ([next(carry_t) if nz else None for nz in carry_nz] +
                        [next(ys_t) if nz else None for nz in out_nz[nk:]])


def _scan_partial_eval(eqn, linear_in):
    """Split a JVP'd scan into a primal scan and a linear scan.

    The linear scan reads what it needs from the primal computation (residuals): loop-invariant
    ones are computed once before the loop, scanned inputs and constants are passed as they are,
    and only values that change per step are stacked by the primal scan.  The plan
    (compiler/checkpointing.py) may instead stack the carried state and have the linear scan
    recompute each step's residuals from it, or keep only snapshots (checkpoint.py)."""
    from ..transforms.partial_eval import is_linear, split_eqns
    from ..transforms.subprograms import bind_eqns, residuals, trace_closed
    p = eqn.params
    body, nc, nk = p["body"], p["num_consts"], p["num_carry"]
    carry_lin = linear_in[nc:nc + nk]
    while True:            # a carry is linear if its initial value is or the body makes it so
        lin_in = linear_in[:nc] + carry_lin + linear_in[nc + nk:]
        linear = {v for v, f in zip(body.invars, lin_in) if f}
        primal_eqns, linear_eqns = split_eqns(body.eqns, linear)
        out_lin = [is_linear(v, linear) for v in body.outvars]
        grown = [a or b for a, b in zip(carry_lin, out_lin[:nk])]
        if grown == carry_lin:
            break
        carry_lin = grown
    out_lin = carry_lin + out_lin[nk:]
    outer = dict(zip(body.invars, eqn.inputs))
    res = residuals(linear_eqns, linear, [v for v, f in zip(body.outvars, out_lin) if f])

    varying = {v for v, f in zip(body.invars[nc:], lin_in[nc:]) if not f}
    for e in primal_eqns:
        if any(x in varying for x in e.inputs if isinstance(x, Var)):
            varying.update(e.outputs)
    const_in, xs_in = set(body.invars[:nc]), set(body.invars[nc + nk:])
    res_const = [r for r in res if r in const_in]
    res_xs = [r for r in res if r in xs_in]
    res_stack = [r for r in res if r in varying and r not in xs_in]
    res_hoist = [r for r in res if r not in varying and r not in const_in]
    state = [v for v, f in zip(body.invars[nc:nc + nk], carry_lin) if not f]
    strategy, slots = scan_plan(p["length"], nbytes(_avals(res_stack)), nbytes(_avals(state)),
                                current_budget(p.get("memory_budget")))
    if strategy == "checkpoints":
        return checkpoint_split(eqn, "scan", body, nc, nk, lin_in, out_lin, primal_eqns, linear_eqns, slots)
    recompute = strategy == "states"      # stack the state; the linear scan recomputes the residuals

    # loop-invariant residuals: their equations, copied out of the body, run once before the loop
    needed, chosen = set(res_hoist), []
    for e in reversed(primal_eqns):
        if needed.intersection(e.outputs):
            chosen.append(e)
            needed.update(x for x in e.inputs if isinstance(x, Var))
    hoisted = []
    for e in reversed(chosen):
        outs = [Var(v.aval) for v in e.outputs]
        hoisted.append(Eqn(e.prim, [outer.get(x, x) if isinstance(x, Var) else x for x in e.inputs],
                           e.params, outs, e.source))
        outer.update(zip(e.outputs, outs))

    known, unknown = list(hoisted), []
    primal_in = [v for v, f in zip(body.invars, lin_in) if not f]
    primal_out = [v for v, f in zip(body.outvars, out_lin) if not f]
    if recompute:
        res_stack = state
    if primal_out or res_stack:
        def primal_fn(*args):
            read = bind_eqns(primal_eqns, dict(zip(primal_in, args)))
            return [read(v) for v in primal_out + res_stack]
        pbody = trace_closed(primal_fn, _avals(primal_in))
        stacked = [Var(ShapedArray((p["length"],) + r.aval.shape, r.aval.dtype)) for r in res_stack]
        known.append(Eqn(scan_p, [outer[v] for v in primal_in],
                         dict(p, body=pbody, num_consts=nc - sum(lin_in[:nc]), num_carry=nk - sum(carry_lin),
                              stacks=("states" if recompute else "residuals") if res_stack else None),
                         [o for o, f in zip(eqn.outputs, out_lin) if not f] + stacked, eqn.source))
        outer.update(zip(res_stack, stacked))
    if any(out_lin):
        lin_consts = [v for v, f in zip(body.invars[:nc], lin_in) if f]
        lin_carry = [v for v, f in zip(body.invars[nc:nc + nk], carry_lin) if f]
        lin_xs = [v for v, f in zip(body.invars[nc + nk:], lin_in[nc + nk:]) if f]
        if recompute:           # every primal input, to recompute the step's residuals from
            res_const = [v for v, f in zip(body.invars[:nc], lin_in) if not f]
            res_xs = [v for v, f in zip(body.invars[nc + nk:], lin_in[nc + nk:]) if not f]
        consts_in = res_hoist + res_const + lin_consts
        xs_in = res_stack + res_xs + lin_xs
        linear_out = [v for v, f in zip(body.outvars, out_lin) if f]
        hoisted_vars = set(res_hoist)
        recomputed = [e for e in primal_eqns if not hoisted_vars.issuperset(e.outputs)] if recompute else []

        def linear_fn(*args):
            read = bind_eqns(recomputed + linear_eqns, dict(zip(consts_in + lin_carry + xs_in, args)))
            return [read(v) for v in linear_out]
        lbody = trace_closed(linear_fn, _avals(consts_in + lin_carry + xs_in))
        unknown.append(Eqn(scan_p, [outer[v] for v in consts_in + lin_carry + xs_in],
                           dict(p, body=lbody, num_consts=len(consts_in), num_carry=len(lin_carry), stacks=None),
                           [o for o, f in zip(eqn.outputs, out_lin) if f], eqn.source))
    return known, unknown


def _scan_transpose(cts, *args, body, num_consts, num_carry, length, reverse, memory_budget=None, stacks=None):
    """The adjoint of a linear scan: a scan in the opposite direction running the transposed body,
    carrying the cotangents of the carries and accumulating those of linear constants."""
    from ..transforms.subprograms import trace_program
    from ..transforms.transpose import transpose_program
    from ..interpreter import eval_program
    from .elementwise import add
    nc, nk = num_consts, num_carry
    consts, init, xs = _cut(args, nc, nk)
    ct_carry, ct_ys = cts[:nk], cts[nk:]
    const_lin = [is_undefined(c) for c in consts]
    xs_lin = [is_undefined(x) for x in xs]
    ys_flags = [c is not None for c in ct_ys]
    tbody, tconsts = transpose_program(body, const_lin + [True] * nk + xs_lin, [True] * nk + ys_flags)
    res_consts = [c for c, f in zip(consts, const_lin) if not f]
    res_xs = [x for x, f in zip(xs, xs_lin) if not f]
    lin_const_avals = [v.aval for v, f in zip(body.invars, const_lin) if f]
    carry_avals = body.in_avals[nc:nc + nk]
    n_lc, n_tc, n_rc = len(lin_const_avals), len(tconsts), len(res_consts)

    def step(*a):       # consts, carry cotangents, accumulators, residual slices, ys cotangent slices
        tc, rc, ck, acc, rx, cy = _cut(a, n_tc, n_rc, nk, n_lc, len(res_xs))
        outs = eval_program(tbody, tc + rc + rx + ck + cy)
        ct_lc, ct_k, ct_lx = _cut(outs, n_lc, nk)
        return ct_k + [add(s, c) for s, c in zip(acc, ct_lc)] + ct_lx
    y_avals = [v.aval for v, f in zip(body.outvars[nk:], ys_flags) if f]
    avals = ([aval_of(c) for c in tconsts + res_consts] + carry_avals + lin_const_avals
             + [aval_of(x).update(shape=aval_of(x).shape[1:]) for x in res_xs] + y_avals)
    tprog, sconsts = trace_program(step, avals)
    ct_init = [c if c is not None else _zeros(a) for c, a in zip(ct_carry, carry_avals)]
    outs = scan_p.bind(*sconsts, *tconsts, *res_consts, *ct_init, *[_zeros(a) for a in lin_const_avals],
                       *res_xs, *[c for c in ct_ys if c is not None],
                       body=tprog, num_consts=len(sconsts) + n_tc + n_rc, num_carry=nk + n_lc,
                       length=length, reverse=not reverse, memory_budget=memory_budget)
    ct_k, ct_lc, ct_lx = _cut(outs, nk, n_lc)
    ct_lc, ct_lx = iter(ct_lc), iter(ct_lx)
    return ([next(ct_lc) if f else None for f in const_lin] + ct_k + [next(ct_lx) if f else None for f in xs_lin])


def _scan_dce(eqn, used):
    """Drop unused ys, carries nothing live needs, and inputs the pruned body does not read."""
    from ..transforms.simplify import dce
    from ..transforms.subprograms import used_vars
    p = eqn.params
    body, nc, nk = p["body"], p["num_consts"], p["num_carry"]
    live, ys_used = list(used[:nk]), list(used[nk:])
    while True:
        pruned = dce(body, live + ys_used)
        reads = used_vars(pruned)
        grown = [f or v in reads for f, v in zip(live, body.invars[nc:nc + nk])]
        if grown == live:
            break
        live = grown
    keep = [v in reads for v in body.invars[:nc]] + live + [v in reads for v in body.invars[nc + nk:]]
    if all(keep) and all(live) and all(ys_used) and len(pruned.eqns) == len(body.eqns):
        return eqn
    new_body = _program([v for v, k in zip(body.invars, keep) if k], pruned.eqns, pruned.outvars)
    return Eqn(scan_p, [x for x, k in zip(eqn.inputs, keep) if k],
               dict(p, body=new_body, num_consts=sum(keep[:nc]), num_carry=sum(live)),
               [o for o, k in zip(eqn.outputs, live + ys_used) if k], eqn.source)


jvp_rules[scan_p] = _scan_jvp
partial_eval_rules[scan_p] = _scan_partial_eval
transpose_rules[scan_p] = _scan_transpose
dce_rules[scan_p] = _scan_dce
deflowering(scan_p, "control", _lowering("scan"))


# ================================================================ while_loop

def _while_impl(*args, cond, body, cond_nconsts, body_nconsts, memory_budget=None):
    from ..interpreter import eval_program
    cond_consts, body_consts, carry = _cut(args, cond_nconsts, body_nconsts)
    while eval_program(cond, cond_consts + carry)[0]:
        carry = eval_program(body, body_consts + carry)
    return [_concrete(c, v.aval) for c, v in zip(carry, body.outvars)]


def _while_rule(*avals, cond, body, cond_nconsts, body_nconsts, memory_budget=None):
    cond_consts, body_consts, carry = _cut(avals, cond_nconsts, body_nconsts)
    _check(cond.in_avals == cond_consts + carry, f"while_loop: operands {cond_consts + carry} do not match "
                                                 f"the condition's inputs {cond.in_avals}")
    _check(cond.out_avals == [ShapedArray((), np.bool_)],
           f"while_loop: the condition must return one boolean scalar, not {cond.out_avals}")
    _check(body.in_avals == body_consts + carry, f"while_loop: operands {body_consts + carry} do not match "
                                                 f"the body's inputs {body.in_avals}")
    _check(body.out_avals == carry, f"while_loop: the body turns carries {carry} into {body.out_avals}")
    return carry


while_p = ControlPrimitive("while_loop", _while_impl, _while_rule, multiple_results=True)


def _while_jvp(primals, tangents, *, cond, body, cond_nconsts, body_nconsts, memory_budget=None):
    from ..transforms.subprograms import jvp_subprogram
    nb, nk = body_nconsts, len(body.outvars)
    nonzero = [t is not None for t in tangents[cond_nconsts:]]
    carry_nz = nonzero[nb:]
    groups, out_groups = [range(nb), range(nb, nb + nk)], [range(nk)]
    while True:
        jbody, consts, out_nz = jvp_subprogram(body, nonzero[:nb] + carry_nz, carry_nz, groups, out_groups)
        grown = [a or b for a, b in zip(carry_nz, out_nz)]
        if grown == carry_nz:
            break
        carry_nz = grown
    cond_consts, body_consts, carry = _cut(primals, cond_nconsts, nb)
    body_t, carry_t = tangents[cond_nconsts:cond_nconsts + nb], tangents[cond_nconsts + nb:]
    carry_t = [t if t is not None else _zeros(v.aval) for t, v, nz in zip(carry_t, body.invars[nb:], carry_nz) if nz]
    ignored = [Var(v.aval) for v, nz in zip(body.invars[nb:], carry_nz) if nz]   # the condition reads no tangent
    jcond = _program(cond.invars + ignored, cond.eqns, cond.outvars)
    outs = while_p.bind(*cond_consts, *consts, *body_consts, *[t for t in body_t if t is not None], *carry, *carry_t,
                        cond=jcond, body=jbody, cond_nconsts=cond_nconsts, memory_budget=memory_budget,
                        body_nconsts=len(consts) + nb + sum(nonzero[:nb]))
    carry_out, tangent_out = outs[:nk], iter(outs[nk:])
    return carry_out, [next(tangent_out) if nz else None for nz in carry_nz]


def _while_partial_eval(eqn, linear_in):
    """Reverse mode through a while_loop: its trip count is known only when it ends, so the primal
    loop keeps snapshots of its state online and the reverse pass recomputes from them."""
    from ..transforms.partial_eval import is_linear, split_eqns
    p = eqn.params
    cond, body, ncc, nb = p["cond"], p["body"], p["cond_nconsts"], p["body_nconsts"]
    if any(linear_in[:ncc]):
        raise DifferentiationError(at_line("internal error: a while_loop condition reads a tangent; please "
                                           "report this", eqn.source))
    nk = len(body.outvars)
    carry_lin = linear_in[ncc + nb:]
    while True:
        lin_in = linear_in[ncc:ncc + nb] + carry_lin
        linear = {v for v, f in zip(body.invars, lin_in) if f}
        primal_eqns, linear_eqns = split_eqns(body.eqns, linear)
        out_lin = [is_linear(v, linear) for v in body.outvars]
        grown = [a or b for a, b in zip(carry_lin, out_lin)]
        if grown == carry_lin:
            break
        carry_lin = grown
    state = [v.aval for v, f in zip(body.invars[nb:], carry_lin) if not f]
    slots = while_slots(nbytes(state), current_budget(p.get("memory_budget")))
    return checkpoint_split(eqn, "while", body, nb, nk, lin_in, carry_lin, primal_eqns, linear_eqns, slots,
                            cond=cond, num_cond_consts=ncc)


def _while_dce(eqn, used):
    from ..transforms.simplify import dce
    from ..transforms.subprograms import used_vars
    p = eqn.params
    cond, body, ncc, nbc = p["cond"], p["body"], p["cond_nconsts"], p["body_nconsts"]
    cond_reads = used_vars(cond)
    live = [u or v in cond_reads for u, v in zip(used, cond.invars[ncc:])]
    while True:
        pruned = dce(body, live)
        reads = used_vars(pruned)
        grown = [f or v in reads for f, v in zip(live, body.invars[nbc:])]
        if grown == live:
            break
        live = grown
    keep_cc = [v in cond_reads for v in cond.invars[:ncc]]
    keep_bc = [v in reads for v in body.invars[:nbc]]
    if all(keep_cc + keep_bc + live) and len(pruned.eqns) == len(body.eqns):
        return eqn
    pick = lambda seq, keep: [x for x, k in zip(seq, keep) if k]
    new_cond = _program(pick(cond.invars, keep_cc + live), cond.eqns, cond.outvars)
    new_body = _program(pick(body.invars, keep_bc + live), pruned.eqns, pruned.outvars)
    cc, bc, carry = _cut(eqn.inputs, ncc, nbc)
    return Eqn(while_p, pick(cc, keep_cc) + pick(bc, keep_bc) + pick(carry, live),
               dict(p, cond=new_cond, body=new_body, cond_nconsts=sum(keep_cc), body_nconsts=sum(keep_bc)),
               pick(eqn.outputs, live), eqn.source)


jvp_rules[while_p] = _while_jvp
partial_eval_rules[while_p] = _while_partial_eval
dce_rules[while_p] = _while_dce
deflowering(while_p, "control", _lowering("while"))


# ================================================================ cond

def _cond_impl(index, *operands, branches):
    from ..interpreter import eval_program
    branch = branches[int(np.clip(index, 0, len(branches) - 1))]
    return [_concrete(v, o.aval) for v, o in zip(eval_program(branch, list(operands)), branch.outvars)]


def _cond_rule(index, *operands, branches):
    _check(index.shape == () and np.issubdtype(index.dtype, np.integer),
           f"cond: the branch index must be an integer scalar, got {index}")
    _check(len(branches) >= 1, "cond: needs at least one branch")
    for k, branch in enumerate(branches):
        _check(branch.in_avals == list(operands), f"cond: operands {list(operands)} do not match the inputs "
                                                  f"{branch.in_avals} of branch {k}")
        _check(branch.out_avals == branches[0].out_avals,
               f"cond: branch {k} returns {branch.out_avals}, branch 0 returns {branches[0].out_avals}")
    return branches[0].out_avals


cond_p = ControlPrimitive("cond", _cond_impl, _cond_rule, multiple_results=True)


def common_interface(programs, consts):
    """Programs taking their own captured consts first -> programs all taking every program's
    consts first (each ignores the others'); returns (programs, all consts)."""
    out, flat = [], [c for cs in consts for c in cs]
    for k, prog in enumerate(programs):
        before = sum(len(cs) for cs in consts[:k])
        pad = lambda cs: [Var(aval_of(c)) for c in cs]
        own, rest = prog.invars[:len(consts[k])], prog.invars[len(consts[k]):]
        invars = pad(flat[:before]) + own + pad(flat[before + len(consts[k]):]) + rest
        out.append(_program(invars, prog.eqns, prog.outvars))
    return out, flat


def _cond_jvp(primals, tangents, *, branches):
    from ..transforms.subprograms import jvp_subprogram
    index, operands = primals[0], primals[1:]
    nonzero = [t is not None for t in tangents[1:]]
    groups = [range(len(operands))]
    n_out = len(branches[0].outvars)
    out_nz = [False] * n_out
    for branch in branches:       # an output has a tangent if it has one in any branch
        _, _, nz = jvp_subprogram(branch, nonzero, [False] * n_out, groups, [range(n_out)])
        out_nz = [a or b for a, b in zip(out_nz, nz)]
    jvps = [jvp_subprogram(b, nonzero, out_nz, groups, [range(n_out)]) for b in branches]
    progs, consts = common_interface([j[0] for j in jvps], [j[1] for j in jvps])
    outs = cond_p.bind(index, *consts, *operands, *[t for t in tangents[1:] if t is not None], branches=tuple(progs))
    primal_out, tangent_out = outs[:n_out], iter(outs[n_out:])
    return primal_out, [next(tangent_out) if nz else None for nz in out_nz]


def _cond_partial_eval(eqn, linear_in):
    """Split every branch; the primal conditional returns the residuals of all branches (each
    branch zeros for the others'), the linear one takes them with the index."""
    from ..transforms.partial_eval import is_linear, split_eqns
    from ..transforms.subprograms import bind_eqns, recorded_zeros, residuals, trace_closed
    branches, index, operands = eqn.params["branches"], eqn.inputs[0], eqn.inputs[1:]
    op_lin = linear_in[1:]
    splits = []
    for branch in branches:
        linear = {v for v, f in zip(branch.invars, op_lin) if f}
        primal_eqns, linear_eqns = split_eqns(branch.eqns, linear)
        splits.append((branch, primal_eqns, linear_eqns, linear))
    out_lin = [any(is_linear(b.outvars[k], lin) for b, _, _, lin in splits) for k in range(len(eqn.outputs))]
    per_branch_res = []
    for branch, _, linear_eqns, linear in splits:
        res = residuals(linear_eqns, linear, [v for v, f in zip(branch.outvars, out_lin) if f])
        operand_pos = {v: i for i, v in enumerate(branch.invars)}
        per_branch_res.append(([r for r in res if r not in operand_pos],
                               {operand_pos[r] for r in res if r in operand_pos}))
    direct = sorted(set().union(*[d for _, d in per_branch_res]))      # primal operands the linear part reads
    slots = [r.aval for computed, _ in per_branch_res for r in computed]
    primal_ops = [i for i, f in enumerate(op_lin) if not f]
    lin_ops = [i for i, f in enumerate(op_lin) if f]
    n_out = len(eqn.outputs)

    known, unknown, res_vars = [], [], [Var(a) for a in slots]
    primal_outs = [k for k in range(n_out) if not out_lin[k]]
    if primal_outs or slots:
        progs = []
        for b, (branch, primal_eqns, _, _) in enumerate(splits):
            def primal_fn(*args, branch=branch, primal_eqns=primal_eqns, b=b):
                read = bind_eqns(primal_eqns, {branch.invars[i]: a for i, a in zip(primal_ops, args)})
                fill = [recorded_zeros(a) for a in slots]       # zeros in the other branches' slots
                start = sum(len(c) for c, _ in per_branch_res[:b])
                own = per_branch_res[b][0]
                fill[start:start + len(own)] = [read(r) for r in own]
                return [read(branch.outvars[k]) for k in primal_outs] + fill
            progs.append(trace_closed(primal_fn, [branch.invars[i].aval for i in primal_ops]))
        known.append(Eqn(cond_p, [index] + [operands[i] for i in primal_ops], {"branches": tuple(progs)},
                         [eqn.outputs[k] for k in primal_outs] + res_vars, eqn.source))
    if any(out_lin):
        progs = []
        for b, (branch, _, linear_eqns, _) in enumerate(splits):
            def linear_fn(*args, branch=branch, linear_eqns=linear_eqns, b=b):
                res_args, direct_args, lin_args = _cut(args, len(slots), len(direct))
                start = sum(len(c) for c, _ in per_branch_res[:b])
                own = per_branch_res[b][0]
                env = dict(zip(own, res_args[start:start + len(own)]))
                env.update((branch.invars[i], a) for i, a in zip(direct + lin_ops, direct_args + lin_args))
                read = bind_eqns(linear_eqns, env)
                return [read(branch.outvars[k]) for k in range(n_out) if out_lin[k]]
            progs.append(trace_closed(linear_fn, slots + [branch.invars[i].aval for i in direct + lin_ops]))
        unknown.append(Eqn(cond_p, [index] + res_vars + [operands[i] for i in direct + lin_ops],
                           {"branches": tuple(progs)}, [eqn.outputs[k] for k in range(n_out) if out_lin[k]],
                           eqn.source))
    return known, unknown


def _cond_transpose(cts, index, *operands, branches):
    from ..transforms.transpose import transpose_program
    lin = [is_undefined(x) for x in operands]
    ct_flags = [c is not None for c in cts]
    transposed = [transpose_program(b, lin, ct_flags) for b in branches]
    progs, flat = common_interface([t[0] for t in transposed], [t[1] for t in transposed])
    outs = cond_p.bind(index, *flat, *[x for x, f in zip(operands, lin) if not f], *[c for c in cts if c is not None],
                       branches=tuple(progs))
    outs = iter(outs)
    return [None] + [next(outs) if f else None for f in lin]


def _cond_dce(eqn, used):
    from ..transforms.simplify import dce
    from ..transforms.subprograms import used_vars
    old = eqn.params["branches"]
    branches = [dce(b, used) for b in old]
    reads = [used_vars(b) for b in branches]
    keep = [any(b.invars[i] in r for b, r in zip(branches, reads)) for i in range(len(eqn.inputs) - 1)]
    if all(keep) and all(used) and all(len(b.eqns) == len(o.eqns) for b, o in zip(branches, old)):
        return eqn
    branches = tuple(_program([v for v, k in zip(b.invars, keep) if k], b.eqns, b.outvars) for b in branches)
    return Eqn(cond_p, [eqn.inputs[0]] + [x for x, k in zip(eqn.inputs[1:], keep) if k], {"branches": branches},
               [o for o, u in zip(eqn.outputs, used) if u], eqn.source)


jvp_rules[cond_p] = _cond_jvp
partial_eval_rules[cond_p] = _cond_partial_eval
transpose_rules[cond_p] = _cond_transpose
dce_rules[cond_p] = _cond_dce
deflowering(cond_p, "control", _lowering("cond"))



from .checkpoint import checkpoint_split  # noqa: E402  (checkpoint.py builds on this module)
