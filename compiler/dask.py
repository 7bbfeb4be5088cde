"""gradjit on Dask: data-parallel gradients over chunked data, and parameter sweeps.

    import compiler.dask as gjd
    loss_and_grad = gjd.value_and_grad(loss, reduce="mean")
    value, g = loss_and_grad(w, X, y)    # X, y: dask arrays chunked along their first axis

Each chunk runs one compiled `value_and_grad` kernel on a worker; the per-chunk results are
summed in a tree (means weighted by chunk sizes) and the result comes back to the caller as NumPy
values.  Transformed functions pickle by re-tracing where they are loaded (`compiler.pickling`),
once per worker process.  Needs `dask` (and `distributed` for `sweep`): pip install gradjit[dask].
"""
import uuid

import dask
import dask.array as da
import numpy as np

from . import api, pytree
from .dispatch import _argnums_tuple
from .errors import DifferentiationError, ShapeError

__all__ = ["value_and_grad", "grad", "sweep"]


def value_and_grad(fun, argnums=0, reduce="mean", split_every=8):
    """Data-parallel `compiler.value_and_grad(fun, argnums)` for arguments that are dask arrays.

    Every dask-array argument (or pytree leaf) is data, split along its first axis into the same
    chunks; the other arguments go to every chunk as they are.  `fun(*args)` must be the loss of
    the examples it is given: their mean (`reduce="mean"`: chunk results are weighted by their
    numbers of examples) or their sum (`reduce="sum"`: a data-independent term such as a penalty
    would then count once per chunk; add it outside).  Partial results are summed `split_every`
    at a time.  Computes on the current Dask scheduler (a `distributed.Client` when one exists).
    Shapes are compiled in, so each distinct chunk length is one more kernel: prefer equal chunks."""
    return DataParallel(fun, argnums, reduce, split_every, with_value=True)


def grad(fun, argnums=0, reduce="mean", split_every=8):
    """Like `value_and_grad`, returning the gradient only."""
    return DataParallel(fun, argnums, reduce, split_every, with_value=False)


class DataParallel:
    """A loss's value and gradient over dask arrays: one compiled kernel per chunk, a tree sum."""

    def __init__(self, fun, argnums, reduce, split_every, with_value):
        if reduce not in ("mean", "sum"):
            raise ValueError(f"reduce={reduce!r}: expected 'mean' (the loss is a mean over examples) or 'sum'")
        if not isinstance(split_every, int) or split_every < 2:
            raise ValueError(f"split_every={split_every!r}: expected an int >= 2")
        self.fun, self.argnums, self.reduce, self.split_every = fun, argnums, reduce, split_every
        self.with_value = with_value
        self.kernel = api.value_and_grad(fun, argnums)
        self.__name__ = f"dask.{'value_and_grad' if with_value else 'grad'}({getattr(fun, '__name__', fun)})"

    def __repr__(self):
        return f"<gradjit {self.__name__}, reduce={self.reduce!r}>"

    def __call__(self, *args, **kwargs):
        """(value, gradient) or the gradient, computed now, as NumPy values."""
        return dask.compute(self.delayed(*args, **kwargs))[0]

    def delayed(self, *args, **kwargs):
        """The same as a `dask.delayed` object, to compute later or together with other work."""
        leaves, treedef = pytree.flatten((args, kwargs))
        data = [i for i, leaf in enumerate(leaves) if isinstance(leaf, da.Array)]
        if not data:
            raise TypeError(f"{self.__name__}: no argument is a dask array; use compiler.value_and_grad "
                            f"for data in memory, or da.from_array(x, chunks=...) to split it")
        self._check_argnums(args, data)
        blocks, sizes = _row_blocks([leaves[i] for i in data])
        if not sizes:
            raise ShapeError(f"{self.__name__}: the data arguments have no rows")
        rest = [None if i in data else leaf for i, leaf in enumerate(leaves)]
        token = uuid.uuid4().hex          # task names as the dashboard shows them: gradjit-chunk, ...
        # one graph key for what every chunk shares: sent to each worker once
        shared = dask.delayed((self.kernel, treedef, rest, data, self.reduce == "mean"), traverse=False,
                              name=f"gradjit-shared-{token}")
        parts = [dask.delayed(_chunk)(shared, n, *chunk, dask_key_name=f"gradjit-chunk-{token}-{i}")
                 for i, (n, chunk) in enumerate(zip(sizes, blocks))]
        level = 0
        while len(parts) > 1:
            level += 1
            parts = [dask.delayed(_add)(*parts[i:i + self.split_every],
                                        dask_key_name=f"gradjit-sum-{token}-{level}-{i}")
                     for i in range(0, len(parts), self.split_every)]
        divisor = sum(sizes) if self.reduce == "mean" else None
        return dask.delayed(_finish)(parts[0], divisor, self.with_value, dask_key_name=f"gradjit-total-{token}")

    def _check_argnums(self, args, data):
        nums = _argnums_tuple(self.argnums, len(args))
        first = 0
        for a, arg in enumerate(args):
            count = len(pytree.flatten(arg)[0])
            if a in nums and any(first <= i < first + count for i in data):
                raise DifferentiationError(
                    f"{self.__name__}: argument {a} holds a dask array (data), but argnums={self.argnums!r} "
                    f"differentiates it; pass the parameters to differentiate as NumPy arrays or floats")
            first += count


