"""Loops and conditionals that stay loops: `fori_loop`, `scan`, `while_loop`, `cond`, `switch`,
with JAX's spelling and semantics.  Carries, scanned inputs and outputs are pytrees.

Inside a traced function (under grad, jit, jvp, ...) each one traces its body once into a closed
sub-program and records a single equation (compiler/primitives/control.py), so a 100,000-step time
loop is one loop in the IR and in the compiled kernel.  Called on concrete values outside any
trace, they simply run as Python loops (on NumPy arrays or eager `runtime` tensors alike).
"""
import numpy as np

from . import pytree
from .checkpointing import parse_budget
from .errors import ShapeError, TracingError, at_line, user_source
from .ir import ShapedArray, dtype_short
from .primitives import elementwise as ew
from .primitives.control import common_interface, cond_p, scan_p, while_p
from .primitives.core import aval_of, is_float

__all__ = ["fori_loop", "scan", "while_loop", "cond", "switch"]


def _tracing():
    from .transforms.subprograms import current_builder
    return current_builder() is not None


def _trace(fn, in_avals):
    from .transforms.subprograms import trace_program
    return trace_program(fn, in_avals)


# ---------------------------------------------------------------- pytree leaves and messages

class _Star:
    def __repr__(self):
        return "*"


def _describe(tree):
    if tree is pytree._LEAF:
        return "a single array"
    return repr(pytree.unflatten(tree, [_Star()] * pytree.num_leaves(tree)))


def _paths(tree, prefix=""):
    """The path of each leaf, as written to reach it: "[1]['v']"."""
    if tree is pytree._LEAF:
        return [prefix]
    if tree is None:
        return []
    if tree[0] is dict:
        return [p for k, sub in zip(tree[1], tree[2]) for p in _paths(sub, f"{prefix}[{k!r}]")]
    return [p for i, sub in enumerate(tree[1]) for p in _paths(sub, f"{prefix}[{i}]")]


def _is_weak(leaf):
    return type(leaf) in (int, float, bool)


def _leaf_aval(leaf, what, label, source):
    """The type of a carry/operand/output leaf; anything but arrays and numbers is an error."""
    if not (isinstance(leaf, (np.ndarray, np.generic, int, float, bool)) or hasattr(leaf, "_gj_trace")):
        raise TypeError(at_line(
            f"{what}: {label} is a {type(leaf).__name__}; loop values and branch outputs must be arrays, "
            f"numbers, or tuples/lists/dicts of them", source))
    return aval_of(leaf)


def _fmt(aval):
    return f"shape {aval.shape} and dtype {dtype_short(aval.dtype)}"


def _new_carry(what, source, name, in_tree, in_avals, out, cast):
    """The leaves of a body's new carry, checked against the carry it received.  Python numbers
    take the carry's dtype (when `cast`: under a trace)."""
    leaves, tree = pytree.flatten(out)
    if tree != in_tree:
        raise ShapeError(at_line(
            f"{what}: the body must return {name} with the structure it was given, {_describe(in_tree)}, "
            f"but it returned {_describe(tree)}. Return the same tuple/list/dict structure every step.", source))
    checked = []
    for path, leaf, aval in zip(_paths(in_tree), leaves, in_avals):
        label = f"{name}{path}"
        got = _leaf_aval(leaf, what, label, source)
        if _is_weak(leaf) and aval.shape == () and np.can_cast(got.dtype, aval.dtype, "same_kind"):
            checked.append(aval.dtype.type(leaf) if cast else leaf)
            continue
        if got != aval:
            hint = (" Start from a float (0.0 rather than 0)." if is_float(got.dtype) and not is_float(aval.dtype)
                    else "")
            raise ShapeError(at_line(
                f"{what}: the body changes the type of {label}: it enters with {_fmt(aval)} and the body "
                f"returns {_fmt(got)}. A loop carry keeps its shape and dtype from step to step: make the "
                f"initial value match what the body returns, or make the body keep it.{hint}", source))
        checked.append(leaf)
    return checked


def _output_leaves(out, what, name, source):
    leaves, tree = pytree.flatten(out)
    for path, leaf in zip(_paths(tree), leaves):
        _leaf_aval(leaf, what, f"{name}{path}", source)
    return leaves, tree


# ---------------------------------------------------------------- scan

