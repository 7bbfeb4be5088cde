"""PyTorch's names for backward nodes, for NumPy functions, tensor methods and primitives."""
import numpy as np

# ufuncs / NumPy functions -> node name (a str, or a function of the call's arguments)
_UNARY = {np.negative: "NegBackward0", np.exp: "ExpBackward0", np.log: "LogBackward0",
          np.log1p: "Log1PBackward0", np.expm1: "Expm1Backward0", np.sqrt: "SqrtBackward0",
          np.sin: "SinBackward0", np.cos: "CosBackward0", np.tan: "TanBackward0", np.tanh: "TanhBackward0",
          np.sinh: "SinhBackward0", np.cosh: "CoshBackward0", np.arctan: "AtanBackward0",
          np.arcsin: "AsinBackward0", np.arccos: "AcosBackward0", np.absolute: "AbsBackward0",
          np.fabs: "AbsBackward0", np.sign: "SignBackward0", np.square: "PowBackward0",
          np.reciprocal: "ReciprocalBackward0", np.exp2: "Exp2Backward0", np.log2: "Log2Backward0",
          np.log10: "Log10Backward0", np.positive: "AliasBackward0"}
_BINARY = {np.add: "AddBackward0", np.multiply: "MulBackward0", np.true_divide: "DivBackward0",
           np.maximum: "MaximumBackward0", np.minimum: "MinimumBackward0", np.fmax: "FmaxBackward0",
           np.fmin: "FminBackward0", np.logaddexp: "LogaddexpBackward0", np.hypot: "HypotBackward0"}


def _is_scalar(x):
    return isinstance(x, (int, float, np.generic)) and not hasattr(x, "_data")


def _ndim(x):
    return len(getattr(x, "shape", ()))


def subtract(a, b, *_):
    return "RsubBackward1" if _is_scalar(a) else "SubBackward0"


def power(a, b, *_):
    if _is_scalar(b):
        return "PowBackward0"
    return "PowBackward2" if _is_scalar(a) else "PowBackward1"


def matmul(a, b, *_):
    na, nb = _ndim(a), _ndim(b)
    if na == 1 and nb == 1:
        return "DotBackward0"
    if na == 2 and nb == 1:
        return "MvBackward0"
    if na <= 2 and nb <= 2:
        return "MmBackward0"
    return "BmmBackward0"


def _axis_arg(args, kwargs, pos=1):
    axis = kwargs.get("axis", kwargs.get("dim"))
    if axis is None and len(args) > pos:
        axis = args[pos]
    return axis


def reduction(full, partial):
    def name(*args, **kwargs):
        return full if _axis_arg(args, kwargs) is None else partial
    return name


def squeeze(x, axis=None, *_):
    return "SqueezeBackward0" if axis is None else "SqueezeBackward1"


def getitem(x, key):
    """The op PyTorch applies last when indexing left to right."""
    key = key if isinstance(key, tuple) else (key,)
    name = "AliasBackward0"
    for k in key:
        if isinstance(k, (list, np.ndarray)) or hasattr(k, "_data"):
            return "IndexBackward0"
        if k is None:
            name = "UnsqueezeBackward0"
        elif isinstance(k, slice):
            if k.step is not None and k.step < 0:
                name = "FlipBackward0"
            elif k != slice(None):
                name = "SliceBackward0"
        elif k is not Ellipsis:
            name = "SelectBackward0"
    return name


FUNCTIONS = {
    np.subtract: subtract, np.power: power, np.float_power: power, np.matmul: matmul,
    np.dot: matmul, np.vdot: "DotBackward0", np.inner: "DotBackward0", np.outer: "MulBackward0",
    np.sum: reduction("SumBackward0", "SumBackward1"), np.mean: reduction("MeanBackward0", "MeanBackward1"),
    np.var: "VarBackward0", np.std: "StdBackward0",
    np.max: reduction("MaxBackward1", "MaxBackward0"), np.amax: reduction("MaxBackward1", "MaxBackward0"),
    np.min: reduction("MinBackward1", "MinBackward0"), np.amin: reduction("MinBackward1", "MinBackward0"),
    np.prod: reduction("ProdBackward0", "ProdBackward1"),
    np.reshape: "ViewBackward0", np.ravel: "ViewBackward0", np.transpose: "PermuteBackward0",
    np.swapaxes: "TransposeBackward0", np.moveaxis: "PermuteBackward0", np.squeeze: squeeze,
    np.expand_dims: "UnsqueezeBackward0", np.broadcast_to: "ExpandBackward0", np.atleast_1d: "ViewBackward0",
    np.flip: "FlipBackward0", np.concatenate: "CatBackward0", np.stack: "StackBackward0",
    np.vstack: "CatBackward0", np.hstack: "CatBackward0", np.diff: "SubBackward0", np.roll: "RollBackward0",
    np.where: "WhereBackward0", np.clip: "ClampBackward1", np.take: "TakeBackward0",
    np.copy: "CloneBackward0", np.linalg.norm: "LinalgVectorNormBackward0",
}
FUNCTIONS.update(_UNARY)
FUNCTIONS.update(_BINARY)

# NumPy functions whose result is a view of their input (PyTorch view semantics: shared data and
# version counter).  Everything else returns fresh memory.
VIEWS = {np.reshape, np.ravel, np.transpose, np.swapaxes, np.moveaxis, np.squeeze, np.expand_dims,
         np.atleast_1d}

# primitives (backward of a backward, or front-end code called directly on tensors)
PRIMITIVES = {
    "add": "AddBackward0", "sub": "SubBackward0", "mul": "MulBackward0", "div": "DivBackward0",
    "neg": "NegBackward0", "integer_pow": "PowBackward0", "pow": "PowBackward1", "max": "MaximumBackward0",
    "min": "MinimumBackward0", "exp": "ExpBackward0", "log": "LogBackward0", "log1p": "Log1PBackward0",
    "expm1": "Expm1Backward0", "sqrt": "SqrtBackward0", "sin": "SinBackward0", "cos": "CosBackward0",
    "tan": "TanBackward0", "tanh": "TanhBackward0", "sinh": "SinhBackward0", "cosh": "CoshBackward0",
    "arctan": "AtanBackward0", "arcsin": "AsinBackward0", "arccos": "AcosBackward0", "abs": "AbsBackward0",
    "select": "WhereBackward0", "convert": "ToCopyBackward0", "reduce_sum": "SumBackward1",
    "reduce_max": "AmaxBackward0", "reduce_min": "AminBackward0", "reduce_prod": "ProdBackward1",
    "broadcast_in_dim": "ExpandBackward0", "reshape": "ViewBackward0", "transpose": "PermuteBackward0",
    "slice": "SliceBackward0", "pad": "ConstantPadNdBackward0", "rev": "FlipBackward0",
    "concatenate": "CatBackward0", "take": "IndexBackward0", "scatter_add": "IndexAddBackward0",
    "matmul": "BmmBackward0",
}


def of_primitive(prim, args):
    if prim.name == "matmul" and all(_ndim(a) == 2 for a in args):
        return "MmBackward0"
    return PRIMITIVES.get(prim.name) or "".join(p.capitalize() for p in prim.name.split("_")) + "Backward0"


def of_function(func, args, kwargs):
    name = FUNCTIONS.get(func)
    if name is None:
        return f"{getattr(func, '__name__', 'Op').capitalize()}Backward0"
    return name if isinstance(name, str) else name(*args, **kwargs)
