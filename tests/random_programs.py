"""Random NumPy programs for differential testing of gradjit (compiled path and eager runtime).

A program is data: inputs (shape, dtype, memory layout, values), closed-over constant arrays and
SSA lines, each line one row of the operation table `OPS` applied to earlier values, literals
and static parameters.  From that data the same program is rendered as NumPy source (what gradjit
traces and what a failure prints as its repro), run with JAX (the same source with `np` bound to
`jax.numpy`) and rendered as PyTorch source (each row's torch template).

The generator builds every line on concrete values: it draws a row, operands and parameters,
runs the line with NumPy and keeps it only if NumPy accepts it, the result is finite, small
(at most MAX_SIZE elements, |v| <= BOUND) and at least MARGIN away from every point where the row
is not differentiable (ties of max/min, 0 for abs and sign, clip bounds, the comparison that
decides np.where ...).  Derivatives are then well defined at the inputs, and finite differences
with a step of 1e-6 never cross a kink.  An operand outside a row's domain (log of a negative
number) is first mapped into it by an adapter line (`x * x + 0.5`, `np.tanh(x) * 0.9`).

Adding an operation: add one `Op` row to `OPS`, e.g.

    Op("log1p", "np.log1p({0})", "torch.log1p({0})", domain=("pos",)),

  * the NumPy template: source with `{0}`, `{1}` ... for the operands and `{name}` for the static
    parameters `make` returns (rendered with repr; a `Src` value is pasted as is).  A callable
    `(operands, params) -> str` works too;
  * the PyTorch template for tests/test_random_eager.py, in the same form: `GATHER` for a pure
    index map (reshape, transpose, slicing, flip, roll, take, ...: rendered as a gather from the
    flattened operands with an index array that NumPy computes), or None to leave the row out of
    the eager test.  The torch result is reshaped to NumPy's shape, so dims need no care;
  * `make(gen, x) -> (operands, params) | None`: given the first operand `x`, choose the other
    operands (`binary` broadcasts against x, `same_shape`, literals ...) and the static
    parameters, or None when the row does not apply to x's shape;
  * `domain`: per operand, a key of DOMAINS; `kink(values, params)`: distance from the nearest
    non-differentiable point, for rows that have one;
  * `jax`: a JAX template, only where jax.numpy differs from NumPy.
Every operation gradjit supports must have a row (tests/test_random_programs.py checks that every
entry of compiler.numpy_api's UFUNCS and FUNCTIONS tables is named by some row's template).

Long runs: `python -m tests.fuzz --seed 123 --count 2000` (see tests/fuzz.py).
"""
import re
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from compiler import cond, fori_loop, scan, while_loop

MAX_SIZE = 24        # elements per value: keeps Jacobians and Hessians small
MAX_INPUTS = 4
BOUND = 1e4          # |value| bound: derivatives stay moderate, float32 keeps ~4 digits
MARGIN = 1e-3        # relative distance kept from kinks and ties
GATHER = "gather"    # torch template of index-map rows


class Src(str):
    """A parameter pasted into a template as source text (`np.inf`), not as its repr."""

    def __repr__(self):
        return str(self)


LOOPS = {"fori_loop": fori_loop, "scan": scan, "cond": cond, "while_loop": while_loop}


# ---------------------------------------------------------------------------------- values

@dataclass
class Var:
    name: str
    value: object                         # the NumPy value at the generated point

    @property
    def shape(self):
        return np.shape(self.value)

    @property
    def dtype(self):
        return np.result_type(self.value)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass
class Lit:
    """A scalar literal operand: Python float/int or NumPy scalar."""
    value: object

    def np_src(self):
        v = self.value
        if isinstance(v, np.generic):
            return f"np.{type(v).__name__}({v!s})"
        return repr(v)

    def torch_src(self):
        return f"torch.tensor({float(self.value)!r}, dtype=torch.float64)"

    @property
    def shape(self):
        return ()


def array_source(a):
    """NumPy source that rebuilds array `a` exactly (shortest round-trip reprs)."""
    a = np.asarray(a)
    text = np.array2string(a, separator=", ", threshold=10 ** 6, max_line_width=10 ** 6, floatmode="unique")
    src = f"np.array({text}, dtype=np.{a.dtype.name})"
    return src if a.size else f"np.zeros({a.shape!r}, dtype=np.{a.dtype.name})"


@dataclass
class Input:
    name: str
    base: object          # contiguous data (ndarray), Python float or NumPy scalar
    layout: str           # how the argument is made from base: C T step rev F array0d float scalar

    @property
    def value(self):
        b = self.base
        return {"C": lambda: b, "T": lambda: b.T, "step": lambda: b[::2], "rev": lambda: b[::-1],
                "F": lambda: np.asfortranarray(b), "array0d": lambda: b, "float": lambda: b,
                "scalar": lambda: b}[self.layout]()

    def source(self):
        b = self.base
        if self.layout == "float":
            return repr(b)
        if self.layout == "scalar":
            return f"np.{type(b).__name__}({b!s})"
        data = array_source(b)
        return {"C": data, "array0d": data, "T": data + ".T", "step": data + "[::2]", "rev": data + "[::-1]",
                "F": f"np.asfortranarray({data})"}[self.layout]


@dataclass
class Line:
    out: str
    op: "Op"
    args: list                    # Var names (str) or Lit
    params: dict

    def np_expr(self):
        return _render(self.op.np, [a if isinstance(a, str) else a.np_src() for a in self.args], self.params)

    def jax_expr(self):
        return _render(self.op.jax or self.op.np, [a if isinstance(a, str) else a.np_src() for a in self.args],
                       self.params)

    def torch_expr(self, shape):
        args = [a if isinstance(a, str) else a.torch_src() for a in self.args]
        if self.op.torch == GATHER:
            flat = [f"{a}.reshape(-1)" for a in args]
            src = flat[0] if len(flat) == 1 else f"torch.cat([{', '.join(flat)}])"
            return f"{src}[{self.out}_index]"
        return f"({_render(self.op.torch, args, self.params)}).reshape({tuple(shape)!r})"


def _render(template, args, params):
    if callable(template):
        return template(args, params)
    return template.format(*args, **{k: v if isinstance(v, Src) else repr(v) for k, v in params.items()})


# ---------------------------------------------------------------------------------- rows

def unary(gen, x):
    return [x], {}


def _jax_while_loop(cond, body, val, memory_budget=None):
    """The while_loop row's loop for JAX, which cannot reverse a while_loop: it runs 3 steps from a
    counter at 0 (what the row's condition allows), as a fori_loop."""
    import jax
    return jax.lax.fori_loop(0, 3, lambda i, v: body(v), val)


def torch_scan(xs):
    """The scan row in torch: c <- 0.5 c + x, y = tanh(c + x), from c = 0 (float64, as np.zeros)."""
    import torch
    c, ys = torch.zeros(xs.shape[1:], dtype=torch.float64), []
    for x in xs:
        ys.append(torch.tanh(c + x))
        c = c * 0.5 + x
    return torch.stack(ys) if ys else xs * 0.0


def leading_axis(gen, x):
    return ([x], {}) if len(x.shape) >= 1 else None


@dataclass
class Op:
    name: str
    np: object                            # template: str or callable(args, params) -> str
    torch: object = None                  # template, GATHER, or None (not in the eager test)
    make: Callable = unary
    domain: tuple = ()                    # per operand, a key of DOMAINS ("any" when missing)
    kink: Callable = None                 # (operand values, params) -> distance from a kink
    weight: float = 1.0
    jax: object = None
    names: tuple = ()                     # NumPy functions a callable template uses (for coverage)
    tail: bool = False                    # a last line with a bool/int result (values are checked only)

    def numpy_names(self):
        """The NumPy functions this row exercises, as numpy_api.public_name spells them."""
        found = set(self.names)
        if isinstance(self.np, str):
            found.update(re.findall(r"np\.(?:linalg\.)?[a-z_0-9]+(?=\()", self.np))
        return found


def _below(v, limit):
    return np.size(v) == 0 or float(np.max(v)) <= limit


def _above(v, limit):
    return np.size(v) == 0 or float(np.min(v)) >= limit


# domain key -> (test on the operand's values, adapter template, literal range)
DOMAINS = {
    "any": (lambda v: True, None, (-2.0, 2.0)),
    "pos": (lambda v: _above(v, 0.1), "{0} * {0} + 0.5", (0.5, 2.0)),
    "nonzero": (lambda v: _above(np.abs(v), 0.1), "{0} * {0} + 0.5", (0.5, 2.0)),
    "unit": (lambda v: _below(np.abs(v), 0.95), "np.tanh({0}) * 0.9", (-0.9, 0.9)),
    "small": (lambda v: _below(np.abs(v), 4.0), "np.tanh({0}) * 3.0", (-2.0, 2.0)),
}
ADAPTERS = {key: Op(f"adapt_{key}", tmpl, tmpl.replace("np.", "torch."), weight=0)
            for key, (_, tmpl, _) in DOMAINS.items() if tmpl}


# ---------------------------------------------------------------------------------- kinks

