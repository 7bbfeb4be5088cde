"""Lowering of checkpointed loops (compiler/primitives/checkpoint.py): the primal loop keeping
snapshots, and the reverse pass driven by the Revolve state machine (compiler/revolve.py, called
from the kernel as `_revolve_init`/`_revolve_next`).  Both lower the loop body like a scan does
(control.py); a snapshot is written into a preallocated slot and read back as a copy, so no
snapshot aliases a live carry.
"""
import numpy as np

from ..revolve import ADVANCE, CAPO, CHECK, FIRSTURN, RESTORE, TAKESHOT, YOUTURN
from ..transforms.simplify import dce
from .control import _assign, _emit, _indent, _owned, lower_subprogram, step_slice


INITIAL_SNAPSHOTS = 64        # a while_loop's snapshot arrays start this long and double as needed


def _copy(value, aval):
    return f"{value}.copy()" if aval.shape != () else value


def _alloc(name, shape, dtype, fill="empty"):
    return f"{name} = np.{fill}({shape}, np.{dtype.name})"


def _step_index(step, p):
    return f"{p['length'] - 1} - ({step})" if p.get("reverse") else step


def _advance(low, body, consts, state, xs, p, start, stop, ys=()):
    """`for` loop running the primal body from step `start` to `stop`, rebinding `state`."""
    step, at = f"_s{low.fresh_loop()}", low.fresh_temp("_i")
    slices = [low.fresh_temp("_x") for _ in xs]
    stmts, results = lower_subprogram(low, body, consts + state + slices)
    nk = len(state)
    loop = [f"{at} = {_step_index(step, p)}"] + [f"{s} = {x}[{at}]" for s, x in zip(slices, xs)] + stmts
    loop += [f"{y}[{at}] = {r}" for y, r in zip(ys, results[nk:])]
    loop += _assign(state, [_owned(r, v, _foreign(body, len(consts), nk)) for r, v in zip(results[:nk], body.outvars)])
    return [f"for {step} in range({start}, {stop}):"] + _indent(loop)


def _foreign(body, nc, nk):
    """Body inputs a carry must not alias: the constants and the scanned slices."""
    return set(body.invars[:nc]) | set(body.invars[nc + nk:])


def lower_checkpointed(low, eqn):
    p = eqn.params
    body, nk, slots = p["body"], p["num_carry"], p["slots"]
    ncc, nc = p["num_cond_consts"], p["num_consts"]
    ins = [low._operand(x) for x in eqn.inputs]
    cond_consts, consts, init, xs = ins[:ncc], ins[ncc:ncc + nc], ins[ncc + nc:ncc + nc + nk], ins[ncc + nc + nk:]
    names = [low.bind_name(v) for v in eqn.outputs]
    n_ys = len(body.outvars) - nk
    state, ys, snaps = names[:nk], names[nk:nk + n_ys], names[nk + n_ys:2 * nk + n_ys]
    carry_avals = [v.aval for v in body.outvars[:nk]]
    lines = [_alloc(s, (slots,) + a.shape, a.dtype) for s, a in zip(snaps, carry_avals)]
    lines += [f"{s} = {_copy(x, a)}" for s, x, a in zip(state, init, carry_avals)]
    keep = lambda slot: [f"{s}[{slot}] = {c}" for s, c in zip(snaps, state)]
    if p["kind"] == "while":
        tape = eqn.outputs[nk:]
        private = all(e.prim.name == "loop_adjoint" for e in low.prog.eqns for x in e.inputs if x in tape) \
            and not any(v in tape for v in low.prog.outvars)
        _emit(low, eqn, _online_forward(low, p, cond_consts, consts, init, state, snaps, names[-1], carry_avals,
                                         private))
        return
    machine, last = names[2 * nk + n_ys], names[2 * nk + n_ys + 1:]
    length, pos, target, action = p["length"], low.fresh_temp("_p"), low.fresh_temp("_q"), low.fresh_temp("_a")
    lines = [f"# scan: {length} steps keeping {slots} snapshots (Revolve's first sweep, then the last step)"] + lines
    lines += [_alloc(y, (length,) + v.aval.shape, v.aval.dtype) for y, v in zip(ys, body.outvars[nk:])]
    lines += [f"{machine} = _revolve_init({length}, {slots})"]
    lines += [f"{s} = {c}" for s, c in zip(last, state)] + [f"{pos} = 0"]
    loop = [f"{action} = _revolve_next({machine})",
            f"if {action} == {TAKESHOT}:"] + _indent(keep(f"{machine}[{CHECK}]")) + [
            "    continue",
            f"if {action} == {ADVANCE}:",
            f"    {target} = {machine}[{CAPO}]",
            f"elif {action} == {FIRSTURN}:"] + [f"    {s} = {c}" for s, c in zip(last, state)] + [
            f"    {target} = {length}",
            "else:",
            "    break"]
    loop += _advance(low, body, consts, state, xs, p, pos, target, ys)
    loop += [f"{pos} = {target}", f"if {action} == {FIRSTURN}:", "    break"]
    _emit(low, eqn, lines + ["while True:"] + _indent(loop))


