"""Randomized differential test of the compiled path.

Random NumPy programs (tests/random_programs.py) go through jit, grad, jvp, vjp, jacfwd/jacrev,
hessian and grad(grad) (of the scalar loss sum(f(x) * W)), and every result is compared with
  * NumPy itself (values and dtypes),
  * the reference interpreter (`with disable_jit():`, compiler/interpreter.py),
  * JAX (`jax.numpy`, x64) running the same source, when installed,
  * central finite differences of the NumPy program (first derivatives) or of the interpreter's
    gradient (second derivatives), in float64 programs.

Tolerances.  Compiled kernels use fastmath reassociation and libm calls that may differ from
NumPy's in the last bits, and a program chains up to ~10 operations on values up to 1e4, so an
element may lose a few more digits than one rounding: `got` must be within
tol * (|want| + max(1, max|want|)) of `want`, with tol = 1e-8 for float64 programs and 2e-3 when
any value is float32 (eps 6e-8, amplified by the chain).  The bugs this test is after are errors
of order one (a wrong index map, a dropped term, zeros).  Central differences with step 1e-6
have a truncation error ~1e-12 * f''' and a rounding error ~1e-10 * |f|, so they get tol 1e-5 on
directional derivatives scaled by the loss; the generator keeps every kink at least 1e-3 away,
so no difference crosses one.  Programs with a float32 value skip finite differences.

Run more programs: `GRADJIT_FUZZ_COUNT=500 GRADJIT_FUZZ_SEED=7 python -m pytest tests/test_random_programs.py`
or `python -m tests.fuzz --seed 7 --count 2000` (prints shrunk repros).
"""
import os
import re
from dataclasses import dataclass

import numpy as np
import pytest

import compiler
from compiler import disable_jit, grad, hessian, jacfwd, jacrev, jit, jvp, value_and_grad, vjp
from random_programs import array_source, generate, shrink

H = 1e-6            # finite-difference step
FD_TOL = 1e-5
JAC_LIMIT = 400     # elements of a Jacobian worth computing element by element
HESS_LIMIT = 12     # size of the first input for hessian and grad(grad)


class Mismatch(AssertionError):
    pass


class OracleError(Exception):
    """JAX or NumPy failed on a program the generator accepted: a harness problem."""


@dataclass
class Failure:
    check: str
    kind: str          # mismatch | crash | oracle
    message: str
    snippet: str
    program: object

    def key(self):
        """What failures with the same root cause are likely to share: the check, and the
        message without numbers and example values."""
        first = self.message.split("\n")[0].split(" e.g.")[0].split(", got ")[0]
        first = re.sub(r"\d+", "#", first).replace("# of # elements differ", "elements differ")
        return f"{self.check}/{self.kind}: {first[:150]}"

    def report(self):
        return (f"--- {self.check} ({self.kind}): {self.message}\n"
                + self.program.repro(self.snippet))


def tolerance(prog):
    return 2e-3 if prog.has_float32 else 1e-8


def assert_close(what, got, want, tol, check_dtype=False):
    got_a, want_a = np.asarray(got), np.asarray(want)
    if got_a.shape != want_a.shape:
        raise Mismatch(f"{what}: shape {got_a.shape}, expected {want_a.shape}")
    if check_dtype and got_a.dtype != want_a.dtype:
        raise Mismatch(f"{what}: dtype {got_a.dtype}, expected {want_a.dtype} (NumPy)")
    if not want_a.size:
        return
    g, w = got_a.astype(np.float64), want_a.astype(np.float64)
    finite = np.abs(w[np.isfinite(w)])
    scale = max(1.0, float(np.max(finite))) if finite.size else 1.0
    with np.errstate(invalid="ignore"):
        err = np.abs(g - w)
        bad = ~((err <= tol * (np.abs(w) + scale)) | (g == w) | (np.isnan(g) & np.isnan(w)))
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, np.nan_to_num(err, nan=np.inf), -1)), bad.shape)
        raise Mismatch(f"{what}: {int(bad.sum())} of {bad.size} elements differ, e.g. at {tuple(map(int, i))}: "
                       f"got {g[i]!r}, expected {w[i]!r}")


