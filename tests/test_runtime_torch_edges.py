"""Every eager operation and rt.functional function against PyTorch at edge points: zeros, bounds,
ties, NaN and infinities, empty and 0-d tensors, repeated indices, in-place updates.

For each case: the value, the gradient of <v, f(x)> for a fixed v, whether that gradient requires
grad under create_graph=True (PyTorch's rule: it does when its formula reads a tensor that requires
grad), and the second derivative. NaN must be NaN in both. Skipped without torch.
"""
import warnings

import numpy as np
import pytest

import runtime as rt
from compiler.primitives import elementwise as ew
from compiler.primitives.core import jvp_rules
from runtime import dispatch

torch = pytest.importorskip("torch")
TF = torch.nn.functional
F = rt.functional
nan, inf = np.nan, np.inf

X = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
UNIT = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
NONNEG = np.array([0.0, 0.25, 1.0, 4.0])
SPECIAL = np.array([-inf, -1.0, 0.0, 1.0, inf, nan])
TIES = np.array([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0]])
ZERO_D, EMPTY = np.array(0.0), np.zeros(0)
A = np.array([0.0, 1.0, 2.0, -1.0, 0.0, 3.0, nan])
B = np.array([0.0, 1.0, 3.0, -1.0, 2.0, nan, 1.0])
M34 = np.arange(12.0).reshape(3, 4) / 4 - 1
PROBS = np.array([0.0, 1e-13, 0.3, 0.5, 1 - 1e-16, 1.0])
TARGETS = np.array([1.0, 1.0, 0.0, 0.5, 0.0, 0.0])
LOGP = np.log(np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [1 / 3, 1 / 3, 1 / 3]]))


def T(value):
    return torch.tensor(value, dtype=torch.float64)


def same(f):
    """A function written once for both libraries (operators and methods they share)."""
    return f, f


def pair(rt_f, torch_f):
    return rt_f, torch_f


def case(name, fns, *arrays, second=True):
    return pytest.param(fns[0], fns[1], arrays, second, id=name)


def inplace(op):
    """y = x * 1; op(y) in place; y (the history then holds the in-place node)."""
    def f(x, *others):
        y = x * 1
        op(y, *others)
        return y
    return f


def setitem(key):
    def f(x, v):
        y = x * 1
        y[key] = v
        return y
    return f


def torch_key(key):
    return tuple(torch.tensor(k) if isinstance(k, np.ndarray) else k for k in key) if isinstance(key, tuple) \
        else torch.tensor(key) if isinstance(key, (np.ndarray, list)) else key


UNARY = [  # (NumPy ufunc, torch function, input)
    (np.negative, torch.neg, X), (np.exp, torch.exp, SPECIAL), (np.log, torch.log, NONNEG),
    (np.log1p, torch.log1p, np.array([-1.0, -0.5, 0.0, 3.0])), (np.expm1, torch.expm1, SPECIAL),
    (np.sqrt, torch.sqrt, NONNEG), (np.sin, torch.sin, X), (np.cos, torch.cos, X), (np.tan, torch.tan, X),
    (np.tanh, torch.tanh, SPECIAL), (np.sinh, torch.sinh, X), (np.cosh, torch.cosh, X),
    (np.arctan, torch.atan, SPECIAL), (np.arcsin, torch.asin, UNIT), (np.arccos, torch.acos, UNIT),
    (np.absolute, torch.abs, SPECIAL), (np.fabs, torch.abs, X), (np.sign, torch.sign, SPECIAL[:-1]),
    (np.square, torch.square, X), (np.reciprocal, torch.reciprocal, X), (np.exp2, torch.exp2, X),
    (np.log2, torch.log2, NONNEG), (np.log10, torch.log10, NONNEG), (np.floor, torch.floor, X),
    (np.ceil, torch.ceil, X), (np.rint, torch.round, X), (np.trunc, torch.trunc, X), (np.round, torch.round, X),
]
BINARY = [
    (np.add, torch.add), (np.subtract, torch.sub), (np.multiply, torch.mul), (np.divide, torch.div),
    (np.power, torch.pow), (np.float_power, torch.float_power), (np.maximum, torch.maximum),
    (np.minimum, torch.minimum), (np.fmax, torch.fmax), (np.fmin, torch.fmin), (np.logaddexp, torch.logaddexp),
    (np.hypot, torch.hypot),
]

