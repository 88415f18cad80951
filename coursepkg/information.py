"""Entropy, cross-entropy and the Kullback-Leibler divergence.

For distributions :math:`p` and :math:`q` over the same classes,

.. math::

    H(p) = -\\sum_i p_i \\log p_i, \\qquad
    H(p, q) = -\\sum_i p_i \\log q_i, \\qquad
    D_{\\mathrm{KL}}(p \\,\\|\\, q) = \\sum_i p_i \\log \\frac{p_i}{q_i}
    = H(p, q) - H(p) \\ge 0 .

Conventions: :math:`0 \\log 0 = 0` (a class that never happens costs
nothing), and a class with :math:`q_i = 0 < p_i` makes the cross-entropy and
the divergence :math:`+\\infty`.  Units are nats (natural log) unless a
``base`` is given: ``base=2`` gives bits.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._backend import (
    check_axis,
    check_floating,
    downcast,
    namespace,
    sum_tolerance,
    upcast,
)

__all__ = ["entropy", "cross_entropy", "kl_divergence", "check_distribution"]


def check_distribution(p, name: str, axis: int):
    """Raise ``ValueError`` unless ``p`` is a probability vector along ``axis``.

    Entries must be finite and non-negative and sum to one within a tolerance
    scaled to the dtype (see :func:`coursepkg._backend.sum_tolerance`).
    """
    xp = namespace(p)
    if p.shape[axis] == 0:
        raise ValueError(f"{name} has an empty class axis (axis {axis})")
    if not bool(xp.all(xp.isfinite(p))):
        raise ValueError(f"{name} has NaN or infinite entries")
    if bool(xp.any(p < 0)):
        raise ValueError(
            f"{name} has negative entries; probabilities must be >= 0"
        )
    totals = xp.sum(upcast(p)[0], axis=axis)
    tol = sum_tolerance(p.dtype, p.shape[axis])
    if totals.shape != (0,) and bool(xp.any(xp.abs(totals - 1.0) > tol)):
        worst = float(xp.max(xp.abs(totals - 1.0)))
        raise ValueError(
            f"{name} must sum to 1 along axis {axis}; a sum is off by "
            f"{worst:.3g} (tolerance {tol:.1g}). Normalise it, e.g. "
            f"{name} / {name}.sum(axis={axis}, keepdims=True)"
        )


def _log_base(base):
    if base is None:
        return None
    if isinstance(base, bool) or not isinstance(base, numbers.Real):
        raise TypeError(f"base must be a positive number, got {type(base).__name__}")
    base = float(base)
    if not (math.isfinite(base) and base > 0 and base != 1):
        raise ValueError(f"base must be positive, finite and not 1, got {base}")
    return math.log(base)


def _prepare(arrays: dict, axis):
    """Check dtype, shapes and probability constraints; return upcast arrays."""
    for name, a in arrays.items():
        check_floating(a, name)
    values = list(arrays.values())
    names = list(arrays)
    if len(values) == 2 and values[0].shape != values[1].shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got "
            f"{tuple(values[0].shape)} and {tuple(values[1].shape)}"
        )
    axis = check_axis(axis, values[0].ndim, names[0])
    for name, a in arrays.items():
        check_distribution(a, name, axis)
    dtype = values[0].dtype
    return [upcast(a)[0] for a in values], axis, dtype


def _finish(total, log_base, dtype):
    if log_base is not None:
        total = total / log_base
    return downcast(total, dtype)


def entropy(p, axis=-1, base=None):
    r"""Shannon entropy of the distribution(s) ``p``.

    Parameters
    ----------
    p : array
        Probabilities along ``axis`` (non-negative, summing to one).
    axis : int, optional
        The class axis (default: the last).
    base : float, optional
        Logarithm base; ``None`` for nats, ``2`` for bits.

    Returns
    -------
    array
        :math:`H(p)` with ``axis`` reduced away.

    Notes
    -----
    .. math::

        H(p) = -\sum_i p_i \log p_i, \qquad 0 \log 0 = 0 .

    Examples
    --------
    >>> from coursepkg import numpy as cnp
    >>> float(cnp.entropy([0.5, 0.5], base=2))  # one fair coin: one bit
    1.0
    >>> float(cnp.entropy([1.0, 0.0]))  # certain outcome: no surprise
    0.0
    """
    log_base = _log_base(base)
    (p,), axis, dtype = _prepare({"p": p}, axis)
    xp = namespace(p)
    positive = p > 0
    safe = xp.where(positive, p, xp.ones_like(p))
    terms = xp.where(positive, p * xp.log(safe), xp.zeros_like(p))
    # 0.0 - s rather than -s: a certain outcome has entropy +0.0, not -0.0
    return _finish(0.0 - xp.sum(terms, axis=axis), log_base, dtype)


def cross_entropy(p, q, axis=-1, base=None):
    r"""Cross-entropy :math:`H(p, q)`: the cost of coding samples of ``p``
    with a code built for ``q``.

    Parameters
    ----------
    p : array
        True distribution(s) along ``axis``.
    q : array
        Model distribution(s), same shape as ``p``.
    axis : int, optional
        The class axis (default: the last).
    base : float, optional
        Logarithm base; ``None`` for nats.

    Returns
    -------
    array
        :math:`H(p, q)`, ``+inf`` where some :math:`q_i = 0 < p_i`.

    Notes
    -----
    .. math::

        H(p, q) = -\sum_i p_i \log q_i = H(p) + D_{\mathrm{KL}}(p \,\|\, q).

    With a one-hot ``p`` (true class :math:`y`) it is :math:`-\log q_y`.

    Examples
    --------
    >>> from coursepkg import numpy as cnp
    >>> float(cnp.cross_entropy([0.0, 0.0, 1.0], [0.228, 0.619, 0.153]))
    1.8773173576
    """
    log_base = _log_base(base)
    (p, q), axis, dtype = _prepare({"p": p, "q": q}, axis)
    xp = namespace(p, q)
    positive = p > 0
    with np.errstate(divide="ignore"):
        log_q = xp.log(xp.where(positive, q, xp.ones_like(q)))
    terms = xp.where(positive, p * log_q, xp.zeros_like(p))
    # 0.0 - s rather than -s: a certain outcome has entropy +0.0, not -0.0
    return _finish(0.0 - xp.sum(terms, axis=axis), log_base, dtype)


def kl_divergence(p, q, axis=-1, base=None):
    r"""Kullback-Leibler divergence :math:`D_{\mathrm{KL}}(p \,\|\, q)`.

    Parameters
    ----------
    p : array
        The reference ("true") distribution(s) along ``axis``.
    q : array
        The approximating distribution(s), same shape as ``p``.
    axis : int, optional
        The class axis (default: the last).
    base : float, optional
        Logarithm base; ``None`` for nats.

    Returns
    -------
    array
        Non-negative divergence (up to the rounding of inputs that sum to
        one only within a few ulps); ``0`` exactly when ``p == q``; ``+inf``
        where some :math:`q_i = 0 < p_i`.  Not symmetric in ``p`` and ``q``.

    Notes
    -----
    .. math::

        D_{\mathrm{KL}}(p \,\|\, q) = \sum_i p_i \log \frac{p_i}{q_i}
        = H(p, q) - H(p) \ge 0 .

    Computed from the ratio :math:`p_i / q_i`, so that ``p == q`` gives
    exactly zero and there is no cancellation between two large numbers.

    Examples
    --------
    >>> from coursepkg import numpy as cnp
    >>> float(cnp.kl_divergence([0.5, 0.5], [0.5, 0.5]))
    0.0
    >>> float(cnp.kl_divergence([0.5, 0.5], [0.9, 0.1]))
    0.5108256238
    """
    log_base = _log_base(base)
    (p, q), axis, dtype = _prepare({"p": p, "q": q}, axis)
    xp = namespace(p, q)
    positive = p > 0
    ones = xp.ones_like(p)
    with np.errstate(divide="ignore"):
        ratio = xp.where(positive, p, ones) / xp.where(positive, q, ones)
    terms = xp.where(positive, p * xp.log(ratio), xp.zeros_like(p))
    return _finish(xp.sum(terms, axis=axis), log_base, dtype)
