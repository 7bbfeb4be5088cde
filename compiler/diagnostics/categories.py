"""The warning categories of gradjit's diagnostics (filter them with the `warnings` module)."""


class GradjitWarning(UserWarning):
    """Base class of the warnings gradjit's diagnostics give."""


class DisconnectedGradientWarning(GradjitWarning):
    """A differentiated argument does not reach the output (or only through stop_gradient,
    integer casts or comparisons): its gradient is zero. GRADJIT_STRICT_GRADIENTS=1 makes it an error."""


class RecompileWarning(GradjitWarning):
    """A function has been compiled for many signatures (shapes, dtypes, static values)."""


class UnrolledLoopWarning(GradjitWarning):
    """One source line was traced into thousands of equations: a Python loop unrolled while
    tracing. Write it with fori_loop or scan."""
