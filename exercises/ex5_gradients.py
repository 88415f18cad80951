"""Exercise 5: gradients of softmax and cross-entropy, checked numerically.

Chapter: ``book/05_gradients.ipynb``.  Use only ``numpy``, ``math`` and the
standard library.
"""

import numpy as np


def _softmax_rows(logits):
    """Stable softmax over the last axis: paste your exercise 1 here.

    A helper, not graded on its own: the functions below that call it are.
    """
    ### BEGIN SOLUTION
    e = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)
    ### END SOLUTION


def softmax_jacobian(z):
    r"""Jacobian of the softmax of a 1-D vector.

    Parameters
    ----------
    z : numpy.ndarray
        Logits of shape ``(K,)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(K, K)``; entry ``[i, j]`` is :math:`\partial p_i/\partial z_j`.

    Notes
    -----
    .. math::

        J = \operatorname{diag}(p) - p p^{\top}, \qquad
        p = \operatorname{softmax}(z) .

    Examples
    --------
    >>> softmax_jacobian(np.array([0.0, 0.0]))
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    """
    ### BEGIN SOLUTION
    p = _softmax_rows(np.asarray(z, dtype=np.float64))
    return np.diag(p) - np.outer(p, p)
    ### END SOLUTION


def cross_entropy_grad(logits, y):
    r"""Gradient of the mean cross-entropy with respect to the logits.

    Parameters
    ----------
    logits : numpy.ndarray
        Logits of shape ``(N, K)``.
    y : numpy.ndarray
        Integer labels of shape ``(N,)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(N, K)``.

    Notes
    -----
    For :math:`\ell = \frac{1}{N}\sum_n -\log \operatorname{softmax}(z_n)_{y_n}`,

    .. math::

        \frac{\partial \ell}{\partial z_{n k}}
        = \frac{1}{N}\bigl(\operatorname{softmax}(z_n)_k - [k = y_n]\bigr).

    Examples
    --------
    >>> cross_entropy_grad(np.array([[0.0, 0.0]]), np.array([0]))
    array([[-0.5,  0.5]])
    """
    ### BEGIN SOLUTION
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y)
    n, k = logits.shape
    return (_softmax_rows(logits) - np.eye(k)[y]) / n
    ### END SOLUTION


def softmax_regression_loss_and_grad(W, b, X, y):
    r"""Mean cross-entropy of ``X @ W + b`` and its gradients.

    Parameters
    ----------
    W : numpy.ndarray
        Weights of shape ``(D, K)``.
    b : numpy.ndarray
        Biases of shape ``(K,)``.
    X : numpy.ndarray
        Features of shape ``(N, D)``.
    y : numpy.ndarray
        Integer labels of shape ``(N,)``.

    Returns
    -------
    loss : float
        The mean cross-entropy.
    dW : numpy.ndarray
        Shape ``(D, K)``.
    db : numpy.ndarray
        Shape ``(K,)``.

    Notes
    -----
    With :math:`G = \frac{1}{N}(\operatorname{softmax}(XW + b) - Y)`,

    .. math::

        \frac{\partial \ell}{\partial W} = X^{\top} G, \qquad
        \frac{\partial \ell}{\partial b} = \sum_n G_n .

    Examples
    --------
    >>> loss, dW, db = softmax_regression_loss_and_grad(
    ...     np.zeros((1, 2)), np.zeros(2), np.array([[1.0]]), np.array([0]))
    >>> round(float(loss), 6), db
    (0.693147, array([-0.5,  0.5]))
    """
    ### BEGIN SOLUTION
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    n = X.shape[0]
    logits = X @ W + b
    m = np.max(logits, axis=-1, keepdims=True)
    log_z = np.log(np.sum(np.exp(logits - m), axis=-1)) + m[:, 0]
    loss = np.mean(log_z - logits[np.arange(n), y])
    G = (_softmax_rows(logits) - np.eye(W.shape[1])[y]) / n
    return loss, X.T @ G, G.sum(axis=0)
    ### END SOLUTION


def numerical_gradient(f, x, eps=1e-6):
    r"""Central-difference gradient of a scalar function.

    Parameters
    ----------
    f : callable
        Takes an array shaped like ``x`` and returns a float.
    x : numpy.ndarray
        The point, of any shape.  It must be left unchanged.
    eps : float, optional
        The step :math:`\varepsilon`.

    Returns
    -------
    numpy.ndarray
        Same shape as ``x``.

    Notes
    -----
    .. math::

        \frac{\partial f}{\partial x_i} \approx
        \frac{f(x + \varepsilon e_i) - f(x - \varepsilon e_i)}{2\varepsilon},

    accurate to :math:`O(\varepsilon^2)`, where the one-sided difference is
    only :math:`O(\varepsilon)`.

    Examples
    --------
    >>> g = numerical_gradient(lambda v: float(np.sum(v ** 2)), np.array([1.0, -2.0]))
    >>> np.round(g, 6)
    array([ 2., -4.])
    """
    ### BEGIN SOLUTION
    x_work = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x_work)
    for index in np.ndindex(x_work.shape):
        original = x_work[index]
        x_work[index] = original + eps
        f_plus = f(x_work)
        x_work[index] = original - eps
        f_minus = f(x_work)
        x_work[index] = original
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad
    ### END SOLUTION