def _gap(a, b):
    """Smallest relative distance between a and b (broadcast)."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    if a.size == 0:
        return np.inf
    return float(np.min(np.abs(a - b) / (1.0 + np.abs(a) + np.abs(b))))


def kink_sum(vals, p):
    return _gap(np.sum(vals[0]), 0.0)


def kink_abs(vals, p):
    return _gap(vals[0], 0.0)


def kink_pair(vals, p):
    return _gap(vals[0], vals[1])


def kink_clip(vals, p):
    return min(_gap(vals[0], p[k]) for k in ("lo", "hi") if p.get(k) is not None)


def kink_hypot(vals, p):
    return _gap(np.hypot(*np.broadcast_arrays(vals[0], vals[1])), 0.0)


def kink_integer(vals, p):
    """floor, ceil, trunc jump at integers (of x * 10**decimals for round)."""
    x = np.asarray(vals[0], np.float64) * 10.0 ** p.get("decimals", 0)
    return _gap(x, np.round(x)) * 2


def kink_half_integer(vals, p):
    """rint and round jump half-way between integers."""
    x = np.asarray(vals[0], np.float64) * 10.0 ** p.get("decimals", 0)
    return _gap(x - np.floor(x), 0.5) * 2


def kink_mod(vals, p):
    """x % y and x // y jump where x / y is an integer."""
    q = np.asarray(vals[0], np.float64) / np.asarray(vals[1], np.float64)
    return _gap(q, np.round(q)) * 2


def _groups(x, axes):
    """x as (groups, elements): the reduced axes last and flattened."""
    x = np.asarray(x, np.float64)
    axes = tuple(range(x.ndim)) if axes is None else tuple(a % x.ndim for a in np.atleast_1d(axes))
    rest = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, rest + list(axes))
    count = lambda dims: int(np.prod([x.shape[a] for a in dims], dtype=np.int64))
    return moved.reshape(count(rest), count(axes))


def _top_gap(groups):
    """Smallest relative gap between the two largest entries of each group (ties)."""
    if groups.shape[1] < 2 or groups.shape[0] == 0:
        return np.inf
    s = np.sort(groups, axis=1)
    return _gap(s[:, -1], s[:, -2])


def kink_reduce_max(vals, p):
    return _top_gap(_groups(vals[0], p["axis"]))


def kink_reduce_min(vals, p):
    return _top_gap(-_groups(vals[0], p["axis"]))


def kink_std(vals, p):
    v = np.var(np.asarray(vals[0], np.float64), axis=p["axis"], ddof=p["ddof"])
    return _gap(v, 0.0)


def _is_matrix_norm(p, ndim):
    return isinstance(p["axis"], tuple) or (p["axis"] is None and p["ord"] is not None and ndim == 2)


def kink_norm(vals, p):
    """Norms are not differentiable where they are 0, where an entry that counts is 0 (|x|), and
    at ties of the max/min they take."""
    x, ord_ = np.asarray(vals[0], np.float64), p["ord"]
    gap = _gap(np.linalg.norm(x, {"inf": np.inf, "-inf": -np.inf}.get(ord_, ord_), p["axis"]), 0.0)
    if ord_ in (None, "fro", 2):
        return gap
    gap = min(gap, _gap(x, 0.0))
    sign = -1.0 if str(ord_).startswith("-") else 1.0
    if _is_matrix_norm(p, x.ndim):       # ord +-1: max/min over columns of column sums; +-inf: rows
        rows, cols = (a % x.ndim for a in (p["axis"] or (0, 1)))
        summed, picked = (rows, cols) if ord_ in (1, -1) else (cols, rows)
        sums = np.sum(np.abs(x), axis=summed)
        return min(gap, _top_gap(_groups(sign * sums, picked - (picked > summed))))
    if ord_ in ("inf", "-inf"):
        return min(gap, _top_gap(_groups(sign * np.abs(x), p["axis"])))
    return gap


# ---------------------------------------------------------------------------------- make helpers

def binary(domain=("any", "any"), scalars=True, swap=True):
    """A broadcasting binary row: the second operand broadcasts against x, or is a literal."""
    def make(gen, x):
        other = gen.broadcast_partner(x, domain[1], scalars)
        if other is None:
            return None
        if swap and domain[0] == domain[1] and gen.rng.random() < 0.3:
            return [other, x], {}
        return [x, other], {}
    return make


def with_literal(values):
    def make(gen, x):
        return [x], {"k": values[gen.rng.integers(len(values))]}
    return make


def _axis_choice(gen, ndim, nonempty_of=None, min_count=1):
    """axis=None, an int (maybe negative) or a tuple; with `nonempty_of` (a shape), the reduced
    axes must hold at least `min_count` elements."""
    rng = gen.rng
    options = [None]
    if ndim:
        a = int(rng.integers(ndim))
        options.append(a - ndim if rng.random() < 0.3 else a)
        if ndim >= 2:
            pair = tuple(int(i) for i in rng.choice(ndim, 2, replace=False))
            options.append(pair)
    axis = options[rng.integers(len(options))]
    if nonempty_of is not None:
        axes = range(ndim) if axis is None else np.atleast_1d(axis)
        if int(np.prod([nonempty_of[a] for a in axes], dtype=np.int64)) < min_count:
            return False
    return axis


def reduction(min_count=0, ddof=False):
    def make(gen, x):
        axis = _axis_choice(gen, len(x.shape), x.shape if min_count else None, min_count)
        if axis is False:
            return None
        p = {"axis": axis, "keepdims": bool(gen.rng.random() < 0.4), "dims": _dims(axis, len(x.shape))}
        if ddof:
            p["ddof"] = int(gen.rng.integers(2))
            count = int(np.prod([x.shape[a] for a in p["dims"]], dtype=np.int64))
            if count <= p["ddof"]:
                return None
        return [x], p
    return make


def _dims(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(int(a) % ndim for a in np.atleast_1d(axis)))


def _np_reduce(fn, alias=None):
    """np.fn(x, axis=..., keepdims=...), np.alias(...) or the method form x.fn(...), chosen per line."""
    def render(a, p):
        kw = f"axis={p['axis']!r}" + (f", ddof={p['ddof']}" if "ddof" in p else "") + \
             (", keepdims=True" if p["keepdims"] else "")
        if p.get("form") == "method":
            return f"{a[0]}.{fn}({kw})"
        return f"np.{alias if alias and p.get('form') == 'alias' else fn}({a[0]}, {kw})"
    return render


def reduction_rows(name, torch_fn, min_count=0, ddof=False, kink=None, weight=1.0, alias=None):
    def make_form(gen, x):
        r = reduction(min_count, ddof)(gen, x)
        if r is not None:
            forms = ["np", "method"] + (["alias"] if alias else [])
            r[1]["form"] = forms[gen.rng.integers(len(forms))]
        return r
    return Op(name, _np_reduce(name, alias), torch_fn, make_form, kink=kink, weight=weight,
              names=(f"np.{name}",) + ((f"np.{alias}",) if alias else ()))


def _torch_reduce(fn, extra=""):
    def render(a, p):
        if not p["dims"]:                    # a 0-d operand: the value itself, or var = 0
            return f"{a[0]} * 0.0" if fn in ("var", "std") else f"{a[0]}.clone()"
        ddof = f", correction={p['ddof']}" if "ddof" in p else ""
        return f"torch.{fn}({a[0]}, dim={p['dims']!r}{ddof}, keepdim={p['keepdims']})"
    return render


def _torch_prod(a, p):
    src = a[0]
    for d in reversed(p["dims"]):
        src = f"{src}.prod(dim={d}, keepdim=True)"
    return src


VECTOR_ORDS = [None, 2, 1, "inf", "-inf", 3, 0.5, 0]
MATRIX_ORDS = [None, "fro", 1, -1, "inf", "-inf"]       # not 2, -2, 'nuc': singular values


def norm_make(gen, x):
    rng, nd = gen.rng, len(x.shape)
    kind = rng.integers(4)
    if kind == 0:                                       # the flattened 2-norm
        p = {"ord": None, "axis": None}
    elif kind == 1 and nd >= 1:                         # vector norms along one axis
        p = {"ord": VECTOR_ORDS[rng.integers(len(VECTOR_ORDS))], "axis": int(rng.integers(-nd, nd))}
    elif kind == 2 and nd == 1:
        p = {"ord": VECTOR_ORDS[rng.integers(len(VECTOR_ORDS))], "axis": None}
    elif kind == 3 and nd >= 2:                         # matrix norms
        axis = tuple(int(a) for a in rng.choice(nd, 2, replace=False)) if nd > 2 or rng.random() < 0.6 else None
        p = {"ord": MATRIX_ORDS[rng.integers(len(MATRIX_ORDS))], "axis": axis}
    else:
        return None
    p["keepdims"] = bool(rng.random() < 0.3)
    p["shape"] = x.shape
    return [x], p


def _ord_src(ord_, inf):
    return {"inf": inf, "-inf": "-" + inf, "fro": "'fro'"}.get(ord_, repr(ord_))


