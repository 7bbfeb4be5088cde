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
from .errors import DifferentiationError, ShapeError, filter_traceback
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
    """How a call's arguments (positional and keyword) split into traced leaves and static values."""

    def __init__(self, args, kwargs=None):
        self.leaves, self.treedef = pytree.flatten((tuple(args), kwargs or {}))
        self.dynamic = [i for i, leaf in enumerate(self.leaves) if _is_dynamic(leaf)]
        self.key = (self.treedef, tuple(_leaf_key(leaf) for leaf in self.leaves))

    @property
    def arg_trees(self):
        """The tree of each positional argument."""
        return self.treedef[1][0][1]

    def dynamic_leaves(self):
        return [self.leaves[i] for i in self.dynamic]

    def rebuild(self, dynamic_values):
        """(args, kwargs) with the dynamic leaves replaced."""
        leaves = list(self.leaves)
        for i, v in zip(self.dynamic, dynamic_values):
            leaves[i] = v
        return pytree.unflatten(self.treedef, leaves)

    def positional_owner(self):
        """For each leaf, the positional argument it belongs to (None for keyword arguments)."""
        owner = []
        for a, sub in enumerate(self.arg_trees):
            owner += [a] * pytree.num_leaves(sub)
        return owner + [None] * (len(self.leaves) - len(owner))


def trace_to_program(fun, sig):
    """Trace `fun` on abstract versions of the signature's dynamic leaves."""
    stats["traces"] += 1
    with Builder() as b:
        tracers = [b.new_arg(_aval(leaf)) for leaf in sig.dynamic_leaves()]
        args, kwargs = sig.rebuild(tracers)
        out = fun(*args, **kwargs)
        out_leaves, out_tree = pytree.flatten(out)
        for leaf in out_leaves:
            if not _is_dynamic(leaf) and not isinstance(leaf, (int, bool)):
                raise TypeError(f"{_name(fun)} returned a {type(leaf).__name__}; functions traced by gradjit "
                                "must return arrays, numbers, or tuples/lists/dicts of them")
        return b.finish(out_leaves), out_tree


def _name(fun):
    return getattr(fun, "__name__", repr(fun))


# ---------------------------------------------------------------- compiled executables

def _fast_key(args):
    """A cheap signature for the common call: every argument a contiguous array or a float."""
    key = []
    for a in args:
        t = type(a)
        if t is np.ndarray and a.shape and a.flags.c_contiguous:
            key.append((a.shape, a.dtype.char))
        elif t is float or t is np.float64:
            key.append(_FLOAT)
        elif t is np.float32:
            key.append(_FLOAT32)
        else:
            return None
    return tuple(key)


_FLOAT, _FLOAT32 = "float64 scalar", "float32 scalar"


def _tree_expr(treedef, names, keys):
    """Python source building the output tree from the flat kernel results `names`; dict keys
    are referenced as `_k{i}`, their values collected in `keys`."""
    if treedef is pytree._LEAF:
        return next(names)
    if treedef is None:
        return "None"
    if treedef[0] is dict:
        items = []
        for k, d in zip(treedef[1], treedef[2]):
            keys.append(k)
            items.append(f"_k{len(keys) - 1}: {_tree_expr(d, names, keys)}")
        return "{" + ", ".join(items) + "}"
    items = [_tree_expr(d, names, keys) for d in treedef[1]]
    if treedef[0] is list:
        return "[" + ", ".join(items) + "]"
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


