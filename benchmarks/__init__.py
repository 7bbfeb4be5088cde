"""gradjit benchmark suite.

Run it with ``python -m benchmarks`` (``--help`` for the options).

Thread counts are pinned here, at package import time, because the BLAS,
OpenMP, Numba and XLA thread pools read their environment variables when
their library is first imported.  The count defaults to 1 and can be changed
with the ``GRADJIT_BENCH_THREADS`` environment variable.
"""

import os as _os
import sys as _sys

THREADS = int(_os.environ.get("GRADJIT_BENCH_THREADS", "1"))

#: Libraries already imported before the thread pins were set (reported, since
#: their pools may not honour the pins).
PREIMPORTED = sorted(m for m in ("numpy", "numba", "torch", "jax") if m in _sys.modules)

for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
):
    _os.environ[_var] = str(THREADS)

if THREADS == 1:
    _xla = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    _old = _os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in _old:
        _os.environ["XLA_FLAGS"] = (_old + " " + _xla).strip()
_os.environ.setdefault("JAX_PLATFORMS", "cpu")
_os.environ.setdefault("JAX_ENABLE_X64", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    """Run the benchmark CLI; returns the process exit code."""
    from .__main__ import main as _main

    return _main(argv)


__all__ = ["main", "THREADS"]
