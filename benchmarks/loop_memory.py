"""Memory against budget for the reverse pass of a long loop: the Lotka-Volterra RK4 gradient at
T=100,000 steps, written with `scan`, under several memory budgets.

For each budget: the plan (`lower(...).loops`), the forward steps it costs (Revolve's count, the
recording runs included) per step, the median time per call, and the memory the call adds at its
peak, sampled from /proc while the kernel runs (kernels release the GIL).

    python -m benchmarks.loop_memory [--steps 100000]
"""
import argparse
import ctypes
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import numpy as np

from compiler import checkpointing, grad, revolve, scan

DT = 0.001


def make_loss(budget):
    def loss(theta, obs):
        a, b, c, d = theta[0], theta[1], theta[2], theta[3]

        def f(x, y):
            return a * x - b * x * y, d * x * y - c * y

        def rk4(s, target):
            x, y = s
            k1 = f(x, y)
            k2 = f(x + DT / 2 * k1[0], y + DT / 2 * k1[1])
            k3 = f(x + DT / 2 * k2[0], y + DT / 2 * k2[1])
            k4 = f(x + DT * k3[0], y + DT * k3[1])
            x = x + DT / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
            y = y + DT / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
            return (x, y), (x - target) ** 2
        _, err = scan(rk4, (10.0, 5.0), obs, memory_budget=budget)
        return np.sum(err)
    return loss


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_extra_memory(fn, *args):
    """Peak resident memory above the level before the call, sampled every 0.2 ms (after giving
    the memory earlier calls freed back to the system)."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    base, peak, done = _rss(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.0002)
    t = threading.Thread(target=sample)
    t.start()
    fn(*args)
    done.set()
    t.join()
    return max(peak[0], _rss()) - base


def budgets(T, state):
    return [("default", None), ("every step's residuals", "residuals"), (f"{T * state} B", T * state),
            (f"{1000 * state} B", 1000 * state), (f"{100 * state} B", 100 * state), (f"{10 * state} B", 10 * state)]


def row(T, label, budget, repeat, state):
    obs = 10.0 + np.sin(np.linspace(0.0, 20.0, T))
    theta = np.array([1.1, 0.4, 0.4, 0.1])
    if budget == "residuals":              # the plan that stores every step's residuals, for comparison
        checkpointing.RECOMPUTE_RATIO, budget = float("inf"), None
    g = grad(make_loss(budget))
    plan = g.lower(theta, obs).loops
    g(theta, obs)                          # compile, and let the allocator settle
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        g(theta, obs)
        times.append(time.perf_counter() - t0)
    extra = peak_extra_memory(g, theta, obs)
    snaps = re.search(r"(\d+) snapshots", plan)
    c = int(snaps.group(1)) if snaps else 0
    steps = f"{(revolve.advances(T, c) + 1 + T) / T:.2f}" if c else "2.00" if "recomputes" in plan else "1.00"
    memory = f"{extra / 2 ** 20:.2f} MiB"
    return (f"| {label} | {plan.split(': ', 1)[1]} | {steps} | {statistics.median(times) * 1e3:.1f} ms | "
            f"{memory} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--row", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    T, state = args.steps, 16              # the carried state: two float64 numbers
    rows = budgets(T, state)
    if args.row is not None:
        print(row(T, *rows[args.row], args.repeat, state))
        return
    print(f"Lotka-Volterra RK4 gradient, T={T} steps; a state is {state} bytes; each row in a fresh process")
    print("| memory_budget | plan | forward steps per step | median time per call | extra memory at peak |")
    print("|---|---|---|---|---|")
    for k in range(len(rows)):            # a fresh process per row: freed memory stays resident
        out = subprocess.run([sys.executable, "-m", "benchmarks.loop_memory", "--steps", str(T), "--repeat",
                              str(args.repeat), "--row", str(k)], capture_output=True, text=True, check=True)
        print(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
