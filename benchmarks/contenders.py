"""Contender adapters.

A contender turns a workload into ``grad_fn(*inputs)`` that returns the
gradient in its own native structure (array / tuple / dict of arrays or
tensors).  ``convert_inputs`` runs once, untimed (e.g. moving data to JAX
arrays); anything a real user must do on every call (creating fresh leaf
tensors for an eager tape) happens inside ``grad_fn`` and is timed.
``flatten`` turns the native gradient into a list of float64 NumPy arrays in
argument order (dict entries in sorted key order) for comparison.

Optional libraries are imported lazily; an unavailable one makes
``unavailable()`` return a note and the contender is skipped.
"""

import os
import shutil
import tempfile
import types

import numpy as np

from . import THREADS
from . import handwritten
from . import workloads as W


# --------------------------------------------------------------------------
# helpers shared by the adapters


def argnums_tuple(workload):
    a = workload.argnums
    return a if isinstance(a, tuple) else (a,)


def constant_arrays(workload, args, convert):
    """Convert the array arguments that are not differentiated (data) with `convert`."""
    argnums = argnums_tuple(workload)
    return [convert(a) if i not in argnums and isinstance(a, np.ndarray) else a for i, a in enumerate(args)]


def flatten(obj):
    """Gradient structure -> list of float64 ndarrays (dicts in sorted key order)."""
    if isinstance(obj, dict):
        return [arr for k in sorted(obj) for arr in flatten(obj[k])]
    if isinstance(obj, (tuple, list)):
        return [arr for v in obj for arr in flatten(v)]
    return [to_numpy(obj)]


def to_numpy(x):
    if type(x).__module__.split(".")[0] == "torch":
        x = x.detach().cpu().numpy()
    elif hasattr(x, "numpy") and not isinstance(x, (np.ndarray, np.generic)):  # runtime, jax
        x = x.numpy()
    return np.array(x, dtype=np.float64)


def rebind(fun, namespace, convert=None):
    """Copy of ``fun`` whose global ``np`` is ``namespace``.

    Closed-over NumPy arrays are passed through ``convert`` (e.g. to make them
    torch tensors).  This lets JAX, autograd and PyTorch run the exact source
    of the NumPy workload.
    """
    glb = dict(fun.__globals__)
    glb["np"] = namespace
    if "scan" in glb:                 # a workload written with scan: the contender's own loop
        glb["scan"] = _scan_for(namespace)
    closure = None
    if fun.__closure__:
        cells = []
        for cell in fun.__closure__:
            v = cell.cell_contents
            if convert is not None and isinstance(v, np.ndarray):
                v = convert(v)
            cells.append(types.CellType(v))
        closure = tuple(cells)
    new = types.FunctionType(fun.__code__, glb, fun.__name__, fun.__defaults__, closure)
    new.__kwdefaults__ = fun.__kwdefaults__
    return new


def _scan_for(namespace):
    if getattr(namespace, "__name__", "") == "jax.numpy":
        import jax
        return lambda f, init, xs: jax.lax.scan(f, init, xs)
    return W.python_scan(namespace.stack)


def _map_leaves(args, fn):
    """Apply ``fn`` to every argument (to each value of a dict argument)."""
    return [{k: fn(v) for k, v in a.items()} if isinstance(a, dict) else fn(a) for a in args]


# --------------------------------------------------------------------------


class Contender:
    key = ""  # short id used in JSON and --contenders
    label = ""  # shown in the table
    is_gradjit = False
    computes_grad = True

    def unavailable(self):
        """None when usable, else a note explaining why it is skipped."""
        return None

    def prime(self):
        """Pay one-off costs (imports, JIT start-up) before anything is measured."""

    def build(self, workload):
        raise NotImplementedError

    def convert_inputs(self, workload, args):
        return args

    def flatten(self, grads):
        return flatten(grads)


