"""Gradients: softmax Jacobian, numerical gradients, gradcheck, and the
analytic cross-entropy gradient = finite differences = autograd."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from support import assert_close
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from coursepkg import numpy as cnp
from coursepkg import torch as ctorch
from coursepkg.gradients import GradcheckResult

C = 4


# softmax_jacobian ------------------------------------------------------------


@pytest.mark.parametrize("shape", [(C,), (3, C), (2, 3, C)])
def test_softmax_jacobian_matches_torch_autograd(backend, rng, shape):
    x = rng.normal(scale=2.0, size=shape)
    got = backend.to_numpy(backend.mod.softmax_jacobian(backend.array(x)))
    assert got.shape == shape + (C,)
    rows = x.reshape(-1, C)
    expected = np.stack(
        [torch.autograd.functional.jacobian(lambda v: torch.softmax(v, -1), torch.from_numpy(r)).numpy() for r in rows]
    ).reshape(shape + (C,))
    assert_close(got, expected, rtol=1e-13, atol=1e-16)


def test_softmax_jacobian_of_two_equal_logits(backend):
    got = backend.to_numpy(backend.mod.softmax_jacobian(backend.array([0.0, 0.0])))
    assert_close(got, [[0.25, -0.25], [-0.25, 0.25]], rtol=0, atol=0)


@given(x=arrays(np.float64, st.integers(1, 7), elements=st.floats(-50, 50)))
def test_softmax_jacobian_is_symmetric_with_rows_summing_to_zero(x):
    j = cnp.softmax_jacobian(x)
    assert_close(j, j.T, rtol=0, atol=0)
    assert_close(j.sum(axis=-1), 0.0, rtol=0, atol=4 * x.shape[0] * 2.0**-52)


# numerical_gradient and gradcheck ----------------------------------------------


def test_numerical_gradient_of_a_cubic_is_3x2(backend):
    x = backend.array([1.0, -2.0, 0.5])
    g = backend.mod.numerical_gradient(lambda v: float((v**3).sum()), x)
    assert type(g) is type(x) and tuple(g.shape) == (3,)
    assert_close(backend.to_numpy(g), [3.0, 12.0, 0.75], rtol=1e-8)
    assert_close(backend.to_numpy(x), [1.0, -2.0, 0.5], rtol=0, atol=0)  # left unchanged


def test_numerical_gradient_of_a_matrix_function(backend):
    x = backend.array([[1.0, 2.0], [3.0, 4.0]])
    g = backend.mod.numerical_gradient(lambda v: float((v[0] * v[1]).sum()), x)
    assert_close(backend.to_numpy(g), [[3.0, 4.0], [1.0, 2.0]], rtol=1e-8)


def test_numerical_gradient_does_not_disturb_autograd():
    x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    g = ctorch.numerical_gradient(lambda v: float((v**2).sum()), x)
    assert_close(g.detach().numpy(), [2.0, 4.0], rtol=1e-8)
    assert x.grad is None


def test_gradcheck_accepts_the_right_gradient_and_rejects_a_wrong_one(backend):
    x = backend.array([0.5, -1.0, 2.0])
    lse = backend.mod.logsumexp
    good = backend.mod.gradcheck(lambda v: float(lse(v)), backend.mod.softmax, x)
    assert isinstance(good, GradcheckResult)
    assert good.max_rel_error < 1e-8 and good.passed()
    bad = backend.mod.gradcheck(lambda v: float(lse(v)), lambda v: 2 * backend.mod.softmax(v), x)
    # 2p against p: every entry is off by p, i.e. by 50% relative to 2p
    assert bad.max_rel_error == pytest.approx(0.5, rel=1e-6)
    assert not bad.passed()
    assert "max rel error 5.00e-01" in str(bad)


def test_gradcheck_result_passed_uses_either_tolerance():
    assert GradcheckResult(1e-9, 0.5).passed()  # tiny absolute error
    assert GradcheckResult(0.5, 1e-9).passed()  # tiny relative error
    assert not GradcheckResult(1e-3, 1e-3).passed()
    assert GradcheckResult(1e-3, 1e-3).passed(rtol=1e-2)


def test_gradcheck_of_an_empty_array_has_no_error(backend):
    x = backend.array(np.zeros(0))
    result = backend.mod.gradcheck(lambda v: 0.0, lambda v: v, x)
    assert (result.max_abs_error, result.max_rel_error) == (0.0, 0.0)


def test_gradcheck_refuses_a_gradient_of_the_wrong_shape(backend):
    x = backend.array([0.5, -1.0])
    with pytest.raises(ValueError, match=r"grad_f returned shape \(3,\), but x has shape \(2,\)"):
        backend.mod.gradcheck(lambda v: 0.0, lambda v: backend.array([1.0, 2.0, 3.0]), x)


@pytest.mark.parametrize("eps", [0.0, -1e-6, 1.0, math.nan])
def test_bad_eps_value_is_refused(backend, eps):
    with pytest.raises(ValueError, match="eps must be in"):
        backend.mod.numerical_gradient(lambda v: 0.0, backend.array([1.0]), eps=eps)


@pytest.mark.parametrize("eps", ["1e-6", None, True])
def test_bad_eps_type_is_refused(backend, eps):
    with pytest.raises(TypeError, match="eps must be a positive number"):
        backend.mod.numerical_gradient(lambda v: 0.0, backend.array([1.0]), eps=eps)


def test_non_callable_f_is_refused(backend):
    with pytest.raises(TypeError, match="f must be callable, got float"):
        backend.mod.numerical_gradient(1.0, backend.array([1.0]))


def test_integer_x_is_refused(backend):
    with pytest.raises(TypeError, match="x must hold floating-point numbers"):
        backend.mod.numerical_gradient(lambda v: 0.0, backend.index([1, 2]))


def test_integer_x_for_the_jacobian_is_refused(backend):
    with pytest.raises(TypeError, match="x must hold floating-point numbers"):
        backend.mod.softmax_jacobian(backend.index([1, 2]))


# analytic = finite differences = autograd, for the cross-entropy loss ---------

OPTIONS = list(
    itertools.product(
        ["index", "prob"], [(C,), (2, C, 3)], [False, True], ["mean", "sum", "none"], [0.0, 0.2, 1.0]
    )
)


def _case(kind, shape, weighted, seed=0):
    rng = np.random.default_rng([seed, len(shape), ord(kind[0])])
    class_axis = 0 if len(shape) == 1 else 1
    logits = torch.tensor(rng.normal(scale=2.0, size=shape), dtype=torch.float64, requires_grad=True)
    if kind == "index":
        index_shape = tuple(s for i, s in enumerate(shape) if i != class_axis)
        target = torch.from_numpy(rng.integers(0, C, size=index_shape))
        if target.ndim:
            target.view(-1)[0] = -100  # one ignored element
    else:
        w = rng.gamma(0.8, size=shape)
        target = torch.from_numpy(w / w.sum(axis=class_axis, keepdims=True))
    weight = torch.from_numpy(rng.uniform(0.5, 2.0, C)) if weighted else None
    return logits, target, weight


@pytest.mark.parametrize("kind,shape,weighted,reduction,smoothing", OPTIONS)
def test_torch_gradcheck_of_the_hand_written_backward(kind, shape, weighted, reduction, smoothing):
    logits, target, weight = _case(kind, shape, weighted)

    def loss(z):
        return ctorch.cross_entropy_loss(
            z, target, weight=weight, reduction=reduction, label_smoothing=smoothing
        )

    assert torch.autograd.gradcheck(loss, (logits,), eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("kind,shape,weighted,reduction,smoothing", OPTIONS[::3])
def test_analytic_gradient_equals_finite_differences_equals_autograd(kind, shape, weighted, reduction, smoothing):
    logits, target, weight = _case(kind, shape, weighted, seed=1)
    options = dict(weight=None if weight is None else weight.numpy(), reduction=reduction, label_smoothing=smoothing)
    z, t = logits.detach().numpy(), target.numpy()
    analytic = cnp.cross_entropy_loss_grad(z, t, **options)
    numeric = cnp.numerical_gradient(lambda v: float(np.sum(cnp.cross_entropy_loss(v, t, **options))), z)
    F.cross_entropy(logits, target, weight=weight, reduction=reduction, label_smoothing=smoothing).sum().backward()
    assert_close(analytic, numeric, rtol=1e-6, atol=1e-8)
    assert_close(analytic, logits.grad.numpy(), rtol=1e-12, atol=1e-15)
    result = cnp.gradcheck(lambda v: float(np.sum(cnp.cross_entropy_loss(v, t, **options))),
                           lambda v: cnp.cross_entropy_loss_grad(v, t, **options), z)
    assert result.passed(rtol=1e-6, atol=1e-8)


@st.composite
def loss_problems(draw):
    n = draw(st.integers(1, 5))
    c = draw(st.integers(1, 6))
    logits = draw(arrays(np.float64, (n, c), elements=st.floats(-30, 30)))
    if draw(st.booleans()):
        target = draw(arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    else:
        w = draw(arrays(np.float64, (n, c), elements=st.floats(0.01, 1.0)))
        target = w / w.sum(axis=1, keepdims=True)
    weight = draw(st.one_of(st.none(), arrays(np.float64, (c,), elements=st.floats(0.1, 3.0))))
    options = dict(
        weight=weight,
        reduction=draw(st.sampled_from(["mean", "sum", "none"])),
        label_smoothing=draw(st.sampled_from([0.0, 0.1, 0.5, 1.0])),
    )
    return logits, target, options


@given(problem=loss_problems())
def test_gradient_rows_sum_to_zero(problem):
    logits, target, options = problem
    for face, conv in ((cnp, np.asarray), (ctorch, torch.from_numpy)):
        opts = dict(options, weight=None if options["weight"] is None else conv(options["weight"]))
        g = np.asarray(face.cross_entropy_loss_grad(conv(logits), conv(target), **opts))
        # |p sum(t) - t| <= 2 max(w), and "mean" divides by at least min(w)
        w = np.ones(1) if options["weight"] is None else options["weight"]
        bound = 2 * w.max() / min(w.min(), 1.0)
        assert_close(g.sum(axis=1), 0.0, rtol=0, atol=8 * logits.shape[1] * bound * 2.0**-52)


@given(problem=loss_problems())
def test_analytic_gradient_matches_torch_autograd_property(problem):
    logits, target, options = problem
    z = torch.tensor(logits, requires_grad=True)
    w = None if options["weight"] is None else torch.from_numpy(options["weight"])
    F.cross_entropy(z, torch.from_numpy(target), weight=w, reduction=options["reduction"],
                    label_smoothing=options["label_smoothing"]).sum().backward()
    assert_close(cnp.cross_entropy_loss_grad(logits, target, **options), z.grad.numpy(), rtol=1e-10, atol=1e-14)
    mine = torch.tensor(logits, requires_grad=True)
    ctorch.cross_entropy_loss(mine, torch.from_numpy(target), weight=w, reduction=options["reduction"],
                              label_smoothing=options["label_smoothing"]).sum().backward()
    assert_close(mine.grad.numpy(), z.grad.numpy(), rtol=1e-10, atol=1e-14)
