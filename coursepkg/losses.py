"""Classification losses from logits: negative log-likelihood and cross-entropy.

The cross-entropy loss of logits :math:`z` against a class :math:`y` is the
negative log-likelihood of :math:`y` under :math:`\\operatorname{softmax}(z)`,
computed straight from the logits, never through ``log(softmax(z))``:

.. math::

    \\ell(z, y) = -\\log \\operatorname{softmax}(z)_y
    = \\operatorname{logsumexp}(z) - z_y .

:func:`cross_entropy_loss` and :func:`nll_loss` give the same numbers as
``torch.nn.functional.cross_entropy`` and ``torch.nn.functional.nll_loss``
for every input they accept: logits of shape ``(C)``, ``(N, C)`` or
``(N, C, d1, ..., dk)`` with the classes on dimension 1; targets that are
class indices (integer, the shape without the class dimension) or class
probabilities (floating, the shape of the logits); class weights;
``ignore_index``; the reductions ``"none"``, ``"mean"`` and ``"sum"``; and
label smoothing.  :func:`cross_entropy_loss_grad` is its gradient from the
closed form ``softmax(z) - target``, weighted and scaled by the reduction.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._backend import (
    array_device,
    check_floating,
    downcast,
    host_values,
    from_last,
    namespace,
    to_last,
    upcast,
)
from .logsumexp import max_shift
from .softmax import log_softmax_last, plus_inf_rows_to_nan, softmax_last

__all__ = ["cross_entropy_loss", "nll_loss", "cross_entropy_loss_grad"]

REDUCTIONS = ("none", "mean", "sum")


@dataclass
class _Problem:
    """A validated loss problem with the class axis moved last."""

    z: object  # (..., C) logits or log-probabilities, float32/64
    target: object  # (...) int indices or (..., C) probabilities
    kind: str  # "index" or "prob"
    weight: object  # (C,) or None
    ignore_index: int
    reduction: str
    label_smoothing: float
    class_axis: int
    dtype: object  # dtype of the result

    @property
    def num_classes(self) -> int:
        return self.z.shape[-1]


def _check_options(reduction, label_smoothing, ignore_index):
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction must be one of {REDUCTIONS}, got {reduction!r}"
        )
    if isinstance(label_smoothing, bool) or not isinstance(
        label_smoothing, numbers.Real
    ):
        raise TypeError(
            f"label_smoothing must be a number in [0, 1], got "
            f"{type(label_smoothing).__name__}"
        )
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(
            f"label_smoothing must be in [0, 1], got {label_smoothing}"
        )
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(
            f"ignore_index must be an int, got {type(ignore_index).__name__}"
        )


def check_index_range(target, num_classes, ignore_index, what="classes"):
    """Raise ``ValueError`` for a class index outside ``[0, num_classes)``
    that is not ``ignore_index`` (any shape; under ``vmap`` every entry)."""
    xp = namespace(target)
    target = host_values(target)
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= num_classes))
    if bool(xp.any(bad)):
        first = int(target[bad][0]) if target.ndim else int(target)
        raise ValueError(
            f"target holds class index {first}, out of range for "
            f"{num_classes} {what} (valid: 0..{num_classes - 1}, or "
            f"ignore_index={ignore_index})"
        )


def _check_probability_values(target):
    """Probability targets as torch takes them: any finite values >= 0
    (torch does not ask them to sum to one: ``-sum(t * log_softmax(z))``)."""
    xp = namespace(target)
    values = host_values(target)
    if not bool(xp.all(xp.isfinite(values))):
        raise ValueError("target has NaN or infinite entries")
    if bool(xp.any(values < 0)):
        raise ValueError(
            "target has negative entries; class probabilities must be >= 0"
        )


def _prepare(
    logits,
    target,
    weight,
    ignore_index,
    reduction,
    label_smoothing,
    *,
    logits_name="logits",
    allow_probabilities=True,
    check_values=True,
) -> _Problem:
    _check_options(reduction, label_smoothing, ignore_index)
    check_floating(logits, logits_name)
    xp = namespace(logits, target)
    if logits.ndim == 0:
        raise ValueError(
            f"{logits_name} must have shape (C), (N, C) or (N, C, d1, ...), "
            f"got a scalar"
        )
    class_axis = 0 if logits.ndim == 1 else 1
    num_classes = logits.shape[class_axis]
    index_shape = tuple(logits.shape[:class_axis]) + tuple(
        logits.shape[class_axis + 1 :]
    )
    if num_classes == 0:
        raise ValueError(f"{logits_name} has no classes (dimension {class_axis} is 0)")

    if xp.isdtype(target.dtype, "real floating"):
        if not allow_probabilities or tuple(target.shape) != tuple(logits.shape):
            raise TypeError(
                f"target must hold integer class indices of shape "
                f"{index_shape}, got a {str(target.dtype).removeprefix('torch.')}"
                f" array of shape {tuple(target.shape)}"
                + (
                    f" (class-probability targets must have the shape of "
                    f"{logits_name}, {tuple(logits.shape)})"
                    if allow_probabilities
                    else ""
                )
            )
        kind = "prob"
        if ignore_index != -100:  # as torch: nothing to ignore in a distribution
            raise ValueError(
                f"ignore_index={ignore_index} is not supported for "
                f"class-probability targets; leave it at its default -100"
            )
        if check_values:
            _check_probability_values(target)
    elif xp.isdtype(target.dtype, "integral"):
        kind = "index"
        if tuple(target.shape) != index_shape:
            raise ValueError(
                f"target of class indices must have shape {index_shape} for "
                f"{logits_name} of shape {tuple(logits.shape)}, got "
                f"{tuple(target.shape)}"
            )
        if check_values:
            check_index_range(target, num_classes, ignore_index)
    else:
        raise TypeError(
            f"target must hold integer class indices or floating-point class "
            f"probabilities, got dtype {str(target.dtype).removeprefix('torch.')}"
        )

    z, dtype = upcast(to_last(logits, class_axis))
    if weight is not None:
        check_floating(weight, "weight")
        if tuple(weight.shape) != (num_classes,):
            raise ValueError(
                f"weight must have shape ({num_classes},), one entry per "
                f"class, got {tuple(weight.shape)}"
            )
        weight = xp.astype(weight, z.dtype)
    if kind == "prob":
        target = xp.astype(to_last(target, class_axis), z.dtype)
    else:  # any integer dtype; take_along_dim in torch wants int64
        target = xp.astype(target, xp.int64)
    return _Problem(
        z=z,
        target=target,
        kind=kind,
        weight=weight,
        ignore_index=int(ignore_index),
        reduction=reduction,
        label_smoothing=float(label_smoothing),
        class_axis=class_axis,
        dtype=dtype,
    )


def _gather_last(a, index):
    """``a[..., index[...]]`` along the last axis."""
    xp = namespace(a)
    return xp.take_along_axis(a, index[..., None], axis=-1)[..., 0]


def _index_parts(prob: _Problem):
    """Validity mask, safe indices and the weight of each element's class."""
    xp = namespace(prob.z)
    valid = prob.target != prob.ignore_index
    safe = xp.where(valid, prob.target, xp.zeros_like(prob.target))
    if prob.weight is None:
        w_y = xp.ones(safe.shape, dtype=prob.z.dtype, device=array_device(prob.z))
    else:
        w_y = xp.take(prob.weight, xp.reshape(safe, (-1,)), axis=0)
        w_y = xp.reshape(w_y, safe.shape)
    w_y = xp.where(valid, w_y, xp.zeros_like(w_y))
    return valid, safe, w_y


