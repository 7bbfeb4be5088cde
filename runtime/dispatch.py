"""Eager execution: run an operation on tensors' data and record one graph node for it.

Every operation is a front-end function of `compiler.numpy_api` (or a composite written with
them, or a single primitive).  The forward value is computed with NumPy; if grad is needed the
operation's signature (function, shapes, dtypes, static arguments, which inputs require grad)
looks up a cached `derivatives.Entry`, built once by tracing the function into a Program and
deriving its VJP program from the compiler's rules.  Nothing is traced on the hot path.
"""
import numpy as np

from compiler import numpy_api as api
from compiler import pytree
from compiler.errors import UnsupportedFunctionError, at_line, user_source
from compiler.ir import ShapedArray
from compiler.primitives import structural as st

from . import names
from .anomaly import forward_source
from .anomaly import state as _anomaly
from .derivatives import build_entry, build_formula_entry
from .errors import AutogradError
from .graph import Node
from .modes import state as _mode
from .tensor import Tensor, new_tensor

_cache = {}            # signature -> Entry
CACHE_LIMIT = 50_000
_NO_EDGE = (None, 0)
_ndarray = np.ndarray

# ufuncs whose NumPy semantics on float arrays equal the front end's: computed with the raw
# ufunc, and Python scalars among their operands are inputs of the backward program, not constants.
FAST_UFUNCS = {np.add, np.subtract, np.multiply, np.true_divide, np.maximum, np.minimum, np.negative,
               np.exp, np.log, np.log1p, np.expm1, np.sqrt, np.sin, np.cos, np.tan, np.tanh, np.sinh,
               np.cosh, np.arctan, np.arcsin, np.arccos, np.absolute, np.matmul}
# results without a derivative: never recorded
NONDIFF = {np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
           np.logical_and, np.logical_or, np.logical_not, np.zeros_like, np.ones_like,
           np.empty_like}   # np.full_like is not: its fill value may require grad
# NumPy functions gradjit has no rule for, but whose results carry no derivative anyway (integer
# or boolean results). np.sort and np.unique are not here: their values do depend differentiably
# on the input; np.floor, np.sign... are operations in `torch_ops` (zero gradient, recorded).
NONDIFF_FALLBACK = {np.argmax, np.argmin, np.argsort, np.isnan, np.isinf, np.isfinite, np.isclose,
                    np.allclose, np.array_equal, np.count_nonzero, np.nonzero, np.any, np.all,
                    np.searchsorted, np.array2string, np.array_repr, np.array_str, np.shape, np.ndim,
                    np.size, np.result_type}
# Filled by `torch_ops`: the operations whose eager derivative is PyTorch's own formula.
UFUNC_FORMULAS = {}    # fast-path ufunc -> formula(ct, out, *operands)
OPS = {}               # NumPy function or ufunc -> eager operation taking the same arguments
PRIMITIVE_OPS = {}     # primitive -> eager operation (for primitives bound on tensors)
_REDUCERS = {np.add: np.sum, np.multiply: np.prod, np.maximum: np.max, np.minimum: np.min}


def edge(t):
    """The (node, output index) a gradient for tensor `t` flows into."""
    if t._rg:
        fn = t.grad_fn
        return (fn, t._out_nr) if fn is not None else (t._accumulator(), 0)
    return _NO_EDGE


def _wrap(out):
    return out if type(out) is _ndarray else np.asarray(out)


def _inference_error():
    raise AutogradError(
        "Inference tensors cannot be saved for backward: a tensor created under rt.inference_mode() "
        "was used in an operation that records a graph. Use t.clone() outside inference mode to get a "
        "normal tensor, or create it under rt.no_grad() instead.")


def _entry(key, call, in_avals, wrt, name, formula=None, out_aval=None, save=()):
    if formula is None:
        entry = build_entry(call, in_avals, wrt, name)
    else:
        entry = build_formula_entry(formula, in_avals, out_aval, wrt, name, save)
    if key is not None:
        if len(_cache) >= CACHE_LIMIT:
            _cache.clear()
        _cache[key] = entry
    return entry


