"""Presenting results: terminal table, JSON, PNG plots and Markdown tables."""

import json
import math
import os

OK = "ok"
JIT_CONTENDERS = ("gradjit", "jax", "numba-hand")


def fmt_time(s):
    if s is None or not math.isfinite(s):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_ratio(r):
    if r is None:
        return "-"
    return f"{r:,.0f}x" if r >= 100 else f"{r:.3g}x"


def status_text(r):
    if r["status"] == "MISMATCH":
        err = r.get("max_rel_err")
        err_txt = "inf" if err is None or not math.isfinite(err) else f"{err:.2e}"
        return f"MISMATCH (max rel err {err_txt}) {r['message']}".strip()
    if r["status"] == "ERROR":
        return f"ERROR: {r['message']}"
    if r["status"] == "SKIPPED":
        return f"skipped: {r['message']}"
    return r.get("message") or ""


# --------------------------------------------------------------------------
# terminal


def _grid(rows, header):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    widths[-1] = 0  # the note column is not padded
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return [line(header)] + [line(r) for r in rows]


def render_table(report):
    """Per workload: contender, median, IQR, ratio vs gradjit compiled, first call."""
    out = []
    header = ("contender", "median", "IQR", "vs gradjit", "first call", "note")
    for w in report["workloads"]:
        out.append(f"\n== {w['name']}: {w['description']}  [reference: {w['reference']}]")
        rows = []
        for r in w["results"]:
            timed = r["median_s"] is not None
            rows.append((
                r["label"],
                fmt_time(r["median_s"]) if timed else "-",
                fmt_time(r["iqr_s"]) if timed else "-",
                fmt_ratio(r["ratio_vs_gradjit"]),
                fmt_time(r["first_call_s"]),
                status_text(r),
            ))
        out.extend(_grid(rows, header))
    out.append("\n'vs gradjit' = contender median / gradjit compiled median (>1: gradjit is faster).")
    out.append("'first call' = build + first call in this process (gradjit: trace + transform + compile).")
    return "\n".join(out)


