"""Checkpointed loops: reverse mode through a loop that does not store every step's residuals.

When a scan's residuals do not fit its memory budget, and always for a while_loop (whose trip
count is known only when it ends), the reverse-mode split of a loop (partial evaluation, see
control.py) makes three equations instead of a primal loop stacking residuals:

    checkpointed_loop  the primal loop, which also keeps snapshots of its carried state (the
                       "tape"): scan by Revolve's first sweep, while_loop online (compiler/revolve.py)
    checkpointed_linear  the loop's linear part, reading the tape; it is only ever transposed, into
    loop_adjoint       the reverse pass: it walks the steps backwards, getting each step's state
                       back from the snapshots (re-running the primal body, `body`) and running
                       the step's adjoint (`adjoint`: the transposed body, which recomputes that
                       step's residuals from its state).

Programs:  body     (consts, carries, x slices) -> (carries, y slices)   the primal step
           cond     (cond consts, carries) -> bool                        (while_loop)
           recompute (consts, carries, x slices, linear consts, linear carries, linear x slices)
                        -> (linear carries, linear y slices)              the step's linear part
           adjoint  (its consts, consts, carries, x slices, carry cotangents, y cotangent slices)
                        -> (linear-const cotangents, carry cotangents, x slice cotangents)
Tape:      scan: snapshots (one array (slots, ...) per carry), the Revolve machine, the state at
           the last step;  while_loop: snapshots and marks (the snapshot count, the trip count,
           then the step of each snapshot; the compiled loop's arrays start short and grow up to
           `slots`).
"""
import numpy as np

from .. import revolve as rv

from ..errors import DifferentiationError, at_line
from ..ir import Eqn, Program, ShapedArray, Var
from .control import ControlPrimitive, _concrete, _cut, _lowering, _zeros
from .core import aval_of, dce_rules, deflowering, is_float, jvp_rules, partial_eval_rules, transpose_rules

stats = {"forward_steps": 0, "adjoint_steps": 0}      # counted by the reference interpreter


def _index(step, length, reverse):
    return length - 1 - step if reverse else step


def _tape_avals(kind, carry, slots):
    snaps = [a.update(shape=(slots,) + a.shape) for a in carry]
    if kind == "scan":
        return snaps + [ShapedArray((rv.CH + slots,), np.int64)] + list(carry)
    return snaps + [ShapedArray((slots + 2,), np.int64)]


def tape_size(kind, num_carry):
    return 2 * num_carry + 1 if kind == "scan" else num_carry + 1


# ================================================================ the primal loop with snapshots

def _forward_rule(*avals, kind, body, cond, num_cond_consts, num_consts, num_carry, length, reverse, slots):
    _, _, carry, _ = _cut(avals, num_cond_consts, num_consts, num_carry)
    ys = [y.update(shape=(length,) + y.shape) for y in body.out_avals[num_carry:]]
    return list(carry) + ys + _tape_avals(kind, carry, slots)


