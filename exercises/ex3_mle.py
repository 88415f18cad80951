"""Exercise 3: maximum likelihood for categorical data and softmax regression.

Chapter: ``book/03_mle.ipynb``.  Use only ``numpy``, ``math`` and the
standard library.  Labels are integers in ``0 .. K-1``.
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


def nll_loss(log_probs, y):
    r"""Mean negative log-likelihood of integer labels.

    Parameters
    ----------
    log_probs : numpy.ndarray
        Log-probabilities of shape ``(N, K)``.
    y : numpy.ndarray
        Integer labels of shape ``(N,)``.

    Returns
    -------
    float
        The mean over the batch (not the sum).

    Notes
    -----
    .. math::

        \ell = -\frac{1}{N} \sum_{n=1}^{N} \log p_{n, y_n} .

    Examples
    --------
    >>> float(nll_loss(np.log(np.array([[0.5, 0.5], [0.25, 0.75]])),
    ...                np.array([0, 1])))  # -(log 0.5 + log 0.75) / 2
    0.4904146265058631
    """
    ### BEGIN SOLUTION
    log_probs = np.asarray(log_probs, dtype=np.float64)
    y = np.asarray(y)
    return -np.mean(log_probs[np.arange(y.shape[0]), y])
    ### END SOLUTION


def categorical_mle(y, num_classes):
    r"""Maximum-likelihood class probabilities of integer samples.

    Parameters
    ----------
    y : numpy.ndarray
        Integer samples of shape ``(N,)``, ``N >= 1``.
    num_classes : int
        :math:`K`; classes that never occur get probability ``0``.

    Returns
    -------
    numpy.ndarray
        Shape ``(K,)``, summing to one.

    Notes
    -----
    Maximising :math:`\sum_n \log \pi_{y_n}` subject to
    :math:`\sum_k \pi_k = 1` gives the relative frequencies

    .. math::

        \hat\pi_k = \frac{\#\{n : y_n = k\}}{N} .

    Examples
    --------
    >>> categorical_mle(np.array([0, 2, 2, 2]), 4)
    array([0.25, 0.  , 0.75, 0.  ])
    """
    ### BEGIN SOLUTION
    y = np.asarray(y)
    counts = np.bincount(y, minlength=num_classes)
    return counts / y.shape[0]
    ### END SOLUTION


def fit_softmax_regression(X, y, num_classes, lr=0.1, num_steps=100):
    r"""Fit softmax regression by full-batch gradient descent.

    Parameters
    ----------
    X : numpy.ndarray
        Features of shape ``(N, D)``.
    y : numpy.ndarray
        Integer labels of shape ``(N,)``.
    num_classes : int
        :math:`K`.
    lr : float, optional
        Step size.
    num_steps : int, optional
        Number of gradient steps.

    Returns
    -------
    W : numpy.ndarray
        Weights of shape ``(D, K)``.
    b : numpy.ndarray
        Biases of shape ``(K,)``.

    Notes
    -----
    Start from :math:`W = 0`, :math:`b = 0` and repeat ``num_steps`` times,
    with :math:`P = \operatorname{softmax}(XW + b)` and :math:`Y` the one-hot
    labels,

    .. math::

        G = \frac{1}{N}(P - Y), \qquad
        W \leftarrow W - \eta\, X^{\top} G, \qquad
        b \leftarrow b - \eta \sum_n G_n .

    This is gradient descent on the mean cross-entropy
    :math:`-\frac{1}{N}\sum_n \log P_{n, y_n}`.

    Examples
    --------
    >>> W, b = fit_softmax_regression(np.array([[1.0], [-1.0]]),
    ...                               np.array([0, 1]), 2, num_steps=0)
    >>> W.shape, b.shape
    ((1, 2), (2,))
    """
    ### BEGIN SOLUTION
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    n, d = X.shape
    W = np.zeros((d, num_classes))
    b = np.zeros(num_classes)
    Y = np.eye(num_classes)[y]
    for _ in range(num_steps):
        G = (_softmax_rows(X @ W + b) - Y) / n
        W = W - lr * (X.T @ G)
        b = b - lr * G.sum(axis=0)
    return W, b
    ### END SOLUTION
