"""Vectorisable float64 and float32 math for the generated kernels.

PyPI's llvmlite has no vector math library, so `np.exp(x)` inside a Numba loop is one scalar libm
call per element and the loop does not vectorise.  The functions here (exp, expm1, log, log1p,
tanh, sin, cos, power, sigmoid, softplus) are branch-free Numba code: range reduction, then a minimax
polynomial.  LLVM inlines them into the calling loop and vectorises them.  The algorithms follow
SLEEF and fdlibm; the code and the coefficients (fitted by `benchmarks/vecmath_coefficients.py`)
are our own.  Accuracy against a correctly rounded reference and special values (NumPy's):
`tests/test_vecmath.py`, full run `python -m benchmarks.accuracy`.

Call them from Numba code as `vecmath.exp(x)` for float64 or float32 `x`; from Python they
evaluate NumPy arrays elementwise (a convenience for tests).

Rules for editing:
- The kernels compile with fastmath 'contract' only, whatever the caller uses: reassociation
  would fold the range reductions and the error-free sums away.  They are separate Numba
  functions that LLVM inlines ('forceinline'), so their instructions keep their own flags;
  Numba-level inlining (inline='always') would compile them with the caller's flags.
- No data-dependent branches: `a if c else b` becomes a select.  Every special value is fixed by
  a final select, after computing with whatever the input gives.
- No float -> int conversions (`math.floor` returns an int; use `np.floor` or the SHIFT trick) and
  integer bit manipulation only inside the intrinsics below (Numba widens int32 arithmetic to
  int64, which would break float32 code).
"""
import hashlib
from collections import namedtuple
from pathlib import Path

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

# Generated kernels are cached on disk; put this in their cache key, so that they are recompiled
# when this file changes (Numba's own cache only watches the kernel's file).
VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]

# forceinline: LLVM inlines the kernels into the calling loop (which it then vectorises), while their
# instructions keep these flags.  cache: compiled once per machine, not once per process.
JIT_OPTIONS = {"fastmath": {"contract"}, "error_model": "numpy", "nogil": True, "forceinline": True,
               "cache": True}
_jit = numba.njit(**JIT_OPTIONS)
f4 = np.float32


# ---------------------------------------------------------------- bit-level intrinsics

def _float_layout(fty):
    """(LLVM float type, LLVM int type, mantissa bits, exponent bias) of a Numba float type."""
    if fty == types.float64:
        return ir.DoubleType(), ir.IntType(64), 52, 1023
    return ir.FloatType(), ir.IntType(32), 23, 127


def _int_to_float(builder, k, fty, ity, mant):
    """A small non-negative integer k as a float, without an int -> float conversion: k becomes
    the low bits of 1.5 * 2**mant."""
    magic = 1.5 * 2.0 ** mant
    magic_bits = int(np.array(magic, dtype=np.float64 if mant == 52 else np.float32).view(
        np.int64 if mant == 52 else np.int32))
    kf = builder.bitcast(builder.or_(k, ir.Constant(ity, magic_bits)), fty)
    return builder.fsub(kf, ir.Constant(fty, magic))


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c with one rounding (llvm.fma)."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, sig, args):
        return builder.fma(*args)
    return a(a, b, c), codegen


@intrinsic
def _mul(typingctx, a, b):
    """a * b rounded, never fused into a following addition (for error-free transformations,
    whose exactness 'contract' would otherwise break)."""
    if not (isinstance(a, types.Float) and a == b):
        return None

    def codegen(context, builder, sig, args):
        return builder.fmul(*args)
    return a(a, b), codegen


@intrinsic
def _pow2(typingctx, n):
    """2**n for an integer-valued float n within the normal exponent range."""
    if not isinstance(n, types.Float):
        return None

    def codegen(context, builder, sig, args):
        fty, ity, mant, bias = _float_layout(n)
        shifted = builder.fadd(args[0], ir.Constant(fty, 1.5 * 2.0 ** mant + bias))   # n + bias in the low bits
        bits = builder.shl(builder.bitcast(shifted, ity), ir.Constant(ity, mant))
        return builder.bitcast(bits, fty)
    return n(n), codegen