def assert_close_tree(what, got, want, tol):
    got, want = list(got), list(want)
    if len(got) != len(want):
        raise Mismatch(f"{what}: {len(got)} results, expected {len(want)}")
    for k, (g, w) in enumerate(zip(got, want)):
        assert_close(f"{what}[{k}]", g, w, tol)


def no_alias(what, result, sources):
    for r in result if isinstance(result, (list, tuple)) else [result]:
        if isinstance(r, np.ndarray) and r.size:
            for name, s in sources:
                if isinstance(s, np.ndarray) and np.shares_memory(r, s):
                    raise Mismatch(f"{what}: the result shares memory with {name}")


def _shift(x, v, h):
    if isinstance(x, float):
        return x + h * float(v)
    if isinstance(x, np.generic):
        return type(x)(x + h * v)
    return x + h * v


def central_difference(fun, xs, vs, h=H):
    plus = np.asarray(fun(*[_shift(x, v, h) for x, v in zip(xs, vs)]), np.float64)
    minus = np.asarray(fun(*[_shift(x, v, -h) for x, v in zip(xs, vs)]), np.float64)
    return (plus - minus) / (2 * h)


def fd_close(what, directional, fd, loss_scale):
    allowed = FD_TOL * (1.0 + np.abs(fd) + loss_scale * 1e-3)
    if not np.all(np.abs(np.asarray(directional) - fd) <= allowed):
        raise Mismatch(f"{what}: {np.asarray(directional)!r} but finite differences give {fd!r}")


def _to_numpy(tree):
    if isinstance(tree, (tuple, list)):
        return type(tree)(_to_numpy(t) for t in tree)
    return np.asarray(tree)


def _inner(a, b):
    return float(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)))


class Context:
    """One program, its arguments, fixed random directions and its renderings."""

    def __init__(self, prog):
        self.prog = prog
        self.xs = prog.args()
        self.argnums = tuple(range(len(self.xs)))
        self.f = prog.function(stop_gradient=compiler.stop_gradient)
        self.f_np = prog.function()
        with np.errstate(all="ignore"):
            self.out = self.f_np(*self.xs)
        self.tol = tolerance(prog)
        rng = np.random.default_rng(abs(hash(str(prog.seed))) % 2 ** 32)
        out_dtype = np.result_type(self.out) if np.result_type(self.out).kind == "f" else np.dtype(np.float64)
        self.W = rng.standard_normal(np.shape(self.out)).astype(out_dtype)
        self.ct = rng.standard_normal(np.shape(self.out)).astype(out_dtype)
        self.V = [self._like(x, rng) for x in self.xs]
        W = self.W
        self.loss = lambda *a: np.sum(self.f(*a) * W)
        self.loss_np = lambda *a: np.sum(self.f_np(*a) * W)
        self.fd_ok = not prog.has_float32
        self.consts = [(k, v) for k, v in prog.consts.items()] + [(f"x{i}", x) for i, x in enumerate(self.xs)]
        self._jax = None

    @staticmethod
    def _like(x, rng):
        v = rng.standard_normal(np.shape(x))
        if isinstance(x, float):
            return float(v)
        return np.asarray(v, np.result_type(x))[()] if np.ndim(x) == 0 else v.astype(np.result_type(x))

    def frozen(self):
        """The NumPy program with every stop_gradient value fixed at its value at xs: its
        derivatives are the ones stop_gradient defines, so finite differences of it are an oracle."""
        recorded = []
        self.prog.function(stop_gradient=lambda v: recorded.append(v) or v)(*self.xs)
        state = {}
        fn = self.prog.function(stop_gradient=lambda v: next(state["it"]))

        def call(*args):
            state["it"] = iter(recorded)
            return fn(*args)
        return call

    def jax(self):
        """(jax, jnp, the program rendered with jax.numpy, its loss), or None without JAX."""
        if self._jax is None:
            try:
                import jax
            except ImportError:
                self._jax = False
                return None
            jax.config.update("jax_enable_x64", True)
            jnp = jax.numpy
            fj = self.prog.function("jax", stop_gradient=jax.lax.stop_gradient, namespace=jnp)
            W = self.W
            self._jax = (jax, jnp, fj, lambda *a: jnp.sum(fj(*a) * W))
        return self._jax or None

    def oracle(self, fn, *args):
        """fn(*args) under jax.jit (one XLA compilation is much cheaper than op-by-op dispatch)."""
        jax = self.jax()[0]
        try:
            out = jax.jit(fn)(*args)
        except Exception as e:
            raise OracleError(f"{type(e).__name__}: {e}") from None
        return _to_numpy(out)

    def src(self, value):
        return array_source(value) if isinstance(value, np.ndarray) else repr(value)

    def setup(self):
        """Repro lines defining W, the loss, directions and the cotangent."""
        return (f"W = {self.src(self.W)}\nloss = lambda *xs: np.sum(f(*xs) * W)\n"
                f"V = [{', '.join(self.src(v) for v in self.V)}]\nct = {self.src(self.ct)}\n"
                f"xs = [{', '.join(i.name for i in self.prog.inputs)}]\n")