def _scan_length(xs_leaves, length, source):
    if length is not None and not isinstance(length, (int, np.integer)):
        raise TracingError(at_line(
            f"scan: length must be a Python int, got {type(length).__name__}. For a trip count known only "
            "at run time use fori_loop with traced bounds or while_loop.", source))
    lengths = []
    for leaf in xs_leaves:
        shape = np.shape(leaf) if not hasattr(leaf, "shape") else tuple(leaf.shape)
        if not shape:
            raise ShapeError(at_line("scan: every leaf of xs must have a leading axis to scan over; "
                                     "got a scalar", source))
        lengths.append(shape[0])
    if len(set(lengths)) > 1:
        raise ShapeError(at_line(f"scan: the leaves of xs have different lengths along axis 0: {lengths}", source))
    if length is None:
        if not lengths:
            raise ShapeError(at_line("scan: give length= when xs is None (there is nothing to scan over)", source))
        return lengths[0]
    if lengths and lengths[0] != length:
        raise ShapeError(at_line(f"scan: length={length} but xs has length {lengths[0]} along axis 0", source))
    if length < 0:
        raise ShapeError(at_line(f"scan: length must be non-negative, got {length}", source))
    return int(length)


def _pair(out, source):
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(at_line(
            f"scan: the function must return a pair (new_carry, y), got {type(out).__name__}"
            f"{' of length ' + str(len(out)) if isinstance(out, (tuple, list)) else ''}; "
            "return (carry, None) when there is no per-step output", source))
    return out


def _trace_scan_body(f, init_tree, carry_avals, xs_tree, x_avals, source):
    nk, trees = len(carry_avals), []

    def body(*args):
        new_carry, y = _pair(f(pytree.unflatten(init_tree, args[:nk]), pytree.unflatten(xs_tree, args[nk:])), source)
        carry = _new_carry("scan", source, "carry", init_tree, carry_avals, new_carry, cast=True)
        ys, y_tree = _output_leaves(y, "scan", "y", source)
        trees.append(y_tree)
        return carry + ys
    prog, consts = _trace(body, carry_avals + x_avals)
    return prog, consts, trees[0]


def scan(f, init, xs=None, length=None, reverse=False, memory_budget=None):
    """Loop `f(carry, x) -> (carry, y)` over the leading axis of `xs`; returns (final carry, stacked ys).

    Like `jax.lax.scan`: `init`, `xs` and the ys are pytrees; `length` is needed when `xs` is None;
    `reverse=True` runs from the last element to the first (ys keep xs's order).  `memory_budget`
    (bytes or "256MB") bounds what reverse mode stores for this loop (compiler/checkpointing.py)."""
    source = user_source()
    memory_budget = _budget(memory_budget)
    init_leaves, init_tree = pytree.flatten(init)
    xs_leaves, xs_tree = pytree.flatten(xs)
    length = _scan_length(xs_leaves, length, source)
    carry_avals = [_leaf_aval(l, "scan", f"init{p}", source) for l, p in zip(init_leaves, _paths(init_tree))]
    if not _tracing() and length:
        return _scan_concrete(f, init, init_tree, carry_avals, xs_leaves, xs_tree, length, reverse, source)
    x_avals = [a.update(shape=a.shape[1:]) for a in map(aval_of, xs_leaves)]
    prog, consts, y_tree = _trace_scan_body(f, init_tree, carry_avals, xs_tree, x_avals, source)
    nk = len(init_leaves)
    if not _tracing():            # zero steps: the carry as given, empty ys of the body's types
        ys = [np.empty((0,) + a.shape, a.dtype) for a in prog.out_avals[nk:]]
        return init, pytree.unflatten(y_tree, ys)
    outs = _bind(scan_p, consts + init_leaves + xs_leaves, body=prog, num_consts=len(consts), num_carry=nk,
                 length=length, reverse=bool(reverse), memory_budget=memory_budget)
    return pytree.unflatten(init_tree, outs[:nk]), pytree.unflatten(y_tree, outs[nk:])


def _scan_concrete(f, carry, init_tree, carry_avals, xs_leaves, xs_tree, length, reverse, source):
    ys, y_tree = [None] * length, None
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        carry, y = _pair(f(carry, pytree.unflatten(xs_tree, [x[i] for x in xs_leaves])), source)
        _new_carry("scan", source, "carry", init_tree, carry_avals, carry, cast=False)
        ys[i], tree = _output_leaves(y, "scan", "y", source)
        if y_tree is not None and tree != y_tree:
            raise ShapeError(at_line(f"scan: the per-step output y changes structure from "
                                     f"{_describe(y_tree)} to {_describe(tree)}", source))
        y_tree = tree
    stacked = [np.stack([step[k] for step in ys]) for k in range(len(ys[0]))]
    return carry, pytree.unflatten(y_tree, stacked)