@intrinsic
def _split_mantissa(typingctx, x):
    """(m, e) with x = m * 2**e, sqrt(1/2) <= m < sqrt(2), e an integer-valued float; x > 0 normal."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, sig, args):
        fty, ity, mant, bias = _float_layout(x)
        one = (bias << mant)
        sqrt_half = 0x3FE6A09E667F3BCD if mant == 52 else 0x3F3504F3
        bits = builder.bitcast(args[0], ity)
        # biased exponent of x / sqrt(1/2), computed on the bits (non-negative for positive x)
        k = builder.lshr(builder.add(bits, ir.Constant(ity, one - sqrt_half)), ir.Constant(ity, mant))
        m = builder.bitcast(builder.sub(builder.add(bits, ir.Constant(ity, one)),
                                        builder.shl(k, ir.Constant(ity, mant))), fty)
        e = builder.fsub(_int_to_float(builder, k, fty, ity, mant), ir.Constant(fty, bias))
        return context.make_tuple(builder, sig.return_type, (m, e))
    return types.UniTuple(x, 2)(x), codegen


@intrinsic
def _exponent_row(typingctx, x, emax):
    """(row, E) for the unbiased exponent E of x clamped to [-1, emax] (an int literal): the
    int64 table row E + 1, and E as a float64."""
    if not (isinstance(x, types.Float) and isinstance(emax, types.IntegerLiteral)):
        return None
    top = emax.literal_value + 1

    def codegen(context, builder, sig, args):
        fty, ity, mant, bias = _float_layout(x)
        i64 = ir.IntType(64)
        field = builder.and_(builder.lshr(builder.bitcast(args[0], ity), ir.Constant(ity, mant)),
                             ir.Constant(ity, 2 * bias + 1))
        field = builder.zext(field, i64) if ity.width < 64 else field
        row = builder.sub(field, ir.Constant(i64, bias - 1))
        row = builder.select(builder.icmp_signed("<", row, ir.Constant(i64, 0)), ir.Constant(i64, 0), row)
        row = builder.select(builder.icmp_signed(">", row, ir.Constant(i64, top)), ir.Constant(i64, top), row)
        e = builder.fsub(_int_to_float(builder, row, ir.DoubleType(), i64, 52), ir.Constant(ir.DoubleType(), 1.0))
        return context.make_tuple(builder, sig.return_type, (row, e))
    return types.Tuple((types.int64, types.float64))(x, emax), codegen


# ---------------------------------------------------------------- constants

# Per-precision constants: one implementation of each function serves float64 and float32.
Consts = namedtuple("Consts", [
    "zero", "half", "one", "two",
    "shift",                # 1.5 * 2**mant: (v + shift) - shift rounds |v| < 2**(mant-1) to an integer
    "log2e", "ln2_hi", "ln2_lo",  # ln 2 = ln2_hi + ln2_lo; n * ln2_hi is exact for the n we meet
    "exp_max", "exp_min",   # beyond these, exp is inf or 0 (and 2**n still splits in two factors)
    "expm1_max", "expm1_min",
    "tanh_max",             # tanh rounds to 1 beyond
    "softplus_max",         # log(1 + e^x) rounds to x beyond
    "log1p_tiny",           # log1p(t) = t - t^2/2 to working precision below
    "min_normal", "min_exp",
    "subnormal_scale", "subnormal_exp",   # log of subnormals: scale by 2**subnormal_exp first
    "inf", "nan",
    "exp_p", "exp_q", "log_p",   # minimax coefficients (benchmarks/vecmath_coefficients.py)
])

_EXP_P64 = (0.5, 0.16666666666666677, 0.04166666666666651, 0.0083333333333217, 0.0013888888888962314,
            0.00019841269885939472, 2.4801587172613057e-05, 2.7557244403769723e-06,
            2.7557402611341254e-07, 2.510896762731072e-08, 2.087532977924703e-09)
_EXP_P32 = (0.5, 0.1666666716337204, 0.041666239500045776, 0.00833328627049923, 0.001394858118146658,
            0.00019907571549993008)
_LOG_P64 = (0.666666666666671, 0.39999999999520114, 0.2857142872920423, 0.2222219910037862,
            0.18183570998444593, 0.15313179277392916, 0.14810362639819422)
_LOG_P32 = (0.6666677594184875, 0.39976084232330320, 0.29925453662872314)

F64 = Consts(
    zero=0.0, half=0.5, one=1.0, two=2.0, shift=6755399441055744.0, log2e=1.4426950408889634,
    ln2_hi=float.fromhex("0x1.62e42fee00000p-1"),       # 32 bits: exact products for |n| < 2**21
    ln2_lo=float.fromhex("0x1.a39ef35793c76p-33"),
    exp_max=1000.0, exp_min=-1000.0, expm1_max=710.0, expm1_min=-50.0, tanh_max=40.0,
    softplus_max=40.0, log1p_tiny=2.0 ** -27,
    min_normal=2.2250738585072014e-308, min_exp=-1022.0, subnormal_scale=2.0 ** 54, subnormal_exp=54.0,
    inf=np.inf, nan=np.nan,
    exp_p=_EXP_P64, exp_q=_EXP_P64[1:], log_p=_LOG_P64)


def _float32(consts):
    return Consts(*(tuple(f4(c) for c in v) if isinstance(v, tuple) else f4(v) for v in consts))


F32 = _float32(Consts(
    zero=0.0, half=0.5, one=1.0, two=2.0, shift=12582912.0, log2e=1.4426950408889634,
    ln2_hi=float.fromhex("0x1.62e4p-1"),                # 15 bits: exact products for |n| < 2**9
    ln2_lo=float.fromhex("0x1.7f7d1cp-20"),
    exp_max=150.0, exp_min=-150.0, expm1_max=100.0, expm1_min=-30.0, tanh_max=10.0,
    softplus_max=20.0, log1p_tiny=2.0 ** -13,
    min_normal=1.1754943508222875e-38, min_exp=-126.0, subnormal_scale=2.0 ** 25, subnormal_exp=25.0,
    inf=np.inf, nan=np.nan,
    exp_p=_EXP_P32, exp_q=_EXP_P32[1:], log_p=_LOG_P32))

SHIFT = F64.shift
PIO2_HI = float.fromhex("0x1.921fb54442d18p+0")     # pi/2 = PIO2_HI + PIO2_LO
PIO2_LO = float.fromhex("0x1.1a62633145c07p-54")
PI = float.fromhex("0x1.921fb54442d18p+1")
SIN_P = (-0.16666666666666644, 0.008333333333323673, -0.00019841269830153272, 2.7557313655187267e-06,
         -2.505073511868829e-08, 1.5894743283863398e-10)
COS_P = (0.04166666666666665, -0.0013888888888882846, 2.480158729463356e-05, -2.7557315740699307e-07,
         2.0875898081312824e-09, -1.1368002341468553e-11)
SIN_P_FOR32 = (-0.1666666663897598, 0.008333331424159979, -0.00019840890501930135,
               2.7525873532461917e-06, -2.388949837319592e-08)     # float32 results, float64 work


# ---------------------------------------------------------------- shared building blocks

@_jit
def _horner(t, c):
    """c[0] + c[1] t + c[2] t^2 + ... (c a constant tuple: LLVM unrolls the loop)."""
    acc = c[len(c) - 1]
    for k in range(len(c) - 2, -1, -1):
        acc = acc * t + c[k]
    return acc


@_jit
def _two_sum(a, b):
    """(s, e) with s = fl(a + b) and s + e = a + b exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@_jit
