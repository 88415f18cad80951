"""Tests of entropy, cross_entropy and kl_divergence on both faces."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch
from support import assert_close, dtype_tol
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from coursepkg import numpy as cnp
from coursepkg import torch as ctorch


def random_dist(rng, shape, axis=-1, zeros=False):
    w = rng.gamma(0.7, size=shape)
    if zeros:
        w[rng.random(shape) < 0.3] = 0.0
        w = np.where(w.sum(axis=axis, keepdims=True) == 0, 1.0, w)
    return w / w.sum(axis=axis, keepdims=True)


SHAPES_AXES = [((5,), 0), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)]


# (a) reference comparisons -------------------------------------------------


@pytest.mark.parametrize("base", [None, 2, math.e, 10.0])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_entropy_matches_scipy_stats(backend, rng, shape, axis, base):
    p = random_dist(rng, shape, axis, zeros=True)
    got = backend.mod.entropy(backend.array(p), axis=axis, base=base)
    expected = scipy.stats.entropy(p, axis=axis, base=base)
    assert_close(backend.to_numpy(got), expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("base", [None, 2])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_kl_divergence_matches_rel_entr_and_scipy_stats(backend, rng, shape, axis, base):
    p = random_dist(rng, shape, axis, zeros=True)
    q = random_dist(rng, shape, axis)
    got = backend.to_numpy(backend.mod.kl_divergence(backend.array(p), backend.array(q), axis=axis, base=base))
    log_base = 1.0 if base is None else math.log(base)
    by_rel_entr = scipy.special.rel_entr(p, q).sum(axis=axis) / log_base
    assert_close(got, by_rel_entr, rtol=1e-12, atol=1e-15)
    assert_close(got, scipy.stats.entropy(p, q, axis=axis, base=base), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_kl_divergence_matches_torch_kl_div(backend, rng, shape, axis):
    p = random_dist(rng, shape, axis, zeros=True)
    q = random_dist(rng, shape, axis)
    got = backend.mod.kl_divergence(backend.array(p), backend.array(q), axis=axis)
    by_torch = torch.nn.functional.kl_div(
        torch.from_numpy(np.log(q)), torch.from_numpy(p), reduction="none"
    ).sum(axis)
    assert_close(backend.to_numpy(got), by_torch.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("base", [None, 2])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_cross_entropy_matches_xlogy(backend, rng, shape, axis, base):
    p = random_dist(rng, shape, axis, zeros=True)
    q = random_dist(rng, shape, axis)
    got = backend.mod.cross_entropy(backend.array(p), backend.array(q), axis=axis, base=base)
    log_base = 1.0 if base is None else math.log(base)
    expected = -scipy.special.xlogy(p, q).sum(axis=axis) / log_base
    assert_close(backend.to_numpy(got), expected, rtol=1e-13)


@pytest.mark.parametrize("name", ["entropy", "cross_entropy", "kl_divergence"])
def test_low_precision_keeps_dtype_and_is_close(lowp, rng, name):
    backend, dtype = lowp
    p = backend.array(random_dist(rng, (4, 6)), dtype)
    q = backend.array(random_dist(rng, (4, 6)), dtype)
    p64, q64 = backend.to_numpy(p), backend.to_numpy(q)
    p64, q64 = p64 / p64.sum(-1, keepdims=True), q64 / q64.sum(-1, keepdims=True)
    args = (p,) if name == "entropy" else (p, q)
    got = getattr(backend.mod, name)(*args)
    expected = {
        "entropy": lambda: scipy.stats.entropy(p64, axis=-1),
        "cross_entropy": lambda: -scipy.special.xlogy(p64, q64).sum(-1),
        "kl_divergence": lambda: scipy.special.rel_entr(p64, q64).sum(-1),
    }[name]()
    assert backend.dtype_name(got) == dtype
    # the input's own rounding (the sum is off 1 by ~ n eps) dominates
    assert_close(backend.to_numpy(got), expected, rtol=dtype_tol(dtype, 16), atol=dtype_tol(dtype, 16))


def test_entropy_is_differentiable_in_torch():
    p = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64, requires_grad=True)
    ctorch.entropy(p).backward()
    assert_close(p.grad.numpy(), -(np.log([0.2, 0.3, 0.5]) + 1), rtol=1e-14)


# (b) properties --------------------------------------------------------------


@st.composite
def distributions(draw, n=None, with_zeros=True):
    n = n if n is not None else draw(st.integers(1, 8))
    low = 0.0 if with_zeros else 1e-3
    w = draw(arrays(np.float64, (n,), elements=st.floats(low, 1.0)))
    if w.sum() == 0:
        w[0] = 1.0
    return w / w.sum()


@st.composite
def pairs(draw, with_zeros_in_q=False):
    p = draw(distributions())
    q = draw(distributions(n=p.shape[0], with_zeros=with_zeros_in_q))
    return p, q


@given(pq=pairs())
def test_kl_is_non_negative(pq):
    # Gibbs: KL >= 0 for distributions summing to exactly 1.  Floats sum to
    # 1 +- n eps, and by the log-sum inequality KL >= sum(p) log(sum p / sum q),
    # so KL can dip below 0 by that much and no more.
    p, q = pq
    slack = 4 * p.shape[0] * 2.0**-52
    assert cnp.kl_divergence(p, q) >= -slack
    assert float(ctorch.kl_divergence(torch.from_numpy(p), torch.from_numpy(q))) >= -slack


def test_kl_is_positive_for_distinct_distributions(backend):
    out = float(backend.mod.kl_divergence(backend.array([0.5, 0.5]), backend.array([0.5 + 1e-4, 0.5 - 1e-4])))
    # 0.5 log(0.5/0.5001) + 0.5 log(0.5/0.4999) = 2e-8 + O(1e-16)
    assert out == pytest.approx(2e-8, rel=1e-6)


@given(p=distributions())
def test_kl_of_a_distribution_with_itself_is_exactly_zero(p):
    assert cnp.kl_divergence(p, p) == 0.0
    assert float(ctorch.kl_divergence(torch.from_numpy(p), torch.from_numpy(p))) == 0.0


@given(pq=pairs())
def test_cross_entropy_is_entropy_plus_kl(pq):
    p, q = pq
    lhs = cnp.cross_entropy(p, q)
    rhs = cnp.entropy(p) + cnp.kl_divergence(p, q)
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


@given(pq=pairs(), base=st.sampled_from([2.0, 10.0, 0.5]))
def test_base_divides_by_log_base(pq, base):
    p, q = pq
    for f in (cnp.cross_entropy, cnp.kl_divergence):
        assert f(p, q, base=base) == pytest.approx(f(p, q) / math.log(base), rel=1e-14, abs=1e-300)


@given(p=distributions())
def test_entropy_between_zero_and_log_n(p):
    h = cnp.entropy(p)
    assert -1e-15 <= h <= math.log(p.shape[0]) + 1e-12


# (c) named edge cases ----------------------------------------------------------


def test_zero_log_zero_is_zero(backend):
    out = float(backend.mod.entropy(backend.array([0.0, 1.0])))
    assert out == 0.0


def test_fair_coin_has_one_bit(backend):
    assert float(backend.mod.entropy(backend.array([0.5, 0.5]), base=2)) == 1.0


def test_uniform_over_k_has_log_k_nats(backend):
    assert float(backend.mod.entropy(backend.array([0.125] * 8))) == pytest.approx(math.log(8), rel=1e-15)


def test_entropy_against_exact_rational_probabilities(backend):
    probs = [Fraction(1, 2), Fraction(1, 4), Fraction(1, 8), Fraction(1, 8)]
    exact_bits = float(-sum(p * int(math.log2(p)) for p in probs))  # 7/4 bits
    out = float(backend.mod.entropy(backend.array([float(p) for p in probs]), base=2))
    assert out == exact_bits == 1.75


def test_q_zero_where_p_positive_gives_plus_inf(backend):
    p, q = backend.array([0.5, 0.5]), backend.array([1.0, 0.0])
    assert float(backend.mod.cross_entropy(p, q)) == math.inf
    assert float(backend.mod.kl_divergence(p, q)) == math.inf
    assert scipy.special.rel_entr([0.5, 0.5], [1.0, 0.0]).sum() == math.inf


def test_q_zero_where_p_zero_costs_nothing(backend):
    p, q = backend.array([0.0, 1.0]), backend.array([0.0, 1.0])
    assert float(backend.mod.cross_entropy(p, q)) == 0.0
    assert float(backend.mod.kl_divergence(p, q)) == 0.0


def test_one_hot_cross_entropy_is_minus_log_q_y(backend):
    out = float(backend.mod.cross_entropy(backend.array([0.0, 0.0, 1.0]), backend.array([0.25, 0.6, 0.15])))
    assert out == pytest.approx(-math.log(0.15), rel=1e-15)


def test_kl_is_not_symmetric(backend):
    p, q = backend.array([0.5, 0.5]), backend.array([0.9, 0.1])
    forward = float(backend.mod.kl_divergence(p, q))
    backward = float(backend.mod.kl_divergence(q, p))
    assert forward == pytest.approx(0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1), rel=1e-14)
    assert backward == pytest.approx(0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5), rel=1e-14)
    assert forward != pytest.approx(backward)


def test_empty_batch_gives_empty_result(backend):
    out = backend.mod.entropy(backend.array(np.zeros((0, 3))))
    assert tuple(out.shape) == (0,)


def test_sum_tolerance_scales_with_dtype(backend):
    off = [0.5, 0.5 + 1e-6]  # off by 1e-6: a float32 rounding, not a float64 one
    assert float(backend.mod.entropy(backend.array(off, "float32"))) == pytest.approx(math.log(2), rel=1e-5)
    with pytest.raises(ValueError, match="p must sum to 1 along axis 0"):
        backend.mod.entropy(backend.array(off, "float64"))


# (d) bad input -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["entropy", "cross_entropy", "kl_divergence"])
def test_negative_probability_is_refused(backend, name):
    bad, good = backend.array([-0.1, 1.1]), backend.array([0.5, 0.5])
    args = (bad,) if name == "entropy" else (bad, good)
    with pytest.raises(ValueError, match="p has negative entries"):
        getattr(backend.mod, name)(*args)


@pytest.mark.parametrize("name", ["cross_entropy", "kl_divergence"])
def test_q_not_summing_to_one_is_refused(backend, name):
    with pytest.raises(ValueError, match="q must sum to 1 along axis 1"):
        getattr(backend.mod, name)(backend.array([[0.5, 0.5]]), backend.array([[0.5, 0.6]]))


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_non_finite_probability_is_refused(backend, value):
    with pytest.raises(ValueError, match="p has NaN or infinite entries"):
        backend.mod.entropy(backend.array([value, 0.5]))


def test_shape_mismatch_is_refused(backend):
    with pytest.raises(ValueError, match=r"p and q must have the same shape, got \(2,\) and \(3,\)"):
        backend.mod.kl_divergence(backend.array([0.5, 0.5]), backend.array([0.2, 0.3, 0.5]))


def test_empty_class_axis_is_refused(backend):
    with pytest.raises(ValueError, match="p has an empty class axis"):
        backend.mod.entropy(backend.array(np.zeros((2, 0))))


def test_integer_probabilities_are_refused(backend):
    with pytest.raises(TypeError, match="q must hold floating-point numbers"):
        backend.mod.cross_entropy(backend.array([0.0, 1.0]), backend.index([0, 1]))


def test_axis_out_of_range_is_refused(backend):
    with pytest.raises(ValueError, match="axis=1 is out of range for p"):
        backend.mod.entropy(backend.array([0.5, 0.5]), axis=1)


@pytest.mark.parametrize("base", [1, 1.0, 0, -2.0, math.inf, math.nan])
def test_bad_base_value_is_refused(backend, base):
    with pytest.raises(ValueError, match="base must be positive, finite and not 1"):
        backend.mod.entropy(backend.array([0.5, 0.5]), base=base)


@pytest.mark.parametrize("base", ["2", True])
def test_bad_base_type_is_refused(backend, base):
    with pytest.raises(TypeError, match="base must be a positive number"):
        backend.mod.kl_divergence(backend.array([0.5, 0.5]), backend.array([0.5, 0.5]), base=base)


def test_certain_outcome_has_entropy_positive_zero(backend):
    # H of a one-hot distribution is exactly +0.0 (printing "-0.0" confuses)
    for value in (
        backend.mod.entropy(backend.array([0.0, 1.0, 0.0])),
        backend.mod.cross_entropy(
            backend.array([1.0, 0.0]), backend.array([1.0, 0.0])
        ),
    ):
        v = float(value)
        assert v == 0.0 and math.copysign(1.0, v) == 1.0
