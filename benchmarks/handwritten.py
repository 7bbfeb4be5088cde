"""Hand-written Numba gradients: the floor for this stack.

Each kernel computes the gradient of the matching function in
``workloads.py`` analytically, with fused loops where that helps.  They are
compiled lazily (Numba is imported on first use) and return the gradient in the
same structure as ``compiler.grad`` would (array, tuple or dict).
"""

import math

import numpy as np

from . import workloads as W

JIT_OPTIONS = dict(fastmath=True, error_model="numpy")

_kernels = None


def _build_kernels():
    import numba

    jit = numba.njit(**JIT_OPTIONS)

    @jit
    def rosenbrock_grad(x):
        n = x.shape[0]
        g = np.zeros(n)
        if n < 2:
            return g
        g[0] = -400.0 * x[0] * (x[1] - x[0] * x[0]) - 2.0 * (1.0 - x[0])
        for i in range(1, n - 1):
            xi = x[i]
            g[i] = (200.0 * (xi - x[i - 1] * x[i - 1])
                    - 400.0 * xi * (x[i + 1] - xi * xi) - 2.0 * (1.0 - xi))
        g[n - 1] = 200.0 * (x[n - 1] - x[n - 2] * x[n - 2])
        return g

    @jit
    def elementwise_grad(x):
        g = np.empty_like(x)
        for i in range(x.shape[0]):
            xi = x[i]
            e = math.exp(-xi * xi)
            s = math.sin(xi)
            t = math.tanh(s * e)
            du = (math.cos(xi) - 2.0 * xi * s) * e
            g[i] = (1.0 - t * t) * du + 2.0 * xi / (1.0 + xi * xi)
        return g

    @jit
    def logreg_grad(w, X, y, lam):
        m, d = X.shape
        g = np.zeros(d)
        inv_m = 1.0 / m
        for i in range(m):
            z = 0.0
            for j in range(d):
                z += X[i, j] * w[j]
            z *= y[i]
            # d/dz softplus(-z) = -sigmoid(-z) = -1 / (1 + exp(z)), stably
            if z >= 0.0:
                e = math.exp(-z)
                sig = e / (1.0 + e)
            else:
                sig = 1.0 / (1.0 + math.exp(z))
            s = -y[i] * sig * inv_m
            for j in range(d):
                g[j] += s * X[i, j]
        for j in range(d):
            g[j] += 2.0 * lam * w[j]
        return g

    @jit
    def mlp_grad(W1, b1, W2, b2, W3, b3, x, y):
        h1 = np.tanh(x @ W1 + b1)
        h2 = np.tanh(h1 @ W2 + b2)
        out = h2 @ W3 + b3
        dout = 2.0 * (out - y) / out.size
        dW3 = h2.T @ dout
        db3 = dout.sum(axis=0)
        da2 = (dout @ W3.T) * (1.0 - h2 * h2)
        dW2 = h1.T @ da2
        db2 = da2.sum(axis=0)
        da1 = (da2 @ W2.T) * (1.0 - h1 * h1)
        dW1 = x.T @ da1
        db1 = da1.sum(axis=0)
        return dW1, db1, dW2, db2, dW3, db3

    @jit
    def lennard_jones_grad(pos):
        n = pos.shape[0]
        g = np.zeros((n, 3))
        for i in range(n):
            xi = pos[i, 0]
            yi = pos[i, 1]
            zi = pos[i, 2]
            gx = 0.0
            gy = 0.0
            gz = 0.0
            for j in range(i + 1, n):
                dx = xi - pos[j, 0]
                dy = yi - pos[j, 1]
                dz = zi - pos[j, 2]
                inv2 = 1.0 / (dx * dx + dy * dy + dz * dz)
                inv6 = inv2 * inv2 * inv2
                # E = sum_{i<j} V(r2), V = 4 (r2^-6 - r2^-3); dE/dp_i = 2 V'(r2) d_ij
                c = 2.0 * (12.0 * inv6 - 24.0 * inv6 * inv6) * inv2
                gx += c * dx
                gy += c * dy
                gz += c * dz
                g[j, 0] -= c * dx
                g[j, 1] -= c * dy
                g[j, 2] -= c * dz
            g[i, 0] += gx
            g[i, 1] += gy
            g[i, 2] += gz
        return g

    @jit
    def tiny_grad(x, y, z):
        e = math.exp(z * x)
        q = 1.0 / (1.0 + y * y)
        t = math.tanh(x * y * z)
        s = 1.0 - t * t
        gx = math.cos(x) * y + z * e * q - s * y * z
        gy = math.sin(x) - 2.0 * y * e * q * q - s * x * z
        gz = x * e * q - s * x * y
        return gx, gy, gz

    @jit
    def lotka_volterra_grad(a, b, c, d, x0, y0, steps, dt, tx, ty):
        xs = np.empty(steps + 1)
        ys = np.empty(steps + 1)
        xs[0] = x0
        ys[0] = y0
        for k in range(steps):
            x = xs[k]
            y = ys[k]
            xs[k + 1] = x + dt * (a * x - b * x * y)
            ys[k + 1] = y + dt * (d * x * y - c * y)
        gx = 2.0 * (xs[steps] - tx)
        gy = 2.0 * (ys[steps] - ty)
        ga = gb = gc = gd = 0.0
        for k in range(steps - 1, -1, -1):  # reverse sweep (discrete adjoint)
            x = xs[k]
            y = ys[k]
            ga += gx * dt * x
            gb -= gx * dt * x * y
            gc -= gy * dt * y
            gd += gy * dt * x * y
            ngx = gx * (1.0 + dt * (a - b * y)) + gy * dt * d * y
            ngy = -gx * dt * b * x + gy * (1.0 + dt * (d * x - c))
            gx = ngx
            gy = ngy
        return ga, gb, gc, gd

    @jit
    def rk4_grad(theta, obs, dt, x0, y0):
        """Forward pass storing the states; reverse pass recomputing each step's stages."""
        a, b, c, d = theta[0], theta[1], theta[2], theta[3]
        n = obs.shape[0]
        xs = np.empty(n + 1)
        ys = np.empty(n + 1)
        xs[0], ys[0] = x0, y0
        for k in range(n):
            x, y = xs[k], ys[k]
            k1x, k1y = a * x - b * x * y, d * x * y - c * y
            x2, y2 = x + dt / 2 * k1x, y + dt / 2 * k1y
            k2x, k2y = a * x2 - b * x2 * y2, d * x2 * y2 - c * y2
            x3, y3 = x + dt / 2 * k2x, y + dt / 2 * k2y
            k3x, k3y = a * x3 - b * x3 * y3, d * x3 * y3 - c * y3
            x4, y4 = x + dt * k3x, y + dt * k3y
            k4x, k4y = a * x4 - b * x4 * y4, d * x4 * y4 - c * y4
            xs[k + 1] = x + dt / 6 * (k1x + 2 * k2x + 2 * k3x + k4x)
            ys[k + 1] = y + dt / 6 * (k1y + 2 * k2y + 2 * k3y + k4y)
        g = np.zeros(4)
        lx = ly = 0.0
        for k in range(n - 1, -1, -1):
            lx += 2.0 * (xs[k + 1] - obs[k])
            x, y = xs[k], ys[k]
            k1x, k1y = a * x - b * x * y, d * x * y - c * y
            x2, y2 = x + dt / 2 * k1x, y + dt / 2 * k1y
            k2x, k2y = a * x2 - b * x2 * y2, d * x2 * y2 - c * y2
            x3, y3 = x + dt / 2 * k2x, y + dt / 2 * k2y
            k3x, k3y = a * x3 - b * x3 * y3, d * x3 * y3 - c * y3
            x4, y4 = x + dt * k3x, y + dt * k3y
            # adjoints of the stages k1..k4 (weights dt/6, dt/3, dt/3, dt/6), then back through
            # k4 = f(s4), s4 = s + dt k3, k3 = f(s3), s3 = s + dt/2 k2, ..., k1 = f(s)
            nx, ny = lx, ly
            m1x, m1y = dt / 6 * lx, dt / 6 * ly
            m2x, m2y = dt / 3 * lx, dt / 3 * ly
            m3x, m3y = dt / 3 * lx, dt / 3 * ly
            m4x, m4y = dt / 6 * lx, dt / 6 * ly
            # stage 4
            g[0] += x4 * m4x
            g[1] -= x4 * y4 * m4x
            g[2] -= y4 * m4y
            g[3] += x4 * y4 * m4y
            px, py = (a - b * y4) * m4x + d * y4 * m4y, -b * x4 * m4x + (d * x4 - c) * m4y
            m3x += dt * px
            m3y += dt * py
            nx += px
            ny += py
            # stage 3
            g[0] += x3 * m3x
            g[1] -= x3 * y3 * m3x
            g[2] -= y3 * m3y
            g[3] += x3 * y3 * m3y
            px, py = (a - b * y3) * m3x + d * y3 * m3y, -b * x3 * m3x + (d * x3 - c) * m3y
            m2x += dt / 2 * px
            m2y += dt / 2 * py
            nx += px
            ny += py
            # stage 2
            g[0] += x2 * m2x
            g[1] -= x2 * y2 * m2x
            g[2] -= y2 * m2y
            g[3] += x2 * y2 * m2y
            px, py = (a - b * y2) * m2x + d * y2 * m2y, -b * x2 * m2x + (d * x2 - c) * m2y
            m1x += dt / 2 * px
            m1y += dt / 2 * py
            nx += px
            ny += py
            # stage 1
            g[0] += x * m1x
            g[1] -= x * y * m1x
            g[2] -= y * m1y
            g[3] += x * y * m1y
            nx += (a - b * y) * m1x + d * y * m1y
            ny += -b * x * m1x + (d * x - c) * m1y
            lx, ly = nx, ny
        return g

    return {
        "ode-rk4": rk4_grad,
        "rosenbrock": rosenbrock_grad,
        "elementwise": elementwise_grad,
        "logreg": logreg_grad,
        "mlp": mlp_grad,
        "lennard-jones": lennard_jones_grad,
        "tiny": tiny_grad,
        "ode": lotka_volterra_grad,
    }


