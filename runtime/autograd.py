"""`rt.autograd`: backward over several roots, `grad` (gradients without touching `.grad`),
anomaly detection, and the grad-mode context managers."""
from .anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly  # noqa: F401
from .engine import backward, grad  # noqa: F401
from .graph import AccumulateGrad, Node  # noqa: F401
from .modes import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: F401

__all__ = ["backward", "grad", "set_detect_anomaly", "detect_anomaly", "is_anomaly_enabled",
           "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "Node", "AccumulateGrad"]
