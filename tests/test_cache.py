"""The on-disk kernel cache: damaged files heal, an unusable directory falls back with a warning,
and a second process (another hash seed) compiles nothing the first one compiled."""
import glob
import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from runtime import kernels

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fresh_compile(source):
    """compile_source as a new process would do it: nothing in memory."""
    kernels._compiled.clear()
    return kernels.compile_source(source)


def _source(tag):
    return f"def kernel(a0):\n    # {tag}\n    return (a0 * 2.0 + 1.0,)\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADJIT_CACHE_DIR", str(tmp_path))
    yield tmp_path
    kernels._compiled.clear()


def test_truncated_source_file_is_rewritten(cache):
    source = _source("truncated source")
    assert _fresh_compile(source)(1.5) == (4.0,)
    (path,) = glob.glob(str(cache / "gj_*.py"))
    with open(path, "w") as f:
        f.write("import numpy as np\n\ndef kern")         # cut short mid-write
    assert _fresh_compile(source)(2.5) == (6.0,)
    with open(path) as f:
        assert f.read() == kernels.HEADER + source


def test_corrupted_source_with_a_valid_kernel_is_replaced(cache):
    source = _source("wrong content")
    _fresh_compile(source)(1.0)
    (path,) = glob.glob(str(cache / "gj_*.py"))
    with open(path, "w") as f:
        f.write(kernels.HEADER + "def kernel(a0):\n    return (a0 - 100.0,)\n")
    assert _fresh_compile(source)(1.0) == (3.0,)


@pytest.mark.parametrize("damaged", ["nbi", "nbc"])
def test_damaged_numba_cache_files_are_discarded_and_rewritten(cache, damaged):
    source = _source(f"damaged {damaged}")
    assert _fresh_compile(source)(1.0) == (3.0,)
    (path,) = glob.glob(str(cache / "__pycache__" / f"*.{damaged}"))
    with open(path, "r+b") as f:
        if damaged == "nbi":                  # right version header, garbage after it
            f.seek(len(pickle.dumps(__import__("numba").__version__, protocol=-1)))
        else:
            f.seek(10)
        f.write(b"\x00garbage" * 4)
        f.truncate()
    assert _fresh_compile(source)(2.0) == (5.0,)      # recompiled rather than failing
    fn = _fresh_compile(source)
    assert fn(3.0) == (7.0,) and sum(fn.stats.cache_hits.values()) == 1   # and saved again, intact


def test_unusable_cache_directory_falls_back_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    for bad in (str(blocker / "cache"), str(tmp_path / ("x" * 300))):    # not a directory; name too long
        monkeypatch.setenv("GRADJIT_CACHE_DIR", bad)
        with pytest.warns(RuntimeWarning, match="GRADJIT_CACHE_DIR") as record:
            path = kernels.cache_dir()
        assert repr(bad) in str(record[0].message)
        assert os.path.isdir(path) and os.access(path, os.W_OK)
    kernels._compiled.clear()
    assert kernels.compile_source(_source("fallback"))(0.0) == (1.0,)


_WORKLOAD = textwrap.dedent("""
    import json
    import numpy as np
    from numba.core import event

    compiled = []

    class Listener(event.Listener):
        def on_start(self, ev):
            compiled.append(ev.data["dispatcher"].py_func.__name__)

        def on_end(self, ev):
            pass

    event.register("numba:compile", Listener())
    from compiler import grad, hessian, jvp
    from runtime import kernels
    x = np.linspace(0.1, 1.0, 4)
    results = [grad(lambda x: np.sum(np.sin(x) ** 2 * np.max(x)))(x).tolist(),
               jvp(lambda x: np.tanh(x) * 3.0, (x,), (x,))[1].tolist(),
               hessian(lambda x: np.sum(x ** 3))(x[:2]).tolist()]
    hits = sum(sum(fn.stats.cache_hits.values()) for fn in kernels._compiled.values())
    print(json.dumps({"compiled": compiled, "hits": hits, "results": results}))
""")


def _run_process(cache_dir, seed):
    env = dict(os.environ, GRADJIT_CACHE_DIR=str(cache_dir), PYTHONHASHSEED=str(seed),
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _WORKLOAD], env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_compiles_nothing(tmp_path):
    first = _run_process(tmp_path, seed=1)
    second = _run_process(tmp_path, seed=2)
    assert "kernel" in first["compiled"]
    assert second["compiled"] == [] and second["hits"] > 0
    for a, b in zip(first["results"], second["results"]):
        np.testing.assert_array_equal(a, b)
