"""Grading tests of ``ex4_logsumexp``: logsumexp, log-softmax, CE from logits."""

import math

import numpy as np
import pytest
from scipy import special

from coursepkg.grading.expect import (CLASSES_HINT, expect_close, has_nan, has_nonfinite,
                                     hint_if_raises)


def _has_neg_inf(actual):
    return bool(np.isneginf(np.asarray(actual, dtype=np.float64)).any())


def _global_max_lse(x):
    """What a logsumexp that subtracts one maximum for the whole array returns."""
    with np.errstate(all="ignore"):
        m = np.max(x)
        return m + np.log(np.sum(np.exp(x - m), axis=-1))


#: a small row and a row of logits near 1000: one maximum for both
#: underflows the small row (exp(-1000) = 0)
SCALES = np.array([[0.0, 1.0, 2.0], [1000.0, 1001.0, 1002.0]])


# -------------------------------------------------------------- logsumexp

@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_lse_small(logsumexp):
    """matches log(sum(exp(x))) on [1, 2, 3]"""
    expected = math.log(math.exp(1) + math.exp(2) + math.exp(3))
    expect_close(logsumexp(np.array([1.0, 2.0, 3.0])), expected, what="logsumexp([1, 2, 3])")


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_lse_max_shift(logsumexp):
    """[1000, 1000] gives 1000 + log 2"""
    expect_close(logsumexp(np.array([1000.0, 1000.0])), 1000 + math.log(2),
                 what="logsumexp([1000, 1000])", mistakes={"lse-max-shift": has_nonfinite})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_lse_all_neg_inf(logsumexp):
    """a row of all -inf gives -inf"""
    x = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    expect_close(logsumexp(x), [-np.inf, 0.0], what="logsumexp([[-inf, -inf], [0, -inf]])",
                 mistakes={"lse-all-neg-inf": has_nan})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_lse_all_neg_inf_1d(logsumexp):
    """the docstring's case: a 1-D [-inf, -inf] gives -inf"""
    expect_close(logsumexp(np.array([-np.inf, -np.inf])), -np.inf,
                 what="logsumexp([-inf, -inf])", mistakes={"lse-all-neg-inf": has_nan})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_lse_rows_of_different_scales(logsumexp):
    """rows [0, 1, 2] and [1000, 1001, 1002]: one maximum per row"""
    expect_close(logsumexp(SCALES), special.logsumexp(SCALES, axis=-1),
                 what="logsumexp([[0, 1, 2], [1000, 1001, 1002]])",
                 mistakes={"global-max": _global_max_lse(SCALES),
                           "lse-max-shift": has_nonfinite})


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_lse_random_batch(logsumexp):
    """a (4, 4) batch with entries up to 1e300 in size"""
    rng = np.random.default_rng(12)
    x = rng.normal(size=(4, 4)) * np.array([1.0, 1e3, 1e100, 1e300])[:, None]
    expect_close(logsumexp(x), special.logsumexp(x, axis=-1), what="logsumexp",
                 mistakes={"wrong-axis": special.logsumexp(x, axis=0),
                           "global-max": _global_max_lse(x),
                           "lse-max-shift": has_nonfinite})


# ------------------------------------------------------------ log_softmax