def _record(entry, leaves, values, outs, view=False, link=False):
    """Output tensors of one recorded operation. `leaves` are the dynamic inputs (tensors,
    arrays or weak scalars) and `values` their data; `link` checks outputs for aliasing."""
    node = Node()
    node._entry = entry
    edges = []
    for x in leaves:
        if isinstance(x, Tensor):
            if x._inference:
                _inference_error()
            if x._rg:
                fn = x.grad_fn
                edges.append((fn, x._out_nr) if fn is not None else (x._accumulator(), 0))
                continue
        edges.append(_NO_EDGE)
    node.next_functions = tuple(edges)
    node._n_out = entry.n_out
    node._retained = None
    node._source = forward_source() if _anomaly.enabled else None
    diff = entry.diff_out
    if len(outs) == 1:
        tensors = [new_tensor(outs[0], True, node, 0)]
    else:
        tensors = [new_tensor(o, True, node, k) if diff[k] else new_tensor(o) for k, o in enumerate(outs)]
    if link:
        _link_views(tensors, leaves, view)
    if entry.needs_saved:
        fast_in, fast_out = entry.fast_in, entry.fast_out
        saved = tuple([leaves[i] for i in fast_in])
        node._leaves = saved
        node._versions = tuple([x._vc[0] if isinstance(x, Tensor) else None for x in saved])
        args = [values[i] for i in fast_in]
        if fast_out:
            args += [tensors[k]._data for k in fast_out]
            node._out_versions = tuple([(tensors[k]._vc, tensors[k]._vc[0]) for k in fast_out])
        else:
            node._out_versions = ()
        node._args = tuple(args)
    else:
        node._args = node._leaves = node._versions = node._out_versions = ()
    return tensors


def _link_views(tensors, leaves, view):
    """Outputs that alias an input: views share its data and version counter (PyTorch
    semantics); any other operation gets its own copy."""
    for t in tensors:
        d = t._data
        for x in leaves:
            if isinstance(x, Tensor):
                xd = x._data
                if d is xd or (d.base is not None and np.may_share_memory(d, xd)):
                    if view:
                        t._vc = x._vc
                        t._base = x._base if x._base is not None else x
                    else:
                        t._data = d.copy()
                    break


# ---------------------------------------------------------------------- ufuncs (the hot path)

def apply_ufunc(ufunc, operands):
    """An elementwise operation or matmul on tensors, arrays and Python scalars."""
    if ufunc not in FAST_UFUNCS and ufunc not in NONDIFF:
        op = OPS.get(ufunc)
        return op(*operands) if op is not None else apply(ufunc, api.UFUNCS[ufunc], tuple(operands))
    datas = []
    need = False
    raw = True
    for x in operands:
        tx = type(x)
        if tx is Tensor:
            d = x._data
            if x._rg:
                need = True
            if d.dtype.kind != "f":
                raw = False
        elif tx is float or tx is int:
            d = x
        elif isinstance(x, Tensor):
            d = x._data
            need = need or x._rg
            raw = raw and d.dtype.kind == "f"
        elif getattr(x, "_gj_trace", None) is not None:
            return api.UFUNCS[ufunc](*operands)          # a compiler tracer: the compiler records
        elif tx is bool:
            d = x
        else:
            d = np.asarray(x)
            raw = raw and d.dtype.kind == "f"
        datas.append(d)
    fe = api.UFUNCS[ufunc]
    if raw:
        try:
            out = ufunc(*datas)
        except ValueError:
            out = fe(*datas)                              # raises gradjit's ShapeError
    else:
        out = fe(*datas)
    if type(out) is not _ndarray:
        out = np.asarray(out)
    if not (need and _mode.grad_enabled) or ufunc in NONDIFF:
        return new_tensor(out)
    key = [ufunc]
    for x, d in zip(operands, datas):
        if isinstance(x, Tensor):
            key.append((d.shape, d.dtype.char, x._rg))
        elif type(d) is _ndarray:
            key.append((d.shape, d.dtype.char))
        else:
            key.append(type(d))
    key = tuple(key)
    entry = _cache.get(key)
    if entry is None:
        promoted = np.result_type(*[d.dtype if type(d) is _ndarray else d for d in datas])
        avals = [ShapedArray(d.shape, d.dtype) if type(d) is _ndarray else ShapedArray((), promoted)
                 for d in datas]
        wrt = [isinstance(x, Tensor) and x._rg for x in operands]
        formula = UFUNC_FORMULAS.get(ufunc)
        entry = _entry(key, fe, avals, wrt, names.of_function(ufunc, operands, {}), formula,
                       ShapedArray(out.shape, out.dtype))
    if not entry.record:
        return new_tensor(out)
    return _record(entry, operands, datas, (out,))[0]


