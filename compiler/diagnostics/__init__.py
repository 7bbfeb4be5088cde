"""See and debug what the compiler does: graph pictures of programs (`draw`), compile logs and
recompile explanations (`compile_log`), NaN/inf checking of compiled calls (`nans`),
disconnected-gradient warnings (`disconnected`) and memory reports (`memory`).

Everything is switched by `config` (environment variables read at import) and context managers;
switched off, none of it runs on the fast call path.
"""
from .categories import DisconnectedGradientWarning, GradjitWarning, RecompileWarning, UnrolledLoopWarning
from .config import config, debug_nans, log_compiles, strict_gradients
from .dot import Graph, GraphvizNotFound
from .draw import draw_program
from .memory import MemoryReport

__all__ = ["config", "log_compiles", "debug_nans", "strict_gradients", "draw_program", "Graph", "MemoryReport",
           "GradjitWarning", "DisconnectedGradientWarning", "RecompileWarning", "UnrolledLoopWarning", "GraphvizNotFound"]