def _forward_impl(*args, kind, body, cond, num_cond_consts, num_consts, num_carry, length, reverse, slots):
    from ..interpreter import eval_program
    cond_consts, consts, state, xs = _cut(args, num_cond_consts, num_consts, num_carry)
    snaps = [np.zeros((slots,) + np.shape(c), body.invars[num_consts + k].aval.dtype) for k, c in enumerate(state)]

    def step(state, i):
        stats["forward_steps"] += 1
        return eval_program(body, consts + state + [x[_index(i, length, reverse)] for x in xs])

    def keep(slot, state):
        for snap, value in zip(snaps, state):
            snap[slot] = value

    if kind == "while":
        marks, count, stride, i = np.zeros(slots + 2, np.int64), 0, 1, 0     # [count, trip count, steps...]
        while eval_program(cond, cond_consts + state)[0]:
            if i % stride == 0:
                if count == slots:             # full: keep every other snapshot, double the stride
                    for k in range(0, count, 2):
                        marks[2 + k // 2] = marks[2 + k]
                        keep(k // 2, [s[k] for s in snaps])
                    count, stride = (count + 1) // 2, 2 * stride
                if i % stride == 0:
                    keep(count, state)
                    marks[2 + count] = i
                    count += 1
            state = step(state, i)
            i += 1
        marks[0], marks[1] = count, i
        out = [_concrete(c, v.aval) for c, v in zip(state, body.outvars)]
        return out + snaps + [marks]

    ys = [np.zeros((length,) + v.aval.shape, v.aval.dtype) for v in body.outvars[num_carry:]]
    machine, pos, last = rv.revolve_init(length, slots), 0, state
    while True:                        # Revolve's first sweep, then the last step
        action = rv.revolve_next(machine)
        if action == rv.TAKESHOT:
            keep(machine[rv.CHECK], state)
            continue
        if action == rv.ADVANCE:
            target = machine[rv.CAPO]
        elif action == rv.FIRSTURN:
            last, target = state, length
        else:
            break
        for i in range(pos, target):
            outs = step(state, i)
            state = outs[:num_carry]
            for y, value in zip(ys, outs[num_carry:]):
                y[_index(i, length, reverse)] = value
        pos = target
        if action == rv.FIRSTURN:
            break
    out = [_concrete(c, v.aval) for c, v in zip(state, body.outvars)]
    return out + ys + snaps + [machine] + [_concrete(c, v.aval) for c, v in zip(last, body.outvars)]


checkpointed_p = ControlPrimitive("checkpointed_loop", _forward_impl, _forward_rule, multiple_results=True)


def _forward_dce(eqn, used):
    """Without a reverse pass reading its tape, a checkpointed loop is a plain loop again."""
    from .control import scan_p, while_p
    p = eqn.params
    nk = p["num_carry"]
    n_tape = tape_size(p["kind"], nk)
    if any(used[len(used) - n_tape:]):
        ys_used = used[nk:len(used) - n_tape]
        if all(ys_used):
            return eqn
        from ..transforms.simplify import dce        # the reverse pass needs the carries, not the ys
        body = dce(p["body"], [True] * nk + ys_used)
        return Eqn(checkpointed_p, eqn.inputs, dict(p, body=body),
                   [o for o, u in zip(eqn.outputs, [True] * nk + ys_used + [True] * n_tape) if u], eqn.source)
    rule = dce_rules[scan_p if p["kind"] == "scan" else while_p]
    if p["kind"] == "scan":
        plain = Eqn(scan_p, eqn.inputs, dict(body=p["body"], num_consts=p["num_consts"], num_carry=nk,
                                             length=p["length"], reverse=p["reverse"]),
                              eqn.outputs[:len(eqn.outputs) - n_tape], eqn.source)
    else:
        plain = Eqn(while_p, eqn.inputs, dict(cond=p["cond"], body=p["body"], cond_nconsts=p["num_cond_consts"],
                                              body_nconsts=p["num_consts"]),
                              eqn.outputs[:nk], eqn.source)
    return rule(plain, used[:len(plain.outputs)])


dce_rules[checkpointed_p] = _forward_dce
deflowering(checkpointed_p, "control", _lowering("checkpointed", module="checkpoint"))


# ================================================================ the linear part: only transposed

def _linear_rule(*avals, kind, body, recompute, num_consts, num_carry, num_xs, counts, length, reverse, slots):
    outs = recompute.out_avals
    n_lk = counts[1]
    return outs[:n_lk] + [y.update(shape=(length,) + y.shape) for y in outs[n_lk:]]


def _linear_impl(*args, **params):
    raise TypeError("internal error: the linear part of a checkpointed loop is transposed, never run")


checkpointed_linear_p = ControlPrimitive("checkpointed_linear", _linear_impl, _linear_rule, multiple_results=True)


def _linear_transpose(cts, *args, kind, body, recompute, num_consts, num_carry, num_xs, counts, length, reverse,
                      slots):
    from ..transforms.transpose import transpose_program
    n_lc, n_lk, n_lx = counts
    n_tape = tape_size(kind, num_carry)
    consts, xs, tape, lin = _cut(args, num_consts, num_xs, n_tape)
    ct_carry, ct_ys = cts[:n_lk], cts[n_lk:]
    ys_flags = [c is not None for c in ct_ys]
    n_primal = num_consts + num_carry + num_xs
    adjoint, adjoint_consts = transpose_program(recompute, [False] * n_primal + [True] * (n_lc + n_lk + n_lx),
                                                [True] * n_lk + ys_flags)
    lk_avals = recompute.in_avals[n_primal + n_lc:n_primal + n_lc + n_lk]
    ct_carry = [c if c is not None else _zeros(a) for c, a in zip(ct_carry, lk_avals)]
    outs = loop_adjoint_p.bind(*adjoint_consts, *consts, *xs, *tape, *ct_carry, *[c for c in ct_ys if c is not None],
                               kind=kind, body=body, adjoint=adjoint, num_adjoint_consts=len(adjoint_consts),
                               num_consts=num_consts, num_carry=num_carry, num_xs=num_xs, counts=counts,
                               num_ys=sum(ys_flags), length=length, reverse=reverse, slots=slots)
    ct_lk, ct_lc, ct_lx = _cut(outs, n_lk, n_lc)
    return [None] * (num_consts + num_xs + n_tape) + ct_lc + ct_lk + ct_lx


transpose_rules[checkpointed_linear_p] = _linear_transpose


# ================================================================ the reverse pass

def _adjoint_rule(*avals, kind, body, adjoint, num_adjoint_consts, num_consts, num_carry, num_xs, counts, num_ys,
                  length, reverse, slots):
    n_lc, n_lk, n_lx = counts
    outs = adjoint.out_avals
    return outs[n_lc:n_lc + n_lk] + outs[:n_lc] + [x.update(shape=(length,) + x.shape) for x in outs[n_lc + n_lk:]]


def _adjoint_impl(*args, kind, body, adjoint, num_adjoint_consts, num_consts, num_carry, num_xs, counts, num_ys,
                  length, reverse, slots):
    from ..interpreter import eval_program
    n_lc, n_lk, n_lx = counts
    n_tape = tape_size(kind, num_carry)
    aconsts, consts, xs, tape, ct, ct_ys = _cut(args, num_adjoint_consts, num_consts, num_xs, n_tape, n_lk)
    snaps = [np.array(s) for s in tape[:num_carry]]              # the reverse pass reuses the slots
    out_avals = adjoint.out_avals
    acc = [np.zeros(a.shape, a.dtype) for a in out_avals[:n_lc]]
    ct_xs = [np.zeros((length,) + a.shape, a.dtype) for a in out_avals[n_lc + n_lk:]]
    carry_body = _carry_only(body, num_carry)

    def advance(state, start, stop):
        for i in range(start, stop):
            stats["forward_steps"] += 1
            state = eval_program(carry_body, consts + state + [x[_index(i, length, reverse)] for x in xs])
        return state

    def turn(state, i, ct):
        stats["adjoint_steps"] += 1
        j = _index(i, length, reverse)
        outs = eval_program(adjoint, aconsts + consts + state + [x[j] for x in xs] + ct + [c[j] for c in ct_ys])
        c_lc, c_lk, c_lx = _cut(outs, n_lc, n_lk)
        for k, c in enumerate(c_lc):
            acc[k] = acc[k] + c
        for stack, c in zip(ct_xs, c_lx):
            stack[j] = c
        return list(c_lk)

    def reverse_stretch(machine, state, first_step, first_slot, pos, ct):
        """Revolve's remaining actions over steps first_step + 0.., its snapshot k in slot first_slot + k."""
        while True:
            action = rv.revolve_next(machine)
            if action == rv.ADVANCE:
                state = advance(state, first_step + pos, first_step + machine[rv.CAPO])
                pos = machine[rv.CAPO]
            elif action == rv.TAKESHOT:
                for snap, value in zip(snaps, state):
                    snap[first_slot + machine[rv.CHECK]] = value
            elif action == rv.RESTORE:
                state = [s[first_slot + machine[rv.CHECK]] for s in snaps]
                pos = machine[rv.CAPO]
            elif action in (rv.FIRSTURN, rv.YOUTURN):
                ct = turn(state, first_step + pos, ct)
            else:
                return ct

    ct = list(ct)
    if kind == "scan":
        machine, last = np.array(tape[num_carry]), list(tape[num_carry + 1:])
        if length:
            ct = turn(last, length - 1, ct)
            ct = reverse_stretch(machine, last, 0, 0, length - 1, ct)
    else:
        marks = tape[num_carry]
        count, n = int(marks[0]), int(marks[1])
        for j in range(count - 1, -1, -1):          # the stretches between snapshots, last first
            end = marks[2 + j + 1] if j + 1 < count else n
            machine = rv.revolve_init(end - marks[2 + j], slots - j)
            ct = reverse_stretch(machine, [s[j] for s in snaps], int(marks[2 + j]), j, 0, ct)
    return ([_concrete(c, a) for c, a in zip(ct, out_avals[n_lc:n_lc + n_lk])]
            + [_concrete(a, v) for a, v in zip(acc, out_avals[:n_lc])] + ct_xs)


def _carry_only(body, num_carry):
    from ..transforms.simplify import dce
    return dce(body, [k < num_carry for k in range(len(body.outvars))])


loop_adjoint_p = ControlPrimitive("loop_adjoint", _adjoint_impl, _adjoint_rule, multiple_results=True)
deflowering(loop_adjoint_p, "control", _lowering("loop_adjoint", module="checkpoint"))


# ================================================================ the split

def checkpoint_split(eqn, kind, body, nc, nk, lin_in, out_lin, primal_eqns, linear_eqns, slots, cond=None,
                     num_cond_consts=0):
    """Known and unknown equations for a loop whose reverse pass recomputes from snapshots.
    `body` is the JVP'd body, `lin_in`/`out_lin` flag its linear inputs and outputs; for a
    while_loop, `cond` is the JVP'd condition (it ignores the tangent carries)."""
    from ..transforms.subprograms import bind_eqns, trace_closed
    outer = dict(zip(body.invars, eqn.inputs[num_cond_consts:]))
    pick = lambda vs, flags, want: [v for v, f in zip(vs, flags) if f == want]
    groups = [(body.invars[:nc], lin_in[:nc]), (body.invars[nc:nc + nk], lin_in[nc:nc + nk]),
              (body.invars[nc + nk:], lin_in[nc + nk:])]
    pc, pk, px = [pick(vs, fs, False) for vs, fs in groups]
    lc, lk, lx = [pick(vs, fs, True) for vs, fs in groups]
    primal_in, primal_out = pc + pk + px, pick(body.outvars, out_lin, False)
    linear_out = pick(body.outvars, out_lin, True)

    def primal_fn(*args):
        read = bind_eqns(primal_eqns, dict(zip(primal_in, args)))
        return [read(v) for v in primal_out]

    def recompute_fn(*args):
        read = bind_eqns(primal_eqns + linear_eqns, dict(zip(primal_in + lc + lk + lx, args)))
        return [read(v) for v in linear_out]
    step = trace_closed(primal_fn, [v.aval for v in primal_in])
    recompute = trace_closed(recompute_fn, [v.aval for v in primal_in + lc + lk + lx])
    length = eqn.params.get("length")
    reverse = eqn.params.get("reverse", False)
    if cond is not None:          # the condition reads the primal carries only
        keep = [True] * num_cond_consts + [not f for f in lin_in[nc:nc + nk]]
        cond = cond.__class__([], [v for v, k in zip(cond.invars, keep) if k], cond.eqns, cond.outvars, [])
    tape = [Var(a) for a in _tape_avals(kind, [v.aval for v in pk], slots)]
    known = Eqn(checkpointed_p, list(eqn.inputs[:num_cond_consts]) + [outer[v] for v in primal_in],
                dict(kind=kind, body=step, cond=cond, num_cond_consts=num_cond_consts, num_consts=len(pc),
                     num_carry=len(pk), length=length, reverse=reverse, slots=slots),
                pick(eqn.outputs, out_lin, False) + tape, eqn.source)
    unknown = Eqn(checkpointed_linear_p, [outer[v] for v in pc + px] + tape + [outer[v] for v in lc + lk + lx],
                  dict(kind=kind, body=step, recompute=recompute, num_consts=len(pc), num_carry=len(pk),
                       num_xs=len(px), counts=(len(lc), len(lk), len(lx)), length=length, reverse=reverse,
                       slots=slots),
                  pick(eqn.outputs, out_lin, True), eqn.source)
    return [known], [unknown]


# ================================================================ forward mode over both passes (hessian)

def _float_flags(vars_):
    return [is_float(v.aval.dtype) for v in vars_]


def _spread(values, flags):
    it = iter(values)
    return [next(it) if f else None for f in flags]


def _tangents_for(values, tangents, flags):
    return [t if t is not None else _zeros(aval_of(v)) for v, t, f in zip(values, tangents, flags) if f]


def _jvp_body(body, nc, nk):
    """The primal step's JVP with a tangent for every float input and output, tangents after
    their group (consts, carries, x slices / carries, y slices)."""
    from ..transforms.subprograms import jvp_subprogram
    n, n_out = len(body.invars), len(body.outvars)
    return jvp_subprogram(body, _float_flags(body.invars), _float_flags(body.outvars),
                          [range(nc), range(nc, nc + nk), range(nc + nk, n)], [range(nk), range(nk, n_out)])


def _forward_jvp(primals, tangents, *, kind, body, cond, num_cond_consts, num_consts, num_carry, length, reverse,
                 slots):
    ncc, nc, nk = num_cond_consts, num_consts, num_carry
    jbody, jconsts, _ = _jvp_body(body, nc, nk)
    fc, fk, fx = _cut(_float_flags(body.invars), nc, nk)
    fy = _float_flags(body.outvars[nk:])
    (c, k, x), (ct, kt, xt) = _cut(primals[ncc:], nc, nk)[:3], _cut(tangents[ncc:], nc, nk)[:3]
    args = (list(primals[:ncc]) + jconsts + c + _tangents_for(c, ct, fc) + k + _tangents_for(k, kt, fk)
            + x + _tangents_for(x, xt, fx))
    if cond is not None:
        extra = [Var(v.aval) for v, f in zip(body.invars[nc:nc + nk], fk) if f]
        cond = Program([], cond.invars + extra, cond.eqns, cond.outvars, [])
    outs = checkpointed_p.bind(*args, kind=kind, body=jbody, cond=cond, num_cond_consts=ncc,
                               num_consts=len(jconsts) + nc + sum(fc), num_carry=nk + sum(fk), length=length,
                               reverse=reverse, slots=slots)
    K, ny = nk + sum(fk), len(fy)
    carry, dcarry, ys, dys, snaps, dsnaps, rest = _cut(outs, nk, sum(fk), ny, sum(fy), nk, sum(fk))
    primal = carry + ys + snaps + rest[:1]
    tangent = _spread(dcarry, fk) + _spread(dys, fy) + _spread(dsnaps, fk) + [None]
    if kind == "scan":
        last, dlast = rest[1:1 + nk], rest[1 + nk:]
        primal, tangent = primal + last, tangent + _spread(dlast, fk)
    assert len(outs) == len(primal) + len([t for t in tangent if t is not None]) and K == len(carry) + len(dcarry)
    return primal, tangent


def _adjoint_jvp(primals, tangents, *, kind, body, adjoint, num_adjoint_consts, num_consts, num_carry, num_xs,
                 counts, num_ys, length, reverse, slots):
    from ..transforms.subprograms import jvp_subprogram
    nac, nc, nk, nx = num_adjoint_consts, num_consts, num_carry, num_xs
    n_lc, n_lk, n_lx = counts
    jbody, fconsts, _ = _jvp_body(body, nc, nk)
    sizes = [nac, nc, nk, nx, n_lk, num_ys]
    bounds = np.cumsum([0] + sizes)
    n_out = len(adjoint.outvars)
    jadj, aconsts_j, _ = jvp_subprogram(adjoint, _float_flags(adjoint.invars), _float_flags(adjoint.outvars),
                                        [range(a, b) for a, b in zip(bounds[:-1], bounds[1:])],
                                        [range(n_lc), range(n_lc, n_lc + n_lk), range(n_lc + n_lk, n_out)])
    flags = _cut(_float_flags(adjoint.invars), *sizes[:-1])
    fa, fc, fk, fx, fct, fy = flags
    # the adjoint also takes the body's JVP constants, first among the consts it shares with the body
    at = len(aconsts_j) + nac + sum(fa)
    jadj = Program([], jadj.invars[:at] + [Var(aval_of(v)) for v in fconsts] + jadj.invars[at:], jadj.eqns,
                   jadj.outvars, [])
    n_tape = tape_size(kind, nk)
    groups = _cut(primals, nac, nc, nx, n_tape, n_lk)
    tgroups = _cut(tangents, nac, nc, nx, n_tape, n_lk)
    (a, c, x, tape, ct, cy), (at_, ct_, xt, tapet, ctt, cyt) = groups, tgroups
    snaps, meta, last = tape[:nk], tape[nk], tape[nk + 1:]
    dsnaps, dlast = _tangents_for(snaps, tapet[:nk], fk), _tangents_for(last, tapet[nk + 1:], fk)
    new_tape = snaps + dsnaps + [meta] + (last + dlast if kind == "scan" else [])
    args = (aconsts_j + a + _tangents_for(a, at_, fa) + fconsts + c + _tangents_for(c, ct_, fc)
            + x + _tangents_for(x, xt, fx) + new_tape + ct + _tangents_for(ct, ctt, fct) + cy + _tangents_for(cy, cyt, fy))
    out_flags = _float_flags(adjoint.outvars)
    flc, flk, flx = _cut(out_flags, n_lc, n_lk)
    outs = loop_adjoint_p.bind(*args, kind=kind, body=jbody, adjoint=jadj,
                               num_adjoint_consts=len(aconsts_j) + nac + sum(fa),
                               num_consts=len(fconsts) + nc + sum(fc), num_carry=nk + sum(fk), num_xs=nx + sum(fx),
                               counts=(n_lc + sum(flc), n_lk + sum(flk), n_lx + sum(flx)),
                               num_ys=num_ys + sum(fy), length=length, reverse=reverse, slots=slots)
    k, dk, lc, dlc, lx, dlx = _cut(outs, n_lk, sum(flk), n_lc, sum(flc), n_lx)
    return k + lc + lx, _spread(dk, flk) + _spread(dlc, flc) + _spread(dlx, flx)


def _no_reverse_over_reverse(eqn, linear_in):
    raise DifferentiationError(at_line(
        "reverse mode over the reverse pass of a checkpointed loop (grad of grad through a while_loop, or "
        "through a scan whose residuals exceed its memory budget) is not supported. Use forward-over-reverse: "
        "hessian(f) or jacfwd(grad(f)); for a scan, a memory_budget large enough to store its residuals "
        "also works.", eqn.source))


jvp_rules[checkpointed_p] = _forward_jvp
jvp_rules[loop_adjoint_p] = _adjoint_jvp
partial_eval_rules[checkpointed_p] = _no_reverse_over_reverse
partial_eval_rules[loop_adjoint_p] = _no_reverse_over_reverse
