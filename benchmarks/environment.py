"""Machine, package versions and thread settings, for the report."""

import contextlib
import datetime
import os
import platform
import subprocess
import sys
from importlib import metadata

from . import PREIMPORTED, THREADS

PACKAGES = ("numpy", "scipy", "numba", "llvmlite", "torch", "jax", "jaxlib",
            "autograd", "matplotlib", "tqdm")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS", "XLA_FLAGS")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(pkg):
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def _git_revision():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if rev.returncode != 0:
        return "no commit yet"
    return rev.stdout.strip() + (" (uncommitted changes)" if dirty.stdout.strip() else "")


@contextlib.contextmanager
def pinned_cpus(n=THREADS):
    """Restrict this thread, and the threads it starts, to ``n`` CPUs.

    Env vars do not stop every pool (XLA's CPU client sizes its intra-op pool
    from the schedulable CPUs and ignores the thread flags), so the run is
    pinned like ``taskset``; the previous affinity is restored afterwards.
    Set GRADJIT_BENCH_AFFINITY=0 to skip this.
    """
    if os.environ.get("GRADJIT_BENCH_AFFINITY", "1") == "0" or not hasattr(os, "sched_setaffinity"):
        yield
        return
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, sorted(previous)[:max(1, n)])
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


def thread_settings():
    info = {"pinned": THREADS, "env": {v: os.environ.get(v) for v in THREAD_VARS}}
    if hasattr(os, "sched_getaffinity"):
        info["cpu_affinity"] = sorted(os.sched_getaffinity(0))
    numba, torch = sys.modules.get("numba"), sys.modules.get("torch")  # only if imported
    try:
        if numba is not None:
            info["numba"] = numba.get_num_threads()
        if torch is not None:
            info["torch"] = torch.get_num_threads()
            info["torch_interop"] = torch.get_num_interop_threads()
    except Exception:
        pass
    try:
        import threadpoolctl

        info["blas"] = [{"api": p["internal_api"], "threads": p["num_threads"]}
                        for p in threadpoolctl.threadpool_info()]
    except ImportError:
        pass
    if PREIMPORTED:
        info["warning"] = ("imported before the thread pins were set: " + ", ".join(PREIMPORTED)
                           + "; their thread pools may not honour the pins")
    return info


def describe():
    return {
        "timestamp": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in PACKAGES},
        "gradjit_revision": _git_revision(),
        "threads": thread_settings(),
    }