def _reduce_ln2(x, x_lo, K):
    """x + x_lo = n ln2 + r + c with n an integer-valued float, |r| <= ln2/2 and |c| <= ulp(r)/2
    (Cody-Waite: x - n ln2_hi is exact; the ln2_lo part and x_lo go into r + c)."""
    n = (x * K.log2e + K.shift) - K.shift
    r, c = _two_sum(x - n * K.ln2_hi, _mul(-n, K.ln2_lo) + x_lo)
    return n, r, c


@_jit
def _scale_sum(u, w, n, K):
    """(u + w) 2^n rounded once, for u in [1/2, 2], |w| < |u| / 8 and an integer-valued n up to
    twice the exponent range (2^n = 2^n1 2^n2).  Subnormal results are rounded once too: the
    sum, scaled by 2^(n - min_exp) below 1, is rounded onto the subnormal grid by adding 1."""
    n1 = (n * K.half + K.shift) - K.shift
    normal = (u + w) * _pow2(n1) * _pow2(n - n1)
    k = n - K.min_exp
    pu = u * _pow2(k)
    hi = K.one + pu
    sub = ((hi + (((K.one - hi) + pu) + w * _pow2(k))) - K.one) * K.min_normal
    return sub if (k <= K.zero) & (pu < K.one) else normal


# ---------------------------------------------------------------- exp, expm1, tanh

