"""Run contenders on workloads: first call, gradient check, then timing.

Before any workload, each contender pays its one-off start-up costs
(imports, a trivial JIT compile), unmeasured.  Then, for each workload, every
contender is built and called once (that first call,
build included, is reported as ``first_call_s``: for gradjit compiled it is
trace + transform + compile).  The gradients are then checked against the
reference (see ``verify``) and only the ones that agree are timed, side by
side in the same process.  Exceptions become ``ERROR`` results; nothing here
prints except the progress display on stderr: a bar on a terminal, one line per
workload otherwise.
"""

import contextlib
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, asdict
from typing import Optional

from . import environment, timing, verify
from .contenders import argnums_tuple

OK, MISMATCH, ERROR, SKIPPED = "ok", "MISMATCH", "ERROR", "SKIPPED"


@dataclass
class Result:
    contender: str
    label: str
    status: str
    message: str = ""
    is_gradjit: bool = False
    computes_grad: bool = True
    first_call_s: Optional[float] = None
    max_rel_err: Optional[float] = None
    median_s: Optional[float] = None
    q1_s: Optional[float] = None
    q3_s: Optional[float] = None
    iqr_s: Optional[float] = None
    repeats: Optional[int] = None
    number: Optional[int] = None
    ratio_vs_gradjit: Optional[float] = None

    def as_dict(self):
        return asdict(self)


def _describe_error(exc):
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    return text if len(text) <= 160 else text[:157] + "..."


