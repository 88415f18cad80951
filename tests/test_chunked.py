"""Chunked (online log-sum-exp) cross-entropy of a linear layer.

References are eager PyTorch: ``F.cross_entropy(F.linear(h, W, b), y)`` and
its autograd gradients, in float64 (tight) and float32 (the 1e-6 relative
loss / 1e-5 gradient targets of the large-vocabulary issue).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursepkg import chunked
from coursepkg import numpy as cnp
from coursepkg import torch as ctorch


def problem(n=23, h=6, v=53, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, h, dtype=dtype, generator=g, requires_grad=True)
    weight = torch.randn(v, h, dtype=dtype, generator=g, requires_grad=True)
    bias = torch.randn(v, dtype=dtype, generator=g, requires_grad=True)
    target = torch.randint(0, v, (n,), generator=g)
    target[2] = -100
    return hidden, weight, bias, target


def eager(hidden, weight, bias, target, **options):
    return F.cross_entropy(F.linear(hidden, weight, bias), target, **options)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("chunk_size", [1, 7, 53, 1000, None])
def test_torch_loss_and_grads_equal_eager_float64(reduction, label_smoothing,
                                                   use_bias, chunk_size):
    hidden, weight, bias, target = problem()
    bias = bias if use_bias else None
    opts = dict(reduction=reduction, label_smoothing=label_smoothing)
    ref = eager(hidden, weight, bias, target, **opts)
    got = ctorch.linear_cross_entropy(hidden, weight, target, bias=bias,
                                      chunk_size=chunk_size, **opts)
    torch.testing.assert_close(got, ref, rtol=1e-13, atol=1e-13)
    inputs = [hidden, weight] + ([bias] if use_bias else [])
    gout = torch.rand_like(ref)
    for a, b in zip(torch.autograd.grad(got, inputs, gout),
                    torch.autograd.grad(ref, inputs, gout)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)


def test_float32_meets_the_issue_tolerances():
    hidden, weight, bias, target = problem(n=256, h=64, v=5000, dtype=torch.float32)
    with torch.no_grad():
        weight *= 0.3
    ref = eager(hidden, weight, None, target)
    got = ctorch.linear_cross_entropy(hidden, weight, target, chunk_size=512)
    assert abs(got.item() - ref.item()) <= 1e-6 * abs(ref.item())
    for a, b in zip(torch.autograd.grad(got, [hidden, weight]),
                    torch.autograd.grad(ref, [hidden, weight])):
        assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_float64(reduction):
    hidden, weight, bias, target = problem(n=5, h=3, v=7)
    assert torch.autograd.gradcheck(
        lambda h, w, b: ctorch.linear_cross_entropy(
            h, w, target, bias=b, chunk_size=3, reduction=reduction,
            label_smoothing=0.1),
        (hidden, weight, bias),
    )


def test_only_requested_gradients_are_computed():
    hidden, weight, bias, target = problem()
    weight.requires_grad_(False)
    loss = ctorch.linear_cross_entropy(hidden, weight, target, bias=bias.detach())
    loss.backward()
    torch.testing.assert_close(
        hidden.grad, torch.autograd.grad(
            eager(hidden, weight, bias.detach(), target), hidden)[0])
    assert weight.grad is None


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_numpy_face_agrees_with_torch(reduction):
    hidden, weight, bias, target = problem()
    args = [t.detach().numpy() for t in (hidden, weight)] + [target.numpy()]
    opts = dict(reduction=reduction, label_smoothing=0.1, chunk_size=10)
    got = cnp.linear_cross_entropy(*args, bias=bias.detach().numpy(), **opts)
    ref = ctorch.linear_cross_entropy(hidden, weight, target, bias=bias, **opts)
    np.testing.assert_allclose(got, ref.detach().numpy(), rtol=1e-13)
    grads = cnp.linear_cross_entropy_grad(*args, bias=bias.detach().numpy(), **opts)
    refs = torch.autograd.grad(ref.sum(), [hidden, weight, bias])
    for a, b in zip(grads, refs):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-11, atol=1e-14)
    assert cnp.linear_cross_entropy_grad(*args)[2] is None


def test_all_targets_ignored():
    hidden, weight, _, _ = problem(n=3)
    target = torch.full((3,), -100)
    assert math.isnan(ctorch.linear_cross_entropy(hidden, weight, target).item())
    gh, gw, _ = ctorch.linear_cross_entropy_grad(hidden.detach(), weight.detach(),
                                                 target)
    assert gh.abs().max() == 0 and gw.abs().max() == 0


def test_online_merge_and_logsumexp_match_the_one_shot_value():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 1000)) * 30
    want = np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)) + x.max(1)
    for size in (1, 7, 999, 5000):
        np.testing.assert_allclose(chunked.online_logsumexp(x, size), want,
                                   rtol=1e-13)
    m, d = chunked.online_merge(np.array(-np.inf), 0.0, np.array(-np.inf), 0.0)
    assert m == -np.inf and d == 0.0
    xt = torch.tensor(x)
    torch.testing.assert_close(chunked.online_logsumexp(xt, 64),
                               torch.logsumexp(xt, -1))


BAD = [
    (dict(hidden=np.zeros((2, 3), dtype=int)), TypeError, "hidden must hold floating"),
    (dict(hidden=np.zeros(3)), ValueError, "hidden must have shape"),
    (dict(weight=np.zeros((5, 4))), ValueError, "weight must have shape"),
    (dict(weight=np.zeros((0, 3))), ValueError, "vocabulary is empty"),
    (dict(weight=np.zeros((5, 3), dtype=np.float32)), TypeError, "weight has dtype"),
    (dict(bias=np.zeros(4)), ValueError, "bias must have shape"),
    (dict(target=np.zeros(2)), TypeError, "target must hold integer"),
    (dict(target=np.zeros(3, dtype=int)), ValueError, "target must have shape"),
    (dict(target=np.array([0, 5])), ValueError, "class index 5"),
    (dict(chunk_size=0), ValueError, "chunk_size must be positive"),
    (dict(chunk_size=2.5), TypeError, "chunk_size must be a positive int"),
    (dict(reduction="avg"), ValueError, "reduction"),
    (dict(label_smoothing=2.0), ValueError, "label_smoothing"),
]


@pytest.mark.parametrize("change,error,message", BAD)
def test_bad_input_names_the_argument(change, error, message):
    args = dict(hidden=np.zeros((2, 3)), weight=np.zeros((5, 3)),
                target=np.array([0, 4]))
    args.update(change)
    kwargs = {k: args.pop(k) for k in list(args) if k not in
              ("hidden", "weight", "target")}
    with pytest.raises(error, match=message):
        cnp.linear_cross_entropy(args["hidden"], args["weight"], args["target"],
                                 **kwargs)


def test_torch_face_refuses_arrays():
    with pytest.raises(TypeError, match="hidden must be a torch.Tensor"):
        ctorch.linear_cross_entropy(np.zeros((2, 3)), torch.zeros(5, 3),
                                    torch.tensor([0, 1]))
