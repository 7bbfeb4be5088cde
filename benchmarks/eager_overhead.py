"""Per-operation overhead of the eager mode (forward + backward), side by side with PyTorch eager.

    python -m benchmarks.eager_overhead

For each operation, a chain of K applications to a small tensor is recorded and differentiated;
the time per step is (chain + backward - the same with K = 0) / K, from median times (two steps are
two operations: exp(y*0) and y+y.sum(0)).  Ratios below 3 meet the target.
"""
import numpy as np

import runtime as rt

from .timing import measure

K = 20


def _median(fn):
    return measure(fn).median_s


def _per_op(lib, x, op, k=K):
    def chain(n):
        def run():
            y = x
            for _ in range(n):
                y = op(y)
            y.sum().backward()
            x.grad = None
        return run
    return (_median(chain(k)) - _median(chain(0))) / k


def cases(lib):
    if lib == "torch":
        import torch

        def make(shape):
            return torch.rand(*shape, dtype=torch.float64, requires_grad=True)
        w_of = lambda n: torch.rand(n, n, dtype=torch.float64) / n  # noqa: E731
        tanh, exp = torch.tanh, torch.exp
    else:
        rt.manual_seed(0)

        def make(shape):
            return rt.rand(*shape, requires_grad=True)
        w_of = lambda n: rt.rand(n, n) / n  # noqa: E731
        tanh, exp = np.tanh, np.exp
    out = {}
    for shape in [(10,), (100, 100)]:
        n = shape[-1]
        w = w_of(n)
        c = make(shape).detach()
        ops = {
            "mul scalar": lambda y: y * 1.0001,
            "add tensor": lambda y: y + c,
            "mul tensor": lambda y: y * c,
            "tanh": tanh,
            "exp(y*0)": lambda y: exp(y * 0.0),          # two operations per step
            "matmul": (lambda y: w @ y) if len(shape) == 1 else (lambda y: y @ w),
            "y+y.sum(0)": lambda y: y + y.sum(0),        # two operations per step
        }
        for name, op in ops.items():
            out[(shape, name)] = _per_op(lib, make(shape), op)
    return out


def main():
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None
    ours = cases("rt")
    theirs = cases("torch") if torch is not None else {}
    print(f"{'shape':>10} {'op':>14} {'gradjit us':>11} {'torch us':>9} {'ratio':>6}")
    for key, t in ours.items():
        shape, name = key
        ref = theirs.get(key)
        ratio = f"{t / ref:6.2f}" if ref else "   n/a"
        print(f"{str(shape):>10} {name:>14} {t * 1e6:11.2f} {ref * 1e6 if ref else float('nan'):9.2f} {ratio}")


if __name__ == "__main__":
    main()
