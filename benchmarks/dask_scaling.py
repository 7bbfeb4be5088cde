"""Dask scaling: the L2 logistic-regression gradient over 10^7 x 20 float64 rows (1.6 GB) in chunks
of 10^6 rows, in one process against `compiler.dask` on a LocalCluster of 1 and 2 worker processes.

    python -m benchmarks.dask_scaling [--rows N] [--chunk C] [--workers 1,2] [--json PATH]

Not part of `python -m benchmarks`: it needs dask[distributed], about 4 GB of memory and a couple of
minutes.  The data are generated from a seed by dask.array, on the workers for the cluster runs
(and once in this process, chunk by chunk, for the single-process runs and the correctness check).
Each worker is one process with one thread, like the single process (thread pools pinned to 1 by
`benchmarks`).  Per-chunk scheduling overhead = (workers x wall time - compute time of all tasks,
from Dask's task stream) / chunks: the time a worker is not running kernels, per chunk.  For
comparison, the same chunk kernel is also timed in n plain processes running at once (no Dask):
what the machine's cores and memory bandwidth allow n workers at best.
"""
import argparse
import json
import logging
import os
import time

import numpy as np

from . import environment, timing
from .workloads import logistic_regression

D = 20
CONFIG = timing.TimingConfig(target_s=2.0, min_sample_s=0.0, min_repeats=5, max_repeats=5, warmup=1,
                             slow_repeats=5)


def make_data(rows, chunk, seed=0, d=D):
    """X (rows x d) and labels y as dask arrays chunked by rows, as `workloads._logreg_inputs` makes them."""
    import dask.array as da
    rng = da.random.default_rng(seed)
    X = rng.standard_normal((rows, d), chunks=(chunk, d)) / np.sqrt(d)
    w_true = np.random.default_rng(seed).standard_normal(d)
    y = da.where(X @ w_true + 0.3 * rng.standard_normal(rows, chunks=chunk) > 0.0, 1.0, -1.0)
    return X, y


def single_process(Xn, yn, w, chunk, config=CONFIG):
    """One compiled value_and_grad over all rows, and the same kernel chunk by chunk (no Dask)."""
    import compiler
    vg = compiler.value_and_grad(logistic_regression)
    t0 = time.perf_counter()
    value, gradient = vg(w, Xn, yn)
    first = time.perf_counter() - t0
    full = timing.measure(lambda: vg(w, Xn, yn), config)

    def chunk_loop():
        total_v, total_g = 0.0, np.zeros_like(w)
        for a in range(0, len(Xn), chunk):
            v, g = vg(w, Xn[a:a + chunk], yn[a:a + chunk])
            n = len(Xn[a:a + chunk])
            total_v, total_g = total_v + n * v, total_g + n * g
        return total_v / len(Xn), total_g / len(Xn)
    chunk_loop()
    looped = timing.measure(chunk_loop, config)
    return {"value": float(value), "gradient": gradient, "first_call_s": first,
            "full_s": full.median_s, "chunk_loop_s": looped.median_s, "chunk_loop_gradient": chunk_loop()[1]}


def _timed_chunk_kernel(chunk, seed, barrier, calls):
    import compiler
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((chunk, D)) / np.sqrt(D), np.where(rng.standard_normal(chunk) > 0, 1.0, -1.0)
    vg, w = compiler.value_and_grad(logistic_regression), np.zeros(D)
    vg(w, X, y)
    barrier.wait()                  # every process starts timing at once
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        vg(w, X, y)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def concurrent_kernels(n, chunk, calls=5):
    """Per-chunk kernel time when `n` processes run it at the same time, without Dask: what the
    machine (cores, memory bandwidth, other load) allows n workers at best."""
    import concurrent.futures
    import multiprocessing
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, concurrent.futures.ProcessPoolExecutor(n, mp_context=spawn) as pool:
        barrier = manager.Barrier(n)
        return float(np.median(list(pool.map(_timed_chunk_kernel, [chunk] * n, range(n), [barrier] * n,
                                             [calls] * n))))


