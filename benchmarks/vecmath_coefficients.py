"""Dev tool: the minimax polynomial coefficients of `compiler/lowering/vecmath.py`.

    python -m benchmarks.vecmath_coefficients

Each kernel evaluates a fixed leading part exactly and a polynomial P(t) for the rest; this tool
fits P with the Remez exchange algorithm in mpmath (minimising the weighted error that the kernel's
result sees), rounds the coefficients to the kernel's working precision and prints them with the
weighted error, before and after rounding, in units of that precision's epsilon.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 60
SMALL = mp.mpf("1e-25")          # below this |t|, the removable singularities use their series


def _exp_rest(r):               # e^r = 1 + r + r^2 P(r)
    return mp.mpf(1) / 2 + r / 6 if abs(r) < SMALL else (mp.expm1(r) - r) / r ** 2


def _exp_weight(r):             # error of r^2 P relative to expm1(r) (stricter than relative to e^r)
    return abs(r) + SMALL if abs(r) < SMALL else r ** 2 / abs(mp.expm1(r))


def _log_rest(z):               # log1p(f) = 2 atanh(s) = 2s + s z P(z), s = f / (2 + f), z = s^2
    if z < SMALL:
        return mp.mpf(2) / 3 + 2 * z / 5
    s = mp.sqrt(z)
    return (2 * mp.atanh(s) - 2 * s) / (s * z)


def _log_weight(z):             # error of s z P relative to log1p(f) ~ 2s
    return z / 2 + SMALL


def _log_dd_rest(z):            # for power: log1p(f) = 2s + (2/3) s^3 + s^5 P(z), z = s^2
    if z < SMALL:
        return mp.mpf(2) / 5 + 2 * z / 7
    s = mp.sqrt(z)
    return (2 * mp.atanh(s) - 2 * s - 2 * s ** 3 / 3) / s ** 5


def _log_dd_weight(z):          # error of s^5 P relative to log1p(f) ~ 2s
    return z ** 2 / 2 + SMALL


def _sin_rest(z):               # sin(r) = r + r z P(z), z = r^2
    if z < SMALL:
        return -mp.mpf(1) / 6 + z / 120
    r = mp.sqrt(z)
    return (mp.sin(r) - r) / (r * z)


def _sin_weight(z):             # error of r z P relative to sin(r)
    if z < SMALL:
        return z + SMALL
    r = mp.sqrt(z)
    return r * z / mp.sin(r)


def _poly(c, t):
    acc = mp.mpf(0)
    for ck in reversed(c):
        acc = acc * t + ck
    return acc


def _cos_rest(z):               # cos(r) = 1 - z/2 + z^2 P(z), z = r^2
    if z < SMALL:
        return mp.mpf(1) / 24 - z / 720
    return (mp.cos(mp.sqrt(z)) - 1 + z / 2) / z ** 2


def _cos_weight(z):             # error of z^2 P relative to cos(r)
    return z ** 2 / mp.cos(mp.sqrt(z)) + SMALL


def _extrema(err, a, b, points=3000):
    """Local extrema of err on a Chebyshev-spaced grid, endpoints included, as (t, err(t))."""
    ts = sorted(a + (b - a) * (1 - mp.cos(mp.pi * k / (points - 1))) / 2 for k in range(points))
    es = [err(t) for t in ts]
    out = []
    for k in range(points):
        left = es[k - 1] if k > 0 else None
        right = es[k + 1] if k < points - 1 else None
        if all(n is None or abs(es[k]) >= abs(n) for n in (left, right)):
            out.append((ts[k], es[k]))
    return out


def remez(g, weight, a, b, degree, iterations=40):
    """Coefficients c0..c_degree minimising max |weight(t) (g(t) - sum c_k t^k)| on [a, b]."""
    n = degree + 2
    ref = [a + (b - a) * (1 - mp.cos(mp.pi * k / (n - 1))) / 2 for k in range(n)]
    for _ in range(iterations):
        rows = [[t ** k for k in range(degree + 1)] + [(-1) ** i / weight(t)] for i, t in enumerate(ref)]
        sol = mp.lu_solve(mp.matrix(rows), mp.matrix([g(t) for t in ref]))
        c, level = [sol[k] for k in range(degree + 1)], abs(sol[degree + 1])

        def err(t):
            return weight(t) * (g(t) - _poly(c, t))
        ext = _extrema(err, a, b)
        merged = []                   # alternating signs: keep the largest of each same-sign run
        for t, e in ext:
            if merged and mp.sign(e) == mp.sign(merged[-1][1]):
                if abs(e) > abs(merged[-1][1]):
                    merged[-1] = (t, e)
            else:
                merged.append((t, e))
        while len(merged) > n:        # drop the smaller end
            merged.pop(0 if abs(merged[0][1]) < abs(merged[-1][1]) else -1)
        if len(merged) < n:
            break
        ref = [t for t, _ in merged]
        worst = max(abs(e) for _, e in merged)
        if worst <= level * (1 + mp.mpf("1e-6")):
            break
    worst = max(abs(e) for _, e in _extrema(err, a, b))
    return c, worst


def _max_error(g, weight, a, b, c):
    return max(abs(e) for _, e in _extrema(lambda t: weight(t) * (g(t) - _poly(c, t)), a, b))


# name, rest function, weight, interval, {dtype: degree}
LN2_HALF = mp.log(2) / 2
S_MAX = (mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)        # |s| for mantissas in [sqrt(1/2), sqrt(2))
FITS = [
    ("exp/expm1: e^r = 1 + r + r^2 P(r), |r| <= ln2/2", _exp_rest, _exp_weight,
     -LN2_HALF, LN2_HALF, {np.float64: 10, np.float32: 5}),
    ("log/log1p: log1p(f) = 2s + s z P(z), z = s^2 <= 0.1716^2", _log_rest, _log_weight,
     mp.mpf(0), S_MAX ** 2, {np.float64: 6, np.float32: 2}),
    ("log for power (double-double): log1p(f) = 2s + (2/3) s^3 + s^5 P(z), z = s^2 <= 0.1716^2",
     _log_dd_rest, _log_dd_weight, mp.mpf(0), S_MAX ** 2, {np.float64: 7}),
    ("sin: sin(r) = r + r z P(z), z = r^2 <= (pi/4)^2", _sin_rest, _sin_weight,
     mp.mpf(0), (mp.pi / 4) ** 2, {np.float64: 5}),
    ("cos: cos(r) = 1 - z/2 + z^2 P(z), z = r^2 <= (pi/4)^2", _cos_rest, _cos_weight,
     mp.mpf(0), (mp.pi / 4) ** 2, {np.float64: 5}),
    ("exp for float32 power (worked in float64): e^r = 1 + r + r^2 P(r), |r| <= ln2/2", _exp_rest,
     _exp_weight, -LN2_HALF, LN2_HALF, {"float32 (in float64)": 6}),
    ("log for float32 power (worked in float64): log1p(f) = 2s + s z P(z), z = s^2 <= 0.1716^2",
     _log_rest, _log_weight, mp.mpf(0), S_MAX ** 2, {"float32 (in float64)": 4}),
    ("sin for float32 (worked in float64): sin(r) = r + r z P(z), z = r^2 <= (pi/2)^2", _sin_rest,
     _sin_weight, mp.mpf(0), (mp.pi / 2) ** 2, {"float32 (in float64)": 4}),
]


def main():
    for title, g, weight, a, b, degrees in FITS:
        print(f"# {title}")
        for dtype, degree in degrees.items():
            rounding = np.float64 if isinstance(dtype, str) else dtype
            eps = mp.mpf(float(np.finfo(rounding).eps)) if not isinstance(dtype, str) else mp.mpf(2) ** -23
            c, worst = remez(g, weight, a, b, degree)
            rounded = [mp.mpf(float(rounding(float(ck)))) for ck in c]
            after = _max_error(g, weight, a, b, rounded)
            name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
            print(f"{name}, degree {degree}: max weighted error {mp.nstr(worst / eps, 3)} eps "
                  f"(rounded coefficients: {mp.nstr(after / eps, 3)} eps)")
            print("    " + ", ".join(repr(rounding(float(ck)).item()) for ck in c))
        print()


if __name__ == "__main__":
    main()