class GradjitCompiled(Contender):
    key = "gradjit"
    label = "gradjit compiled"
    is_gradjit = True
    libm = False     # kernels call gradjit's vectorisable math, not libm

    _UNSET = object()
    _saved_env = _UNSET       # shared by every instance (gradjit and gradjit-libm): the caller's value

    def __init__(self):
        self._cache_dirs = []

    def _fresh_cache_dir(self):
        """Point GRADJIT_CACHE_DIR at a new empty directory (restored by cleanup)."""
        if GradjitCompiled._saved_env is self._UNSET:
            GradjitCompiled._saved_env = os.environ.get("GRADJIT_CACHE_DIR")
        d = tempfile.mkdtemp(prefix="gradjit-bench-cache-")
        self._cache_dirs.append(d)
        os.environ["GRADJIT_CACHE_DIR"] = d

    def prime(self):
        self._fresh_cache_dir()  # before the first import, in case it is read then
        import compiler

        compiler.grad(_prime_fun)(np.linspace(0.0, 1.0, 4))

    def build(self, workload):
        # A fresh grad object and an empty on-disk cache: the first call
        # measures a real trace + transform + compile.
        self._fresh_cache_dir()
        import compiler

        compiler.config.libm = self.libm     # read when the first call compiles the kernels
        return compiler.grad(workload.fun, argnums=workload.argnums)

    def cleanup(self):
        for d in self._cache_dirs:
            shutil.rmtree(d, ignore_errors=True)
        self._cache_dirs = []
        saved = GradjitCompiled._saved_env
        if saved is not self._UNSET:
            if saved is None:
                os.environ.pop("GRADJIT_CACHE_DIR", None)
            else:
                os.environ["GRADJIT_CACHE_DIR"] = saved
            GradjitCompiled._saved_env = self._UNSET


class GradjitLibm(GradjitCompiled):
    """gradjit with kernels calling libm (`config.libm`): what the vectorisable math buys."""
    key = "gradjit-libm"
    label = "gradjit compiled, libm"
    libm = True

    def cleanup(self):
        import compiler
        compiler.config.libm = False
        super().cleanup()


def _prime_fun(x):
    return np.sum(np.sin(x) * x)


class GradjitEager(Contender):
    key = "gradjit-eager"
    label = "gradjit eager (runtime)"
    is_gradjit = True

    def build(self, workload):
        import compiler
        import runtime as rt

        compiler.config.libm = False     # the gradjit-libm contender before this one sets it

        fun = workload.fun
        argnums = argnums_tuple(workload)

        def grad_fn(*args):
            targs = list(args)
            for i in argnums:
                a = args[i]
                if isinstance(a, dict):
                    targs[i] = {k: rt.tensor(v, requires_grad=True) for k, v in a.items()}
                else:
                    targs[i] = rt.tensor(a, requires_grad=True)
            loss = fun(*targs)
            loss.backward()
            grads = []
            for i in argnums:
                t = targs[i]
                grads.append({k: v.grad for k, v in t.items()} if isinstance(t, dict) else t.grad)
            return grads[0] if isinstance(workload.argnums, int) else tuple(grads)

        return grad_fn

    def prime(self):
        import runtime as rt

        x = rt.tensor(np.linspace(0.0, 1.0, 4), requires_grad=True)
        _prime_fun(x).backward()

    def convert_inputs(self, workload, args):
        import runtime as rt

        return constant_arrays(workload, args, rt.tensor)


class NumpyForward(Contender):
    key = "numpy-forward"
    label = "NumPy forward only"
    computes_grad = False

    def build(self, workload):
        return workload.fun

    def flatten(self, grads):
        return None


class NumbaHandwritten(Contender):
    key = "numba-hand"
    label = "hand-written Numba"

    def unavailable(self):
        try:
            import numba  # noqa: F401
        except Exception as e:  # pragma: no cover - numba is a dependency
            return f"numba not importable ({e})"
        return None

    def prime(self):
        import numba

        numba.njit(**handwritten.JIT_OPTIONS)(lambda x: x * 2.0)(1.0)

    def build(self, workload):
        fn = handwritten.make_grad_fn(workload)
        if fn is None:
            raise NotImplementedError("no hand-written kernel for this workload")
        return fn


class _TorchNumpy:
    """The slice of the NumPy namespace the workloads use, mapped onto torch."""

    def __init__(self, torch):
        self._torch = torch

    def __getattr__(self, name):  # sin, cos, exp, log, log1p, tanh, abs, sqrt...
        return getattr(self._torch, name)

    def sum(self, a, axis=None):
        return self._torch.sum(a) if axis is None else self._torch.sum(a, dim=axis)

    def mean(self, a, axis=None):
        return self._torch.mean(a) if axis is None else self._torch.mean(a, dim=axis)

    def _t(self, v, like):
        if isinstance(v, self._torch.Tensor):
            return v
        return self._torch.as_tensor(v, dtype=like.dtype)

    def maximum(self, a, b):
        if not isinstance(b, self._torch.Tensor):
            return self._torch.clamp_min(a, b)
        return self._torch.maximum(self._t(a, b), b)

    def minimum(self, a, b):
        if not isinstance(b, self._torch.Tensor):
            return self._torch.clamp_max(a, b)
        return self._torch.minimum(self._t(a, b), b)

    def eye(self, n):
        return self._torch.eye(n, dtype=self._torch.float64)


