"""Tests of cross_entropy_loss, nll_loss and cross_entropy_loss_grad.

The reference is ``torch.nn.functional`` in float64, over the whole grid of
options: target kind x input shape x weight x ignore_index x reduction x
label smoothing, on both faces.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from support import BACKENDS, assert_close, dtype_tol

from coursepkg import numpy as cnp
from coursepkg import torch as ctorch

C = 4
SHAPES = [(C,), (3, C), (3, C, 2), (2, C, 3, 2)]
REDUCTIONS = ["none", "mean", "sum"]
SMOOTHING = [0.0, 0.1, 1.0]
# how ignore_index shows up: not in the targets, or in some of them (the
# default -100; "in-range", a real class used as ignore_index, has its own
# smaller grid below)
IGNORE = ["absent", "present"]


def make_case(seed, shape, kind, ignore, weighted):
    """Logits, target, weight (NumPy float64/int64) and the ignore_index."""
    rng = np.random.default_rng([seed, len(shape), ord(kind[0]), ord(ignore[0])])
    logits = rng.normal(scale=3.0, size=shape)
    class_axis = 0 if len(shape) == 1 else 1
    ignore_index = 2 if ignore == "in-range" else -100
    if kind == "index":
        index_shape = tuple(s for i, s in enumerate(shape) if i != class_axis)
        target = rng.integers(0, C, size=index_shape)
        flat = target.reshape(-1)  # a view (0-d arrays reshape to (1,))
        if ignore != "absent":
            flat[0] = ignore_index
        target = flat.reshape(index_shape)
    else:
        w = rng.gamma(0.8, size=shape)
        target = w / w.sum(axis=class_axis, keepdims=True)
    weight = rng.uniform(0.5, 2.0, size=C) if weighted else None
    return logits, target, weight, ignore_index


def torch_inputs(logits, target, weight, requires_grad=False):
    z = torch.tensor(logits, dtype=torch.float64, requires_grad=requires_grad)
    t = torch.from_numpy(np.asarray(target))
    w = None if weight is None else torch.from_numpy(weight)
    return z, t, w


def to_backend(backend, logits, target, weight, dtype="float64"):
    x = backend.array(logits, dtype)
    if np.asarray(target).dtype.kind == "i":
        t = backend.index(target)
    else:
        t = backend.array(target, dtype)
    w = None if weight is None else backend.array(weight, dtype)
    return x, t, w


# probability targets take no ignore_index (torch refuses one; so do we)
GRID = [
    case
    for case in itertools.product(["index", "prob"], SHAPES, [False, True], IGNORE, REDUCTIONS, SMOOTHING)
    if case[0] == "index" or case[3] == "absent"
]
GRID_IDS = [f"{k}-{len(s)}d-{'w' if w else 'nw'}-{i}-{r}-ls{ls}" for k, s, w, i, r, ls in GRID]


# (a) reference comparisons -------------------------------------------------


@pytest.mark.parametrize("kind,shape,weighted,ignore,reduction,smoothing", GRID, ids=GRID_IDS)
def test_loss_gradient_and_backward_match_torch(kind, shape, weighted, ignore, reduction, smoothing):
    """On every backend: cross_entropy_loss = F.cross_entropy and
    cross_entropy_loss_grad = its autograd gradient; on the torch face, the
    hand-written backward = autograd's, under a non-uniform upstream gradient.

    The backends are looped over inside (not parametrized) to keep the
    grid's 216 cells cheap; each failure message names the backend.
    """
    logits, target, weight, ignore_index = make_case(1, shape, kind, ignore, weighted)
    options = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    z, t, w = torch_inputs(logits, target, weight, requires_grad=True)
    expected = F.cross_entropy(z, t, weight=w, **options)
    expected.sum().backward()  # "none": the gradient of the sum
    expected_grad = z.grad.numpy().copy()
    for backend in BACKENDS:
        x, tt, ww = to_backend(backend, logits, target, weight)
        got = backend.mod.cross_entropy_loss(x, tt, weight=ww, **options)
        assert tuple(got.shape) == tuple(expected.shape), backend.label
        assert backend.dtype_name(got) == "float64", backend.label
        assert_close(backend.to_numpy(got), expected.detach().numpy(), rtol=1e-12, atol=1e-14, msg=backend.label)
        grad = backend.mod.cross_entropy_loss_grad(x, tt, weight=ww, **options)
        assert tuple(grad.shape) == shape, backend.label
        assert_close(backend.to_numpy(grad), expected_grad, rtol=1e-12, atol=1e-14, msg=backend.label)

    z.grad = None
    upstream = torch.linspace(0.5, 1.5, math.prod(expected.shape), dtype=torch.float64).reshape(expected.shape)
    (F.cross_entropy(z, t, weight=w, **options) * upstream).sum().backward()
    mine = z.detach().clone().requires_grad_(True)
    (ctorch.cross_entropy_loss(mine, t, weight=w, **options) * upstream).sum().backward()
    assert_close(mine.grad.numpy(), z.grad.numpy(), rtol=1e-12, atol=1e-14, msg="torch backward")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[3]], ids=["1d", "4d"])
def test_a_real_class_as_ignore_index_matches_torch(backend, shape, reduction):
    logits, target, weight, ignore_index = make_case(6, shape, "index", "in-range", True)
    options = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=0.1)
    z, t, w = torch_inputs(logits, target, weight, requires_grad=True)
    expected = F.cross_entropy(z, t, weight=w, **options)
    expected.sum().backward()
    x, tt, ww = to_backend(backend, logits, target, weight)
    got = backend.mod.cross_entropy_loss(x, tt, weight=ww, **options)
    assert_close(backend.to_numpy(got), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    grad = backend.mod.cross_entropy_loss_grad(x, tt, weight=ww, **options)
    assert_close(backend.to_numpy(grad), z.grad.numpy(), rtol=1e-12, atol=1e-14)


NLL_GRID = list(itertools.product(SHAPES, [False, True], IGNORE + ["in-range"], REDUCTIONS))


@pytest.mark.parametrize("shape,weighted,ignore,reduction", NLL_GRID)
def test_nll_loss_matches_torch(shape, weighted, ignore, reduction):
    logits, target, weight, ignore_index = make_case(4, shape, "index", ignore, weighted)
    log_probs = torch.log_softmax(torch.from_numpy(logits), 0 if len(shape) == 1 else 1).numpy()
    z, t, w = torch_inputs(log_probs, target, weight)
    expected = F.nll_loss(z, t, weight=w, ignore_index=ignore_index, reduction=reduction).numpy()
    for backend in BACKENDS:  # looped, not parametrized: cheap cells
        x, tt, ww = to_backend(backend, log_probs, target, weight)
        got = backend.mod.nll_loss(x, tt, weight=ww, ignore_index=ignore_index, reduction=reduction)
        assert tuple(got.shape) == expected.shape, backend.label
        assert_close(backend.to_numpy(got), expected, rtol=1e-12, atol=1e-14, msg=backend.label)


@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_low_precision_loss_keeps_dtype_and_is_close(lowp, kind, reduction):
    backend, dtype = lowp
    logits, target, weight, _ = make_case(5, (6, C), kind, "absent", True)
    x, t, w = to_backend(backend, logits, target, weight, dtype)
    # reference: float64 torch on the very same (rounded) numbers
    x64, w64 = backend.to_numpy(x), backend.to_numpy(w)
    t64 = backend.to_numpy(t) if kind == "prob" else target
    if kind == "prob":
        t64 = t64 / t64.sum(-1, keepdims=True)
    expected = F.cross_entropy(
        torch.from_numpy(x64), torch.from_numpy(np.asarray(t64)), weight=torch.from_numpy(w64),
        reduction=reduction, label_smoothing=0.1,
    ).numpy()
    got = backend.mod.cross_entropy_loss(x, t, weight=w, reduction=reduction, label_smoothing=0.1)
    assert backend.dtype_name(got) == dtype
    assert_close(backend.to_numpy(got), expected, rtol=dtype_tol(dtype, 16), atol=dtype_tol(dtype, 16))
    grad = backend.mod.cross_entropy_loss_grad(x, t, weight=w, reduction=reduction, label_smoothing=0.1)
    assert backend.dtype_name(grad) == dtype


def test_low_precision_backward_keeps_dtype():
    x = torch.randn(3, C, dtype=torch.bfloat16, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    ctorch.cross_entropy_loss(x, torch.tensor([0, 1, 3])).backward()
    assert x.grad.dtype == torch.bfloat16
    expected = torch.softmax(x.detach().double(), 1)
    expected[range(3), [0, 1, 3]] -= 1
    assert_close(x.grad.double().numpy(), expected.numpy() / 3, rtol=0, atol=dtype_tol("bfloat16", 1))


def test_int32_targets_are_accepted(backend):
    logits = backend.array([[1.0, 2.0, 3.0]])
    t = np.array([1], dtype=np.int32)
    t = t if backend.name == "numpy" else torch.from_numpy(t)
    assert float(backend.mod.cross_entropy_loss(logits, t)) == pytest.approx(
        math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 2.0, rel=1e-15
    )


# (c) named edge cases --------------------------------------------------------


def test_loss_is_logsumexp_minus_the_target_logit(backend):
    out = float(backend.mod.cross_entropy_loss(backend.array([1000.0, 1000.0]), backend.index(0)))
    assert out == pytest.approx(math.log(2.0), rel=1e-15)  # 1000 + log 2 - 1000


def test_uniform_logits_give_log_c(backend):
    out = backend.to_numpy(backend.mod.cross_entropy_loss(backend.array(np.zeros((2, 10))), backend.index([3, 7]), reduction="none"))
    assert_close(out, [math.log(10)] * 2, rtol=1e-15)


def test_confident_correct_prediction_costs_almost_nothing(backend):
    # log1p(e^-40) ~ 4.248e-18, not 0 and not a cancellation error
    out = float(backend.mod.cross_entropy_loss(backend.array([40.0, 0.0]), backend.index(0)))
    assert out == pytest.approx(4.248354255291589e-18, rel=1e-12)


def test_confident_wrong_prediction_costs_the_margin(backend):
    out = float(backend.mod.cross_entropy_loss(backend.array([1e4, 0.0]), backend.index(1)))
    assert out == 1e4  # log(softmax) would give -log(0) = inf


def test_masked_minus_inf_logit_is_harmless(backend):
    out = float(backend.mod.cross_entropy_loss(backend.array([-np.inf, 0.0, 0.0]), backend.index(1)))
    assert out == pytest.approx(math.log(2), rel=1e-15)
    grad = backend.to_numpy(backend.mod.cross_entropy_loss_grad(backend.array([-np.inf, 0.0, 0.0]), backend.index(1)))
    assert_close(grad, [0.0, -0.5, 0.5], rtol=0, atol=0)


def test_target_at_a_minus_inf_logit_costs_plus_inf_as_torch(backend):
    out = float(backend.mod.cross_entropy_loss(backend.array([-np.inf, 0.0]), backend.index(0)))
    assert out == math.inf
    assert F.cross_entropy(torch.tensor([-math.inf, 0.0]), torch.tensor(0)).item() == math.inf


@pytest.mark.parametrize("target", [0, 1])
def test_plus_inf_logit_gives_nan_as_torch(backend, target):
    out = float(backend.mod.cross_entropy_loss(backend.array([np.inf, 0.0]), backend.index(target)))
    assert math.isnan(out)
    assert math.isnan(F.cross_entropy(torch.tensor([math.inf, 0.0]), torch.tensor(target)).item())


def test_all_targets_ignored_gives_nan_mean_as_torch(backend):
    logits, target = backend.array(np.zeros((3, C))), backend.index([-100, -100, -100])
    assert math.isnan(float(backend.mod.cross_entropy_loss(logits, target)))
    assert math.isnan(float(backend.mod.nll_loss(logits, target)))
    assert math.isnan(F.cross_entropy(torch.zeros(3, C), torch.tensor([-100] * 3)).item())
    assert float(backend.mod.cross_entropy_loss(logits, target, reduction="sum")) == 0.0


def test_all_targets_ignored_gives_nan_gradient_as_torch(backend):
    z = torch.zeros(2, C, dtype=torch.float64, requires_grad=True)
    F.cross_entropy(z, torch.tensor([-100, -100])).backward()
    got = backend.to_numpy(backend.mod.cross_entropy_loss_grad(backend.array(np.zeros((2, C))), backend.index([-100, -100])))
    assert_close(got, z.grad.numpy(), rtol=0, atol=0)


def test_ignored_rows_get_zero_gradient(backend):
    grad = backend.to_numpy(
        backend.mod.cross_entropy_loss_grad(backend.array(np.zeros((2, C))), backend.index([1, -100]), label_smoothing=0.3)
    )
    assert np.all(grad[1] == 0.0)


def test_empty_batch_gives_nan_mean_and_zero_sum_as_torch(backend):
    for kind in ("index", "prob"):
        logits = backend.array(np.zeros((0, C)))
        target = backend.index(np.zeros(0)) if kind == "index" else backend.array(np.zeros((0, C)))
        assert math.isnan(float(backend.mod.cross_entropy_loss(logits, target)))
        assert float(backend.mod.cross_entropy_loss(logits, target, reduction="sum")) == 0.0
        none = backend.mod.cross_entropy_loss(logits, target, reduction="none")
        assert tuple(none.shape) == (0,)
    assert math.isnan(F.cross_entropy(torch.zeros(0, C), torch.zeros(0, dtype=torch.long)).item())
    assert math.isnan(F.cross_entropy(torch.zeros(0, C), torch.zeros(0, C)).item())


def test_full_label_smoothing_ignores_the_labels(backend):
    logits = backend.array([[2.0, -1.0, 0.5]])
    a = float(backend.mod.cross_entropy_loss(logits, backend.index([0]), label_smoothing=1.0))
    b = float(backend.mod.cross_entropy_loss(logits, backend.index([2]), label_smoothing=1.0))
    lse = math.log(math.exp(2.0) + math.exp(-1.0) + math.exp(0.5))
    assert a == b == pytest.approx(lse - (2.0 - 1.0 + 0.5) / 3, rel=1e-15)


def test_one_hot_probabilities_equal_class_indices(backend):
    logits = backend.array([[2.0, -1.0, 0.5], [0.0, 3.0, 1.0]])
    by_index = float(backend.mod.cross_entropy_loss(logits, backend.index([2, 1])))
    by_prob = float(backend.mod.cross_entropy_loss(logits, backend.array([[0, 0, 1.0], [0, 1.0, 0]])))
    assert by_index == pytest.approx(by_prob, rel=1e-15)


def test_nll_of_log_softmax_is_cross_entropy(backend):
    logits = backend.array([[2.0, -1.0, 0.5], [0.0, 3.0, 1.0]])
    target = backend.index([2, 1])
    a = float(backend.mod.nll_loss(backend.mod.log_softmax(logits, axis=1), target))
    b = float(backend.mod.cross_entropy_loss(logits, target))
    assert a == pytest.approx(b, rel=1e-15)


def test_weighted_mean_divides_by_the_summed_weights(backend):
    out = float(
        backend.mod.cross_entropy_loss(
            backend.array(np.zeros((2, 2))), backend.index([0, 1]), weight=backend.array([1.0, 3.0])
        )
    )
    assert out == pytest.approx((1.0 + 3.0) * math.log(2) / (1.0 + 3.0), rel=1e-15)


# (d) bad input -----------------------------------------------------------------

LOSSES = ["cross_entropy_loss", "cross_entropy_loss_grad"]


@pytest.mark.parametrize("name", LOSSES)
def test_index_target_shape_mismatch_is_refused(backend, name):
    with pytest.raises(ValueError, match=r"target of class indices must have shape \(2,\) for logits of shape \(2, 4\), got \(3,\)"):
        getattr(backend.mod, name)(backend.array(np.zeros((2, C))), backend.index([0, 1, 2]))


@pytest.mark.parametrize("name", LOSSES)
def test_probability_target_shape_mismatch_is_refused(backend, name):
    with pytest.raises(TypeError, match=r"class-probability targets must have the shape of logits, \(2, 4\)"):
        getattr(backend.mod, name)(backend.array(np.zeros((2, C))), backend.array(np.full((2, 3), 1 / 3)))


@pytest.mark.parametrize("bad", [C, -1, 99])
@pytest.mark.parametrize("name", LOSSES + ["nll_loss"])
def test_class_index_out_of_range_is_refused(backend, name, bad):
    with pytest.raises(ValueError, match=f"target holds class index {bad}, out of range for 4 classes"):
        getattr(backend.mod, name)(backend.array(np.zeros((2, C))), backend.index([0, bad]))


def test_unbatched_class_index_out_of_range_is_refused(backend):
    with pytest.raises(ValueError, match="target holds class index 7"):
        backend.mod.cross_entropy_loss(backend.array(np.zeros(C)), backend.index(7))


def test_ignore_index_is_not_out_of_range(backend):
    out = backend.mod.cross_entropy_loss(backend.array(np.zeros((2, C))), backend.index([0, -1]), ignore_index=-1)
    assert float(out) == pytest.approx(math.log(C), rel=1e-15)


@pytest.mark.parametrize("name", LOSSES + ["nll_loss"])
def test_non_integer_class_targets_are_refused(backend, name):
    with pytest.raises(TypeError, match=r"target must hold integer class indices of shape \(2,\), got a float64"):
        getattr(backend.mod, name)(backend.array(np.zeros((2, C))), backend.array([0.0, 1.0]))


def test_boolean_targets_are_refused(backend):
    t = np.array([True, False])
    t = t if backend.name == "numpy" else torch.from_numpy(t)
    with pytest.raises(TypeError, match="target must hold integer class indices or floating-point class probabilities, got dtype bool"):
        backend.mod.cross_entropy_loss(backend.array(np.zeros((2, C))), t)


@pytest.mark.parametrize("name", LOSSES)
def test_negative_probabilities_are_refused(backend, name):
    with pytest.raises(ValueError, match="target has negative entries"):
        getattr(backend.mod, name)(backend.array(np.zeros((1, 2))), backend.array([[1.5, -0.5]]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_probability_targets_need_not_sum_to_one_as_in_torch(backend, reduction):
    # torch's semantics: -sum(t * log_softmax(z)) for any non-negative t
    z = np.array([[0.3, -1.0, 2.0], [0.0, 0.5, -0.5]])
    t = np.array([[0.5, 0.9, 0.0], [2.0, 0.0, 0.25]])
    got = backend.mod.cross_entropy_loss(backend.array(z), backend.array(t), reduction=reduction)
    want = F.cross_entropy(torch.from_numpy(z), torch.from_numpy(t), reduction=reduction)
    np.testing.assert_allclose(np.asarray(got), want.numpy(), rtol=1e-14)


@pytest.mark.parametrize("reduction", ["average", "Mean", None, "elementwise_mean"])
@pytest.mark.parametrize("name", LOSSES + ["nll_loss"])
def test_unknown_reduction_is_refused(backend, name, reduction):
    with pytest.raises(ValueError, match="reduction must be one of"):
        getattr(backend.mod, name)(backend.array(np.zeros((2, C))), backend.index([0, 1]), reduction=reduction)


@pytest.mark.parametrize("smoothing", [-0.1, 1.5, math.nan, math.inf])
@pytest.mark.parametrize("name", LOSSES)
def test_label_smoothing_outside_0_1_is_refused(backend, name, smoothing):
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        getattr(backend.mod, name)(backend.array(np.zeros((2, C))), backend.index([0, 1]), label_smoothing=smoothing)


@pytest.mark.parametrize("smoothing", ["0.1", None, True])
def test_label_smoothing_of_wrong_type_is_refused(backend, smoothing):
    with pytest.raises(TypeError, match="label_smoothing must be a number"):
        backend.mod.cross_entropy_loss(backend.array(np.zeros((2, C))), backend.index([0, 1]), label_smoothing=smoothing)


@pytest.mark.parametrize("ignore_index", [1.0, "x", True])
def test_ignore_index_of_wrong_type_is_refused(backend, ignore_index):
    with pytest.raises(TypeError, match="ignore_index must be an int"):
        backend.mod.cross_entropy_loss(backend.array(np.zeros((2, C))), backend.index([0, 1]), ignore_index=ignore_index)


@pytest.mark.parametrize("name", LOSSES)
def test_ignore_index_with_probability_targets_is_refused_as_torch(backend, name):
    with pytest.raises(ValueError, match="ignore_index=0 is not supported for class-probability targets"):
        getattr(backend.mod, name)(backend.array(np.zeros((1, 2))), backend.array([[0.5, 0.5]]), ignore_index=0)
    with pytest.raises(RuntimeError, match="ignore_index is not supported"):
        F.cross_entropy(torch.zeros(1, 2), torch.tensor([[0.5, 0.5]]), ignore_index=0)


@pytest.mark.parametrize("length", [3, 5])
@pytest.mark.parametrize("name", LOSSES + ["nll_loss"])
def test_weight_of_wrong_length_is_refused(backend, name, length):
    with pytest.raises(ValueError, match=rf"weight must have shape \(4,\), one entry per class, got \({length},\)"):
        getattr(backend.mod, name)(backend.array(np.zeros((2, C))), backend.index([0, 1]), weight=backend.array(np.ones(length)))


def test_integer_weight_is_refused(backend):
    with pytest.raises(TypeError, match="weight must hold floating-point numbers"):
        backend.mod.cross_entropy_loss(backend.array(np.zeros((2, C))), backend.index([0, 1]), weight=backend.index(np.ones(C)))


@pytest.mark.parametrize("name", LOSSES)
def test_integer_logits_are_refused(backend, name):
    with pytest.raises(TypeError, match="logits must hold floating-point numbers, got dtype int64"):
        getattr(backend.mod, name)(backend.index(np.zeros((2, C))), backend.index([0, 1]))


def test_integer_log_probs_are_refused(backend):
    with pytest.raises(TypeError, match="log_probs must hold floating-point numbers"):
        backend.mod.nll_loss(backend.index(np.zeros((2, C))), backend.index([0, 1]))


def test_scalar_logits_are_refused(backend):
    with pytest.raises(ValueError, match="logits must have shape"):
        backend.mod.cross_entropy_loss(backend.array(1.0), backend.index(0))


def test_logits_without_classes_are_refused(backend):
    with pytest.raises(ValueError, match="logits has no classes"):
        backend.mod.cross_entropy_loss(backend.array(np.zeros((2, 0))), backend.index([0, 0]))


def test_probability_targets_are_refused_by_nll_loss(backend):
    with pytest.raises(TypeError, match="target must hold integer class indices"):
        backend.mod.nll_loss(backend.array(np.zeros((1, 2))), backend.array([[0.5, 0.5]]))


def test_torch_face_refuses_to_differentiate_weight():
    weight = torch.ones(2, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match="weight requires grad"):
        ctorch.cross_entropy_loss(torch.zeros(1, 2, dtype=torch.float64),
                                  torch.tensor([1]), weight=weight)


def test_torch_face_differentiates_a_probability_target_as_torch():
    z = torch.tensor([[0.3, -1.0, 2.0]], dtype=torch.float64)
    grads = []
    for f in (F.cross_entropy, ctorch.cross_entropy_loss):
        t = torch.tensor([[0.2, 0.5, 0.3]], dtype=torch.float64, requires_grad=True)
        f(z, t, label_smoothing=0.1).backward()
        grads.append(t.grad)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-14, atol=0)


def test_numpy_face_reads_lists():
    assert float(cnp.cross_entropy_loss([[0.0, 0.0]], [1])) == pytest.approx(math.log(2), rel=1e-15)
