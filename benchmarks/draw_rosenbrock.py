"""Draw the README's picture of the Rosenbrock forward and adjoint programs.

    python -m benchmarks.draw_rosenbrock      # writes benchmarks/plots/rosenbrock_graph.svg (needs Graphviz)
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE) + os.sep
sys.path.insert(0, ROOT)          # this checkout's compiler, whatever the current directory
PLOTS = os.path.join(HERE, "plots")

from benchmarks.workloads import rosenbrock  # noqa: E402
from compiler import value_and_grad  # noqa: E402

if __name__ == "__main__":
    import graphviz
    graph = value_and_grad(rosenbrock).lower(np.ones(8)).draw()
    svg = graphviz.Source(graph.source.replace(ROOT, "")).pipe(format="svg")   # no local paths in tooltips
    with open(os.path.join(PLOTS, "rosenbrock_graph.svg"), "wb") as f:
        f.write(svg)
