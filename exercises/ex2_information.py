"""Exercise 2: entropy, cross-entropy and KL divergence.

Chapter: ``book/02_information.ipynb``.  Use only ``numpy``, ``math`` and the
standard library.  Natural logarithms; distributions lie along the **last
axis** and any leading axes are a batch.  By convention
:math:`0 \\log 0 = 0`, and a term with :math:`q_i = 0 < p_i` is ``+inf``.
"""

import numpy as np


def entropy(p):
    r"""Shannon entropy of the distributions along the last axis.

    Parameters
    ----------
    p : numpy.ndarray
        Probabilities of shape ``(..., K)``, each row summing to one.

    Returns
    -------
    numpy.ndarray or float
        Shape ``(...)``: one entropy per row (a float for a 1-D ``p``).

    Notes
    -----
    .. math::

        H(p) = -\sum_i p_i \log p_i, \qquad 0 \log 0 = 0 .

    Examples
    --------
    >>> float(entropy(np.array([0.5, 0.5])))  # log 2
    0.6931471805599453
    >>> float(entropy(np.array([1.0, 0.0])))
    0.0
    """
    ### BEGIN SOLUTION
    p = np.asarray(p, dtype=np.float64)
    safe = np.where(p > 0, p, 1.0)
    return 0.0 - np.sum(np.where(p > 0, p * np.log(safe), 0.0), axis=-1)
    ### END SOLUTION


def cross_entropy(p, q):
    r"""Cross-entropy :math:`H(p, q)` along the last axis.

    Parameters
    ----------
    p, q : numpy.ndarray
        Probabilities of the same shape ``(..., K)``.

    Returns
    -------
    numpy.ndarray or float
        Shape ``(...)``.  ``+inf`` where some :math:`q_i = 0 < p_i`.

    Notes
    -----
    .. math::

        H(p, q) = -\sum_i p_i \log q_i = H(p) + \mathrm{KL}(p \,\|\, q).

    Examples
    --------
    >>> float(cross_entropy(np.array([1.0, 0.0]), np.array([0.5, 0.5])))
    0.6931471805599453
    >>> float(cross_entropy(np.array([0.5, 0.5]), np.array([1.0, 0.0])))
    inf
    """
    ### BEGIN SOLUTION
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_q = np.log(q)
    terms = np.where(p > 0, -p * np.where(p > 0, log_q, 0.0), 0.0)
    return np.sum(terms, axis=-1)
    ### END SOLUTION


def kl_divergence(p, q):
    r"""Kullback-Leibler divergence :math:`\mathrm{KL}(p \,\|\, q)`.

    Parameters
    ----------
    p, q : numpy.ndarray
        Probabilities of the same shape ``(..., K)``; the expectation is
        taken under ``p``.

    Returns
    -------
    numpy.ndarray or float
        Shape ``(...)``; non-negative, ``0`` when ``p == q``, ``+inf`` where
        some :math:`q_i = 0 < p_i`.  Not symmetric in its arguments.

    Notes
    -----
    .. math::

        \mathrm{KL}(p \,\|\, q) = \sum_i p_i \log \frac{p_i}{q_i} .

    Examples
    --------
    >>> float(kl_divergence(np.array([0.5, 0.5]), np.array([0.5, 0.5])))
    0.0
    >>> float(kl_divergence(np.array([1.0, 0.0]), np.array([0.5, 0.5])))
    0.6931471805599453
    """
    ### BEGIN SOLUTION
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    positive = p > 0
    with np.errstate(divide="ignore"):
        log_ratio = np.log(np.where(positive, p, 1.0)) - np.log(q)
    terms = np.where(positive, p * np.where(positive, log_ratio, 0.0), 0.0)
    return np.sum(terms, axis=-1)
    ### END SOLUTION