def _np_norm(a, p):
    keep = ", keepdims=True" if p["keepdims"] else ""
    return f"np.linalg.norm({a[0]}, {_ord_src(p['ord'], 'np.inf')}, axis={p['axis']!r}{keep})"


def _torch_norm(a, p):
    ord_, axis, keep = _ord_src(p["ord"], "float('inf')"), p["axis"], p["keepdims"]
    if _is_matrix_norm(p, len(p["shape"])):
        return f"torch.linalg.matrix_norm({a[0]}, ord={ord_ if p['ord'] else repr('fro')}, dim={axis or (0, 1)!r}, " \
               f"keepdim={keep})"
    if axis is None and p["ord"] is None:
        return f"torch.linalg.vector_norm({a[0]}.reshape(-1), ord=2)"
    return f"torch.linalg.vector_norm({a[0]}, ord={ord_ if p['ord'] is not None else 2}, dim={axis or 0}, " \
           f"keepdim={keep})"


def matmul_make(vector_ok=True, max_rank=3, method=False):
    """x @ other with a compatible other (vector, matrix or batch); `method`: x.dot(other), where
    x must not be a NumPy constant (ndarray.dot cannot dispatch to a traced argument)."""
    def make(gen, x):
        rng, s = gen.rng, x.shape
        if not s or len(s) > max_rank or (method and x.name.startswith("c")):
            return None
        k = s[-1]
        if len(s) == 1:
            choices = [(k,), (k, int(rng.integers(1, 4)))] + ([(2, k, int(rng.integers(1, 4)))] if max_rank > 2 else [])
        else:
            choices = [(k,), (k, int(rng.integers(1, 4)))]
            if max_rank > 2:
                choices.append((int(rng.integers(1, 3)),) * (len(s) == 2) + (k, int(rng.integers(1, 4))))
        if not vector_ok:
            choices = [c for c in choices if len(c) > 1] or choices
        other = gen.operand_of_shape(choices[rng.integers(len(choices))], x.dtype)
        if other is None:
            return None
        if not method and rng.random() < 0.3 and len(s) >= 1 and len(other.shape) >= 2:
            # x on the right: other @ x needs other's last dim == x's second to last (or only) dim
            kk = s[-2] if len(s) >= 2 else s[0]
            other = gen.operand_of_shape((int(rng.integers(1, 4)), kk), x.dtype)
            return ([other, x], {}) if other is not None else None
        return [x, other], {}
    return make


def vector_pair(gen, x):
    if len(x.shape) != 1:
        return None
    other = gen.operand_of_shape(x.shape, x.dtype)
    return ([x, other], {}) if other is not None else None


def outer_make(gen, x):
    other = gen.operand_of_shape((int(gen.rng.integers(0, 4)),), x.dtype)
    return ([x, other], {}) if other is not None and x.size * other.size <= MAX_SIZE else None


def _random_shape_of_size(rng, n):
    if n == 0:
        shape = [int(rng.integers(1, 4)) for _ in range(rng.integers(1, 3))]
        shape.insert(int(rng.integers(len(shape) + 1)), 0)
        return tuple(shape)
    factors = []
    m, p = n, 2
    while m > 1:
        while m % p == 0:
            factors.append(p)
            m //= p
        p += 1
    rank = int(rng.integers(0 if n == 1 else 1, 4))
    dims = [1] * max(rank, 1)
    for f in factors:
        dims[rng.integers(len(dims))] *= f
    return tuple(dims) if rank else ()


def reshape_make(gen, x):
    rng = gen.rng
    shape = list(_random_shape_of_size(rng, x.size))
    if shape and x.size and rng.random() < 0.3:
        shape[rng.integers(len(shape))] = -1
    method = rng.integers(3)
    return [x], {"shape": tuple(shape), "form": int(method)}


def _np_reshape(a, p):
    if p["form"] == 0:
        return f"np.reshape({a[0]}, {p['shape']!r})"
    if p["form"] == 1 or len(p["shape"]) == 0:
        return f"{a[0]}.reshape({p['shape']!r})"
    return f"{a[0]}.reshape({', '.join(map(str, p['shape']))})"


def transpose_make(gen, x):
    nd = len(x.shape)
    perm = [int(a) for a in gen.rng.permutation(nd)]
    if nd and gen.rng.random() < 0.3:
        i = int(gen.rng.integers(nd))
        perm[i] -= nd
    return [x], {"axes": tuple(perm), "form": int(gen.rng.integers(3))}


def _np_transpose(a, p):
    if p["form"] == 0:
        return f"np.transpose({a[0]}, {p['axes']!r})"
    if p["form"] == 1:
        return f"{a[0]}.transpose({p['axes']!r})"
    return f"np.transpose({a[0]})"


def swapaxes_make(gen, x):
    nd = len(x.shape)
    if nd < 1:
        return None
    a, b = (int(v) for v in gen.rng.integers(-nd, nd, 2))
    return [x], {"a": a, "b": b, "method": bool(gen.rng.random() < 0.4)}


def moveaxis_make(gen, x):
    nd, rng = len(x.shape), gen.rng
    if nd < 1:
        return None
    if nd >= 2 and rng.random() < 0.4:
        src = tuple(int(v) for v in rng.choice(nd, 2, replace=False))
        dst = tuple(int(v) - (nd if rng.random() < 0.3 else 0) for v in rng.choice(nd, 2, replace=False))
    else:
        src, dst = int(rng.integers(-nd, nd)), int(rng.integers(-nd, nd))
    return [x], {"src": src, "dst": dst}


def squeeze_make(gen, x):
    ones = [i for i, d in enumerate(x.shape) if d == 1]
    if not ones:
        return None
    rng = gen.rng
    form = rng.integers(4)
    axis = None if form == 0 else (int(rng.choice(ones)) - (len(x.shape) if form == 2 else 0))
    if form == 3 and len(ones) >= 2:
        axis = tuple(ones[:2])
    return [x], {"axis": axis, "method": bool(rng.random() < 0.3)}


def expand_dims_make(gen, x):
    nd, rng = len(x.shape), gen.rng
    if nd >= 4:
        return None
    if rng.random() < 0.3:
        axis = tuple(int(v) for v in rng.choice(nd + 2, 2, replace=False))
    else:
        axis = int(rng.integers(-nd - 1, nd + 1))
    return [x], {"axis": axis}


def broadcast_to_make(gen, x):
    rng = gen.rng
    shape = [d if d != 1 or rng.random() < 0.5 else int(rng.integers(0, 4)) for d in x.shape]
    if rng.random() < 0.6 and len(shape) < 4:
        shape.insert(0, int(rng.integers(1, 4)))
    shape = tuple(shape)
    if np.prod(shape, dtype=np.int64) > MAX_SIZE or shape == x.shape:
        return None
    return [x], {"shape": shape}


def concat_make(gen, x):
    nd, rng = len(x.shape), gen.rng
    if rng.random() < 0.15:                             # axis=None flattens
        other = gen.operand_of_shape(_random_shape_of_size(rng, int(rng.integers(0, 5))), x.dtype)
        return ([x, other], {"axis": None}) if other is not None else None
    if nd == 0:
        return None
    axis = int(rng.integers(-nd, nd))
    others = []
    for _ in range(rng.integers(1, 3)):
        shape = list(x.shape)
        shape[axis] = int(rng.integers(0, 4))
        o = gen.operand_of_shape(tuple(shape), x.dtype)
        if o is None:
            return None
        others.append(o)
    ops = [x] + others
    rng.shuffle(ops)
    return ops, {"axis": axis}


def stack_make(gen, x):
    nd, rng = len(x.shape), gen.rng
    others = []
    for _ in range(rng.integers(1, 3)):
        o = gen.operand_of_shape(x.shape, x.dtype)
        if o is None:
            return None
        others.append(o)
    return [x] + others, {"axis": int(rng.integers(-nd - 1, nd + 1))}


def hvstack_make(gen, x):
    o = gen.operand_of_shape(x.shape, x.dtype)
    return ([x, o], {}) if o is not None else None


def flip_make(gen, x):
    nd = len(x.shape)
    return [x], {"axis": _axis_choice(gen, nd) if nd else None}


def roll_make(gen, x):
    nd, rng = len(x.shape), gen.rng
    shift = int(rng.integers(-5, 6))
    axis = _axis_choice(gen, nd) if nd else None
    if isinstance(axis, tuple) and rng.random() < 0.5:     # one shift per axis
        shift = tuple(int(v) for v in rng.integers(-5, 6, len(axis)))
    return [x], {"shift": shift, "axis": axis}


def diff_make(gen, x):
    nd, rng = len(x.shape), gen.rng
    if nd == 0:
        return None
    p = {"n": int(rng.integers(1, 3)), "axis": int(rng.integers(-nd, nd)), "extra": Src("")}
    operands = [x]
    if rng.random() < 0.3:                  # prepend= / append= a scalar or an array
        shape = list(x.shape)
        shape[p["axis"]] = int(rng.integers(1, 3))
        other = gen.literal() if rng.random() < 0.4 else gen.operand_of_shape(tuple(shape), x.dtype)
        if other is None:
            return None
        operands.append(other)
        p["extra"] = Src(f", {['prepend', 'append'][rng.integers(2)]}={{1}}")
        if isinstance(other, Lit):           # torch wants an array: the scalar expanded to one slice
            p["fill_shape"] = tuple(1 if d == p["axis"] % nd else n for d, n in enumerate(x.shape))
    return operands, p