class Executable:
    """A compiled program: the Numba kernel plus generated glue from flat leaves to the output tree."""

    def __init__(self, prog, out_tree):
        from runtime.kernels import compile_source
        self.program, self.out_tree = prog, out_tree
        self.source = lower_program(prog)
        self.kernel = compile_source(self.source)
        consts = [np.ascontiguousarray(c) if isinstance(c, np.ndarray) else c for c in prog.consts]
        results = [f"_t{v.aval.dtype.char}(o[{i}])" if v.aval.shape == () else f"o[{i}]"
                   for i, v in enumerate(prog.outvars)]
        args = ", ".join(f"a{i}" for i in range(len(prog.invars)))
        call_args = ", ".join([f"a{i}" for i in range(len(prog.invars))] + [f"c{i}" for i in range(len(consts))])
        keys = []
        tree = _tree_expr(out_tree, iter(results), keys)
        env = {"kernel": self.kernel, **{f"c{i}": c for i, c in enumerate(consts)},
               **{f"_k{i}": k for i, k in enumerate(keys)},
               **{f"_t{v.aval.dtype.char}": v.aval.dtype.type for v in prog.outvars}}
        exec(f"def fast({args}):\n    o = kernel({call_args})\n    return {tree}\n", env)
        self.fast = env["fast"]    # fast(*leaves) -> output tree

    def __call__(self, leaves):
        return self.fast(*leaves)


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
        self.fun, self._build, self._cache, self._fast = fun, build, {}, {}
        functools.update_wrapper(self, fun, updated=())
        self.__name__ = f"{name}({_name(fun)})"

    def program(self, *args, **kwargs):
        return self._build(Signature(args, kwargs))

    def lower(self, *args, **kwargs):
        prog, _ = self.program(*args, **kwargs)
        return Lowered(prog, lower_program(prog))

    def __call__(self, *args, **kwargs):
        key = None if kwargs else _fast_key(args)
        if key is not None and not _config["disable_jit"]:
            fast = self._fast.get(key)
            if fast is not None:
                return fast(*args)
        return self._call(args, kwargs, key)

    def _call(self, args, kwargs, fast_key):
        try:
            sig = Signature(args, kwargs)
            entry = self._cache.get(sig.key)
            dyn = sig.dynamic_leaves()
            if entry is None:
                if any(getattr(leaf, "_gj_trace", None) is not None for leaf in dyn):
                    prog, out_tree = self._build(sig)
                    return pytree.unflatten(out_tree, eval_program(prog, dyn))
                prog, out_tree = self._build(sig)
                kind = Interpreted if _config["disable_jit"] else Executable
                entry = self._cache[sig.key] = kind(prog, out_tree)
                if fast_key is not None and kind is Executable:
                    self._fast[fast_key] = entry.fast
            elif _config["disable_jit"] and isinstance(entry, Executable):
                entry = Interpreted(entry.program, entry.out_tree)
            return entry([_kernel_arg(leaf) for leaf in dyn])
        except Exception as e:
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
    def make(*args, **kwargs):
        return trace_to_program(fun, Signature(args, kwargs))[0]
    return make


# ---------------------------------------------------------------- reverse mode

def _wrt_mask(sig, argnums, fname):
    """Which dynamic leaves are differentiated, and the tree of the gradient."""
    nums = _argnums_tuple(argnums, len(sig.arg_trees))
    owners = sig.positional_owner()
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
    arg_trees = [sig.arg_trees[a] for a in nums]
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


# ---------------------------------------------------------------- forward mode and Jacobians

def _float_leaves_only(sig, fname):
    for leaf in sig.leaves:
        if not _is_dynamic(leaf) or not is_float(_aval(leaf).dtype):
            raise DifferentiationError(
                f"{fname} differentiates every argument, but one is a {type(leaf).__name__}"
                f"{' of dtype ' + str(_aval(leaf).dtype) if _is_dynamic(leaf) else ''}. Pass floats, or "
                f"close over the non-float values (functools.partial or a lambda).")


