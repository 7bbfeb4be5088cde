"""Structural primitives: broadcast, reshape, transpose, slice, pad, reverse, concatenate,
gather (`take`) and its adjoint `scatter_add`.

Most of them move elements without computing: their lowering is an *index map*, a function that
says which operand element an output element reads, so loop fusion can inline them.  An index map
returns `[(operand, index, condition)]`; the first entry whose condition holds (None: always)
gives the value, and where none holds (or the list is empty) the value is zero (padding).
"""
import numpy as np

from ..errors import ShapeError
from ..ir import ShapedArray, dtype_short
from ..lowering.index import Ix
from .core import Primitive, deflinear, deflowering, is_undefined, jvp_rules, shape_of, transpose_rules


def _check(cond, message):
    if not cond:
        raise ShapeError(message)


# ---------------------------------------------------------------- broadcast_in_dim

def _broadcast_rule(x, *, shape, broadcast_dimensions):
    bd = broadcast_dimensions
    _check(len(bd) == x.ndim and all(0 <= d < len(shape) for d in bd) and list(bd) == sorted(set(bd)),
           f"broadcast_in_dim: dimensions {bd} do not map a rank-{x.ndim} operand into {shape}")
    for i, d in enumerate(bd):
        _check(x.shape[i] in (1, shape[d]),
               f"operands could not be broadcast together: shape {x.shape} into {tuple(shape)}")
    return ShapedArray(shape, x.dtype)


def _broadcast_impl(x, *, shape, broadcast_dimensions):
    expanded = np.reshape(x, [x_d for x_d in _expanded_shape(np.shape(x), shape, broadcast_dimensions)])
    return np.ascontiguousarray(np.broadcast_to(expanded, shape))


def _expanded_shape(in_shape, shape, bdims):
    out = [1] * len(shape)
    for i, d in enumerate(bdims):
        out[d] = in_shape[i]
    return out


def _broadcast_index(idx, in_avals, out_aval, *, shape, broadcast_dimensions):
    x = in_avals[0]
    return [(0, tuple(Ix.const(0) if x.shape[i] == 1 else idx[d] for i, d in enumerate(broadcast_dimensions)), None)]


def _broadcast_transpose(ct, x, *, shape, broadcast_dimensions):
    from .reductions import reduce_sum
    bd = broadcast_dimensions
    summed = tuple(d for d in range(len(shape)) if d not in bd or (x.aval.shape[bd.index(d)] == 1 and shape[d] != 1))
    out = reduce_sum(ct, summed) if summed else ct
    return (reshape(out, x.aval.shape),)


broadcast_in_dim_p = Primitive("broadcast_in_dim", _broadcast_impl, _broadcast_rule)
deflowering(broadcast_in_dim_p, "index", _broadcast_index)
deflinear(broadcast_in_dim_p, _broadcast_transpose)


def broadcast_in_dim(x, shape, broadcast_dimensions):
    shape, bd = tuple(shape), tuple(broadcast_dimensions)
    if shape_of(x) == shape and bd == tuple(range(len(shape))):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=bd)


# ---------------------------------------------------------------- reshape

def _reshape_rule(x, *, new_sizes):
    _check(int(np.prod(new_sizes, dtype=np.int64)) == x.size,
           f"cannot reshape array of shape {x.shape} (size {x.size}) into shape {tuple(new_sizes)}")
    return ShapedArray(new_sizes, x.dtype)


def is_unit_reshape(in_shape, out_shape):
    """Only size-1 axes are added or removed: the reshape is an index map, not a copy."""
    return [d for d in in_shape if d != 1] == [d for d in out_shape if d != 1]


def _reshape_index(idx, in_avals, out_aval, *, new_sizes):
    in_shape = in_avals[0].shape
    if not is_unit_reshape(in_shape, new_sizes):
        return None
    big = iter(i for i, d in zip(idx, new_sizes) if d != 1)
    return [(0, tuple(Ix.const(0) if d == 1 else next(big) for d in in_shape), None)]


reshape_p = Primitive("reshape", lambda x, *, new_sizes: np.reshape(x, new_sizes), _reshape_rule)
deflowering(reshape_p, "index", _reshape_index)
deflinear(reshape_p, lambda ct, x, *, new_sizes: (reshape(ct, x.aval.shape),))


def reshape(x, shape):
    shape = tuple(int(d) for d in shape)
    return x if shape_of(x) == shape else reshape_p.bind(x, new_sizes=shape)


# ---------------------------------------------------------------- transpose

def _transpose_rule(x, *, permutation):
    _check(sorted(permutation) == list(range(x.ndim)),
           f"transpose: axes {permutation} are not a permutation of a rank-{x.ndim} array's axes")
    return ShapedArray([x.shape[p] for p in permutation], x.dtype)


def _transpose_index(idx, in_avals, out_aval, *, permutation):
    src = [None] * len(permutation)
    for i, p in enumerate(permutation):
        src[p] = idx[i]
    return [(0, tuple(src), None)]