# ---------------------------------------------------------------------- any front-end function

_NESTED = (list, tuple, dict)


def _getitem_forward(x, key):
    return x[key]


# NumPy functions computed by NumPy itself in the forward pass (the front end mirrors them exactly;
# NumPy is faster and its results are what a NumPy user expects); the front end still defines the
# traced program that the backward pass is derived from.
_NUMPY_FORWARD = {np.sum, np.mean, np.max, np.min, np.prod, np.var, np.std, np.reshape, np.ravel,
                  np.transpose, np.swapaxes, np.moveaxis, np.squeeze, np.expand_dims, np.broadcast_to,
                  np.concatenate, np.stack, np.flip, np.outer, np.where, np.square}


def apply(func, fe, args, kwargs=None, name=None, view=False, forward=None, backward=None, save=()):
    """Run front-end function `fe(*args, **kwargs)` eagerly; `func` is the NumPy function it
    implements (for the node's name), `view` marks results that alias the input (reshape...),
    `forward` optionally computes the value (same signature as `fe`) when NumPy does it better.
    `backward(ct, out, *args)`: the operation's own derivative formula (one gradient per positional
    argument), used instead of deriving one from `fe`; `args` are then flat and `kwargs` empty.
    `save`: positions of arguments saved for it even where it reads only their shape (as PyTorch
    saves `self` for nll_loss), so that create_graph sees the tensor itself."""
    treedef = None
    if kwargs:
        treedef = True
    else:
        for a in args:
            if type(a) in _NESTED:
                treedef = True
                break
    if treedef is None:
        leaves = args                              # flat positional arguments: no pytree work
    else:
        leaves, treedef = pytree.flatten((args, kwargs or {}))
    dyn, values, need = [], [], False
    for i, x in enumerate(leaves):
        if isinstance(x, Tensor):
            dyn.append(i)
            values.append(x._data)
            if x._rg:
                need = True
        elif isinstance(x, _ndarray):
            dyn.append(i)
            values.append(x)
        elif getattr(x, "_gj_trace", None) is not None:
            return fe(*args, **(kwargs or {}))     # a compiler tracer: the compiler records
        else:
            values.append(x)
    if forward is None:
        forward = func if func in _NUMPY_FORWARD else fe
    if treedef is None:
        out = forward(*values)
    else:
        a, k = pytree.unflatten(treedef, values)
        out = forward(*a, **k)
    if type(out) is _ndarray:
        outs, out_tree = [out], None
    else:
        out_leaves, out_tree = pytree.flatten(out)
        outs = [_wrap(o) for o in out_leaves]
    dyn_leaves = [leaves[i] for i in dyn]
    if need and _mode.grad_enabled:
        key = [fe, func if name is None else name, treedef]
        for x in leaves:
            if isinstance(x, Tensor):
                d = x._data
                key.append((d.shape, d.dtype.char, x._rg))
            elif isinstance(x, _ndarray):
                key.append(("a", x.shape, x.dtype.char))
            elif type(x) is slice:
                key.append(("s", x.start, x.stop, x.step))
            else:
                key.append((type(x), x))
        try:
            key = tuple(key)
            entry = _cache.get(key)
        except TypeError:                          # an unhashable static argument
            key = entry = None
        if entry is None:
            def call(*tracers):
                vals = list(values)
                for i, t in zip(dyn, tracers):
                    vals[i] = t
                if treedef is None:
                    return fe(*vals)
                ca, ck = pytree.unflatten(treedef, vals)
                return fe(*ca, **ck)
            avals = [ShapedArray(values[i].shape, values[i].dtype) for i in dyn]
            if name is None:
                name = names.of_function(func, args, kwargs or {})
            wrt = [isinstance(x, Tensor) and x._rg for x in dyn_leaves]
            if backward is None:
                entry = _entry(key, call, avals, wrt, name)
            else:
                entry = _entry(key, None, avals, wrt, name, _positional(backward, values, dyn),
                               ShapedArray(outs[0].shape, outs[0].dtype), [dyn.index(i) for i in save if i in dyn])
        if entry.record:
            tensors = _record(entry, dyn_leaves, [values[i] for i in dyn], outs, view, True)
            return tensors[0] if out_tree is None else pytree.unflatten(out_tree, tensors)
    tensors = [new_tensor(o) for o in outs]
    _link_views(tensors, dyn_leaves, view)
    return tensors[0] if out_tree is None else pytree.unflatten(out_tree, tensors)


