"""SciPy's calling conventions around the one-axis functions.

The concept modules and the fast kernels work along **one** axis of a
floating-point array.  :func:`scipy.special.softmax`, ``log_softmax`` and
``logsumexp`` also take integer input (promoted to the default float),
``axis=None`` (every axis), a tuple of axes, and 0-d input.  The wrappers
here give the faces those conventions: the axes are moved to the end and
flattened into one, the one-axis function runs there, and the result is
put back into shape.

>>> import numpy as np
>>> from coursepkg import numpy as cnp
>>> x = np.arange(6.0).reshape(2, 3)
>>> bool(np.isclose(cnp.logsumexp(x, axis=None), np.log(np.exp(x).sum())))
True
>>> cnp.softmax(x, axis=(0, 1)).sum()
np.float64(1.0)
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers

from ._backend import check_axis, is_torch, namespace

__all__ = ["promote_integers", "resolve_axes", "over_axes", "scipy_axes"]


def promote_integers(x):
    """Integer input as the default float: float64 for NumPy (as SciPy),
    ``torch.get_default_dtype()`` for tensors (as torch's reductions)."""
    xp = namespace(x)
    if not xp.isdtype(x.dtype, "integral"):
        return x
    if is_torch(x):
        import torch

        return x.to(torch.get_default_dtype())
    return xp.astype(x, xp.float64)


def resolve_axes(axis, ndim: int, name: str = "x") -> tuple[int, ...]:
    """``axis`` (an int, a tuple of ints or None) as sorted non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, tuple):
        axes = tuple(check_axis(a, ndim, name) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"axis={axis} repeats an axis of {name}")
        return tuple(sorted(axes))
    return (check_axis(axis, ndim, name),)


def _is_single(axis) -> bool:
    return not isinstance(axis, (tuple, type(None), bool)) and (
        isinstance(axis, numbers.Integral) or hasattr(axis, "__index__")
    )


def over_axes(kernel, arrays, axis, *, reduce=False, keepdims=False):
    """Run ``kernel`` on ``arrays`` (one shape) with ``axis`` flattened last.

    ``kernel(*flat)`` works along the last axis of its arguments and keeps
    it (``reduce=False``) or drops it (``reduce=True``, then ``keepdims``
    puts length-one axes back).  A 0-d input is one entry along one axis.
    """
    x = arrays[0]
    xp = namespace(x)
    if x.ndim == 0:
        if axis not in (None, 0, -1, (), (0,), (-1,)):
            resolve_axes(axis, 1)  # the error message of a 1-d array
        out = kernel(*(xp.reshape(a, (1,)) for a in arrays))
        return _map_out(out, lambda o: xp.reshape(o, ()))
    axes = resolve_axes(axis, x.ndim)
    kept = [a for a in range(x.ndim) if a not in axes]
    order = kept + list(axes)
    moved_shape = tuple(x.shape[a] for a in order)
    lead = moved_shape[: len(kept)]
    flat_shape = lead + (math.prod(x.shape[a] for a in axes),)
    flat = [xp.reshape(xp.permute_dims(a, order), flat_shape) for a in arrays]
    out = kernel(*flat)
    if reduce:
        if not keepdims:
            return out
        shape = tuple(1 if a in axes else x.shape[a] for a in range(x.ndim))
        return _map_out(out, lambda o: xp.reshape(o, shape))
    inverse = [order.index(a) for a in range(x.ndim)]
    return _map_out(out, lambda o: xp.permute_dims(xp.reshape(o, moved_shape), inverse))


def _map_out(out, fn):
    return tuple(fn(o) for o in out) if isinstance(out, tuple) else fn(out)


def scipy_axes(func):
    """Wrap a one-axis ``func(x, axis, ...)`` that keeps the axis (softmax,
    log_softmax): integer input promoted, ``axis`` may be None, a tuple or
    any axis of a 0-d array.  One int axis of an array with dimensions goes
    straight to ``func`` (its fast path)."""

    @functools.wraps(func)
    def wrapper(x, axis=-1, *args, **kwargs):
        x = promote_integers(x)
        if x.ndim > 0 and _is_single(axis):
            return func(x, axis, *args, **kwargs)
        return over_axes(lambda y: func(y, -1, *args, **kwargs), (x,), axis)

    wrapper.__signature__ = inspect.signature(func)
    return wrapper


def scipy_logsumexp(one_axis):
    """The SciPy-style ``logsumexp`` around a one-axis ``one_axis(x, axis,
    keepdims)``: integer input, ``axis`` None or a tuple, 0-d input, and
    ``b=`` / ``return_sign=`` (through
    ``coursepkg.logsumexp.signed_logsumexp_last``)."""
    from .logsumexp import signed_logsumexp_last

    def logsumexp(x, axis=-1, keepdims=False, *, b=None, return_sign=False):
        x = promote_integers(x)
        if b is None and not return_sign:
            if x.ndim > 0 and _is_single(axis):
                return one_axis(x, axis, keepdims)
            return over_axes(lambda y: one_axis(y, -1, False), (x,), axis,
                             reduce=True, keepdims=keepdims)
        xp = namespace(x, b) if b is not None else namespace(x)
        if b is None:
            b = xp.ones_like(x)
        b = promote_integers(b)
        try:
            x, b = xp.broadcast_arrays(x, b)
        except (ValueError, RuntimeError):
            raise ValueError(
                f"b of shape {tuple(b.shape)} does not broadcast with x of "
                f"shape {tuple(x.shape)}"
            ) from None
        res, sign = over_axes(signed_logsumexp_last, (x, b), axis, reduce=True,
                              keepdims=keepdims)
        if return_sign:
            return res, sign
        return xp.where(sign < 0, xp.full_like(res, math.nan), res)

    return logsumexp
