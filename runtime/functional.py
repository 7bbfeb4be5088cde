"""`rt.functional`: losses and activations with PyTorch's names, values and gradients.

Most are ONE node: a composite written with the NumPy front end (`_mse_loss`...), traced once per
signature into a small Program whose VJP program is the node's backward. Where PyTorch computes the
value or the gradient its own way (sigmoid, softplus's threshold, the logs clamped at -100, ignored
targets), the node computes the value with NumPy as PyTorch does and carries PyTorch's backward
formula (see `torch_ops`). `l1_loss` and `cross_entropy` are several nodes, as in PyTorch.
"""
import numpy as np

from compiler import numpy_api as api
from compiler.primitives.elementwise import stop_gradient_p

from .dispatch import apply, apply_function, apply_ufunc
from .tensor import Tensor
from .torch_ops import Static

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction):
    if reduction == "mean":
        return api.mean(loss)
    if reduction == "sum":
        return api.sum(loss)
    return loss


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction={reduction!r} is not valid; use one of {_REDUCTIONS}")


def _reduced_name(reduction, mean, total, none):
    return {"mean": mean, "sum": total, "none": none}[reduction]


def _quiet(fn):
    """A NumPy forward in which overflow to inf and log(0) = -inf are expected results."""
    def forward(*args):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return fn(*args)
    return forward


def _mean_scale(g, x, reduction):
    return g / x.size if reduction == "mean" else g


# ---------------------------------------------------------------------- activations

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))                       # as PyTorch computes it (exp may overflow to inf)


def sigmoid(input):
    return apply(None, _sigmoid, (input,), name="SigmoidBackward0", forward=_quiet(_sigmoid),
                 backward=lambda ct, out, x: (ct * (out * (1 - out)),))


def _threshold(ct, x):
    return np.where(x <= 0, 0.0, ct)


def threshold_backward(grad, x):
    """The gradient of relu: `grad` where x > 0 (and where x is NaN), else 0."""
    return apply(None, _threshold, (grad, x), name="ThresholdBackwardBackward0", forward=_threshold,
                 backward=lambda ct, out, g, x: (threshold_backward(ct, x), np.zeros_like(x)))


def _relu(x):
    return np.where(x <= 0, 0.0, x)                       # relu(nan) = nan, as in PyTorch


def relu(input):
    return apply(None, _relu, (input,), name="ReluBackward0", forward=_relu,
                 backward=lambda ct, out, x: (threshold_backward(ct, out),))


def _softplus(x, beta, threshold):
    """x where beta * x > threshold (PyTorch's linear regime), else log1p(exp(beta x)) / beta."""
    bx = x * beta
    return np.where(bx > threshold, x, np.log1p(np.exp(np.minimum(bx, threshold))) / beta)


def _softplus_grad(ct, x, beta, threshold):
    z = np.exp(x * beta)
    return np.where(x * beta > threshold, ct, ct * z / (z + 1.0))


def _softplus_double_backward(ct, out, g, x, beta, threshold):
    """PyTorch's: its second derivative is 0 from beta * x = threshold on (the first is not)."""
    bx = x * beta
    s = sigmoid(bx)
    return (softplus_backward(ct, x, beta, threshold),
            ct * g * (s * (1 - s)) * (bx < threshold).astype(x.dtype) * beta, None, None)


def softplus_backward(grad, x, beta, threshold):
    return apply(None, _softplus_grad, (grad, x, beta, threshold), name="SoftplusBackwardBackward0",
                 forward=_quiet(_softplus_grad), backward=_softplus_double_backward)


def _softplus_backward(ct, out, x, beta, threshold):
    return softplus_backward(ct, x, beta, threshold), None, None


def softplus(input, beta=1.0, threshold=20.0):
    return apply(None, _softplus, (input, float(beta), float(threshold)), name="SoftplusBackward0",
                 forward=_softplus, backward=_softplus_backward)


def _shifted(x, dim):
    return api.subtract(x, stop_gradient_p.bind(api.max(x, dim, keepdims=True)))


def _softmax(x, dim):
    e = api.exp(_shifted(x, dim))
    return api.divide(e, api.sum(e, dim, keepdims=True))


