"""Accuracy of gradjit's vectorised math (`compiler/lowering/vecmath.py`) against the exact result.

    python -m benchmarks.accuracy [--points 1000000] [--only exp,sin] [--seed 0]

For every function and dtype: inputs sampled over the whole range (half log-uniform over the
magnitudes, half uniform over the ranges that matter most), the exact result from mpmath at more
than twice the working precision, and the error in ulps of the exact result (`ulp(v)` = the gap
between floats at |v|; a correctly rounded result is within 0.5 ulp).  NumPy's own error on the
same points is shown alongside.  Prints a Markdown table (for benchmarks/RESULTS.md) and exits
with status 1 if a function exceeds its bound.  tests/test_vecmath.py runs a small sample.
"""
import argparse
import sys
import time
from dataclasses import dataclass

import mpmath as mp
import numpy as np

from compiler.lowering import vecmath as vm


def _expit(x):
    try:
        from scipy.special import expit
    except ImportError:                                # NumPy has no sigmoid: the plain formula
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(-x))
    return expit(x)


@dataclass(frozen=True)
class Spec:
    name: str
    ours: object                   # vecmath function
    numpy: object                  # NumPy's (or SciPy's) counterpart, for its error column
    exact: object                  # mpmath function of mpf arguments
    bound: float                   # max ulp allowed
    log_range: dict                # dtype -> (smallest, largest) magnitude, sampled log-uniformly
    hot: dict                      # dtype -> list of (lo, hi) uniform ranges
    positive: bool = False         # log-uniform sample: positive only (else both signs)
    arity: int = 1
    numpy_reference: bool = True   # special values must match `numpy` (else the rounded exact value)


F64, F32 = np.dtype(np.float64), np.dtype(np.float32)
TINY = {F64: 5e-324, F32: 1e-45}
HUGE = {F64: 1.7976931348623157e308, F32: 3.4028235e38}


def _both(r64, r32):
    return {F64: r64, F32: r32}


SPECS = [
    Spec("exp", vm.exp, np.exp, mp.exp, 1.0, _both((TINY[F64], 1e3), (TINY[F32], 200.0)),
         _both([(-745.2, 709.8), (-1, 1)], [(-103.98, 88.73), (-1, 1)])),
    Spec("expm1", vm.expm1, np.expm1, mp.expm1, 1.0, _both((TINY[F64], 1e3), (TINY[F32], 200.0)),
         _both([(-40, 709.8), (-1, 1)], [(-20, 88.73), (-1, 1)])),
    Spec("log", vm.log, np.log, mp.log, 1.0, _both((TINY[F64], HUGE[F64]), (TINY[F32], HUGE[F32])),
         _both([(0, 10), (0.5, 2)], [(0, 10), (0.5, 2)]), positive=True),
    Spec("log1p", vm.log1p, np.log1p, mp.log1p, 1.0, _both((TINY[F64], HUGE[F64]), (TINY[F32], HUGE[F32])),
         _both([(-1, 1), (-0.3, 0.5)], [(-1, 1), (-0.3, 0.5)]), positive=True),
    Spec("tanh", vm.tanh, np.tanh, mp.tanh, 2.0, _both((TINY[F64], 1e3), (TINY[F32], 1e3)),
         _both([(-5, 5), (-25, 25)], [(-5, 5), (-12, 12)])),
    Spec("sin", vm.sin, np.sin, mp.sin, 2.0, _both((TINY[F64], HUGE[F64]), (TINY[F32], HUGE[F32])),
         _both([(-10, 10), (-1e5, 1e5)], [(-10, 10), (-1e5, 1e5)])),
    Spec("cos", vm.cos, np.cos, mp.cos, 2.0, _both((TINY[F64], HUGE[F64]), (TINY[F32], HUGE[F32])),
         _both([(-10, 10), (-1e5, 1e5)], [(-10, 10), (-1e5, 1e5)])),
    Spec("sigmoid", vm.sigmoid, _expit, lambda x: 1 / (1 + mp.exp(-x)), 1.0,
         _both((TINY[F64], 1e3), (TINY[F32], 200.0)), _both([(-40, 40), (-745, 40)], [(-20, 20), (-104, 20)]),
         numpy_reference=False),
    Spec("softplus", vm.softplus, lambda x: np.logaddexp(0, x), lambda x: mp.log1p(mp.exp(x)), 1.0,
         _both((TINY[F64], 1e3), (TINY[F32], 200.0)), _both([(-40, 40), (-745, 40)], [(-20, 20), (-104, 20)])),
    Spec("power", vm.power, np.power, mp.power, 1.0, _both((TINY[F64], HUGE[F64]), (TINY[F32], HUGE[F32])),
         _both([], []), positive=True, arity=2),
]
BY_NAME = {s.name: s for s in SPECS}