def _budget(value):
    return None if value is None else parse_budget(value)


def _bind(prim, args, **params):
    """Record a loop equation (when it has outputs: an equation without any is dead code)."""
    n_out = len(prim.abstract_eval(*[aval_of(a) for a in args], **params))
    return prim.bind(*args, **params) if n_out else []


# ---------------------------------------------------------------- fori_loop and while_loop

def _is_static_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _bound(x, name, source):
    aval = _leaf_aval(x, "fori_loop", name, source)
    if aval.shape != () or not np.issubdtype(aval.dtype, np.integer):
        raise ShapeError(at_line(f"fori_loop: {name} must be an integer scalar, got {_fmt(aval)}", source))
    return x if _is_static_int(x) else ew.convert(x, np.int64)


def fori_loop(lower, upper, body_fun, init_val, memory_budget=None):
    """`val = body_fun(i, val)` for i in range(lower, upper); returns the final val.

    With Python-int bounds this is a scan, with traced bounds a while_loop; both differentiate in
    both modes.  `memory_budget` as for `scan`."""
    source = user_source()
    memory_budget = _budget(memory_budget)
    lower, upper = _bound(lower, "lower", source), _bound(upper, "upper", source)
    leaves, tree = pytree.flatten(init_val)
    avals = [_leaf_aval(l, "fori_loop", f"init_val{p}", source) for l, p in zip(leaves, _paths(tree))]
    if not _tracing():
        val = init_val
        for i in range(int(lower), int(upper)):
            val = body_fun(i, val)
            _new_carry("fori_loop", source, "val", tree, avals, val, cast=False)
        return val
    counter = ShapedArray((), np.int64)

    def body(i, *vals):
        new = body_fun(i, pytree.unflatten(tree, vals))
        return [i + 1] + _new_carry("fori_loop", source, "val", tree, avals, new, cast=True)
    prog, consts = _trace(body, [counter] + avals)
    if _is_static_int(lower) and _is_static_int(upper):
        outs = _bind(scan_p, consts + [np.int64(lower)] + leaves, body=prog, num_consts=len(consts),
                     num_carry=1 + len(leaves), length=max(int(upper) - int(lower), 0), reverse=False,
                     memory_budget=memory_budget)
    else:
        upper = np.int64(upper) if _is_static_int(upper) else upper
        cond, cond_consts = _trace(lambda i, *vals: [ew.lt_p.bind(i, upper)], [counter] + avals)
        outs = _bind(while_p, cond_consts + consts + [lower] + leaves, cond=cond, body=prog,
                     cond_nconsts=len(cond_consts), body_nconsts=len(consts), memory_budget=memory_budget)
    return pytree.unflatten(tree, outs[1:])


def _predicate(value, what, source):
    """A scalar boolean loop condition."""
    aval = _leaf_aval(value, what, "the condition", source)
    if aval.shape != () or aval.dtype != np.bool_:
        raise ShapeError(at_line(
            f"{what}: cond_fun must return a boolean scalar, got {_fmt(aval)}. Compare to get one "
            f"(x > 0), and reduce an array with np.any / np.all.", source))
    return value


def while_loop(cond_fun, body_fun, init_val, memory_budget=None):
    """`while cond_fun(val): val = body_fun(val)`; returns the final val.  Reverse mode keeps
    snapshots of `val` within `memory_budget` (bytes or "256MB") and recomputes from them."""
    source = user_source()
    memory_budget = _budget(memory_budget)
    leaves, tree = pytree.flatten(init_val)
    avals = [_leaf_aval(l, "while_loop", f"init_val{p}", source) for l, p in zip(leaves, _paths(tree))]
    if not _tracing():
        val = init_val
        while bool(_predicate(cond_fun(val), "while_loop", source)):
            val = body_fun(val)
            _new_carry("while_loop", source, "val", tree, avals, val, cast=False)
        return val
    cond, cond_consts = _trace(lambda *v: [_predicate(cond_fun(pytree.unflatten(tree, v)), "while_loop", source)],
                               avals)
    body, body_consts = _trace(lambda *v: _new_carry("while_loop", source, "val", tree, avals,
                                                     body_fun(pytree.unflatten(tree, v)), cast=True), avals)
    outs = _bind(while_p, cond_consts + body_consts + leaves, cond=cond, body=body,
                 cond_nconsts=len(cond_consts), body_nconsts=len(body_consts), memory_budget=memory_budget)
    return pytree.unflatten(tree, outs)


