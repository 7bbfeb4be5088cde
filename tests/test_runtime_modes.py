"""Grad modes (no_grad, enable_grad, set_grad_enabled, inference_mode) and anomaly detection."""
import threading

import numpy as np
import pytest

import runtime as rt


def test_no_grad_context_and_decorators():
    x = rt.ones(2, requires_grad=True)
    with rt.no_grad():
        assert not rt.is_grad_enabled()
        y = x * 2
    assert rt.is_grad_enabled() and not y.requires_grad and y.grad_fn is None

    @rt.no_grad()
    def f():
        return x * 2

    @rt.no_grad
    def g():
        return x * 2

    assert not f().requires_grad and not g().requires_grad and (x * 2).requires_grad


def test_enable_grad_inside_no_grad():
    x = rt.ones(2, requires_grad=True)
    with rt.no_grad():
        with rt.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad

    @rt.enable_grad()
    def f():
        return x * 2

    with rt.no_grad():
        assert f().requires_grad


def test_set_grad_enabled_as_call_context_and_decorator():
    x = rt.ones(2, requires_grad=True)
    rt.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        rt.set_grad_enabled(True)
    with rt.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @rt.set_grad_enabled(False)
    def f():
        return x * 2

    assert rt.is_grad_enabled() and not f().requires_grad and rt.is_grad_enabled()


def test_modes_restore_after_exceptions():
    with pytest.raises(ZeroDivisionError):
        with rt.no_grad():
            1 / 0
    assert rt.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = []
    with rt.no_grad():
        t = threading.Thread(target=lambda: seen.append(rt.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_optimizer_step_under_no_grad():
    w = rt.tensor([1.0, -2.0], requires_grad=True)
    for _ in range(50):
        loss = (w * w).sum()
        loss.backward()
        with rt.no_grad():
            w -= 0.1 * w.grad
        w.grad.zero_()
    assert w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.detach().numpy(), np.array([1.0, -2.0]) * 0.8 ** 50)


def test_inference_mode():
    x = rt.ones(2, requires_grad=True)
    with rt.inference_mode():
        assert rt.is_inference_mode_enabled() and not rt.is_grad_enabled()
        i = x * 2
        assert not i.requires_grad
    assert not rt.is_inference_mode_enabled()
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        i * x
    with pytest.raises(RuntimeError, match="inference"):
        i.requires_grad_()
    with pytest.raises(RuntimeError, match="[Ii]nference"):
        i.add_(1)
    normal = i.clone()
    assert (normal * x).requires_grad                    # a clone outside is a normal tensor
    with rt.no_grad():
        assert not (i * 2).requires_grad                 # no graph: fine

    @rt.inference_mode()
    def f():
        return x * 3

    assert not f().requires_grad and rt.is_grad_enabled()


# ---------------------------------------------------------------- anomaly detection

def test_anomaly_names_the_node_and_the_forward_line():
    x = rt.tensor([0.0, 1.0], requires_grad=True)
    with rt.autograd.detect_anomaly():
        y = np.sqrt(x)                                   # the line the error must point at
        line = test_anomaly_names_the_node_and_the_forward_line.__code__.co_firstlineno + 3
        loss = (y * 0.0).sum()
        with pytest.raises(RuntimeError, match="SqrtBackward0") as info:
            loss.backward()                              # d sqrt(0) = inf, times 0: NaN
    assert f"{__file__}:{line}" in str(info.value)
    assert isinstance(info.value, rt.AnomalyError)


def test_set_detect_anomaly_switches_on_and_off():
    x = rt.tensor([0.0], requires_grad=True)
    rt.autograd.set_detect_anomaly(True)
    try:
        assert rt.autograd.is_anomaly_enabled()
        with np.errstate(all="ignore"):
            loss = (np.log(x) * 0.0).sum()               # log(0) = -inf; its backward: 0 / 0
        with pytest.raises(RuntimeError, match="'LogBackward0' returned nan"):
            loss.backward()
    finally:
        rt.autograd.set_detect_anomaly(False)
    assert not rt.autograd.is_anomaly_enabled()


def test_nan_passes_silently_without_anomaly_detection():
    x = rt.tensor([0.0], requires_grad=True)
    (np.sqrt(x) * 0.0).sum().backward()
    assert np.isnan(x.grad.numpy()).all()


def test_anomaly_decorator_and_clean_backward():
    @rt.autograd.detect_anomaly()
    def step():
        x = rt.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
        return x.grad

    np.testing.assert_array_equal(step().numpy(), [2.0, 4.0])
    assert not rt.autograd.is_anomaly_enabled()
