"""The log-sum-exp trick.

``log(sum(exp(x)))`` overflows as soon as one entry of ``x`` exceeds
``log(finfo.max)`` (88.7 in float32) and underflows to ``-inf`` when every
entry is very negative.  Subtracting the maximum first changes nothing
mathematically,

.. math::

    \\log \\sum_j e^{x_j} = m + \\log \\sum_j e^{x_j - m},
    \\qquad m = \\max_j x_j,

and makes every exponential lie in ``(0, 1]``, with the largest equal to 1.
Splitting that 1 off and adding the rest with ``log1p`` keeps full relative
accuracy when the other terms are tiny (``logsumexp([0, -40])`` is
``4.248e-18``, not ``0``).
"""

from __future__ import annotations

import math

import numpy as np

from ._backend import (
    array_device,
    check_axis,
    check_floating,
    downcast,
    from_last,
    namespace,
    to_last,
    upcast,
)

__all__ = ["logsumexp", "signed_logsumexp_last"]


def max_shift(z):
    """Shared kernel of the stable functions, along the **last** axis of ``z``.

    Returns ``(m, shift, e, rest)`` with ``keepdims`` shapes except ``e``:

    - ``m``: the row maximum, taken with ``take_along_axis`` at the argmax so
      that its gradient goes to exactly one entry (ties included);
    - ``shift``: ``m`` where it is finite, else ``0`` (an all ``-inf`` row or
      a ``+inf`` entry must not produce ``inf - inf``);
    - ``e = exp(z - shift)``: every entry in ``[0, 1]`` when ``m`` is finite;
    - ``rest``: the sum of ``e`` without the maximal entry, so that the row
      sum is ``1 + rest`` and ``log(sum) = log1p(rest)`` exactly.
    """
    xp = namespace(z)
    idx = xp.argmax(z, axis=-1, keepdims=True)
    m = xp.take_along_axis(z, idx, axis=-1)
    finite = xp.isfinite(m)
    shift = xp.where(finite, m, xp.zeros_like(m))
    # a finite difference can overflow to -inf (1e308 - -1e308): exp gives
    # the exact 0, so NumPy's warning is noise
    with np.errstate(over="ignore"):
        e = xp.exp(z - shift)
    positions = xp.arange(z.shape[-1], device=array_device(z))
    is_max = positions == idx
    rest = xp.sum(xp.where(is_max, xp.zeros_like(e), e), axis=-1,
                  keepdims=True)
    return m, shift, e, rest


def logsumexp(x, axis=-1, keepdims=False):
    r"""Logarithm of the sum of exponentials, computed without overflow.

    Parameters
    ----------
    x : array
        Floating-point input (NumPy array or torch tensor).  The faces
        (``coursepkg.numpy``, ``coursepkg.torch``) also take integers,
        promoted to the default float (float64; torch's default dtype), and
        0-d input.
    axis : int, optional
        Axis to reduce over (default: the last; SciPy's default is every
        axis, ``axis=None``).  The faces also take a tuple of axes or None.
    keepdims : bool, optional
        Keep the reduced axis with length one.
    b : array, optional
        Faces only, keyword-only (SciPy's third positional argument is
        ``b``, ours is ``keepdims``): weights broadcast against ``x``;
        the result is ``log|sum(b * exp(x))|``, NaN where that sum is
        negative unless ``return_sign``
        (``signed_logsumexp_last``).
    return_sign : bool, optional
        Faces only: return ``(log|s|, sign(s))`` as SciPy does.

    Returns
    -------
    array
        ``log(sum(exp(x), axis))`` with the dtype of ``x``; the NumPy face
        returns a NumPy scalar for a 0-d result, as SciPy.

    Notes
    -----
    With :math:`m = \max_j x_j` and :math:`k` the index of the maximum,

    .. math::

        \operatorname{logsumexp}(x) = m + \operatorname{log1p}
        \Bigl(\sum_{j \ne k} e^{x_j - m}\Bigr).

    Special cases: a row of all ``-inf`` gives ``-inf``; a ``+inf`` entry
    gives ``+inf``; a NaN entry gives NaN; an empty axis gives ``-inf`` (the
    log of an empty sum).  float16 and bfloat16 are accumulated in float32.

    Examples
    --------
    >>> from coursepkg import numpy as cnp
    >>> float(cnp.logsumexp([1000.0, 1000.0]))  # 1000 + log 2, no overflow
    1000.6931471805599
    >>> float(cnp.logsumexp([0.0, -40.0]))  # log(1 + e^-40), no cancellation
    4.248354255291589e-18
    """
    check_floating(x, "x")
    axis = check_axis(axis, x.ndim, "x")
    xp = namespace(x)
    work, dtype = upcast(to_last(x, axis))
    if work.shape[-1] == 0:
        out = xp.full(work.shape[:-1] + (1,), -math.inf, dtype=work.dtype,
                      device=array_device(work))
    else:
        m, _, _, rest = max_shift(work)
        out = m + xp.log1p(rest)
    out = downcast(out, dtype)
    if keepdims:
        return from_last(out, axis)
    return out[..., 0]


def signed_logsumexp_last(a, b):
    r"""``(log|s|, sign(s))`` of :math:`s = \sum_j b_j e^{a_j}` along the last axis.

    The weighted log-sum-exp of :func:`scipy.special.logsumexp` with ``b``:
    entries with :math:`b_j = 0` are left out (also where :math:`a_j` is
    infinite), the rest shifted by their maximum :math:`m`:

    .. math::

        \log\Bigl|\sum_j b_j e^{a_j}\Bigr| = m + \log\Bigl|\sum_j b_j e^{a_j - m}\Bigr| .

    A sum of zero gives ``(-inf, 0)``.  Unlike the unweighted
    :func:`logsumexp` there is no ``log1p`` split (a negative weight can
    cancel the largest term), so tiny sums next to one keep only absolute
    accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> res, sign = signed_logsumexp_last(np.array([0.0, 0.0]), np.array([1.0, -3.0]))
    >>> round(float(res), 12), float(sign)  # log |1 - 3| = log 2
    (0.69314718056, -1.0)
    """
    xp = namespace(a, b)
    work, dtype = upcast(a)
    weights = xp.astype(upcast(b)[0], work.dtype)
    kept = weights != 0
    work = xp.where(kept, work, xp.full_like(work, -math.inf))
    m = xp.max(work, axis=-1, keepdims=True)
    shift = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    with np.errstate(over="ignore", invalid="ignore"):
        terms = xp.where(kept, weights * xp.exp(work - shift), xp.zeros_like(work))
    total = xp.sum(terms, axis=-1)
    with np.errstate(divide="ignore"):
        res = xp.log(xp.abs(total)) + shift[..., 0]
    return downcast(res, dtype), downcast(xp.sign(total), dtype)
