"""Lower a program to readable Python source with explicit, fused loops, for `numba.njit`.

Fusion plan.  Elementwise and index-map equations (broadcast, slice, pad, transpose, gather...)
are *inlined*: their value at an index is an expression of their operands' values at mapped
indices, so they never get an array of their own.  Arrays are materialised only where they must
be: program outputs, reduction results, operands of BLAS calls and general reshapes.  Each of
those *roots* is computed by a loop nest over its iteration space; roots with the same iteration
space share one nest when the data they read is ready before it, so a forward value and its
gradient, or several reductions of one broadcast expression along different axes, come out of a
single pass.  Inside a nest, a temporary is emitted at the outermost loop depth whose indices it
uses (loop-invariant hoisting), and each (variable, index) pair is computed once.  Where range
tests (from pad and concatenate) depend on the outer loop variable, the outer loop is split into
segments in which every test is decided, so the interior runs without them.
"""
import re

import numpy as np

from ..errors import MissingRuleError
from ..ir import Literal, Var
from ..primitives import lowering_rules
from ..primitives.structural import is_unit_reshape
from .index import Ix

_TOKEN = re.compile(r"\b(_i\d+|_t\d+)\b")
_REDUCE_INIT = {"0": 0, "1": 1, "-np.inf": -np.inf, "np.inf": np.inf}
MAX_SEGMENTS = 5


def literal_code(value, dtype):
    dtype = np.dtype(dtype)
    value = dtype.type(value)
    if dtype == np.bool_:
        return "True" if value else "False"
    if np.issubdtype(dtype, np.integer):
        return str(int(value))
    if np.isnan(value):
        text = "np.nan"
    elif np.isinf(value):
        text = "np.inf" if value > 0 else "-np.inf"
    else:
        text = repr(float(value))
    return text if dtype == np.float64 else f"np.{dtype.name}({text})"


def _inlinable(eqn):
    kind, fn = lowering_rules[eqn.prim]
    if kind == "elementwise" or kind == "gather":
        return True
    if kind == "index":
        return eqn.prim.name != "reshape" or is_unit_reshape(eqn.inputs[0].aval.shape, eqn.params["new_sizes"])
    if kind == "reduce":
        return not eqn.params["axes"]
    return False


def _trailing_reduction(eqn):
    """(kept rank p, reduced axes are the trailing ones) for a reduction root."""
    axes, rank = eqn.params["axes"], eqn.inputs[0].aval.ndim
    p = rank - len(axes)
    return p, axes == tuple(range(p, rank))


class Nest:
    """A planned loop nest over `shape`: its roots, their names and allocations.

    The code itself is generated when the nest is emitted (by NestCode), once per segment of the
    outer loop."""

    def __init__(self, lowering, shape):
        self.low, self.shape, self.rank = lowering, shape, len(shape)
        self.roots, self.pre = [], []
        if self.rank == 0:                 # a straight-line scalar block, generated as roots arrive
            self.scalar_code = NestCode(self, ())

    def add_root(self, eqn):
        low, out = self.low, eqn.outputs[0]
        kind = lowering_rules[eqn.prim][0]
        dtype = out.aval.dtype
        if self.rank == 0:
            self.scalar_code.root(eqn)
            return
        self.roots.append(eqn)
        if kind == "reduce":
            init = literal_code(_REDUCE_INIT[lowering_rules[eqn.prim][1][0]], dtype)
            p, trailing = _trailing_reduction(eqn)
            if trailing and p == 0:          # a scalar accumulated over the whole nest
                acc = low.names[out] = low.fresh_temp("_acc")
                self.pre.append(f"{acc} = {init}")
            elif trailing:
                self.pre.append(f"{low.bind_name(out)} = np.empty({out.aval.shape}, np.{dtype.name})")
            else:
                self.pre.append(f"{low.bind_name(out)} = np.full({out.aval.shape}, {init}, np.{dtype.name})")
        elif kind == "scatter":
            self.pre.append(f"{low.bind_name(out)} = np.zeros({out.aval.shape}, np.{dtype.name})")
        else:
            self.pre.append(f"{low.bind_name(out)} = np.empty({out.aval.shape}, np.{dtype.name})")

    def lines(self):
        if self.rank == 0:
            return self.scalar_code.lines()
        ranges = [(0, n) for n in self.shape]
        code = NestCode(self, ranges)
        cuts = sorted(p for p in code.breakpoints if 0 < p < self.shape[0])
        if not cuts or len(cuts) + 1 > MAX_SEGMENTS:
            return self.pre + code.lines()
        out = list(self.pre)
        bounds = [0] + cuts + [self.shape[0]]
        for start, stop in zip(bounds, bounds[1:]):
            out += NestCode(self, [(start, stop)] + ranges[1:]).lines()
        return out