def _np_diff(a, p, np_="np"):
    extra = p["extra"].format(*a) if p["extra"] else ""
    return f"{np_}.diff({a[0]}, n={p['n']}, axis={p['axis']}{extra})"


def _torch_diff(a, p):
    if "fill_shape" in p:
        a = [a[0], f"{a[1]}.expand({p['fill_shape']!r})"]
    extra = p["extra"].format(*a) if p["extra"] else ""
    return f"torch.diff({a[0]}, n={p['n']}, dim={p['axis']}{extra})"


def _index_array(rng, n, shape=None):
    if shape is None:
        shape = [(), (2,), (3,), (2, 2), (1,), (0,)][rng.integers(6)]
    if n == 0:
        shape = (0,)
    return rng.integers(-n, max(n, 1), shape) if n else np.zeros(shape, np.int64)


def _array_src(a):
    a = np.asarray(a)
    return Src(f"np.array({a.tolist()!r}{', dtype=np.int64' if a.size == 0 else ''})")


def take_make(gen, x):
    nd, rng = len(x.shape), gen.rng
    if nd == 0:
        return None
    axis = None if rng.random() < 0.3 else int(rng.integers(-nd, nd))
    n = x.size if axis is None else x.shape[axis]
    if rng.random() < 0.2 and n:
        return [x], {"idx": int(rng.integers(-n, n)), "axis": axis}
    return [x], {"idx": _array_src(_index_array(rng, n)), "axis": axis}


def getitem_make(gen, x):
    """A random index: slices (steps, negative steps, out-of-range bounds), ints, None, ...,
    integer arrays (adjacent when several; an int and an array may be separated)."""
    rng, shape = gen.rng, x.shape
    items, arrays = [], 0
    last_array = -2
    for axis, n in enumerate(shape):
        r = rng.random()
        if r < 0.35:
            start = None if rng.random() < 0.4 else int(rng.integers(-n - 2, n + 2))
            stop = None if rng.random() < 0.4 else int(rng.integers(-n - 2, n + 2))
            step = [None, None, 1, 2, 3, -1, -1, -2][rng.integers(8)]
            items.append(Src(_slice_src(start, stop, step)))
        elif r < 0.55 and n:
            items.append(int(rng.integers(-n, n)))
        elif r < 0.75 and (arrays == 0 or last_array == axis - 1):
            idx = _index_array(rng, n, None if arrays == 0 else ())
            items.append(Src(f"{idx.tolist()!r}") if rng.random() < 0.15 and idx.size else _array_src(idx))
            arrays += 1
            last_array = axis
        else:
            items.append(Src(":"))
    while items and items[-1] == ":" and rng.random() < 0.5:
        items.pop()
    if rng.random() < 0.3:                              # an Ellipsis for a run of full slices
        full = [i for i, k in enumerate(items) if k == ":"]
        if full:
            i = full[0]
            j = i
            while j + 1 < len(items) and items[j + 1] == ":":
                j += 1
            items[i:j + 1] = [Src("...")]
        elif rng.random() < 0.5:
            items.insert(int(rng.integers(len(items) + 1)), Src("..."))
    for _ in range(rng.integers(0, 2) if rng.random() < 0.4 else 0):
        items.insert(int(rng.integers(len(items) + 1)), Src("None"))
    if not items:
        items = [Src("...")]
    # JAX refuses lists as indices: its template reads them as arrays
    jax_items = [Src(f"np.array({k})") if str(k).startswith("[") else k for k in items]
    return [x], {"key": Src(", ".join(map(repr, items))), "jax_key": Src(", ".join(map(repr, jax_items)))}


def _slice_src(start, stop, step):
    s = f"{'' if start is None else start}:{'' if stop is None else stop}"
    return s + (f":{step}" if step is not None else "")


def clip_make(gen, x):
    rng = gen.rng
    lo, hi = sorted(float(v) for v in np.round(rng.uniform(-1.5, 1.5, 2), 2))
    form = rng.integers(3)
    p = {"lo": lo if form != 2 else None, "hi": hi if form != 1 else None}
    return [x], p


def where_make(gen, x):
    """np.where(a <cmp> b, y, z): the condition compares two operands, y and z broadcast."""
    rng = gen.rng
    b = gen.broadcast_partner(x, "any", True)
    y = gen.broadcast_partner(x, "any", True) if rng.random() < 0.6 else x
    z = gen.broadcast_partner(x, "any", True) if rng.random() < 0.7 else b
    if b is None or y is None or z is None:
        return None
    return [x, b, y, z], {"cmp": COMPARISONS[rng.integers(len(COMPARISONS))]}


COMPARISONS = ["<", "<=", ">", ">=", "np.less", "np.less_equal", "np.greater", "np.greater_equal"]


def _np_where(a, p, np_="np"):
    cmp = p["cmp"]
    cond = f"{a[0]} {cmp} {a[1]}" if not cmp.startswith("np.") else f"{np_}.{cmp[3:]}({a[0]}, {a[1]})"
    return f"{np_}.where({cond}, {a[2]}, {a[3]})"


def where_logic_make(gen, x):
    rng = gen.rng
    y = gen.broadcast_partner(x, "any", True)
    if y is None:
        return None
    t1, t2 = (float(v) for v in np.round(rng.uniform(-1, 1, 2), 2))
    return [x, y], {"t1": t1, "t2": t2, "logic": Src(["&", "|"][rng.integers(2)]),
                    "neg": Src("~" if rng.random() < 0.4 else "")}


def kink_where(vals, p):
    return _gap(vals[0], vals[1])


def kink_where_logic(vals, p):
    return min(_gap(vals[0], p["t1"]), _gap(vals[1], p["t2"]))


def rounding_make(gen, x):
    return [x], {"decimals": int(gen.rng.choice([0, 0, 1, -1]))}


def mod_make(gen, x):
    """x % y with y away from 0; both orders."""
    y = gen.broadcast_partner(x, "nonzero", True)
    if y is None:
        return None
    return ([x, y], {}) if gen.rng.random() < 0.7 else ([y, x], {})


def cumulative_make(gen, x):
    nd, rng = len(x.shape), gen.rng
    axis = None if nd == 0 or rng.random() < 0.3 else int(rng.integers(-nd, nd))
    return [x], {"axis": axis, "method": bool(rng.random() < 0.3), "dim": -1 if axis is None else axis}


def _np_cumulative(fn):
    def render(a, p):
        return f"{a[0]}.{fn}(axis={p['axis']!r})" if p["method"] else f"np.{fn}({a[0]}, axis={p['axis']!r})"
    return render


def _torch_cumulative(fn):
    def render(a, p):
        return f"torch.{fn}({a[0]}.reshape(-1) if {p['axis'] is None} else {a[0]}, dim={p['dim']})"
    return render


def astype_make(gen, x):
    return [x], {"dtype": Src(["np.float32", "np.float64"][gen.rng.integers(2)])}


def full_like_make(gen, x):
    """A literal fill value, or a traced 0-d one."""
    scalars = [v for v in gen.vars if v.shape == ()]
    if scalars and gen.rng.random() < 0.4:
        return [x, gen._pick(scalars)], {"fill": Src("{1}")}
    return [x], {"fill": float(np.round(gen.rng.uniform(-2, 2), 2))}


def _full_like(np_):
    def render(a, p):
        fill = p["fill"].format(*a) if isinstance(p["fill"], Src) else repr(p["fill"])
        return f"{np_}.full_like({a[0]}, {fill}) * {a[0]}"
    return render


# ---------------------------------------------------------------------------------- the table

def _u(name, np_src, torch_src, domain="any", kink=None, weight=1.0, jax=None):
    return Op(name, np_src, torch_src, unary, (domain,), kink, weight, jax)