CASES = [case(f"{np_f.__name__}", pair(np_f, t_f), a) for np_f, t_f, a in UNARY]
CASES += [case(f"{np_f.__name__}-0d", pair(np_f, t_f), ZERO_D) for np_f, t_f, a in UNARY[:4]]
CASES += [case(f"{np_f.__name__}-empty", pair(np_f, t_f), EMPTY) for np_f, t_f, a in UNARY[:4]]
CASES += [case(f"{np_f.__name__}", pair(np_f, t_f), A, B) for np_f, t_f in BINARY]
CASES += [
    case("power-zero-base", pair(np.power, torch.pow), np.zeros(4), np.array([0.0, 1.0, -1.0, 0.5])),
    case("power-negative-base", pair(np.power, torch.pow), np.array([-2.0, -2.0, -1.0]), np.array([2.0, 0.5, 3.0])),
    case("rpow-scalar-base", pair(lambda y: 0.0 ** y, lambda y: 0.0 ** y), np.array([0.0, 1.0, -1.0, 2.0])),
    case("pow-scalar-exponent", same(lambda x: x ** 2.5), NONNEG),
    case("pow-zero-exponent", same(lambda x: x ** 0), X),
    case("logaddexp-infinities", pair(np.logaddexp, torch.logaddexp), np.array([-inf, inf, -inf, 1.0, inf]),
         np.array([-inf, inf, 1.0, -inf, 1.0])),
    case("hypot-zero-and-huge", pair(np.hypot, torch.hypot), np.array([0.0, 1e200, 1e-200, 3.0]),
         np.array([0.0, 1e200, 1e-200, 4.0])),
    case("logaddexp-scalar", pair(lambda x: np.logaddexp(x, 0.0), lambda x: torch.logaddexp(x, T(0.0))), SPECIAL),
    case("hypot-scalar", pair(lambda x: np.hypot(3.0, x), lambda x: torch.hypot(T(3.0), x)), X),
    case("fmax-nan-scalar", pair(lambda x: np.fmax(x, nan), lambda x: torch.fmax(x, T(nan))), X),
    case("fmin-broadcast", pair(np.fmin, torch.fmin), TIES, np.array([2.0, nan, 1.0, 0.0])),
    case("pow-array-exponent", pair(lambda x: x ** np.array([0.0, 1.0, 2.0, 0.5]),
                                    lambda x: x ** T([0.0, 1.0, 2.0, 0.5])), NONNEG),
    case("float32-formulas", same(lambda x: abs(x.float()) * x.float().clamp(0.0, 1.0) + x.float().max() * x.float().prod()), X),
    case("maximum-broadcast-ties", pair(np.maximum, torch.maximum), TIES, np.array([2.0, 3.0, 1.0, 0.0])),
    case("maximum-scalar", pair(lambda x: np.maximum(x, 0.0), lambda x: torch.maximum(x, torch.tensor(0.0))), X),
    case("div-by-zero", same(lambda x, y: x / y), np.array([0.0, 1.0, -1.0]), np.array([0.0, 0.0, 0.0])),
    case("matmul", same(lambda a, b: a @ b), M34, M34.T.copy()),
    case("matmul-vector", same(lambda a, b: a @ b), M34, np.array([1.0, 0.0, -1.0, 2.0])),
    case("matmul-empty", same(lambda a, b: a @ b), np.zeros((2, 0)), np.zeros((0, 3))),
    case("dot-1d", pair(np.dot, torch.dot), X, X[::-1].copy()),
    case("outer", pair(np.outer, torch.outer), UNIT, X),
    # clamp: the gradient passes at the bounds; tensor bounds get it where they are taken
    case("clamp-scalar", same(lambda x: x.clamp(-1.0, 1.0)), SPECIAL),
    case("clamp-min", same(lambda x: x.clamp(min=0.0)), X),
    case("clamp-max", same(lambda x: x.clamp(max=0.5)), X),
    case("clamp-equal-bounds", same(lambda x: x.clamp(0.5, 0.5)), X),
    case("clamp-tensors", pair(rt.clamp, torch.clamp), np.array([-1.0, 1.0, 0.0, 2.0, 5.0, 0.0]),
         np.array([-1.0, 0.0, 0.0, 0.0, 6.0, 1.0]), np.array([1.0, 1.0, 0.0, 1.0, 4.0, 1.0])),
    case("clip-broadcast-bounds", pair(lambda x, lo, hi: np.clip(x, lo, hi), torch.clamp), TIES,
         np.array([1.0, 2.0, 3.0, 0.0]), np.array([[2.0], [2.0], [0.0]])),
    case("clip-min-tensor", pair(lambda x, lo: np.clip(x, lo, None), lambda x, lo: torch.clamp(x, min=lo)),
         X, np.zeros(7)),
    # reductions: ties, constants, NaN, empty and 0-d
    case("sum", same(lambda x: x.sum()), TIES), case("sum-axis", same(lambda x: x.sum(1)), TIES),
    case("sum-empty", same(lambda x: x.sum()), EMPTY), case("sum-0d", same(lambda x: x.sum()), ZERO_D),
    case("mean", same(lambda x: x.mean()), TIES), case("mean-empty", same(lambda x: x.mean()), EMPTY),
    case("mean-keepdims", pair(lambda x: x.mean(1, keepdims=True), lambda x: x.mean(1, keepdim=True)), TIES),
    case("var", pair(lambda x: x.var(), lambda x: x.var(correction=0)), TIES),
    case("var-axis-ddof1", pair(lambda x: x.var(1, ddof=1), lambda x: x.var(1, correction=1)), TIES),
    case("std-constant", pair(lambda x: x.std(), lambda x: x.std(correction=0)), np.full(4, 2.0)),
    case("std-axis", pair(lambda x: x.std(1), lambda x: x.std(1, correction=0)), TIES),
    case("std-ddof1-one-element", pair(lambda x: x.std(ddof=1), lambda x: x.std(correction=1)), np.array([2.0])),
    case("std-0d", pair(lambda x: x.std(), lambda x: x.std(correction=0)), ZERO_D),
    case("max-ties", same(lambda x: x.max()), TIES), case("min-ties", same(lambda x: x.min()), TIES),
    case("max-nan", same(lambda x: x.max()), np.array([1.0, nan, 3.0, nan])),
    case("max-0d", same(lambda x: x.max()), np.array(2.0)),
    case("max-dim-ties", pair(lambda x: x.max(1), lambda x: x.max(1).values), TIES),
    case("min-dim-ties", pair(lambda x: np.min(x, axis=0), lambda x: x.min(0).values), TIES),
    case("max-dim-keepdims", pair(lambda x: x.max(0, keepdims=True), lambda x: x.max(0, keepdim=True).values), TIES),
    case("max-dim-nan", pair(lambda x: x.max(1), lambda x: x.max(1).values), np.array([[1.0, nan, nan], [2.0, 2.0, 0]])),
    case("amax-axes", pair(lambda x: np.max(x, axis=(0, 1)), lambda x: torch.amax(x, (0, 1))), TIES),
    case("amin-axes-keepdims", pair(lambda x: np.amin(x, axis=(0, 1), keepdims=True),
                                    lambda x: torch.amin(x, (0, 1), keepdim=True)), TIES),
    case("prod", same(lambda x: x.prod()), np.array([2.0, -3.0, 0.5])),
    case("prod-one-zero", same(lambda x: x.prod()), np.array([2.0, 0.0, 3.0])),
    case("prod-two-zeros", same(lambda x: x.prod()), np.array([0.0, 2.0, 0.0, 3.0])),
    case("prod-axis-zeros", same(lambda x: x.prod(1)), TIES),
    case("prod-empty", same(lambda x: x.prod()), EMPTY), case("prod-0d", same(lambda x: x.prod()), np.array(3.0)),
    # norms: 0 gives a 0 gradient; the inf-norm shares ties
    case("norm-zero", pair(np.linalg.norm, torch.linalg.norm), np.zeros(3)),
    case("norm-axis", pair(lambda x: np.linalg.norm(x, axis=1), lambda x: torch.linalg.norm(x, dim=1)), TIES),
    case("norm-fro-keepdims", pair(lambda x: np.linalg.norm(x, keepdims=True),
                                   lambda x: torch.linalg.norm(x, keepdim=True)), np.zeros((2, 2))),
    case("norm-1", pair(lambda x: np.linalg.norm(x, 1), lambda x: torch.linalg.norm(x, 1)), X),
    case("norm-inf-ties", pair(lambda x: np.linalg.norm(x, np.inf), lambda x: torch.linalg.norm(x, inf)), X),
    case("norm-3-zero", pair(lambda x: np.linalg.norm(x, 3), lambda x: torch.linalg.norm(x, 3)), np.zeros(3)),
    case("norm-1.5", pair(lambda x: np.linalg.norm(x, 1.5), lambda x: torch.linalg.norm(x, 1.5)), X),
    case("norm-0.5", pair(lambda x: np.linalg.norm(x, 0.5), lambda x: torch.linalg.norm(x, 0.5)), X),
    case("norm-0d", pair(np.linalg.norm, torch.linalg.norm), np.array(-2.0)),
    # shape operations and indexing
    case("reshape", same(lambda x: x.reshape(4, 3)), TIES), case("ravel", same(lambda x: x.ravel()), TIES),
    case("transpose", same(lambda x: x.T), TIES), case("swapaxes", pair(lambda x: np.swapaxes(x, 0, 1), lambda x: x.transpose(0, 1)), TIES),
    case("moveaxis", pair(lambda x: np.moveaxis(x[None], 0, 2), lambda x: torch.movedim(x[None], 0, 2)), TIES),
    case("squeeze", pair(lambda x: np.squeeze(x), torch.squeeze), np.ones((1, 3, 1))),
    case("expand_dims", pair(lambda x: np.expand_dims(x, 1), lambda x: x.unsqueeze(1)), X),
    case("broadcast_to", pair(lambda x: np.broadcast_to(x, (2, 7)), lambda x: x.expand(2, 7)), X),
    case("atleast_1d", pair(np.atleast_1d, torch.atleast_1d), ZERO_D),
    case("flip", pair(lambda x: np.flip(x, 0), lambda x: torch.flip(x, (0,))), TIES),
    case("concatenate", pair(lambda a, b: np.concatenate([a, b, a]), lambda a, b: torch.cat([a, b, a])), X, EMPTY),
    case("stack", pair(lambda a, b: np.stack([a, b], 1), lambda a, b: torch.stack([a, b], 1)), A, B),
    case("vstack", pair(lambda a, b: np.vstack([a, b]), lambda a, b: torch.vstack([a, b])), A, B),
    case("hstack", pair(lambda a, b: np.hstack([a, b]), lambda a, b: torch.hstack([a, b])), A, B),
    case("diff", pair(lambda x: np.diff(x, axis=1), lambda x: torch.diff(x, dim=1)), TIES),
    case("roll", pair(lambda x: np.roll(x, 1, axis=1), lambda x: torch.roll(x, 1, 1)), TIES),
    case("where-ties", pair(lambda x, y: np.where(x > 0, x, y), lambda x, y: torch.where(x > 0, x, y)), A, B),
    case("take-repeats", pair(lambda x: np.take(x, [0, 0, 3, 0]), lambda x: x[torch.tensor([0, 0, 3, 0])]), X),
    case("index-repeats", same(lambda x: x[[0, 0, 2, 0]]), TIES),
    case("index-mixed", pair(lambda x: x[1:, [1, 1, 0]], lambda x: x[1:, [1, 1, 0]]), TIES),
    case("index-mask", same(lambda x: x[x > 0]), X),
    case("index-basic", pair(lambda x: x[1, ::-1][None], lambda x: x[1].flip(0)[None]), TIES),
    case("index-0d", same(lambda x: x[...]), ZERO_D),
    case("unbind", same(lambda x: x.unbind(1)[2]), TIES),
    case("clone", same(lambda x: x.clone()), X),
    case("float32", same(lambda x: (x.float() * 3).sum()), X),
    # in place: history, repeated indices, a second operand
    case("add_", same(inplace(lambda y, z: y.add_(z))), X, X[::-1].copy()),
    case("mul_", same(inplace(lambda y, z: y.mul_(z))), X, X[::-1].copy()),
    case("sub_-alpha", same(inplace(lambda y, z: y.sub_(z, alpha=2.0))), X, X[::-1].copy()),
    case("div_", same(inplace(lambda y, z: y.div_(z))), X, np.full(7, 2.0)),
    case("iadd-broadcast", same(inplace(lambda y, z: y.__iadd__(z))), TIES, np.array([1.0, 0.0, -1.0, 2.0])),
    case("zero_", same(inplace(lambda y: y.zero_())), X),
    case("fill_", same(inplace(lambda y, z: y.fill_(z))), X, np.array(3.0)),
    case("copy_", same(inplace(lambda y, z: y.copy_(z))), TIES, np.array([1.0, 0.0, -1.0, 2.0])),
    case("setitem-slice", same(setitem(slice(1, 3))), X, np.array([5.0, 6.0])),
    case("setitem-repeats", pair(setitem(np.array([0, 2, 0])), setitem(torch.tensor([0, 2, 0]))), X,
         np.array([4.0, 5.0, 4.0])),
    case("setitem-mask", pair(lambda x, v: setitem(x > 0)(x, v), lambda x, v: setitem(x > 0)(x, v)), X, np.array(7.0)),
    # rt.functional
    case("sigmoid", pair(F.sigmoid, torch.sigmoid), np.array([-800.0, -40.0, 0.0, 40.0, 800.0])),
    case("relu", pair(F.relu, TF.relu), SPECIAL),
    case("softplus", pair(F.softplus, TF.softplus), np.array([-50.0, 0.0, 20.0, 20.5, 30.0])),
    case("softplus-beta", pair(lambda x: F.softplus(x, beta=2.0, threshold=5.0),
                               lambda x: TF.softplus(x, beta=2.0, threshold=5.0)), np.array([-1.0, 0.0, 2.5, 2.6])),
    case("softmax", pair(lambda x: F.softmax(x, 1), lambda x: TF.softmax(x, 1)), np.array([[-inf, 0.0, 1.0], [2.0, 2.0, 2.0]])),
    case("log_softmax", pair(lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1)),
         np.array([[-inf, 0.0, 1.0], [2.0, 2.0, 2.0]])),
    case("logsumexp", pair(lambda x: F.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1)),
         np.array([[-inf, -inf], [inf, 1.0], [0.0, 0.0], [inf, inf]])),
    case("logsumexp-keepdim", pair(lambda x: F.logsumexp(x, (0, 1), keepdim=True),
                                   lambda x: torch.logsumexp(x, (0, 1), keepdim=True)), TIES),
    case("logsumexp-empty", pair(lambda x: F.logsumexp(x, 0), lambda x: torch.logsumexp(x, 0)), EMPTY),
    case("mse_loss", pair(F.mse_loss, TF.mse_loss), A[:5], B[:5]),
    case("l1_loss-zero", pair(F.l1_loss, TF.l1_loss), A[:5], B[:5]),
    case("l1_loss-none", pair(lambda x, y: F.l1_loss(x, y, reduction="none"),
                              lambda x, y: TF.l1_loss(x, y, reduction="none")), A[:5], B[:5]),
    case("bce-at-0-and-1", pair(F.binary_cross_entropy, TF.binary_cross_entropy), PROBS, TARGETS),
    case("bce-none-weight", pair(lambda p, t: F.binary_cross_entropy(p, t.detach(), weight=np.arange(6.0), reduction="none"),
                                 lambda p, t: TF.binary_cross_entropy(p, t.detach(), weight=torch.arange(6.0, dtype=torch.float64),
                                                                      reduction="none")), PROBS, TARGETS),
    case("bce_with_logits", pair(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits),
         np.array([-800.0, -40.0, 0.0, 40.0, 800.0]), np.array([0.0, 0.5, 0.5, 1.0, 0.3])),
    case("bce_with_logits-weights", pair(
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, weight=np.array([1.0, 2.0, 0.0, 1.0, 1.0]),
                                                        pos_weight=np.array([2.0, 0.5, 1.0, 3.0, 1.0]), reduction="sum"),
        lambda x, t: TF.binary_cross_entropy_with_logits(x, t, weight=torch.tensor([1.0, 2.0, 0.0, 1.0, 1.0], dtype=torch.float64),
                                                         pos_weight=torch.tensor([2.0, 0.5, 1.0, 3.0, 1.0], dtype=torch.float64),
                                                         reduction="sum")),
        np.array([-40.0, -1.0, 0.0, 1.0, 40.0]), np.array([0.0, 0.5, 0.5, 1.0, 0.3])),
    case("nll_loss", pair(lambda x: F.nll_loss(x, np.array([0, 2, 1])), lambda x: TF.nll_loss(x, torch.tensor([0, 2, 1]))), LOGP),
    case("nll_loss-all-ignored", pair(lambda x: F.nll_loss(x, np.array([-100, -100, -100])),
                                      lambda x: TF.nll_loss(x, torch.tensor([-100, -100, -100]))), LOGP),
    case("nll_loss-ignore-weight", pair(
        lambda x: F.nll_loss(x, np.array([1, 2, 1]), weight=np.array([1.0, 2.0, 0.5]), ignore_index=1),
        lambda x: TF.nll_loss(x, torch.tensor([1, 2, 1]), weight=torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64),
                              ignore_index=1)), LOGP),
    case("nll_loss-none-1d", pair(lambda x: F.nll_loss(x[0], np.array(2), reduction="none"),
                                  lambda x: TF.nll_loss(x[0], torch.tensor(2), reduction="none")), LOGP),
    case("cross_entropy-all-ignored", pair(lambda x: F.cross_entropy(x, np.array([-100, -100, -100])),
                                           lambda x: TF.cross_entropy(x, torch.tensor([-100, -100, -100]))), LOGP),
    case("cross_entropy-sum", pair(lambda x: F.cross_entropy(x, np.array([0, 2, 2]), reduction="sum"),
                                   lambda x: TF.cross_entropy(x, torch.tensor([0, 2, 2]), reduction="sum")), LOGP),
    case("cross_entropy-probs", pair(lambda x: F.cross_entropy(x, np.exp(LOGP)),
                                     lambda x: TF.cross_entropy(x, torch.tensor(np.exp(LOGP)))), LOGP),
]


