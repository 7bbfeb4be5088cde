"""The eager runtime's errors: PyTorch raises RuntimeError for these, so they subclass it too."""
from compiler.errors import GradjitError


class AutogradError(GradjitError, RuntimeError):
    """An autograd request cannot be carried out: freed graph, modified saved tensor, in-place on a
    leaf, a tensor that does not require grad... The message says what to change."""


class AnomalyError(AutogradError):
    """Anomaly detection found a backward node producing NaN."""
