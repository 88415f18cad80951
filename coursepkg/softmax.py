"""Softmax, log-softmax and the logistic sigmoid.

Softmax turns a vector of real scores (logits) into a probability vector:

.. math::

    \\operatorname{softmax}(z)_i = \\frac{e^{z_i}}{\\sum_j e^{z_j}}.

It is invariant to adding a constant to every logit, which is exactly what
makes the stable version possible: subtract the maximum first.  With two
classes it reduces to the sigmoid of the logit difference,
``softmax([a, b])[0] == sigmoid(a - b)``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._backend import (
    check_axis,
    check_floating,
    downcast,
    from_last,
    namespace,
    to_last,
    upcast,
)
from .logsumexp import max_shift

__all__ = ["softmax", "log_softmax", "naive_softmax", "sigmoid", "log_sigmoid"]


def _check_temperature(temperature) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(
            f"temperature must be a positive real number, got "
            f"{type(temperature).__name__}"
        )
    temperature = float(temperature)
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(
            f"temperature must be positive and finite, got {temperature}"
        )
    return temperature


def plus_inf_rows_to_nan(out, m):
    """NaN wherever the row maximum ``m`` is ``+inf``.

    The guarded shift leaves a ``+inf`` logit unshifted, which would give
    ``[nan, 0]`` for ``[inf, 0]``; SciPy's softmax and PyTorch's softmax and
    log_softmax give a NaN row (``inf - inf`` in their shift), and so do we.
    """
    xp = namespace(out)
    return xp.where(m == math.inf, xp.full_like(out, math.nan), out)


def softmax_last(z):
    """Stable softmax along the last axis of ``z`` (no checks, no casts)."""
    xp = namespace(z)
    m, _, e, _ = max_shift(z)
    with np.errstate(invalid="ignore"):  # 0/0 and inf/inf: the NaN rows
        return plus_inf_rows_to_nan(e / xp.sum(e, axis=-1, keepdims=True), m)


def log_softmax_last(z):
    """``(z - m) - log1p(rest)`` along the last axis (no checks, no casts)."""
    xp = namespace(z)
    m, shift, e, rest = max_shift(z)
    # NaN rows, and z - shift overflowing to -inf (-1e308 - 1e308), which is
    # the right answer: the log-probability of that entry is -inf
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_norm = xp.where(
            xp.isfinite(m), xp.log1p(rest),
            xp.log(xp.sum(e, axis=-1, keepdims=True)),
        )
        return plus_inf_rows_to_nan((z - shift) - log_norm, m)


def softmax(x, axis=-1, temperature=1.0):
    r"""Softmax along ``axis``, stable for any finite input.

    Parameters
    ----------
    x : array
        Floating-point logits (NumPy array or torch tensor).  The faces also
        take integers (promoted to the default float, as SciPy) and 0-d
        input (softmax 1).
    axis : int, optional
        The class axis (default: the last; SciPy's default is ``None``).
        The faces also take a tuple of axes or None (every axis): the
        softmax over all their entries together, as SciPy.
    temperature : float, optional
        Positive :math:`T`; the logits are divided by it.  :math:`T \to 0`
        approaches a one-hot argmax, :math:`T \to \infty` the uniform
        distribution.

    Returns
    -------
    array
        Probabilities with the shape and dtype of ``x``; non-negative and
        summing to one along ``axis``.

    Notes
    -----
    .. math::

        \operatorname{softmax}(x; T)_i
        = \frac{e^{(x_i - m)/T}}{\sum_j e^{(x_j - m)/T}},
        \qquad m = \max_j x_j .

    Special cases (as :func:`scipy.special.softmax` and
    :func:`torch.softmax`): a row of all ``-inf`` gives NaN (0/0); a row with
    a ``+inf`` entry gives a NaN row; a NaN entry gives a NaN row; ``-inf``
    entries next to a finite one get probability 0 (masking); an empty array
    gives an empty array.

    Examples
    --------
    >>> from coursepkg import numpy as cnp
    >>> cnp.softmax([1000.0, 1000.0, 1000.0 - 2 * 0.6931471805599453])
    array([0.44444444, 0.44444444, 0.11111111])
    """
    check_floating(x, "x")
    axis = check_axis(axis, x.ndim, "x")
    temperature = _check_temperature(temperature)
    xp = namespace(x)
    work, dtype = upcast(to_last(x, axis))
    if work.shape[-1] == 0:  # a new (empty) array, not x itself
        return downcast(from_last(work * 1, axis), dtype)
    if temperature != 1.0:
        work = work / temperature
    return downcast(from_last(softmax_last(work), axis), dtype)


def log_softmax(x, axis=-1):
    r"""Logarithm of the softmax, computed as ``shifted - logsumexp``.

    Never ``log(softmax(x))``: that underflows to ``-inf`` as soon as a
    probability is below the smallest float, although its log is an
    ordinary number.

    Parameters
    ----------
    x : array
        Floating-point logits.  The faces also take integers and 0-d input,
        as :func:`softmax`.
    axis : int, optional
        The class axis (default: the last); on the faces also a tuple of
        axes or None, as :func:`softmax`.

    Returns
    -------
    array
        Log-probabilities with the shape and dtype of ``x``.

    Notes
    -----
    With :math:`m = \max_j x_j` at index :math:`k`,

    .. math::

        \log \operatorname{softmax}(x)_i
        = (x_i - m) - \operatorname{log1p}\Bigl(\sum_{j \ne k} e^{x_j - m}\Bigr),

    so the largest entry is exactly ``-log1p(rest)``: no cancellation.
    Special cases: an all ``-inf`` row or a NaN gives a NaN row; a row with
    a ``+inf`` entry gives a NaN row, as :func:`torch.log_softmax` (SciPy's
    ``log_softmax`` gives NaN only at the ``+inf`` entry and ``-inf`` at the
    others; we follow PyTorch so that ``exp(log_softmax) == softmax`` and the
    losses built on it agree with ``torch.nn.functional.cross_entropy``); an
    empty array gives an empty array.

    Examples
    --------
    >>> from coursepkg import numpy as cnp
    >>> cnp.log_softmax([0.0, -1000.0])  # log(softmax) would give -inf
    array([    0., -1000.])
    """
    check_floating(x, "x")
    axis = check_axis(axis, x.ndim, "x")
    xp = namespace(x)
    work, dtype = upcast(to_last(x, axis))
    if work.shape[-1] == 0:  # a new (empty) array, not x itself
        return downcast(from_last(work * 1, axis), dtype)
    return downcast(from_last(log_softmax_last(work), axis), dtype)


def naive_softmax(x, axis=-1):
    r"""The textbook softmax ``exp(x) / sum(exp(x))``, unstable on purpose.

    Kept so that the chapters can show it fail: in float32 any logit above
    about 88.7 overflows ``exp`` to ``inf`` and the result becomes NaN, and a
    row of logits below about -103 underflows to ``0/0``.  No float32
    accumulation for half precision either: it fails where the dtype does.

    Parameters
    ----------
    x : array
        Floating-point logits.
    axis : int, optional
        The class axis.

    Returns
    -------
    array
        ``exp(x) / sum(exp(x), axis)`` in the dtype of ``x``.

    Notes
    -----
    .. math::

        \operatorname{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}

    Examples
    --------
    >>> from coursepkg import numpy as cnp
    >>> cnp.naive_softmax([1.0, 2.0, 3.0])
    array([0.09003057, 0.24472847, 0.66524096])
    >>> cnp.naive_softmax([1000.0, 0.0])  # exp(1000) = inf, inf / inf = nan
    array([nan,  0.])
    """
    check_floating(x, "x")
    axis = check_axis(axis, x.ndim, "x")
    xp = namespace(x)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = xp.exp(x)
        return e / xp.sum(e, axis=axis, keepdims=True)


def sigmoid(x):
    r"""The logistic sigmoid :math:`1 / (1 + e^{-x})`, stable for any sign.

    Parameters
    ----------
    x : array
        Floating-point input.

    Returns
    -------
    array
        Values in ``[0, 1]`` with the shape and dtype of ``x``.

    Notes
    -----
    Only ever exponentiates :math:`-|x| \le 0`:

    .. math::

        \sigma(x) = \begin{cases}
            1 / (1 + e^{-x}) & x \ge 0 \\
            e^{x} / (1 + e^{x}) & x < 0
        \end{cases}

    Examples
    --------
    >>> from coursepkg import numpy as cnp
    >>> cnp.sigmoid([-1000.0, 0.0, 1000.0])
    array([0. , 0.5, 1. ])
    """
    check_floating(x, "x")
    xp = namespace(x)
    work, dtype = upcast(x)
    e = xp.exp(-xp.abs(work))
    out = xp.where(work >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return downcast(out, dtype)


def log_sigmoid(x):
    r"""Logarithm of the sigmoid, :math:`-\log(1 + e^{-x})`, without overflow.

    Parameters
    ----------
    x : array
        Floating-point input.

    Returns
    -------
    array
        Values in ``(-inf, 0]`` with the shape and dtype of ``x``.

    Notes
    -----
    .. math::

        \log \sigma(x) = \min(x, 0) - \operatorname{log1p}(e^{-|x|})

    Examples
    --------
    >>> from coursepkg import numpy as cnp
    >>> cnp.log_sigmoid([-1000.0, 0.0, 40.0])
    array([-1.00000000e+03, -6.93147181e-01, -4.24835426e-18])
    """
    check_floating(x, "x")
    xp = namespace(x)
    work, dtype = upcast(x)
    out = xp.minimum(work, xp.zeros_like(work)) - xp.log1p(xp.exp(-xp.abs(work)))
    return downcast(out, dtype)
