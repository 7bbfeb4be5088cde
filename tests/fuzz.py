"""Long runs of the randomized differential tests, with failures grouped and shrunk.

    python -m tests.fuzz --seed 123 --count 2000             # compiled path (tests/test_random_programs.py)
    python -m tests.fuzz --eager --seed 123 --count 5000     # eager runtime vs PyTorch
    python -m tests.fuzz --seed 123 --start 417 --count 1 -v # one program, every failure in full

Program i of a run is `random_programs.generate((seed, i))`, the same program the pytest slice
runs for GRADJIT_FUZZ_SEED=seed.  Each failure is shrunk (lines dropped while the same check
still fails the same way) and printed as a copy-pasteable NumPy repro; the summary groups
failures by check and message.  Kernels go to a fresh cache directory unless GRADJIT_CACHE_DIR
is set.
"""
import argparse
import collections
import os
import sys
import tempfile
import time
import warnings


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--start", type=int, default=0, help="index of the first program")
    parser.add_argument("--eager", action="store_true", help="test the eager runtime against PyTorch")
    parser.add_argument("--checks", help="comma-separated subset of the checks")
    parser.add_argument("--no-shrink", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every failure, not one per group")
    args = parser.parse_args(argv)

    os.environ.setdefault("GRADJIT_CACHE_DIR", tempfile.mkdtemp(prefix="gradjit-fuzz-"))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    warnings.simplefilter("ignore")
    from random_programs import generate
    if args.eager:
        import test_random_eager as suite
    else:
        import test_random_programs as suite
    from test_random_programs import shrink_failure

    checks = args.checks.split(",") if args.checks else list(suite.CHECKS)
    groups, first = collections.Counter(), {}
    start = time.time()
    for i in range(args.start, args.start + args.count):
        prog = generate((args.seed, i))
        for failure in suite.check_program(prog, checks):
            key = failure.key()
            groups[key] += 1
            if key in first and not args.verbose:
                continue
            if not args.no_shrink:
                failure = shrink_failure(failure, run_check=suite.run_check)
            first.setdefault(key, (i, failure))
            print(f"\n=== program {i}: {key}\n{failure.report()}", flush=True)
        if (i + 1 - args.start) % 25 == 0:
            print(f"... {i + 1 - args.start} programs, {sum(groups.values())} failures, "
                  f"{time.time() - start:.0f} s", flush=True)
    print(f"\n{args.count} programs (seed {args.seed}, from {args.start}) in {time.time() - start:.0f} s; "
          f"failures by group:")
    for key, n in groups.most_common():
        print(f"{n:6d}  {key}   (first: program {first[key][0]})")
    return 1 if groups else 0


if __name__ == "__main__":
    sys.exit(main())
