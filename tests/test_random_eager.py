"""Randomized differential test of the eager runtime against PyTorch.

The same random programs as tests/test_random_programs.py run eagerly on `runtime` tensors (the
NumPy source, dispatched through NEP 13/18) and, rendered with each row's torch template, on
torch tensors.  Checked: values against NumPy (shape, dtype and values: the runtime promises
NumPy semantics, README "Differences from PyTorch"), `.backward()` gradients, and
`rt.autograd.grad(..., create_graph=True)` first and second derivatives against torch.autograd,
including which results require grad.  Tolerances as in tests/test_random_programs.py (torch's
promotion of NumPy scalars differs from NumPy 2's, which only moves float32 rounding).

Long runs: `python -m tests.fuzz --eager --seed 7 --count 2000`.
"""
import os

import numpy as np
import pytest

import runtime as rt
from random_programs import generate
from test_random_programs import Failure, Mismatch, OracleError, assert_close, failure_of, tolerance


def _arrays(prog):
    """The program's arguments as arrays (Python and NumPy scalars as 0-d arrays, which is what a
    tensor holds), keeping the generated strides."""
    return [np.asarray(x) for x in prog.args()]


class EagerContext:
    def __init__(self, prog):
        import torch
        self.torch, self.prog = torch, prog
        self.arrays = _arrays(prog)
        self.f_np = prog.function()
        with np.errstate(all="ignore"):
            self.out = self.f_np(*self.arrays)
        self.f_rt = prog.function(stop_gradient=lambda t: t.detach() if isinstance(t, rt.Tensor) else t)
        self.f_torch = prog.function("torch")
        self.tol = tolerance(prog)
        rng = np.random.default_rng(abs(hash(str(prog.seed))) % 2 ** 32)
        self.W = rng.standard_normal(np.shape(self.out))
        if np.result_type(self.out).kind == "f":
            self.W = self.W.astype(np.result_type(self.out))
        self.V = [rng.standard_normal(a.shape).astype(a.dtype) for a in self.arrays]

    def rt_inputs(self):
        return [rt.from_numpy(a).requires_grad_() for a in self.arrays]

    def torch_inputs(self):
        return [self.torch.from_numpy(np.array(a)).requires_grad_() for a in self.arrays]

    def rt_loss(self, xs):
        out = self.f_rt(*xs)
        return out, np.sum(out * self.W)

    def torch_loss(self, ts):
        out = self.f_torch(*ts)
        return out, self.torch.sum(out * self.torch.from_numpy(np.array(self.W)))

    def torch_value(self):
        try:
            out = self.f_torch(*self.torch_inputs()).detach().numpy()
        except Exception as e:
            raise OracleError(f"torch: {type(e).__name__}: {e}") from None
        try:
            assert_close("torch rendering vs NumPy", out, self.out, self.tol)
        except Mismatch as e:
            raise OracleError(str(e)) from None


def _grads(xs):
    return [None if x.grad is None else x.grad.numpy() for x in xs]


def _numpy(ts):
    """torch results as arrays (None stays None; force=True materialises torch's ZeroTensors)."""
    return [None if t is None else t.detach().numpy(force=True) for t in ts]


def _compare_grads(what, ours, theirs, arrays, tol, none_is_zero=True):
    """None (no path to the input) and zeros are the same derivative; torch and the runtime do not
    always agree on which one they return."""
    for k, (g, t, a) in enumerate(zip(ours, theirs, arrays)):
        if none_is_zero:
            g, t = (np.zeros(a.shape, a.dtype) if v is None else v for v in (g, t))
        if (g is None) != (t is None):
            raise Mismatch(f"{what}[{k}]: {'None' if g is None else 'a gradient'}, torch gives "
                           f"{'None' if t is None else 'a gradient'}")
        if g is not None:
            if np.shape(g) != a.shape:
                raise Mismatch(f"{what}[{k}]: shape {np.shape(g)} for an input of shape {a.shape}")
            assert_close(f"{what}[{k}] vs torch", g, t, tol)


def check_value(c):
    with np.errstate(all="ignore"):
        out = c.f_rt(*c.rt_inputs())
    if isinstance(out, rt.Tensor):
        out = out.detach().numpy()
    elif c.prog.depends_on_inputs():
        raise Mismatch(f"eager result is a {type(out).__name__}, not a Tensor")
    assert_close("eager value vs NumPy", out, c.out, c.tol, check_dtype=True)