def _inputs(lib, arrays):
    make = rt.tensor if lib is rt else lambda a, requires_grad: torch.tensor(a, requires_grad=requires_grad)
    return [make(a, requires_grad=a.dtype.kind == "f") for a in arrays]


def _numpy(t):
    return None if t is None else t.detach().numpy(**({} if isinstance(t, rt.Tensor) else {"force": True}))


def _compare(ours, theirs, what):
    if theirs is None or ours is None:       # an unused input: None in one, zeros (or None) in the other
        other = theirs if ours is None else ours
        assert other is None or not np.any(other), what
        return
    assert ours.shape == theirs.shape, (what, ours.shape, theirs.shape)
    assert ours.dtype == theirs.dtype, (what, ours.dtype, theirs.dtype)
    finite = np.abs(theirs[np.isfinite(theirs)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0   # rounding of values that cancel to 0
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-15 * scale, equal_nan=True, err_msg=what)


def _run(lib, fn, arrays, second):
    """value, gradients, their requires_grad flags and the second derivatives."""
    xs = _inputs(lib, arrays)
    diff = [x for x in xs if x.requires_grad]
    y = fn(*xs)
    v = np.linspace(0.5, 1.5, int(np.prod(y.shape))).reshape(y.shape)
    v = rt.tensor(v) if lib is rt else torch.tensor(v, dtype=y.dtype)
    grads = lib.autograd.grad((y * v).sum(), diff, create_graph=True, allow_unused=True)
    flags = [g is not None and g.requires_grad for g in grads]
    hess = None
    if second and any(flags):
        total = sum((g * g).sum() for g, f in zip(grads, flags) if f)
        hess = lib.autograd.grad(total, diff, allow_unused=True)
    return (_numpy(y), [_numpy(g) for g in grads], flags, None if hess is None else [_numpy(h) for h in hess])


@pytest.mark.parametrize("rt_fn, torch_fn, arrays, second", CASES)
def test_matches_torch(rt_fn, torch_fn, arrays, second):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ours = _run(rt, rt_fn, arrays, second)
        theirs = _run(torch, torch_fn, arrays, second)
    _compare(ours[0], theirs[0], "value")
    for i, (a, b) in enumerate(zip(ours[1], theirs[1])):
        _compare(a, b, f"gradient {i}")
    assert ours[2] == theirs[2], "requires_grad of the create_graph gradients"
    if theirs[3] is not None:
        for i, (a, b) in enumerate(zip(ours[3], theirs[3])):
            _compare(a, b, f"second derivative {i}")


@pytest.fixture
def jax_abs_rule():
    """The compiler's abs rule as JAX has it (abs'(0) = 1): the eager runtime must not follow it."""
    def jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return ew.abs_p.bind(x), None if t is None else ew.select(ew.ge_p.bind(x, ew.const(0, x)), t, ew.neg(t))

    saved = jvp_rules[ew.abs_p]
    jvp_rules[ew.abs_p] = jvp
    dispatch._cache.clear()                       # no backward derived earlier with the shared rule
    yield
    jvp_rules[ew.abs_p] = saved
    dispatch._cache.clear()


@pytest.mark.parametrize("rule", ["shared", "jax"])
def test_abs_at_zero_is_pytorchs_whatever_the_compiler_rule(rule, request):
    if rule == "jax":
        request.getfixturevalue("jax_abs_rule")
    data = np.array([-1.5, -0.0, 0.0, 2.0])
    x = rt.tensor(data, requires_grad=True)
    uses = [abs(x), np.abs(x), np.fabs(x), x.abs(), F.l1_loss(x, np.zeros(4), reduction="none"),
            rt.abs(x), F.softplus(x), F.binary_cross_entropy_with_logits(x, np.full(4, 0.5), reduction="none")]
    xt = torch.tensor(data, requires_grad=True)
    theirs = [abs(xt), torch.abs(xt), torch.abs(xt), xt.abs(), TF.l1_loss(xt, torch.zeros(4, dtype=torch.float64),
                                                                         reduction="none"),
              torch.abs(xt), TF.softplus(xt),
              TF.binary_cross_entropy_with_logits(xt, torch.full((4,), 0.5, dtype=torch.float64), reduction="none")]
    for y, yt in zip(uses, theirs):
        np.testing.assert_array_equal(y.detach().numpy(), np.abs(data) if yt is theirs[0] else yt.detach().numpy())
        (g,) = rt.autograd.grad(y.sum(), x)
        (gt,) = torch.autograd.grad(yt.sum(), xt)
        np.testing.assert_allclose(g.numpy(), gt.numpy(), rtol=1e-15, err_msg=y.grad_fn.name())


CACHED_OPS = {
    "max-axis": lambda x: x.max(1), "amax-axes": lambda x: np.max(x, axis=(0, 1)), "std": lambda x: x.std(1),
    "var": lambda x: np.var(x), "prod": lambda x: x.prod(0), "clamp": lambda x: x.clamp(0.0, 1.0),
    "norm": lambda x: np.linalg.norm(x, axis=0), "abs": abs, "sign": np.sign, "floor": np.floor,
    "pow-tensor": lambda x: x ** x, "logsumexp": lambda x: F.logsumexp(x, (0, 1)), "relu": F.relu,
    "nll_loss": lambda x: F.nll_loss(x, np.array([0, 1, 0])),
}


@pytest.mark.parametrize("name", sorted(CACHED_OPS))
def test_operations_with_pytorch_formulas_derive_once_per_signature(name):
    fn = CACHED_OPS[name]
    fn(rt.tensor(TIES, requires_grad=True)).sum().backward()
    size = len(dispatch._cache)
    x = rt.tensor(TIES + 1, requires_grad=True)
    fn(x).sum().backward()
    assert len(dispatch._cache) == size and x.grad is not None
