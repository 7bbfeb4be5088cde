"""Signatures, compiled executables and the per-signature cache behind every transformation.

A `Transformed` function builds a flat IR program per argument signature (tree structure, shapes,
dtypes, static values), compiles it once into a Numba kernel (`Executable`) and keeps it keyed by
the signature; a fast path keyed by shapes and dtypes alone serves the common call.  Executables
are also shared by program content (kernel source, output tree, constants), so tracing the same
function again (a new `grad(loss)` object each step) reuses the kernel.  Called on tracers
(inside another transformation), or on a function that closes over an enclosing trace's values,
the program is inlined into the enclosing trace instead, which is how transformations compose.
Before a cached kernel runs, the bindings the function captured are checked (`captures`): a
rebound closure variable, global or attribute makes it trace again.

Caches are bounded (`lru`); `disable_jit` and the tracer stack are per thread.  Diagnostics
(`diagnostics`: compile logs, debug_nans, graph drawing, memory reports) hook in where a function
is traced and compiled, never on the fast path.
"""
import contextlib
import functools
import threading
import warnings
import weakref

import numpy as np

from . import captures, pytree
from .diagnostics import compile_log, nans, unrolled
from .diagnostics.config import config as _diagnostics
from .diagnostics.names import leaf_names
from .errors import filter_traceback, surface
from .interpreter import eval_program
from .ir import ShapedArray
from .lowering.codegen import lower_program
from .lru import LRU, cache_size
from .primitives.core import check_kernel_dtypes, native_array
from .random_guard import call_guarded
from .tracing import Builder, Tracer


class _ThreadState(threading.local):
    disable_jit = False


_state = _ThreadState()
# threads inside disable_jit, plus 1 under debug_nans: while 0, the fast path need not ask `_fast_allowed`
_detours = 1 if _diagnostics.debug_nans else 0
_detours_lock = threading.Lock()


def _detour(delta):
    global _detours
    with _detours_lock:
        _detours += delta


def _fast_allowed():
    return not _state.disable_jit and not _diagnostics.debug_nans
stats = {"traces": 0}
REBIND_WARNING = 20     # warn when a function has been traced again this often for rebound captures


@contextlib.contextmanager
def disable_jit():
    """Run transformed functions with the reference NumPy interpreter instead of compiled kernels
    (in this thread; kernels are neither compiled nor cached meanwhile)."""
    old = _state.disable_jit
    _state.disable_jit = True
    _detour(1)
    try:
        yield
    finally:
        _state.disable_jit = old
        _detour(-1)


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
    return ShapedArray(leaf.shape, dtype if dtype.isnative else dtype.newbyteorder("="))


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
        leaf = native_array(leaf)
        if leaf.ndim == 0:
            return leaf[()]
        return leaf if leaf.flags.c_contiguous else np.ascontiguousarray(leaf)
    return leaf


def _argnums_tuple(argnums, nargs):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not isinstance(n, int) or not -nargs <= n < nargs:
            raise ValueError(f"argnums={argnums!r} is out of range for a function called with {nargs} arguments")
    nums = tuple(n % nargs for n in nums)
    if len(set(nums)) != len(nums):
        twice = next(n for n in nums if nums.count(n) > 1)
        raise ValueError(f"argnums={argnums!r} names argument {twice} more than once; list each argument "
                         f"once (JAX does not support repeated argnums either)")
    return nums


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


@compile_log.timed_trace
def trace_to_program(fun, sig, has_aux=False):
    """Trace `fun` on abstract versions of the signature's dynamic leaves.

    With `has_aux`, `fun` returns (value, aux) and leaves of aux that are not arrays or floats
    (ints, strings, None, objects) are kept in the output tree and returned as they are."""
    stats["traces"] += 1
    with Builder() as b:
        tracers = [b.new_arg(_aval(leaf)) for leaf in sig.dynamic_leaves()]
        args, kwargs = sig.rebuild(tracers)
        out = call_guarded(fun, args, kwargs)
        if has_aux and type(out) in (tuple, list) and len(out) == 2:
            value_leaves, value_tree = pytree.flatten(out[0])
            aux_leaves, aux_tree = pytree.flatten(out[1], static=lambda leaf: not _is_dynamic(leaf))
            out_leaves, out_tree = value_leaves + aux_leaves, (type(out), (value_tree, aux_tree))
        else:
            out_leaves, out_tree = pytree.flatten(out)
        for leaf in out_leaves:
            if not _is_dynamic(leaf) and not isinstance(leaf, (int, bool)):
                raise TypeError(f"{_name(fun)} returned a {type(leaf).__name__}; functions traced by gradjit "
                                "must return arrays, numbers, or tuples/lists/dicts of them")
        prog = b.finish(out_leaves)
    unrolled.check(prog, _name(fun))
    return prog, out_tree


