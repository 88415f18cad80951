"""SciPy's and torch's calling conventions on both faces.

Integer input, ``axis=None`` and tuples of axes, 0-d input, ``logsumexp``'s
``b=`` and ``return_sign=``, NumPy scalars for 0-d results and a fresh
tensor for an empty class axis, each checked against SciPy or torch.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sps
import torch

from coursepkg import numpy as cnp
from coursepkg import torch as ctorch

NAMES = ["softmax", "log_softmax", "logsumexp"]
AXES = [None, (0, 2), (2, 0), (1,), (-1, -2), 1]


def _x(rng, shape=(3, 4, 5)):
    return rng.standard_normal(shape) * 3


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("axis", AXES, ids=str)
def test_axis_tuple_and_none_match_scipy(name, axis, rng):
    x = _x(rng)
    want = getattr(sps, name)(x, axis=axis)
    got_np = getattr(cnp, name)(x, axis=axis)
    got_t = getattr(ctorch, name)(torch.from_numpy(x), axis=axis)
    np.testing.assert_allclose(got_np, want, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(got_t.numpy(), want, rtol=1e-13, atol=1e-15)
    if name == "logsumexp":
        keep = sps.logsumexp(x, axis=axis, keepdims=True)
        assert cnp.logsumexp(x, axis=axis, keepdims=True).shape == keep.shape
        np.testing.assert_allclose(
            ctorch.logsumexp(torch.from_numpy(x), axis, True).numpy(), keep, rtol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_axis_tuple_gradients_equal_torch(name):
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    ref = {"softmax": lambda a: torch.softmax(a.permute(1, 0, 2).reshape(4, 15), -1),
           "log_softmax": lambda a: torch.log_softmax(a.permute(1, 0, 2).reshape(4, 15), -1),
           "logsumexp": lambda a: torch.logsumexp(a, (0, 2))}[name]
    grads = []
    for f in (ref, lambda a: getattr(ctorch, name)(a, axis=(0, 2))):
        leaf = x.clone().requires_grad_()
        out = f(leaf)
        if name != "logsumexp":  # back to (3, 4, 5) order for the reference
            out = out if f is not ref else out.reshape(4, 3, 5).permute(1, 0, 2)
        (out * torch.arange(out.numel(), dtype=x.dtype).reshape(out.shape)).sum().backward()
        grads.append(leaf.grad)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_integer_input_is_promoted_as_scipy_and_torch(name):
    x = np.array([[1, 5, -2], [0, 0, 3]])
    want = getattr(sps, name)(x, axis=-1)
    got = getattr(cnp, name)(x)
    assert got.dtype == np.float64 == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-14)
    t = torch.from_numpy(x)
    got_t = getattr(ctorch, name)(t)
    assert got_t.dtype == torch.get_default_dtype()
    ref = {"softmax": torch.softmax, "log_softmax": torch.log_softmax}.get(name)
    want_t = torch.logsumexp(t, -1) if ref is None else ref(t.float(), -1)
    torch.testing.assert_close(got_t, want_t)
    with pytest.raises(TypeError, match="x must hold floating-point numbers, got dtype bool"):
        getattr(cnp, name)(np.array([True, False]))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("axis", [None, -1, 0, ()], ids=str)
def test_zero_d_input_as_scipy(name, axis):
    x = np.float64(2.5)
    want = getattr(sps, name)(x, axis=axis) if axis != () or name != "logsumexp" else 2.5
    got = getattr(cnp, name)(x, axis=axis)
    assert isinstance(got, np.float64) and got == want
    got_t = getattr(ctorch, name)(torch.tensor(2.5, dtype=torch.float64), axis=axis)
    assert got_t.shape == () and float(got_t) == want
    with pytest.raises(ValueError, match="axis=1 is out of range for x with 1 dimension"):
        getattr(cnp, name)(x, axis=1)


def test_results_are_numpy_scalars_where_scipy_returns_them():
    x = np.array([1.0, 2.0, 3.0])
    for got, want in ((cnp.logsumexp(x), sps.logsumexp(x)),
                      (cnp.logsumexp(x[None], axis=(0, 1)), sps.logsumexp(x[None], axis=(0, 1))),
                      (cnp.logsumexp([[1.0]], axis=None), sps.logsumexp([[1.0]]))):
        assert type(got) is type(want) is np.float64
        assert got == pytest.approx(want, rel=1e-15)
    assert isinstance(cnp.logsumexp(x, keepdims=True), np.ndarray)
    assert isinstance(cnp.softmax(x), np.ndarray)


B_CASES = {
    "positive": ([1.0, 2.0, 3.0], [0.5, 1.0, 2.0]),
    "negative sum": ([1.0, 2.0, 3.0], [1.0, 1.0, -2.0]),
    "zero weights": ([1000.0, 2.0, -np.inf], [0.0, 1.0, 0.0]),
    "zero sum": ([0.0, 0.0], [1.0, -1.0]),
    "all zero weights": ([1.0, 2.0], [0.0, 0.0]),
    "huge": ([1000.0, 1000.0], [1.0, 3.0]),
}


@pytest.mark.parametrize("case", list(B_CASES))
@pytest.mark.parametrize("return_sign", [False, True])
def test_logsumexp_weights_and_sign_match_scipy(case, return_sign):
    a, b = map(np.array, B_CASES[case])
    want = sps.logsumexp(a, b=b, return_sign=return_sign)
    got = cnp.logsumexp(a, b=b, return_sign=return_sign)
    got_t = ctorch.logsumexp(torch.from_numpy(a), b=torch.from_numpy(b),
                             return_sign=return_sign)
    if return_sign:
        np.testing.assert_allclose(got, want, rtol=1e-14)
        np.testing.assert_allclose([t.numpy() for t in got_t], want, rtol=1e-14)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-14)
        np.testing.assert_allclose(got_t.numpy(), want, rtol=1e-14)


def test_logsumexp_weights_broadcast_over_axes_as_scipy(rng):
    x = _x(rng)
    b = rng.standard_normal((4, 1))
    for axis in (None, (1, 2), -1):
        for keepdims in (False, True):
            want = sps.logsumexp(x, axis=axis, b=b, keepdims=keepdims, return_sign=True)
            got = cnp.logsumexp(x, axis=axis, b=b, keepdims=keepdims, return_sign=True)
            for g, w in zip(got, want):
                assert np.shape(g) == np.shape(w)
                np.testing.assert_allclose(g, w, rtol=1e-12)
    with pytest.raises(ValueError, match=r"b of shape \(2,\) does not broadcast with x of shape \(3, 4, 5\)"):
        cnp.logsumexp(x, b=np.ones(2))
    with pytest.raises(ValueError, match=r"b of shape \(2,\) does not broadcast"):
        ctorch.logsumexp(torch.from_numpy(x), b=torch.ones(2, dtype=torch.float64))


def test_logsumexp_weights_are_differentiable_on_the_torch_face():
    a = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    b = (torch.rand(3, 4, dtype=torch.float64) + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w: ctorch.logsumexp(x, b=w), (a, b))
    got, = torch.autograd.grad(ctorch.logsumexp(a, b=b).sum(), b)
    want, = torch.autograd.grad(torch.log((b * a.exp()).sum(-1)).sum(), b)
    torch.testing.assert_close(got, want, rtol=1e-13, atol=0)


def test_repeated_axis_is_refused():
    with pytest.raises(ValueError, match=r"axis=\(0, -2\) repeats an axis of x"):
        cnp.logsumexp(np.zeros((2, 3)), axis=(0, -2))
    with pytest.raises(ValueError, match="axis=5 is out of range for x"):
        ctorch.softmax(torch.zeros(2, 3), axis=(0, 5))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_empty_class_axis_gives_a_fresh_tensor_with_grad_fn(name):
    x = torch.zeros(3, 0, requires_grad=True)
    out = getattr(ctorch, name)(x)
    assert out is not x and out.shape == (3, 0) and out.grad_fn is not None
    torch_out = getattr(torch, name)(x, -1)
    assert torch_out.shape == out.shape and torch_out is not x
    a = np.zeros((2, 0))
    assert getattr(cnp, name)(a) is not a


def test_logsumexp_return_sign_without_weights_as_scipy():
    x = np.array([[1.0, 2.0], [-np.inf, -np.inf]])
    want = sps.logsumexp(x, axis=1, return_sign=True)
    got = cnp.logsumexp(x, return_sign=True)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_probability_targets_with_nan_are_refused():
    for face, make in ((cnp, np.array), (ctorch, torch.tensor)):
        with pytest.raises(ValueError, match="target has NaN or infinite entries"):
            face.cross_entropy_loss(make([[0.0, 1.0]]), make([[np.nan, 1.0]]))