# ---------------------------------------------------------------------------------- checks

def check_value(c):
    with np.errstate(all="ignore"):
        got = jit(c.f)(*c.xs)
        assert_close("jit(f) vs NumPy", got, c.out, c.tol, check_dtype=True)
        no_alias("jit(f)", got, c.consts)
        with disable_jit():
            assert_close("interpreter vs NumPy", jit(c.f)(*c.xs), c.out, c.tol, check_dtype=True)


def check_grad(c):
    value, grads = value_and_grad(c.loss, argnums=c.argnums)(*c.xs)
    with disable_jit():
        ref_value, ref = value_and_grad(c.loss, argnums=c.argnums)(*c.xs)
    assert_close("value_and_grad value vs NumPy", value, c.loss_np(*c.xs), c.tol)
    for g, x in zip(grads, c.xs):
        if np.shape(g) != np.shape(x) or np.result_type(g) != np.result_type(x):
            raise Mismatch(f"grad: gradient {np.result_type(g)}{np.shape(g)} for an input {np.result_type(x)}{np.shape(x)}")
    assert_close_tree("grad: compiled vs interpreter", grads, ref, c.tol)
    no_alias("grad", grads, c.consts + [("W", c.W)])
    j = c.jax()
    if j:
        jax, _, _, loss_j = j
        _, theirs = c.oracle(jax.value_and_grad(loss_j, argnums=c.argnums), *c.xs)
        assert_close_tree("grad: compiled vs JAX", grads, theirs, c.tol)
    if c.fd_ok:
        fd = central_difference(c.frozen_loss(), c.xs, c.V)
        fd_close("grad . V vs finite differences", sum(_inner(g, v) for g, v in zip(grads, c.V)), fd,
                 abs(float(value)))


def check_jvp(c):
    out, tangent = jvp(c.f, c.xs, c.V)
    with disable_jit():
        ref_out, ref = jvp(c.f, c.xs, c.V)
    assert_close("jvp primal vs NumPy", out, c.out, c.tol)
    assert_close("jvp: compiled vs interpreter", tangent, ref, c.tol)
    j = c.jax()
    if j:
        jax, _, fj, _ = j
        _, theirs = c.oracle(lambda xs, vs: jax.jvp(fj, xs, vs), tuple(c.xs), tuple(c.V))
        assert_close("jvp: compiled vs JAX", tangent, theirs, c.tol)
    if c.fd_ok:
        fd = central_difference(c.frozen(), c.xs, c.V)
        scale = float(np.max(np.abs(c.out))) if np.size(c.out) else 0.0
        fd_close("jvp vs finite differences", tangent, fd, scale)


def check_vjp(c):
    out, fn = vjp(c.f, *c.xs)
    grads = fn(c.ct)
    with disable_jit():
        _, ref_fn = vjp(c.f, *c.xs)
        ref = ref_fn(c.ct)
    assert_close("vjp primal vs NumPy", out, c.out, c.tol)
    assert_close_tree("vjp: compiled vs interpreter", grads, ref, c.tol)
    no_alias("vjp", grads, c.consts + [("ct", c.ct)])
    j = c.jax()
    if j:
        jax, _, fj, _ = j
        theirs = c.oracle(lambda xs, ct: _jax_vjp(jax, fj, xs, ct), tuple(c.xs), c.ct)
        assert_close_tree("vjp: compiled vs JAX", grads, theirs, c.tol)
    if c.fd_ok:
        frozen, ct = c.frozen(), c.ct
        fd = central_difference(lambda *a: np.sum(frozen(*a) * ct), c.xs, c.V)
        fd_close("vjp(ct) . V vs finite differences", sum(_inner(g, v) for g, v in zip(grads, c.V)), fd,
                 float(np.sum(np.abs(c.out))) if np.size(c.out) else 0.0)


