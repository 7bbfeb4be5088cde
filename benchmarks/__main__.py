"""Command line: ``python -m benchmarks [--quick] [--only NAMES] ...``.

Exit code 0 unless a gradjit gradient (compiled or eager) disagrees with the
reference; missing optional contenders and contender errors do not fail.
"""

import argparse
import os
import sys

from . import contenders as C
from . import report, runner, timing
from . import workloads as W

DEFAULT_DIR = "benchmark-results"
QUICK_DIR = os.path.join(DEFAULT_DIR, "quick")   # a smoke run never overwrites the full run's results


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark gradjit (compiled and eager) against NumPy, hand-written "
                    "Numba, PyTorch, JAX and HIPS autograd.")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: small sizes, few repeats (well under a minute)")
    p.add_argument("--only", metavar="NAMES",
                   help="run workloads whose name contains one of these comma-separated substrings")
    p.add_argument("--contenders", metavar="KEYS",
                   help="run only contenders whose key contains one of these comma-separated "
                        "substrings (gradjit, gradjit-eager, numpy-forward, numba-hand, torch, "
                        "jax, autograd)")
    p.add_argument("--json", metavar="PATH",
                   help=f"JSON output (default {DEFAULT_DIR}/results.json, {QUICK_DIR}/results.json "
                        "with --quick); a Markdown summary is written next to it with the .md suffix")
    p.add_argument("--plot", metavar="DIR",
                   help=f"directory for the PNG plots (default {DEFAULT_DIR}, {QUICK_DIR} with --quick)")
    p.add_argument("--no-plot", action="store_true", help="do not draw plots")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress display (a bar on a terminal, one line per workload otherwise)")
    p.add_argument("--seed", type=int, default=W.SEED, help="input seed (default %(default)s)")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    workloads = W.select(W.make_workloads(quick=args.quick), args.only)
    if args.list:
        for w in workloads:
            print(f"{w.name:28s} {w.description}")
        return 0
    if not workloads:
        print(f"no workload matches {args.only!r}; see --list", file=sys.stderr)
        return 2
    contenders = C.select(C.all_contenders(), args.contenders)
    if not contenders:
        print(f"no contender matches {args.contenders!r}", file=sys.stderr)
        return 2

    config = timing.QUICK if args.quick else timing.DEFAULT
    result = runner.run(workloads, contenders, config, progress=not args.no_progress,
                        seed=args.seed, mode="quick" if args.quick else "default")
    result["meta"]["command"] = "python -m benchmarks " + " ".join(
        sys.argv[1:] if argv is None else argv)

    print(report.render_header(result["meta"]))
    print(report.render_table(result))

    out_dir = QUICK_DIR if args.quick else DEFAULT_DIR
    json_path = args.json or os.path.join(out_dir, "results.json")
    report.write_json(result, json_path)
    md_path = os.path.splitext(json_path)[0] + ".md"
    with open(md_path, "w") as f:
        f.write(report.markdown_machine(result["meta"]) + "\n" + report.markdown_tables(result))
    written = [json_path, md_path]
    if not args.no_plot:
        written += report.write_plots(result, args.plot or out_dir)
    print(f"\ntotal {result['meta']['wall_time_s']:.1f} s; wrote " + ", ".join(written))

    if result["gradjit_mismatches"]:
        print("\ngradjit gradient MISMATCH (a bug):", file=sys.stderr)
        for line in result["gradjit_mismatches"]:
            print("  " + line, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