def _positional(backward, values, dyn):
    """`backward` as a function of the dynamic arguments only (the static ones are fixed, but no
    data of this call is kept)."""
    template = list(values)
    for i in dyn:
        template[i] = None

    def formula(ct, out, *dynamic):
        vals = list(template)
        for i, x in zip(dyn, dynamic):
            vals[i] = x
        grads = backward(ct, out, *vals)
        return [grads[i] for i in dyn]
    return formula


def apply_function(func, *args, **kwargs):
    """NumPy function `func` (np.sum, np.reshape...) on tensors."""
    op = OPS.get(func)
    if op is not None:
        return op(*args, **kwargs)
    fe = api.FUNCTIONS.get(func) or api.UFUNCS[func]
    return apply(func, fe, args, kwargs, view=func in names.VIEWS)


_binders = {}


def apply_primitive(prim, args, params):
    """A primitive bound directly on tensors (a create_graph backward pass, or front-end code)."""
    op = PRIMITIVE_OPS.get(prim)
    if op is not None:
        return op(*args, **params)
    fe = _binders.get(prim)
    if fe is None:
        fe = _binders[prim] = lambda *a, **p: prim.bind(*a, **p)
    return apply(None, fe, tuple(args), params, name=names.of_primitive(prim, args))


# ---------------------------------------------------------------------- NumPy protocols

def _fallback(func, args, kwargs, label, nondiff=False):
    """A NumPy callable with no gradjit rule: fine on data that needs no gradient."""
    leaves, treedef = pytree.flatten((args, kwargs))
    if not nondiff and func not in NONDIFF_FALLBACK and _mode.grad_enabled and \
            any(isinstance(x, Tensor) and x._rg for x in leaves):
        raise UnsupportedFunctionError(at_line(
            f"{label} is not differentiable in gradjit (no primitive or front-end rule for it). Use it "
            f"on t.detach() if you do not need its gradient. Supported NumPy functions: "
            f"{', '.join(api.SUPPORTED_NAMES)}", user_source()))
    a, k = pytree.unflatten(treedef, [x._data if isinstance(x, Tensor) else x for x in leaves])
    out = func(*a, **k)
    return pytree.tree_map(lambda o: new_tensor(o) if isinstance(o, _ndarray) and o.dtype != object else o, out)


def array_ufunc(ufunc, method, inputs, kwargs):
    if kwargs.get("out") is not None:
        raise UnsupportedFunctionError(at_line(
            f"np.{ufunc.__name__}(..., out=tensor) is not supported; use the in-place methods "
            "(t.add_(y), t += y, t[...] = y) or the returned value", user_source()))
    kwargs.pop("out", None)
    if method == "__call__" and ufunc in OPS:
        return OPS[ufunc](*inputs, **kwargs)
    if method == "__call__" and not kwargs and ufunc in api.UFUNCS:
        if ufunc in FAST_UFUNCS or ufunc in NONDIFF:
            return apply_ufunc(ufunc, inputs)
        return apply(ufunc, api.UFUNCS[ufunc], inputs)
    if method == "reduce" and ufunc in _REDUCERS and len(inputs) == 1:
        return apply_function(_REDUCERS[ufunc], inputs[0], **kwargs)
    suffix = "" if method == "__call__" else f".{method}"
    return _fallback(getattr(ufunc, method), inputs, kwargs, f"np.{ufunc.__name__}{suffix}",
                     method == "__call__" and ufunc in NONDIFF_FALLBACK)


