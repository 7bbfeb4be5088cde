"""Checkpointing schedules for reversing long loops, as plain functions over int64 arrays, so the
same code drives the reference interpreter (in Python) and compiled kernels (under Numba).

Offline (the trip count is known): Griewank & Walther's binomial checkpointing, "Revolve"
(ACM TOMS 26, 2000), as a state machine.  With `snaps` snapshots it reverses `steps` steps with
the fewest forward steps there are: r*n - C(c+r, r-1) advances, r the least integer with
C(c+r, c) >= n (`advances`).  `revolve_next` returns the next action:
    ADVANCE   run the forward step until the state is at step m[CAPO]
    TAKESHOT  store the current state in snapshot m[CHECK]
    RESTORE   load snapshot m[CHECK] (the state is then at step m[CAPO])
    FIRSTURN, YOUTURN  reverse step m[FINE] (the state is at that step)
    TERMINATE done
Online (a while_loop: the trip count is known only at the end): the forward pass keeps a state
every `stride` steps; when the slots are full it drops every other one and doubles the stride, so
it never holds more than `slots` states and they stay evenly spread.  The reverse pass then runs
Revolve on each stretch between two kept states, last stretch first, with the slots it frees.
"""
import hashlib

import numpy as np

ADVANCE, TAKESHOT, RESTORE, FIRSTURN, YOUTURN, TERMINATE = 1, 2, 3, 4, 5, 6
CHECK, CAPO, FINE, SNAPS, TURN, CH = 0, 1, 2, 3, 4, 5      # the machine: [check, capo, fine, snaps, turn, ch...]


def revolve_init(steps, snaps):
    snaps = max(1, min(snaps, steps))      # more snapshots than steps change nothing
    m = np.zeros(CH + snaps, np.int64)
    m[CHECK] = -1
    m[FINE] = steps
    m[SNAPS] = snaps
    return m


def revolve_next(m):
    check, capo, fine, snaps = m[CHECK], m[CAPO], m[FINE], m[SNAPS]
    if check == -1 and capo < fine:
        m[TURN] = 0
        m[CH] = capo - 1
    if fine - capo == 0:
        if check == -1 or capo == m[CH]:
            m[CHECK] = check - 1
            return TERMINATE
        m[CAPO] = m[CH + check]
        return RESTORE
    if fine - capo == 1:
        m[FINE] = fine - 1
        if check >= 0 and m[CH + check] == capo:
            m[CHECK] = check - 1
        if m[TURN] == 0:
            m[TURN] = 1
            return FIRSTURN
        return YOUTURN
    if check == -1 or m[CH + check] != capo:
        m[CHECK] = check + 1
        m[CH + check + 1] = capo
        return TAKESHOT
    # advance to the split point of the binomial schedule for the snapshots left
    ds = snaps - check
    reps, rng = 0, 1
    while rng < fine - capo:
        reps += 1
        rng = rng * (reps + ds) // reps
    bino1 = rng * reps // (ds + reps)
    bino2 = bino1 * ds // (ds + reps - 1) if ds > 1 else 1
    if ds == 1:
        bino3 = 0
    else:
        bino3 = bino2 * (ds - 1) // (ds + reps - 2) if ds > 2 else 1
    bino4 = bino2 * (reps - 1) // ds
    if ds < 3:
        bino5 = 0
    else:
        bino5 = bino3 * (ds - 2) // reps if ds > 3 else 1
    old = capo
    if fine - capo <= bino1 + bino3:
        capo = capo + bino4
    elif fine - capo >= rng - bino5:
        capo = capo + bino1
    else:
        capo = fine - bino2 - bino3
    if capo == old:
        capo = old + 1
    m[CAPO] = capo
    return ADVANCE


def advances(n, c):
    """Revolve's forward step count for n steps and c snapshots: r*n - C(c+r, r-1)."""
    if n <= 1:
        return 0
    c = min(c, n)
    r, binom = 0, 1            # binom = C(c+r, c)
    while binom < n:
        r += 1
        binom = binom * (c + r) // r
    return r * n - _comb(c + r, r - 1)


def _comb(n, k):
    if k < 0:
        return 0
    out = 1
    for i in range(1, k + 1):
        out = out * (n - k + i) // i
    return out


with open(__file__, "rb") as _f:       # part of the kernel cache key: kernels inline these functions
    VERSION = hashlib.sha256(_f.read()).hexdigest()[:16]


def __getattr__(name):
    """The Numba versions kernels call (`revolve_init_nb`, `revolve_next_nb`), made on first use so
    that importing gradjit does not import Numba; Numba caches them on disk."""
    plain = {"revolve_init_nb": revolve_init, "revolve_next_nb": revolve_next}.get(name)
    if plain is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import numba
    compiled = globals()[name] = numba.njit(cache=True)(plain)
    return compiled