def _name(fun):
    return getattr(fun, "__name__", repr(fun))

# ---------------------------------------------------------------- compiled executables

def _fast_key(args):
    """A cheap signature for the common call: every argument a contiguous array or a float."""
    key = []
    for a in args:
        t = type(a)
        if t is np.ndarray and a.shape and a.flags.c_contiguous:
            key.append((a.shape, a.dtype))       # the dtype, byte order included
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
    if type(treedef) is pytree.Static:
        keys.append(treedef.value)
        return f"_k{len(keys) - 1}"
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
        check_kernel_dtypes(prog)
        self.source = lower_program(prog)
        self.kernel = compile_source(self.source)
        consts = [np.ascontiguousarray(native_array(c)) if isinstance(c, np.ndarray) else c for c in prog.consts]
        results = [f"_s{i}(o[{i}])" if v.aval.shape == () else f"o[{i}]" for i, v in enumerate(prog.outvars)]
        args = ", ".join(f"a{i}" for i in range(len(prog.invars)))
        call_args = ", ".join([f"a{i}" for i in range(len(prog.invars))] + [f"c{i}" for i in range(len(consts))])
        keys = []
        tree = _tree_expr(out_tree, iter(results), keys)
        env = {"kernel": self.kernel, **{f"c{i}": c for i, c in enumerate(consts)},
               **{f"_k{i}": k for i, k in enumerate(keys)},
               **{f"_s{i}": v.aval.dtype.type for i, v in enumerate(prog.outvars)}}
        exec(f"def fast({args}):\n    o = kernel({call_args})\n    return {tree}\n", env)
        self.fast = env["fast"]    # fast(*leaves) -> output tree

    def __call__(self, leaves):
        return self.fast(*leaves)


class Interpreted:
    """The reference-interpreter counterpart of Executable (used under `disable_jit`)."""

    def __init__(self, prog, out_tree):
        self.program, self.out_tree = prog, out_tree

    def __call__(self, leaves):
        out = [np.asarray(v)[()] if np.ndim(v) == 0 else np.array(v)     # a fresh copy, as compiled
               for v in eval_program(self.program, list(leaves))]
        return pytree.unflatten(self.out_tree, out)


class Lowered:
    """What `f.lower(*args)` returns: the IR and the generated kernel source; `draw()` pictures
    the program and `memory` reports what the kernel allocates."""

    def __init__(self, prog, source, input_names=None, name=None):
        self.ir, self.source = prog, source
        self._input_names, self._name = input_names, name

    def draw(self, path=None):
        """The program as a graph (forward and backward passes, residuals marked); `path` ending in
        .dot writes the DOT text, .svg/.png/.pdf renders it (needs Graphviz). Returns the Graph."""
        from .diagnostics.draw import draw_program
        graph = draw_program(self.ir, self._name, self._input_names)
        if path is not None:
            graph.save(path)
        return graph

    @property
    def memory(self):
        """Bytes of residuals, temporaries and outputs the kernel allocates, next to the inputs'."""
        from .diagnostics.memory import MemoryReport
        return MemoryReport(self.ir)

    @property
    def loops(self):
        """What the reverse pass stores and recomputes for each loop (memory budgets and checkpointing)."""
        from .checkpointing import describe_loops
        return describe_loops(self.ir)

    def __repr__(self):
        return f"{self.ir}\n\n{self.source}"


def _closes_over_tracers(prog):
    """The function captured values of an enclosing trace (an inner transformation closing over an
    outer function's variables): its program only makes sense inlined into that trace."""
    return any(getattr(c, "_gj_trace", None) is not None for c in prog.consts)


# program content -> its Executable, while some transformed function caches it.  The Executable
# holds the program and so its constants: their ids in the key cannot be reused meanwhile.
_executables = weakref.WeakValueDictionary()


def _shared_executable(prog, out_tree):
    """The Executable of this program content, built once however many times it is traced (the
    Numba kernel itself is shared by source in runtime.kernels)."""
    key = (lower_program(prog), out_tree, tuple(v.aval for v in prog.outvars), tuple(map(id, prog.consts)))
    entry = _executables.get(key)
    if entry is None:
        entry = _executables[key] = Executable(prog, out_tree)
    return entry


