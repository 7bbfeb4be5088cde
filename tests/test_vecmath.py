"""gradjit's vectorised math (compiler/lowering/vecmath.py): accuracy against the exact result
(mpmath) on a CI-sized sample, special values against NumPy, and vectorisation inside a loop
compiled like a generated kernel.  The full 10^6-point run: `python -m benchmarks.accuracy`."""
import re

import numba
import numpy as np
import pytest

pytest.importorskip("mpmath")
from benchmarks import accuracy                    # noqa: E402
from compiler.lowering import vecmath              # noqa: E402

SAMPLE = 20_000
DTYPES = (np.float64, np.float32)
CASES = [pytest.param(spec, np.dtype(dtype), id=f"{spec.name}-{np.dtype(dtype).name}")
         for spec in accuracy.SPECS for dtype in DTYPES]


@pytest.mark.parametrize("spec,dtype", CASES)
def test_accuracy_within_bound(spec, dtype):
    result = accuracy.measure(spec, dtype, SAMPLE)
    assert result.points >= 0.9 * SAMPLE
    assert result.max_ulp <= spec.bound, f"{result.max_ulp:.3f} ulp at {result.worst}"


@pytest.mark.parametrize("spec,dtype", CASES)
def test_special_values_match_numpy(spec, dtype):
    assert accuracy.special_mismatches(spec, dtype) == []


def _calls_vecmath(llvm_ir):
    """Whether the code calls a vecmath function (other than the array loop itself, which the
    Python wrapper calls) instead of having it inlined."""
    return re.search(r"call [^@\n]*@_ZN8compiler8lowering7vecmath(?!11_array_loop)", llvm_ir) is not None


@pytest.mark.parametrize("spec,dtype", CASES)
def test_loop_vectorises(spec, dtype):
    """The elementwise loop over a function (the one the tests above ran) uses SIMD arithmetic
    and calls nothing: the function was inlined and vectorised."""
    args = [np.ones(8, dtype)] * spec.arity
    spec.ours(*args)
    loop = vecmath._LOOPS[spec.ours]
    ir = loop.inspect_llvm(next(sig for sig in loop.signatures if sig[0].dtype == numba.from_dtype(dtype)))
    assert re.search(r"= f(mul|add|sub)[^=]* <\d+ x (double|float)>", ir)
    assert not _calls_vecmath(ir)


def test_ulp_measure_detects_one_ulp():
    """The measure the bounds rely on: 1 ulp above 1.0 is 1 ulp, below it half an ulp; a wrong
    zero for the smallest subnormal is 1 ulp; a finite result where the exact value rounds to
    inf (and the reverse) is an infinite error."""
    one = np.array([1.0])
    exact = accuracy.exact_values(accuracy.BY_NAME["exp"], (np.array([0.0]),), np.float64)
    assert accuracy.ulp_errors(np.nextafter(one, 2), exact, np.float64)[0] == 1.0
    assert accuracy.ulp_errors(np.nextafter(one, 0), exact, np.float64)[0] == 0.5
    tiny = accuracy.exact_values(accuracy.BY_NAME["exp"], (np.array([-744.44007192138126]),), np.float64)
    assert accuracy.ulp_errors(np.array([0.0]), tiny, np.float64)[0] == pytest.approx(1.0, abs=0.01)
    over = accuracy.exact_values(accuracy.BY_NAME["exp"], (np.array([709.8]),), np.float64)
    assert accuracy.ulp_errors(np.array([np.finfo(np.float64).max]), over, np.float64)[0] == np.inf
    assert accuracy.ulp_errors(np.array([np.inf]), over, np.float64)[0] == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_caller_fastmath_does_not_leak_into_the_math(dtype):
    """Compiled like a generated kernel (fastmath with 'reassoc', which would fold the range
    reductions away), a fused loop of several functions vectorises and gives the very results of
    the functions on their own."""
    from runtime.kernels import NUMBA_OPTIONS
    assert "reassoc" in NUMBA_OPTIONS["fastmath"]

    @numba.njit(**{k: v for k, v in NUMBA_OPTIONS.items() if k != "cache"})
    def kernel(x, out):
        for i in range(x.shape[0]):
            v = x[i]
            out[i] = vecmath.tanh(vecmath.sin(v) * vecmath.exp(-v * v)) + vecmath.log1p(v * v)

    x = np.random.default_rng(0).normal(0, 3, 4099).astype(dtype)
    out = np.empty_like(x)
    kernel(x, out)
    separately = vecmath.tanh(vecmath.sin(x) * vecmath.exp(-x * x)) + vecmath.log1p(x * x)
    np.testing.assert_array_equal(out, separately)
    ir = kernel.inspect_llvm(kernel.signatures[0])
    assert re.search(r"<\d+ x (double|float)>", ir)
    assert not _calls_vecmath(ir)