def _row_blocks(arrays):
    """([one block Delayed per array, for each non-empty chunk of rows], [rows of each chunk]).
    Arrays are rechunked to the first one's row chunks and to one chunk along their other axes."""
    for x in arrays:
        if x.ndim == 0:
            raise ShapeError("a dask-array argument is 0-d: data must have a first axis of examples")
        if any(np.isnan(n) for n in x.chunks[0]):
            raise ShapeError("a dask-array argument has unknown chunk sizes; call x.compute_chunk_sizes() first")
        if x.shape[0] != arrays[0].shape[0]:
            raise ShapeError(f"dask-array arguments hold {arrays[0].shape[0]} and {x.shape[0]} rows: every "
                             f"data argument needs one row per example")
    rows = arrays[0].chunks[0]
    arrays = dask.optimize(*[x.rechunk((rows,) + tuple(-1 for _ in x.shape[1:])) for x in arrays])
    # optimised together: blocks that several arrays derive from are computed once
    per_array = [x.to_delayed(optimize_graph=False).ravel() for x in arrays]
    keep = [i for i, n in enumerate(rows) if n > 0]      # an empty chunk has no mean to weigh
    return [[blocks[i] for blocks in per_array] for i in keep], [int(rows[i]) for i in keep]


def _chunk(shared, n_rows, *blocks):
    """A chunk's (value, gradient); for a mean, times its number of rows (its share of the sum)."""
    kernel, treedef, leaves, data, mean = shared
    leaves = list(leaves)
    for i, block in zip(data, blocks):
        leaves[i] = block
    args, kwargs = pytree.unflatten(treedef, leaves)
    value, gradient = kernel(*args, **kwargs)
    if mean:
        value, gradient = value * n_rows, pytree.tree_map(lambda g: g * n_rows, gradient)
    return value, gradient


def _add(*parts):
    """Sum (value, gradient) pairs in order, leaf by leaf."""
    flat = [pytree.flatten(part) for part in parts]
    total = list(flat[0][0])
    for leaves, _ in flat[1:]:
        total = [t + leaf for t, leaf in zip(total, leaves)]
    return pytree.unflatten(flat[0][1], total)


def _finish(part, divisor, with_value):
    value, gradient = part
    if divisor is not None:
        value, gradient = value / divisor, pytree.tree_map(lambda g: g / divisor, gradient)
    return (value, gradient) if with_value else gradient


def sweep(fun, param_sets, *args, client=None, batch_size=1, **kwargs):
    """`[fun(p, *args, **kwargs) for p in param_sets]`, run on a Dask cluster with `client.map`.

    `fun` is typically a transformed function (`compiler.grad(simulate)`); it and the shared
    arguments are sent to every worker once, and each worker process traces and compiles it once
    per signature.  `batch_size` parameter sets run per task (larger batches, less scheduling
    overhead per set).  `client` defaults to the current `distributed.Client`."""
    from distributed import default_client
    client = client or default_client()
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: expected a positive int")
    param_sets = list(param_sets)
    batches = [param_sets[i:i + batch_size] for i in range(0, len(param_sets), batch_size)]
    [shared] = client.scatter([(fun, args, kwargs)], broadcast=True, hash=False)
    futures = client.map(_run_batch, batches, shared=shared, pure=False)
    return [result for batch in client.gather(futures) for result in batch]


def _run_batch(batch, shared):
    fun, args, kwargs = shared
    return [fun(p, *args, **kwargs) for p in batch]
