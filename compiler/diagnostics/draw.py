"""Draw an IR program as a graph: one node per equation (primitive, output shapes, the user's
file:line), its inputs and outputs, edges for data flow.

Programs built by reverse mode are drawn as two boxes, the forward pass and the backward pass,
with the residuals (forward values the backward pass reads) in red.  An equation whose params
hold programs (loop bodies, branches) gets each of them drawn as a box of its own, whatever the
primitive.
"""
import os

import numpy as np

from ..ir import Literal, Program, Var, dtype_short
from .dot import Graph
from .passes import passes_of

FILL = {"forward": "#dbe9f6", "backward": "#fde3c8", None: "#eeeeee"}
RESIDUAL = "#d62728"
MAX_PARAM_CHARS = 32


def draw_program(program, title=None, input_names=None):
    """A `Graph` of `program` (`.source` is the DOT text, `.save(path)` writes or renders it)."""
    passes = passes_of(program)
    legend = title or "program"
    if passes.known:
        legend += ("\nblue: forward pass   orange: backward pass   "
                   "red: residuals (forward values the backward pass reads)")
    g = Graph(title or "program", label=legend, labelloc="b", compound="true", fontname="Helvetica",
              nodesep="0.25", ranksep="0.35")
    _Drawer(g, passes).program(program, "", input_names, top=True)
    return g


def _sub_programs(eqn):
    """(param name, program) for every program an equation's params hold."""
    for name, value in sorted(eqn.params.items()):
        if isinstance(value, Program):
            yield name, value
        elif isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                if isinstance(v, Program):
                    yield f"{name}[{i}]", v


def _param_text(value):
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        text = dtype_short(value)
    else:
        text = repr(value)
    return text if len(text) <= MAX_PARAM_CHARS else text[:MAX_PARAM_CHARS - 3] + "..."


def eqn_label(eqn):
    params = [f"{k}={_param_text(v)}" for k, v in sorted(eqn.params.items())
              if not any(n.split("[")[0] == k for n, _ in _sub_programs(eqn))]
    head = eqn.prim.name + (f"[{', '.join(params)}]" if params else "")
    if any(isinstance(x, Literal) for x in eqn.inputs):
        head += "(" + ", ".join(repr(x) if isinstance(x, Literal) else "·" for x in eqn.inputs) + ")"
    lines = [head, " ".join(str(v.aval) for v in eqn.outputs)]
    if eqn.source:
        lines.append(short_source(eqn.source))
    return "\n".join(lines)


def short_source(source):
    path, _, line = source.rpartition(":")
    return f"{os.path.basename(path)}:{line}" if path else source


class _Drawer:
    def __init__(self, graph, passes):
        self.g, self.passes = graph, passes
        self.edges = []
        self.residuals = passes.residuals()

    def program(self, prog, prefix, input_names=None, top=False):
        """Draw `prog`'s nodes with ids starting with `prefix`; returns one of its node ids."""
        g, producer = self.g, {}
        for i, v in enumerate(prog.invars):
            name = input_names[i] if input_names and i < len(input_names) else f"input {i}"
            producer[v] = node = f"{prefix}in{i}"
            g.node(node, f"{name}\n{v.aval}", shape="box", style="filled", fillcolor="#ffffff")
        for i, v in enumerate(prog.constvars):
            producer[v] = node = f"{prefix}c{i}"
            g.node(node, f"constant {i}\n{v.aval}", shape="box", style="filled,dashed", fillcolor="#ffffff")
        eqns = list(enumerate(prog.eqns))
        if top and self.passes.known:
            for which in ("forward", "backward"):
                part = [(k, e) for k, e in eqns if self.passes.pass_of(e) == which]
                if part:
                    with g.cluster(f"{which} pass", style="rounded", color="#999999"):
                        self.equations(part, prefix, producer, which)
        else:
            self.equations(eqns, prefix, producer, None)
        for i, v in enumerate(prog.outvars):
            node = f"{prefix}out{i}"
            label = f"output {i}\n{v.aval}" + (f" = {v!r}" if isinstance(v, Literal) else "")
            g.node(node, label, shape="box", style="filled", fillcolor="#e5f5e0")
            if isinstance(v, Var):
                self.edges.append((producer[v], node, {}))
        if top:
            for tail, head, attrs in self.edges:
                g.edge(tail, head, **attrs)
        return f"{prefix}in0" if prog.invars else f"{prefix}out0" if prog.outvars else None

    def equations(self, eqns, prefix, producer, which):
        g = self.g
        for k, eqn in eqns:
            node = f"{prefix}e{k}"
            residual = any(v in self.residuals for v in eqn.outputs)
            g.node(node, eqn_label(eqn), shape="box", style="rounded,filled", fillcolor=FILL[which],
                   color=RESIDUAL if residual else None, penwidth="2" if residual else None,
                   tooltip=eqn.source)
            for x in eqn.inputs:
                if isinstance(x, Var) and x in producer:
                    into_backward = which == "backward" and x in self.residuals
                    attrs = {"color": RESIDUAL, "penwidth": "2"} if into_backward else {}
                    self.edges.append((producer[x], node, attrs))
            for v in eqn.outputs:
                producer[v] = node
            for name, sub in _sub_programs(eqn):
                sub_prefix = f"{node}_{name.replace('[', '_').replace(']', '')}_"
                with g.cluster(f"{eqn.prim.name}: {name}", style="rounded,dashed", color="#666666") as cluster:
                    anchor = self.program(sub, sub_prefix)
                if anchor is not None:
                    self.edges.append((node, anchor, {"lhead": cluster, "style": "dashed", "arrowhead": "none"}))