@_jit
def _exp_parts(x, x_lo, K):
    """e^(x + x_lo) = (u + v) 2^n with u in [1/2, 2] and |v| < |u| / 8, for a small x_lo."""
    x_lo = x_lo if abs(x) < K.exp_max else K.zero
    x = K.exp_max if x > K.exp_max else x           # the result is inf or 0 beyond; nan stays
    x = K.exp_min if x < K.exp_min else x
    n, r, c = _reduce_ln2(x, x_lo, K)
    # e^(r + c) = 1 + r + r^2 P(r) + c e^r, with 1 + r as an exact sum u + (1 - u) + r
    u = K.one + r
    v = ((K.one - u) + r) + (r * r * _horner(r, K.exp_p) + c * (K.one + r))
    return u, v, n


@_jit
def _exp(x, K):
    u, v, n = _exp_parts(x, K.zero, K)
    return _scale_sum(u, v, n, K)


@_jit
def _expm1_parts(x, K):
    """e^x - 1 = hi + lo with hi = fl(e^x - 1), for x in [expm1_min, expm1_max]."""
    n, r, c = _reduce_ln2(x, K.zero, K)
    # expm1(r + c) = r + r^2/2 + r^3 Q(r) + c e^r, as a double-double u + v (r^2/2 = hr + hr_lo)
    hr = _mul(K.half * r, r)
    hr_lo = _fma(K.half * r, r, -hr)
    u = r + hr
    v = ((r - u) + hr) + (hr_lo + (r * r * r * _horner(r, K.exp_q) + c * (K.one + r)))
    # e^x - 1 = (2^n - 1) + 2^n (u + v), with 2^n = s1 s2 so that nothing overflows before the end
    n1 = (n * K.half + K.shift) - K.shift
    s1 = _pow2(n1)
    s2 = _pow2(n - n1)
    a, a_lo = _two_sum(s1, -_pow2(n1 - n))           # s1 - 1/s2 = (2^n - 1) / s2
    t, e = _two_sum(a, s1 * u)
    hi, lo = _two_sum(t, (e + a_lo) + s1 * v)
    return hi * s2, lo * s2


@_jit
def _expm1(x, K):
    x = K.expm1_max if x > K.expm1_max else x       # e^x overflows beyond
    x = K.expm1_min if x < K.expm1_min else x       # e^x - 1 rounds to -1 below
    hi, lo = _expm1_parts(x, K)
    return x if x == K.zero else hi                 # x == 0: keep the sign of zero


@_jit
def _tanh(x, K):
    # tanh|x| = t / (t + 2) with t = expm1(2|x|) = t_hi + t_lo, divided with one correction step
    a = abs(x)
    a = K.tanh_max if a > K.tanh_max else a         # tanh rounds to 1 beyond; nan stays
    t_hi, t_lo = _expm1_parts(K.two * a, K)
    d_hi, d_lo = _two_sum(t_hi, K.two)
    d_lo = d_lo + t_lo
    y = t_hi / d_hi
    y = y + ((_fma(-y, d_hi, t_hi) + t_lo) - y * d_lo) / d_hi
    y = a if a == K.zero else y
    return np.copysign(y, x)


@_jit
def _sigmoid(x, K):
    # t = e^-|x| = t_hi + t_lo; 1/(1 + t) for x >= 0, t/(1 + t) for x < 0, divided with one
    # correction step.  Where t is subnormal, 1 + t rounds to 1 and sigmoid(x < 0) = t.
    u, v, n = _exp_parts(-abs(x), K.zero, K)
    u, v = _two_sum(u, v)
    tiny = n < K.min_exp
    s = K.zero if tiny else _pow2(n)
    t_hi = u * s
    t_lo = v * s
    d, d_lo = _two_sum(K.one, t_hi)
    d_lo = d_lo + t_lo
    neg = x < K.zero
    num = t_hi if neg else K.one
    num_lo = t_lo if neg else K.zero
    y = num / d
    y = y + ((_fma(-y, d, num) + num_lo) - y * d_lo) / d
    return _scale_sum(u, v, n, K) if neg & tiny else y