def softmax(input, dim=-1):
    """exp(x) / sum(exp(x)) along `dim` (computed stably)."""
    return apply(None, _softmax, (input, dim), name="SoftmaxBackward0")


def _log_softmax(x, dim):
    s = _shifted(x, dim)
    return api.subtract(s, api.log(api.sum(api.exp(s), dim, keepdims=True)))


def log_softmax(input, dim=-1):
    return apply(None, _log_softmax, (input, dim), name="LogSoftmaxBackward0")


def _logsumexp(x, dim, keepdim):
    m = stop_gradient_p.bind(api.max(x, dim, keepdims=True))
    out = api.add(api.log(api.sum(api.exp(api.subtract(x, m)), dim, keepdims=True)), m)
    return out if keepdim else api.squeeze(out, dim)


def _logsumexp_forward(x, dim, keepdim):
    """PyTorch's: an infinite maximum is not subtracted (all -inf gives -inf, not nan)."""
    if x.size == 0:
        return np.log(np.sum(np.exp(x), dim, keepdims=keepdim))
    m = np.max(x, dim, keepdims=True)
    m = np.where(np.isinf(m), 0.0, m)
    out = np.log(np.sum(np.exp(x - m), dim, keepdims=True)) + m
    return out if keepdim else np.squeeze(out, dim)


def _logsumexp_backward(ct, out, x, dim, keepdim):
    axes = api.normalize_axes(dim, x.ndim)
    kept = [1 if i in axes else d for i, d in enumerate(x.shape)]
    if not keepdim:
        ct, out = np.reshape(ct, kept), np.reshape(out, kept)
    return ct * np.exp(x - out), None, None


def logsumexp(input, dim, keepdim=False):
    dim = Static(dim) if isinstance(dim, (tuple, list)) else dim
    return apply(None, _logsumexp, (input, dim, keepdim), name="LogsumexpBackward0",
                 forward=_quiet(_logsumexp_forward), backward=_logsumexp_backward)


# ---------------------------------------------------------------------- losses

def _mse_loss(x, y, reduction):
    return _reduce(api.square(api.subtract(x, y)), reduction)


def mse_loss(input, target, reduction="mean"):
    """Mean (or sum, or none) of the squared differences."""
    _check_reduction(reduction)
    return apply(None, _mse_loss, (input, target, reduction), name="MseLossBackward0")


def l1_loss(input, target, reduction="mean"):
    """Mean (or sum, or none) of |input - target|: three nodes (Sub, Abs, Mean), as in PyTorch."""
    _check_reduction(reduction)
    loss = apply_ufunc(np.absolute, (apply_ufunc(np.subtract, (input, target)),))
    return loss if reduction == "none" else apply_function(np.mean if reduction == "mean" else np.sum, loss)


def _log_sigmoid(x):
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def _bce_with_logits(x, t, weight, pos_weight, reduction):
    log_sigmoid = _log_sigmoid(x)
    if pos_weight is not None:
        log_sigmoid = log_sigmoid * ((pos_weight - 1) * t + 1)
    loss = (1 - t) * x - log_sigmoid
    if weight is not None:
        loss = loss * weight
    return np.mean(loss) if reduction == "mean" else np.sum(loss) if reduction == "sum" else loss


def _bce_with_logits_backward(ct, out, x, t, weight, pos_weight, reduction):
    if pos_weight is None:
        gx, gt = sigmoid(x) - t, -x
    else:
        pt = pos_weight * t
        gx = (pt + 1 - t) * sigmoid(x) - pt
        gt = _log_sigmoid(-x) - _log_sigmoid(x) * pos_weight
    gx, gt = gx * ct, gt * ct
    if weight is not None:
        gx, gt = gx * weight, gt * weight
    return _mean_scale(gx, x, reduction), _mean_scale(gt, x, reduction), None, None, None


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """-[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], computed stably from the logits x."""
    _check_reduction(reduction)
    return apply(None, _bce_with_logits, (input, target, weight, pos_weight, reduction),
                 name="BinaryCrossEntropyWithLogitsBackward0", forward=_quiet(_bce_with_logits),
                 backward=_bce_with_logits_backward)


