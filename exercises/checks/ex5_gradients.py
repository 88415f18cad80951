"""Grading tests of ``ex5_gradients``: Jacobian, gradients, finite differences."""

import numpy as np
import pytest
from scipy import special

from coursepkg.grading.expect import (CLASSES_HINT, Mistake, close, expect, expect_close,
                                     has_nan, has_nonfinite, hint_if_raises, unpack)
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


def _global_max_ce_grad(logits, y):
    """What a gradient whose softmax subtracts one maximum for the whole batch returns."""
    with np.errstate(all="ignore"):
        e = np.exp(logits - np.max(logits))
        return (e / e.sum(axis=1, keepdims=True) - np.eye(logits.shape[1])[y]) / len(y)


def _loss_and_grad(function, *args):
    return unpack(function(*args), ("loss", "dW", "db"), "softmax_regression_loss_and_grad")


#: logits near +1000 and -1000: exp overflows to inf, or underflows to 0 in
#: every entry of a row, unless the row maximum is subtracted first
LARGE_LOGITS = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -999.0],
                         [0.5, -0.5, 0.0]])


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

@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_ce_grad_single(cross_entropy_grad):
    """[[0, 0]] with label 0 gives [[-0.5, 0.5]]"""
    expect_close(cross_entropy_grad(np.array([[0.0, 0.0]]), np.array([0])), [[-0.5, 0.5]],
                 what="cross_entropy_grad([[0, 0]], [0])",
                 mistakes={"classes-from-data": [[-0.5, -0.5]]})  # np.eye(y.max() + 1)


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_ce_grad_batch(cross_entropy_grad):
    """a batch of 4: (softmax(z) - onehot(y)) / N"""
    logits = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0], [3.0, -1.0, 2.0], [0.2, 0.1, 0.0]])
    y = np.array([0, 2, 1, 1])
    expected = _ce_grad(logits, y)
    expect_close(cross_entropy_grad(logits, y), expected, what="cross_entropy_grad",
                 mistakes={"grad-missing-1-over-n": 4 * expected, "grad-logits": -expected})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_ce_grad_large_logits(cross_entropy_grad):
    """logits near 1000 and -1000 give a finite gradient"""
    y = np.array([1, 2, 0])
    expect_close(cross_entropy_grad(LARGE_LOGITS, y), _ce_grad(LARGE_LOGITS, y),
                 what="cross_entropy_grad of logits near +-1000",
                 mistakes={"global-max": _global_max_ce_grad(LARGE_LOGITS, y),
                           "max-shift": has_nan})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_ce_grad_classes_missing_from_labels(cross_entropy_grad):
    """4 classes, labels [0, 1, 1]: the shape comes from the logits"""
    logits = np.array([[0.5, 0.0, -1.0, 2.0], [1.0, 1.0, 0.0, 0.0], [-2.0, 0.3, 0.1, 0.0]])
    y = np.array([0, 1, 1])
    with hint_if_raises(CLASSES_HINT):
        result = cross_entropy_grad(logits, y)
    if np.shape(result) in ((3, 2),):
        raise Mistake("classes-from-data")
    expect_close(result, _ce_grad(logits, y), what="cross_entropy_grad")


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

@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_regression_small(softmax_regression_loss_and_grad):
    """(loss, dW, db) on a 3-sample problem"""
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([0, 1, 2])
    W, b = np.array([[0.1, -0.2, 0.0], [0.3, 0.0, -0.1]]), np.array([0.0, 0.1, -0.1])
    G = _ce_grad(X @ W + b, y)
    loss, dW, db = _loss_and_grad(softmax_regression_loss_and_grad, W, b, X, y)
    expect_close(loss, _mean_ce(X @ W + b, y), what="loss",
                 mistakes={"sum-not-mean": 3 * _mean_ce(X @ W + b, y)})
    expect_close(dW, X.T @ G, what="dW", mistakes={"grad-missing-1-over-n": 3 * X.T @ G})
    expect_close(db, G.sum(axis=0), what="db",
                 mistakes={"grad-missing-1-over-n": 3 * G.sum(axis=0)})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_regression_large_logits(softmax_regression_loss_and_grad):
    """weights that make logits near 1000 and -1000 give finite results"""
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    W = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1002.0, -999.0]])
    b, y = np.zeros(3), np.array([1, 2, 0])
    logits = X @ W + b
    G = _ce_grad(logits, y)
    loss, dW, db = _loss_and_grad(softmax_regression_loss_and_grad, W, b, X, y)
    expect_close(loss, _mean_ce(logits, y), what="loss of logits near +-1000",
                 mistakes={"max-shift": has_nonfinite})
    with np.errstate(all="ignore"):
        G_global = _global_max_ce_grad(logits, y)
        dW_global = X.T @ G_global
    expect_close(dW, X.T @ G, what="dW of logits near +-1000",
                 mistakes={"global-max": dW_global, "max-shift": has_nan})
    expect_close(db, G.sum(axis=0), what="db of logits near +-1000",
                 mistakes={"max-shift": has_nan})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_regression_classes_missing_from_labels(softmax_regression_loss_and_grad):
    """4 classes, labels [0, 1, 1]: the shapes come from W and b"""
    X = np.array([[1.0, 2.0], [0.0, -1.0], [0.5, 0.5]])
    W, b = np.array([[0.1, 0.2, -0.3, 0.0], [0.0, -0.1, 0.2, 0.3]]), np.array([0.0, 0.1, 0.0, -0.1])
    y = np.array([0, 1, 1])
    G = _ce_grad(X @ W + b, y)
    with hint_if_raises(CLASSES_HINT):
        loss, dW, db = _loss_and_grad(softmax_regression_loss_and_grad, W, b, X, y)
    if np.shape(dW) == (2, 2) or np.shape(db) == (2,):
        raise Mistake("classes-from-data")
    expect_close(loss, _mean_ce(X @ W + b, y), what="loss")
    expect_close(dW, X.T @ G, what="dW")
    expect_close(db, G.sum(axis=0), what="db")