class TorchEager(Contender):
    key = "torch"
    label = "PyTorch eager"

    def unavailable(self):
        try:
            import torch
        except Exception as e:
            return f"torch not installed ({type(e).__name__})"
        torch.set_num_threads(THREADS)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass  # already set (it can be set only once per process)
        return None

    @staticmethod
    def _tensor(a, requires_grad=False):
        import torch

        if isinstance(a, np.ndarray):
            t = torch.from_numpy(a)
        else:
            t = torch.tensor(a, dtype=torch.float64)
        return t.requires_grad_(True) if requires_grad else t

    def prime(self):
        import torch

        x = self._tensor(np.linspace(0.0, 1.0, 4), True)
        torch.autograd.grad(rebind(_prime_fun, _TorchNumpy(torch))(x), [x])

    def build(self, workload):
        import torch

        fun = rebind(workload.fun, _TorchNumpy(torch), self._tensor)
        argnums = argnums_tuple(workload)

        def grad_fn(*args):
            targs = list(args)
            leaves = []
            for i in argnums:
                a = args[i]
                if isinstance(a, dict):
                    keys = sorted(a)
                    targs[i] = {k: self._tensor(a[k], True) for k in keys}
                    leaves.extend(targs[i][k] for k in keys)
                else:
                    targs[i] = self._tensor(a, True)
                    leaves.append(targs[i])
            loss = fun(*targs)
            return torch.autograd.grad(loss, leaves)  # flat, in flatten() order

        return grad_fn

    def convert_inputs(self, workload, args):
        return constant_arrays(workload, args, self._tensor)


class JaxJit(Contender):
    key = "jax"
    label = "JAX jit(grad)"

    def unavailable(self):
        try:
            import jax

            jax.config.update("jax_enable_x64", True)
        except Exception as e:
            return f"jax not installed ({type(e).__name__})"
        return None

    def prime(self):
        import jax
        import jax.numpy as jnp

        jax.block_until_ready(jax.jit(jax.grad(rebind(_prime_fun, jnp)))(jnp.ones(4)))

    def build(self, workload):
        import jax
        import jax.numpy as jnp

        g = jax.jit(jax.grad(rebind(workload.fun, jnp), argnums=workload.argnums))

        def grad_fn(*args):
            return jax.block_until_ready(g(*args))

        return grad_fn

    def convert_inputs(self, workload, args):
        import jax.numpy as jnp

        def conv(a):
            return jnp.asarray(a, dtype=jnp.float64)

        return _map_leaves(args, conv)


class HipsAutograd(Contender):
    key = "autograd"
    label = "HIPS autograd"

    def unavailable(self):
        try:
            import autograd  # noqa: F401
        except Exception as e:
            return f"autograd not installed ({type(e).__name__})"
        return None

    def prime(self):
        import autograd
        import autograd.numpy as anp

        autograd.grad(rebind(_prime_fun, anp))(np.ones(4))

    def build(self, workload):
        import autograd
        import autograd.numpy as anp

        fun = rebind(workload.fun, anp)
        if isinstance(workload.argnums, int):
            return autograd.grad(fun, workload.argnums)
        argnums = workload.argnums

        def packed(diff, *rest):  # autograd differentiates one (container) argument
            pos, r = dict(zip(argnums, diff)), iter(rest)
            return fun(*[pos[i] if i in pos else next(r) for i in range(len(pos) + len(rest))])

        g = autograd.grad(packed, 0)

        def grad_fn(*args):
            diff = tuple(args[i] for i in argnums)
            rest = [a for i, a in enumerate(args) if i not in argnums]
            return g(diff, *rest)

        return grad_fn


def all_contenders():
    return [
        GradjitCompiled(),
        GradjitLibm(),
        GradjitEager(),
        NumpyForward(),
        NumbaHandwritten(),
        TorchEager(),
        JaxJit(),
        HipsAutograd(),
    ]


def select(contenders, only):
    if not only:
        return list(contenders)
    tokens = [t.strip().lower() for t in only.split(",") if t.strip()]
    return [c for c in contenders if any(t in c.key for t in tokens)]