OPS = [
    # elementwise, unary
    _u("neg", "-{0}", "-{0}"),
    _u("negative", "np.negative({0})", "torch.negative({0})", weight=0.3),
    _u("positive", "np.positive({0})", "+{0}", weight=0.2),
    _u("exp", "np.exp({0})", "torch.exp({0})", "small"),
    _u("expm1", "np.expm1({0})", "torch.expm1({0})", "small", weight=0.5),
    _u("exp2", "np.exp2({0})", "torch.exp2({0})", "small", weight=0.5),
    _u("log", "np.log({0})", "torch.log({0})", "pos"),
    _u("log1p", "np.log1p({0})", "torch.log1p({0})", "pos", weight=0.5),
    _u("log2", "np.log2({0})", "torch.log2({0})", "pos", weight=0.5),
    _u("log10", "np.log10({0})", "torch.log10({0})", "pos", weight=0.5),
    _u("sqrt", "np.sqrt({0})", "torch.sqrt({0})", "pos"),
    _u("sin", "np.sin({0})", "torch.sin({0})"),
    _u("cos", "np.cos({0})", "torch.cos({0})"),
    _u("tan", "np.tan({0})", "torch.tan({0})", "unit", weight=0.5),
    _u("tanh", "np.tanh({0})", "torch.tanh({0})"),
    _u("sinh", "np.sinh({0})", "torch.sinh({0})", "small", weight=0.5),
    _u("cosh", "np.cosh({0})", "torch.cosh({0})", "small", weight=0.5),
    _u("arctan", "np.arctan({0})", "torch.atan({0})", weight=0.5),
    _u("arcsin", "np.arcsin({0})", "torch.asin({0})", "unit", weight=0.5),
    _u("arccos", "np.arccos({0})", "torch.acos({0})", "unit", weight=0.5),
    _u("abs", "np.abs({0})", "torch.abs({0})", kink=kink_abs),
    _u("abs_builtin", "abs({0})", "torch.abs({0})", kink=kink_abs, weight=0.3),
    _u("absolute", "np.absolute({0})", "torch.abs({0})", kink=kink_abs, weight=0.3),
    _u("fabs", "np.fabs({0})", "torch.abs({0})", kink=kink_abs, weight=0.3),
    _u("sign", "np.sign({0}) * {0}", "torch.sign({0}) * {0}", kink=kink_abs, weight=0.5),
    _u("square", "np.square({0})", "torch.square({0})"),
    _u("reciprocal", "np.reciprocal({0})", "torch.reciprocal({0})", "nonzero", weight=0.5),
    Op("int_pow", "{0} ** {k}", "{0} ** {k}", with_literal([0, 1, 2, 3, 4, 2.0, Src("np.float64(3.0)")])),
    Op("int_pow_neg", "{0} ** {k}", "{0} ** {k}", with_literal([-1, -2, -1.0]), ("nonzero",), weight=0.5),
    Op("pow_frac", "{0} ** {k}", "{0} ** {k}", with_literal([0.5, 1.5, 2.5, -0.5, Src("np.float32(1.5)")]),
       ("pos",), weight=0.5),
    Op("np_power", "np.power({0}, {k})", "torch.pow({0}, {k})", with_literal([2, 3, 0.5, 1.5]), ("pos",),
       weight=0.5),
    Op("float_power", "np.float_power({0}, {k})", "torch.float_power({0}, {k})", with_literal([2, 3, 0.5, 2.5]),
       ("pos",), weight=0.5),
    # elementwise, binary with broadcasting (the second operand may be a Python or NumPy scalar)
    Op("add", "{0} + {1}", "{0} + {1}", binary()),
    Op("np_add", "np.add({0}, {1})", "torch.add({0}, {1})", binary(), weight=0.3),
    Op("sub", "{0} - {1}", "{0} - {1}", binary()),
    Op("np_subtract", "np.subtract({0}, {1})", "torch.sub({0}, {1})", binary(), weight=0.3),
    Op("mul", "{0} * {1}", "{0} * {1}", binary()),
    Op("np_multiply", "np.multiply({0}, {1})", "torch.mul({0}, {1})", binary(), weight=0.3),
    Op("div", "{0} / {1}", "{0} / {1}", binary(("any", "nonzero"), swap=False), ("any", "nonzero")),
    Op("np_divide", "np.divide({0}, {1})", "torch.div({0}, {1})", binary(("any", "nonzero"), swap=False),
       ("any", "nonzero"), weight=0.3),
    Op("rdiv", "{1} / {0}", "{1} / {0}", binary(("nonzero", "any"), swap=False), ("nonzero", "any"), weight=0.5),
    Op("pow", "{0} ** {1}", "{0} ** {1}", binary(("pos", "small"), swap=False), ("pos", "small"), weight=0.5),
    Op("maximum", "np.maximum({0}, {1})", "torch.maximum({0}, {1})", binary(), kink=kink_pair),
    Op("minimum", "np.minimum({0}, {1})", "torch.minimum({0}, {1})", binary(), kink=kink_pair),
    Op("fmax", "np.fmax({0}, {1})", "torch.fmax({0}, {1})", binary(), kink=kink_pair, weight=0.3),
    Op("fmin", "np.fmin({0}, {1})", "torch.fmin({0}, {1})", binary(), kink=kink_pair, weight=0.3),
    Op("logaddexp", "np.logaddexp({0}, {1})", "torch.logaddexp({0}, {1})", binary(), weight=0.5),
    Op("hypot", "np.hypot({0}, {1})", "torch.hypot({0}, {1})", binary(), kink=kink_hypot, weight=0.5),
    # rounding (piecewise constant) and the mod family
    _u("floor", "np.floor({0})", "torch.floor({0})", kink=kink_integer, weight=0.3),
    _u("ceil", "np.ceil({0})", "torch.ceil({0})", kink=kink_integer, weight=0.3),
    _u("trunc", "np.trunc({0})", "torch.trunc({0})", kink=kink_integer, weight=0.3),
    _u("rint", "np.rint({0})", "torch.round({0})", kink=kink_half_integer, weight=0.3),
    Op("round", lambda a, p: f"np.round({a[0]}, {p['decimals']})" if p["decimals"] else f"np.around({a[0]})",
       lambda a, p: f"torch.round({a[0]}, decimals={p['decimals']})", rounding_make, kink=kink_half_integer,
       weight=0.3, names=("np.round", "np.around")),
    Op("mod", "{0} % {1}", "torch.remainder({0}, {1})", mod_make, ("nonzero", "nonzero"), kink_mod, 0.3),
    Op("remainder", "np.remainder({0}, {1})", "torch.remainder({0}, {1})", mod_make, ("nonzero", "nonzero"),
       kink_mod, 0.2),
    # (torch.floor_divide has no derivative; the runtime, like it, records none: detached floor)
    Op("floor_divide", "np.floor_divide({0}, {1}) + {0} // {1}", "2 * torch.floor({0} / {1}).detach()", mod_make,
       ("nonzero", "nonzero"), kink_mod, 0.2),
    Op("divmod", "np.divmod({0}, {1})[0] * {0} + np.divmod({0}, {1})[1]",
       "torch.floor({0} / {1}).detach() * {0} + torch.remainder({0}, {1})", mod_make, ("nonzero", "nonzero"),
       kink_mod, 0.2),
    Op("isfinite", "np.where(np.isfinite({0}) & ~np.isnan({0}) & ~np.isinf({0}), {0}, 0.0)",
       "torch.where(torch.isfinite({0}) & ~torch.isnan({0}) & ~torch.isinf({0}), {0}, 0.0)", weight=0.2),
    # comparisons and selection
    Op("where", _np_where, lambda a, p: _np_where(a, p, "torch"), where_make, kink=kink_where,
       names=("np.where",) + tuple(c for c in COMPARISONS if c.startswith("np."))),
    Op("where_logic", "np.where({neg}(({0} > {t1}) {logic} ({1} < {t2})), {0}, {1})",
       "torch.where({neg}(({0} > {t1}) {logic} ({1} < {t2})), {0}, {1})", where_logic_make,
       kink=kink_where_logic, weight=0.5),
    Op("mask_mul", "({0} > {1}) * {0}", "({0} > {1}) * {0}", binary(swap=False), kink=kink_pair, weight=0.5),
    Op("logical_where", "np.where(np.logical_or(np.logical_not({0} > {1}), np.logical_and({0} > 1.5, {1} < 0.5)), {0}, -{0})",
       "torch.where(torch.logical_or(torch.logical_not({0} > {1}), torch.logical_and({0} > 1.5, {1} < 0.5)), {0}, -{0})",
       binary(swap=False), kink=lambda v, p: min(kink_pair(v, p), _gap(v[0], 1.5), _gap(v[1], 0.5)), weight=0.3),
    # exact float equality is degenerate on random data: equal/not_equal next to an inequality
    Op("equal_where", "np.where(np.equal({0}, {1}) | np.less({0}, {1}), {0}, {1})",
       "torch.where(torch.eq({0}, {1}) | torch.lt({0}, {1}), {0}, {1})", binary(swap=False), kink=kink_pair,
       weight=0.2),
    Op("not_equal_where", "np.where(np.not_equal({0}, {1}) & ({0} > {1}), {0}, {1})",
       "torch.where(torch.ne({0}, {1}) & ({0} > {1}), {0}, {1})", binary(swap=False), kink=kink_pair,
       weight=0.2),
    Op("clip", lambda a, p: f"np.clip({a[0]}, {p['lo']!r}, {p['hi']!r})",
       lambda a, p: f"torch.clamp({a[0]}, min={p['lo']!r}, max={p['hi']!r})", clip_make, kink=kink_clip,
       names=("np.clip",)),
    # reductions
    reduction_rows("sum", _torch_reduce("sum")),
    reduction_rows("mean", _torch_reduce("mean"), min_count=1),
    reduction_rows("max", _torch_reduce("amax"), min_count=1, kink=kink_reduce_max, alias="amax"),
    reduction_rows("min", _torch_reduce("amin"), min_count=1, kink=kink_reduce_min, alias="amin"),
    reduction_rows("prod", lambda a, p: _torch_prod(a, p) if p["dims"] else f"{a[0]}.clone()", weight=0.7),
    reduction_rows("var", _torch_reduce("var"), min_count=1, ddof=True),
    reduction_rows("std", _torch_reduce("std"), min_count=1, ddof=True, kink=kink_std),
    Op("norm", _np_norm, _torch_norm, norm_make, kink=kink_norm, names=("np.linalg.norm",)),
    # products
    # (torch's products need equal dtypes: `promote` casts to the common one)
    Op("matmul_op", "{0} @ {1}", "torch.matmul(*promote({0}, {1}))", matmul_make()),
    Op("matmul", "np.matmul({0}, {1})", "torch.matmul(*promote({0}, {1}))", matmul_make(), weight=0.5),
    Op("dot", "np.dot({0}, {1})", "torch.matmul(*promote({0}, {1}))", matmul_make(max_rank=2), weight=0.5),
    Op("dot_method", "{0}.dot({1})", "torch.matmul(*promote({0}, {1}))", matmul_make(max_rank=2, method=True),
       weight=0.2),
    Op("inner", "np.inner({0}, {1})", "torch.dot(*promote({0}, {1}))", vector_pair, weight=0.3),
    Op("vdot", "np.vdot({0}, {1})", "torch.dot(*promote({0}, {1}))", vector_pair, weight=0.2),
    Op("outer", "np.outer({0}, {1})", "torch.outer(*promote({0}.reshape(-1), {1}.reshape(-1)))", outer_make,
       weight=0.5),
    # shapes and indexing (pure index maps: torch renders them as gathers)
    Op("reshape", _np_reshape, GATHER, reshape_make, names=("np.reshape",)),
    Op("ravel", "np.ravel({0})", GATHER, weight=0.3),
    Op("ravel_method", "{0}.ravel()", GATHER, weight=0.2),
    Op("flatten", "{0}.flatten()", GATHER, weight=0.2),
    Op("transpose", _np_transpose, GATHER, transpose_make, names=("np.transpose",)),
    Op("T", "{0}.T", GATHER),
    Op("swapaxes", lambda a, p: f"{a[0]}.swapaxes({p['a']}, {p['b']})" if p["method"]
       else f"np.swapaxes({a[0]}, {p['a']}, {p['b']})", GATHER, swapaxes_make, weight=0.5, names=("np.swapaxes",)),
    Op("moveaxis", "np.moveaxis({0}, {src}, {dst})", GATHER, moveaxis_make, weight=0.5),
    Op("squeeze", lambda a, p: f"{a[0]}.squeeze({p['axis']!r})" if p["method"]
       else f"np.squeeze({a[0]}, axis={p['axis']!r})", GATHER, squeeze_make, weight=0.7, names=("np.squeeze",)),
    Op("expand_dims", "np.expand_dims({0}, {axis})", GATHER, expand_dims_make, weight=0.7),
    Op("broadcast_to", "np.broadcast_to({0}, {shape})", GATHER, broadcast_to_make, weight=0.7),
    Op("atleast_1d", "np.atleast_1d({0})", GATHER, weight=0.2),
    Op("copy", "np.copy({0})", GATHER, weight=0.2),
    Op("copy_method", "{0}.copy()", GATHER, weight=0.2),
    Op("concatenate", lambda a, p: f"np.concatenate([{', '.join(a)}], axis={p['axis']!r})", GATHER, concat_make,
       names=("np.concatenate",)),
    Op("stack", lambda a, p: f"np.stack([{', '.join(a)}], axis={p['axis']})", GATHER, stack_make, weight=0.7,
       names=("np.stack",)),
    Op("hstack", "np.hstack([{0}, {1}])", GATHER, hvstack_make, weight=0.3),
    Op("vstack", "np.vstack([{0}, {1}])", GATHER, hvstack_make, weight=0.3),
    Op("flip", "np.flip({0}, axis={axis})", GATHER, flip_make, weight=0.7),
    Op("roll", "np.roll({0}, {shift}, axis={axis})", GATHER, roll_make, weight=0.7),
    Op("take", "np.take({0}, {idx}, axis={axis})", GATHER, take_make, weight=0.7),
    Op("getitem", "{0}[{key}]", GATHER, getitem_make, weight=3.0, jax="{0}[{jax_key}]"),
    Op("diff", _np_diff, _torch_diff, diff_make, weight=0.7, names=("np.diff",)),
    Op("cumsum", _np_cumulative("cumsum"), _torch_cumulative("cumsum"), cumulative_make, weight=0.5,
       names=("np.cumsum",)),
    Op("cumprod", _np_cumulative("cumprod"), _torch_cumulative("cumprod"), cumulative_make, weight=0.4,
       names=("np.cumprod",)),
    # dtypes, constants, static queries, stop_gradient
    Op("static_queries", "{0} * (np.size({0}) + np.ndim({0}) + len(np.shape({0}))) + {0}.astype(np.result_type({0}, 1.0))",
       lambda a, p: f"{a[0]} * {p['k']} + {a[0]}", lambda gen, x: ([x], {"k": x.size + 2 * len(x.shape)}),
       weight=0.1),
    Op("astype", "{0}.astype({dtype})",
       lambda a, p: f"{a[0]}.to(torch.{p['dtype'].split('.')[1]})", astype_make, weight=0.5),
    Op("stop_gradient", "stop_gradient({0}) * {0}", "{0}.detach() * {0}", weight=0.5),
    # structured control flow: a small fixed body around the random operand (compiler.fori_loop,
    # scan and cond run as Python loops on NumPy, JAX and eager values, and as loop primitives
    # when gradjit traces them; the tiny memory budgets make reverse mode recompute from snapshots)
    Op("fori_loop", "fori_loop(0, 3, lambda i, c: np.sin(c) * 0.5 + c * 0.75, {0})",
       "(lambda body: body(body(body({0}))))(lambda c: torch.sin(c) * 0.5 + c * 0.75)", weight=0.5),
    Op("scan", "scan(lambda c, x: (c * 0.5 + x, np.tanh(c + x)), np.zeros(np.shape({0})[1:]), {0})[1]",
       "torch_scan({0})", leading_axis, weight=0.4),
    Op("while_loop", "while_loop(lambda s: s[0] < 3, lambda s: (s[0] + 1, np.sin(s[1]) * 0.5 + s[1] * 0.75), "
       "(0, {0}), memory_budget=16)[1]",
       "(lambda body: body(body(body({0}))))(lambda c: torch.sin(c) * 0.5 + c * 0.75)", weight=0.4),
    Op("scan_checkpointed", "scan(lambda c, x: (c * 0.5 + x, np.tanh(c + x)), np.zeros(np.shape({0})[1:]), {0}, "
       "memory_budget=8)[1]", "torch_scan({0})", leading_axis, weight=0.3),
    Op("cond", "cond(np.sum({0}) > 0.0, lambda v: np.sin(v) * 2.0, lambda v: v * v, {0})",
       "torch.where(torch.sum({0}) > 0.0, torch.sin({0}) * 2.0, {0} * {0})", kink=kink_sum, weight=0.4),
    Op("ones_like", "np.ones_like({0}) + {0}", "torch.ones_like({0}) + {0}", weight=0.2),
    Op("zeros_like", "np.zeros_like({0}) * 2.0 + {0}", "torch.zeros_like({0}) * 2.0 + {0}", weight=0.2),
    Op("full_like", _full_like("np"), lambda a, p: _full_like("torch")(a, p) if not isinstance(p["fill"], Src)
       else f"torch.ones_like({a[0]}) * {a[1]} * {a[0]}", full_like_make, weight=0.3, names=("np.full_like",)),
]
# last lines with a bool or integer result (values only: issue 7 #16)
TAILS = [
    Op("greater_tail", "{0} > {1}", "{0} > {1}", binary(swap=False), tail=True),
    Op("any_tail", "np.sum({0}) > 0.5", "torch.sum({0}) > 0.5", tail=True),
    Op("count_tail", "np.sum({0} > 0.25)", "torch.sum({0} > 0.25)", tail=True),
    Op("max_bool_tail", "np.max({0} < 0.0)", "torch.any({0} < 0.0)", tail=True),
]
SPECIAL_VALUES = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e200, -1e200, 1e-200, 5e-324, 1.0, -1.0]
OPS_BY_NAME = {op.name: op for op in OPS + TAILS}
OPS_BY_NAME.update({op.name: op for op in ADAPTERS.values()})