def _directional_build(fun, argnums, mode):
    """Programs for one direction. Called as f(((args...), {kwargs}), [directions]):
    mode "jvp": directions are tangents of the differentiated leaves -> ((outs), (tangent outs));
    mode "vjp": directions are cotangents of the outputs -> [gradients of the differentiated leaves]."""
    def build(sig):
        ((args, kwargs), directions), _ = sig.rebuild(sig.dynamic_leaves())
        inner = Signature(tuple(args), kwargs)
        wrt, _ = _wrt_mask(inner, argnums, mode)
        prog, out_tree = trace_to_program(fun, inner)
        n_dir = len(sig.dynamic) - len(inner.dynamic)
        if mode == "jvp":
            program = jvp_program(prog, wrt)
            tree = (tuple, (out_tree, out_tree))
        else:
            for v in prog.outvars:
                if not is_float(v.aval.dtype):
                    raise DifferentiationError(f"vjp/jacrev: {_name(fun)} has an output of dtype {v.aval.dtype}; "
                                               "only floating-point outputs can be differentiated")
            program = vjp_program(prog, wrt, ["input"] * len(prog.outvars))
            program.outvars = program.outvars[len(prog.outvars):]
            tree = (list, (pytree._LEAF,) * sum(wrt))
        if len(program.invars) != len(inner.dynamic) + n_dir:
            raise ValueError(f"{mode}: expected {len(program.invars) - len(inner.dynamic)} direction arrays, "
                             f"got {n_dir}")
        return simplify(program), tree
    return build


_directional_cache = {}


def _directional(fun, argnums, mode):
    """A cached transformed function for the functional API (jvp, vjp), which has no decorator
    object to hold compiled kernels between calls."""
    key = (fun, argnums, mode)
    t = _directional_cache.get(key)
    if t is None:
        t = jit(fun) if mode == "jit" else Transformed(fun, _directional_build(fun, argnums, mode), mode)
        _directional_cache[key] = t
    return t


def _check_like(values, references, what):
    for v, r in zip(values, references):
        if np.shape(v) != np.shape(r):
            raise ShapeError(f"{what} has shape {np.shape(v)}, but the matching primal has shape {np.shape(r)}")


def jvp(fun, primals, tangents):
    """Forward mode: returns (fun(*primals), J @ tangents), tangents shaped like primals."""
    primals, tangents = tuple(primals), tuple(tangents)
    p_leaves, p_tree = pytree.flatten(primals)
    t_leaves, t_tree = pytree.flatten(tangents)
    if p_tree != t_tree:
        raise TypeError("jvp: primals and tangents must have the same tree structure")
    _float_leaves_only(Signature(primals), "jvp")
    _check_like(t_leaves, p_leaves, "a tangent")
    t_leaves = [np.asarray(t, dtype=_aval(p).dtype) if not _is_dynamic(t) or isinstance(t, (float, np.generic))
                else t for t, p in zip(t_leaves, p_leaves)]
    return _directional(fun, tuple(range(len(primals))), "jvp")((primals, {}), t_leaves)


def vjp(fun, *primals, has_aux=False):
    """Reverse mode: returns (fun(*primals), vjp_fn) where vjp_fn(ct) = ct @ J, one gradient per primal.

    With has_aux, fun returns (out, aux) and vjp returns (out, vjp_fn, aux).
    The forward pass runs again, fused with the backward pass, when vjp_fn is called."""
    _float_leaves_only(Signature(primals), "vjp")
    target = (lambda *a: fun(*a)[0]) if has_aux else fun
    result = _directional(fun, None, "jit")(*primals)
    out = result[0] if has_aux else result
    out_leaves, out_tree = pytree.flatten(out)
    backward = _directional(target, tuple(range(len(primals))), "vjp")
    arg_trees = [pytree.flatten(p)[1] for p in primals]

    def vjp_fn(ct):
        ct_leaves, ct_tree = pytree.flatten(ct)
        if ct_tree != out_tree:
            raise TypeError("vjp_fn: the cotangent must have the same structure as the output")
        _check_like(ct_leaves, out_leaves, "the cotangent")
        ct_leaves = [np.asarray(c, dtype=_aval(o).dtype) if not hasattr(c, "_gj_trace") else c
                     for c, o in zip(ct_leaves, out_leaves)]
        grads = iter(backward((primals, {}), ct_leaves))
        return tuple(pytree.unflatten(t, [next(grads) for _ in range(pytree.num_leaves(t))]) for t in arg_trees)

    return (out, vjp_fn, result[1]) if has_aux else (out, vjp_fn)


def _basis(aval, j):
    e = np.zeros(aval.size, aval.dtype)
    e[j] = 1
    return e.reshape(aval.shape)


