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

Rules that keep the plan correct and its size linear in the program's.  A float value whose
exact bits something tests (an operand of a comparison or of `sign`: the tie masks of max/min,
the zero tests of prod) is computed once: fastmath lets two copies of one expression round
differently, so where the plan recomputes such a value it is materialised and the program lowered
again.  A value that inlining would recompute under more than MAX_FANOUT index maps (a stencil
unrolled in time multiplies these), or at the end of more than MAX_REMAPS chained index maps, is
materialised too.  And nothing recurses on program length: expressions are evaluated on an
explicit stack, and no statement nests more than MAX_NESTING conditional expressions.
"""
import re

import numpy as np

from ..errors import MissingRuleError
from ..ir import Literal, Var
from ..primitives import is_float, lowering_rules, nondiff
from ..primitives.structural import is_unit_reshape
from .index import Ix

_TOKEN = re.compile(r"\b(_i\d+|_t\d+)\b")
_REDUCE_INIT = {"0": 0, "1": 1, "-np.inf": -np.inf, "np.inf": np.inf}
MAX_SEGMENTS = 5
MAX_NESTING = 32       # conditional expressions nested in one statement
MAX_FANOUT = 8         # index maps an inlined value may be recomputed under
MAX_REMAPS = 32        # index maps chained in one inlined expression


def reduce_init(init, dtype):
    """The reduction's initial value as a literal of `dtype`: integers and booleans have no inf,
    their extrema are the dtype's limits."""
    value = _REDUCE_INIT[init]
    if np.isinf(value) and not is_float(dtype):
        limits = (False, True) if dtype == np.bool_ else (np.iinfo(dtype).min, np.iinfo(dtype).max)
        value = limits[value > 0]
    return literal_code(value, dtype)


def literal_code(value, dtype):
    dtype = np.dtype(dtype)
    value = dtype.type(value)
    if dtype == np.bool_:
        return "True" if value else "False"
    if np.issubdtype(dtype, np.integer):
        return str(int(value)) if dtype == np.int64 else f"np.{dtype.name}({int(value)})"
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


def _root_kind(eqn):
    """How a root is written: "reduce" (an accumulator), "scatter" (+= into zeros) or "store"."""
    kind = lowering_rules[eqn.prim][0]
    if kind == "scatter" or kind == "reduce" and eqn.params["axes"]:
        return kind
    return "store"


def _trailing_reduction(eqn):
    """(kept rank p, reduced axes are the trailing ones) for a reduction root."""
    axes, rank = eqn.params["axes"], eqn.inputs[0].aval.ndim
    p = rank - len(axes)
    return p, axes == tuple(range(p, rank))


def _moves_data(eqn):
    """The output's entries are entries of the (non-index) inputs, without arithmetic."""
    kind = lowering_rules[eqn.prim][0]
    return kind in ("index", "gather") or eqn.prim.name == "stop_gradient" or \
        kind == "reduce" and not eqn.params["axes"]


def _bit_tested(prog):
    """Float variables whose exact bits something tests: operands of comparisons and of other
    piecewise-constant primitives (the tie masks of max/min, the zero tests of prod, sign), and
    what such a variable copies its entries from."""
    tested = set()
    for eqn in reversed(prog.eqns):
        if eqn.prim in nondiff and eqn.prim.name != "stop_gradient" or \
                _moves_data(eqn) and any(v in tested for v in eqn.outputs):
            data = eqn.inputs[:1] if lowering_rules[eqn.prim][0] == "gather" else eqn.inputs
            tested.update(x for x in data if isinstance(x, Var) and is_float(x.aval.dtype))
    return tested


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
        kind, dtype = _root_kind(eqn), out.aval.dtype
        alloc = None
        if kind == "scatter":
            alloc = f"{low.bind_name(out)} = np.zeros({out.aval.shape}, np.{dtype.name})"
        elif kind == "reduce":
            init = reduce_init(lowering_rules[eqn.prim][1][0], dtype)
            p, trailing = _trailing_reduction(eqn)
            if trailing and p == 0:          # a scalar accumulated over the whole nest
                acc = low.names[out] = low.fresh_temp("_acc")
                alloc = f"{acc} = {init}"
            elif trailing:
                alloc = f"{low.bind_name(out)} = np.empty({out.aval.shape}, np.{dtype.name})"
            else:
                alloc = f"{low.bind_name(out)} = np.full({out.aval.shape}, {init}, np.{dtype.name})"
        elif self.rank > 0:                  # a scalar store's temporary is the variable
            alloc = f"{low.bind_name(out)} = np.empty({out.aval.shape}, np.{dtype.name})"
        if self.rank == 0:
            if alloc is not None:
                self.scalar_code.body[0].append(alloc)
            self.scalar_code.root(eqn)
            self.scalar_code.report()
        else:
            self.roots.append(eqn)
            self.pre.append(alloc)

    def lines(self):
        if self.rank == 0:
            return self.scalar_code.lines()
        ranges = [(0, n) for n in self.shape]
        code = NestCode(self, ranges)
        cuts = sorted(p for p in code.breakpoints if 0 < p < self.shape[0])
        if not cuts or len(cuts) + 1 > MAX_SEGMENTS:
            code.report()
            return self.pre + code.lines()
        out = list(self.pre)
        bounds = [0] + cuts + [self.shape[0]]
        for start, stop in zip(bounds, bounds[1:]):
            segment = NestCode(self, [(start, stop)] + ranges[1:])
            segment.report()
            out += segment.lines()
        return out