@contextlib.contextmanager
def deadline(seconds, what):
    """Raise TimeoutError in this block after ``seconds`` (main thread, POSIX only).

    Interrupts Python code (tracing, transforms, most of a JIT compile); a
    single long-running C call is interrupted only when it returns.
    """
    usable = (seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_REAL)[0] == 0)  # don't steal a timer
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise TimeoutError(f"{what} took more than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _NoProgress:
    def update(self, n=1):
        pass

    def set_description(self, text):
        pass

    def workload_done(self, name, seconds):
        pass

    def close(self):
        pass


class _Bar(_NoProgress):
    """A tqdm bar redrawn in place: for a terminal."""

    def __init__(self, total, stream):
        from tqdm import tqdm

        self._bar = tqdm(total=total, file=stream, unit="run", dynamic_ncols=True, leave=False)
        self.update, self.set_description, self.close = self._bar.update, self._bar.set_description, self._bar.close


class _Lines(_NoProgress):
    """One line per finished workload: for a log file or a pipe, where redraws would pile up."""

    def __init__(self, total, stream):
        self._stream, self._total, self._done = stream, total, 0

    def workload_done(self, name, seconds):
        self._done += 1
        print(f"[{self._done}/{self._total}] {name}: {seconds:.1f} s", file=self._stream, flush=True)


def _progress(n_workloads, n_contenders, enabled, stream=None):
    stream = stream or sys.stderr
    if not enabled:
        return _NoProgress()
    if hasattr(stream, "isatty") and stream.isatty():
        try:
            return _Bar(n_workloads * n_contenders, stream)
        except ImportError:
            pass
    return _Lines(n_workloads, stream)


def run_workload(workload, contenders, config, notes, bar, seed):
    args = workload.inputs(seed)
    results, built, flat = {}, {}, {}
    for c in contenders:
        bar.set_description(f"{workload.name}: {c.key} (first call)")
        res = Result(c.key, c.label, OK, is_gradjit=c.is_gradjit, computes_grad=c.computes_grad)
        results[c.key] = res
        if notes[c.key] or c.key in workload.skip:
            res.status, res.message = SKIPPED, notes[c.key] or workload.skip[c.key]
            continue
        try:
            with deadline(config.first_call_timeout_s, "first call"):
                t0 = time.perf_counter()
                grad_fn = c.build(workload)
                inputs = c.convert_inputs(workload, args)
                out = grad_fn(*inputs)
                res.first_call_s = time.perf_counter() - t0
            if c.computes_grad:
                flat[c.key] = c.flatten(out)
            else:
                res.message = "forward value only, not a gradient"
            built[c.key] = (grad_fn, inputs)
        except Exception as e:  # any failure of a contender is reported, never fatal
            res.status, res.message = ERROR, _describe_error(e)

    # --- check every gradient before anything is timed
    bar.set_description(f"{workload.name}: checking gradients")
    argnums = argnums_tuple(workload)
    fd = verify.FiniteDifferences(workload.fun, args, argnums)
    ref_key, ref, ref_err = verify.choose_reference(fd, flat)
    for key, grads in flat.items():
        res = results[key]
        try:
            ok, err, msg = verify.check(grads, fd, ref)
        except Exception as e:
            ok, err, msg = False, float("inf"), _describe_error(e)
        res.max_rel_err = err
        if not ok:
            res.status = MISMATCH
            res.message = msg or f"vs {ref_key or 'finite differences'}"
            built.pop(key, None)

    # --- time, side by side
    for c in contenders:
        res = results[c.key]
        if c.key in built:
            bar.set_description(f"{workload.name}: {c.key}")
            grad_fn, inputs = built.pop(c.key)
            try:
                with deadline(config.measure_timeout_s, "measurement"):
                    m = timing.measure(lambda: grad_fn(*inputs), config)
                res.median_s, res.q1_s, res.q3_s = m.median_s, m.q1_s, m.q3_s
                res.iqr_s, res.repeats, res.number = m.iqr_s, m.repeats, m.number
            except Exception as e:
                res.status, res.message = ERROR, _describe_error(e)
            del grad_fn, inputs
        bar.update(1)

    base = results.get("gradjit")
    if base is not None and base.status == OK and base.median_s:
        for res in results.values():
            if res.median_s is not None:
                res.ratio_vs_gradjit = res.median_s / base.median_s

    return {
        "name": workload.name,
        "family": workload.family,
        "size": workload.size,
        "description": workload.description,
        "params": workload.params,
        "argnums": list(argnums),
        "reference": ref_key or "finite differences",
        "reference_fd_error": ref_err,
        "results": [results[c.key].as_dict() for c in contenders],
    }


def run(workloads, contenders, config=timing.DEFAULT, progress=True, seed=0, mode="default"):
    """Run everything; returns the JSON-serialisable report."""
    started = time.perf_counter()
    with warnings.catch_warnings(), environment.pinned_cpus():
        warnings.simplefilter("ignore")
        notes = {}
        for c in contenders:  # availability, then one-off start-up costs, unmeasured
            try:
                notes[c.key] = c.unavailable()
                if not notes[c.key]:
                    with deadline(config.first_call_timeout_s, "start-up"):
                        c.prime()
            except Exception:
                notes[c.key] = None  # reported per workload, where it fails again
        bar = _progress(len(workloads), len(contenders), progress)
        out = []
        try:
            for w in workloads:
                t0 = time.perf_counter()
                out.append(run_workload(w, contenders, config, notes, bar, seed))
                bar.workload_done(w.name, time.perf_counter() - t0)
        finally:
            bar.close()
            for c in contenders:
                if hasattr(c, "cleanup"):
                    c.cleanup()
        meta = environment.describe()  # inside: reports the pinned affinity
    failures = [f"{w['name']}: {r['label']}: {r['message']}"
                for w in out for r in w["results"]
                if r["is_gradjit"] and r["status"] == MISMATCH]
    meta.update({
        "mode": mode,
        "seed": seed,
        "timing": config.as_dict(),
        "tolerances": {"grad_rtol": verify.GRAD_RTOL, "fd_rtol": verify.FD_RTOL},
        "contenders": {c.key: c.label for c in contenders},
        "skipped_contenders": {k: v for k, v in notes.items() if v},
        "wall_time_s": time.perf_counter() - started,
    })
    return {"meta": meta, "workloads": out, "gradjit_mismatches": failures}
