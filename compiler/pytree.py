"""Pytrees: nested tuples, lists and dicts (and None) of leaves, flattened to a list of leaves and
a hashable tree definition, with JAX's conventions (dicts flatten in sorted key order)."""

_LEAF = "*"


class Static:
    """A leaf kept in the tree definition instead of the leaves (returned as is by unflatten).
    Numbers and strings compare by value, other objects by identity."""

    __slots__ = ("value",)
    _BY_VALUE = (int, float, complex, str, bytes, bool)

    def __init__(self, value):
        self.value = value

    def _key(self):
        v = self.value
        return (type(v), v) if type(v) in Static._BY_VALUE else (type(v), id(v))

    def __eq__(self, other):
        return type(other) is Static and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return f"Static({self.value!r})"


def flatten(tree, static=None):
    """(leaves, treedef); leaves for which `static(leaf)` is true stay in the treedef as `Static`."""
    leaves = []
    return leaves, _flatten(tree, leaves, static)


def _flatten(tree, leaves, static=None):
    t = type(tree)
    if t is tuple or t is list:
        return (t, tuple(_flatten(x, leaves, static) for x in tree))
    if t is dict:
        keys = tuple(sorted(tree))
        return (dict, keys, tuple(_flatten(tree[k], leaves, static) for k in keys))
    if tree is None:
        return None
    if static is not None and static(tree):
        return Static(tree)
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
    if type(treedef) is Static:
        return treedef.value
    if treedef[0] is dict:
        return {k: _unflatten(d, it) for k, d in zip(treedef[1], treedef[2])}
    return treedef[0](_unflatten(d, it) for d in treedef[1])


def num_leaves(treedef):
    if treedef is _LEAF:
        return 1
    if treedef is None or type(treedef) is Static:
        return 0
    return sum(num_leaves(d) for d in treedef[-1])


def tree_map(fn, tree):
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [fn(x) for x in leaves])