@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_log_softmax_small(log_softmax):
    """matches z - logsumexp(z) on a (2, 3) batch"""
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    expected = [[v - math.log(math.exp(1) + math.exp(2) + math.exp(3)) for v in (1, 2, 3)],
                [-math.log(3)] * 3]
    expect_close(log_softmax(z), expected, what="log_softmax")


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_log_softmax_no_underflow(log_softmax):
    """[0, -1000] gives [0, -1000], not -inf"""
    expect_close(log_softmax(np.array([0.0, -1000.0])), [0.0, -1000.0],
                 what="log_softmax([0, -1000])", mistakes={"log-of-softmax": _has_neg_inf})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_log_softmax_rows_of_different_scales(log_softmax):
    """rows [0, 1, 2] and [1000, 1001, 1002]: one maximum per row"""
    with np.errstate(all="ignore"):
        global_max = SCALES - _global_max_lse(SCALES)[:, None]
    expect_close(log_softmax(SCALES), special.log_softmax(SCALES, axis=-1),
                 what="log_softmax([[0, 1, 2], [1000, 1001, 1002]])",
                 mistakes={"global-max": global_max, "max-shift": has_nan})


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_log_softmax_huge_batch(log_softmax):
    """a (3, 3) batch of huge and widely spread logits"""
    z = np.array([[1e300, 0.0, -1e300], [800.0, -800.0, 0.0], [1.0, 2.0, 3.0]])
    with np.errstate(all="ignore"):
        global_max = z - _global_max_lse(z)[:, None]
    expect_close(log_softmax(z), special.log_softmax(z, axis=-1), what="log_softmax",
                 mistakes={"global-max": global_max, "log-of-softmax": _has_neg_inf,
                           "max-shift": has_nan, "wrong-axis": special.log_softmax(z, axis=0)})


# ---------------------------------------------- cross_entropy_from_logits

@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_ce_small(cross_entropy_from_logits):
    """the mean of logsumexp(z_n) - z_n[y_n] on a 2-sample batch"""
    logits = np.array([[0.0, 0.0], [2.0, 0.0]])
    expected = (math.log(2) + (math.log(math.exp(2) + 1) - 0.0)) / 2
    expect_close(cross_entropy_from_logits(logits, np.array([1, 1])), expected,
                 what="cross_entropy_from_logits", mistakes={"sum-not-mean": 2 * expected})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_ce_huge_logits(cross_entropy_from_logits):
    """logits of size 1e4 give a finite loss"""
    logits = np.array([[1e4, 0.0], [0.0, 1e4]])
    expect_close(cross_entropy_from_logits(logits, np.array([1, 1])), 5000.0,
                 what="cross_entropy_from_logits([[1e4, 0], [0, 1e4]], [1, 1])",
                 mistakes={"ce-from-logits": has_nonfinite, "sum-not-mean": 10000.0})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_ce_rows_of_different_scales(cross_entropy_from_logits):
    """rows [0, 1, 2] and [1000, 1001, 1002], labels [0, 2]: one maximum per row"""
    y = np.array([0, 2])
    picked = SCALES[np.arange(2), y]
    expected = np.mean(special.logsumexp(SCALES, axis=-1) - picked)
    with np.errstate(all="ignore"):
        global_max = np.mean(_global_max_lse(SCALES) - picked)
    expect_close(cross_entropy_from_logits(SCALES, y), expected,
                 what="cross_entropy_from_logits([[0, 1, 2], [1000, 1001, 1002]], [0, 2])",
                 mistakes={"global-max": global_max, "ce-from-logits": has_nonfinite,
                           "sum-not-mean": 2 * expected})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_ce_classes_missing_from_labels(cross_entropy_from_logits):
    """4 classes, labels [0, 1, 1]: the classes come from the logits"""
    logits = np.array([[0.5, 0.0, -1.0, 2.0], [1.0, 1.0, 0.0, 0.0], [-2.0, 0.3, 0.1, 0.0]])
    y = np.array([0, 1, 1])
    expected = np.mean(special.logsumexp(logits, axis=1) - logits[np.arange(3), y])
    with hint_if_raises(CLASSES_HINT):
        result = cross_entropy_from_logits(logits, y)
    expect_close(result, expected, what="cross_entropy_from_logits",
                 mistakes={"sum-not-mean": 3 * expected})


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_ce_random(cross_entropy_from_logits):
    """a random (6, 5) batch of logits of scale 50"""
    rng = np.random.default_rng(13)
    logits = rng.normal(size=(6, 5)) * 50
    y = rng.integers(0, 5, size=6)
    expected = np.mean(special.logsumexp(logits, axis=1) - logits[np.arange(6), y])
    expect_close(cross_entropy_from_logits(logits, y), expected, what="cross_entropy_from_logits",
                 mistakes={"sum-not-mean": 6 * expected, "ce-from-logits": has_nonfinite})