@_jit
def _softplus(x, K):
    # log(1 + t), t = e^x = (t_hi + t_lo) with 1 + t as an exact sum d + d_lo, for x <= softplus_max
    # (beyond, log(1 + e^x) rounds to x); for t below log1p_tiny, log1p(t) = t - t^2/2
    z = K.softplus_max if x > K.softplus_max else x
    u, v, n = _exp_parts(z, K.zero, K)
    u, v = _two_sum(u, v)
    tiny = n < K.min_exp
    s = K.zero if tiny else _pow2(n)
    t_hi = u * s
    t_lo = v * s
    d, d_lo = _two_sum(K.one, t_hi)
    y = _log_positive(d, (d_lo + t_lo) / d, K)
    y = t_hi + (t_lo - K.half * t_hi * t_hi) if t_hi < K.log1p_tiny else y
    y = _scale_sum(u, v, n, K) if tiny else y          # subnormal t
    return x if not (x < K.softplus_max) else y     # large x, +inf and nan


# ---------------------------------------------------------------- log, log1p

@_jit
def _log_positive(u, cu, K):
    """log(u (1 + cu)) for finite u > 0 and a small relative correction cu (fdlibm's scheme)."""
    tiny = u < K.min_normal
    u = u * K.subnormal_scale if tiny else u
    m, e = _split_mantissa(u)                           # u = m 2^e, sqrt(1/2) <= m < sqrt(2)
    e = e - K.subnormal_exp if tiny else e
    f = m - K.one
    # log(1 + f) = f - hfsq + s (hfsq + z P(z)), s = f / (2 + f), z = s^2, hfsq = f^2 / 2
    s = f / (K.two + f)
    z = s * s
    hfsq = K.half * f * f
    rest = s * (hfsq + z * _horner(z, K.log_p))
    return e * K.ln2_hi - ((hfsq - (rest + (e * K.ln2_lo + cu))) - f)


@_jit
def _log(x, K):
    y = _log_positive(x, K.zero, K)
    y = -K.inf if x == K.zero else y
    y = K.nan if x < K.zero else y
    return x if not (x < K.inf) else y                  # +inf and nan pass through


@_jit
def _log1p(x, K):
    # 1 + x = u + c exactly; log(1 + x) = log(u) + log(1 + c/u)
    u, c = _two_sum(K.one, x)
    y = _log_positive(u, c / u, K)
    y = x if x == K.zero else y                         # the sign of zero
    y = -K.inf if x == -K.one else y
    y = K.nan if x < -K.one else y
    return x if not (x < K.inf) else y


LOG_DD_P = (0.39999999999999997, 0.285714285714329, 0.22222222220359059, 0.18181818545343395,
            0.153845775171644, 0.13335580901548583, 0.11688650085822197, 0.11882544710476513)
TWO_THIRDS_HI = 0.6666666666666666                  # 2/3 = TWO_THIRDS_HI + TWO_THIRDS_LO
TWO_THIRDS_LO = 3.700743415417188e-17


@_jit
def _log_dd(x):
    """log(x) = hi + lo (relative error about 2^-68) for finite x > 0, float64: x = m 2^e,
    log m = 2s + (2/3) s^3 + s^5 P(z) with s = (m - 1) / (m + 1), z = s^2, in double-double."""
    tiny = x < F64.min_normal
    x = x * F64.subnormal_scale if tiny else x
    m, e = _split_mantissa(x)
    e = e - F64.subnormal_exp if tiny else e
    f = m - 1.0
    d, d_lo = _two_sum(m, 1.0)
    s = f / d
    s_lo = (_fma(-s, d, f) - s * d_lo) / d
    z = s * s
    z_lo = _fma(s, s, -z) + 2.0 * s * s_lo
    s3 = s * z                                          # s^3 = s3 + s3_lo
    s3_lo = _fma(s, z, -s3) + (s * z_lo + s_lo * z)
    t = TWO_THIRDS_HI * s3                              # (2/3) s^3 = t + t_lo
    t_lo = _fma(TWO_THIRDS_HI, s3, -t) + (TWO_THIRDS_HI * s3_lo + TWO_THIRDS_LO * s3)
    # e ln2_hi (exact) + 2s + t + (e ln2_lo + 2 s_lo + t_lo + s^5 P(z))
    hi, lo = _two_sum(e * F64.ln2_hi, 2.0 * s)
    hi, lo2 = _two_sum(hi, t)
    lo = (lo + lo2) + ((e * F64.ln2_lo + 2.0 * s_lo) + (t_lo + s3 * z * _horner(z, LOG_DD_P)))
    return _two_sum(hi, lo)


