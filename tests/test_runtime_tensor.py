"""Eager tensors: creation, attributes, conversion, repr, dtype rules."""
import subprocess
import sys

import numpy as np
import pytest

import runtime as rt


def test_import_is_light():
    code = ("import sys, runtime; bad = [m for m in ('torch', 'jax', 'numba') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_factories_shapes_and_default_dtypes():
    assert rt.ones(2, 3).shape == (2, 3) and rt.ones(2, 3).dtype == np.float64
    assert rt.zeros((4,)).shape == (4,) and np.all(rt.zeros(4).numpy() == 0)
    assert np.array_equal(rt.eye(3).numpy(), np.eye(3))
    assert rt.arange(5).dtype == np.int64 and rt.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert rt.arange(0.0, 1.0, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert rt.tensor([1, 2]).dtype == np.int64
    assert rt.tensor([1.0, 2.0]).dtype == np.float64
    assert rt.tensor(np.ones(3, np.float32)).dtype == np.float32
    assert rt.ones(2, dtype=rt.float32).dtype == np.float32
    x = rt.tensor([[1.0, 2.0]])
    assert rt.ones_like(x).shape == (1, 2) and rt.zeros_like(x).numpy().sum() == 0
    assert rt.full((2,), 7.0).tolist() == [7.0, 7.0]


def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0])
    t = rt.tensor(a)
    a[0] = 100.0
    assert t.tolist() == [1.0, 2.0]


def test_randn_is_seeded():
    rt.manual_seed(3)
    a = rt.randn(5, 3).numpy().copy()
    rt.manual_seed(3)
    b = rt.randn(5, 3).numpy()
    rt.manual_seed(4)
    c = rt.randn(5, 3).numpy()
    assert a.shape == (5, 3) and np.array_equal(a, b) and not np.array_equal(a, c)


def test_attributes_and_item():
    t = rt.tensor([[1.0, 2.0, 3.0]])
    assert t.shape == (1, 3) and t.ndim == 2 and t.dtype == np.float64 and t.numel() == 3
    assert rt.tensor(2.5).item() == 2.5 and float(rt.tensor([4.0])) == 4.0
    assert len(rt.ones(4, 2)) == 4


def test_numpy_of_a_tensor_that_requires_grad_names_detach():
    x = rt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)"):
        x.numpy()
    with pytest.raises(RuntimeError, match=r"detach\(\)"):
        np.asarray(x)
    d = x.detach()
    assert np.asarray(d) is d.numpy() and not d.requires_grad
    d.numpy()[0] = 5.0                                  # detach shares memory, like PyTorch
    assert x.detach().tolist() == [5.0, 1.0]


def test_plain_numpy_conversion_without_grad():
    t = rt.tensor([1.0, 2.0])
    assert np.array_equal(np.asarray(t), [1.0, 2.0])
    assert np.asarray(t, dtype=np.float32).dtype == np.float32


def test_repr_like_pytorch():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr(rt.tensor([1.0], dtype=np.float32)) == "tensor([1.], dtype=float32)"
    assert repr(rt.tensor(3.0)) == "tensor(3.)" and repr(rt.tensor(2)) == "tensor(2)"
    assert repr((x * 2).grad_fn).startswith("<MulBackward0 object at 0x")


@pytest.mark.parametrize("make", [lambda: rt.tensor([1, 2], requires_grad=True),
                                  lambda: rt.arange(3).requires_grad_(),
                                  lambda: rt.tensor([True]).requires_grad_()])
def test_requires_grad_needs_a_float_dtype(make):
    with pytest.raises(RuntimeError, match="floating point"):
        make()


def test_requires_grad_flags():
    x = rt.ones(2)
    assert not x.requires_grad and x.is_leaf
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert y.requires_grad and not y.is_leaf
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    x.requires_grad = False
    assert not (x * 2).requires_grad


def test_float32_stays_float32():
    x = rt.tensor([1.0, 2.0], dtype=rt.float32, requires_grad=True)
    y = (np.exp(x) * 2.0 + 1).sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-6)


def test_tensors_hash_by_identity():
    a, b = rt.ones(2), rt.ones(2)
    assert len({a, b, a}) == 2 and {a: 1}[a] == 1


def test_comparisons_and_bool():
    x = rt.tensor([1.0, -2.0], requires_grad=True)
    mask = x > 0
    assert mask.dtype == np.bool_ and not mask.requires_grad and mask.tolist() == [True, False]
    assert bool(rt.tensor(1.0) > 0)
    assert x.argmax().item() == 0


def test_integer_tensors_compute_like_numpy():
    a = rt.tensor([1, 2, 3])
    assert (a * 2).dtype == np.int64 and (a / 2).dtype == np.float64
    assert (a @ a).item() == 14 and a.sum().item() == 6