def _bce(p, t, weight, reduction):
    loss = (t - 1) * np.maximum(np.log1p(-p), -100.0) - t * np.maximum(np.log(p), -100.0)   # PyTorch clamps the logs
    if weight is not None:
        loss = loss * weight
    return np.mean(loss) if reduction == "mean" else np.sum(loss) if reduction == "sum" else loss


_BCE_EPSILON = float(np.float32(1e-12))         # PyTorch's EPSILON, a float literal


def _logit(p):
    return np.log(p / (1 - p))


def logit(p):
    return apply(None, _logit, (p,), name="LogitBackward0", forward=_quiet(_logit),
                 backward=lambda ct, out, p: (ct / (p * (1 - p)),))


def _bce_grad(ct, p, t, weight, reduction):
    """PyTorch's binary_cross_entropy_backward: (p - t) / max(p (1 - p), eps), finite at p = 0 and 1."""
    g = ct * (p - t) / np.maximum(p * (1 - p), _BCE_EPSILON)
    return _mean_scale(g if weight is None else g * weight, p, reduction)


def _bce_double_backward(ct2, out, ct, p, t, weight, reduction):
    """PyTorch's binary_cross_entropy_double_backward (and its _grad_output and _target)."""
    eps = 1e-12
    w = 1.0 if weight is None else weight
    g_ct = (p - t) / ((p + eps) * (1 - p + eps)) * ct2 * w
    g_ct = np.sum(g_ct) / p.size if reduction == "mean" else np.sum(g_ct) if reduction == "sum" else g_ct
    g_p = (p * p - 2 * p * t + t) / ((p + eps) ** 2 * (1 - p + eps) ** 2) * (ct2 * ct) * w
    g_t = -ct2 * ct * w / np.maximum((1 - p) * p, eps)
    return g_ct, _mean_scale(g_p, p, reduction), _mean_scale(g_t, p, reduction), None, None


def bce_backward(grad, p, t, weight, reduction):
    return apply(None, _bce_grad, (grad, p, t, weight, reduction), name="BinaryCrossEntropyBackwardBackward0",
                 forward=_quiet(_bce_grad), backward=_bce_double_backward)


def _bce_backward(ct, out, p, t, weight, reduction):
    gt = -logit(p) * ct
    if weight is not None:
        gt = gt * weight
    return bce_backward(ct, p, t, weight, reduction), _mean_scale(gt, p, reduction), None, None