@_jit
def _power_special(x, y, m):
    """x**y from m = |x|**y (computed from log|x| = -inf, inf, nan for |x| = 0, inf, nan): the
    sign for odd integer y, and the IEEE special cases that differ from e^(y log|x|) (NumPy's)."""
    y_int = np.floor(y) == y                            # +-inf count as even integers
    half = 0.5 * y
    m = np.copysign(m, x) if y_int & (np.floor(half) != half) else m
    m = np.nan if (x < 0.0) & (x > -np.inf) & ~y_int else m
    one = (y == 0.0) | (x == 1.0) | ((x == -1.0) & (abs(y) == np.inf))
    return 1.0 if one else m


@_jit
def _power64(x, y):
    # |x|^y = e^(y log|x|), with y log|x| as a double-double w + w_lo
    a = abs(x)
    l, l_lo = _log_dd(a)
    l = -np.inf if a == 0.0 else l                      # log of 0, inf and nan
    l = a if not (a < np.inf) else l
    w = y * l
    w_lo = _fma(y, l, -w) + y * l_lo
    u, v, n = _exp_parts(w, w_lo, F64)
    return _power_special(x, y, _scale_sum(u, v, n, F64))


# float64 work for float32 results: shorter polynomials (errors about 2^-37)
F64_FOR32 = F64._replace(
    exp_p=(0.5000000000104897, 0.16666666753871787, 0.0416666659549857, 0.008333289142567814,
           0.0013888985088702855, 0.00019904845555462385, 2.4796383173712192e-05),
    log_p=(0.6666666667384318, 0.39999995861796395, 0.28572114016448125, 0.22175102876253497,
           0.1960889776138223))


@_jit
def _power32(x, y):
    # |x|^y = e^(y log|x|) in float64 (|y log|x|| beyond 200 over- or underflows float32 anyway)
    xd = np.float64(x)
    yd = np.float64(y)
    w = yd * _log(abs(xd), F64_FOR32)
    w = 200.0 if w > 200.0 else w
    w = -200.0 if w < -200.0 else w
    u, v, n = _exp_parts(w, 0.0, F64_FOR32)
    return f4(_power_special(xd, yd, (u + v) * _pow2(n)))


# ---------------------------------------------------------------- sin, cos