class NestCode:
    """The loops and statements of one nest over `ranges` (one (start, stop) per axis)."""

    def __init__(self, nest, ranges):
        self.nest, self.low, self.ranges = nest, nest.low, ranges
        self.rank = len(ranges)
        self.body = [[] for _ in range(self.rank + 1)]  # statements at each loop depth
        self.post = [[] for _ in range(self.rank + 1)]  # statements after loop `d` closes
        self.memo, self.depth, self.breakpoints = {}, {}, set()
        names = [f"_i{self.low.fresh_loop()}" for _ in ranges]
        outer = names[0] if names else None
        record = lambda base, point: self.breakpoints.add(point) if base == outer else None
        self.idx = tuple(Ix(name, bounds=(a, b - 1), recorder=record) for name, (a, b) in zip(names, ranges))
        self.loop_depth = {name: d + 1 for d, name in enumerate(names)}
        self.defined_here = {eqn.outputs[0] for eqn in nest.roots}   # computed, not loaded
        for eqn in nest.roots:
            self.root(eqn)

    def depth_of(self, *codes):
        d = 0
        for code in codes:
            for tok in _TOKEN.findall(str(code)):
                d = max(d, self.loop_depth.get(tok) or self.depth.get(tok, 0))
        return d

    def emit(self, code, *deps):
        depth = self.depth_of(code, *deps)
        name = self.low.fresh_temp()
        self.body[depth].append(f"{name} = {code}")
        self.depth[name] = depth
        return name

    def value(self, atom, idx):
        """Code for `atom` at index `idx` (a tuple of Ix, one per axis of atom)."""
        if isinstance(atom, Literal):
            return literal_code(atom.val, atom.aval.dtype)
        if atom.aval.shape == ():
            idx = ()
        key = (atom, idx)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self._compute(atom, idx)
        return found

    def _compute(self, var, idx):
        name = self.low.names.get(var)
        if name is not None and var not in self.defined_here:
            if var.aval.shape == ():
                return name
            return self.emit(f"{name}[{', '.join(map(str, idx))}]")
        eqn = self.low.producer[var]
        kind, rule = lowering_rules[eqn.prim]
        if kind == "elementwise":
            args = [self.value(x, idx if x.aval.shape != () else ()) for x in eqn.inputs]
            code = rule.format(*args) if isinstance(rule, str) else rule(args, eqn.params, var.aval.dtype)
            return self.emit(code)
        if kind == "reduce" or eqn.prim.name == "stop_gradient":    # identities
            return self.value(eqn.inputs[0], idx)
        if kind == "gather":
            x, indices = eqn.inputs
            axis, k = eqn.params["axis"], indices.aval.ndim
            j = self._wrapped_index(indices, idx[axis:axis + k], x.aval.shape[axis])
            return self.value(x, idx[:axis] + (j,) + idx[axis + k:])
        entries = rule(idx, [x.aval for x in eqn.inputs], var.aval, **eqn.params)
        if not entries:                                       # padding only
            return literal_code(0, var.aval.dtype)
        if len(entries) == 1 and entries[0][2] is None:      # a pure index remap: no new temporary
            k, src, _ = entries[0]
            return self.value(eqn.inputs[k], src)
        code = literal_code(0, var.aval.dtype)
        for k, src, cond in reversed(entries):
            v = self.value(eqn.inputs[k], src)
            code = v if cond is None else f"({v} if {cond} else {code})"
        return self.emit(code)

    def _wrapped_index(self, indices, idx, n):
        """An index read from an array, wrapped (negative) and clamped into [0, n), as JAX does."""
        i = self.value(indices, idx)
        return Ix(self.emit(f"min(max({i} + {n} if {i} < 0 else {i}, 0), {n - 1})"))

    def root(self, eqn):
        low, out = self.low, eqn.outputs[0]
        kind, rule = lowering_rules[eqn.prim]
        inner = self.rank
        if kind == "reduce":
            init, update = rule
            v = self.value(eqn.inputs[0], self.idx)
            axes = eqn.params["axes"]
            kept = ", ".join(str(ix) for d, ix in enumerate(self.idx) if d not in axes)
            p, trailing = _trailing_reduction(eqn)
            if trailing and p == 0:
                acc = low.names[out]
                self.body[inner].append(f"{acc} = {update.format(acc=acc, x=v)}")
            elif trailing:                   # a scalar accumulator per kept index
                acc = low.fresh_temp("_acc")
                self.body[p].append(f"{acc} = {literal_code(_REDUCE_INIT[init], out.aval.dtype)}")
                self.body[inner].append(f"{acc} = {update.format(acc=acc, x=v)}")
                self.post[p].append(f"{low.names[out]}[{kept}] = {acc}")
            else:
                cell = f"{low.names[out]}[{kept}]"
                self.body[inner].append(f"{cell} = {update.format(acc=cell, x=v)}")
        elif kind == "scatter":
            g, indices = eqn.inputs
            axis, k = eqn.params["axis"], indices.aval.ndim
            j = self._wrapped_index(indices, self.idx[axis:axis + k], out.aval.shape[axis])
            target = self.idx[:axis] + (j,) + self.idx[axis + k:]
            self.body[inner].append(f"{low.names[out]}[{', '.join(map(str, target))}] += {self.value(g, self.idx)}")
        elif inner == 0:                   # a scalar: its temporary is the variable
            low.names[out] = self.value(out, ())
        else:
            self.body[inner].append(f"{low.names[out]}[{', '.join(map(str, self.idx))}] = "
                                    f"{self.value(out, self.idx)}")

    def lines(self):
        out = []

        def level(d, pad):
            out.extend(pad + s for s in self.body[d])
            if d < self.rank:
                start, stop = self.ranges[d]
                bounds = f"{stop}" if start == 0 else f"{start}, {stop}"
                out.append(f"{pad}for {self.idx[d]} in range({bounds}):")
                level(d + 1, pad + "    ")
            out.extend(pad + s for s in self.post[d])
        level(0, "")
        return out