# ---------------------------------------------------------------- inputs

def _log_uniform(rng, n, lo, hi, positive):
    mags = np.exp2(rng.uniform(np.log2(lo), np.log2(hi), n))
    return mags if positive else mags * rng.choice([-1.0, 1.0], n)


def sample(spec, dtype, n, rng):
    """n inputs (a tuple of arrays, one per argument) over the whole range of `spec` for dtype."""
    dtype = np.dtype(dtype)
    if spec.arity == 2:
        return _power_sample(dtype, n, rng)
    lo, hi = spec.log_range[dtype]
    parts = [_log_uniform(rng, n - n // 2, lo, hi, spec.positive)]
    hot = spec.hot[dtype]
    for k, (a, b) in enumerate(hot):
        parts.append(rng.uniform(a, b, n // 2 // len(hot) + (k < n // 2 % len(hot))))
    x = np.concatenate(parts)
    if spec.name == "log1p":             # half the log-uniform points into (-1, 0): v -> -v/(1+v)
        neg = np.arange(x.size) % 2 == 1
        neg[n - n // 2:] = False
        x[neg] = -x[neg] / (1 + x[neg])
    with np.errstate(over="ignore"):
        return (x.astype(dtype),)


def _power_sample(dtype, n, rng):
    """x log-uniform, y chosen so that |x**y| spans the whole range (a third of the points), y
    uniform in [-10, 10] with x in [1e-5, 1e5], and negative x with integer y."""
    lo, hi = TINY[dtype], HUGE[dtype]
    k = n // 3
    x1 = np.exp2(rng.uniform(np.log2(lo), np.log2(hi), n - 2 * k))
    top = {F64: (-745.0, 709.7), F32: (-103.0, 88.7)}[dtype]
    with np.errstate(divide="ignore"):
        y1 = rng.uniform(*top, n - 2 * k) / np.log(x1)
    x2 = np.exp(rng.uniform(np.log(1e-5), np.log(1e5), k))
    y2 = rng.uniform(-10, 10, k)
    x3 = -np.exp(rng.uniform(np.log(0.1), np.log(10), k))
    y3 = np.floor(rng.uniform(-40, 40, k))
    with np.errstate(over="ignore"):
        x = np.concatenate([x1, x2, x3]).astype(dtype)
        y = np.concatenate([y1, y2, y3]).astype(dtype)
    y[~np.isfinite(y)] = 1
    return x, y


# ---------------------------------------------------------------- errors in ulps

_FORMAT = {F64: (52, -1022, 1024), F32: (23, -126, 128)}     # mantissa bits, min exponent, max


def _precision(dtype):
    return 2 * _FORMAT[np.dtype(dtype)][0] + 24               # mpmath bits: more than twice ours


def exact_values(spec, args, dtype):
    """The exact results as arrays (hi, lo, k): exact = (hi + lo) 2^k with 1 <= |hi| < 2, or
    hi = the exact value itself when it is 0, infinite or not a real number (nan)."""
    n = len(args[0])
    hi, lo, k = np.empty(n), np.zeros(n), np.zeros(n, dtype=np.int64)
    with mp.workprec(_precision(dtype)):
        for i, point in enumerate(zip(*args)):
            try:
                e = spec.exact(*(mp.mpf(float(v)) for v in point))
            except (ValueError, ZeroDivisionError):
                e = mp.nan
            if not isinstance(e, mp.mpf):                      # complex: outside the domain
                e = mp.nan
            if not mp.isfinite(e) or e == 0:
                hi[i] = float(e)
                continue
            m, ex = mp.frexp(e)                                # e = m 2^ex, 1/2 <= |m| < 1
            if ex > 4096 or ex < -4096:                        # far beyond the format: inf or 0
                hi[i] = float(mp.sign(e)) * (np.inf if ex > 0 else 0.0)
                continue
            m = mp.ldexp(m, 1)
            hi[i] = float(m)
            lo[i] = float(m - hi[i])
            k[i] = ex - 1
    return hi, lo, k


def ulp_errors(results, exact, dtype):
    """|result - exact| in ulps of the exact value (ulp(v) = the float spacing at |v|), per point:
    nan where the exact value is not a real number (those inputs belong to the special-value
    tests), inf for a wrong overflow or a non-finite result."""
    mant, emin, emax = _FORMAT[np.dtype(dtype)]
    hi, lo, k = exact
    y = np.asarray(results, dtype=np.float64)
    err = np.full(hi.shape, np.nan)
    with np.errstate(all="ignore"):
        regular = np.isfinite(hi) & (hi != 0)
        # exact values from (2 - 2^-(mant+1)) 2^(emax-1) on round to inf
        over = ~np.isfinite(hi) & ~np.isnan(hi) | regular & ((k >= emax) | (k == emax - 1) & (
            np.abs(hi) >= 2 - 2.0 ** -(mant + 1)))
        err[over] = np.where(y[over] == np.copysign(np.inf, hi[over]), 0.0, np.inf)
        zero = hi == 0
        err[zero] = np.ldexp(np.abs(y[zero]), mant - emin)
        normal = regular & ~over
        kk = np.maximum(k, emin)
        scaled = (np.ldexp(y, -k) - hi) - lo                   # (result - exact) 2^-k
        err[normal] = np.abs(scaled[normal]) * np.exp2(mant - (kk - k)[normal])
        err[normal & ~np.isfinite(y)] = np.inf
    return err


# ---------------------------------------------------------------- special values

def _around(v, dtype, k=2):
    """v rounded to dtype and its k neighbouring floats on each side."""
    x = dtype.type(v)
    out, up, down = [x], x, x
    for _ in range(k):
        up, down = np.nextafter(up, dtype.type(np.inf)), np.nextafter(down, dtype.type(-np.inf))
        out += [up, down]
    return out


def _exp_thresholds(dtype):
    """x where e^x starts to overflow, to be subnormal, and to round to zero."""
    mant, emin, emax = _FORMAT[dtype]
    with mp.workprec(200):
        over = mp.log(mp.ldexp(2 - mp.ldexp(1, -mant - 1), emax - 1))
        return [float(over), float(mp.log(mp.ldexp(1, emin))), float(mp.log(mp.ldexp(1, emin - mant - 1)))]


def special_inputs(spec, dtype):
    """Inputs (a tuple of arrays) where results must match NumPy's exactly in kind: signed zeros,
    infinities, nan, subnormals, the overflow and underflow thresholds, huge arguments."""
    dtype = np.dtype(dtype)
    fi = np.finfo(dtype)
    common = [0.0, np.inf, np.nan, fi.smallest_subnormal, fi.tiny - fi.smallest_subnormal, fi.tiny,
              fi.max, 1.0, 0.5, 2.0, 1e-10, 10.0, 100.0, 1000.0]
    xs = common + [-v for v in common]
    if spec.name in ("exp", "expm1", "sigmoid", "softplus"):
        for t in _exp_thresholds(dtype):
            xs += _around(t, dtype) + _around(-t, dtype)
    if spec.name == "log":
        xs += _around(1.0, dtype) + _around(fi.tiny, dtype)
    if spec.name == "log1p":
        xs += _around(-1.0, dtype) + _around(1.0, dtype)
    if spec.name in ("sin", "cos"):
        with np.errstate(over="ignore"):
            huge = [1e22, 1e300, 6381956970095103.0 * 2.0 ** 797, 2.0 ** 1023, np.pi, np.pi / 2, 3 * np.pi / 2,
                    1e6 * np.pi, 2.0 ** 60, 12582912.0, 1e30, 3.4028235e38]
            xs += [dtype.type(v) for v in huge] + [-dtype.type(v) for v in huge]
    if spec.name == "tanh":
        xs += [dtype.type(v) for v in (0.55, 19.0, 20.0, 22.0, 40.0, 1e-8)]
    if spec.arity == 2:
        return _power_specials(dtype)
    with np.errstate(over="ignore"):
        return (np.array(xs, dtype=np.float64).astype(dtype),)


def _power_specials(dtype):
    """Every pair of the IEEE/C99 special cases of pow (NumPy's behaviour)."""
    fi = np.finfo(dtype)
    odd_big, even_big = (2.0 ** 52 + 1, 2.0 ** 53) if dtype == F64 else (2.0 ** 23 + 1, 2.0 ** 24)
    xs = [0.0, np.inf, np.nan, 1.0, 0.5, 2.0, 3.0, fi.smallest_subnormal, fi.max, 10.0, 1.5]
    xs += [-v for v in xs]
    ys = [0.0, np.inf, np.nan, 1.0, 2.0, 3.0, 0.5, 1.5, 1e10, odd_big, even_big, 1025.0, 1075.0, 0.1]
    ys += [-v for v in ys]
    x, y = np.meshgrid(np.array(xs, dtype), np.array(ys, dtype))
    return x.ravel(), y.ravel()


def special_mismatches(spec, dtype):
    """The special inputs where our result differs in kind from NumPy's (or, for a function NumPy
    lacks, from the rounded exact value), or is finite but beyond the ulp bound: a list of
    (inputs, ours, reference)."""
    dtype = np.dtype(dtype)
    args = special_inputs(spec, dtype)
    exact = exact_values(spec, args, dtype)
    with np.errstate(all="ignore"):
        ours = np.asarray(spec.ours(*args), dtype)
        if spec.numpy_reference:
            ref = np.asarray(spec.numpy(*args)).astype(dtype)
        else:
            hi, lo, k = exact
            ref = np.where(np.isfinite(hi) & (hi != 0), np.ldexp(hi, k), hi).astype(dtype)
        err = ulp_errors(ours, exact, dtype)
    bad = []
    for i in range(len(ours)):
        o, r = ours[i], ref[i]
        if np.isnan(r) or np.isinf(r) or r == 0:
            same = (np.isnan(o) and np.isnan(r)) or (o == r and np.signbit(o) == np.signbit(r))
        else:
            same = o == r or (np.isfinite(o) and o != 0 and np.signbit(o) == np.signbit(r)
                              and err[i] <= spec.bound)
        if not same:
            bad.append((tuple(a[i] for a in args), o, r))
    return bad


@dataclass
class Result:
    name: str
    dtype: str
    points: int
    max_ulp: float
    mean_ulp: float
    numpy_max: float
    numpy_mean: float
    bound: float
    worst: tuple

    @property
    def ok(self):
        return self.max_ulp <= self.bound


def measure(spec, dtype, n, seed=0):
    dtype = np.dtype(dtype)
    rng = np.random.default_rng([seed, SPECS.index(spec), dtype.itemsize])
    args = sample(spec, dtype, n, rng)
    exact = exact_values(spec, args, dtype)
    with np.errstate(all="ignore"):
        ours = ulp_errors(np.asarray(spec.ours(*args), dtype), exact, dtype)
        theirs = ulp_errors(np.asarray(spec.numpy(*args)).astype(dtype), exact, dtype)
    valid = ~np.isnan(ours)
    worst = int(np.nanargmax(ours))
    return Result(spec.name, dtype.name, int(valid.sum()), float(np.nanmax(ours)), float(np.nanmean(ours)),
                  float(np.nanmax(theirs)), float(np.nanmean(theirs)), spec.bound,
                  tuple(float(a[worst]) for a in args))


def table(results):
    lines = ["| function | dtype | points | max ulp | mean ulp | NumPy max ulp | NumPy mean ulp | bound |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.name} | {r.dtype} | {r.points} | {r.max_ulp:.3f} | {r.mean_ulp:.3f} | "
                     f"{r.numpy_max:.3f} | {r.numpy_mean:.3f} | {r.bound:g} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.accuracy", description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, default=1_000_000, help="points per function and dtype")
    p.add_argument("--only", help="comma-separated function names")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else [s.name for s in SPECS]
    results = []
    for name in names:
        for dtype in (F64, F32):
            start = time.perf_counter()
            r = measure(BY_NAME[name], dtype, args.points, args.seed)
            results.append(r)
            print(f"{name} {dtype.name}: max {r.max_ulp:.3f} ulp (worst at {r.worst}), "
                  f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    print(table(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
