"""Exercise 1: a numerically stable softmax.

Chapter: ``book/01_softmax.ipynb``.  Use only ``numpy``, ``math`` and the
standard library.  Work on the **last axis**; any leading axes are a batch.
"""

import numpy as np


def softmax(z):
    r"""Softmax over the last axis, stable for any finite input.

    Parameters
    ----------
    z : numpy.ndarray
        Float64 logits of shape ``(..., K)``.

    Returns
    -------
    numpy.ndarray
        Probabilities of the same shape: non-negative, each row (last axis)
        summing to one.  ``z`` itself is left unchanged.

    Notes
    -----
    .. math::

        \operatorname{softmax}(z)_i = \frac{e^{z_i - m}}{\sum_j e^{z_j - m}},
        \qquad m = \max_j z_j .

    Subtracting :math:`m` changes nothing mathematically and keeps every
    exponent :math:`\le 0`, so logits of magnitude ``1e300`` do not overflow.

    Examples
    --------
    >>> softmax(np.array([1000.0, 1000.0]))
    array([0.5, 0.5])
    >>> softmax(np.array([[0.0, 0.0], [1e300, -1e300]]))
    array([[0.5, 0.5],
           [1. , 0. ]])
    """
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    shifted = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)
    ### END SOLUTION