class _Jacobian:
    """jacfwd / jacrev: one directional derivative per input (fwd) or output (rev) element, stacked.

    Concrete calls reuse one compiled directional kernel; inside another transformation the
    directions are inlined into the trace."""

    def __init__(self, fun, argnums, has_aux, mode):
        self.fun, self.argnums, self.has_aux, self.mode = fun, argnums, has_aux, mode
        self.target = (lambda *a, **k: fun(*a, **k)[0]) if has_aux else fun
        self.forward = jit(fun)
        functools.update_wrapper(self, fun, updated=())

    def __call__(self, *args, **kwargs):
        try:
            return self._call(args, kwargs)
        except Exception as e:
            raise e.with_traceback(filter_traceback(e.__traceback__)) from None

    def _call(self, args, kwargs):
        sig = Signature(args, kwargs)
        wrt, _ = _wrt_mask(sig, self.argnums, "jacfwd" if self.mode == "jvp" else "jacrev")
        nums = _argnums_tuple(self.argnums, len(args))
        in_leaves = [leaf for leaf, flag in zip(sig.dynamic_leaves(), wrt) if flag]
        in_avals = [_aval(leaf) for leaf in in_leaves]
        result = self.forward(*args, **kwargs)
        out = result[0] if self.has_aux else result
        out_leaves, out_tree = pytree.flatten(out)
        out_avals = [_aval(leaf) if _is_dynamic(leaf) else ShapedArray((), np.float64) for leaf in out_leaves]
        directional = _directional(self.target, self.argnums, self.mode)
        forward = self.mode == "jvp"
        # parts[o][i]: derivatives of output leaf o wrt input leaf i, one per basis direction:
        # columns (one per input element) in forward mode, rows (one per output element) in reverse
        parts = [[[] for _ in in_avals] for _ in out_avals]
        basis_avals = in_avals if forward else out_avals
        for b, aval in enumerate(basis_avals):
            for j in range(aval.size):
                directions = [_basis(a, j) if k == b else np.zeros(a.shape, a.dtype)
                              for k, a in enumerate(basis_avals)]
                result_j = directional((args, kwargs), directions)
                if forward:
                    for o, t in enumerate(pytree.flatten(result_j[1])[0]):
                        parts[o][b].append(t)
                else:
                    for i, g in enumerate(result_j):
                        parts[b][i].append(g)
        blocks = [[_assemble(parts[o][i], oa, ia, columns_last=forward) for i, ia in enumerate(in_avals)]
                  for o, oa in enumerate(out_avals)]
        arg_trees = [sig.arg_trees[a] for a in nums]
        per_out = []
        for o in range(len(out_avals)):
            it = iter(blocks[o])
            trees = [pytree.unflatten(t, [next(it) for _ in range(pytree.num_leaves(t))]) for t in arg_trees]
            per_out.append(trees[0] if isinstance(self.argnums, int) else tuple(trees))
        jac = pytree.unflatten(out_tree, per_out)
        return (jac, result[1]) if self.has_aux else jac


def _assemble(parts, out_aval, in_aval, columns_last):
    """Stack directional derivatives into an array of shape out.shape + in.shape: columns stack
    to (*out, n_in), rows to (n_out, *in); either reshapes to the same layout."""
    stacked = np.stack(parts, axis=-1 if columns_last else 0) if parts else np.zeros((0,), out_aval.dtype)
    return np.reshape(stacked, out_aval.shape + in_aval.shape)


@_decorator
def jacfwd(fun, argnums=0, has_aux=False):
    """The Jacobian by forward mode: one JVP per input element. Shape: out.shape + in.shape."""
    return _Jacobian(fun, argnums, has_aux, "jvp")


@_decorator
def jacrev(fun, argnums=0, has_aux=False):
    """The Jacobian by reverse mode: one VJP per output element. Shape: out.shape + in.shape."""
    return _Jacobian(fun, argnums, has_aux, "vjp")


@_decorator
def hessian(fun, argnums=0, has_aux=False):
    """Forward-over-reverse: jacfwd(jacrev(f))."""
    return jacfwd(jacrev(fun, argnums, has_aux), argnums, has_aux)