# ---------------------------------------------------------------- cond and switch

def cond(pred, true_fun, false_fun, *operands):
    """`true_fun(*operands)` if pred else `false_fun(*operands)`: both are traced, one runs.

    `pred` is a boolean scalar (an integer counts as true when nonzero, as in JAX)."""
    source = user_source()
    aval = _leaf_aval(pred, "cond", "the predicate", source)
    if aval.shape != ():
        raise ShapeError(at_line(
            f"cond: the predicate must be a scalar, got shape {aval.shape}. Reduce it (np.any, np.all), "
            f"or choose elementwise with np.where(pred, a, b).", source))
    if not (aval.dtype == np.bool_ or np.issubdtype(aval.dtype, np.integer)):
        raise ShapeError(at_line(
            f"cond: the predicate must be a boolean scalar, got dtype {dtype_short(aval.dtype)}. "
            f"Compare to get one (x > 0).", source))
    if not _tracing():
        return (true_fun if bool(pred) else false_fun)(*operands)
    if aval.dtype != np.bool_:
        pred = ew.ne(pred, aval.dtype.type(0))
    return _branch(ew.convert(pred, np.int64), (false_fun, true_fun), operands, "cond", source,
                   ["false_fun", "true_fun"])


def switch(index, branches, *operands):
    """`branches[index](*operands)`, with `index` clamped into range (as in JAX)."""
    source = user_source()
    branches = list(branches)
    if not branches or not all(callable(b) for b in branches):
        raise TypeError(at_line("switch: branches must be a non-empty sequence of functions", source))
    aval = _leaf_aval(index, "switch", "the index", source)
    if aval.shape != () or not np.issubdtype(aval.dtype, np.integer):
        raise ShapeError(at_line(
            f"switch: the index must be an integer scalar, got {_fmt(aval)}. Convert it, e.g. "
            f"(x > 0).astype(int), or round and cast a float.", source))
    if not _tracing():
        return branches[min(max(int(index), 0), len(branches) - 1)](*operands)
    return _branch(index, branches, operands, "switch", source, [f"branch {k}" for k in range(len(branches))])


def _branch(index, branches, operands, what, source, names):
    leaves, tree = pytree.flatten(operands)
    avals = [_leaf_aval(l, what, f"operand{p}", source) for l, p in zip(leaves, _paths(tree))]
    results = [_trace_branch(fn, tree, avals, what, source, None) for fn in branches]
    out_tree = results[0][2]
    for k, (_, _, t, _) in enumerate(results):
        if t != out_tree:
            raise ShapeError(at_line(
                f"{what}: every branch must return the same structure, but {names[0]} returns "
                f"{_describe(out_tree)} and {names[k]} returns {_describe(t)}", source))
    targets = []       # the type of each output: Python numbers take the type the other branches give
    for k, path in enumerate(_paths(out_tree)):
        typed = [(r[0].out_avals[k], b) for b, r in enumerate(results) if not r[3][k]]
        target = typed[0][0] if typed else results[0][0].out_avals[k]
        for b, r in enumerate(results):
            got = r[0].out_avals[k]
            if got != target and not (r[3][k] and got.shape == target.shape):
                first = typed[0][1] if typed else 0
                raise ShapeError(at_line(
                    f"{what}: the branches return different types for output{path or ''}: {names[first]} "
                    f"gives {_fmt(target)}, {names[b]} gives {_fmt(got)}. Every branch must return the same "
                    f"shapes and dtypes.", source))
        targets.append(target)
    results = [r if all(a == t for a, t in zip(r[0].out_avals, targets)) else
               _trace_branch(fn, tree, avals, what, source, targets) for fn, r in zip(branches, results)]
    progs, consts = common_interface([r[0] for r in results], [r[1] for r in results])
    outs = _bind(cond_p, [index] + consts + leaves, branches=tuple(progs))
    return pytree.unflatten(out_tree, outs)


def _trace_branch(fn, tree, avals, what, source, targets):
    """(program, consts, output tree, which outputs are Python numbers); with `targets`, Python
    numbers are cast to those types."""
    found = []

    def branch(*args):
        out, out_tree = _output_leaves(fn(*pytree.unflatten(tree, args)), what, "output", source)
        weak = [_is_weak(leaf) for leaf in out]
        if targets is not None:
            out = [t.dtype.type(leaf) if w else leaf for leaf, w, t in zip(out, weak, targets)]
        found.append((out_tree, weak))
        return out
    prog, consts = _trace(branch, avals)
    return prog, consts, found[0][0], found[0][1]