# ---------------------------------------------------------------------------------- programs

def _torch_promote(*xs):
    import torch
    dtype = xs[0].dtype
    for x in xs[1:]:
        dtype = torch.promote_types(dtype, x.dtype)
    return [x.to(dtype) for x in xs]


class Reject(Exception):
    """A line NumPy refuses, or whose result is out of bounds or too close to a kink."""


def _identity(x):
    return x


def _operand_values(line, env):
    return [env[a] if isinstance(a, str) else a.value for a in line.args]


def evaluate_line(line, env, special=False):
    """The NumPy value of `line` in `env` (names -> values), or Reject.  With `special` (programs
    on inf, nan, zeros and extreme magnitudes, checked for values only) anything NumPy computes goes."""
    op = line.op
    vals = _operand_values(line, env)
    for i, v in enumerate(vals):
        if not special and not DOMAINS[op.domain[i] if i < len(op.domain) else "any"][0](np.asarray(v, np.float64)):
            raise Reject(f"{op.name}: operand {i} outside its domain")
    try:
        with np.errstate(all="ignore" if special else "raise", under="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore" if special else "error")
            value = eval(line.np_expr(), env)
    except Exception as e:
        raise Reject(f"{op.name}: NumPy raises {type(e).__name__}: {e}") from None
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    arr = np.asarray(value)
    if (arr.dtype.kind != "f" and not op.tail) or arr.size > MAX_SIZE or arr.ndim > 4:
        raise Reject(f"{op.name}: result {arr.dtype}{arr.shape}")
    if special or op.tail:
        return value
    if arr.size and not (np.all(np.isfinite(arr)) and np.max(np.abs(arr)) <= BOUND):
        raise Reject(f"{op.name}: result not finite or above {BOUND}")
    if op.kink is not None and op.kink(vals, line.params) < MARGIN:
        raise Reject(f"{op.name}: too close to a kink")
    return value