transpose_p = Primitive("transpose", lambda x, *, permutation: np.transpose(x, permutation), _transpose_rule)
deflowering(transpose_p, "index", _transpose_index)
deflinear(transpose_p, lambda ct, x, *, permutation: (transpose(ct, tuple(np.argsort(permutation))),))


def transpose(x, permutation):
    permutation = tuple(int(p) for p in permutation)
    return x if permutation == tuple(range(len(permutation))) else transpose_p.bind(x, permutation=permutation)


# ---------------------------------------------------------------- slice and pad

def _slice_rule(x, *, start_indices, limit_indices, strides):
    shape = []
    for n, s, l, st in zip(x.shape, start_indices, limit_indices, strides):
        _check(0 <= s <= l <= n and st >= 1, f"slice [{s}:{l}:{st}] is out of bounds for an axis of size {n}")
        shape.append(max(0, -(-(l - s) // st)))
    return ShapedArray(shape, x.dtype)


def _slice_impl(x, *, start_indices, limit_indices, strides):
    return x[tuple(slice(s, l, st) for s, l, st in zip(start_indices, limit_indices, strides))]


def _slice_index(idx, in_avals, out_aval, *, start_indices, limit_indices, strides):
    return [(0, tuple(i.scaled(st).shifted(s) for i, s, st in zip(idx, start_indices, strides)), None)]


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    out_shape = shape_of(ct)
    lo, hi = [], []
    for n, s, st, m in zip(x.aval.shape, start_indices, strides, out_shape):
        span = (m - 1) * st + 1 if m else 0
        lo.append(s if m else n)
        hi.append(n - s - span if m else 0)
    return (pad(ct, lo, hi, [st - 1 for st in strides]),)


slice_p = Primitive("slice", _slice_impl, _slice_rule)
deflowering(slice_p, "index", _slice_index)
deflinear(slice_p, _slice_transpose)


def slice_array(x, start, limit, strides=None):
    strides = tuple(strides or (1,) * len(start))
    start, limit = tuple(int(s) for s in start), tuple(int(l) for l in limit)
    if start == (0,) * len(start) and limit == shape_of(x) and strides == (1,) * len(start):
        return x
    return slice_p.bind(x, start_indices=start, limit_indices=limit, strides=strides)


def _pad_rule(x, *, lo, hi, interior):
    _check(min(lo + hi + interior, default=0) >= 0, f"pad widths {lo}, {hi}, {interior} must be non-negative")
    return ShapedArray([l + n + max(n - 1, 0) * it + h for n, l, h, it in zip(x.shape, lo, hi, interior)], x.dtype)


def _pad_impl(x, *, lo, hi, interior):
    out_shape = _pad_rule(ShapedArray(np.shape(x), np.asarray(x).dtype), lo=lo, hi=hi, interior=interior).shape
    out = np.zeros(out_shape, np.asarray(x).dtype)
    out[tuple(slice(l, l + (n - 1) * (it + 1) + 1 if n else l, it + 1)
              for l, n, it in zip(lo, np.shape(x), interior))] = x
    return out


def _pad_index(idx, in_avals, out_aval, *, lo, hi, interior):
    src, conds = [], []
    for i, n, l, it in zip(idx, in_avals[0].shape, lo, interior):
        j, step = i.shifted(-l), it + 1
        inside = j.in_range((n - 1) * step + 1)
        if inside is False:
            return []
        if inside is not None:
            conds.append(inside)
        if step > 1:
            conds.append(f"(({j}) % {step} == 0)")
        src.append(j.floordiv(step).clamped(n))
    return [(0, tuple(src), " and ".join(conds) or None)]


def _pad_transpose(ct, x, *, lo, hi, interior):
    n = x.aval.shape
    return (slice_array(ct, lo, [l + (d - 1) * (it + 1) + 1 if d else l for l, d, it in zip(lo, n, interior)],
                        [it + 1 for it in interior]),)


pad_p = Primitive("pad", _pad_impl, _pad_rule)
deflowering(pad_p, "index", _pad_index)
deflinear(pad_p, _pad_transpose)


def pad(x, lo, hi, interior=None):
    interior = tuple(interior or (0,) * len(lo))
    return pad_p.bind(x, lo=tuple(int(v) for v in lo), hi=tuple(int(v) for v in hi), interior=interior)


# ---------------------------------------------------------------- rev

def _rev_rule(x, *, dimensions):
    _check(all(0 <= d < x.ndim for d in dimensions), f"rev: bad dimensions {dimensions}")
    return x


def _rev_index(idx, in_avals, out_aval, *, dimensions):
    shape = in_avals[0].shape
    return [(0, tuple(i.scaled(-1).shifted(shape[d] - 1) if d in dimensions else i for d, i in enumerate(idx)), None)]


rev_p = Primitive("rev", lambda x, *, dimensions: np.flip(x, dimensions), _rev_rule)
deflowering(rev_p, "index", _rev_index)
deflinear(rev_p, lambda ct, x, *, dimensions: (rev_p.bind(ct, dimensions=dimensions),))


# ---------------------------------------------------------------- concatenate

def _concatenate_rule(*xs, dimension):
    _check(len(xs) > 0, "need at least one array to concatenate")
    first = xs[0]
    _check(0 <= dimension < first.ndim, f"axis {dimension} is out of bounds for rank {first.ndim}")
    for x in xs:
        _check(x.ndim == first.ndim and all(a == b for i, (a, b) in enumerate(zip(x.shape, first.shape))
                                            if i != dimension),
               f"concatenate: shapes {' and '.join(str(x.shape) for x in xs)} differ off axis {dimension}")
        _check(x.dtype == first.dtype, f"concatenate: dtypes {dtype_short(x.dtype)} and {dtype_short(first.dtype)} differ")
    shape = list(first.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(shape, first.dtype)


def _concatenate_index(idx, in_avals, out_aval, *, dimension):
    entries, offset = [], 0
    for k, x in enumerate(in_avals):
        n = x.shape[dimension]
        j = idx[dimension].shifted(-offset)
        offset += n
        inside = j.in_range(n) if n else False
        if inside is False:
            continue
        entries.append((k, idx[:dimension] + (j.clamped(n),) + idx[dimension + 1:], inside))
        if inside is None:
            break
    if entries:                       # the last window needs no test: the index is in the array
        entries[-1] = entries[-1][:2] + (None,)
    return entries


def _concatenate_transpose(ct, *xs, dimension):
    cts, offset = [], 0
    for x in xs:
        n = x.aval.shape[dimension]
        if is_undefined(x):
            start = [0] * len(x.aval.shape)
            start[dimension] = offset
            limit = list(shape_of(ct))
            limit[dimension] = offset + n
            cts.append(slice_array(ct, start, limit))
        else:
            cts.append(None)
        offset += n
    return tuple(cts)


def _zeros(aval):
    return broadcast_in_dim(aval.dtype.type(0), aval.shape, ())


concatenate_p = Primitive("concatenate", lambda *xs, dimension: np.concatenate(xs, dimension), _concatenate_rule)
deflowering(concatenate_p, "index", _concatenate_index)
deflinear(concatenate_p, _concatenate_transpose, zero=_zeros)


def concatenate(xs, dimension):
    return xs[0] if len(xs) == 1 else concatenate_p.bind(*xs, dimension=int(dimension))


# ---------------------------------------------------------------- gather and scatter-add

def _check_index(idx, who):
    _check(np.issubdtype(idx.dtype, np.integer), f"{who}: indices must be integers, got {dtype_short(idx.dtype)}")


def _take_rule(x, idx, *, axis):
    _check_index(idx, "take")
    _check(0 <= axis < x.ndim, f"take: axis {axis} is out of bounds for rank {x.ndim}")
    _check(x.shape[axis] > 0 or idx.size == 0, "take: cannot index into an axis of size 0")
    return ShapedArray(x.shape[:axis] + idx.shape + x.shape[axis + 1:], x.dtype)


def _wrap(idx, n):
    idx = np.asarray(idx)
    return np.clip(np.where(idx < 0, idx + n, idx), 0, n - 1)


def _take_impl(x, idx, *, axis):
    return np.take(x, _wrap(idx, np.shape(x)[axis]), axis=axis)


def _scatter_rule(g, idx, *, axis, shape):
    _check_index(idx, "scatter_add")
    expected = tuple(shape[:axis]) + idx.shape + tuple(shape[axis + 1:])
    _check(g.shape == expected, f"scatter_add: updates of shape {g.shape} do not fit {expected}")
    return ShapedArray(shape, g.dtype)


def _scatter_impl(g, idx, *, axis, shape):
    out = np.zeros(shape, np.asarray(g).dtype)
    moved = np.moveaxis(out, axis, 0)
    g = np.asarray(g)
    k = np.ndim(idx)
    g_moved = np.moveaxis(g.reshape(g.shape[:axis] + (np.size(idx),) + g.shape[axis + k:]), axis, 0)
    np.add.at(moved, _wrap(idx, shape[axis]).reshape(-1), g_moved)
    return out


take_p = Primitive("take", _take_impl, _take_rule)
scatter_add_p = Primitive("scatter_add", _scatter_impl, _scatter_rule)
deflowering(take_p, "gather")
deflowering(scatter_add_p, "scatter")


def take(x, idx, axis):
    return take_p.bind(x, idx, axis=int(axis))


def _take_jvp(primals, tangents, *, axis):
    x, idx = primals
    ans = take(x, idx, axis)
    return ans, None if tangents[0] is None else take(tangents[0], idx, axis)


def _scatter_jvp(primals, tangents, *, axis, shape):
    g, idx = primals
    ans = scatter_add_p.bind(g, idx, axis=axis, shape=shape)
    return ans, None if tangents[0] is None else scatter_add_p.bind(tangents[0], idx, axis=axis, shape=shape)


jvp_rules[take_p] = _take_jvp
jvp_rules[scatter_add_p] = _scatter_jvp
transpose_rules[take_p] = lambda ct, x, idx, *, axis: (
    scatter_add_p.bind(ct, idx, axis=axis, shape=x.aval.shape), None)
transpose_rules[scatter_add_p] = lambda ct, g, idx, *, axis, shape: (take(ct, idx, axis), None)
