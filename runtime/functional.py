"""`rt.functional`: losses and activations, each recorded as ONE node with PyTorch's name.

Each is a composite written with the NumPy front end (`_mse_loss`...); the eager dispatcher traces
it once per signature into a small Program whose VJP program is the node's backward.
"""
import numpy as np

from compiler import numpy_api as api
from compiler.primitives.elementwise import stop_gradient_p

from .dispatch import apply

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


# ---------------------------------------------------------------------- activations

def _sigmoid(x):
    return api.multiply(0.5, api.add(1.0, api.UFUNCS[np.tanh](api.multiply(x, 0.5))))   # no overflow


def sigmoid(input):
    return apply(None, _sigmoid, (input,), name="SigmoidBackward0")


def _relu(x):
    return api.where(api.greater(x, 0), x, 0)


def relu(input):
    return apply(None, _relu, (input,), name="ReluBackward0")


def _softplus(x, beta):
    bx = api.multiply(x, beta)
    return api.divide(api.add(api.log1p(api.exp(api.negative(api.absolute(bx)))), api.maximum(bx, 0.0)), beta)


def softplus(input, beta=1.0):
    return apply(None, _softplus, (input, float(beta)), name="SoftplusBackward0")


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


def logsumexp(input, dim, keepdim=False):
    return apply(None, _logsumexp, (input, dim, keepdim), name="LogsumexpBackward0")


# ---------------------------------------------------------------------- losses

def _mse_loss(x, y, reduction):
    return _reduce(api.square(api.subtract(x, y)), reduction)


def mse_loss(input, target, reduction="mean"):
    """Mean (or sum, or none) of the squared differences."""
    _check_reduction(reduction)
    return apply(None, _mse_loss, (input, target, reduction), name="MseLossBackward0")


def _l1_loss(x, y, reduction):
    return _reduce(api.absolute(api.subtract(x, y)), reduction)


def l1_loss(input, target, reduction="mean"):
    _check_reduction(reduction)
    return apply(None, _l1_loss, (input, target, reduction),
                 name=_reduced_name(reduction, "MeanBackward0", "SumBackward0", "AbsBackward0"))


def _bce_with_logits(x, t, weight, pos_weight, reduction):
    softplus_neg = api.add(api.log1p(api.exp(api.negative(api.absolute(x)))), api.maximum(api.negative(x), 0.0))
    if pos_weight is not None:
        softplus_neg = api.multiply(api.add(api.multiply(api.subtract(pos_weight, 1.0), t), 1.0), softplus_neg)
    loss = api.add(api.multiply(api.subtract(1.0, t), x), softplus_neg)
    if weight is not None:
        loss = api.multiply(loss, weight)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """-[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], computed stably from the logits x."""
    _check_reduction(reduction)
    return apply(None, _bce_with_logits, (input, target, weight, pos_weight, reduction),
                 name="BinaryCrossEntropyWithLogitsBackward0")


def _bce(p, t, weight, reduction):
    log_p = api.maximum(api.log(p), -100.0)                 # PyTorch clamps the logs at -100
    log_q = api.maximum(api.log(api.subtract(1.0, p)), -100.0)
    loss = api.negative(api.add(api.multiply(t, log_p), api.multiply(api.subtract(1.0, t), log_q)))
    if weight is not None:
        loss = api.multiply(loss, weight)
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    _check_reduction(reduction)
    return apply(None, _bce, (input, target, weight, reduction), name="BinaryCrossEntropyBackward0")


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


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood loss of log-probabilities `input` (N, C) and class indices `target`."""
    _check_reduction(reduction)
    if isinstance(target, (list, tuple)):
        target = np.asarray(target)
    return apply(None, _nll, (input, target, weight, ignore_index, reduction), name="NllLossBackward0")


def _cross_entropy(x, target, weight, ignore_index, reduction):
    return _nll(_log_softmax(x, -1), target, weight, ignore_index, reduction)


def _soft_cross_entropy(x, probs, weight, reduction):
    logp = _log_softmax(x, -1)
    terms = api.multiply(probs, logp) if weight is None else api.multiply(api.multiply(probs, weight), logp)
    loss = api.negative(api.sum(terms, -1))
    return _reduce(loss, reduction)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits `input` (N, C) with class indices (N,) or class probabilities (N, C)."""
    _check_reduction(reduction)
    if isinstance(target, (list, tuple)):
        target = np.asarray(target)
    if label_smoothing:
        raise NotImplementedError("cross_entropy(label_smoothing=...) is not supported; smooth the target "
                                  "probabilities yourself and pass them as the target")
    if np.dtype(target.dtype).kind == "f":
        return apply(None, _soft_cross_entropy, (input, target, weight, reduction),
                     name=_reduced_name(reduction, "DivBackward1", "NegBackward0", "NegBackward0"))
    return apply(None, _cross_entropy, (input, target, weight, ignore_index, reduction), name="NllLossBackward0")


def tanh(input):
    return input.tanh()