def render_header(meta):
    v = meta["versions"]
    vers = ", ".join(f"{k} {v[k]}" for k in v if v[k])
    th = meta["threads"]
    lines = [
        f"date: {meta['timestamp']}",
        f"CPU: {meta['cpu']} ({meta['cores']} cores); Python {meta['python']}; {meta['platform']}",
        f"versions: {vers}",
        f"threads: {th['pinned']} (BLAS/OpenMP/Numba env, torch.set_num_threads, XLA flags); "
        f"CPU affinity {th.get('cpu_affinity', 'not pinned')}",
        f"gradjit revision: {meta['gradjit_revision']}; mode: {meta['mode']}",
    ]
    if th.get("warning"):
        lines.append("warning: " + th["warning"])
    for key, note in meta["skipped_contenders"].items():
        lines.append(f"skipped contender {key}: {note}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# JSON


def _clean(x):
    """JSON has no inf/nan: write them as strings."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def write_json(report, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(_clean(report), f, indent=2, allow_nan=False)
        f.write("\n")
    return path


# --------------------------------------------------------------------------
# Markdown (for RESULTS.md)


def markdown_machine(meta):
    """Which machine, when and with what the numbers were measured (they hold for it only)."""
    v = meta["versions"]
    th = meta["threads"]
    rows = [
        ("date", meta["timestamp"]),
        ("CPU", f"{meta['cpu']}, {meta['cores']} cores"),
        ("OS", meta["platform"]),
        ("Python", meta["python"]),
        ("packages", ", ".join(f"{k} {v[k]}" for k in v if v[k])),
        ("gradjit", f"revision {meta['gradjit_revision']}"),
        ("threads", f"{th['pinned']}, CPU affinity {th.get('cpu_affinity', 'not pinned')}"),
        ("command", f"`{meta.get('command', 'python -m benchmarks')}` ({meta['mode']} suite, "
                    f"{meta['wall_time_s']:.0f} s wall time)"),
    ]
    return "\n".join(["Machine and versions of this run.", "", "| | |", "|---|---|"]
                     + [f"| {k} | {val} |" for k, val in rows]) + "\n"


def markdown_tables(report):
    """A headline table (median time, ratio vs gradjit) and a first-call table."""
    labels = dict(report["meta"]["contenders"])
    keys = list(labels)
    head = "| workload | " + " | ".join(labels[k] for k in keys) + " |"
    sep = "|---|" + "---|" * len(keys)
    lines = ["Median time per gradient (ratio to gradjit compiled in parentheses; "
             "NumPy forward computes the value only).", "", head, sep]
    for w in report["workloads"]:
        cells = []
        for r in w["results"]:
            if r["median_s"] is not None:
                ratio = f" ({fmt_ratio(r['ratio_vs_gradjit'])})" if r["ratio_vs_gradjit"] else ""
                cells.append(fmt_time(r["median_s"]) + ratio)
            elif r["status"] == "SKIPPED":
                cells.append("skipped")
            else:
                cells.append(status_text(r).replace("|", "/")[:60])
        lines.append(f"| {w['name']} | " + " | ".join(cells) + " |")
    lines += ["", "First call (build + first call, in-process; gradjit: trace + transform + compile "
              "with an empty cache).", "", "| workload | " + " | ".join(
                  labels[k] for k in JIT_CONTENDERS if k in labels) + " |",
              "|---|" + "---|" * sum(k in labels for k in JIT_CONTENDERS)]
    for w in report["workloads"]:
        by = {r["contender"]: r for r in w["results"]}
        cells = [fmt_time(by[k]["first_call_s"]) for k in JIT_CONTENDERS if k in by]
        lines.append(f"| {w['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grouped_bars(plt, report, value, err, title, ylabel, path, contenders=None):
    workloads = report["workloads"]
    labels = report["meta"]["contenders"]
    keys = [k for k in (contenders or labels)
            if any(value(r) is not None for w in workloads for r in w["results"] if r["contender"] == k)]
    if not keys:
        return None
    fig, ax = plt.subplots(figsize=(max(8, 1.2 * len(workloads) + 3), 5.5))
    width = 0.8 / len(keys)
    for j, key in enumerate(keys):
        xs, ys, lo, hi = [], [], [], []
        for i, w in enumerate(workloads):
            r = next((r for r in w["results"] if r["contender"] == key), None)
            if r is None or value(r) is None:
                continue
            xs.append(i - 0.4 + (j + 0.5) * width)
            ys.append(value(r))
            e = err(r) if err else (0.0, 0.0)
            lo.append(e[0])
            hi.append(e[1])
        ax.bar(xs, ys, width, label=labels.get(key, key), yerr=[lo, hi] if err else None,
               capsize=2)
    ax.set_yscale("log")
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels([w["name"] for w in workloads], rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_times(report, path):
    plt = _pyplot()
    return _grouped_bars(
        plt, report, lambda r: r["median_s"],
        lambda r: (r["median_s"] - r["q1_s"], r["q3_s"] - r["median_s"]),
        f"Time per gradient (median, IQR bars; {report['meta']['threads']['pinned']} thread(s))",
        "seconds (log)", path)


def plot_first_call(report, path):
    plt = _pyplot()
    return _grouped_bars(
        plt, report, lambda r: r["first_call_s"], None,
        "First call: build + trace + compile + run, in-process\n"
        "(hand-written Numba compiles each kernel once; later sizes reuse it)", "seconds (log)", path,
        contenders=[k for k in JIT_CONTENDERS if k in report["meta"]["contenders"]])


def plot_scaling(report, path, family="rosenbrock"):
    plt = _pyplot()
    ws = sorted((w for w in report["workloads"] if w["family"] == family), key=lambda w: w["size"])
    if not ws:
        return None
    labels = report["meta"]["contenders"]
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    drew = False
    for key, label in labels.items():
        pts = [(w["size"], r["median_s"]) for w in ws for r in w["results"]
               if r["contender"] == key and r["median_s"] is not None]
        if pts:
            ax.plot(*zip(*pts), marker="o", label=label)
            drew = True
    if not drew:
        plt.close(fig)
        return None
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel("seconds per gradient (median, log)")
    ax.set_title(f"{family}: time against size")
    ax.grid(which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(report, directory):
    os.makedirs(directory, exist_ok=True)
    made = [
        plot_times(report, os.path.join(directory, "times.png")),
        plot_scaling(report, os.path.join(directory, "rosenbrock_scaling.png")),
        plot_first_call(report, os.path.join(directory, "first_call.png")),
    ]
    return [p for p in made if p]
