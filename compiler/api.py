"""The public transformations: grad, value_and_grad, jvp, vjp, jacfwd, jacrev, hessian, jit, make_ir.

Each builds a flat IR program for an argument signature (trace, transform, simplify), compiles it
once into a Numba kernel and keeps it in a per-function cache keyed by the signature: tree
structure, shapes, dtypes and static values.  Called on tracers (inside another transformation)
the program is inlined into the enclosing trace instead, which is how transformations compose.
"""
import contextlib
import functools

import numpy as np

from . import pytree
from .errors import DifferentiationError, GradjitError, TracingError, filter_traceback
from .interpreter import eval_program
from .ir import ShapedArray
from .lowering.codegen import lower_program
from .primitives import elementwise as ew
from .primitives import is_float
from .tracing import Builder, Tracer
from .transforms import jvp_program, simplify, vjp_program

_config = {"disable_jit": False}
stats = {"traces": 0}


@contextlib.contextmanager
def disable_jit():
    """Run transformed functions with the reference NumPy interpreter instead of compiled kernels."""
    old = _config["disable_jit"]
    _config["disable_jit"] = True
    try:
        yield
    finally:
        _config["disable_jit"] = old


def stop_gradient(x):
    """The identity, with a zero derivative."""
    return pytree.tree_map(lambda v: ew.stop_gradient_p.bind(v), x)


# ---------------------------------------------------------------- arguments and signatures

_SCALAR_TYPES = (float, np.floating, np.integer, np.bool_)


def _is_dynamic(leaf):
    """Arrays, floats and NumPy scalars are traced; Python ints, bools, strings... are static."""
    return isinstance(leaf, (np.ndarray, Tracer)) or isinstance(leaf, _SCALAR_TYPES) or \
        getattr(leaf, "_gj_trace", None) is not None


def _aval(leaf):
    if isinstance(leaf, float):
        return ShapedArray((), np.float64)
    dtype = getattr(leaf, "dtype", None)
    if dtype is None or not hasattr(leaf, "shape"):
        raise TypeError(f"gradjit cannot take an argument of type {type(leaf).__name__}")
    return ShapedArray(leaf.shape, dtype)


def _leaf_key(leaf):
    t = type(leaf)
    if t is np.ndarray:
        return (leaf.shape, leaf.dtype.char)
    if t is float:
        return "f"
    if _is_dynamic(leaf):
        return (np.shape(leaf), np.dtype(getattr(leaf, "dtype", type(leaf))).char)
    try:
        hash(leaf)
    except TypeError:
        raise TypeError(f"argument leaf of type {type(leaf).__name__} is neither an array nor a hashable "
                        "static value; pass arrays, numbers, or tuples/lists/dicts of them") from None
    return ("static", t, leaf)


def _kernel_arg(leaf):
    if type(leaf) is np.ndarray:
        if leaf.ndim == 0:
            return leaf[()]
        return leaf if leaf.flags.c_contiguous else np.ascontiguousarray(leaf)
    return leaf


def _argnums_tuple(argnums, nargs):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not isinstance(n, int) or not -nargs <= n < nargs:
            raise ValueError(f"argnums={argnums!r} is out of range for a function called with {nargs} arguments")
    return tuple(n % nargs for n in nums)


class Signature:
    """How a call's arguments split into traced leaves and static values."""

    def __init__(self, args):
        self.leaves, self.treedef = pytree.flatten(args)
        self.dynamic = [i for i, leaf in enumerate(self.leaves) if _is_dynamic(leaf)]
        self.key = (self.treedef, tuple(_leaf_key(leaf) for leaf in self.leaves))

    def dynamic_leaves(self):
        return [self.leaves[i] for i in self.dynamic]

    def rebuild(self, dynamic_values):
        leaves = list(self.leaves)
        for i, v in zip(self.dynamic, dynamic_values):
            leaves[i] = v
        return pytree.unflatten(self.treedef, leaves)

    def arg_of_leaf(self):
        """For each dynamic leaf, the index of the positional argument it belongs to."""
        owner = []
        for a, sub in enumerate(self.treedef[1]):
            owner += [a] * pytree.num_leaves(sub)
        return [owner[i] for i in self.dynamic]