@pytest.mark.points(2)
@pytest.mark.visibility("hidden")
def test_regression_finite_differences(softmax_regression_loss_and_grad):
    """dW and db agree with finite differences of the loss"""
    rng = np.random.default_rng(15)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 4, size=6)
    W, b = rng.normal(size=(3, 4)), rng.normal(size=4)
    dW_ref = _central_differences(lambda w: _mean_ce(X @ w + b, y), W)
    db_ref = _central_differences(lambda c: _mean_ce(X @ W + c, y), b)
    _, dW, db = _loss_and_grad(softmax_regression_loss_and_grad, W, b, X, y)
    expect_close(dW, dW_ref, rtol=1e-5, atol=1e-8, what="dW",
                 mistakes={"grad-missing-1-over-n": 6 * dW_ref})
    expect_close(db, db_ref, rtol=1e-5, atol=1e-8, what="db",
                 mistakes={"grad-missing-1-over-n": 6 * db_ref})


# ------------------------------------------------------ numerical_gradient

@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_numgrad_sin(numerical_gradient):
    """sum(sin(x)) gives cos(x) to 1e-8 (central differences)"""
    x = np.array([0.0, 0.5, 1.0, 2.0])
    expected = np.cos(x)
    expect_close(numerical_gradient(ScalarFunction("sum_sin"), x), expected, rtol=0, atol=1e-8,
                 what="numerical_gradient(sum(sin(x)))",
                 mistakes={"forward-difference": lambda a: close(a, expected, 0, 1e-5)})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_numgrad_any_shape(numerical_gradient):
    """a (2, 3) array: sum(x**3) gives 3 x**2"""
    x = np.arange(6.0).reshape(2, 3) / 2 - 1
    expected = 3 * x**2
    expect_close(numerical_gradient(ScalarFunction("sum_cubes"), x, eps=1e-5), expected,
                 rtol=0, atol=1e-7, what="numerical_gradient(sum(x**3))",
                 mistakes={"forward-difference": lambda a: close(a, expected, 0, 1e-3)})


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_numgrad_whole_array(numerical_gradient):
    """a (3, 4) array: f = logsumexp of all entries, whose gradient is the softmax of all 12"""
    x = np.array([[0.5, -1.0, 2.0, 0.0], [1.0, 1.5, -0.5, 0.2], [-2.0, 0.3, 0.8, 1.1]])
    expected = special.softmax(x, axis=None)
    expect_close(numerical_gradient(ScalarFunction("logsumexp"), x), expected, rtol=0,
                 atol=1e-8, what="numerical_gradient(logsumexp) on a (3, 4) array",
                 mistakes={"row-at-a-time": special.softmax(x, axis=-1),
                           "forward-difference": lambda a: close(a, expected, 0, 1e-5)})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_numgrad_uses_eps(numerical_gradient):
    """eps = 0.1: the central difference of sum(x**3) is exactly 3 x**2 + eps**2"""
    x = np.array([-1.0, 0.0, 0.5, 2.0])
    expected = 3 * x**2 + 0.1**2
    expect_close(numerical_gradient(ScalarFunction("sum_cubes"), x, eps=0.1), expected,
                 rtol=1e-9, atol=1e-9, what="numerical_gradient(sum(x**3), eps=0.1)",
                 mistakes={"eps-ignored": lambda a: close(a, 3 * x**2, 0, 1e-4),
                           "forward-difference": 3 * x**2 + 3 * x * 0.1 + 0.1**2})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_numgrad_leaves_x(numerical_gradient):
    """leaves x unchanged (and is right)"""
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    call = numerical_gradient.call(ScalarFunction("sum_sin"), x.copy())
    expect(np.array_equal(call.args_after[0], x), "x was changed", "mutated-input")
    expect_close(call.value, np.cos(x), rtol=0, atol=1e-6, what="numerical_gradient")


@pytest.mark.points(1)
@pytest.mark.visibility("hidden")
def test_numgrad_3d(numerical_gradient):
    """a 3-D array: the gradient of logsumexp is the softmax"""
    x = np.random.default_rng(16).normal(size=(2, 2, 3))
    expected = special.softmax(x, axis=None)
    expect_close(numerical_gradient(ScalarFunction("logsumexp"), x), expected, rtol=0, atol=1e-8,
                 what="numerical_gradient(logsumexp)",
                 mistakes={"row-at-a-time": special.softmax(x.reshape(2, -1), axis=-1).reshape(x.shape),
                           "forward-difference": lambda a: close(a, expected, 0, 1e-5)})
