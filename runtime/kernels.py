"""Compile generated kernel source with Numba, cached in memory and on disk.

Numba cannot cache functions created by `exec`, so the source goes into a content-addressed file
(written atomically), is loaded as a module under a unique name registered in `sys.modules`, and
compiled with `njit(cache=True)`.  Numba's cache ignores jit options, so the options and package
versions are part of the content hash; they are written in a canonical order, so every process
computes the same hash and a new process compiles nothing an earlier one compiled.

Damage heals: a source file whose content does not match its name is rewritten, and a Numba
index or data file that cannot be loaded is discarded and written again.  Set GRADJIT_CACHE_DIR
to choose the directory; if it cannot be used, gradjit warns and uses another one.
"""
import functools
import hashlib
import os
import sys
import tempfile
import types
import warnings

from compiler.lru import LRU

# fastmath without nnan/ninf: inf and nan keep NumPy's meaning; reassociation lets LLVM vectorise sums.
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})
NUMBA_OPTIONS = {"nogil": True, "error_model": "numpy", "fastmath": set(FASTMATH), "cache": True}
HEADER = ("import numpy as np\n"
          "from compiler.lowering import vecmath as vm\n"
          "from compiler.revolve import revolve_init_nb as _revolve_init, revolve_next_nb as _revolve_next\n\n\n")

_compiled = LRU()     # content hash -> numba dispatcher
_directories = {}     # GRADJIT_CACHE_DIR value -> the directory used for it


# ---------------------------------------------------------------- the cache directory

def _default_dir():
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                        "gradjit")


def _unusable(path):
    """Why `path` cannot hold the cache (None if it can): it must be a writable directory."""
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, suffix=".probe")
        os.close(fd)
        os.remove(probe)
    except (OSError, ValueError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def cache_dir():
    requested = os.environ.get("GRADJIT_CACHE_DIR") or None
    path = _directories.get(requested)
    if path is not None:
        return path
    fallback = os.path.join(tempfile.gettempdir(), f"gradjit-cache-{os.getuid() if hasattr(os, 'getuid') else 0}")
    candidates = [requested] if requested else []
    candidates += [_default_dir(), fallback]
    problems = []
    for candidate in candidates:
        problem = _unusable(candidate)
        if problem is None:
            path = candidate
            break
        problems.append(f"{candidate!r} ({problem})")
    else:
        path = tempfile.mkdtemp(prefix="gradjit-cache-")
    if problems:
        what = "GRADJIT_CACHE_DIR" if requested else "the default cache directory"
        warnings.warn(f"gradjit: {what} cannot be used: {problems[0]}; compiled kernels are cached in "
                      f"{path!r} instead. Set GRADJIT_CACHE_DIR to a writable directory.",
                      RuntimeWarning, stacklevel=3)
    _directories[requested] = path
    return path


# ---------------------------------------------------------------- content hashing

def _canonical(value):
    return sorted(value) if isinstance(value, (set, frozenset)) else value


def _fingerprint():
    import llvmlite
    import numba
    import numpy
    from compiler import revolve
    from compiler.lowering import vecmath
    options = sorted((k, repr(_canonical(v))) for k, v in NUMBA_OPTIONS.items())
    return f"vecmath={vecmath.VERSION} numba={numba.__version__} llvmlite={llvmlite.__version__} " \
           f"numpy={numpy.__version__} python={sys.version_info[:3]} options={options} revolve={revolve.VERSION}"


def source_hash(source):
    return hashlib.sha256((_fingerprint() + "\n" + source).encode()).hexdigest()[:32]


# ---------------------------------------------------------------- files and compilation

def _write_checked(path, text):
    """Make the file at `path` hold `text`: keep it if it does, else (missing, truncated, corrupted)
    write it atomically."""
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except (OSError, UnicodeDecodeError):
        pass
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


@functools.cache
def _robust_cache_class():
    from numba.core.caching import FunctionCache

    class RobustFunctionCache(FunctionCache):
        """Numba's on-disk cache, except that an index or data file that fails to load (truncated,
        corrupted) is discarded, so the function is compiled and saved again instead of failing."""

        def load_overload(self, sig, target_context):
            try:
                return super().load_overload(sig, target_context)
            except Exception:
                try:
                    self.flush()     # an empty index: the next save rewrites the entry
                except OSError:
                    pass
                return None

        def save_overload(self, sig, data):
            try:
                super().save_overload(sig, data)
            except Exception as e:   # the kernel still runs; it is just not cached on disk
                warnings.warn(f"gradjit: could not write Numba's cache in {self.cache_path}: {e}",
                              RuntimeWarning, stacklevel=2)

    return RobustFunctionCache


def compile_source(source, name="kernel"):
    """The Numba dispatcher for function `name` defined by `source` (without imports)."""
    key = source_hash(source)
    fn = _compiled.get(key)
    if fn is not None:
        return fn
    import numba

    text = HEADER + source
    path = os.path.join(cache_dir(), f"gj_{key}.py")
    _write_checked(path, text)
    module_name = f"_gradjit_kernels.gj_{key}"
    module = types.ModuleType(module_name)
    module.__file__ = path
    sys.modules[module_name] = module
    exec(compile(text, path, "exec"), module.__dict__)     # from the checked text: no stale .pyc
    fn = numba.njit(**NUMBA_OPTIONS)(getattr(module, name))
    fn._cache = _robust_cache_class()(fn.py_func)     # replaces the FunctionCache that cache=True installed
    _compiled[key] = fn
    return fn


def compile_counts(fn):
    """(signatures compiled or loaded, of them loaded from the disk cache) of a dispatcher from
    `compile_source`: compared before and after a call, they tell whether Numba compiled, loaded
    from its cache, or neither (already compiled in this process)."""
    return len(fn.overloads), sum(fn.stats.cache_hits.values())