def on_cluster(client, X, y, w, repeats=5):
    """compiler.dask.value_and_grad on the client's cluster, with X and y persisted there: the first
    call, then `repeats` timed calls, whose tasks Dask's task stream records."""
    from dask.utils import key_split
    from distributed import get_task_stream, wait
    import compiler.dask as gjd
    t0 = time.perf_counter()
    X, y = client.persist([X, y])
    wait([X, y])
    generate = time.perf_counter() - t0
    vg = gjd.value_and_grad(logistic_regression, reduce="mean")
    t0 = time.perf_counter()
    value, gradient = vg(w, X, y)
    first = time.perf_counter() - t0
    vg(w, X, y)
    times = []
    with get_task_stream(client) as stream:
        for _ in range(repeats):
            t0 = time.perf_counter()
            vg(w, X, y)
            times.append(time.perf_counter() - t0)
    compute = [sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "compute")
               for task in stream.data]
    chunk_compute = [c for c, task in zip(compute, stream.data) if key_split(task["key"]) == "gradjit-chunk"]
    n_workers, n_chunks = len(client.scheduler_info()["workers"]), X.numblocks[0]
    return {"workers": n_workers, "chunks": n_chunks, "value": float(value), "gradient": gradient,
            "generate_s": generate, "first_call_s": first, "median_s": float(np.median(times)),
            "kernel_per_chunk_s": float(np.median(chunk_compute)),
            "overhead_per_chunk_s": (n_workers * sum(times) - sum(compute)) / (n_chunks * repeats)}


def _relative_difference(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def run(rows, chunk, workers, seed=0):
    import dask
    from distributed import Client, LocalCluster
    w = 0.5 * np.random.default_rng(seed + 1).standard_normal(D)
    X, y = make_data(rows, chunk, seed)
    t0 = time.perf_counter()
    Xn, yn = dask.compute(X, y, scheduler="threads", num_workers=1)
    results = {"rows": rows, "chunk": chunk, "generate_single_s": time.perf_counter() - t0,
               "environment": environment.describe(), "load_average": os.getloadavg()}
    single = single_process(Xn, yn, w, chunk)
    del Xn, yn
    results["single"] = single
    results["dask"] = []
    for n in workers:
        t0 = time.perf_counter()
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            start = time.perf_counter() - t0
            r = on_cluster(client, X, y, w)
        r["cluster_start_s"] = start
        r["kernel_per_chunk_without_dask_s"] = concurrent_kernels(n, chunk)
        r["max_rel_diff_vs_single"] = _relative_difference(r.pop("gradient"), single["gradient"])
        results["dask"].append(r)
    results["chunk_loop_max_rel_diff"] = _relative_difference(single.pop("chunk_loop_gradient"), single["gradient"])
    single["gradient"] = single["gradient"].tolist()
    results["load_average_after"] = os.getloadavg()
    return results


def report(results):
    s = results["single"]
    lines = [f"Logistic-regression value_and_grad, {results['rows']:,} x {D} float64 rows in chunks of "
             f"{results['chunk']:,} (load average before/after: "
             f"{', '.join(f'{x:.1f}' for x in results['load_average'])} / "
             f"{', '.join(f'{x:.1f}' for x in results['load_average_after'])})", "",
             "| run | time per gradient | speed-up | kernel per chunk | same, n processes without Dask | "
             "overhead per chunk | first call | max rel. diff. vs single |",
             "|---|---|---|---|---|---|---|---|",
             f"| single process, one call | {s['full_s']:.3f} s | 1x | | | | {s['first_call_s']:.2f} s | 0 |",
             f"| single process, chunk loop | {s['chunk_loop_s']:.3f} s | {s['full_s'] / s['chunk_loop_s']:.2f}x "
             f"| {s['chunk_loop_s'] / -(-results['rows'] // results['chunk']):.3f} s | | | | "
             f"{results['chunk_loop_max_rel_diff']:.1e} |"]
    for r in results["dask"]:
        lines.append(f"| Dask, {r['workers']} worker{'s' if r['workers'] > 1 else ''} | {r['median_s']:.3f} s | "
                     f"{s['full_s'] / r['median_s']:.2f}x | {r['kernel_per_chunk_s']:.3f} s | "
                     f"{r['kernel_per_chunk_without_dask_s']:.3f} s | "
                     f"{1e3 * r['overhead_per_chunk_s']:.1f} ms | {r['first_call_s']:.2f} s | "
                     f"{r['max_rel_diff_vs_single']:.1e} |")
    lines.append("")
    lines += [f"Dask, {r['workers']} worker(s): cluster start {r['cluster_start_s']:.1f} s, data generated and "
              f"persisted on the workers in {r['generate_s']:.1f} s" for r in results["dask"]]
    lines.append(f"Single process: data generated in {results['generate_single_s']:.1f} s")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.dask_scaling", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--chunk", type=int, default=1_000_000)
    p.add_argument("--workers", default="1,2", help="comma-separated cluster sizes (default %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = p.parse_args(argv)
    results = run(args.rows, args.chunk, [int(n) for n in args.workers.split(",")], args.seed)
    print(report(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
