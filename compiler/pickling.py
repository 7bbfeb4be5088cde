"""Pickling transformed functions: they travel as the call that made them and trace again on arrival.

A `grad(f)` object holds compiled kernels and closures that cannot cross a process boundary, so it
pickles as its recipe (the transformation, the user's function, the transformation's arguments),
which `_decorator` records.  Unpickling makes the call again; the new object traces on its first
call, and its kernel is loaded from the disk cache when GRADJIT_CACHE_DIR is shared.

The user's function travels by cloudpickle when it is installed (it comes with Dask), so lambdas,
closures and functions of `__main__` work with `multiprocessing` and `concurrent.futures` too;
without it, only functions importable by name can be shipped.  A process rebuilds one recipe once:
every copy unpickled there (one per Dask task, say) is the same object, so it traces and compiles
once per signature.
"""
import pickle

from .lru import LRU

_rebuilt = LRU()      # (transformation, pickled function, arguments) -> the object rebuilt from them


def reduce_transformed(obj):
    """`obj.__reduce__()` for a transformed function (Transformed, the Jacobian objects)."""
    recipe = getattr(obj, "_gj_recipe", None)
    if recipe is None:
        raise TypeError(f"{obj!r} is an internal gradjit function and cannot be pickled (such as the "
                        f"vjp_fn that vjp returns). Ship the user function instead and apply the "
                        f"transformation in the other process.")
    transformation, fun, args, kwargs = recipe
    return _rebuild, (transformation, _pickled_function(fun, obj), args, tuple(sorted(kwargs.items())))


def _pickled_function(fun, obj):
    try:
        import cloudpickle
    except ImportError:
        cloudpickle = None
    if cloudpickle is not None:
        return cloudpickle.dumps(fun)
    try:
        return pickle.dumps(fun)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        raise pickle.PicklingError(
            f"cannot pickle {obj!r}: its function {getattr(fun, '__qualname__', fun)!r} cannot be pickled "
            f"by name ({e}). Install cloudpickle (pip install cloudpickle; it comes with "
            f"gradjit[dask]) to ship lambdas and closures, or define the function at module level.") from e


def _rebuild(transformation, pickled_fun, args, kwargs):
    key = (transformation, pickled_fun, args, kwargs)
    try:
        obj = _rebuilt.get(key)
    except TypeError:      # an unhashable transformation argument: rebuild every time
        key = obj = None
    if obj is None:
        obj = transformation(pickle.loads(pickled_fun), *args, **dict(kwargs))
        if key is not None:
            _rebuilt[key] = obj
    return obj
