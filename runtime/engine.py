"""The backward engine: walk the graph from the roots in dependency order, run each node's
backward program, and deliver gradients to AccumulateGrad sinks (or capture them for
`autograd.grad`).

Without create_graph, cotangents are NumPy arrays and nodes run their cached NumPy backward; with
create_graph they may be tensors and nodes run their backward as recorded eager operations.
"""
from collections.abc import Sequence

import numpy as np

from .anomaly import check_nan
from .anomaly import state as _anomaly
from .dispatch import apply, edge
from .errors import AutogradError
from .graph import AccumulateGrad
from .modes import state as _mode
from .tensor import Tensor, new_tensor


def _as_list(x, what):
    if x is None:
        return None
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, Sequence):
        return list(x)
    raise TypeError(f"{what} must be a tensor or a sequence of tensors, got {type(x).__name__}")


def _root_grad(t, g, i, create_graph):
    if g is None:
        if t._data.size != 1:
            raise AutogradError(
                f"grad can be implicitly created only for scalar outputs: output {i} has shape "
                f"{t.shape}. Pass a gradient of the same shape (t.backward(v) computes v^T J), or "
                "reduce the output to a scalar first (e.g. t.sum()).")
        return np.ones(t.shape, t.dtype)
    if isinstance(g, Tensor):
        if g.shape != t.shape:
            raise AutogradError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and "
                                f"output[{i}] has a shape of {t.shape}.")
        if create_graph and g._rg:
            return g
        return g._data.astype(t.dtype, copy=False)
    g = np.asarray(g, dtype=t.dtype)
    if g.shape != t.shape:
        raise AutogradError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and "
                            f"output[{i}] has a shape of {t.shape}.")
    return g


def _roots(tensors, grads, create_graph):
    if grads is not None and len(grads) != len(tensors):
        raise AutogradError(f"got {len(grads)} gradients for {len(tensors)} tensors; pass one per tensor "
                            "(None for scalars)")
    edges, cts = [], []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"element {i} of tensors is a {type(t).__name__}, not a tensor")
        if not t._rg:
            raise AutogradError(
                f"element {i} of tensors does not require grad and does not have a grad_fn. Make the "
                "inputs you differentiate with respect to require grad (rt.tensor(..., requires_grad=True) "
                "or x.requires_grad_()), and compute outside rt.no_grad().")
        edges.append(edge(t))
        cts.append(_root_grad(t, None if grads is None else grads[i], i, create_graph))
    return edges, cts


def _input_edges(inputs):
    out = []
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"inputs[{i}] is a {type(t).__name__}, not a tensor")
        if not t._rg:
            raise AutogradError(f"One of the differentiated Tensors (inputs[{i}]) does not require grad")
        out.append(edge(t))
    return out


def _add(a, b):
    return b if a is None else a + b


def _deliver(t, g, create_graph, copy_name="CopyBackwards"):
    """Accumulate gradient `g` into `t.grad` (in place, as PyTorch does, unless building a graph).
    A first gradient that requires grad is stored as a recorded copy (PyTorch's CopyBackwards for
    a leaf, CloneBackward0 for a retained gradient), never as the tensor itself."""
    grad = t._grad
    if create_graph or (grad is not None and grad._rg) or isinstance(g, Tensor):
        if grad is None:
            t._grad = apply(None, _copy, (g,), name=copy_name, forward=np.copy) if isinstance(g, Tensor) and g._rg \
                else new_tensor(np.array(getattr(g, "_data", g), dtype=t.dtype))
        else:
            t._grad = grad + g
        return
    if grad is None:
        t._grad = new_tensor(np.array(g, dtype=t.dtype))
    else:
        d = grad._data
        if d.shape == np.shape(g):
            np.add(d, g, out=d, casting="unsafe")
        else:
            grad._data = (d + g).astype(t.dtype)
        grad._vc[0] += 1


def _needed(seen_parents, targets):
    """Nodes from which some target node is reachable."""
    needed = set()
    stack = [n for n in targets if n in seen_parents]
    while stack:
        n = stack.pop()
        if n in needed:
            continue
        needed.add(n)
        stack.extend(seen_parents[n])
    return needed


def _dependencies(roots, with_parents):
    """How many edges point at each node reachable from `roots` (and, optionally, its parents)."""
    deps = {}
    seen = set(roots)
    parents = {n: [] for n in roots} if with_parents else None
    stack = list(roots)
    get = deps.get
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = get(nxt, 0) + 1
            if parents is not None:
                parents.setdefault(nxt, []).append(node)
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return deps, parents


def _run_plain(ready, buffers, deps, keep_graph):
    """The common case: NumPy cotangents, every leaf accumulates, no anomaly checks."""
    pop, bpop = ready.pop, buffers.pop
    while ready:
        node = pop()
        buf = bpop(node, None)
        if type(node) is AccumulateGrad:
            if buf is not None and buf[0] is not None:
                _deliver(node.variable, buf[0], False)
            continue
        nexts = node.next_functions
        if buf is None:
            grads = (None,) * len(nexts)
        else:
            if node._retained:
                _deliver_retained(node, buf, False)
            grads = node.apply(buf)
            if not keep_graph:
                node._args = node._leaves = None
        _send(nexts, grads, buffers, deps, ready, None)


def _copy(g):
    return g


def _deliver_retained(node, buf, create_graph):
    for i, ref in node._retained.items():
        t = ref()
        if t is not None and buf[i] is not None:
            _deliver(t, buf[i], create_graph, "CloneBackward0")


