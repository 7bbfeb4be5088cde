"""First-call time of a loop gradient against its trip count: the Lotka-Volterra RK4 gradient
written with `scan` (benchmarks/workloads.py, `rk4_loss`) at T = 10 ... 10^6 steps.

Each T runs in a fresh process with an empty kernel cache, after one small gradient has paid the
process's one-off start-up (importing and initialising Numba), as the benchmark suite's `prime`
step does; the figure is trace + transform + lower + compile + the first run.  Writes a table and
benchmark-results/loop_first_call.png.

    python -m benchmarks.loop_first_call [--steps 10,100,...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = """
import json, sys, time
import numpy as np
from compiler import grad
from benchmarks import workloads as W
grad(lambda x: np.sum(np.sin(x) * x))(np.ones(3))          # the process's start-up
T = int(sys.argv[1])
theta, obs = W._rk4_inputs(T)(0)
g = grad(W.rk4_loss)
t0 = time.perf_counter()
g(theta, obs)
first = time.perf_counter() - t0
t0 = time.perf_counter()
g(theta, obs)
print(json.dumps({"T": T, "first_call_s": first, "call_s": time.perf_counter() - t0}))
"""


def measure(steps):
    env = dict(os.environ, GRADJIT_CACHE_DIR=tempfile.mkdtemp(prefix="gradjit-first-call-"))
    out = subprocess.run([sys.executable, "-c", CHILD, str(steps)], capture_output=True, text=True, env=env,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.semilogx([r["T"] for r in rows], [r["first_call_s"] for r in rows], "o-", label="gradjit, scan")
    ax.set_xlabel("RK4 steps T")
    ax.set_ylabel("first call of grad (s)")
    ax.set_ylim(0, max(1.2, 1.1 * max(r["first_call_s"] for r in rows)))
    ax.axhline(1.0, color="grey", lw=0.8, ls="--", label="1 s")
    ax.legend()
    ax.set_title("Compile time does not depend on the trip count")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="10,100,1000,10000,100000,1000000")
    parser.add_argument("--plot", default=os.path.join("benchmark-results", "loop_first_call.png"))
    args = parser.parse_args(argv)
    steps = [int(t) for t in args.steps.split(",")]
    measure(steps[0])                  # discarded: the first process also warms the OS's file cache
    rows = [measure(t) for t in steps]
    base = next((r["first_call_s"] for r in rows if r["T"] == 1000), rows[0]["first_call_s"])
    print("| T | first call | vs T=1,000 | second call |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['T']:,} | {r['first_call_s'] * 1e3:.0f} ms | {r['first_call_s'] / base:.2f}x | "
              f"{r['call_s'] * 1e3:.3f} ms |")
    written = plot(rows, args.plot)
    if written:
        print(f"wrote {written}")


if __name__ == "__main__":
    main()
