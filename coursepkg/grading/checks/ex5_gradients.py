"""Grading tests of ``ex5_gradients``: Jacobian, gradients, finite differences."""

import numpy as np
import pytest
from scipy import special

from coursepkg.grading.expect import Mistake, close, expect, expect_close, has_nan
from coursepkg.grading.sandbox import ScalarFunction


def _mean_ce(logits, y):
    return np.mean(special.logsumexp(logits, axis=1) - logits[np.arange(len(y)), y])


def _central_differences(f, x, eps=1e-6):
    """Reference gradient: central differences in float64."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        grad[index] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def _jacobian_mistake(actual):
    a = np.asarray(actual, dtype=np.float64)
    return a.ndim == 2 and not (close(a, a.T) and close(a.sum(axis=1), np.zeros(len(a)), atol=1e-9))


def _ce_grad(logits, y):
    onehot = np.eye(logits.shape[1])[y]
    return (special.softmax(logits, axis=1) - onehot) / logits.shape[0]


def _unpack3(result):
    if not (isinstance(result, tuple) and len(result) == 3):
        raise Mistake("grad-logits")
    return result


# -------------------------------------------------------- softmax_jacobian

@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_jacobian_uniform(softmax_jacobian):
    """[0, 0] gives [[0.25, -0.25], [-0.25, 0.25]]"""
    expect_close(softmax_jacobian(np.array([0.0, 0.0])), [[0.25, -0.25], [-0.25, 0.25]],
                 what="softmax_jacobian([0, 0])", mistakes={"jacobian": _jacobian_mistake})


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_jacobian_formula(softmax_jacobian):
    """matches diag(p) - p p^T on a 4-vector"""
    z = np.array([0.5, -1.0, 2.0, 0.0])
    p = special.softmax(z)
    expect_close(softmax_jacobian(z), np.diag(p) - np.outer(p, p), what="softmax_jacobian",
                 mistakes={"jacobian": _jacobian_mistake})


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_jacobian_huge_logits(softmax_jacobian):
    """huge logits give a finite Jacobian"""
    z = np.array([1000.0, 0.0, -1000.0, 999.0])
    p = special.softmax(z)
    expect_close(softmax_jacobian(z), np.diag(p) - np.outer(p, p), what="softmax_jacobian",
                 mistakes={"max-shift": has_nan, "jacobian": _jacobian_mistake})


# ------------------------------------------------------ cross_entropy_grad

@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_ce_grad_single(cross_entropy_grad):
    """[[0, 0]] with label 0 gives [[-0.5, 0.5]]"""
    expect_close(cross_entropy_grad(np.array([[0.0, 0.0]]), np.array([0])), [[-0.5, 0.5]],
                 what="cross_entropy_grad([[0, 0]], [0])")


@pytest.mark.points(3)
@pytest.mark.visibility("visible")
def test_ce_grad_batch(cross_entropy_grad):
    """a batch of 4: (softmax(z) - onehot(y)) / N"""
    logits = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0], [3.0, -1.0, 2.0], [0.2, 0.1, 0.0]])
    y = np.array([0, 2, 1, 1])
    expected = _ce_grad(logits, y)
    expect_close(cross_entropy_grad(logits, y), expected, what="cross_entropy_grad",
                 mistakes={"grad-missing-1-over-n": 4 * expected})


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_ce_grad_finite_differences(cross_entropy_grad):
    """agrees with finite differences of the mean cross-entropy"""
    rng = np.random.default_rng(14)
    logits, y = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    expected = _central_differences(lambda z: _mean_ce(z, y), logits)
    expect_close(cross_entropy_grad(logits, y), expected, rtol=1e-5, atol=1e-8,
                 what="cross_entropy_grad", mistakes={"grad-missing-1-over-n": 5 * expected})


# ---------------------------------------- softmax_regression_loss_and_grad

@pytest.mark.points(3)
@pytest.mark.visibility("visible")
def test_regression_small(softmax_regression_loss_and_grad):
    """(loss, dW, db) on a 3-sample problem"""
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([0, 1, 2])
    W, b = np.array([[0.1, -0.2, 0.0], [0.3, 0.0, -0.1]]), np.array([0.0, 0.1, -0.1])
    G = _ce_grad(X @ W + b, y)
    loss, dW, db = _unpack3(softmax_regression_loss_and_grad(W, b, X, y))
    expect_close(loss, _mean_ce(X @ W + b, y), what="loss", mistakes={"sum-not-mean": 3 * _mean_ce(X @ W + b, y)})
    expect_close(dW, X.T @ G, what="dW", mistakes={"grad-missing-1-over-n": 3 * X.T @ G})
    expect_close(db, G.sum(axis=0), what="db", mistakes={"grad-missing-1-over-n": 3 * G.sum(axis=0)})


@pytest.mark.points(3)
@pytest.mark.visibility("hidden")
def test_regression_finite_differences(softmax_regression_loss_and_grad):
    """dW and db agree with finite differences of the loss"""
    rng = np.random.default_rng(15)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 4, size=6)
    W, b = rng.normal(size=(3, 4)), rng.normal(size=4)
    dW_ref = _central_differences(lambda w: _mean_ce(X @ w + b, y), W)
    db_ref = _central_differences(lambda c: _mean_ce(X @ W + c, y), b)
    _, dW, db = _unpack3(softmax_regression_loss_and_grad(W, b, X, y))
    expect_close(dW, dW_ref, rtol=1e-5, atol=1e-8, what="dW",
                 mistakes={"grad-missing-1-over-n": 6 * dW_ref})
    expect_close(db, db_ref, rtol=1e-5, atol=1e-8, what="db",
                 mistakes={"grad-missing-1-over-n": 6 * db_ref})


# ------------------------------------------------------ numerical_gradient

@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_numgrad_sin(numerical_gradient):
    """sum(sin(x)) gives cos(x) to 1e-8 (central differences)"""
    x = np.array([0.0, 0.5, 1.0, 2.0])
    expected = np.cos(x)
    expect_close(numerical_gradient(ScalarFunction("sum_sin"), x), expected, rtol=0, atol=1e-8,
                 what="numerical_gradient(sum(sin(x)))",
                 mistakes={"forward-difference": lambda a: close(a, expected, 0, 1e-5)})


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_numgrad_any_shape(numerical_gradient):
    """a (2, 3) array: sum(x**3) gives 3 x**2"""
    x = np.arange(6.0).reshape(2, 3) / 2 - 1
    expected = 3 * x**2
    expect_close(numerical_gradient(ScalarFunction("sum_cubes"), x, eps=1e-5), expected,
                 rtol=0, atol=1e-7, what="numerical_gradient(sum(x**3))",
                 mistakes={"forward-difference": lambda a: close(a, expected, 0, 1e-3)})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_numgrad_leaves_x(numerical_gradient):
    """leaves x unchanged (and is right)"""
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    call = numerical_gradient.call(ScalarFunction("sum_sin"), x.copy())
    expect(np.array_equal(call.args_after[0], x), "x was changed", "mutated-input")
    expect_close(call.value, np.cos(x), rtol=0, atol=1e-6, what="numerical_gradient")


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_numgrad_3d(numerical_gradient):
    """a 3-D array: the gradient of logsumexp is the softmax"""
    x = np.random.default_rng(16).normal(size=(2, 2, 3))
    expected = special.softmax(x, axis=None)
    expect_close(numerical_gradient(ScalarFunction("logsumexp"), x), expected, rtol=0, atol=1e-8,
                 what="numerical_gradient(logsumexp)",
                 mistakes={"forward-difference": lambda a: close(a, expected, 0, 1e-5)})