def trace_to_program(fun, sig):
    """Trace `fun` on abstract versions of the signature's dynamic leaves."""
    stats["traces"] += 1
    with Builder() as b:
        tracers = [b.new_arg(_aval(leaf)) for leaf in sig.dynamic_leaves()]
        out = fun(*sig.rebuild(tracers))
        out_leaves, out_tree = pytree.flatten(out)
        for leaf in out_leaves:
            if not _is_dynamic(leaf) and not isinstance(leaf, (int, bool)):
                raise TypeError(f"{_name(fun)} returned a {type(leaf).__name__}; functions traced by gradjit "
                                "must return arrays, numbers, or tuples/lists/dicts of them")
        return b.finish(out_leaves), out_tree


def _name(fun):
    return getattr(fun, "__name__", repr(fun))


# ---------------------------------------------------------------- compiled executables

class Executable:
    """A compiled program: the Numba kernel plus the glue from flat leaves to the output tree."""

    def __init__(self, prog, out_tree):
        from runtime.kernels import compile_source
        self.program, self.out_tree = prog, out_tree
        self.source = lower_program(prog)
        self.kernel = compile_source(self.source)
        self.consts = tuple(np.ascontiguousarray(c) if isinstance(c, np.ndarray) else c for c in prog.consts)
        self.scalar_types = [(i, v.aval.dtype.type) for i, v in enumerate(prog.outvars) if v.aval.shape == ()]
        self.single = out_tree == pytree._LEAF

    def __call__(self, leaves):
        out = self.kernel(*leaves, *self.consts)
        if self.scalar_types:
            out = list(out)
            for i, t in self.scalar_types:
                out[i] = t(out[i])
        if self.single:
            return out[0]
        return pytree.unflatten(self.out_tree, out)


class Interpreted:
    """The reference-interpreter counterpart of Executable (used under `disable_jit`)."""

    def __init__(self, prog, out_tree):
        self.program, self.out_tree = prog, out_tree

    def __call__(self, leaves):
        out = [np.asarray(v)[()] if np.ndim(v) == 0 else np.asarray(v)
               for v in eval_program(self.program, list(leaves))]
        return pytree.unflatten(self.out_tree, out)


class Lowered:
    """What `f.lower(*args)` returns: the IR and the generated kernel source."""

    def __init__(self, prog, source):
        self.ir, self.source = prog, source

    def __repr__(self):
        return f"{self.ir}\n\n{self.source}"


class Transformed:
    """A function wrapped by a transformation; `build(sig)` returns (program, out_tree)."""

    def __init__(self, fun, build, name):
        self.fun, self._build, self._cache = fun, build, {}
        functools.update_wrapper(self, fun, updated=())
        self.__name__ = f"{name}({_name(fun)})"

    def program(self, *args):
        return self._build(Signature(args))

    def lower(self, *args):
        prog, _ = self.program(*args)
        return Lowered(prog, lower_program(prog))

    def __call__(self, *args):
        try:
            sig = Signature(args)
            entry = self._cache.get(sig.key)
            dyn = sig.dynamic_leaves()
            if entry is None:
                if any(getattr(leaf, "_gj_trace", None) is not None for leaf in dyn):
                    prog, out_tree = self._build(sig)
                    return pytree.unflatten(out_tree, eval_program(prog, dyn))
                prog, out_tree = self._build(sig)
                kind = Interpreted if _config["disable_jit"] else Executable
                entry = self._cache[sig.key] = kind(prog, out_tree)
            elif _config["disable_jit"] and isinstance(entry, Executable):
                entry = Interpreted(entry.program, entry.out_tree)
            return entry([_kernel_arg(leaf) for leaf in dyn])
        except GradjitError as e:
            raise e.with_traceback(filter_traceback(e.__traceback__)) from None

    def __repr__(self):
        return f"<gradjit {self.__name__}>"

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)


def _decorator(transform):
    """Let `transform` be used as @t, @t(...), t(f) and t(f, ...)."""
    @functools.wraps(transform)
    def wrapper(fun=None, *args, **kwargs):
        if fun is None:
            return lambda f: transform(f, *args, **kwargs)
        return transform(fun, *args, **kwargs)
    return wrapper


# ---------------------------------------------------------------- jit and make_ir

@_decorator
def jit(fun):
    def build(sig):
        prog, out_tree = trace_to_program(fun, sig)
        return simplify(prog), out_tree
    return Transformed(fun, build, "jit")


def make_ir(fun):
    """`make_ir(f)(*args)` returns the traced IR program (print it to read it)."""
    @functools.wraps(fun)
    def make(*args):
        return trace_to_program(fun, Signature(args))[0]
    return make


