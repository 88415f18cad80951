"""Exercise 4: the log-sum-exp trick.

Chapter: ``book/04_logsumexp.ipynb``.  Use only ``numpy``, ``math`` and the
standard library.  Work on the **last axis**; any leading axes are a batch.
"""

import numpy as np


def logsumexp(x):
    r"""Stable :math:`\log \sum_i e^{x_i}` over the last axis.

    Parameters
    ----------
    x : numpy.ndarray
        Float64 array of shape ``(..., K)``.

    Returns
    -------
    numpy.ndarray or float
        Shape ``(...)``.  A row of all ``-inf`` gives ``-inf``.

    Notes
    -----
    .. math::

        \log \sum_i e^{x_i} = m + \log \sum_i e^{x_i - m},
        \qquad m = \max_i x_i ,

    with :math:`m` replaced by ``0`` when it is not finite (a row of all
    ``-inf`` would otherwise give ``-inf - (-inf) = nan``).

    Examples
    --------
    >>> float(logsumexp(np.array([1000.0, 1000.0])))  # 1000 + log 2
    1000.6931471805599
    >>> float(logsumexp(np.array([-np.inf, -np.inf])))
    -inf
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True)) + m
    return np.squeeze(out, axis=-1)
    ### END SOLUTION


def log_softmax(z):
    r"""Stable log-softmax over the last axis.

    Parameters
    ----------
    z : numpy.ndarray
        Float64 logits of shape ``(..., K)``.

    Returns
    -------
    numpy.ndarray
        Same shape; finite wherever ``z`` is finite, even where the
        probability itself underflows to ``0``.

    Notes
    -----
    .. math::

        \log \operatorname{softmax}(z)_i = z_i - \log \sum_j e^{z_j} .

    Never compute ``np.log(softmax(z))``: ``softmax`` rounds tiny
    probabilities to ``0`` and the logarithm turns them into ``-inf``.

    Examples
    --------
    >>> log_softmax(np.array([0.0, -1000.0]))
    array([    0., -1000.])
    """
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    return z - logsumexp(z)[..., np.newaxis]
    ### END SOLUTION


def cross_entropy_from_logits(logits, y):
    r"""Mean cross-entropy of integer labels, computed from logits.

    Parameters
    ----------
    logits : numpy.ndarray
        Float64 logits of shape ``(N, K)``.
    y : numpy.ndarray
        Integer labels of shape ``(N,)``.

    Returns
    -------
    float
        The mean over the batch; finite for logits of any finite size.

    Notes
    -----
    .. math::

        \ell = \frac{1}{N} \sum_n \Bigl(\log \sum_k e^{z_{n k}}
        - z_{n, y_n}\Bigr).

    Examples
    --------
    >>> float(cross_entropy_from_logits(np.array([[1e4, 0.0]]),
    ...                                 np.array([1])))
    10000.0
    """
    ### BEGIN SOLUTION
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y)
    picked = logits[np.arange(y.shape[0]), y]
    return np.mean(logsumexp(logits) - picked)
    ### END SOLUTION
