"""Benchmark workloads: plain-NumPy functions, seeded input makers and sizes.

Every workload function is written once, in the NumPy subset that
``compiler.grad`` traces and that ``runtime`` executes eagerly: ``np.``
functions, operators, ``.sum()``, slicing, ``@`` and broadcasting; no
in-place updates and no Python branching on array values.  The other
contenders (JAX, HIPS autograd, PyTorch) run the *same* source with the global
name ``np`` rebound to their NumPy-like namespace (see ``contenders.rebind``).

Constants that a function needs (identity masks, step counts) are closed over
by a small factory, so each size gets its own function object.
"""

from dataclasses import dataclass, field
from typing import Callable, Tuple, Union

import numpy as np

SEED = 0


@dataclass
class Workload:
    name: str  # unique, used by --only
    family: str  # groups sizes (e.g. all Rosenbrock sizes); keys hand-written kernels
    size: int  # problem size, used on the x axis of the scaling plot
    description: str
    fun: Callable  # the plain-NumPy function
    make_inputs: Callable[[int], tuple]  # seed -> positional arguments of fun
    argnums: Union[int, Tuple[int, ...]] = 0
    params: dict = field(default_factory=dict)  # sizes, for the report
    skip: dict = field(default_factory=dict)  # contender key -> why it does not run this size

    def inputs(self, seed=SEED):
        return self.make_inputs(seed)


# --------------------------------------------------------------------------
# Rosenbrock


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _rosenbrock_inputs(n):
    def make(seed):
        rng = np.random.default_rng(seed)
        return (rng.uniform(-1.5, 1.5, size=n),)

    return make


# --------------------------------------------------------------------------
# Elementwise chain


def elementwise_chain(x):
    return np.sum(np.tanh(np.sin(x) * np.exp(-x * x)) + np.log1p(x * x))


def _elementwise_inputs(n):
    def make(seed):
        rng = np.random.default_rng(seed)
        return (rng.uniform(-3.0, 3.0, size=n),)

    return make


# --------------------------------------------------------------------------
# L2-regularised logistic regression (labels in {-1, +1})

LOGREG_LAMBDA = 1e-3


def logistic_regression(w, X, y):
    z = y * (X @ w)
    # softplus(-z) = log(1 + exp(-z)), written in a numerically stable form
    loss = np.log1p(np.exp(-np.abs(z))) + np.maximum(-z, 0.0)
    return np.mean(loss) + LOGREG_LAMBDA * np.sum(w * w)


def _logreg_inputs(m, d):
    def make(seed):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((m, d)) / np.sqrt(d)
        w_true = rng.standard_normal(d)
        y = np.where(X @ w_true + 0.3 * rng.standard_normal(m) > 0.0, 1.0, -1.0)
        w = 0.5 * rng.standard_normal(d)
        return (w, X, y)

    return make


# --------------------------------------------------------------------------
# Two-layer tanh MLP with a linear output, mean squared error


def mlp_loss(params, x, y):
    h1 = np.tanh(x @ params["W1"] + params["b1"])
    h2 = np.tanh(h1 @ params["W2"] + params["b2"])
    out = h2 @ params["W3"] + params["b3"]
    return np.mean((out - y) ** 2)


def _mlp_inputs(batch, d_in, hidden):
    def make(seed):
        rng = np.random.default_rng(seed)
        params = {
            "W1": rng.standard_normal((d_in, hidden)) / np.sqrt(d_in),
            "b1": 0.1 * rng.standard_normal(hidden),
            "W2": rng.standard_normal((hidden, hidden)) / np.sqrt(hidden),
            "b2": 0.1 * rng.standard_normal(hidden),
            "W3": rng.standard_normal((hidden, 1)) / np.sqrt(hidden),
            "b3": 0.1 * rng.standard_normal(1),
        }
        x = rng.standard_normal((batch, d_in))
        y = rng.standard_normal((batch, 1))
        return (params, x, y)

    return make


# --------------------------------------------------------------------------
# Lennard-Jones total energy, all pairs, by broadcasting


def make_lennard_jones(n_particles):
    """Energy function for N particles; the diagonal is handled by constants."""
    eye = np.eye(n_particles)  # added to r^2 so the diagonal is 1, not 0
    mask = 1.0 - np.eye(n_particles)  # zeroes the (i, i) "pair" energies

    def lennard_jones(pos):
        d = pos[:, None, :] - pos[None, :, :]
        r2 = np.sum(d * d, axis=-1) + eye
        inv6 = 1.0 / (r2 * r2 * r2)
        return 0.5 * np.sum(4.0 * (inv6 * inv6 - inv6) * mask)

    return lennard_jones


