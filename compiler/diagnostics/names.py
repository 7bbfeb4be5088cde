"""Readable names for the leaves of a call signature: "argument 0", "argument 1['w']",
"keyword argument 'n'", and what a leaf is ("float64[100]", "static int 3")."""
import inspect

import numpy as np

from .. import pytree


def _parameter_names(fun):
    try:
        params = inspect.signature(fun).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def leaf_names(treedef, fun=None):
    """One name per leaf of the tree ((args...), {kwargs}) of a `Signature`; with `fun`, positional
    arguments also carry their parameter name: "argument 1 (y)"."""
    names = []

    def walk(tree, prefix):
        if tree is pytree._LEAF:
            names.append(prefix)
        elif tree is None or type(tree) is pytree.Static:
            return
        elif tree[0] is dict:
            for k, sub in zip(tree[1], tree[2]):
                walk(sub, f"{prefix}[{k!r}]")
        else:
            for i, sub in enumerate(tree[1]):
                walk(sub, f"{prefix}[{i}]")

    (_, arg_trees), kwargs = treedef[1]
    params = _parameter_names(fun) if fun is not None else []
    for i, sub in enumerate(arg_trees):
        walk(sub, f"argument {i}" + (f" ({params[i]})" if i < len(params) else ""))
    for k, sub in zip(kwargs[1], kwargs[2]):
        walk(sub, f"keyword argument {k!r}")
    return names


def describe_leaf(key):
    """What a leaf of a signature key (see dispatch._leaf_key) stands for."""
    if key == "f":
        return "Python float"
    if key[0] == "static":
        return f"static {key[1].__name__} {key[2]!r}"
    shape, char = key
    return f"{np.dtype(char).name}[{','.join(map(str, shape))}]"


def leaf_change(old, new):
    """'shape (100,) -> (101,)', 'dtype float64 -> float32', 'static value 3 -> 4', ..."""
    static = lambda k: k != "f" and k[0] == "static"
    if static(old) and static(new) and old[1] is new[1]:
        return f"static value {old[2]!r} -> {new[2]!r}"
    if old == "f" or new == "f" or static(old) or static(new):
        return f"{describe_leaf(old)} -> {describe_leaf(new)}"
    parts = []
    if old[0] != new[0]:
        parts.append(f"shape {old[0]} -> {new[0]}")
    if old[1] != new[1]:
        parts.append(f"dtype {np.dtype(old[1]).name} -> {np.dtype(new[1]).name}")
    return ", ".join(parts)


def describe_tree(tree):
    """A compact picture of a tree definition: (*, [*, *], {'w': *})."""
    if tree is pytree._LEAF:
        return "*"
    if tree is None:
        return "None"
    if type(tree) is pytree.Static:
        return repr(tree.value)
    if tree[0] is dict:
        return "{" + ", ".join(f"{k!r}: {describe_tree(d)}" for k, d in zip(tree[1], tree[2])) + "}"
    inner = ", ".join(describe_tree(d) for d in tree[1])
    return f"[{inner}]" if tree[0] is list else f"({inner}{',' if len(tree[1]) == 1 else ''})"