def _online_forward(low, p, cond_consts, consts, init, state, snaps, marks, carry_avals, private):
    """A while_loop keeping snapshots online: marks = [count, trip count, step of each snapshot].
    When they are full, every other snapshot is dropped and the stride doubles.  If only a
    reverse pass in this program reads them (`private`), the arrays start short and double up to
    `slots`; a tape that goes further (stacked by an enclosing loop) has the size of its type."""
    body, slots, nc, nk = p["body"], p["slots"], p["num_consts"], p["num_carry"]
    count, stride, i, cap, k = (low.fresh_temp(n) for n in ("_n", "_d", "_i", "_g", "_k"))
    first = min(slots, INITIAL_SNAPSHOTS) if private else slots
    test, (pred,) = lower_subprogram(low, p["cond"], cond_consts + state)
    stmts, results = lower_subprogram(low, body, consts + state)
    grow = [f"{cap} = min(2 * {cap}, {slots})"]
    for s, a in zip(snaps + [marks], carry_avals + [None]):
        shape, dtype = ((f"{cap} + 2",), np.dtype(np.int64)) if a is None else ((cap,) + a.shape, a.dtype)
        grow += [f"{s}_grown = np.empty(({', '.join(map(str, shape))},), np.{dtype.name})",
                 f"{s}_grown[:{s}.shape[0]] = {s}", f"{s} = {s}_grown"]
    loop = test + [f"if not {pred}:", "    break",
                   f"if {i} % {stride} == 0:",
                   f"    if {count} == {slots}:     # full: keep every other snapshot, double the stride",
                   f"        for {k} in range(0, {count}, 2):",
                   f"            {marks}[2 + {k} // 2] = {marks}[2 + {k}]"]
    loop += [f"            {s}[{k} // 2] = {s}[{k}]" for s in snaps]
    loop += [f"        {count} = ({count} + 1) // 2",
             f"        {stride} *= 2",
             f"    if {i} % {stride} == 0:",
             f"        if {count} == {cap}:"] + ["            " + line for line in grow]
    loop += [f"        {s}[{count}] = {c}" for s, c in zip(snaps, state)]
    loop += [f"        {marks}[2 + {count}] = {i}", f"        {count} += 1"] + stmts
    loop += _assign(state, [_owned(r, v, _foreign(body, nc, nk)) for r, v in zip(results, body.outvars)])
    loop += [f"{i} += 1"]
    lines = [f"# while_loop keeping at most {slots} snapshots (online checkpointing)",
             f"{cap} = {first}", _alloc(marks, (first + 2,), np.dtype(np.int64))]
    lines += [_alloc(s, (first,) + a.shape, a.dtype) for s, a in zip(snaps, carry_avals)]
    lines += [f"{s} = {_copy(x, a)}" for s, x, a in zip(state, init, carry_avals)]
    lines += [f"{count} = 0", f"{stride} = 1", f"{i} = 0", "while True:"] + _indent(loop)
    return lines + [f"{marks}[0] = {count}", f"{marks}[1] = {i}"]