class Transformed:
    """A function wrapped by a transformation; `build(sig)` returns (program, out_tree)."""

    def __init__(self, fun, build, name):
        self.fun, self._build = fun, build
        self._cache = LRU()        # signature key -> Executable
        self._fast = {}            # fast key -> Executable.fast: a memo of _cache, emptied when full
        self._captured = None      # what the function read from its environment when last traced
        self._rebinds = 0          # times it was traced again because of that
        functools.update_wrapper(self, fun, updated=())
        self.__name__ = f"{name}({_name(fun)})"

    def program(self, *args, **kwargs):
        return self._build(Signature(args, kwargs))

    def lower(self, *args, **kwargs):
        sig = Signature(args, kwargs)
        prog, _ = self._build(sig)
        names = leaf_names(sig.key[0], self.fun)
        return Lowered(prog, lower_program(prog), [names[i] for i in sig.dynamic], self.__name__)

    def __call__(self, *args, **kwargs):
        key = None if kwargs else _fast_key(args)
        if key is not None:
            fast = self._fast.get(key)
            if fast is not None and (not _detours or _fast_allowed()) and \
                    (self._captured is None or self._captured.unchanged()):
                return fast(*args)
        return self._call(args, kwargs, key)

    def _call(self, args, kwargs, fast_key):
        try:
            sig = Signature(args, kwargs)
            dyn = sig.dynamic_leaves()
            if any(getattr(leaf, "_gj_trace", None) is not None for leaf in dyn):
                prog, out_tree = self._build(sig)
                return pytree.unflatten(out_tree, eval_program(prog, dyn))
            if self._captured is not None and not self._captured.unchanged():
                self._forget()
            leaves = [_kernel_arg(leaf) for leaf in dyn]
            entry = self._cache.get(sig.key)
            if entry is None:
                with compile_log.Compile(self, sig) as record:      # stage times, recompile reasons
                    prog, out_tree = self._build(sig)
                    record.built(prog)
                    if _closes_over_tracers(prog):
                        return pytree.unflatten(out_tree, eval_program(prog, dyn))
                    if _state.disable_jit:
                        entry = Interpreted(prog, out_tree)
                        out = entry(leaves)
                    else:
                        entry = self._cache[sig.key] = _shared_executable(prog, out_tree)
                        self._captured = captures.record(self.fun)
                        if fast_key is not None and all(type(a) is not np.ndarray or a.dtype.isnative for a in args):
                            if len(self._fast) >= cache_size():
                                self._fast = {}
                            self._fast[fast_key] = entry.fast
                        record.lowered(entry.kernel)
                        out = entry(leaves)         # the first call compiles the kernel (or loads it)
                        record.compiled()
            else:
                if _state.disable_jit:
                    entry = Interpreted(entry.program, entry.out_tree)
                out = entry(leaves)
            if _diagnostics.debug_nans:
                nans.check(self.__name__, sig, entry.program, leaves, out)
            return out
        except Exception as e:
            e = surface(e)
            raise e.with_traceback(filter_traceback(e.__traceback__)) from None

    def _forget(self):
        """A captured binding changed: every kernel of this function may be stale."""
        compile_log.rebound(self, self._captured)
        self._cache.clear()
        self._fast = {}
        self._captured = None
        self._rebinds += 1
        if self._rebinds == REBIND_WARNING:
            warnings.warn(f"{self.__name__} was traced again {self._rebinds} times because a value it reads "
                          f"from its environment (a closure variable, a global or an attribute) was rebound. "
                          f"Pass values that change as arguments instead, so it is traced once.",
                          RuntimeWarning, stacklevel=4)

    def __repr__(self):
        return f"<gradjit {self.__name__}>"

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __reduce__(self):      # pickled as the call that made it, re-traced where loaded: compiler.pickling
        from .pickling import reduce_transformed
        return reduce_transformed(self)


def _decorator(transform):
    """Let `transform` be used as @t, @t(...), t(f) and t(f, ...).  The result remembers the call
    that made it (`_gj_recipe`), which is how it pickles."""
    @functools.wraps(transform)
    def wrapper(fun=None, *args, **kwargs):
        if fun is None:
            return lambda f: wrapper(f, *args, **kwargs)
        transformed = transform(fun, *args, **kwargs)
        transformed._gj_recipe = (wrapper, fun, args, kwargs)
        return transformed
    return wrapper