def _jax_vjp(jax, fj, xs, ct):
    out, fn = jax.vjp(fj, *xs)
    return fn(ct.astype(out.dtype))      # JAX wants the output's dtype, which may differ from NumPy's


def _jacobian_small(c):
    n_in = sum(int(np.size(x)) for x in c.xs)
    return int(np.size(c.out)) * n_in <= JAC_LIMIT


def check_jacobian(c):
    if not _jacobian_small(c):
        return
    fwd = jacfwd(c.f, argnums=c.argnums)(*c.xs)
    rev = jacrev(c.f, argnums=c.argnums)(*c.xs)
    for name, jac in (("jacfwd", fwd), ("jacrev", rev)):
        for k, x in enumerate(c.xs):
            want = np.shape(c.out) + np.shape(x)
            if np.shape(jac[k]) != want:
                raise Mismatch(f"{name}: block {k} has shape {np.shape(jac[k])}, expected {want}")
    assert_close_tree("jacfwd vs jacrev", fwd, rev, c.tol)
    j = c.jax()
    if j:
        jax, _, fj, _ = j
        theirs = c.oracle(jax.jacrev(fj, argnums=c.argnums), *c.xs)
        assert_close_tree("jacfwd vs JAX jacrev", fwd, theirs, c.tol)
    else:
        with disable_jit():
            assert_close_tree("jacfwd: compiled vs interpreter", fwd, jacfwd(c.f, argnums=c.argnums)(*c.xs), c.tol)


def _second_order_ok(c):
    return 0 < np.size(c.xs[0]) <= HESS_LIMIT


def _fd_of_gradient(c, direction):
    """H @ direction by central differences of the interpreter's gradient of the frozen loss."""
    frozen, W = c.frozen(), c.W
    loss = lambda *a: np.sum(frozen(*a) * W)
    vs = [direction] + [np.zeros_like(np.asarray(x)) for x in c.xs[1:]]
    with disable_jit():
        g = grad(loss)
        return central_difference(lambda *a: np.asarray(g(*a), np.float64), c.xs, vs)


def check_hessian(c):
    if not _second_order_ok(c):
        return
    hess = hessian(c.loss)(*c.xs)
    x0 = c.xs[0]
    n = int(np.size(x0))
    if np.shape(hess) != np.shape(x0) * 2:
        raise Mismatch(f"hessian: shape {np.shape(hess)}, expected {np.shape(x0) * 2}")
    with disable_jit():
        assert_close("hessian: compiled vs interpreter", hess, hessian(c.loss)(*c.xs), c.tol)
    j = c.jax()
    if j:
        jax, _, _, loss_j = j
        assert_close("hessian: compiled vs JAX", hess, c.oracle(jax.hessian(loss_j), *c.xs), c.tol)
    if c.fd_ok:
        hv = np.reshape(hess, (n, n)) @ np.ravel(c.V[0])
        fd_close("hessian @ V vs finite differences of the gradient", hv, np.ravel(_fd_of_gradient(c, c.V[0])),
                 float(np.max(np.abs(hess))) if hess.size else 0.0)


def check_grad_grad(c):
    if not _second_order_ok(c):
        return
    V0, loss = c.V[0], c.loss
    gg = grad(lambda *a: np.sum(grad(loss)(*a) * V0))(*c.xs)
    with disable_jit():
        ref = grad(lambda *a: np.sum(grad(loss)(*a) * V0))(*c.xs)
    assert_close("grad(grad): compiled vs interpreter", gg, ref, c.tol)
    j = c.jax()
    if j:
        jax, jnp, _, loss_j = j
        theirs = c.oracle(jax.grad(lambda *a: jnp.sum(jax.grad(loss_j)(*a) * V0)), *c.xs)
        assert_close("grad(grad): compiled vs JAX", gg, theirs, c.tol)
    if c.fd_ok:
        fd = _fd_of_gradient(c, V0)
        fd_close("grad(grad) vs finite differences of the gradient", np.ravel(gg), np.ravel(fd),
                 float(np.max(np.abs(fd))) if np.size(fd) else 0.0)


def _frozen_loss(c):
    frozen, W = c.frozen(), c.W
    return lambda *a: np.sum(frozen(*a) * W)


