"""`Tensor`: a NumPy array with PyTorch's autograd attributes.

Operators, NumPy ufuncs/functions (NEP 13/18) and methods all go through `dispatch`, which runs
the NumPy front end of `compiler` on the data and records one graph node per operation.  Graph
attributes follow PyTorch: `requires_grad`, `is_leaf`, `grad`, `grad_fn`, `retain_grad()`,
`detach()`, `backward()`, and a `_version` counter bumped by in-place operations.
"""
import warnings
import weakref

import numpy as np

from compiler.array_like import ArrayLike
from compiler.ir import ShapedArray

from .errors import AutogradError
from .modes import state as _mode


class EagerTrace:
    """The `_gj_trace` of every tensor: level 0, so the compiler's tracers (level >= 1) win when
    both meet, and primitives bound directly on tensors are recorded eagerly."""

    level = 0
    active = True

    def process(self, prim, args, params):
        return _d.apply_primitive(prim, args, params)


EAGER = EagerTrace()
_new_object = object.__new__


def check_requires_grad(dtype, flag=True):
    if flag and np.dtype(dtype).kind != "f":
        raise AutogradError(
            f"only tensors of floating point dtype can require gradients, got {np.dtype(dtype).name}. "
            "Create it with float data (1.0 rather than 1) or dtype=rt.float64.")