LJ_SPACING = 1.2  # the potential minimum is at 2**(1/6) ~ 1.12
LJ_JITTER = 0.05


def _lj_inputs(n):
    def make(seed):
        rng = np.random.default_rng(seed)
        k = int(np.ceil(n ** (1.0 / 3.0) - 1e-9))
        grid = np.stack(np.meshgrid(np.arange(k), np.arange(k), np.arange(k), indexing="ij"), axis=-1)
        lattice = LJ_SPACING * grid.reshape(-1, 3)[:n].astype(np.float64)
        return (lattice + rng.uniform(-LJ_JITTER, LJ_JITTER, size=(n, 3)),)

    return make


# --------------------------------------------------------------------------
# Tiny function of three scalars (per-call latency)


def tiny_scalar(x, y, z):
    return np.sin(x) * y + np.exp(z * x) / (1.0 + y * y) - np.tanh(x * y * z)


def _tiny_inputs(seed):
    rng = np.random.default_rng(seed)
    x, y, z = rng.uniform(-1.0, 1.0, size=3)
    return (float(x), float(y), float(z))


# --------------------------------------------------------------------------
# Explicit Euler integration of Lotka-Volterra, loss on the final state

ODE_DT = 0.01
ODE_TARGET = (2.0, 3.0)


def make_lotka_volterra(steps):
    """Loss of the state after ``steps`` Euler steps, a function of scalars.

    The parameters are four scalar arguments (differentiated) rather than
    one (4,) array: with ``a = theta[0]`` etc. JAX's XLA CPU backend fuses the
    whole scalar backward pass into one fusion and recomputes it per output
    element, which blows up exponentially with the step count (10 ms per call
    at T=20, no compile within 10 minutes at T=40).
    """

    def lotka_volterra(a, b, c, d, x, y):
        for _ in range(steps):
            dx = a * x - b * x * y
            dy = d * x * y - c * y
            x = x + ODE_DT * dx
            y = y + ODE_DT * dy
        return (x - ODE_TARGET[0]) ** 2 + (y - ODE_TARGET[1]) ** 2

    return lotka_volterra


def _ode_inputs(seed):
    rng = np.random.default_rng(seed)
    a, b, c, d = np.array([1.1, 0.4, 0.4, 0.1]) * (1.0 + 0.05 * rng.standard_normal(4))
    return (float(a), float(b), float(c), float(d), 10.0, 5.0)


# --------------------------------------------------------------------------
# RK4 integration of Lotka-Volterra written with scan, loss against observations

RK4_DT = 0.001
RK4_STATE = (10.0, 5.0)


def python_scan(stack):
    """`scan(f, init, xs)` as a Python loop, stacking the ys with `stack`: the loop of the
    contenders without one that the source can use (PyTorch, autograd; JAX uses lax.scan)."""
    def scan(f, init, xs):
        carry, ys = init, []
        for x in xs:
            carry, y = f(carry, x)
            ys.append(y)
        return carry, stack(ys)
    return scan


def rk4_loss(theta, obs):
    """Squared misfit of the prey trajectory against `obs`, one RK4 step per observation."""
    a, b, c, d = theta[0], theta[1], theta[2], theta[3]

    def f(x, y):
        return a * x - b * x * y, d * x * y - c * y

    def step(state, target):
        x, y = state
        k1 = f(x, y)
        k2 = f(x + RK4_DT / 2 * k1[0], y + RK4_DT / 2 * k1[1])
        k3 = f(x + RK4_DT / 2 * k2[0], y + RK4_DT / 2 * k2[1])
        k4 = f(x + RK4_DT * k3[0], y + RK4_DT * k3[1])
        x = x + RK4_DT / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        y = y + RK4_DT / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        return (x, y), (x - target) ** 2

    _, err = scan(step, RK4_STATE, obs)
    return np.sum(err)


def _rk4_inputs(steps):
    def make(seed):
        rng = np.random.default_rng(seed)
        theta = np.array([1.1, 0.4, 0.4, 0.1]) * (1.0 + 0.05 * rng.standard_normal(4))
        obs = 10.0 + np.sin(np.linspace(0.0, 20.0, steps)) + 0.1 * rng.standard_normal(steps)
        return (theta, obs)
    return make


