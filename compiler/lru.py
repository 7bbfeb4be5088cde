"""Bounded least-recently-used caches, and the one size limit they all share.

Every in-memory cache of compiled code (each transformed function's per-signature kernels, kernels
shared by program content, Numba dispatchers, the functional API's transformed functions) is an
`LRU`: when full, the entry used longest ago is dropped.  The limit is `GRADJIT_CACHE_SIZE`
(default 256 entries per cache) or `set_cache_size(n)` at run time.
"""
import collections
import os
import threading
import weakref

_DEFAULT_SIZE = 256
_caches = weakref.WeakSet()


def _size_from_environment():
    text = os.environ.get("GRADJIT_CACHE_SIZE")
    if not text:
        return _DEFAULT_SIZE
    try:
        size = int(text)
    except ValueError:
        size = 0
    if size < 1:
        raise ValueError(f"GRADJIT_CACHE_SIZE={text!r} must be a positive integer (entries per cache)")
    return size


_size = [_size_from_environment()]


def cache_size():
    return _size[0]


def set_cache_size(n):
    """Bound every in-memory kernel cache (existing ones too) to `n` entries."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_cache_size: expected a positive int, got {n!r}")
    _size[0] = n
    for cache in list(_caches):
        cache.trim()


class LRU:
    """A dict-like cache holding at most `cache_size()` entries; `get` marks an entry as used."""

    def __init__(self):
        self._data = collections.OrderedDict()
        self._lock = threading.Lock()
        _caches.add(self)

    def get(self, key, default=None):
        with self._lock:
            value = self._data.get(key, _MISSING)
            if value is _MISSING:
                return default
            self._data.move_to_end(key)
            return value

    def __setitem__(self, key, value):
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            self._trim()

    def trim(self):
        with self._lock:
            self._trim()

    def _trim(self):
        while len(self._data) > _size[0]:
            self._data.popitem(last=False)

    def clear(self):
        with self._lock:
            self._data.clear()

    def __len__(self):
        return len(self._data)

    def __contains__(self, key):
        return key in self._data

    def values(self):
        with self._lock:
            return list(self._data.values())


_MISSING = object()
