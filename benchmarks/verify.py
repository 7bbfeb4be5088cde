"""Gradient checks: central finite differences and comparison with a reference.

The reference gradient of a workload is the first of the hand-written Numba,
JAX, PyTorch and autograd gradients that passes a directional
finite-difference check; when none does (or none is available) the finite
differences themselves are the reference.
"""

import numpy as np

GRAD_RTOL = 1e-6  # max |g - ref| / max |ref|, per gradient array
FD_RTOL = 1e-5  # directional derivative vs central difference
FD_DIRECTIONS = 3
REFERENCE_ORDER = ("numba-hand", "jax", "torch", "autograd")


def _leaves(args, argnums):
    """Differentiated inputs flattened like ``contenders.flatten``."""
    out = []
    for i in argnums:
        a = args[i]
        if isinstance(a, dict):
            out.extend(np.asarray(a[k], dtype=np.float64) for k in sorted(a))
        else:
            out.append(np.asarray(a, dtype=np.float64))
    return out


def _shifted(args, argnums, h, directions):
    """``args`` with the differentiated leaves moved by ``h * direction``."""
    new = list(args)
    it = iter(directions)
    for i in argnums:
        a = args[i]
        if isinstance(a, dict):
            new[i] = {k: a[k] + h * next(it) for k in sorted(a)}
        elif isinstance(a, np.ndarray):
            new[i] = a + h * next(it)
        else:
            new[i] = float(a + h * float(next(it)))
    return new


class FiniteDifferences:
    """Central differences of ``fun`` along a few seeded random directions."""

    def __init__(self, fun, args, argnums, n_dirs=FD_DIRECTIONS, seed=1234):
        rng = np.random.default_rng(seed)
        leaves = _leaves(args, argnums)
        scale = max([1.0] + [float(np.max(np.abs(x))) for x in leaves if x.size])
        h = np.finfo(np.float64).eps ** (1.0 / 3.0) * scale
        self.samples = []  # (directions, derivative estimate, noise level)
        for _ in range(n_dirs):
            dirs = [np.asarray(rng.standard_normal(x.shape)) for x in leaves]
            top = max(float(np.max(np.abs(d))) for d in dirs if d.size)
            dirs = [d / top for d in dirs]
            fp = float(fun(*_shifted(args, argnums, h, dirs)))
            fm = float(fun(*_shifted(args, argnums, -h, dirs)))
            noise = 1e3 * np.finfo(np.float64).eps * (abs(fp) + abs(fm)) / (2.0 * h)
            self.samples.append((dirs, (fp - fm) / (2.0 * h), noise))

    def error(self, grads):
        """Largest relative disagreement of ``grads`` with the differences."""
        worst = 0.0
        for dirs, fd, noise in self.samples:
            if len(grads) != len(dirs) or any(g.size != d.size for g, d in zip(grads, dirs)):
                return np.inf
            grads = [g.reshape(d.shape) for g, d in zip(grads, dirs)]
            gv = sum(float(np.sum(g * d)) for g, d in zip(grads, dirs))
            denom = max(abs(fd), abs(gv)) + noise / FD_RTOL + 1e-300
            worst = max(worst, abs(fd - gv) / denom)
        return worst


def compare(grads, ref):
    """Max relative error of a flattened gradient against the reference.

    Returns ``(error, message)``; error is ``inf`` when the structures differ.
    """
    if len(grads) != len(ref):
        return np.inf, f"structure: {len(grads)} gradient arrays, expected {len(ref)}"
    top = max([0.0] + [float(np.max(np.abs(r))) for r in ref if r.size])
    worst = 0.0
    for g, r in zip(grads, ref):
        if g.shape != r.shape:
            if g.size != r.size:
                return np.inf, f"structure: shape {g.shape}, expected {r.shape}"
            g = g.reshape(r.shape)
        if not np.all(np.isfinite(g)):
            return np.inf, "non-finite gradient"
        scale = max(float(np.max(np.abs(r))) if r.size else 0.0, 1e-12 * top, 1e-300)
        if g.size:
            worst = max(worst, float(np.max(np.abs(g - r))) / scale)
    return worst, ""


def choose_reference(fd, gradients):
    """Pick the reference among ``{contender_key: flat gradients}``.

    Returns ``(key or None, flat gradients or None, fd error of the reference)``;
    ``None`` means "use the finite differences".
    """
    for key in REFERENCE_ORDER:
        g = gradients.get(key)
        if g is None:
            continue
        err = fd.error(g)
        if err <= FD_RTOL:
            return key, g, err
    return None, None, None


def check(grads, fd, ref):
    """(ok, error, message) for one contender's flattened gradient."""
    if ref is None:
        err = fd.error(grads)
        return err <= FD_RTOL, err, ""
    err, msg = compare(grads, ref)
    return err <= GRAD_RTOL, err, msg
