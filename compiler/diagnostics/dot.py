"""DOT text (Graphviz's graph language) written by hand, and rendering it when Graphviz is there.

`Graph` collects nodes, edges and nested clusters and prints them as DOT; `save("f.dot")` writes
the text, `save("f.svg")` / `save("f.png")` renders it with the `graphviz` Python package and
Graphviz's `dot` program (both optional).  In Jupyter a Graph displays itself as SVG.
"""
import contextlib
import os

from ..errors import GradjitError

INSTALL = ("install both the graphviz Python package and Graphviz's `dot` program: "
           "`pip install graphviz` and `apt-get install graphviz` (Debian/Ubuntu), "
           "`brew install graphviz` (macOS) or `conda install python-graphviz`. "
           "Or save the DOT text instead (a path ending in .dot) and render it elsewhere.")
TEXT_FORMATS = ("dot", "gv")


class GraphvizNotFound(GradjitError, ImportError):
    """Rendering a picture needs Graphviz, which is not installed."""


def quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(attrs):
    items = [f"{k}={quote(v)}" for k, v in attrs.items() if v is not None]
    return f" [{', '.join(items)}]" if items else ""


class Graph:
    def __init__(self, name="gradjit", **graph_attrs):
        self.name = name
        self._lines = [f"  {k}={quote(v)};" for k, v in graph_attrs.items()]
        self._lines.append('  node [fontname="Helvetica", fontsize="11"];')
        self._lines.append('  edge [arrowsize="0.7"];')
        self._indent = "  "
        self._clusters = 0

    def node(self, node_id, label, **attrs):
        self._lines.append(f"{self._indent}{node_id}{_attrs({'label': label, **attrs})};")

    def edge(self, tail, head, **attrs):
        self._lines.append(f"{self._indent}{tail} -> {head}{_attrs(attrs)};")

    @contextlib.contextmanager
    def cluster(self, label, **attrs):
        """Nodes added inside the `with` block are drawn in a box; yields the cluster's name."""
        self._clusters += 1
        name = f"cluster_{self._clusters}"
        outer = self._indent
        self._lines.append(f"{outer}subgraph {name} {{")
        self._indent = outer + "  "
        for k, v in {"label": label, **attrs}.items():
            self._lines.append(f"{self._indent}{k}={quote(v)};")
        try:
            yield name
        finally:
            self._indent = outer
            self._lines.append(f"{outer}}}")

    @property
    def source(self):
        return f"digraph {quote(self.name)} {{\n" + "\n".join(self._lines) + "\n}\n"

    def __str__(self):
        return self.source

    def pipe(self, format="svg"):
        """The rendered picture as bytes (needs Graphviz)."""
        try:
            import graphviz
        except ImportError:
            raise GraphvizNotFound(f"Rendering a graph to {format} needs Graphviz: {INSTALL}") from None
        try:
            return graphviz.Source(self.source).pipe(format=format)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound(f"Rendering a graph to {format} needs Graphviz's `dot` program, which is "
                                   f"not on PATH: {INSTALL}") from None

    def save(self, path):
        """Write the graph to `path`: DOT text for .dot/.gv, else rendered in the format the suffix
        names (.svg, .png, .pdf...). Returns the path."""
        path = os.fspath(path)
        fmt = os.path.splitext(path)[1].lstrip(".").lower()
        if not fmt:
            raise ValueError(f"save({path!r}): name the format by the file's suffix (.svg, .png, .pdf or .dot)")
        data = self.source.encode() if fmt in TEXT_FORMATS else self.pipe(fmt)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def render(self, filename="graph", format="svg"):
        """torchviz/graphviz spelling: write `filename.format` and return its path."""
        return self.save(f"{filename}.{format}")

    def _repr_svg_(self):
        try:
            return self.pipe("svg").decode()
        except GraphvizNotFound:
            return None
