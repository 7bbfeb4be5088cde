"""Speed of gradjit's vectorised math against libm and NumPy, in ns per element.

    python -m benchmarks.vecmath_speed [--size 1000000] [--only exp,sin]

For each function and dtype, on one thread: a Numba loop compiled like a generated kernel
(runtime.kernels.NUMBA_OPTIONS) calling `vecmath.f` (ours), the same loop calling `np.f` (Numba
lowers it to one scalar libm call per element: what kernels did before), and NumPy's own ufunc
into a preallocated output.  Best thread CPU time of several runs, so that other load on the
machine matters less.
"""
import argparse
import re
import sys
import time

import numba
import numpy as np

from compiler.lowering import vecmath as vm
from runtime.kernels import NUMBA_OPTIONS

_JIT = {k: v for k, v in NUMBA_OPTIONS.items() if k != "cache"}


@numba.njit(**_JIT)
def _sigmoid_libm(x):
    return 1 / (1 + np.exp(-x))


@numba.njit(**_JIT)
def _softplus_libm(x):
    return np.log1p(np.exp(-abs(x))) + max(x, 0)


@numba.njit(**_JIT)
def _power_libm(x, y):
    return x ** y


def _numpy_sigmoid(x, out):
    try:
        from scipy.special import expit
    except ImportError:
        return np.divide(1, 1 + np.exp(-x), out=out)
    return expit(x, out=out)


# name: (ours, libm scalar function for the Numba loop, NumPy on arrays, input range)
CASES = {
    "exp": (vm.exp, np.exp, np.exp, (-20, 20)),
    "expm1": (vm.expm1, np.expm1, np.expm1, (-20, 20)),
    "log": (vm.log, np.log, np.log, (0.001, 1000)),
    "log1p": (vm.log1p, np.log1p, np.log1p, (-0.9, 100)),
    "tanh": (vm.tanh, np.tanh, np.tanh, (-5, 5)),
    "sin": (vm.sin, np.sin, np.sin, (-10, 10)),
    "cos": (vm.cos, np.cos, np.cos, (-10, 10)),
    "sigmoid": (vm.sigmoid, _sigmoid_libm, _numpy_sigmoid, (-10, 10)),
    "softplus": (vm.softplus, _softplus_libm, lambda x, out: np.logaddexp(0, x, out=out), (-10, 10)),
    "power": (vm.power, _power_libm, np.power, (0.01, 10)),
}


def _loop(fn, arity):
    if arity == 1:
        def loop(out, x, y):
            for i in range(out.shape[0]):
                out[i] = fn(x[i])
    else:
        def loop(out, x, y):
            for i in range(out.shape[0]):
                out[i] = fn(x[i], y[i])
    return numba.njit(**_JIT)(loop)


def _best(run, repeats):
    """Best CPU time of the calling thread over `repeats` runs: everything measured here runs
    on that thread, and CPU time is not inflated by other processes on a busy machine."""
    run()
    best = np.inf
    for _ in range(repeats):
        start = time.thread_time()
        run()
        best = min(best, time.thread_time() - start)
    return best


def measure(name, dtype, size, repeats=15, seed=0):
    ours, libm, numpy_fn, (lo, hi) = CASES[name]
    arity = 2 if name == "power" else 1
    rng = np.random.default_rng(seed)
    x = rng.uniform(lo, hi, size).astype(dtype)
    y = rng.uniform(-3, 3, size).astype(dtype)
    out = np.empty_like(x)
    ours_loop, libm_loop = _loop(ours, arity), _loop(libm, arity)
    per = 1e9 / size
    t_ours = _best(lambda: ours_loop(out, x, y), repeats) * per
    t_libm = _best(lambda: libm_loop(out, x, y), repeats) * per
    t_numpy = _best(lambda: numpy_fn(*((x, y) if arity == 2 else (x,)), out=out), repeats) * per
    ir = ours_loop.inspect_llvm(ours_loop.signatures[0])
    vectorised = re.search(r"= f(mul|add|sub)[^=]* <\d+ x (double|float)>", ir) is not None
    return t_ours, t_libm, t_numpy, vectorised


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.vecmath_speed", description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=1_000_000)
    p.add_argument("--only", help="comma-separated function names")
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else list(CASES)
    print("| function | dtype | vecmath (ns/elem) | Numba loop, libm (ns/elem) | NumPy ufunc (ns/elem) | vectorised |")
    print("|---|---|---|---|---|---|")
    for name in names:
        for dtype in (np.float64, np.float32):
            ours, libm, numpy_t, vec = measure(name, dtype, args.size)
            print(f"| {name} | {np.dtype(dtype).name} | {ours:.2f} | {libm:.2f} | {numpy_t:.2f} | "
                  f"{'yes' if vec else 'no'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