class NestCode:
    """The loops and statements of one nest over `ranges` (one (start, stop) per axis)."""

    def __init__(self, nest, ranges):
        self.nest, self.low, self.ranges = nest, nest.low, ranges
        self.rank = len(ranges)
        self.body = [[] for _ in range(self.rank + 1)]  # statements at each loop depth
        self.post = [[] for _ in range(self.rank + 1)]  # statements after loop `d` closes
        self.memo, self.depth, self.breakpoints = {}, {}, set()
        self.computed = {}       # bit-tested variable -> the indices it is computed at here
        names = [f"_i{self.low.fresh_loop()}" for _ in ranges]
        outer = names[0] if names else None
        record = lambda base, point: self.breakpoints.add(point) if base == outer else None
        self.idx = tuple(Ix(name, bounds=(a, b - 1), recorder=record) for name, (a, b) in zip(names, ranges))
        self.loop_depth = {name: d + 1 for d, name in enumerate(names)}
        self.defined_here = {eqn.outputs[0] for eqn in nest.roots}   # computed, not loaded
        for eqn in nest.roots:
            self.root(eqn)

    def report(self):
        """Tell the lowering where bit-tested variables were computed (this code is emitted)."""
        for var, indices in self.computed.items():
            self.low.computed_at(var, self.nest, len(indices))

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

    def _key(self, atom, idx):
        return atom, (() if atom.aval.shape == () else tuple(idx))

    def value(self, atom, idx):
        """Code for `atom` at index `idx` (a tuple of Ix, one per axis of atom).

        `_compute` yields the operands it needs; they are evaluated here on an explicit stack,
        since expressions nest as deep as the program is long."""
        if isinstance(atom, Literal):
            return literal_code(atom.val, atom.aval.dtype)
        key = self._key(atom, idx)
        found = self.memo.get(key)
        if found is not None:
            return found
        stack, result = [(key, self._compute(*key))], None
        while stack:
            key, task = stack[-1]
            try:
                atom, idx = task.send(result)
            except StopIteration as done:
                stack.pop()
                result = self.memo[key] = done.value
                continue
            if isinstance(atom, Literal):
                result = literal_code(atom.val, atom.aval.dtype)
                continue
            key = self._key(atom, idx)
            result = self.memo.get(key)
            if result is None:
                stack.append((key, self._compute(*key)))
        return result

    def _compute(self, var, idx):
        """A generator: yields (atom, index) for each operand value it needs, returns the code."""
        name = self.low.names.get(var)
        if name is not None and var not in self.defined_here:
            if var.aval.shape == ():
                return name
            return self.emit(f"{name}[{', '.join(map(str, idx))}]")
        eqn = self.low.producer[var]
        kind, rule = lowering_rules[eqn.prim]
        if kind == "elementwise":
            args = []
            for x in eqn.inputs:
                args.append((yield x, idx if x.aval.shape != () else ()))
            if var in self.low.bit_tested:
                self.computed.setdefault(var, set()).add(idx)
            dtype = var.aval.dtype
            code = rule.format(*args) if isinstance(rule, str) else rule(args, eqn.params, dtype)
            if np.issubdtype(dtype, np.integer) and dtype != np.int64 and eqn.prim.name != "convert":
                code = f"np.{dtype.name}({code})"    # Numba computes small integers in int64: wrap as NumPy
            return self.emit(code)
        if kind == "reduce" or eqn.prim.name == "stop_gradient":    # identities
            return (yield eqn.inputs[0], idx)
        if kind == "gather":
            x, indices = eqn.inputs
            axis, k = eqn.params["axis"], indices.aval.ndim
            i = yield indices, idx[axis:axis + k]
            j = self._wrapped_index(i, x.aval.shape[axis])
            return (yield x, idx[:axis] + (j,) + idx[axis + k:])
        entries = rule(idx, [x.aval for x in eqn.inputs], var.aval, **eqn.params)
        if not entries:                                       # padding only
            return literal_code(0, var.aval.dtype)
        if len(entries) == 1 and entries[0][2] is None:      # a pure index remap: no new temporary
            k, src, _ = entries[0]
            return (yield eqn.inputs[k], src)
        code = literal_code(0, var.aval.dtype)
        for n, (k, src, cond) in enumerate(reversed(entries)):
            v = yield eqn.inputs[k], src
            if cond is None:
                code = v
            else:
                code = f"({v} if {cond} else {code})"
                if n % MAX_NESTING == MAX_NESTING - 1 and n + 1 < len(entries):
                    code = self.emit(code)   # bounded nesting: Python rejects 200 parentheses
        return self.emit(code)

    def _wrapped_index(self, i, n):
        """An index read from an array, wrapped (negative) and clamped into [0, n), as JAX does."""
        return Ix(self.emit(f"min(max({i} + {n} if {i} < 0 else {i}, 0), {n - 1})"))

    def root(self, eqn):
        low, out = self.low, eqn.outputs[0]
        kind = _root_kind(eqn)
        inner = self.rank
        if kind == "reduce":
            init, update = lowering_rules[eqn.prim][1]
            v = self.value(eqn.inputs[0], self.idx)
            axes = eqn.params["axes"]
            kept = ", ".join(str(ix) for d, ix in enumerate(self.idx) if d not in axes)
            p, trailing = _trailing_reduction(eqn)
            if trailing and p == 0:
                acc = low.names[out]
                self.body[inner].append(f"{acc} = {update.format(acc=acc, x=v)}")
            elif trailing:                   # a scalar accumulator per kept index
                acc = low.fresh_temp("_acc")
                self.body[p].append(f"{acc} = {reduce_init(init, out.aval.dtype)}")
                self.body[inner].append(f"{acc} = {update.format(acc=acc, x=v)}")
                self.post[p].append(f"{low.names[out]}[{kept}] = {acc}")
            else:
                cell = f"{low.names[out]}[{kept}]"
                self.body[inner].append(f"{cell} = {update.format(acc=cell, x=v)}")
        elif kind == "scatter":
            g, indices = eqn.inputs
            axis, k = eqn.params["axis"], indices.aval.ndim
            i = self.value(indices, self.idx[axis:axis + k])
            j = self._wrapped_index(i, out.aval.shape[axis])
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
    """One lowering of a program; `materialize` names extra variables to give arrays of their own."""

    def __init__(self, prog, name="kernel", materialize=()):
        self.prog, self.fn_name = prog, name
        self.names, self.producer = {}, {}
        self._temps = self._loops = self._vars = 0
        self.items = []          # Nest objects and raw statement lists, in execution order
        self.position = {}       # materialised var -> index of the item producing it
        self.transposed = {}     # matmul operand -> the matrix it is the transpose of
        self.storage = {}        # var named by a view (reshape) -> the var owning the buffer
        self.ready = {}          # inlined var -> the last item producing an array it reads
        self.materialize = set(materialize)
        self.bit_tested = _bit_tested(prog)
        self._computed_in = {}   # bit-tested var -> the nests computing it
        self.recomputed = set()  # bit-tested vars computed more than once

    def fresh_temp(self, prefix="_t"):
        self._temps += 1
        return f"{prefix}{self._temps}"

    def fresh_loop(self):
        self._loops += 1
        return self._loops - 1

    def bind_name(self, var):
        """Names are numbered per program, so the same program always gives the same source."""
        name = self.names.get(var)
        if name is None:
            self._vars += 1
            name = self.names[var] = f"v{self._vars}"
        return name

    def computed_at(self, var, nest, n_indices):
        nests = self._computed_in.setdefault(var, set())
        nests.add(nest)
        if n_indices > 1 or len(nests) > 1:
            self.recomputed.add(var)

    # -- planning
    def _must_materialize(self):
        must = {v for v in self.prog.outvars if isinstance(v, Var)} | self.materialize
        for eqn in self.prog.eqns:
            if _inlinable(eqn) or lowering_rules[eqn.prim][0] in ("reduce", "scatter"):
                continue
            for x in eqn.inputs:
                if not isinstance(x, Var):
                    continue
                step_value = self.same_every_step(eqn, x)
                if step_value is not None:       # a scan reads the value itself: nothing to stack
                    if isinstance(step_value, Var):
                        must.add(step_value)
                    continue
                source = self._transposed_matrix(x) if eqn.prim.name == "matmul" else None
                if source is not None:     # BLAS reads the transpose as a view: no copy
                    self.transposed[x] = source
                    must.add(source)
                else:
                    must.add(x)
        self._bound_remap_chains(must)
        return self._bound_recomputation(must)

    def _bound_remap_chains(self, must):
        """Add every MAX_REMAPS-th value of a chain of index maps (`x = concatenate([x[:1], ...])`
        unrolled in time): each nest reading the end of the chain walks it back to an array."""
        length = {}             # inlined index map -> index maps chained up to an array or a computation
        for eqn in self.prog.eqns:
            out = eqn.outputs[0]
            if _inlinable(eqn) and out not in must and out.aval.shape != () \
                    and lowering_rules[eqn.prim][0] != "elementwise":
                n = 1 + max((length.get(x, 0) for x in eqn.inputs if isinstance(x, Var)), default=0)
                if n > MAX_REMAPS:
                    must.add(out)
                else:
                    length[out] = n

    def _bound_recomputation(self, must):
        """Add the computed values an inlined expression would read under more than MAX_FANOUT
        index maps (`x[1:] + x[:-1]` reads `x` under two).  Chained (a stencil unrolled in
        time), these counts multiply: without a bound the code grows exponentially."""
        same, moved = {}, {}    # var -> largest fan-out of a consumer reading it at its own index,
        for eqn in reversed(self.prog.eqns):     # and total fan-out of consumers remapping it
            out = eqn.outputs[0]
            fanout = 1
            if _inlinable(eqn) and out.aval.shape != () and out not in must:
                fanout = max(same.get(out, 0) + moved.get(out, 0), 1)
                if fanout > MAX_FANOUT and lowering_rules[eqn.prim][0] == "elementwise":
                    must.add(out)
                    fanout = 1
            if not _inlinable(eqn):
                continue
            remaps = lowering_rules[eqn.prim][0] != "elementwise"
            for x in set(eqn.inputs):
                if isinstance(x, Var):
                    if remaps:
                        moved[x] = moved.get(x, 0) + fanout
                    else:
                        same[x] = max(same.get(x, 0), fanout)
        return must

    def same_every_step(self, eqn, x):
        """If `x` is an input a loop `eqn` reads a slice of per step, and it only repeats one value
        along that axis (a broadcast, e.g. the cotangent of a sum of per-step terms), that value."""
        from .control import scanned_inputs
        producer = self.producer.get(x)
        if producer is None or producer.prim.name != "broadcast_in_dim" or x not in scanned_inputs(eqn):
            return None
        source = producer.inputs[0]
        if producer.params["broadcast_dimensions"] != tuple(range(1, x.aval.ndim)) or \
                source.aval.shape != x.aval.shape[1:]:
            return None
        return source

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

    def _ready(self, atoms):
        """The last item producing an array that these atoms' inlined expressions read (-1: none)."""
        pos = -1
        for x in atoms:
            if isinstance(x, Var):
                pos = max(pos, self.position.get(x, -1) if x in self.names else self.ready[x])
        return pos

    def _place(self, eqn, shape):
        pos = self._ready(eqn.inputs)
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
        if kind == "control":             # loops and conditionals: compiler/lowering/control.py
            return lowering_rules[eqn.prim][1](self, eqn)
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
            x = eqn.inputs[0]
            self.storage[out] = self.storage.get(x, x)
        elif kind == "statement":          # the primitive writes its own statements
            lines = lowering_rules[eqn.prim][1](o, a, eqn)
        else:
            raise MissingRuleError(f"no lowering for primitive '{eqn.prim.name}'")
        self.items.append(lines)
        self.position[out] = len(self.items) - 1

    # -- emission
    def _results(self):
        """The returned values; arrays that are inputs, constants, views of them or already
        returned are copied: every output is a fresh array the caller may modify."""
        shared = set(self.prog.invars) | set(self.prog.constvars)
        results = []
        for v in self.prog.outvars:
            if not isinstance(v, Var):
                results.append(literal_code(v.val, v.aval.dtype))
                continue
            owner = self.storage.get(v, v)
            fresh = v.aval.shape == () or owner not in shared
            shared.add(owner)
            results.append(self.names[v] if fresh else f"{self.names[v]}.copy()")
        return results

    def lower(self):
        prog = self.prog
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
            for v in eqn.outputs:
                if v not in self.names:
                    self.ready[v] = self._ready(eqn.inputs)
        body = []
        for item in self.items:
            body.extend(item.lines() if isinstance(item, Nest) else item)
        results = self._results()
        body.append(f"return ({', '.join(results)}{',' if len(results) == 1 else ''})")
        header = f"def {self.fn_name}({', '.join(params)}):"
        return "\n".join([header] + ["    " + line for line in body]) + "\n"


def lower_program(prog, name="kernel"):
    """Python source of a function `name(*inputs, *consts)` returning the tuple of outputs.

    A bit-tested variable found computed more than once is materialised and the program lowered
    again; each round materialises more, so this ends (in practice after one or two rounds)."""
    materialize = set()
    while True:
        lowering = Lowering(prog, name, materialize)
        source = lowering.lower()
        if lowering.recomputed <= materialize:
            return source
        materialize |= lowering.recomputed