class Tensor(ArrayLike):
    """An n-dimensional array that records the operations applied to it (when it requires grad).

    Create tensors with `rt.tensor(data)`, `rt.ones(...)`, `rt.randn(...)` ...; `rt.Tensor(data)` works too.
    """

    # class-level defaults: an operation sets only what differs from them
    _gj_trace = EAGER
    _rg = False
    grad_fn = None
    _out_nr = 0
    _grad = None
    _accum = None
    _retains = False
    _base = None
    _inference = False
    __array_priority__ = 1000

    def __init__(self, data, dtype=None, requires_grad=False):
        data = np.array(data._data if isinstance(data, Tensor) else data, dtype=dtype)
        check_requires_grad(data.dtype, requires_grad)
        self._data = data
        self._vc = [0]
        self._rg = bool(requires_grad)
        if _mode.inference:
            self._inference = True

    # ------------------------------------------------------------------ array attributes
    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def aval(self):
        return ShapedArray(self._data.shape, self._data.dtype)

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def size(self):
        return self._data.size

    def numel(self):
        return self._data.size

    def dim(self):
        return self._data.ndim

    @property
    def device(self):
        return "cpu"

    @property
    def data(self):
        """The data as a tensor outside the graph (no version tracking: prefer detach())."""
        return new_tensor(self._data)

    @data.setter
    def data(self, value):
        self._data = np.asarray(value._data if isinstance(value, Tensor) else value)

    # ------------------------------------------------------------------ graph attributes
    @property
    def requires_grad(self):
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag):
        flag = bool(flag)
        if self.grad_fn is not None:
            if flag:
                return
            raise AutogradError(
                "you can only change requires_grad flags of leaf tensors. To use a computed tensor "
                "without its history, use t_no_grad = t.detach().")
        check_requires_grad(self._data.dtype, flag)
        if flag and self._inference and not _mode.inference:
            raise AutogradError(
                "Setting requires_grad=True on an inference tensor outside inference_mode is not allowed. "
                "Make a normal tensor with t.clone() outside inference mode first.")
        self._rg = flag

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def retains_grad(self):
        return self._retains

    @property
    def _version(self):
        return self._vc[0]

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains and self._grad is None:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
                "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
                "instead.", UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                value = new_tensor(np.array(value, dtype=self._data.dtype))
            if value.shape != self.shape:
                raise AutogradError(f"assigned grad has shape {value.shape}, but the tensor has shape "
                                    f"{self.shape}; they must match")
        self._grad = value

    def _accumulator(self):
        """This leaf's AccumulateGrad node (one per leaf while the graph holds it)."""
        ref = self._accum
        node = ref() if ref is not None else None
        if node is None:
            node = AccumulateGrad(self)
            self._accum = weakref.ref(node)
        return node

    def retain_grad(self):
        """Keep the gradient of this non-leaf tensor in `.grad` during backward."""
        if not self._rg:
            raise AutogradError("can't retain_grad on a tensor that has requires_grad=False")
        if self.grad_fn is not None and not self._retains:
            self.grad_fn.register_retained(self._out_nr, weakref.ref(self))
            self._retains = True

    def detach(self):
        """The same data (and version counter) without history; never requires grad."""
        t = new_tensor(self._data)
        t._vc = self._vc
        return t

    def detach_(self):
        if self._base is not None and self._rg:
            raise AutogradError("can't detach_() a view of a tensor that requires grad; use detach()")
        self.grad_fn = None
        self._rg = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into the `.grad` of every leaf that requires grad (or only of
        `inputs`). A non-scalar tensor needs `gradient` (computes the vector-Jacobian product)."""
        from .engine import backward
        backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs)

    # ------------------------------------------------------------------ conversion
    def numpy(self, force=False):
        if self._rg and not force:
            raise AutogradError("Can't call numpy() on Tensor that requires grad. "
                                "Use tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        if self._rg:
            raise AutogradError(
                "Can't convert a tensor that requires grad to a NumPy array (np.asarray/np.array): the "
                "result would silently leave the autograd graph. Use tensor.detach().numpy() instead.")
        data = self._data
        if dtype is not None and np.dtype(dtype) != data.dtype:
            return data.astype(dtype)
        return data.copy() if copy else data

    def item(self):
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def _scalar(self):
        if self._data.size != 1:
            raise TypeError(f"only one-element tensors can be converted to Python scalars, "
                            f"got shape {self.shape}")
        return self._data.reshape(()).item()

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __index__(self):
        if self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._scalar())

    def __bool__(self):
        return bool(self._data)

    def __hash__(self):
        return id(self)

    def __len__(self):
        if not self._data.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __repr__(self):
        data = self._data
        body = (np.array2string(data, separator=", ", prefix="tensor(") if data.ndim else
                np.array2string(data.reshape(1), separator=", ")[1:-1])
        extra = []
        if data.dtype not in (np.float64, np.int64, np.bool_):
            extra.append(f"dtype={data.dtype.name}")
        if self.grad_fn is not None:
            extra.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self._rg:
            extra.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extra) + ")"

    __str__ = __repr__

    def __reduce__(self):
        return (_rebuild, (self._data, self._rg))

    # ------------------------------------------------------------------ NumPy dispatch
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _d.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _d.array_function(func, args, kwargs)

    # ------------------------------------------------------------------ operators
    def __add__(self, other): return _ufunc(np.add, (self, other))
    def __radd__(self, other): return _ufunc(np.add, (other, self))
    def __sub__(self, other): return _ufunc(np.subtract, (self, other))
    def __rsub__(self, other): return _ufunc(np.subtract, (other, self))
    def __mul__(self, other): return _ufunc(np.multiply, (self, other))
    def __rmul__(self, other): return _ufunc(np.multiply, (other, self))
    def __truediv__(self, other): return _ufunc(np.true_divide, (self, other))
    def __rtruediv__(self, other): return _ufunc(np.true_divide, (other, self))
    def __matmul__(self, other): return _ufunc(np.matmul, (self, other))
    def __rmatmul__(self, other): return _ufunc(np.matmul, (other, self))
    def __neg__(self): return _ufunc(np.negative, (self,))
    def __pos__(self): return self
    def __abs__(self): return _ufunc(np.absolute, (self,))
    def __pow__(self, other): return _func(np.power, self, other)
    def __rpow__(self, other): return _func(np.power, other, self)
    def __lt__(self, other): return _ufunc(np.less, (self, other))
    def __le__(self, other): return _ufunc(np.less_equal, (self, other))
    def __gt__(self, other): return _ufunc(np.greater, (self, other))
    def __ge__(self, other): return _ufunc(np.greater_equal, (self, other))
    def __eq__(self, other): return _ufunc(np.equal, (self, other))
    def __ne__(self, other): return _ufunc(np.not_equal, (self, other))
    def __and__(self, other): return _ufunc(np.logical_and, (self, other))
    def __rand__(self, other): return _ufunc(np.logical_and, (other, self))
    def __or__(self, other): return _ufunc(np.logical_or, (self, other))
    def __ror__(self, other): return _ufunc(np.logical_or, (other, self))
    def __invert__(self): return _ufunc(np.logical_not, (self,))

    def __getitem__(self, key):
        return _d.getitem(self, key)

    def __setitem__(self, key, value):
        _d.setitem(self, key, value)

    def __iter__(self):
        if not self._data.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    # in place: x += y records like x.add_(y)
    def __iadd__(self, other): return _d.inplace_ufunc(self, np.add, other)
    def __isub__(self, other): return _d.inplace_ufunc(self, np.subtract, other)
    def __imul__(self, other): return _d.inplace_ufunc(self, np.multiply, other)
    def __itruediv__(self, other): return _d.inplace_ufunc(self, np.true_divide, other)

    def add_(self, other, alpha=None):
        return _d.inplace_ufunc(self, np.add, other if alpha is None else other * alpha)

    def sub_(self, other, alpha=None):
        return _d.inplace_ufunc(self, np.subtract, other if alpha is None else other * alpha)

    def mul_(self, other): return _d.inplace_ufunc(self, np.multiply, other)
    def div_(self, other): return _d.inplace_ufunc(self, np.true_divide, other)
    def zero_(self): return _d.fill_(self, 0, "ZeroBackward0")
    def fill_(self, value): return _d.fill_(self, value, "FillBackward0")

    def copy_(self, src):
        _d.setitem(self, Ellipsis, src)
        return self

    # ------------------------------------------------------------------ NumPy-style methods
    # NumPy semantics where NumPy and PyTorch differ (var/std ddof=0, max(axis) returns values,
    # `size` is the element count); `dim=`/`keepdim=` are accepted as aliases.
    def sum(self, axis=None, dtype=None, out=None, keepdims=False, *, dim=None, keepdim=None):
        a, k = _axes(axis, dim, keepdims, keepdim)
        return _func(np.sum, self, a, dtype, None, k)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False, *, dim=None, keepdim=None):
        a, k = _axes(axis, dim, keepdims, keepdim)
        return _func(np.mean, self, a, dtype, None, k)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, dim=None, keepdim=None):
        a, k = _axes(axis, dim, keepdims, keepdim)
        return _func(np.var, self, a, ddof=ddof, keepdims=k)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, dim=None, keepdim=None):
        a, k = _axes(axis, dim, keepdims, keepdim)
        return _func(np.std, self, a, ddof=ddof, keepdims=k)

    def max(self, axis=None, out=None, keepdims=False, *, dim=None, keepdim=None):
        a, k = _axes(axis, dim, keepdims, keepdim)
        return _func(np.max, self, a, None, k)

    def min(self, axis=None, out=None, keepdims=False, *, dim=None, keepdim=None):
        a, k = _axes(axis, dim, keepdims, keepdim)
        return _func(np.min, self, a, None, k)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False, *, dim=None, keepdim=None):
        a, k = _axes(axis, dim, keepdims, keepdim)
        return _func(np.prod, self, a, dtype, None, k)

    def argmax(self, axis=None, dim=None):
        return new_tensor(np.asarray(np.argmax(self._data, axis if dim is None else dim)))

    def argmin(self, axis=None, dim=None):
        return new_tensor(np.asarray(np.argmin(self._data, axis if dim is None else dim)))

    def dot(self, other): return _func(np.dot, self, other)
    def clip(self, min=None, max=None): return _func(np.clip, self, min, max)
    clamp = clip

    def astype(self, dtype, copy=True):
        return _d.apply(None, _api.astype, (self, np.dtype(dtype)), name="ToCopyBackward0")

    def to(self, dtype):
        return self.astype(dtype)

    def float(self): return self.astype(np.float32)
    def double(self): return self.astype(np.float64)
    def ravel(self): return _func(np.ravel, self)
    def flatten(self): return _func(np.ravel, self)
    def squeeze(self, axis=None): return _func(np.squeeze, self, axis)
    def swapaxes(self, a, b): return _func(np.swapaxes, self, a, b)
    def copy(self): return self.clone()

    def reshape(self, *shape, order="C"):
        return _func(np.reshape, self, shape[0] if len(shape) == 1 else shape)

    view = reshape

    def view_as(self, other): return self.reshape(other.shape)
    reshape_as = view_as

    def transpose(self, *axes):
        """Two ints swap those dims (PyTorch); otherwise a NumPy permutation (None: reverse)."""
        if len(axes) == 2 and all(isinstance(a, (int, np.integer)) for a in axes):
            return _func(np.swapaxes, self, *axes)
        axes = axes[0] if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)) else (axes or None)
        return _func(np.transpose, self, axes)

    def permute(self, *dims):
        return _func(np.transpose, self, dims[0] if len(dims) == 1 and not isinstance(dims[0], int) else dims)

    @property
    def T(self):
        return _func(np.transpose, self)

    @property
    def mT(self):
        return _func(np.swapaxes, self, -1, -2)

    # ------------------------------------------------------------------ PyTorch-style methods
    def t(self):
        if self._data.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dimensions, but self is {self._data.ndim}D; "
                             "use .permute() or .mT")
        return _d.apply(np.transpose, _api.transpose, (self,), name="TBackward0", view=True)

    def unsqueeze(self, dim): return _func(np.expand_dims, self, dim)

    def expand(self, *sizes):
        sizes = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
        lead = len(sizes) - self._data.ndim
        shape = tuple(s if s != -1 else self._data.shape[i - lead] for i, s in enumerate(sizes))
        return _func(np.broadcast_to, self, shape)

    def expand_as(self, other): return self.expand(other.shape)
    def matmul(self, other): return _ufunc(np.matmul, (self, other))
    mm = mv = matmul
    def add(self, other): return _ufunc(np.add, (self, other))
    def sub(self, other): return _ufunc(np.subtract, (self, other))
    def mul(self, other): return _ufunc(np.multiply, (self, other))
    def div(self, other): return _ufunc(np.true_divide, (self, other))
    def maximum(self, other): return _ufunc(np.maximum, (self, other))
    def minimum(self, other): return _ufunc(np.minimum, (self, other))
    def pow(self, exponent): return _func(np.power, self, exponent)
    def square(self): return _func(np.square, self)
    def reciprocal(self): return _func(np.reciprocal, self)
    def exp(self): return _ufunc(np.exp, (self,))
    def log(self): return _ufunc(np.log, (self,))
    def log1p(self): return _ufunc(np.log1p, (self,))
    def expm1(self): return _ufunc(np.expm1, (self,))
    def sqrt(self): return _ufunc(np.sqrt, (self,))
    def sin(self): return _ufunc(np.sin, (self,))
    def cos(self): return _ufunc(np.cos, (self,))
    def tan(self): return _ufunc(np.tan, (self,))
    def tanh(self): return _ufunc(np.tanh, (self,))
    def sinh(self): return _ufunc(np.sinh, (self,))
    def cosh(self): return _ufunc(np.cosh, (self,))
    def abs(self): return _ufunc(np.absolute, (self,))
    def neg(self): return _ufunc(np.negative, (self,))
    def sign(self): return _ufunc(np.sign, (self,))

    def sigmoid(self):
        from .functional import sigmoid
        return sigmoid(self)

    def relu(self):
        from .functional import relu
        return relu(self)

    def softmax(self, dim):
        from .functional import softmax
        return softmax(self, dim)

    def log_softmax(self, dim):
        from .functional import log_softmax
        return log_softmax(self, dim)

    def unbind(self, dim=0):
        """The slices along `dim`, as a tuple recorded by one UnbindBackward0 node."""
        return _d.unbind(self, dim)

    def clone(self):
        return _d.apply(None, _identity, (self,), name="CloneBackward0", forward=np.copy)


def _identity(x):
    return x


def _axes(axis, dim, keepdims, keepdim):
    axis = dim if dim is not None else axis
    if isinstance(axis, list):
        axis = tuple(axis)
    return axis, (keepdim if keepdim is not None else keepdims)


def _rebuild(data, requires_grad):
    return Tensor(data, requires_grad=requires_grad)


def new_tensor(data, requires_grad=False, grad_fn=None, out_nr=0):
    """Wrap an ndarray without copying (the fast internal constructor)."""
    t = _new_object(Tensor)
    t._data = data
    t._vc = [0]
    if requires_grad:
        t._rg = True
        t.grad_fn = grad_fn
        t._out_nr = out_nr
    elif _mode.inference:
        t._inference = True
    return t


from compiler import numpy_api as _api  # noqa: E402

from . import dispatch as _d  # noqa: E402  (dispatch needs the Tensor class)
from .graph import AccumulateGrad  # noqa: E402

_ufunc = _d.apply_ufunc
_func = _d.apply_function