def check_backward(c):
    c.torch_value()
    xs, ts = c.rt_inputs(), c.torch_inputs()
    out, loss = c.rt_loss(xs)
    out_t, loss_t = c.torch_loss(ts)
    requires = isinstance(out, rt.Tensor) and out.requires_grad
    if requires != out_t.requires_grad:
        raise Mismatch(f"result requires_grad={requires}, torch: {out_t.requires_grad}")
    if not out_t.requires_grad:
        return
    loss.backward()
    loss_t.backward()
    _compare_grads(".backward() grad", _grads(xs), _numpy([t.grad for t in ts]), c.arrays, c.tol)


def check_second_order(c):
    c.torch_value()
    torch = c.torch
    xs, ts = c.rt_inputs(), c.torch_inputs()
    out, loss = c.rt_loss(xs)
    out_t, loss_t = c.torch_loss(ts)
    if not out_t.requires_grad:
        return
    gs = rt.autograd.grad(loss, xs, create_graph=True, allow_unused=True)
    gt = torch.autograd.grad(loss_t, ts, create_graph=True, allow_unused=True)
    _compare_grads("autograd.grad(create_graph=True)", [None if g is None else g.detach().numpy() for g in gs],
                   _numpy(gt), c.arrays, c.tol)
    for k, (g, t) in enumerate(zip(gs, gt)):
        # torch also marks some results whose derivative is zero (a backward that does not involve
        # the inputs); only the other direction loses a second derivative
        if g is not None and t is not None and t.requires_grad and not g.requires_grad:
            raise Mismatch(f"autograd.grad(create_graph=True)[{k}].requires_grad is False, torch: True")
    live = [k for k, t in enumerate(gt) if t is not None and t.requires_grad]
    if not live:
        return
    second = rt.autograd.grad(sum(np.sum(gs[k] * c.V[k]) for k in live), xs, allow_unused=True)
    second_t = torch.autograd.grad(sum(torch.sum(gt[k] * torch.from_numpy(c.V[k])) for k in live), ts,
                                   allow_unused=True)
    _compare_grads("second derivative", [None if g is None else g.numpy() for g in second], _numpy(second_t),
                   c.arrays, c.tol, none_is_zero=True)


CHECKS = {"eager_value": check_value, "eager_backward": check_backward, "eager_second_order": check_second_order}

SNIPPET = """import runtime as rt, torch
W = {W}
V = {V}
xs = [rt.from_numpy(np.asarray(x)).requires_grad_() for x in [{names}]]
np.sum(f(*xs) * W).backward()          # compare with the torch program below
print([x.grad for x in xs])
# torch rendering of the same program:
{torch_source}"""


def run_check(prog, name, ctx=None):
    try:
        c = ctx or EagerContext(prog)
    except Exception as e:
        return Failure(name, "oracle", f"{type(e).__name__}: {e}", "", prog)
    from random_programs import array_source
    snippet = SNIPPET.format(W=array_source(c.W), V="[" + ", ".join(array_source(v) for v in c.V) + "]",
                             names=", ".join(i.name for i in prog.inputs), torch_source=prog.source("torch"))
    return failure_of(name, lambda: CHECKS[name](c), snippet, prog)


def check_program(prog, checks=tuple(CHECKS)):
    """Failures of the checks; after a crash of the forward pass the others would only repeat it."""
    if prog.values_only:
        checks = [c for c in checks if c == "eager_value"]
    ctx, failures = EagerContext(prog), []
    for name in checks:
        failure = run_check(prog, name, ctx)
        if failure is not None:
            failures.append(failure)
            if name == "eager_value" and failure.kind == "crash":
                break
    return failures


SEED = int(os.environ.get("GRADJIT_FUZZ_SEED", 0))
COUNT = int(os.environ.get("GRADJIT_FUZZ_EAGER_COUNT", 150))
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")   # torch on empty reductions
KNOWN_BUGS = {}      # program index -> bug not in issue 7's list (strict xfail)


@pytest.mark.parametrize("index", range(COUNT))
def test_random_program_eager(index, request):
    pytest.importorskip("torch")
    if SEED == 0 and index in KNOWN_BUGS:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_BUGS[index], strict=True))
    failures = check_program(generate((SEED, index)))
    assert not failures, "\n\n".join(f.report() for f in failures)