class Program:
    """Inputs, constants and lines; renders itself as NumPy, JAX and PyTorch functions."""

    def __init__(self, seed, inputs, consts, lines, out, special=False):
        self.seed, self.inputs, self.consts, self.lines, self.out = seed, inputs, consts, lines, out
        self.special = special            # inf/nan/extreme inputs: values are checked, not derivatives

    # -- values
    def args(self):
        """The arguments to call the program with (views and scalars as generated)."""
        return [i.value for i in self.inputs]

    def evaluate(self):
        """Every value by name, checking each line as the generator did (Reject if invalid)."""
        env = {"np": np, "stop_gradient": _identity, **LOOPS, **self.consts}
        env.update((i.name, i.value) for i in self.inputs)
        for line in self.lines:
            env[line.out] = evaluate_line(line, env, self.special)
        return env

    @property
    def values_only(self):
        """Derivatives are not checked: special values, or a bool/int result."""
        return self.special or np.result_type(self.evaluate()[self.out]).kind != "f"

    def is_valid(self):
        try:
            self.evaluate()
            return True
        except Reject:
            return False

    @property
    def has_float32(self):
        """Any float32 value: finite differences are then too noisy to be an oracle."""
        env = self.evaluate()
        values = [env[i.name] for i in self.inputs] + list(self.consts.values()) + \
            [env[line.out] for line in self.lines]
        return any(np.result_type(v) == np.float32 for v in values) or "float32" in self.source()

    def depends_on_inputs(self):
        names = {i.name for i in self.inputs}
        return self.out in names or any(a in names for line in self.lines for a in line.args if isinstance(a, str))

    @property
    def has_stop_gradient(self):
        return any(line.op.name == "stop_gradient" for line in self.lines)

    # -- source
    def source(self, flavor="numpy"):
        args = ", ".join(i.name for i in self.inputs)
        if flavor == "torch":
            env = self.evaluate()
            body = [f"{line.out} = {line.torch_expr(np.shape(env[line.out]))}" for line in self.lines]
        else:
            body = [f"{line.out} = {line.jax_expr() if flavor == 'jax' else line.np_expr()}" for line in self.lines]
        return f"def f({args}):\n" + "".join(f"    {b}\n" for b in body) + f"    return {self.out}\n"

    def function(self, flavor="numpy", stop_gradient=_identity, namespace=None):
        """The program as a Python function. flavor numpy (also what gradjit traces and what the
        eager runtime runs: pass its stop_gradient), jax (np bound to `namespace`), torch."""
        env = {"np": np if namespace is None else namespace, "stop_gradient": stop_gradient, **LOOPS,
               **self.consts}
        if flavor == "jax":                    # JAX runs the loops as its own primitives
            import jax
            env.update(fori_loop=jax.lax.fori_loop, cond=jax.lax.cond,     # JAX has no budgets, and no
                       scan=lambda f, init, xs, memory_budget=None: jax.lax.scan(f, init, xs),
                       while_loop=_jax_while_loop)                            # reverse mode through while
        if flavor == "torch":
            import torch
            env = {"torch": torch, "np": np, "promote": _torch_promote, "torch_scan": torch_scan,
                   **{k: torch.from_numpy(np.array(v, np.float64 if v.dtype.kind != "f" else v.dtype))
                      for k, v in self.consts.items()},
                   **self.gather_indices(torch)}
        src = self.source(flavor)
        filename = f"<random program {self.seed} ({flavor})>"
        import linecache
        linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
        exec(compile(src, filename, "exec"), env)
        return env["f"]

    def gather_indices(self, torch):
        """For each index-map line, the flat positions it reads from its (concatenated) operands."""
        env = self.evaluate()
        out = {}
        for line in self.lines:
            if line.op.torch != GATHER:
                continue
            local, offset = {"np": np}, 0
            for a in line.args:
                shape = np.shape(env[a])
                n = int(np.prod(shape, dtype=np.int64))
                local[a] = np.arange(offset, offset + n, dtype=np.int64).reshape(shape)
                offset += n
            idx = np.asarray(eval(line.np_expr(), local), dtype=np.int64)
            out[f"{line.out}_index"] = torch.from_numpy(np.array(idx))
        return out

    def repro(self, snippet=""):
        consts = "".join(f"{k} = {array_source(v)}\n" for k, v in self.consts.items())
        inputs = "".join(f"{i.name} = {i.source()}\n" for i in self.inputs)
        return (f"# random program seed={self.seed}\nimport numpy as np\n"
                f"from compiler import *\n{consts}\n{self.source()}\n{inputs}{snippet}")

    def __repr__(self):
        return self.repro()

    # -- edits (for shrinking)
    def replaced(self, lines=None, out=None, inputs=None):
        p = Program(self.seed, list(self.inputs if inputs is None else inputs), dict(self.consts),
                    list(self.lines if lines is None else lines), self.out if out is None else out, self.special)
        return p.without_dead_code()

    def without_dead_code(self):
        live, lines = {self.out}, []
        for line in reversed(self.lines):
            if line.out in live:
                lines.append(line)
                live.update(a for a in line.args if isinstance(a, str))
        lines.reverse()
        inputs = [i for i in self.inputs if i.name in live] or self.inputs[:1]
        consts = {k: v for k, v in self.consts.items() if k in live}
        names = {i.name: f"x{n}" for n, i in enumerate(inputs)}
        names.update((k, f"c{n}") for n, k in enumerate(consts))
        names.update((line.out, f"v{n}") for n, line in enumerate(lines))
        return Program(self.seed, [Input(names[i.name], i.base, i.layout) for i in inputs],
                       {names[k]: v for k, v in consts.items()},
                       [Line(names[l.out], l.op, [names[a] if isinstance(a, str) else a for a in l.args], l.params)
                        for l in lines], names[self.out], self.special)


# ---------------------------------------------------------------------------------- the generator

def _weighted(rng, items, weights):
    w = np.asarray(weights, np.float64)
    return items[rng.choice(len(items), p=w / w.sum())]