_PASSTHROUGH = {np.shape, np.ndim, np.size, np.result_type}


def array_function(func, args, kwargs):
    op = OPS.get(func)
    if op is not None:
        return op(*args, **kwargs)
    fe = api.FUNCTIONS.get(func)
    if fe is None or func in NONDIFF:
        return _fallback(func, args, kwargs, api.public_name(func), func in NONDIFF)
    if func in _PASSTHROUGH:
        return fe(*args, **kwargs)
    return apply(func, fe, args, kwargs, view=func in names.VIEWS)


# ---------------------------------------------------------------------- indexing

def _index_key(key):
    """Concrete index arrays for NumPy: tensors to arrays, boolean masks to integer indices."""
    items = key if isinstance(key, tuple) else (key,)
    out = []
    for k in items:
        if isinstance(k, Tensor):
            k = k._data
        elif isinstance(k, list):
            k = np.asarray(k)
        if isinstance(k, (_ndarray, np.integer)) and k.dtype.kind in "iu" and k.ndim == 0:
            out.append(int(k))                     # a 0-d integer index selects, like an int
        elif isinstance(k, _ndarray) and k.dtype == np.bool_:
            out.extend(np.nonzero(k))
        else:
            out.append(k)
    return tuple(out)


def _is_basic(key):
    return not any(isinstance(k, (_ndarray, list)) for k in key)


_BASIC = (int, slice, type(None), type(Ellipsis))


def _hashable_index(key):
    return tuple(("s", k.start, k.stop, k.step) if type(k) is slice else k for k in key)


def getitem(x, key):
    """x[key]: basic indexing (ints, slices, None, ...) is a view, as in NumPy and PyTorch."""
    items = key if type(key) is tuple else (key,)
    for k in items:
        if type(k) not in _BASIC:
            break
    else:
        out = x._data[key]
        if type(out) is not _ndarray:
            out = np.asarray(out)
        if x._rg and _mode.grad_enabled:
            ckey = ("getitem", x._data.shape, x._data.dtype.char, _hashable_index(items))
            entry = _cache.get(ckey)
            if entry is None:
                entry = _entry(ckey, lambda t: api.getitem(t, items), [x.aval], [True], names.getitem(x, items))
            return _record(entry, (x,), (x._data,), (out,), True, True)[0]
        t = new_tensor(out)
        _link_views((t,), (x,), True)
        return t
    key = _index_key(key)
    if all(type(k) in _BASIC for k in key):
        return getitem(x, key)
    return apply(None, api.getitem, (x, key), name=names.getitem(x, key), view=_is_basic(key),
                 forward=_getitem_forward)


def _unbind(x, dim):
    n = api.shape_of(x)[dim]
    return tuple(api.getitem(x, (slice(None),) * dim + (i,)) for i in range(n))


def unbind(x, dim=0):
    dim = api.normalize_axes(dim, x.ndim)[0]
    return apply(None, _unbind, (x, dim), name="UnbindBackward0", view=True,
                 forward=lambda data, d: tuple(np.moveaxis(data, d, 0)))


# ---------------------------------------------------------------------- in-place operations

def _check_inplace(t, others, recording):
    if t._inference and not _mode.inference:
        raise AutogradError("In-place update to an inference tensor outside inference_mode is not allowed; "
                            "use t.clone() to get a normal tensor first.")
    if not recording:
        return
    if t.grad_fn is None and t._rg:
        raise AutogradError(
            "a leaf Variable that requires grad is being used in an in-place operation. Update "
            "parameters under `with rt.no_grad():` (as an optimizer step does), or use an "
            "out-of-place operation (x = x + y).")
    base = t._base
    if base is not None and (base._rg or t._rg):
        if base.grad_fn is None and base._rg:
            raise AutogradError("a view of a leaf Variable that requires grad is being used in an in-place "
                                "operation; update it under rt.no_grad() or work on a .clone().")
        raise AutogradError("in-place modification of a view of a tensor that requires grad is not "
                            "supported by gradjit's eager mode; .clone() the view first, or use "
                            "out-of-place operations.")