# ---------------------------------------------------------------- reverse mode

def _wrt_mask(sig, argnums, fname):
    """Which dynamic leaves are differentiated, and the tree of the gradient."""
    nargs = len(sig.treedef[1])
    nums = _argnums_tuple(argnums, nargs)
    owners = []
    for a, sub in enumerate(sig.treedef[1]):
        owners += [a] * pytree.num_leaves(sub)
    for i, leaf in enumerate(sig.leaves):
        if owners[i] in nums and i not in sig.dynamic:
            raise DifferentiationError(
                f"{fname} cannot differentiate with respect to argument {owners[i]}: it holds a Python "
                f"{type(leaf).__name__} ({leaf!r}). Pass a float instead (1.0, not 1), or leave the "
                f"argument out of argnums.")
    wrt = [owners[i] in nums for i in sig.dynamic]
    for flag, leaf in zip(wrt, sig.dynamic_leaves()):
        if flag and not is_float(_aval(leaf).dtype):
            raise DifferentiationError(
                f"{fname} requires floating-point inputs to differentiate, got an argument of dtype "
                f"{_aval(leaf).dtype}. Pass floats (e.g. x.astype(float)), or leave this argument "
                f"out of argnums.")
    arg_trees = [sig.treedef[1][a] for a in nums]
    grad_tree = arg_trees[0] if isinstance(argnums, int) else (tuple, tuple(arg_trees))
    return wrt, grad_tree


def _scalar_output(prog, out_tree, has_aux, fun, fname):
    """Split the output tree into (value, aux) and check the value is a real scalar."""
    if has_aux:
        if not (isinstance(out_tree, tuple) and out_tree[0] in (tuple, list) and len(out_tree[1]) == 2):
            raise DifferentiationError(f"{fname}(has_aux=True): {_name(fun)} must return a pair (value, aux)")
        value_tree, aux_tree = out_tree[1]
    else:
        value_tree, aux_tree = out_tree, None
    if value_tree != pytree._LEAF or prog.outvars[0].aval.shape != ():
        shape = prog.outvars[0].aval.shape if value_tree == pytree._LEAF else "a tuple/list/dict"
        raise DifferentiationError(
            f"{fname} requires a function with a scalar output, but {_name(fun)} returned shape {shape}. "
            f"Use jacrev/jacfwd for the Jacobian of a non-scalar function, or vjp for a "
            f"vector-Jacobian product.")
    if not is_float(prog.outvars[0].aval.dtype):
        raise DifferentiationError(f"{fname} requires a real floating-point output, "
                                   f"got {prog.outvars[0].aval.dtype}")
    return aux_tree


def _value_and_grad_build(fun, argnums, has_aux, fname, with_value):
    def build(sig):
        wrt, grad_tree = _wrt_mask(sig, argnums, fname)
        prog, out_tree = trace_to_program(fun, sig)
        aux_tree = _scalar_output(prog, out_tree, has_aux, fun, fname)
        n_out = len(prog.outvars)
        seeds = [prog.outvars[0].aval.dtype.type(1.0)] + [None] * (n_out - 1)
        full = vjp_program(prog, wrt, seeds)
        value, aux, grads = [0], list(range(1, n_out)), list(range(n_out, n_out + sum(wrt)))
        if with_value and has_aux:
            order, tree = value + aux + grads, (tuple, ((tuple, (pytree._LEAF, aux_tree)), grad_tree))
        elif with_value:
            order, tree = value + grads, (tuple, (pytree._LEAF, grad_tree))
        elif has_aux:
            order, tree = grads + aux, (tuple, (grad_tree, aux_tree))
        else:
            order, tree = grads, grad_tree
        full.outvars = [full.outvars[i] for i in order]
        return simplify(full), tree
    return build


@_decorator
def value_and_grad(fun, argnums=0, has_aux=False):
    """f -> (x -> (f(x), df/dx)); with has_aux, f returns (value, aux) and you get ((value, aux), grad)."""
    return Transformed(fun, _value_and_grad_build(fun, argnums, has_aux, "value_and_grad", True),
                       "value_and_grad")


@_decorator
def grad(fun, argnums=0, has_aux=False):
    """f -> df/dx for a function with a scalar output. argnums may be a tuple; arguments may be pytrees."""
    return Transformed(fun, _value_and_grad_build(fun, argnums, has_aux, "grad", False), "grad")
