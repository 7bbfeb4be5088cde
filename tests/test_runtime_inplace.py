"""In-place operations: version counters, the saved-tensor check, leaves, views, gradients."""
import numpy as np
import pytest

import runtime as rt


@pytest.mark.parametrize("op", [lambda t: t.add_(1.0), lambda t: t.sub_(1.0), lambda t: t.mul_(2.0),
                                lambda t: t.div_(2.0), lambda t: t.zero_(), lambda t: t.fill_(3.0),
                                lambda t: t.__iadd__(1.0), lambda t: t.__imul__(2.0),
                                lambda t: t.__isub__(rt.ones(2)), lambda t: t.__itruediv__(2.0),
                                lambda t: t.__setitem__(0, 5.0), lambda t: t.copy_(rt.zeros(2))])
def test_in_place_operations_bump_the_version(op):
    t = rt.tensor([1.0, 2.0])
    data = t.numpy()
    assert t._version == 0
    op(t)
    assert t._version == 1 and t.numpy() is data                       # same memory


def test_in_place_values():
    t = rt.tensor([1.0, 2.0])
    t += 1
    t *= 3
    t -= rt.tensor([1.0, 1.0])
    t /= 2
    np.testing.assert_array_equal(t.numpy(), [2.5, 4.0])
    t[1] = 0.0
    t.add_(rt.tensor([1.0, 1.0]), alpha=2.0)
    np.testing.assert_array_equal(t.numpy(), [4.5, 2.0])
    t.zero_()
    assert t.tolist() == [0.0, 0.0]
    t.fill_(7.0)
    assert t.tolist() == [7.0, 7.0]


def test_in_place_on_a_leaf_that_requires_grad():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    for op in (lambda: x.add_(1.0), lambda: x.__imul__(2.0), lambda: x.__setitem__(0, 1.0), lambda: x.zero_()):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad is being used in an in-place"):
            op()
    with pytest.raises(RuntimeError, match="view of a leaf"):
        x[0:1].mul_(2.0)
    with rt.no_grad():
        x.add_(1.0)                                                      # an optimizer step
    assert x.tolist() == [2.0, 3.0] and x.is_leaf


def test_modified_saved_tensor_is_detected():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = y * y                                   # saves y at version 0
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*is at version 1; "
                                           "expected version 0 instead"):
        z.sum().backward()


def test_modified_saved_output_is_detected():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    e = np.exp(x)                               # ExpBackward0 saves its output
    e.add_(1)
    with pytest.raises(RuntimeError, match="output 0 of ExpBackward0"):
        e.sum().backward()


def test_modifying_an_input_that_was_not_saved_is_fine():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    e = np.exp(y)                               # needs exp(y), not y
    y.add_(1)
    e.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]))


def test_in_place_on_a_non_leaf_records_the_gradient():
    x = rt.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y += x * x                                  # y = 3x + x^2
    y.mul_(2.0)                                 # y = 6x + 2x^2
    assert y.grad_fn.name() == "MulBackward0" and y._version == 2
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 + 4 * np.array([1.0, 2.0]))


def test_in_place_multiply_by_a_tensor_that_requires_grad():
    x, z = rt.ones(3, requires_grad=True), rt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y.mul_(z)                                   # d/dz uses y before the update (2)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(z.grad.numpy(), [2.0, 2.0, 2.0])


def test_item_assignment_records_copy_slices():
    x = rt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = rt.zeros(2, 3)
    h[0] = x * 2
    h[1, 1:] = x[:2] ** 2
    assert h.grad_fn.name() == "CopySlices" and h.requires_grad
    np.testing.assert_array_equal(h.detach().numpy(), [[2, 4, 6], [0, 1, 4]])
    (h * rt.tensor([[1.0, 1.0, 1.0], [1.0, 10.0, 100.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2 + 10 * 2 * 1, 2 + 100 * 2 * 2, 2])


def test_overwritten_values_get_no_gradient():
    x = rt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y[1] = 0.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 1.0])
    w = x * 1
    w.fill_(2.0)
    assert w.grad_fn.name() == "FillBackward0"
    (w * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 2.0, 3.0])


def test_views_share_data_and_version():
    t = rt.tensor([[1.0, 2.0], [3.0, 4.0]])
    row = t[0]
    flat = t.reshape(4)
    row.mul_(10)
    assert t.tolist() == [[10.0, 20.0], [3.0, 4.0]] and flat.tolist()[:2] == [10.0, 20.0]
    assert t._version == row._version == flat._version == 1
    c = t.clone()
    c.add_(1)
    assert t._version == 1 and c.tolist()[1] == [4.0, 5.0]


def test_in_place_type_errors_like_numpy():
    t = rt.tensor([1, 2])
    with pytest.raises(TypeError):
        t += 0.5
