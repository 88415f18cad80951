"""Grading tests of ``ex3_mle``: NLL, categorical MLE, softmax regression."""

import collections
import math

import numpy as np
import pytest
from scipy import special

from coursepkg.grading.expect import CLASSES_HINT, Mistake, expect_close, hint_if_raises, unpack


def _gradient_descent(X, y, k, lr, steps, scale=1.0):
    """Reference: gradient descent on the mean cross-entropy (scale=N: the sum)."""
    n = X.shape[0]
    W, b = np.zeros((X.shape[1], k)), np.zeros(k)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0
    for _ in range(steps):
        G = (special.softmax(X @ W + b, axis=1) - onehot) * scale / n
        W, b = W - lr * X.T @ G, b - lr * G.sum(axis=0)
    return W, b


def _problem(seed, n=12, d=3, k=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, k, size=n), k


# --------------------------------------------------------------- nll_loss

@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_nll_small(nll_loss):
    """the mean of -log p[n, y_n] on a 2-sample batch"""
    log_probs = np.log(np.array([[0.5, 0.5], [0.25, 0.75]]))
    expected = -(math.log(0.5) + math.log(0.75)) / 2
    expect_close(nll_loss(log_probs, np.array([0, 1])), expected, what="nll_loss",
                 mistakes={"sum-not-mean": 2 * expected})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_nll_picks_labels(nll_loss):
    """integer labels pick the entry of their column"""
    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.25, 0.25, 0.5], [0.1, 0.1, 0.8]])
    y = np.array([2, 0, 1, 2])
    total = -(math.log(0.5) + math.log(0.6) + math.log(0.25) + math.log(0.8))
    expect_close(nll_loss(np.log(probs), y), total / 4, what="nll_loss",
                 mistakes={"sum-not-mean": total})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_nll_classes_missing_from_labels(nll_loss):
    """4 classes, labels [3, 3, 0]: the classes come from the columns"""
    probs = np.array([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25], [0.7, 0.1, 0.1, 0.1]])
    total = -(math.log(0.4) + math.log(0.25) + math.log(0.7))
    with hint_if_raises(CLASSES_HINT):
        result = nll_loss(np.log(probs), np.array([3, 3, 0]))
    expect_close(result, total / 3, what="nll_loss", mistakes={"sum-not-mean": total})


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_nll_random(nll_loss):
    """a random batch of log-softmax outputs"""
    rng = np.random.default_rng(7)
    log_probs = special.log_softmax(rng.normal(size=(9, 5)) * 3, axis=1)
    y = rng.integers(0, 5, size=9)
    picked = [log_probs[i, label] for i, label in enumerate(y)]
    expected = -sum(picked) / len(picked)
    expect_close(nll_loss(log_probs, y), expected, what="nll_loss",
                 mistakes={"sum-not-mean": 9 * expected})


# -------------------------------------------------------- categorical_mle

def _frequencies(y, k):
    counts = collections.Counter(int(v) for v in y)
    return [counts[c] / len(y) for c in range(k)]


@pytest.mark.points(3)
@pytest.mark.visibility("visible")
def test_mle_small(categorical_mle):
    """relative frequencies, 0 for classes that never occur"""
    y = np.array([0, 2, 2, 2])
    result = np.asarray(categorical_mle(y, 4))
    if result.shape != (4,):
        raise Mistake("mle-counts")
    expect_close(result, [0.25, 0.0, 0.75, 0.0], what="categorical_mle([0, 2, 2, 2], 4)",
                 mistakes={"mle-counts": [1, 0, 3, 0]})


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_mle_random(categorical_mle):
    """50 samples of 6 classes, one class absent"""
    y = np.random.default_rng(8).choice([0, 1, 2, 4, 5], size=50)
    result = np.asarray(categorical_mle(y, 6))
    if result.shape != (6,):
        raise Mistake("mle-counts")
    expect_close(result, _frequencies(y, 6), what="categorical_mle")


# ------------------------------------------------- fit_softmax_regression

def _fit(fit_softmax_regression, *args, **kwargs):
    return unpack(fit_softmax_regression(*args, **kwargs), ("W", "b"), "fit_softmax_regression")


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_fit_shapes(fit_softmax_regression):
    """returns (W, b) of shapes (D, K) and (K,): one step from zero"""
    X, y, k = _problem(9, n=5, d=2, k=3)
    W_ref, b_ref = _gradient_descent(X, y, k, 0.1, 1)
    W, b = _fit(fit_softmax_regression, X, y, k, lr=0.1, num_steps=1)
    expect_close(W, W_ref, what="W after one step",
                 mistakes={"gd-update": lambda a: not a.any()})
    expect_close(b, b_ref, what="b after one step")


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_fit_matches_gradient_descent(fit_softmax_regression):
    """matches 5 steps of gradient descent with lr = 0.5"""
    X, y, k = _problem(10)
    W_ref, b_ref = _gradient_descent(X, y, k, 0.5, 5)
    W_sum, b_sum = _gradient_descent(X, y, k, 0.5, 5, scale=len(y))
    W, b = _fit(fit_softmax_regression, X, y, k, lr=0.5, num_steps=5)
    expect_close(W, W_ref, rtol=1e-6, atol=1e-9, what="W",
                 mistakes={"grad-missing-1-over-n": W_sum})
    expect_close(b, b_ref, rtol=1e-6, atol=1e-9, what="b",
                 mistakes={"grad-missing-1-over-n": b_sum})


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_fit_classes_missing_from_labels(fit_softmax_regression):
    """num_classes = 5, but the labels hold only classes 0, 1 and 3"""
    X, _, _ = _problem(17, n=9, d=2)
    y = np.array([0, 1, 3, 3, 0, 1, 1, 3, 0])
    W_ref, b_ref = _gradient_descent(X, y, 5, 0.5, 3)
    W, b = _fit(fit_softmax_regression, X, y, 5, lr=0.5, num_steps=3)
    if np.ndim(W) == 2 and np.shape(W)[1] in (3, 4):  # len(np.unique(y)), y.max() + 1
        raise Mistake("classes-from-data")
    expect_close(W, W_ref, rtol=1e-6, atol=1e-9, what="W")
    expect_close(b, b_ref, rtol=1e-6, atol=1e-9, what="b")


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_fit_defaults(fit_softmax_regression):
    """default lr and num_steps on a random problem"""
    X, y, k = _problem(11, n=30, d=4, k=3)
    W_ref, b_ref = _gradient_descent(X, y, k, 0.1, 100)
    W, b = _fit(fit_softmax_regression, X, y, k)
    expect_close(W, W_ref, rtol=1e-6, atol=1e-9, what="W")
    expect_close(b, b_ref, rtol=1e-6, atol=1e-9, what="b")