def lower_loop_adjoint(low, eqn):
    p = eqn.params
    body, adjoint, nk, slots = p["body"], p["adjoint"], p["num_carry"], p["slots"]
    n_lc, n_lk, n_lx = p["counts"]
    n_ac, nc, nx = p["num_adjoint_consts"], p["num_consts"], p["num_xs"]
    n_tape = 2 * nk + 1 if p["kind"] == "scan" else nk + 1
    cut = [0, n_ac, n_ac + nc, n_ac + nc + nx, n_ac + nc + nx + n_tape, n_ac + nc + nx + n_tape + n_lk]
    ins = [low._operand(x) for x in eqn.inputs[:cut[5]]] + list(eqn.inputs[cut[5]:])   # ys cotangents: below
    aconsts, consts, xs, tape, ct_in, ct_ys = [ins[a:b] for a, b in zip(cut, cut[1:] + [len(ins)])]
    names = [low.bind_name(v) for v in eqn.outputs]
    ct, acc, ct_xs = names[:n_lk], names[n_lk:n_lk + n_lc], names[n_lk + n_lc:]
    out_avals = [v.aval for v in adjoint.outvars]
    snaps = tape[:nk]
    state = [low.fresh_temp("_c") for _ in range(nk)]
    carry_avals = [v.aval for v in body.outvars[:nk]]
    carry_body = dce(body, [k < nk for k in range(len(body.outvars))])
    lines = [f"{c} = {_copy(x, a)}" for c, x, a in zip(ct, ct_in, out_avals[n_lc:n_lc + n_lk])]
    lines += [_alloc(a, v.shape, v.dtype, "zeros") if v.shape else f"{a} = np.{v.dtype.name}(0)"
              for a, v in zip(acc, out_avals[:n_lc])]
    lines += [_alloc(x, (p["length"],) + v.shape, v.dtype) for x, v in zip(ct_xs, out_avals[n_lc + n_lk:])]
    machine, pos, action, first_slot, first_step = (low.fresh_temp("_m"), low.fresh_temp("_p"), low.fresh_temp("_a"),
                                                    low.fresh_temp("_j"), low.fresh_temp("_b"))

    # one step's adjoint, at step `first_step + pos`
    at = low.fresh_temp("_i")
    slices, ct_slices = [low.fresh_temp("_x") for _ in xs], [low.fresh_temp("_y") for _ in ct_ys]
    stmts, results = lower_subprogram(low, adjoint, aconsts + consts + state + slices + ct + ct_slices)
    turn = [f"{at} = {_step_index(f'{first_step} + {pos}', p)}"]
    turn += [f"{s} = {x}[{at}]" for s, x in zip(slices, xs)]
    turn += [f"{s} = {step_slice(low, eqn, y, at)}" for s, y in zip(ct_slices, ct_ys)] + stmts
    turn += [f"{a} += {r}" for a, r in zip(acc, results[:n_lc])]
    turn += [f"{x}[{at}] = {r}" for x, r in zip(ct_xs, results[n_lc + n_lk:])]
    turn += _assign(ct, results[n_lc:n_lc + n_lk])
    advance = _advance(low, carry_body, consts, state, xs, p, f"{first_step} + {pos}",
                       f"{first_step} + {machine}[{CAPO}]") + [f"{pos} = {machine}[{CAPO}]"]
    actions = [f"{action} = _revolve_next({machine})",
               f"if {action} == {ADVANCE}:"] + _indent(advance) + [
               f"elif {action} == {TAKESHOT}:"] + [f"    {s}[{first_slot} + {machine}[{CHECK}]] = {c}"
                                                   for s, c in zip(snaps, state)] + [
               f"elif {action} == {RESTORE}:"] + [f"    {c} = {_copy(f'{s}[{first_slot} + {machine}[{CHECK}]]', a)}"
                                                  for c, s, a in zip(state, snaps, carry_avals)] + [
               f"    {pos} = {machine}[{CAPO}]",
               f"elif {action} == {FIRSTURN} or {action} == {YOUTURN}:"] + _indent(turn) + [
               "else:",
               "    break"]
    if p["kind"] == "scan":
        length = p["length"]
        lines = [f"# reverse pass of a {length}-step scan from {slots} snapshots (Revolve)"] + lines
        lines += [f"{machine} = {tape[nk]}.copy()", f"{first_slot} = 0", f"{first_step} = 0", f"{pos} = {length - 1}"]
        lines += [f"{c} = {_copy(x, a)}" for c, x, a in zip(state, tape[nk + 1:], carry_avals)]
        if length:
            lines += turn + ["while True:"] + _indent(actions)
        _emit(low, eqn, lines)
        return
    marks, count, stop = tape[nk], low.fresh_temp("_n"), low.fresh_temp("_e")
    lines = ["# reverse pass of a while_loop: Revolve on each stretch between snapshots, last first"] + lines
    lines += [f"{count} = {marks}[0]"]
    lines += [f"{c} = {_copy(f'{s}[0]', a)}" for c, s, a in zip(state, snaps, carry_avals)]   # typed before the loop
    stretch = [f"{stop} = {marks}[{first_slot} + 3] if {first_slot} + 1 < {count} else {marks}[1]",
               f"{first_step} = {marks}[{first_slot} + 2]",
               f"{machine} = _revolve_init({stop} - {first_step}, {slots} - {first_slot})",
               f"{pos} = 0"]
    stretch += [f"{c} = {_copy(f'{s}[{first_slot}]', a)}" for c, s, a in zip(state, snaps, carry_avals)]
    stretch += ["while True:"] + _indent(actions)
    lines += [f"for {first_slot} in range({count} - 1, -1, -1):"] + _indent(stretch)
    _emit(low, eqn, lines)