def kernels():
    global _kernels
    if _kernels is None:
        _kernels = _build_kernels()
    return _kernels


def make_grad_fn(workload):
    """A callable with the workload's signature returning its gradient, or None."""
    family = workload.family
    if family not in ("rosenbrock", "elementwise", "logreg", "mlp",
                      "lennard-jones", "tiny", "ode", "ode-rk4"):
        return None
    k = kernels()[family]
    if family == "ode-rk4":
        x0, y0 = W.RK4_STATE
        return lambda theta, obs: k(theta, obs, W.RK4_DT, x0, y0)
    if family == "logreg":
        lam = W.LOGREG_LAMBDA
        return lambda w, X, y: k(w, X, y, lam)
    if family == "mlp":
        keys = ("W1", "b1", "W2", "b2", "W3", "b3")

        def mlp(params, x, y):
            grads = k(params["W1"], params["b1"], params["W2"], params["b2"],
                      params["W3"], params["b3"], x, y)
            return dict(zip(keys, grads))

        return mlp
    if family == "ode":
        steps = workload.params["T"]
        dt = W.ODE_DT
        tx, ty = W.ODE_TARGET
        return lambda a, b, c, d, x0, y0: k(a, b, c, d, x0, y0, steps, dt, tx, ty)
    return k  # the dispatcher itself: no Python wrapper overhead