def _check_unit_interval(x, what):
    data = x._data if isinstance(x, Tensor) else x
    if isinstance(data, (np.ndarray, float, int)) and not np.all((np.asarray(data) >= 0) & (np.asarray(data) <= 1)):
        raise ValueError(f"binary_cross_entropy: all elements of {what} should be between 0 and 1; for logits "
                         "use binary_cross_entropy_with_logits")


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-[t log p + (1 - t) log(1 - p)] of probabilities p, with the logs clamped at -100 as in PyTorch."""
    _check_reduction(reduction)
    _check_unit_interval(input, "input")
    _check_unit_interval(target, "target")
    return apply(None, _bce, (input, target, weight, reduction), name="BinaryCrossEntropyBackward0",
                 forward=_quiet(_bce), backward=_bce_backward)


def _one_hot(target, n_classes, dtype):
    classes = np.arange(n_classes, dtype=np.int64)
    return api.astype(api.equal(api.reshape(target, api.shape_of(target) + (1,)), classes), dtype)


def _nll(logp, target, weight, ignore_index, reduction):
    """Negative log-likelihood of integer class targets; logp is (N, C) or (C,)."""
    squeeze = len(api.shape_of(logp)) == 1
    if squeeze:
        logp, target = api.reshape(logp, (1, -1)), api.reshape(target, (1,))
    n_classes = api.shape_of(logp)[1]
    hot = _one_hot(target, n_classes, api.dtype_of(logp))
    w = hot if weight is None else api.multiply(hot, weight)
    valid = api.astype(api.not_equal(target, ignore_index), api.dtype_of(logp))
    w_i = api.multiply(api.sum(w, 1), valid)                  # the weight of each sample's class
    loss = api.multiply(api.negative(api.sum(api.multiply(w, logp), 1)), valid)
    if reduction == "mean":
        return api.divide(api.sum(loss), api.sum(w_i))
    if reduction == "sum":
        return api.sum(loss)
    return api.reshape(loss, ()) if squeeze else loss


def _nll_grad(ct, logp, target, weight, ignore_index, reduction):
    """PyTorch's nll_loss_backward: -weight[target] * grad (/ total weight) at each target, 0 where
    it is ignored (also when every target is: no 0/0)."""
    n_classes = logp.shape[-1]
    target = np.reshape(target, (-1, 1))
    hot = np.equal(target, np.arange(n_classes))
    valid = target != ignore_index
    g = np.reshape(ct, (-1, 1)) if reduction == "none" else ct
    if reduction == "mean":
        w_target = 1.0 if weight is None else np.sum(np.where(hot, weight, 0.0), 1, keepdims=True)
        g = g / np.sum(np.where(valid, w_target, 0.0))
    if weight is not None:
        g = g * weight
    return np.reshape(np.where(np.logical_and(hot, valid), -g, 0.0), logp.shape)


def nll_loss_backward(grad, logp, target, weight, ignore_index, reduction):
    """The gradient of nll_loss as an operation: linear in `grad`, and it requires grad when `logp`
    does (its derivative there is 0), as in PyTorch."""
    return apply(None, _nll_grad, (grad, logp, target, weight, ignore_index, reduction),
                 name="NllLossBackwardBackward0", forward=_nll_grad,
                 backward=lambda ct, out, g, logp, target, weight, ignore_index, reduction: (
                     nll_loss(ct, target, weight, ignore_index, reduction), np.zeros_like(logp), None, None, None,
                     None))


def _nll_backward(ct, out, logp, target, weight, ignore_index, reduction):
    return nll_loss_backward(ct, logp, target, weight, ignore_index, reduction), None, None, None, None


def _check_targets(target, n_classes, ignore_index):
    if not isinstance(target, (Tensor, np.ndarray, np.integer, int)):
        return                                    # traced (a backward formula): checked when it was concrete
    data = np.asarray(target._data if isinstance(target, Tensor) else target)
    if data.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: the target must hold integer class indices, got {data.dtype.name}; "
                        "use cross_entropy for class probabilities")
    bad = data[(data != ignore_index) & ((data < 0) | (data >= n_classes))]
    if bad.size:
        raise IndexError(f"Target {bad.flat[0]} is out of bounds: the input has {n_classes} classes")


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood loss of log-probabilities `input` (N, C) and class indices `target`."""
    _check_reduction(reduction)
    if isinstance(target, (list, tuple)):
        target = np.asarray(target)
    _check_targets(target, np.shape(input)[-1], ignore_index)
    return apply(None, _nll, (input, target, weight, ignore_index, reduction), name="NllLossBackward0",
                 backward=_nll_backward, save=(0,))


def _soft_cross_entropy(x, probs, weight, reduction):
    logp = _log_softmax(x, -1)
    terms = api.multiply(probs, logp) if weight is None else api.multiply(api.multiply(probs, weight), logp)
    loss = api.negative(api.sum(terms, -1))
    return _reduce(loss, reduction)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits `input` (N, C) with class indices (N,) or class probabilities (N, C).
    With class indices it is nll_loss(log_softmax(input)): two nodes, as in PyTorch."""
    _check_reduction(reduction)
    if isinstance(target, (list, tuple)):
        target = np.asarray(target)
    if label_smoothing:
        raise NotImplementedError("cross_entropy(label_smoothing=...) is not supported; smooth the target "
                                  "probabilities yourself and pass them as the target")
    if np.dtype(target.dtype).kind == "f":
        return apply(None, _soft_cross_entropy, (input, target, weight, reduction),
                     name=_reduced_name(reduction, "DivBackward1", "NegBackward0", "NegBackward0"))
    return nll_loss(log_softmax(input, -1), target, weight, ignore_index, reduction)


def tanh(input):
    return input.tanh()