class Lowering:
    def __init__(self, prog, name="kernel"):
        self.prog, self.fn_name = prog, name
        self.names, self.producer = {}, {}
        self._temps = self._loops = 0
        self.items = []          # Nest objects and raw statement lists, in execution order
        self.position = {}       # materialised var -> index of the item producing it
        self.transposed = {}     # matmul operand -> the matrix it is the transpose of

    def fresh_temp(self, prefix="_t"):
        self._temps += 1
        return f"{prefix}{self._temps}"

    def fresh_loop(self):
        self._loops += 1
        return self._loops - 1

    def bind_name(self, var):
        name = self.names.get(var)
        if name is None:
            name = self.names[var] = f"v{var.count}"
        return name

    # -- planning
    def _must_materialize(self):
        must = {v for v in self.prog.outvars if isinstance(v, Var)}
        for eqn in self.prog.eqns:
            if _inlinable(eqn) or lowering_rules[eqn.prim][0] in ("reduce", "scatter"):
                continue
            for x in eqn.inputs:
                if not isinstance(x, Var):
                    continue
                source = self._transposed_matrix(x) if eqn.prim.name == "matmul" else None
                if source is not None:     # BLAS reads the transpose as a view: no copy
                    self.transposed[x] = source
                    must.add(source)
                else:
                    must.add(x)
        return must

    def _transposed_matrix(self, var):
        eqn = self.producer.get(var)
        if eqn is not None and eqn.prim.name == "transpose" and eqn.params["permutation"] == (1, 0) \
                and isinstance(eqn.inputs[0], Var):
            return eqn.inputs[0]
        return None

    def _operand(self, x):
        if not isinstance(x, Var):
            return literal_code(x.val, x.aval.dtype)
        source = self.transposed.get(x)
        return f"{self.names[source]}.T" if source is not None and x not in self.names else self.names[x]

    def _deps(self, atoms):
        """Materialised variables read by these atoms' inlined expressions."""
        out = set()
        for x in atoms:
            if not isinstance(x, Var):
                continue
            if x in self.names:
                out.add(x)
                continue
            cached = self._dep_cache.get(x)
            if cached is None:
                cached = self._dep_cache[x] = frozenset(self._deps(self.producer[x].inputs))
            out |= cached
        return out

    def _place(self, eqn, shape):
        pos = max((self.position.get(v, -1) for v in self._deps(eqn.inputs)), default=-1)
        nest = None
        for k in range(len(self.items) - 1, -1, -1):
            if k < pos or (k == pos and shape != ()):   # a scalar block runs in order: it may read itself
                break
            item = self.items[k]
            if isinstance(item, Nest) and item.shape == shape:
                nest, where = item, k
                break
        if nest is None:
            nest, where = Nest(self, shape), len(self.items)
            self.items.append(nest)
        nest.add_root(eqn)
        for v in eqn.outputs:
            self.position[v] = where

    def _statement(self, eqn):
        kind = lowering_rules[eqn.prim][0]
        out = eqn.outputs[0]
        o = self.bind_name(out)
        a = [self._operand(x) for x in eqn.inputs]
        shape = out.aval.shape
        if kind == "matmul" and len(shape) == 2:
            lines = [f"{o} = np.dot({a[0]}, {a[1]})"]
        elif kind == "matmul":
            batch = int(np.prod(shape[:-2], dtype=np.int64))
            (m, k), n = eqn.inputs[0].aval.shape[-2:], shape[-1]
            lines = [f"{o} = np.empty({shape}, np.{out.aval.dtype.name})",
                     f"{o}_3 = {o}.reshape(({batch}, {m}, {n}))",
                     f"{o}_a = {a[0]}.reshape(({batch}, {m}, {k}))",
                     f"{o}_b = {a[1]}.reshape(({batch}, {k}, {n}))",
                     f"for _b in range({batch}):",
                     f"    {o}_3[_b] = np.dot({o}_a[_b], {o}_b[_b])"]
        elif eqn.prim.name == "reshape":
            lines = [f"{o} = {a[0]}.reshape({tuple(eqn.params['new_sizes'])})"]
        elif kind == "statement":          # the primitive writes its own statements
            lines = lowering_rules[eqn.prim][1](o, a, eqn)
        else:
            raise MissingRuleError(f"no lowering for primitive '{eqn.prim.name}'")
        self.items.append(lines)
        self.position[out] = len(self.items) - 1

    # -- emission
    def lower(self):
        prog = self.prog
        self._dep_cache = {}
        params = []
        for prefix, vars_ in (("a", prog.invars), ("c", prog.constvars)):
            for k, v in enumerate(vars_):
                self.names[v] = f"{prefix}{k}"
                params.append(f"{prefix}{k}")
        for eqn in prog.eqns:
            for v in eqn.outputs:
                self.producer[v] = eqn
        must = self._must_materialize()
        for eqn in prog.eqns:
            out = eqn.outputs[0]
            if _inlinable(eqn):
                if out.aval.shape == () or out in must:
                    self._place(eqn, out.aval.shape)
            elif lowering_rules[eqn.prim][0] in ("reduce", "scatter"):
                self._place(eqn, eqn.inputs[0].aval.shape)
            else:
                self._statement(eqn)
        body = []
        for item in self.items:
            body.extend(item.lines() if isinstance(item, Nest) else item)
        results = [self.names[v] if isinstance(v, Var) else literal_code(v.val, v.aval.dtype) for v in prog.outvars]
        body.append(f"return ({', '.join(results)}{',' if len(results) == 1 else ''})")
        header = f"def {self.fn_name}({', '.join(params)}):"
        return "\n".join([header] + ["    " + line for line in body]) + "\n"


def lower_program(prog, name="kernel"):
    """Python source of a function `name(*inputs, *consts)` returning the tuple of outputs."""
    return Lowering(prog, name).lower()