class Generator:
    """Builds one random program, line by line on concrete values."""

    def __init__(self, seed, max_lines=8, ops=None):
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.ops = OPS if ops is None else ops
        self.max_lines = max_lines
        self.dtype = np.dtype(np.float32 if self.rng.random() < 0.2 else np.float64)
        self.empty = self.rng.random() < 0.1
        self.special = self.rng.random() < 0.08
        self.inputs, self.consts, self.lines, self.vars, self.uses = [], {}, [], [], {}
        self.env = {"np": np, "stop_gradient": _identity, **LOOPS}
        self._n = 0

    # -- new values
    def new_shape(self):
        rng = self.rng
        while True:
            rank = int(rng.choice(4, p=[0.15, 0.3, 0.35, 0.2]))
            shape = [int(rng.choice([1, 2, 3, 4], p=[0.25, 0.3, 0.3, 0.15])) for _ in range(rank)]
            if shape and self.empty and rng.random() < 0.4:
                shape[rng.integers(rank)] = 0
            if np.prod(shape, dtype=np.int64) <= MAX_SIZE:
                return tuple(shape)

    def _dtype(self):
        if self.rng.random() < 0.1:
            return np.dtype(np.float64 if self.dtype == np.float32 else np.float32)
        return self.dtype

    def _data(self, shape, dtype, domain):
        lo, hi = DOMAINS[domain][2]
        data = self.rng.uniform(lo, hi, shape)
        if domain == "nonzero":
            data *= self.rng.choice([-1.0, 1.0], shape)
        data = np.round(data, 3)                     # short literals in repros
        if self.special and data.size:
            mask = self.rng.random(data.shape) < 0.4
            data = np.where(mask, self.rng.choice(SPECIAL_VALUES, data.shape), data)
        with np.errstate(over="ignore"):
            return data.astype(dtype)

    def _add_var(self, name, value):
        var = Var(name, value)
        self.vars.append(var)
        self.uses[name] = 0
        self.env[name] = value
        return var

    def new_input(self, shape, dtype=None, domain="any"):
        dtype = dtype or self._dtype()
        rng, name = self.rng, f"x{len(self.inputs)}"
        if shape == ():
            layouts = ["array0d", "scalar"] + (["float"] if dtype == np.float64 else [])
            layout = layouts[rng.integers(len(layouts))]
        else:
            layouts = ["C", "C", "C", "step", "rev"] + (["T", "T", "F"] if len(shape) >= 2 else [])
            layout = layouts[rng.integers(len(layouts))]
        base_shape = {"T": shape[::-1], "step": (2 * shape[0],) + shape[1:] if shape else ()}.get(layout, shape)
        base = self._data(base_shape, dtype, domain)
        if layout == "float":
            base = float(base)
        elif layout == "scalar":
            base = dtype.type(base)
        inp = Input(name, base, layout)
        self.inputs.append(inp)
        return self._add_var(name, inp.value)

    def new_const(self, shape, dtype=None, domain="any"):
        name = f"c{len(self.consts)}"
        if domain == "any" and self.rng.random() < 0.1:           # an integer constant: promotion
            value = self.rng.integers(-3, 4, shape)
        else:
            value = self._data(shape, dtype or self._dtype(), domain)
        self.consts[name] = value
        return self._add_var(name, value)

    def new_operand(self, shape, dtype=None, domain="any"):
        if len(self.inputs) < MAX_INPUTS and self.rng.random() < 0.7:
            return self.new_input(shape, dtype, domain)
        return self.new_const(shape, dtype, domain)

    def literal(self, domain="any"):
        rng = self.rng
        lo, hi = DOMAINS[domain][2]
        v = float(np.round(rng.uniform(lo, hi), 2))
        if domain == "nonzero" and rng.random() < 0.5:
            v = -v
        kind = rng.choice(4, p=[0.5, 0.15, 0.2, 0.15])
        if kind == 1 and round(v) != 0 and (domain == "any" or round(v) > 0):
            return Lit(int(round(v)))
        if kind == 2:
            return Lit(np.float64(v))
        if kind == 3:
            return Lit(np.float32(v))
        return Lit(v)

    # -- operand choice
    def _pick(self, candidates):
        weights = [(4.0 if self.uses[v.name] == 0 else 1.0) * (1.0 + i) for i, v in enumerate(candidates)]
        return _weighted(self.rng, candidates, weights)

    def operand_of_shape(self, shape, dtype=None, domain="any"):
        same = [v for v in self.vars if v.shape == tuple(shape)]
        if same and self.rng.random() < 0.5:
            return self._pick(same)
        if np.prod(shape, dtype=np.int64) > MAX_SIZE:
            return None
        return self.new_operand(tuple(shape), dtype, domain)

    def broadcast_partner(self, x, domain="any", scalars=True):
        rng = self.rng
        if scalars and rng.random() < 0.25:
            return self.literal(domain)
        fits = [v for v in self.vars if _broadcast_size(v.shape, x.shape) <= MAX_SIZE]
        if fits and rng.random() < 0.45:
            return self._pick(fits)
        s = list(x.shape)
        kind = rng.integers(6)
        if kind == 1:
            s = s[rng.integers(len(s) + 1):]
        elif kind == 2:
            s = [1 if rng.random() < 0.5 else d for d in s]
        elif kind == 3:
            s = []
        elif kind == 4 and len(s) < 4:
            s = [int(rng.integers(1, 4))] + s
        elif kind == 5:
            s = [int(rng.integers(0 if self.empty else 1, 4)) if d == 1 else d for d in s]
        if _broadcast_size(tuple(s), x.shape) > MAX_SIZE:
            return None
        return self.new_operand(tuple(s), None, domain)

    def first_operand(self):
        if self.lines and self.rng.random() < 0.5:
            return self.vars[-1]
        return self._pick(self.vars)

    # -- lines
    def _name(self):
        self._n += 1
        return f"v{self._n - 1}"

    def _commit(self, line):
        value = evaluate_line(line, self.env, self.special)
        self.lines.append(line)
        for a in line.args:
            if isinstance(a, str):
                self.uses[a] += 1
        return self._add_var(line.out, value)

    def env_var(self, name):
        return next(v for v in self.vars if v.name == name)

    def try_op(self, op, first=None):
        """Add one line of row `op` (with any adapter lines it needs), or leave everything as it was."""
        saved = (len(self.inputs), dict(self.consts), len(self.lines), len(self.vars), dict(self.uses), self._n)
        try:
            made = op.make(self, first or self.first_operand())
            if made is None:
                raise Reject(f"{op.name}: does not apply")
            operands, params = made
            if any(o is None for o in operands):
                raise Reject(f"{op.name}: no operand")
            args = []
            for i, o in enumerate(operands):
                domain = op.domain[i] if i < len(op.domain) else "any"
                if isinstance(o, Var) and not self.special and not DOMAINS[domain][0](np.asarray(o.value, np.float64)):
                    o = self._commit(Line(self._name(), ADAPTERS[domain], [o.name], {}))
                args.append(o.name if isinstance(o, Var) else o)
            return self._commit(Line(self._name(), op, args, params))
        except Reject:
            n_inputs, consts, n_lines, n_vars, uses, n = saved
            for v in self.vars[n_vars:]:
                self.env.pop(v.name, None)
            del self.inputs[n_inputs:], self.lines[n_lines:], self.vars[n_vars:]
            self.consts, self.uses, self._n = consts, uses, n
            return None

    def build(self):
        rng = self.rng
        for _ in range(1 + (rng.random() < 0.5)):
            self.new_input(self.new_shape())
        target = int(rng.integers(2, self.max_lines + 1))
        weights = [op.weight for op in self.ops]
        done, attempts = 0, 0
        while done < target and attempts < 40 * target:
            attempts += 1
            if self.try_op(_weighted(rng, self.ops, weights)) is not None:
                done += 1
        out = self._fold_dangling()
        if rng.random() < 0.08:                 # a bool or integer result
            tails = [op for op in TAILS]
            for _ in range(5):
                var = self.try_op(tails[rng.integers(len(tails))], self.env_var(out))
                if var is not None:
                    out = var.name
                    break
        return Program(self.seed, self.inputs, self.consts, self.lines, out, self.special).without_dead_code()


    def _fold_dangling(self):
        """Add every unused value into the output (summed first if it does not broadcast), so
        that no generated line is dead code."""
        if not self.lines:
            return self.inputs[0].name
        out = self.vars[-1]
        for var in [v for v in self.vars[:-1] if self.uses[v.name] == 0 and v.name.startswith("v")]:
            try:
                if _broadcast_size(var.shape, out.shape) > MAX_SIZE or len(var.shape) > len(out.shape):
                    var = self._commit(Line(self._name(), OPS_BY_NAME["sum"], [var.name],
                                            {"axis": None, "keepdims": False, "dims": tuple(range(len(var.shape)))}))
                out = self._commit(Line(self._name(), OPS_BY_NAME["add"], [out.name, var.name], {}))
            except Reject:
                pass
        return out.name


def _broadcast_size(a, b):
    try:
        return int(np.prod(np.broadcast_shapes(tuple(a), tuple(b)), dtype=np.int64))
    except ValueError:
        return MAX_SIZE + 1


def generate(seed, max_lines=8):
    """The random program for `seed` (an int or a tuple of ints)."""
    return Generator(seed, max_lines).build()


# ---------------------------------------------------------------------------------- shrinking

def shrink(prog, fails, budget=80):
    """A smaller program on which `fails(program)` still holds: greedily cut the program at an
    earlier value, bypass lines, and make inputs contiguous, keeping every change that keeps the
    failure (and the program valid)."""
    tries = 0

    def attempt(candidate):
        nonlocal tries
        tries += 1
        return candidate is not None and len(candidate.source()) < len(prog.source()) + 1 and \
            candidate.is_valid() and fails(candidate)

    improved = True
    while improved and tries < budget:
        improved = False
        for cand in _candidates(prog):
            if tries >= budget:
                break
            if attempt(cand):
                prog, improved = cand, True
                break
    return prog


def _candidates(prog):
    # cut: return an earlier value
    for line in prog.lines[:-1]:
        yield prog.replaced(out=line.out)
    # bypass a line: use one of its operands (of the same shape and dtype) in its place
    env = prog.evaluate()
    for k, line in enumerate(prog.lines):
        for a in line.args:
            if isinstance(a, str) and np.shape(env[a]) == np.shape(env[line.out]) and \
                    np.result_type(env[a]) == np.result_type(env[line.out]):
                later = [Line(l.out, l.op, [a if x == line.out else x for x in l.args], l.params)
                         for l in prog.lines[k + 1:]]
                yield prog.replaced(lines=prog.lines[:k] + later, out=a if prog.out == line.out else prog.out)
    # contiguous inputs
    for i, inp in enumerate(prog.inputs):
        if inp.layout in ("T", "step", "rev", "F"):
            inputs = list(prog.inputs)
            inputs[i] = Input(inp.name, np.ascontiguousarray(inp.value), "C")
            yield prog.replaced(inputs=inputs)