PYTHON_LOOP_CONTENDERS = ("gradjit-eager", "numpy-forward", "torch", "autograd")


def scan(f, init, xs):          # gradjit's scan; contenders.rebind swaps in the contender's own loop
    from compiler import scan as gradjit_scan
    return gradjit_scan(f, init, xs)


# --------------------------------------------------------------------------
# Registry

DEFAULT_SIZES = {
    "rosenbrock": [10, 1_000, 100_000, 1_000_000],
    "elementwise": [1_000_000],
    "logreg": [(10_000, 100)],
    "mlp": [(256, 64, 256)],
    "lennard-jones": [256, 1_024],
    "ode": [100],
    "ode-rk4": [1_000, 10_000, 100_000],
}

QUICK_SIZES = {
    "rosenbrock": [10, 1_000],
    "elementwise": [1_000],
    "logreg": [(200, 10)],
    "mlp": [(16, 8, 16)],
    "lennard-jones": [16],
    "ode": [20],
    "ode-rk4": [100],
}


def make_workloads(quick=False):
    """All workloads, in run order; ``quick`` uses small smoke-test sizes."""
    sizes = QUICK_SIZES if quick else DEFAULT_SIZES
    out = []
    for n in sizes["rosenbrock"]:
        out.append(Workload(f"rosenbrock-n{n}", "rosenbrock", n, f"Rosenbrock, n={n:,}",
                            rosenbrock, _rosenbrock_inputs(n), 0, {"n": n}))
    for n in sizes["elementwise"]:
        out.append(Workload(f"elementwise-n{n}", "elementwise", n,
                            f"tanh/sin/exp/log1p elementwise chain, n={n:,}",
                            elementwise_chain, _elementwise_inputs(n), 0, {"n": n}))
    for m, d in sizes["logreg"]:
        out.append(Workload(f"logreg-{m}x{d}", "logreg", m * d,
                            f"L2 logistic regression, X {m:,}x{d}, grad wrt w",
                            logistic_regression, _logreg_inputs(m, d), 0, {"m": m, "d": d}))
    for batch, d_in, hidden in sizes["mlp"]:
        out.append(Workload(f"mlp-b{batch}", "mlp", batch,
                            f"tanh MLP {d_in}->{hidden}->{hidden}->1, batch {batch}, MSE, grad wrt 6 params",
                            mlp_loss, _mlp_inputs(batch, d_in, hidden), 0,
                            {"batch": batch, "d_in": d_in, "hidden": hidden}))
    for n in sizes["lennard-jones"]:
        out.append(Workload(f"lennard-jones-N{n}", "lennard-jones", n,
                            f"Lennard-Jones energy, N={n:,} particles, all pairs",
                            make_lennard_jones(n), _lj_inputs(n), 0, {"N": n}))
    out.append(Workload("tiny-3scalar", "tiny", 3, "10-op function of 3 scalars, grad wrt all 3",
                        tiny_scalar, _tiny_inputs, (0, 1, 2), {}))
    for steps in sizes["ode"]:
        out.append(Workload(f"ode-lotka-volterra-T{steps}", "ode", steps,
                            f"Lotka-Volterra, {steps} explicit Euler steps, grad wrt 4 params",
                            make_lotka_volterra(steps), _ode_inputs, (0, 1, 2, 3), {"T": steps}))
    for steps in sizes["ode-rk4"]:
        python_loop = f"a Python loop of {steps:,} steps: timed at the smallest T only (it scales linearly)"
        skip = {} if steps == min(sizes["ode-rk4"]) else dict.fromkeys(PYTHON_LOOP_CONTENDERS, python_loop)
        out.append(Workload(f"ode-rk4-scan-T{steps}", "ode-rk4", steps,
                            f"Lotka-Volterra, {steps:,} RK4 steps written with scan, grad wrt 4 params",
                            rk4_loss, _rk4_inputs(steps), 0, {"T": steps}, skip))
    return out


def select(workloads, only):
    """Workloads whose name contains any comma-separated token of ``only``."""
    if not only:
        return list(workloads)
    tokens = [t.strip().lower() for t in only.split(",") if t.strip()]
    return [w for w in workloads if any(t in w.name.lower() for t in tokens)]