def _pi_tables():
    """Tables for the Payne-Hanek reduction: rows of T(E) = (2**(E - mant) * turns / pi) mod
    (2 turns), split into exact chunks.  Row E + 1 serves |x| in [2**E, 2**(E+1)), E >= -1.

    float64: quarter turns (2/pi, mod 4), E up to 1023, four 52-bit chunks.  float32 (worked in
    float64): half turns (1/pi, mod 2), E up to 127, chunks of 28, 28 and 52 bits.  1/pi comes
    from Machin's formula in integer arithmetic, to 1400 bits."""
    bits = 1400
    one = 1 << (bits + 16)

    def arctan_inv(k):                                  # arctan(1/k) * one
        total, term, n, sign = 0, one // k, 1, 1
        while term:
            total += sign * (term // n)
            term //= k * k
            n, sign = n + 2, -sign
        return total
    pi = 16 * arctan_inv(5) - 4 * arctan_inv(239)       # pi * 2**(bits + 16)
    inv_pi = (1 << (2 * bits + 16)) // pi               # (1/pi) * 2**bits

    def rows(emax, mant, turns, widths):
        top = turns.bit_length()                        # T < 2**top
        out = np.empty((emax + 2, len(widths)))
        for row, e in enumerate(range(-1, emax + 1)):
            shift = e - mant
            t = turns * inv_pi
            t = t << shift if shift >= 0 else t >> -shift
            t &= (1 << (bits + top)) - 1                # mod 2 turns
            done = 0                                    # bits taken by the previous chunks
            for i, w in enumerate(widths):
                done += w
                chunk = (t >> (bits + top - done)) & ((1 << w) - 1)
                out[row, i] = float(chunk) * 2.0 ** (top - done)
        return out
    return rows(1023, 52, 2, (52, 52, 52, 52)), rows(127, 23, 1, (28, 28, 52))


PI_TABLE, PI_TABLE32 = _pi_tables()


@_jit
def _reduce_pio2(x):
    """x = (q + f) pi/2 with q mod 4 and f in [-1/2, 1/2] as a double-double f_hi + f_lo.

    Payne-Hanek: x = X 2^(E-52) with X an integer, so x / (pi/2) = X T(E) mod 4 with the table
    row T(E) = T0 + T1 + T2 + T3.  The products X Ti are exact double-doubles (fma); integer
    parts are dropped as they appear.  With 52-bit chunks every sum before the last product is
    exact, so f keeps full relative precision even when x is very close to a multiple of pi/2."""
    row, e = _exponent_row(x, 1023)                   # E clamped to [-1, 1023] (inf, nan: nan)
    big = x * _pow2(52.0 - e)                           # X
    # X T0 = h + l (below 2^55), reduced mod 1; k0 may be huge: no shift trick, and only k0 mod 4
    # matters
    h = big * PI_TABLE[row, 0]
    l = _fma(big, PI_TABLE[row, 0], -h)
    k0 = np.floor(h + 0.5)
    s = (h - k0) + l                                    # exact: a multiple of 2^-50 below 8
    k0 = k0 - 4.0 * np.floor(k0 * 0.25)
    k1 = (s + SHIFT) - SHIFT
    s = s - k1
    # + X T1 (below 8): s + lo stays exact
    h = big * PI_TABLE[row, 1]
    l = _fma(big, PI_TABLE[row, 1], -h)
    s, err = _two_sum(s, h)
    k2 = (s + SHIFT) - SHIFT
    s = s - k2
    s, lo = _two_sum(s, l + err)
    # + X T2 (below 2^-49) + X T3 (below 2^-101)
    h = big * PI_TABLE[row, 2]
    l = _fma(big, PI_TABLE[row, 2], -h)
    s, err = _two_sum(s, h)
    lo = lo + (err + (l + big * PI_TABLE[row, 3]))
    k3 = (s + SHIFT) - SHIFT
    f_hi, f_lo = _two_sum(s - k3, lo)
    q = (k0 + k1) + (k2 + k3)
    return q - 4.0 * np.floor(q * 0.25), f_hi, f_lo


@_jit
def _sin_quadrant(x, quadrant_shift):
    """sin(x + quadrant_shift pi/2) for a float64 x: quadrant q, r = f pi/2 (double-double),
    then sin(r) = r + r z S(z) or cos(r) = 1 - z/2 + z^2 C(z), z = r^2, with the sign of q."""
    q, f_hi, f_lo = _reduce_pio2(x)
    r_hi = PIO2_HI * f_hi
    r_lo = _fma(PIO2_HI, f_hi, -r_hi) + (PIO2_LO * f_hi + PIO2_HI * f_lo)
    small = abs(x) < 0.5                                # (below pi/4) exactly r = x, q = 0
    r_hi = x if small else r_hi
    r_lo = 0.0 if small else r_lo
    q = 0.0 if small else q
    z = r_hi * r_hi
    # sin(r_hi + r_lo) ~ sin(r_hi) + r_lo cos(r_hi), cos(r_hi + r_lo) ~ cos(r_hi) - r_lo r_hi
    sin_r = r_hi + (r_hi * z * _horner(z, SIN_P) + r_lo * (1.0 - 0.5 * z))
    hz = 0.5 * z
    w = 1.0 - hz                                        # 1 - z/2 = w + ((1 - w) - hz) exactly
    z_lo = _fma(r_hi, r_hi, -z)
    cos_r = w + (((1.0 - w) - hz) + (z * z * _horner(z, COS_P) - (0.5 * z_lo + r_hi * r_lo)))
    q = q + quadrant_shift
    odd = (q == 1.0) | (q == 3.0) | (q == 5.0)
    y = cos_r if odd else sin_r
    return -y if (q >= 2.0) & (q < 4.0) else y


@_jit
def _sin64(x):
    y = _sin_quadrant(x, 0.0)
    return x if x == 0.0 else y                         # the sign of zero


@_jit
def _cos64(x):
    return _sin_quadrant(x, 1.0)


@_jit
def _reduce_pi32(x, half):
    """x / pi + half = q + f with q mod 2 and f in [-1/2, 1/2], for a float32 x held in a float64.
    As _reduce_pio2, with a 24-bit X and chunks of 28, 28 and 52 bits: X T0 and X T1 are exact."""
    row, e = _exponent_row(x, 127)
    big = x * _pow2(23.0 - e)
    p = big * PI_TABLE32[row, 0] + half                 # exact, below 2^25
    k0 = (p + SHIFT) - SHIFT
    s, err = _two_sum(p - k0, big * PI_TABLE32[row, 1])
    k1 = (s + SHIFT) - SHIFT
    f = (s - k1) + (err + big * PI_TABLE32[row, 2])
    q = k0 + k1
    return q - 2.0 * np.floor(q * 0.5), f


@_jit
def _sin_pi32(x, half):
    """sin(x + half pi) rounded to float32, for a float32 x: (-1)^q sin(pi f), in float64."""
    xd = np.float64(x)
    q, f = _reduce_pi32(xd, half)
    r = PI * f
    small = (abs(xd) < 0.5) & (half == 0.0)             # sin, below pi/4: exactly r = x, q = 0
    r = xd if small else r
    q = 0.0 if small else q
    z = r * r
    y = r + r * z * _horner(z, SIN_P_FOR32)
    return f4(-y if q == 1.0 else y)


@_jit
def _sin32(x):
    y = _sin_pi32(x, 0.0)
    return x if x == f4(0.0) else y


@_jit
def _cos32(x):
    return _sin_pi32(x, 0.5)


# ---------------------------------------------------------------- public functions

def _ufunc_call(fn, *args):
    """Evaluate a vecmath function elementwise on NumPy arrays (Python convenience, not codegen)."""
    arrays = np.broadcast_arrays(*(np.asarray(a) for a in args))
    dtype = np.result_type(*arrays)
    dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
    flat = [np.ascontiguousarray(a, dtype=dtype).ravel() for a in arrays]
    out = np.empty_like(flat[0])
    _array_loop(fn, len(args))(out, *flat)
    out = out.reshape(arrays[0].shape)
    return out[()] if out.ndim == 0 else out


_LOOPS = {}


def _array_loop(fn, arity):
    if fn not in _LOOPS:
        if arity == 1:
            def loop(out, x):
                for i in range(out.size):
                    out[i] = fn(x[i])
        else:
            def loop(out, x, y):
                for i in range(out.size):
                    out[i] = fn(x[i], y[i])
        _LOOPS[fn] = numba.njit(nogil=True)(loop)
    return _LOOPS[fn]


def _public2(name, doc, f64, f32):
    """As _public, for functions of two arguments of one dtype."""
    def fn(x, y):
        return _ufunc_call(fn, x, y)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc

    @overload(fn, jit_options=JIT_OPTIONS)
    def _choose(x, y):
        if x == y == types.float64:
            return lambda x, y: f64(x, y)
        if x == y == types.float32:
            return lambda x, y: f32(x, y)
        return None
    return fn


def _public(name, doc, f64, f32):
    """A function of x calling the float64 or float32 kernel in Numba code, NumPy-like in Python."""
    def fn(x):
        return _ufunc_call(fn, x)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc

    @overload(fn, jit_options=JIT_OPTIONS)
    def _choose(x):
        if x == types.float64:
            return lambda x: f64(x)
        if x == types.float32:
            return lambda x: f32(x)
        return None
    return fn


def _for(impl, K):
    return _jit(lambda x: impl(x, K))


exp = _public("exp", "e**x (at most 1 ulp from the exact result).", _for(_exp, F64), _for(_exp, F32))
expm1 = _public("expm1", "e**x - 1 (at most 1 ulp).", _for(_expm1, F64), _for(_expm1, F32))
log = _public("log", "Natural logarithm (at most 1 ulp).", _for(_log, F64), _for(_log, F32))
log1p = _public("log1p", "log(1 + x) (at most 1 ulp).", _for(_log1p, F64), _for(_log1p, F32))
tanh = _public("tanh", "Hyperbolic tangent (at most 2 ulp).", _for(_tanh, F64), _for(_tanh, F32))
sin = _public("sin", "Sine, correct for every finite argument (at most 2 ulp).", _sin64, _sin32)
cos = _public("cos", "Cosine, correct for every finite argument (at most 2 ulp).", _cos64, _cos32)
power = _public2("power", "x**y for float exponents, IEEE/NumPy special cases (at most 1 ulp).",
                 _power64, _power32)
sigmoid = _public("sigmoid", "1 / (1 + e**-x) (at most 1 ulp).", _for(_sigmoid, F64), _for(_sigmoid, F32))
softplus = _public("softplus", "log(1 + e**x) = np.logaddexp(0, x) (at most 1 ulp).",
                   _for(_softplus, F64), _for(_softplus, F32))
