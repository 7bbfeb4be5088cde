"""The per-primitive test table: for each primitive, a NumPy function that exercises it, the
shapes of its inputs, and the domain inputs are drawn from.  `smooth` entries also get a
second-order check."""
import numpy as np

from compiler import cond, fori_loop, scan, switch


class Spec:
    def __init__(self, name, fn, shapes, domain=(-2.0, 2.0), smooth=True, positive=(), int_inputs=None):
        self.name, self.fn, self.shapes, self.domain, self.smooth = name, fn, shapes, domain, smooth
        self.int_inputs = int_inputs or {}

    def inputs(self, rng):
        lo, hi = self.domain
        return [rng.uniform(lo, hi, size=s) for s in self.shapes]

    def __repr__(self):
        return self.name


IDX = np.array([2, 0, 2, 1])
IDX2 = np.array([[0, 3], [1, 1]])
IDX3 = np.array([3, 0, 2])

SPECS = [
    # elementwise, unary
    Spec("neg", lambda x: -x, [(3, 4)]),
    Spec("exp", np.exp, [(5,)]),
    Spec("log", np.log, [(5,)], (0.5, 3.0)),
    Spec("log1p", np.log1p, [(5,)], (-0.5, 3.0)),
    Spec("expm1", np.expm1, [(5,)]),
    Spec("sqrt", np.sqrt, [(5,)], (0.5, 3.0)),
    Spec("sin", np.sin, [(5,)]),
    Spec("cos", np.cos, [(5,)]),
    Spec("tan", np.tan, [(5,)], (-1.2, 1.2)),
    Spec("tanh", np.tanh, [(2, 3)]),
    Spec("sinh", np.sinh, [(5,)]),
    Spec("cosh", np.cosh, [(5,)]),
    Spec("arctan", np.arctan, [(5,)]),
    Spec("arcsin", np.arcsin, [(5,)], (-0.9, 0.9)),
    Spec("arccos", np.arccos, [(5,)], (-0.9, 0.9)),
    Spec("abs", np.abs, [(6,)], (0.1, 2.0), smooth=False),
    Spec("abs_negative", np.abs, [(6,)], (-2.0, -0.1), smooth=False),
    Spec("sign", lambda x: np.sign(x) * x, [(6,)], (0.1, 2.0)),
    Spec("integer_pow", lambda x: x ** 3 + x ** -2 + x ** 0 + x ** 1, [(5,)], (0.5, 2.0)),
    Spec("square", np.square, [(5,)]),
    # elementwise, binary (with NumPy broadcasting in the front end)
    Spec("add", lambda x, y: x + y, [(3, 4), (4,)]),
    Spec("sub", lambda x, y: x - y, [(3, 1), (1, 4)]),
    Spec("mul", lambda x, y: x * y, [(3, 4), (3, 4)]),
    Spec("mul_scalar", lambda x, y: x * y, [(3, 4), ()]),
    Spec("div", lambda x, y: x / y, [(3, 4), (4,)], (0.5, 2.0)),
    Spec("pow", lambda x, y: x ** y, [(4,), (4,)], (0.5, 2.0)),
    Spec("max", np.maximum, [(7,), (7,)], smooth=False),
    Spec("min", np.minimum, [(7,), (7,)], smooth=False),
    Spec("clip", lambda x: np.clip(x, -0.5, 0.7), [(9,)], smooth=False),
    Spec("where", lambda x, y: np.where(x > 0, x * y, np.sin(y)), [(8,), (8,)], smooth=False),
    Spec("compare", lambda x, y: (x < y) * x + (x >= y) * y + (x == y) * 1.0 + (x != y) * x, [(6,), (6,)],
         smooth=False),
    Spec("logical", lambda x, y: np.where((x > 0) & (y > 0) | ~(x > 1), x, y), [(6,), (6,)], smooth=False),
    Spec("convert", lambda x: x.astype(np.float32).astype(np.float64) * 0 + x, [(4,)]),
    Spec("stop_gradient_free", lambda x: x * 2.0, [(3,)]),
    Spec("logaddexp", np.logaddexp, [(5,), (5,)]),
    Spec("hypot_log2_exp2", lambda x, y: np.hypot(x, y) + np.log2(x * x + 1) + np.exp2(y) + np.log10(x * x + 1),
         [(4,), (4,)]),
    Spec("logaddexp_scalar", lambda x, y: np.logaddexp(x, y) * np.logaddexp(y, 0.5), [(5,), ()]),
    Spec("hypot_scalar", lambda x, y: np.hypot(x, 0.7) * np.hypot(-1.5, y), [(4,), ()]),
    Spec("remainder", lambda x, y: np.remainder(x, y) + x % 0.7 + 2.5 % y, [(6,), (6,)], (0.3, 2.0), smooth=False),
    Spec("floor_divide_rounding", lambda x, y: (x // y) * y + np.floor(x) * x + np.ceil(y) * y + np.trunc(-x) * y
         + np.rint(3 * x) * x + np.round(y, 1) * y, [(6,), (6,)], (0.3, 2.0), smooth=False),
    Spec("fmax_fmin", lambda x, y: np.fmax(x, y) * 2 + np.fmin(x, 0.5 * y), [(7,), (7,)], smooth=False),
    # reductions
    Spec("sum_all", lambda x: np.sum(x), [(3, 4)]),
    Spec("sum_axis", lambda x: x.sum(axis=0) * x.sum(axis=1, keepdims=True), [(3, 4)]),
    Spec("mean", lambda x: np.mean(x, axis=-1), [(3, 4)]),
    Spec("var_std", lambda x: np.var(x, axis=0) + np.std(x, ddof=1), [(5, 3)]),
    Spec("max_reduce", lambda x: np.max(x, axis=1), [(4, 5)], smooth=False),
    Spec("min_reduce", lambda x: x.min(), [(4, 5)], smooth=False),
    Spec("prod", lambda x: np.prod(x, axis=0), [(3, 4)], (0.5, 1.5)),
    Spec("prod_axes", lambda x: np.prod(x, axis=(0, 2)) + x.prod(), [(2, 3, 2)], (0.5, 1.5)),
    Spec("cumsum_cumprod", lambda x: np.cumsum(x, axis=1) * np.cumprod(x, axis=0) + np.cumsum(x)[:4], [(3, 4)],
         (0.5, 1.5)),
    Spec("norm_ords", lambda x: np.linalg.norm(x, 3, axis=1) + np.linalg.norm(x, -1.5, axis=1)
         + np.linalg.norm(x, "fro", axis=(1, 0)), [(3, 4)], (0.5, 1.5)),
    Spec("norm_matrix_1_inf", lambda x: np.linalg.norm(x, 1) + np.linalg.norm(x, np.inf) * np.linalg.norm(x, -1)
         + np.linalg.norm(x, -np.inf, axis=(0, 1)), [(3, 4)], (0.5, 1.5), smooth=False),
    Spec("norm", lambda x: np.linalg.norm(x, axis=1), [(3, 4)], (0.5, 1.5)),
    # structural
    Spec("broadcast", lambda x, y: x[:, None, :] * y[None, :, :], [(3, 2), (4, 2)]),
    Spec("reshape", lambda x: x.reshape(4, 3) @ np.ones((3, 2)) + x.reshape(-1)[:4].sum(), [(3, 4)]),
    Spec("transpose", lambda x: x.T * np.arange(12.0).reshape(4, 3) + np.transpose(x, (1, 0)) ** 2, [(3, 4)]),
    Spec("transpose3", lambda x: np.transpose(x, (2, 0, 1)) ** 2, [(2, 3, 4)]),
    Spec("slice", lambda x: x[1:, ::2] * x[:-1, 1::2], [(4, 6)]),
    Spec("slice_negative_step", lambda x: x[::-1] * x[-2::-2].sum(), [(7,)]),
    Spec("int_index", lambda x: x[1] * x[-1, 2] + x[..., 0].sum(), [(3, 4)]),
    Spec("squeeze_expand", lambda x: np.squeeze(np.expand_dims(x, 0), 0)[None] ** 2, [(3, 1)]),
    Spec("concatenate", lambda x, y: np.concatenate([x, y ** 2, x], axis=1), [(2, 3), (2, 2)]),
    Spec("stack", lambda x, y: np.stack([x, y, x * y], axis=-1), [(3,), (3,)]),
    Spec("gather", lambda x: x[IDX] * x[IDX, 1:].sum(), [(3, 4)]),
    Spec("gather_2d", lambda x: x[IDX2] ** 2, [(4, 2)]),
    Spec("gather_multi", lambda x: x[IDX, IDX[::-1]], [(3, 4)]),
    Spec("gather_separated", lambda x: x[0, :, IDX3[::-1]] * x[IDX3 % 2, :, -1], [(2, 3, 4)]),   # index dims first
    Spec("take", lambda x: np.take(x, IDX, axis=1), [(2, 3)]),
    Spec("diff_roll_flip", lambda x: np.diff(x) * np.roll(x, 2)[1:] + np.flip(x)[1:], [(6,)]),
    # products
    Spec("matmul", lambda a, b: a @ b, [(3, 4), (4, 2)]),
    Spec("matmul_batched", lambda a, b: np.matmul(a, b), [(2, 3, 4), (4, 5)]),
    Spec("matvec", lambda a, v: a @ v + v @ a.T, [(3, 4), (4,)]),
    Spec("dot_vec", lambda a, b: np.dot(a, b) * a, [(5,), (5,)]),
    Spec("outer", lambda a, b: np.outer(a, b), [(3,), (4,)]),
    # loops and conditionals (the reference is the untraced Python loop)
    Spec("fori_loop", lambda x: fori_loop(0, 4, lambda i, c: np.sin(c) * x + 0.5 * c * i, x), [(3,)]),
    Spec("scan", lambda x, ys: scan(lambda c, y: (c * np.cos(y) + y, {"c": c * y}), x, ys, reverse=True)[1]["c"],
         [(3,), (4, 3)]),
    Spec("cond", lambda x, y: cond(np.sum(x) > 0, lambda a, b: a * np.exp(b), lambda a, b: np.sin(a) - b, x, y),
         [(4,), (4,)], (0.1, 2.0)),
    Spec("switch", lambda x: switch((x[0] > 1).astype(np.int64) + 1, [np.exp, np.sin, lambda c: c ** 3], x),
         [(4,)], (0.1, 2.0)),
]