def _reduce(prob: _Problem, elementwise, denominator):
    xp = namespace(elementwise)
    if prob.reduction == "none":
        return elementwise
    total = xp.sum(elementwise)
    if prob.reduction == "sum":
        return total
    with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: 0/0
        return total / denominator


def _loss(prob: _Problem):
    """The loss of a prepared problem (class axis last, computation dtype)."""
    xp = namespace(prob.z)
    eps = prob.label_smoothing
    num_classes = prob.num_classes
    if prob.kind == "index":
        valid, safe, w_y = _index_parts(prob)
        if prob.z.shape[-1] == 0 or math.prod(prob.z.shape) == 0:
            lse = xp.zeros(safe.shape, dtype=prob.z.dtype,
                           device=array_device(prob.z))
        else:
            m, _, _, rest = max_shift(prob.z)
            # a +inf logit makes the row NaN, as in torch's log_softmax
            lse = plus_inf_rows_to_nan(m + xp.log1p(rest), m)[..., 0]
        # NLL from logits: logsumexp(z) - z_y, never log(softmax(z))[y]
        nll = lse - _gather_last(prob.z, safe)
        elementwise = xp.where(valid, w_y * nll, xp.zeros_like(nll))
        if eps > 0:
            log_p = log_softmax_last(prob.z)
            w = 1.0 if prob.weight is None else prob.weight
            smooth = -xp.sum(log_p * w, axis=-1)
            smooth = xp.where(valid, smooth, xp.zeros_like(smooth))
            elementwise = ((1.0 - eps) * elementwise
                           + (eps / num_classes) * smooth)
        denominator = xp.sum(w_y)
    else:
        log_p = log_softmax_last(prob.z)
        t = prob.target
        if eps > 0:
            t = t * (1.0 - eps) + eps / num_classes
        if prob.weight is not None:
            t = t * prob.weight
        elementwise = -xp.sum(log_p * t, axis=-1)
        count = math.prod(elementwise.shape)
        denominator = count if count else math.nan
    out = _reduce(prob, elementwise, denominator)
    return downcast(out, prob.dtype)


