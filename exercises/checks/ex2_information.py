"""Grading tests of ``ex2_information``: entropy, cross-entropy, KL divergence."""

import math

import numpy as np
import pytest
from scipy import special, stats

from coursepkg.grading.expect import close, expect_close, has_nan

#: the steps people add inside a log: 1e-3 ... 1e-16 and the float64 epsilon
EPSILONS = [10.0 ** -k for k in range(3, 17)] + [float(np.finfo(np.float64).eps)]


def _random_distributions(seed, shape, zeros=True):
    rng = np.random.default_rng(seed)
    p = rng.random(shape)
    if zeros:
        p[rng.random(shape) < 0.25] = 0.0
        p[..., 0] += 0.1  # no all-zero row
    return p / p.sum(axis=-1, keepdims=True)


def _finite_but_large(actual):
    a = np.asarray(actual, dtype=np.float64)
    return bool(np.isfinite(a).all() and a.max() > 5)


def _terms(p, log_values):
    """sum_i p_i log_values_i, with the terms of p_i = 0 left out."""
    return np.sum(np.where(p > 0, p * np.where(p > 0, log_values, 0.0), 0.0), axis=-1)


def _eps_inside_log(kind, p, q=None):
    """Predicate for ``mistakes``: the result is what ``+eps`` inside the log
    gives, for one of the usual steps (:data:`EPSILONS`) and placements."""
    p = np.asarray(p, dtype=np.float64)
    q = None if q is None else np.asarray(q, dtype=np.float64)

    def variants(eps):
        with np.errstate(divide="ignore", invalid="ignore"):
            if kind == "entropy":
                yield -_terms(p, np.log(p + eps))
            elif kind == "cross_entropy":
                yield -_terms(p, np.log(q + eps))
            else:
                yield _terms(p, np.log((p + eps) / (q + eps)))
                yield _terms(p, np.log(p / (q + eps)))
                yield _terms(p, np.log(p + eps) - np.log(q + eps))
                yield _terms(p, np.log(p / q + eps))

    def matches(actual):
        return any(close(actual, v, 1e-9, 1e-12) for eps in EPSILONS for v in variants(eps))

    return matches


def _common(expected, kind, p, q=None):
    """Mistakes every information measure can make: bits, +eps in the log, 0 log 0."""
    return {"log2": np.asarray(expected, dtype=np.float64) / math.log(2),
            "eps-in-log": _eps_inside_log(kind, p, q),
            "zero-log-zero": has_nan}


# ---------------------------------------------------------------- entropy

@pytest.mark.points(3)
@pytest.mark.visibility("visible")
def test_entropy_closed_forms(entropy):
    """uniform gives log K, one-hot gives 0 (one value per row)"""
    p = np.array([[0.25, 0.25, 0.25, 0.25], [0.0, 1.0, 0.0, 0.0],
                  [0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]])
    expected = [math.log(4), 0.0, math.log(2), math.log(2)]
    wrong_axis = -np.sum(special.xlogy(p, p), axis=0)
    expect_close(entropy(p), expected, what="entropy of a (4, 4) batch",
                 mistakes={**_common(expected, "entropy", p), "wrong-axis": wrong_axis})


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_entropy_zero_log_zero(entropy):
    """0 log 0 = 0: a zero probability contributes nothing"""
    p = np.array([0.5, 0.5, 0.0])
    expect_close(entropy(p), math.log(2), what="entropy([0.5, 0.5, 0])",
                 mistakes=_common(math.log(2), "entropy", p))


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_entropy_random_batch(entropy):
    """a 3-D batch with zeros, against scipy.stats.entropy"""
    p = _random_distributions(2, (3, 4, 6))
    expected = stats.entropy(p, axis=-1)
    expect_close(entropy(p), expected, what="entropy", mistakes=_common(expected, "entropy", p))


# ---------------------------------------------------------- cross-entropy

@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_cross_entropy_small(cross_entropy):
    """H(p, q) on a (3, 3) batch, one value per row"""
    p = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    q = np.array([[0.5, 0.25, 0.25], [0.25, 0.25, 0.5], [0.2, 0.3, 0.5]])
    expected = [math.log(2), math.log(4), -(0.2 * math.log(0.2) + 0.3 * math.log(0.3)
                                            + 0.5 * math.log(0.5))]
    expect_close(cross_entropy(p, q), expected, what="cross_entropy(p, q)",
                 mistakes={**_common(expected, "cross_entropy", p, q),
                           "wrong-axis": -np.sum(special.xlogy(p, q), axis=0)})


@pytest.mark.points(3)
@pytest.mark.visibility("visible")
def test_cross_entropy_infinite(cross_entropy):
    """+inf where q = 0 < p, and 0 where p = q = 0"""
    p = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    q = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    expected = [np.inf, math.log(2)]
    expect_close(cross_entropy(p, q), expected, what="cross_entropy(p, q)",
                 mistakes={"eps-in-log": _finite_but_large,
                           **_common(expected, "cross_entropy", p, q)})


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_cross_entropy_decomposition(cross_entropy):
    """H(p, q) = H(p) + KL(p || q) on random batches with zeros in p"""
    p = _random_distributions(3, (5, 7))
    q = _random_distributions(4, (5, 7), zeros=False)
    expected = stats.entropy(p, axis=-1) + np.sum(special.rel_entr(p, q), axis=-1)
    expect_close(cross_entropy(p, q), expected, what="cross_entropy",
                 mistakes=_common(expected, "cross_entropy", p, q))


# ---------------------------------------------------------- KL divergence

@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_kl_closed_forms(kl_divergence):
    """KL(p || p) = 0 and KL(one-hot || uniform) = log K"""
    p = np.array([[0.2, 0.8], [1.0, 0.0]])
    q = np.array([[0.2, 0.8], [0.5, 0.5]])
    expected = [0.0, math.log(2)]
    expect_close(kl_divergence(p, q), expected, atol=1e-12, what="kl_divergence(p, q)",
                 mistakes=_common(expected, "kl", p, q))


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_kl_argument_order(kl_divergence):
    """KL(p || q) takes the expectation under p (KL is not symmetric)"""
    p, q = np.array([0.9, 0.1]), np.array([0.5, 0.5])
    expected = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    swapped = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    expect_close(kl_divergence(p, q), expected, what="kl_divergence([0.9, 0.1], [0.5, 0.5])",
                 mistakes={"kl-swapped": swapped, **_common(expected, "kl", p, q)})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_kl_infinite(kl_divergence):
    """+inf where q = 0 < p"""
    p, q = np.array([0.5, 0.5]), np.array([1.0, 0.0])
    expect_close(kl_divergence(p, q), np.inf, what="kl_divergence([0.5, 0.5], [1, 0])",
                 mistakes={"eps-in-log": _finite_but_large, **_common(np.inf, "kl", p, q)})


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_kl_random_batch(kl_divergence):
    """a (6, 6) batch with zeros in p, against scipy.special.rel_entr"""
    p = _random_distributions(5, (6, 6))
    q = _random_distributions(6, (6, 6), zeros=False)
    expected = np.sum(special.rel_entr(p, q), axis=-1)
    expect_close(kl_divergence(p, q), expected, what="kl_divergence",
                 mistakes={"kl-swapped": np.sum(special.rel_entr(q, p), axis=-1),
                           "wrong-axis": np.sum(special.rel_entr(p, q), axis=0),
                           **_common(expected, "kl", p, q)})
