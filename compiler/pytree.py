"""Pytrees: nested tuples, lists and dicts (and None) of leaves, flattened to a list of leaves and
a hashable tree definition, with JAX's conventions (dicts flatten in sorted key order)."""

_LEAF = "*"


def flatten(tree):
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves):
    t = type(tree)
    if t is tuple or t is list:
        return (t, tuple(_flatten(x, leaves) for x in tree))
    if t is dict:
        keys = tuple(sorted(tree))
        return (dict, keys, tuple(_flatten(tree[k], leaves) for k in keys))
    if tree is None:
        return None
    leaves.append(tree)
    return _LEAF


def unflatten(treedef, leaves):
    it = iter(leaves)
    out = _unflatten(treedef, it)
    return out


def _unflatten(treedef, it):
    if treedef is _LEAF:
        return next(it)
    if treedef is None:
        return None
    if treedef[0] is dict:
        return {k: _unflatten(d, it) for k, d in zip(treedef[1], treedef[2])}
    return treedef[0](_unflatten(d, it) for d in treedef[1])


def num_leaves(treedef):
    if treedef is _LEAF:
        return 1
    if treedef is None:
        return 0
    return sum(num_leaves(d) for d in treedef[-1])


def tree_map(fn, tree):
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [fn(x) for x in leaves])