def execute(edges, cts, keep_graph, create_graph, targets=None, capture=False):
    """Run backward from root `edges` with cotangents `cts`.

    targets: {(node, index): [tensor...] or True} restricts the gradients delivered: with
    capture=True the total gradient reaching each target is returned in a dict keyed by edge
    (autograd.grad); otherwise it is accumulated into the tensors listed (backward(inputs=...)).
    Only nodes that lead to a target run.
    """
    buffers = {}
    roots = []
    for (node, idx), ct in zip(edges, cts):
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node._n_out
            roots.append(node)
        buf[idx] = _add(buf[idx], ct)
    deps, parents = _dependencies(roots, targets is not None)
    ready = [n for n in roots if n not in deps]
    prev_mode = _mode.grad_enabled
    _mode.grad_enabled = create_graph
    try:
        with np.errstate(all="ignore"):            # NaN/inf in gradients are reported by anomaly mode
            return _run(ready, buffers, deps, parents, keep_graph, create_graph, targets, capture)
    finally:
        _mode.grad_enabled = prev_mode


def _run(ready, buffers, deps, parents, keep_graph, create_graph, targets, capture):
    if targets is None and not create_graph and not _anomaly.enabled:
        _run_plain(ready, buffers, deps, keep_graph)
        return {}
    needed = None if targets is None else _needed(parents, {n for n, _ in targets})
    return _run_general(ready, buffers, deps, keep_graph, create_graph, targets, capture, needed)


def _run_general(ready, buffers, deps, keep_graph, create_graph, targets, capture, needed):
    captured = {}
    while ready:
        node = ready.pop()
        buf = buffers.pop(node, None)
        if targets is not None and buf is not None:
            for i, g in enumerate(buf):
                dest = targets.get((node, i))
                if dest is None or g is None:
                    continue
                if capture:
                    captured[(node, i)] = g
                else:
                    for t in dest:
                        _deliver(t, g, create_graph)
        if type(node) is AccumulateGrad:
            if targets is None and buf is not None and buf[0] is not None:
                _deliver(node.variable, buf[0], create_graph)
            continue
        nexts = node.next_functions
        if buf is None or (needed is not None and node not in needed):
            grads = (None,) * len(nexts)
        else:
            if node._retained and targets is None:
                _deliver_retained(node, buf, create_graph)
            grads = node.apply_graph(buf) if create_graph else node.apply(buf)
            if _anomaly.enabled:
                check_nan(node, grads)
            if not keep_graph:
                node.release()
        _send(nexts, grads, buffers, deps, ready, needed)
    return captured


def _send(nexts, grads, buffers, deps, ready, needed):
    """Add a node's input gradients into the buffers of the nodes they flow to; a node whose
    last incoming edge has been served is ready. `needed`: only those nodes get gradients."""
    for (nxt, idx), g in zip(nexts, grads):
        if nxt is None:
            continue
        if g is not None and (needed is None or nxt in needed):
            b = buffers.get(nxt)
            if b is None:
                b = buffers[nxt] = [None] * nxt._n_out
            cur = b[idx]
            b[idx] = g if cur is None else cur + g
        d = deps[nxt] - 1
        deps[nxt] = d
        if d == 0:
            ready.append(nxt)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of `tensors` (weighted by `grad_tensors`) into the leaves' `.grad`."""
    tensors = _as_list(tensors, "tensors")
    grad_tensors = _as_list(grad_tensors, "grad_tensors")
    if grad_tensors is not None and len(grad_tensors) == 1 and len(tensors) > 1:
        raise AutogradError(f"got 1 gradient for {len(tensors)} tensors; pass one per tensor")
    edges, cts = _roots(tensors, grad_tensors, create_graph)
    keep = create_graph if retain_graph is None else retain_graph
    targets = None
    if inputs is not None:
        inputs = _as_list(inputs, "inputs")
        if not inputs:
            raise AutogradError("'inputs' argument to backward() cannot be empty.")
        targets = {}
        for t, e in zip(inputs, _input_edges(inputs)):
            targets.setdefault(e, []).append(t)
    execute(edges, cts, keep, create_graph, targets)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """The gradients of `outputs` with respect to `inputs`, as a tuple; no `.grad` is touched."""
    outputs = _as_list(outputs, "outputs")
    inputs = _as_list(inputs, "inputs")
    if not inputs:
        raise AutogradError("grad requires at least one input tensor")
    if materialize_grads and allow_unused is False:
        raise AutogradError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                            "but got: allow_unused=False.")
    edges, cts = _roots(outputs, _as_list(grad_outputs, "grad_outputs"), create_graph)
    keep = create_graph if retain_graph is None else retain_graph
    in_edges = _input_edges(inputs)
    targets = {e: True for e in in_edges}
    captured = execute(edges, cts, keep, create_graph, targets, capture=True)
    result = []
    for i, (t, e) in enumerate(zip(inputs, in_edges)):
        g = captured.get(e)
        if g is None:
            if materialize_grads:                   # zeros that require grad under create_graph, as in PyTorch
                result.append(new_tensor(np.zeros(t.shape, t.dtype), create_graph))
                continue
            elif not allow_unused:
                raise AutogradError(
                    f"One of the differentiated Tensors (inputs[{i}]) appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior.")
            else:
                result.append(None)
                continue
        if isinstance(g, Tensor):
            result.append(g)
        else:
            result.append(new_tensor(np.array(g, dtype=t.dtype)))
    return tuple(result)
