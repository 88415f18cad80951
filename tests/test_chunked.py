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
    (dict(hidden=np.float64(0.0)), ValueError, r"hidden must have shape \(H\), \(N, H\) or \(\.\.\., H\), got a scalar"),
    (dict(hidden=np.zeros(3)), ValueError, r"target must have shape \(\) for hidden of shape \(3,\), got \(2,\)"),
    (dict(target=np.zeros((2, 4))), ValueError, r"target of class probabilities must have shape \(2, 5\)"),
    (dict(target=-np.ones((2, 5))), ValueError, "target has negative entries"),
    (dict(target=np.ones((2, 5)), ignore_index=0), ValueError, "ignore_index=0 is not supported"),
    (dict(weight=np.ones(4)), ValueError, r"weight must have shape \(5,\)"),
    (dict(weight=np.ones(5, dtype=int)), TypeError, "weight must hold floating-point"),
    (dict(weight=np.zeros((5, 4))), ValueError, "weight must have shape"),
    (dict(weight=np.zeros((0, 3))), ValueError, "vocabulary is empty"),
    (dict(weight=np.zeros((5, 3), dtype=np.float32)), TypeError, "weight has dtype"),
    (dict(bias=np.zeros(4)), ValueError, "bias must have shape"),
    (dict(target=np.zeros(2, dtype=bool)), TypeError, "target must hold integer class indices or floating"),
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
    if "weight" in change and change["weight"].ndim == 1:  # class weights
        args["class_weight"] = args.pop("weight")
        args["weight"] = np.zeros((5, 3))
    kwargs = {k: args.pop(k) for k in list(args) if k not in
              ("hidden", "weight", "target")}
    if "class_weight" in kwargs:
        kwargs["weight"] = kwargs.pop("class_weight")
    with pytest.raises(error, match=message):
        cnp.linear_cross_entropy(args["hidden"], args["weight"], args["target"],
                                 **kwargs)


def test_torch_face_refuses_arrays():
    with pytest.raises(TypeError, match="hidden must be a torch.Tensor"):
        ctorch.linear_cross_entropy(np.zeros((2, 3)), torch.zeros(5, 3),
                                    torch.tensor([0, 1]))


LINEAR_SEMANTICS = [
    dict(weight=True),
    dict(weight=True, label_smoothing=0.3, reduction="none"),
    dict(weight=True, ignored=True),
    dict(prob=True),
    dict(prob=True, weight=True, label_smoothing=0.2),
    dict(prob=True, reduction="none"),
]


def _semantics_case(options, lead=(6,)):
    gen = torch.Generator().manual_seed(4)
    h, v = 3, 7
    hidden = torch.randn(*lead, h, generator=gen, dtype=torch.float64)
    linear_weight = torch.randn(v, h, generator=gen, dtype=torch.float64)
    bias = torch.randn(v, generator=gen, dtype=torch.float64)
    options = dict(options)
    if options.pop("prob", False):
        target = torch.rand(*lead, v, generator=gen, dtype=torch.float64) * 0.4
    else:
        target = torch.randint(0, v, lead, generator=gen)
        if options.pop("ignored", False) and target.numel() > 1:
            target.view(-1)[1] = -100
    if options.get("weight"):
        options["weight"] = torch.rand(v, generator=gen, dtype=torch.float64) + 0.5
    return hidden, linear_weight, bias, target, options


def _torch_reference(hidden, linear_weight, bias, target, **options):
    logits = hidden @ linear_weight.T + bias
    if logits.ndim > 2:  # classes on dimension 1, as F.cross_entropy wants
        logits = logits.movedim(-1, 1)
        if target.is_floating_point():
            target = target.movedim(-1, 1)
    return F.cross_entropy(logits, target, **options)


@pytest.mark.parametrize("options", LINEAR_SEMANTICS, ids=str)
@pytest.mark.parametrize("lead", [(6,), (), (2, 3)], ids=str)
def test_linear_cross_entropy_weights_probabilities_and_shapes_match_torch(options, lead):
    hidden, linear_weight, bias, target, options = _semantics_case(options, lead)
    want = _torch_reference(hidden, linear_weight, bias, target, **options)
    leaves = [t.clone().requires_grad_() for t in (hidden, linear_weight, bias)]
    got = ctorch.linear_cross_entropy(leaves[0], leaves[1], target, bias=leaves[2],
                                      chunk_size=3, **options)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
    got.sum().backward()
    ref = [t.clone().requires_grad_() for t in (hidden, linear_weight, bias)]
    _torch_reference(ref[0], ref[1], ref[2], target, **options).sum().backward()
    for a, b in zip(leaves, ref):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-11, atol=1e-13)
    np_options = {k: (v.numpy() if isinstance(v, torch.Tensor) else v)
                  for k, v in options.items()}
    got_np = cnp.linear_cross_entropy(hidden.numpy(), linear_weight.numpy(),
                                      target.numpy(), bias=bias.numpy(), chunk_size=3,
                                      **np_options)
    np.testing.assert_allclose(got_np, want.numpy(), rtol=1e-12, atol=1e-14)
    grads = cnp.linear_cross_entropy_grad(hidden.numpy(), linear_weight.numpy(),
                                          target.numpy(), bias=bias.numpy(), chunk_size=3,
                                          **np_options)
    for a, b in zip(grads, ref):
        np.testing.assert_allclose(a, b.grad.numpy(), rtol=1e-11, atol=1e-13)


def test_linear_cross_entropy_refuses_to_differentiate_target_and_class_weight():
    hidden, linear_weight, bias, target, options = _semantics_case(
        dict(prob=True, weight=True))
    with pytest.raises(ValueError, match="target requires grad"):
        ctorch.linear_cross_entropy(hidden, linear_weight, target.requires_grad_())
    with pytest.raises(ValueError, match="weight requires grad"):
        ctorch.linear_cross_entropy(hidden, linear_weight, target.detach(),
                                    weight=options["weight"].requires_grad_())