Context.frozen_loss = _frozen_loss

CHECKS = {"value": check_value, "grad": check_grad, "jvp": check_jvp, "vjp": check_vjp,
          "jacobian": check_jacobian, "hessian": check_hessian, "grad_grad": check_grad_grad}

# what a failing check's repro runs (after the program, its inputs and `setup`)
SNIPPETS = {
    "value": "print(jit(f)(*xs))\nprint(f(*xs))                      # NumPy\n",
    "grad": "print(grad(loss, argnums={argnums})(*xs))\nwith disable_jit():\n"
            "    print(grad(loss, argnums={argnums})(*xs))   # reference interpreter\n",
    "jvp": "print(jvp(f, xs, V)[1])\nwith disable_jit():\n    print(jvp(f, xs, V)[1])\n",
    "vjp": "print(vjp(f, *xs)[1](ct))\nwith disable_jit():\n    print(vjp(f, *xs)[1](ct))\n",
    "jacobian": "print(jacfwd(f, argnums={argnums})(*xs))\nprint(jacrev(f, argnums={argnums})(*xs))\n",
    "hessian": "print(hessian(loss)(*xs))\nwith disable_jit():\n    print(hessian(loss)(*xs))\n",
    "grad_grad": "gg = grad(lambda *a: np.sum(grad(loss)(*a) * V[0]))\nprint(gg(*xs))\n"
                 "with disable_jit():\n    print(gg(*xs))\n",
}


def run_check(prog, name, ctx=None):
    """The Failure of check `name` on `prog`, or None."""
    c = ctx or Context(prog)
    return failure_of(name, lambda: CHECKS[name](c), c.setup() + SNIPPETS[name].format(argnums=c.argnums), prog)


def failure_of(name, check, snippet, prog):
    """Run `check()`: None if it passes, else its Failure (a mismatch, an oracle error or a crash)."""
    try:
        check()
    except Mismatch as e:
        return Failure(name, "mismatch", str(e), snippet, prog)
    except OracleError as e:
        return Failure(name, "oracle", str(e), snippet, prog)
    except Exception as e:
        return Failure(name, "crash", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                       snippet, prog)
    return None


def check_program(prog, checks=tuple(CHECKS)):
    if prog.values_only:
        checks = [c for c in checks if c == "value"]
    ctx = Context(prog)
    return [f for f in (run_check(prog, name, ctx) for name in checks) if f is not None]


def shrink_failure(failure, budget=60, run_check=None):
    """The failure on a smaller program that fails the same check the same way."""
    run_check = run_check or globals()["run_check"]
    key = failure.key()

    def fails(p):
        f = run_check(p, failure.check)
        return f is not None and f.key() == key
    small = shrink(failure.program, fails, budget)
    return run_check(small, failure.check) if small is not failure.program else failure


# ---------------------------------------------------------------------------------- the CI slice

# supported names no row generates, and why
NOT_GENERATED = {
    "np.empty_like": "uninitialised values",
    "np.copyto": "writes into an array: gradjit raises by design",
}


def test_every_supported_function_has_a_row():
    """A NumPy function gradjit learns to trace must enter the generator (one row in OPS)."""
    from compiler.numpy_api import SUPPORTED_NAMES, public_name
    from random_programs import OPS
    covered = {public_name(eval(name, {"np": np})) for op in OPS for name in op.numpy_names()}
    missing = sorted(set(SUPPORTED_NAMES) - covered - set(NOT_GENERATED))
    assert not missing, (f"no row of tests/random_programs.py's OPS generates {missing}: add one (see the "
                         "module docstring)")


SEED = int(os.environ.get("GRADJIT_FUZZ_SEED", 0))
COUNT = int(os.environ.get("GRADJIT_FUZZ_COUNT", 24))
# program index -> the bug (not one of issue 7's list) that makes it fail today; each entry is a
# strict xfail, so fixing the bug turns it into a failure that says to remove the entry
KNOWN_BUGS = {}


@pytest.mark.parametrize("index", range(COUNT))
def test_random_program(index, request):
    if SEED == 0 and index in KNOWN_BUGS:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_BUGS[index], strict=True))
    failures = check_program(generate((SEED, index)))
    assert not failures, "\n\n".join(f.report() for f in failures)
