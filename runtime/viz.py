"""Draw the eager runtime's backward graph, like torchviz's `make_dot`.

    dot = rt.viz.make_dot(loss, params={"w": w})
    dot.save("loss.svg")          # or .png/.pdf (needs Graphviz), .dot for the text

One node per backward node (`MulBackward0`, with the forward operation's file:line when anomaly
detection recorded it), one per leaf tensor that receives a gradient (`AccumulateGrad` and the
tensor, named after `params` when given), the output tensors in green; edges follow
`grad_fn.next_functions` from the inputs towards the output.
"""
from compiler.diagnostics.dot import Graph
from compiler.diagnostics.draw import short_source

from .graph import AccumulateGrad

_FILL = {"output": "darkolivegreen1", "leaf": "lightblue", "node": "lightgray"}


def _shape(t):
    return "(" + ", ".join(map(str, t.shape)) + ")"


def make_dot(var, params=None):
    """A `Graph` (DOT text in `.source`; `.save(path)`, `.render(name, format)`) of the backward
    graph of `var` (a tensor or a tuple/list of tensors). `params`: a dict name -> tensor used to
    label the leaves (e.g. `dict(model.named_parameters())`)."""
    names = {id(t): name for name, t in (params or {}).items()}
    outputs = list(var) if isinstance(var, (tuple, list)) else [var]
    g = Graph("backward graph", fontname="Helvetica", nodesep="0.25", ranksep="0.35")
    ids, seen = {}, set()

    def node_id(obj):
        return ids.setdefault(id(obj), f"n{len(ids)}")

    def draw(fn):
        if isinstance(fn, AccumulateGrad):
            leaf = fn.variable
            label = names.get(id(leaf), "")
            g.node(node_id(leaf), f"{label}\n{_shape(leaf)}".strip(), shape="box", style="filled",
                   fillcolor=_FILL["leaf"])
            g.node(node_id(fn), "AccumulateGrad", shape="box", style="filled", fillcolor=_FILL["node"])
            g.edge(node_id(leaf), node_id(fn))
        else:
            source = getattr(fn, "_source", None)
            label = fn.name() + (f"\n{short_source(source)}" if source else "")
            g.node(node_id(fn), label, shape="box", style="filled", fillcolor=_FILL["node"], tooltip=source)

    stack = []
    for t in outputs:
        g.node(node_id(t), f"{names.get(id(t), 'output')}\n{_shape(t)}", shape="box", style="filled",
               fillcolor=_FILL["output"])
        if t.grad_fn is not None:
            stack.append(t.grad_fn)
            g.edge(node_id(t.grad_fn), node_id(t))
    while stack:                         # iteratively: graphs of long loops are deep
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        draw(fn)
        for next_fn, _ in fn.next_functions:
            if next_fn is not None:
                stack.append(next_fn)
                g.edge(node_id(next_fn), node_id(fn))
    return g