def _grad(prob: _Problem, grad_output=1.0):
    """Gradient of the loss with respect to the logits (class axis restored).

    Every variant is ``-sum_c t_c log p_c`` for an effective target ``t``
    (one-hot or probabilities, smoothed, weighted, zero where ignored), whose
    gradient is ``p * sum_c t_c - t``; the reduction scales it.
    """
    xp = namespace(prob.z)
    eps = prob.label_smoothing
    num_classes = prob.num_classes
    p = softmax_last(prob.z)
    if prob.kind == "index":
        valid, safe, w_y = _index_parts(prob)
        classes = xp.arange(num_classes, device=array_device(prob.z))
        one_hot = xp.astype(safe[..., None] == classes, prob.z.dtype)
        t = ((1.0 - eps) * w_y)[..., None] * one_hot
        if eps > 0:
            w = (
                xp.ones((num_classes,), dtype=prob.z.dtype,
                        device=array_device(prob.z))
                if prob.weight is None
                else prob.weight
            )
            t = t + xp.where(
                valid[..., None], (eps / num_classes) * w, xp.zeros_like(t)
            )
        denominator = xp.sum(w_y)
    else:
        t = prob.target
        if eps > 0:
            t = t * (1.0 - eps) + eps / num_classes
        if prob.weight is not None:
            t = t * prob.weight
        count = math.prod(t.shape[:-1])
        denominator = count if count else math.nan
    grad = p * xp.sum(t, axis=-1, keepdims=True) - t
    if prob.reduction == "none":
        if not isinstance(grad_output, (int, float)):
            grad_output = grad_output[..., None]
        grad = grad * grad_output
    elif prob.reduction == "sum":
        grad = grad * grad_output
    else:
        with np.errstate(invalid="ignore", divide="ignore"):  # all ignored
            grad = grad * (grad_output / denominator)
        if prob.kind == "index":
            # ignored elements get exactly 0, also when every target is
            # ignored and the mean is 0/0 (NaN loss, zero gradient: torch)
            grad = xp.where(valid[..., None], grad, xp.zeros_like(grad))
    return downcast(from_last(grad, prob.class_axis), prob.dtype)


def cross_entropy_loss(
    logits,
    target,
    *,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
):
    r"""Cross-entropy between the softmax of ``logits`` and ``target``.

    Equal to ``torch.nn.functional.cross_entropy`` for every input it accepts.

    Parameters
    ----------
    logits : array
        Floating-point scores of shape ``(C)``, ``(N, C)`` or
        ``(N, C, d1, ..., dk)``: the classes are on dimension 1 (dimension 0
        for a single unbatched example).
    target : array
        Either integer class indices in ``[0, C)`` with the shape of
        ``logits`` minus its class dimension, or floating class probabilities
        with the shape of ``logits``: any non-negative values (as in PyTorch
        they need not sum to one; the loss is ``-sum(t * log_softmax(z))``,
        and on the torch face ``target`` may require grad).
    weight : array, optional
        Rescaling weight for each class, shape ``(C,)``.
    ignore_index : int, optional
        Index targets equal to it contribute neither to the loss nor to the
        mean's denominator.  Only for index targets: with probability
        targets it must keep its default ``-100`` (as in PyTorch).
    reduction : {"mean", "sum", "none"}, optional
        ``"mean"`` divides by the summed weight of the non-ignored targets
        (by the number of elements for probability targets).
    label_smoothing : float, optional
        :math:`\varepsilon \in [0, 1]`: the target becomes
        :math:`(1 - \varepsilon)\,y + \varepsilon / C`.

    Returns
    -------
    array
        A scalar, or the per-element losses for ``reduction="none"``.

    Notes
    -----
    For index targets, with :math:`w` the class weights,

    .. math::

        \ell_n = (1 - \varepsilon)\, w_{y_n}
            \bigl(\operatorname{logsumexp}(z_n) - z_{n, y_n}\bigr)
            - \frac{\varepsilon}{C} \sum_c w_c \log \operatorname{softmax}(z_n)_c ,
        \qquad
        \text{mean} = \frac{\sum_n \ell_n}{\sum_n w_{y_n}} .

    For probability targets
    :math:`\ell_n = -\sum_c w_c\, \tilde y_{n,c} \log \operatorname{softmax}(z_n)_c`
    with the smoothed :math:`\tilde y`, and the mean divides by :math:`N`.
    With every target ignored the mean is NaN (0/0), as in PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import numpy as cnp
    >>> logits = np.log([[0.228, 0.619, 0.153]])  # softmax gives these back
    >>> float(cnp.cross_entropy_loss(logits, np.array([2])))  # -log 0.153
    1.8773173576
    >>> cnp.cross_entropy_loss(np.zeros((2, 10)), np.array([3, 7]),
    ...                        reduction="none")  # uniform: log 10 each
    array([2.30258509, 2.30258509])
    """
    prob = _prepare(logits, target, weight, ignore_index, reduction, label_smoothing)
    return _loss(prob)


