"""Compile generated kernel source with Numba, cached in memory and on disk.

Numba cannot cache functions created by `exec`, so the source goes into a content-addressed file
(written atomically), is imported under a unique module name registered in `sys.modules`, and
compiled with `njit(cache=True)`.  Numba's cache ignores jit options, so the options and package
versions are part of the content hash.  Set GRADJIT_CACHE_DIR to choose the directory.
"""
import hashlib
import importlib.util
import os
import sys
import tempfile

# fastmath without nnan/ninf: inf and nan keep NumPy's meaning; reassociation lets LLVM vectorise sums.
FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})
NUMBA_OPTIONS = {"nogil": True, "error_model": "numpy", "fastmath": set(FASTMATH), "cache": True}
HEADER = "import numpy as np\n\n\n"

_compiled = {}        # content hash -> numba dispatcher


def cache_dir():
    path = os.environ.get("GRADJIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "gradjit")
    os.makedirs(path, exist_ok=True)
    return path


def _fingerprint():
    import llvmlite
    import numba
    import numpy
    return f"numba={numba.__version__} llvmlite={llvmlite.__version__} numpy={numpy.__version__} " \
           f"python={sys.version_info[:3]} options={sorted(map(str, NUMBA_OPTIONS.items()))}"


def source_hash(source):
    return hashlib.sha256((_fingerprint() + "\n" + source).encode()).hexdigest()[:32]


def compile_source(source, name="kernel"):
    """The Numba dispatcher for function `name` defined by `source` (without imports)."""
    key = source_hash(source)
    fn = _compiled.get(key)
    if fn is not None:
        return fn
    import numba

    directory = cache_dir()
    path = os.path.join(directory, f"gj_{key}.py")
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(HEADER + source)
        os.replace(tmp, path)
    module_name = f"_gradjit_kernels.gj_{key}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    fn = numba.njit(**NUMBA_OPTIONS)(getattr(module, name))
    _compiled[key] = fn
    return fn