def _needs_record(t, other):
    return _mode.grad_enabled and (t._rg or (isinstance(other, Tensor) and other._rg))


def _snapshot(t):
    """The tensor's current value and history, as a separate tensor the new node can save."""
    old = new_tensor(t._data.copy(), t._rg, t.grad_fn, t._out_nr)
    old._inference = t._inference
    return old


def _write_back(t, r):
    """Make `t` hold result `r` (same data array, bumped version, r's history)."""
    if r.dtype != t.dtype:
        if not np.can_cast(r.dtype, t.dtype, "same_kind"):
            raise TypeError(f"result type {r.dtype.name} can't be cast to the desired output type "
                            f"{t.dtype.name} of an in-place operation")
        if r._rg:
            r = apply(None, api.astype, (r, t.dtype), name="ToCopyBackward0")
    np.copyto(t._data, r._data, casting="same_kind")
    t._vc[0] += 1
    t._rg, t.grad_fn, t._out_nr = r._rg, r.grad_fn, r._out_nr
    node = r.grad_fn
    if node is not None and r._out_nr in node._entry.fast_out:
        entry = node._entry
        pos = entry.fast_out.index(r._out_nr)
        args = list(node._args)
        args[len(entry.fast_in) + pos] = t._data
        node._args = tuple(args)
        versions = list(node._out_versions)
        versions[pos] = (t._vc, t._vc[0])
        node._out_versions = tuple(versions)
    return t


def inplace_ufunc(t, ufunc, other):
    """t <op>= other for add/sub/mul/div."""
    recording = _needs_record(t, other)
    _check_inplace(t, other, recording)
    if not recording:
        d = t._data
        o = other._data if isinstance(other, Tensor) else other
        if d.ndim:
            ufunc(d, o, out=d)
        else:
            np.copyto(d, ufunc(d, o), casting="same_kind")
        t._vc[0] += 1
        return t
    return _write_back(t, apply_ufunc(ufunc, (_snapshot(t), other)))


def _fill(x, value):
    everywhere = st.broadcast_in_dim(np.bool_(True), api.shape_of(x), ())
    return api.where(everywhere, value, x)


def fill_(t, value, name):
    recording = _needs_record(t, value)
    _check_inplace(t, value, recording)
    if not recording:
        t._data[...] = value._data if isinstance(value, Tensor) else value
        t._vc[0] += 1
        return t
    r = apply(None, _fill, (_snapshot(t), value), name=name,
              forward=lambda x, v: np.full_like(x, v))
    return _write_back(t, r)


def _put(x, value, flat):
    """x with `value` written at the flat positions `flat` (the traced form of x[key] = value)."""
    n = int(np.prod(api.shape_of(x), dtype=np.int64))
    value = api.broadcast_to(api.astype(value, api.dtype_of(x)), api.shape_of(flat))
    idx = api.reshape(flat, (-1,))
    placed = st.scatter_add_p.bind(api.reshape(value, (-1,)), idx, axis=0, shape=(n,))
    ones = st.broadcast_in_dim(api.dtype_of(x).type(1), api.shape_of(idx), ())
    hit = st.scatter_add_p.bind(ones, idx, axis=0, shape=(n,))
    return api.reshape(api.where(api.greater(hit, 0), placed, api.reshape(x, (-1,))), api.shape_of(x))


def _put_forward(x, value, flat):
    out = x.copy()
    out.reshape(-1)[flat.reshape(-1)] = np.broadcast_to(value, flat.shape).reshape(-1)
    return out


def setitem(t, key, value):
    key = _index_key(key)
    recording = _needs_record(t, value)
    _check_inplace(t, value, recording)
    if not recording:
        t._data[key] = value._data if isinstance(value, Tensor) else value
        t._vc[0] += 1
        return
    flat = np.ascontiguousarray(np.arange(t._data.size, dtype=np.int64).reshape(t.shape)[key])
    r = apply(None, _put, (_snapshot(t), value, flat), name="CopySlices", forward=_put_forward)
    _write_back(t, r)