def cross_entropy_loss_grad(
    logits,
    target,
    *,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
):
    r"""Gradient of :func:`cross_entropy_loss` with respect to ``logits``.

    Same parameters as :func:`cross_entropy_loss`.  For
    ``reduction="none"`` it returns the gradient of the *sum* of the
    per-element losses (each row is that element's own gradient).

    Returns
    -------
    array
        Same shape and dtype as ``logits``.

    Notes
    -----
    Write every variant as :math:`\ell_n = -\sum_c t_{n,c} \log p_{n,c}`
    with :math:`p_n = \operatorname{softmax}(z_n)` and an effective target
    :math:`t_n` (one-hot or probabilities, smoothed, times the class weights,
    zero where ignored).  Since :math:`\partial(-\log p_c)/\partial z = p - e_c`,

    .. math::

        \frac{\partial \ell_n}{\partial z_n} = p_n \sum_c t_{n,c} - t_n ,

    which is the familiar :math:`p - y` for a one-hot, unweighted target.
    ``"mean"`` then divides by the same denominator as the loss.

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import numpy as cnp
    >>> g = cnp.cross_entropy_loss_grad(np.zeros((1, 4)), np.array([1]))
    >>> g  # p - y with p uniform
    array([[ 0.25, -0.75,  0.25,  0.25]])
    >>> float(g.sum())  # each row of the gradient sums to zero
    0.0
    """
    prob = _prepare(logits, target, weight, ignore_index, reduction, label_smoothing)
    return _grad(prob)


def nll_loss(log_probs, target, *, weight=None, ignore_index=-100, reduction="mean"):
    r"""Negative log-likelihood of class indices under given log-probabilities.

    Equal to ``torch.nn.functional.nll_loss``.  Feed it log-probabilities
    (e.g. from :func:`log_softmax`);
    ``nll_loss(log_softmax(z), y)`` equals ``cross_entropy_loss(z, y)``.

    Parameters
    ----------
    log_probs : array
        Shape ``(C)``, ``(N, C)`` or ``(N, C, d1, ..., dk)``.
    target : array
        Integer class indices, the shape of ``log_probs`` minus dimension 1.
    weight : array, optional
        Per-class weight, shape ``(C,)``.
    ignore_index : int, optional
        Targets equal to it are skipped.
    reduction : {"mean", "sum", "none"}, optional
        How to combine the per-element losses.

    Returns
    -------
    array
        A scalar, or the per-element losses for ``reduction="none"``.

    Notes
    -----
    .. math::

        \ell_n = -w_{y_n} \log p_{n, y_n}, \qquad
        \text{mean} = \frac{\sum_n \ell_n}{\sum_n w_{y_n}} .

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import numpy as cnp
    >>> log_p = np.log([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    >>> float(cnp.nll_loss(log_p, np.array([0, 2])))  # -(log .5 + log .8)/2
    0.4581453659
    """
    prob = _prepare(
        log_probs,
        target,
        weight,
        ignore_index,
        reduction,
        0.0,
        logits_name="log_probs",
        allow_probabilities=False,
    )
    xp = namespace(prob.z)
    valid, safe, w_y = _index_parts(prob)
    picked = _gather_last(prob.z, safe)
    elementwise = xp.where(valid, -w_y * picked, xp.zeros_like(picked))
    out = _reduce(prob, elementwise, xp.sum(w_y))
    return downcast(out, prob.dtype)
