r"""Cross-entropy over a large vocabulary, one chunk of classes at a time.

A language model's last layer maps a hidden state :math:`h_n \in \mathbb{R}^H`
to :math:`V` logits :math:`z_n = W h_n + b`.  With :math:`V = 128\,000` and
:math:`N = 8192` tokens the logits alone take :math:`N V \cdot 4` bytes
(4 GB in float32), and autograd keeps them and their gradient.  But the loss
needs only the log-sum-exp of each row, and that can be computed *online*,
one chunk of the vocabulary at a time, with a running maximum :math:`m` and
normaliser :math:`d` (Milakov & Gimelshein, 2018):

.. math::

    m' = \max(m, \max_{j \in \text{chunk}} z_j), \qquad
    d' = d\, e^{m - m'} + \sum_{j \in \text{chunk}} e^{z_j - m'},

so that :math:`\operatorname{logsumexp}(z) = m + \log d` at the end.  The
gradient is recomputed chunk by chunk in the backward pass:
:math:`\partial \ell / \partial z_j = p_j - y_j` with
:math:`p_j = e^{z_j - \operatorname{logsumexp}(z)}`, and it flows into
:math:`\partial \ell/\partial h = (p - y) W` and
:math:`\partial \ell/\partial W = (p - y)^\top h` without ever holding all
:math:`N \times V` logits.

The same lines run on NumPy arrays and torch tensors; the torch face wraps
them in a :class:`torch.autograd.Function`
(:class:`coursepkg.kernels_torch.LinearCrossEntropyFunction`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._backend import host_values, is_torch, namespace
from .losses import _check_options, _check_probability_values

__all__ = [
    "online_merge",
    "online_logsumexp",
    "linear_cross_entropy",
    "linear_cross_entropy_grad",
]

#: Bytes of one chunk of logits when ``chunk_size`` is not given.
CHUNK_BYTES = 16 * 1024 * 1024


def online_merge(m1, d1, m2, d2):
    r"""Merge two partial softmax normalisers ``(m, d)`` into one.

    Each pair summarises a set of logits :math:`S` by its maximum
    :math:`m = \max_S z` and :math:`d = \sum_S e^{z - m}`.

    .. math::

        m = \max(m_1, m_2), \qquad
        d = d_1 e^{m_1 - m} + d_2 e^{m_2 - m}

    Parameters
    ----------
    m1, d1, m2, d2 : float or array
        The two partial results (NumPy or torch, broadcastable).

    Returns
    -------
    tuple
        ``(m, d)`` of the union; an empty part is ``(-inf, 0)``.

    Examples
    --------
    >>> import numpy as np
    >>> m, d = online_merge(2.0, 1.0, 5.0, 1.0 + np.exp(-1.0))  # {2}, {5, 4}
    >>> float(m + np.log(d)), float(np.log(np.exp([2.0, 5.0, 4.0]).sum()))
    (5.349012216768187, 5.349012216768187)
    """
    xp = namespace(np.asarray(m1) if isinstance(m1, float) else m1)
    m1, m2 = xp.asarray(m1), xp.asarray(m2)
    m = xp.maximum(m1, m2)
    safe = xp.where(xp.isfinite(m), m, xp.zeros_like(m))  # both parts empty
    return m, d1 * xp.exp(m1 - safe) + d2 * xp.exp(m2 - safe)


def online_logsumexp(x, chunk_size):
    r"""Log-sum-exp of the last axis, reading ``chunk_size`` entries at a time.

    .. math::

        \operatorname{logsumexp}(x) = m_K + \log d_K, \qquad
        (m_k, d_k) = \operatorname{merge}\bigl((m_{k-1}, d_{k-1}),
        (\max x^{(k)}, \textstyle\sum e^{x^{(k)} - \max x^{(k)}})\bigr)

    Parameters
    ----------
    x : array
        Floating-point values; the last axis is reduced.
    chunk_size : int
        How many entries of the last axis each step reads.

    Returns
    -------
    array
        The log-sum-exp over the last axis.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1000.0, 1000.0, 0.0, -50.0])
    >>> round(float(online_logsumexp(x, chunk_size=3)) - 1000.0, 10)  # log 2
    0.6931471806
    """
    xp = namespace(x)
    chunk_size = _check_chunk(chunk_size, x.shape[-1])
    m = xp.full(x.shape[:-1], -math.inf, dtype=x.dtype)
    d = xp.zeros(x.shape[:-1], dtype=x.dtype)
    for start in range(0, x.shape[-1], chunk_size):
        part = x[..., start : start + chunk_size]
        pm = xp.max(part, axis=-1)
        shift = xp.where(xp.isfinite(pm), pm, xp.zeros_like(pm))
        pd = xp.sum(xp.exp(part - shift[..., None]), axis=-1)
        m, d = online_merge(m, d, pm, pd)
    return m + xp.log(d)


def _check_chunk(chunk_size, vocab: int) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
        raise TypeError(
            f"chunk_size must be a positive int or None, got "
            f"{type(chunk_size).__name__}"
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    return int(min(chunk_size, max(vocab, 1)))


def _dtype_name(a) -> str:
    return str(a.dtype).removeprefix("torch.")


@dataclass
class _Linear:
    """A validated 2-D problem: ``hidden (N, H)``, ``target (N,)`` or ``(N, V)``."""

    hidden: object
    weight: object  # the projection, (V, H)
    bias: object
    target: object
    kind: str  # "index" or "prob"
    class_weight: object  # (V,) in the dtype of hidden, or None
    valid: object  # (N,) bool: not ignored
    safe: object  # (N,) int indices (0 where ignored), or None
    chunk_size: int
    reduction: str
    eps: float

    @property
    def vocab(self) -> int:
        return self.weight.shape[0]

    def target_chunk(self, start, stop):
        r"""The effective target :math:`t` of classes ``start:stop`` (the
        one-hot part of index targets is left to the caller)."""
        xp = namespace(self.hidden)
        cw = None if self.class_weight is None else self.class_weight[start:stop]
        if self.kind == "prob":
            t = xp.astype(self.target[:, start:stop], self.hidden.dtype)
            t = t * (1.0 - self.eps) + self.eps / self.vocab
        else:  # the smoothing part, on the valid rows
            t = xp.astype(self.valid, self.hidden.dtype)[:, None] * (
                self.eps / self.vocab) * xp.ones((1, stop - start), dtype=self.hidden.dtype)
        return t if cw is None else t * cw

    def picked_weight(self):
        """``(1 - eps) w_y`` per row (index targets; 0 where ignored)."""
        xp = namespace(self.hidden)
        vf = xp.astype(self.valid, self.hidden.dtype)
        if self.class_weight is None:
            return (1.0 - self.eps) * vf
        return (1.0 - self.eps) * xp.take(self.class_weight, self.safe, axis=0) * vf


def _validate(hidden, weight, target, bias, chunk_size, ignore_index, reduction,
              label_smoothing, class_weight=None):
    """Check every argument of the 2-D problem (``hidden (N, H)`` and the
    target's leading shape come from :func:`as_rows`); return a
    :class:`_Linear`."""
    _check_options(reduction, label_smoothing, ignore_index)
    xp = namespace(hidden, weight, target)
    for name, a in (("hidden", hidden), ("linear_weight", weight)) + (
        (("bias", bias),) if bias is not None else ()
    ):
        if not xp.isdtype(a.dtype, "real floating"):
            raise TypeError(f"{name} must hold floating-point numbers, got "
                            f"dtype {_dtype_name(a)}")
        if a.dtype != hidden.dtype:
            raise TypeError(f"{name} has dtype {_dtype_name(a)} but hidden has "
                            f"{_dtype_name(hidden)}; use one dtype")
    if weight.ndim != 2 or weight.shape[1] != hidden.shape[1]:
        raise ValueError(
            f"linear_weight must have shape (V, H) with H = {hidden.shape[1]} "
            f"(the width of hidden), got {tuple(weight.shape)}"
        )
    vocab = weight.shape[0]
    if vocab == 0:
        raise ValueError("linear_weight has no rows: the vocabulary is empty")
    if bias is not None and tuple(bias.shape) != (vocab,):
        raise ValueError(f"bias must have shape ({vocab},), got {tuple(bias.shape)}")
    if class_weight is not None:
        if not xp.isdtype(class_weight.dtype, "real floating"):
            raise TypeError(f"weight must hold floating-point numbers, got dtype "
                            f"{_dtype_name(class_weight)}")
        if tuple(class_weight.shape) != (vocab,):
            raise ValueError(f"weight must have shape ({vocab},), one entry per "
                             f"class, got {tuple(class_weight.shape)}")
        class_weight = xp.astype(class_weight, hidden.dtype)
    n = hidden.shape[0]
    if xp.isdtype(target.dtype, "real floating"):
        if tuple(target.shape) != (n, vocab):
            raise ValueError(
                f"target of class probabilities must have shape ({n}, {vocab}), "
                f"got {tuple(target.shape)}"
            )
        if ignore_index != -100:
            raise ValueError(
                f"ignore_index={ignore_index} is not supported for "
                f"class-probability targets; leave it at its default -100"
            )
        _check_probability_values(target)
        kind, valid, safe = "prob", xp.ones((n,), dtype=xp.bool), None
    elif xp.isdtype(target.dtype, "integral"):  # shape (N,): checked by as_rows
        values = host_values(target)  # every batch entry under torch.func.vmap
        bad = (values != ignore_index) & ((values < 0) | (values >= vocab))
        if bool(xp.any(bad)):
            raise ValueError(
                f"target holds class index {int(values[bad][0])}, out of range "
                f"for a vocabulary of {vocab} (or ignore_index={ignore_index})"
            )
        kind = "index"
        valid = target != ignore_index
        safe = xp.where(valid, target, xp.zeros_like(target))
    else:
        raise TypeError(f"target must hold integer class indices or floating "
                        f"class probabilities, got dtype {_dtype_name(target)}")
    if chunk_size is None:
        per_row = max(1, n) * hidden.dtype.itemsize
        chunk_size = max(128, CHUNK_BYTES // per_row)
    chunk_size = _check_chunk(chunk_size, vocab)
    return _Linear(hidden, weight, bias, target, kind, class_weight, valid, safe,
                   chunk_size, reduction, float(label_smoothing))


def _mod(a):
    """The array library itself (``numpy`` or ``torch``), for ``out=``."""
    if is_torch(a):
        import torch

        return torch
    return np


def _chunk_logits(hidden, weight, bias, start, stop):
    z = hidden @ weight[start:stop].T
    if bias is not None:
        z += bias[start:stop]
    return z


def _forward(prob: _Linear):
    r"""``(loss, lse, total)`` of the chunked loss: per row the log-sum-exp
    and :math:`T_n = \sum_c t_{n,c}`, both kept for the backward.

    Every variant is :math:`\ell_n = T_n \operatorname{logsumexp}(z_n) -
    \sum_c t_{n,c} z_{n,c}` for its effective target :math:`t`.
    """
    hidden, weight, bias = prob.hidden, prob.weight, prob.bias
    xp = namespace(hidden)
    lib = _mod(hidden)
    n, vocab = hidden.shape[0], prob.vocab
    acc = xp.float64
    m = xp.full((n,), -math.inf, dtype=acc)
    d = xp.zeros((n,), dtype=acc)
    tz = xp.zeros((n,), dtype=acc)  # sum_c t_c z_c (the non-one-hot part)
    total = xp.zeros((n,), dtype=acc)
    spread = prob.kind == "prob" or prob.eps > 0
    for start in range(0, vocab, prob.chunk_size):
        stop = min(start + prob.chunk_size, vocab)
        z = _chunk_logits(hidden, weight, bias, start, stop)
        if spread:
            t = prob.target_chunk(start, stop)
            tz = tz + xp.astype(xp.sum(t * z, axis=1), acc)
            total = total + xp.astype(xp.sum(t, axis=1), acc)
        m_new = xp.maximum(m, xp.astype(xp.max(z, axis=1), acc))
        z -= xp.astype(m_new, z.dtype)[:, None]
        lib.exp(z, out=z)
        d = d * xp.exp(m - m_new) + xp.astype(xp.sum(z, axis=1), acc)
        m = m_new
        del z
    lse = m + xp.log(d)
    if prob.kind == "index":
        w_pick = xp.astype(prob.picked_weight(), acc)
        # the target logit, from one row of weight per token: (N, H) not (N, V)
        picked = xp.sum(hidden * xp.take(weight, prob.safe, axis=0), axis=1)
        if bias is not None:
            picked = picked + xp.take(bias, prob.safe, axis=0)
        tz = tz + w_pick * xp.astype(picked, acc)
        total = total + w_pick
    elementwise = xp.where(total != 0, total * lse - tz, xp.zeros_like(tz))
    if prob.reduction == "none":
        loss = elementwise
    elif prob.reduction == "sum":
        loss = xp.sum(elementwise)
    else:
        loss = xp.sum(elementwise) / _denominator(prob, acc)
    return xp.astype(loss, hidden.dtype), lse, total


def _denominator(prob: _Linear, dtype):
    """What ``"mean"`` divides by: the summed weight of the non-ignored
    targets (index targets), the number of rows (probability targets)."""
    xp = namespace(prob.hidden)
    if prob.kind == "prob":
        return xp.asarray(float(prob.hidden.shape[0]) or math.nan, dtype=dtype)
    vf = xp.astype(prob.valid, dtype)
    if prob.class_weight is None:
        return xp.sum(vf)
    return xp.sum(xp.astype(xp.take(prob.class_weight, prob.safe, axis=0), dtype) * vf)


def _backward(prob: _Linear, lse, total, grad_output=1.0,
              needs=(True, True, True)):
    r"""Gradients of the chunked loss, recomputing each chunk of logits.

    With :math:`s_n` the incoming gradient times the reduction's scale,
    :math:`G = s\,(p\,T - t)` chunk by chunk (:math:`t` the effective
    target, :math:`T` its row sum), ``grad_hidden += G @ W_chunk``,
    ``grad_weight[chunk] = G.T @ hidden``, ``grad_bias[chunk] = G.sum(0)``.
    """
    hidden, weight, bias = prob.hidden, prob.weight, prob.bias
    xp = namespace(hidden)
    lib = _mod(hidden)
    n, vocab = hidden.shape[0], prob.vocab
    vf = xp.astype(prob.valid, hidden.dtype)
    if prob.reduction == "mean":
        count = float(_denominator(prob, xp.float64))
        scale = vf * (grad_output / count) if count else vf * 0.0
    elif prob.reduction == "sum":
        scale = vf * grad_output
    else:
        scale = vf * xp.astype(xp.asarray(grad_output), hidden.dtype)
    scale = xp.astype(scale, hidden.dtype)
    lse_f = xp.astype(lse, hidden.dtype)[:, None]
    row = (scale * xp.astype(total, hidden.dtype))[:, None]
    grad_h = xp.zeros_like(hidden) if needs[0] else None
    grad_w = xp.zeros_like(weight) if needs[1] else None
    grad_b = (xp.zeros((vocab,), dtype=hidden.dtype)
              if bias is not None and needs[2] else None)
    rows = xp.arange(n)
    if prob.kind == "index":
        pick = scale * prob.picked_weight()
    for start in range(0, vocab, prob.chunk_size):
        stop = min(start + prob.chunk_size, vocab)
        g = _chunk_logits(hidden, weight, bias, start, stop)
        g -= lse_f
        lib.exp(g, out=g)  # p for this chunk of classes
        g *= row
        if prob.kind == "index":
            hit = (prob.safe >= start) & (prob.safe < stop) & prob.valid
            g[rows[hit], prob.safe[hit] - start] -= pick[hit]
        if prob.kind == "prob" or prob.eps > 0:
            g -= scale[:, None] * prob.target_chunk(start, stop)
        if grad_h is not None:
            if is_torch(g):
                grad_h.addmm_(g, weight[start:stop])
            else:
                grad_h += g @ weight[start:stop]
        if grad_w is not None:
            lib.matmul(g.T, hidden, out=grad_w[start:stop])
        if grad_b is not None:
            grad_b[start:stop] = xp.sum(g, axis=0)
        del g
    return grad_h, grad_w, grad_b


def as_rows(hidden, target):
    """``(hidden (N, H), target (N,) or (N, V), lead shape)`` for any leading
    shape: ``(H,)`` is one unbatched row, ``(d1, ..., dk, H)`` flattens."""
    xp = namespace(hidden)
    if hidden.ndim == 0:
        raise ValueError("hidden must have shape (H), (N, H) or (..., H), got a scalar")
    lead = tuple(hidden.shape[:-1])
    n = math.prod(lead)
    prob_target = xp.isdtype(target.dtype, "real floating")
    want = lead + ((None,) if prob_target else ())
    if (tuple(target.shape[:len(lead)]) != lead
            or target.ndim != len(want)):
        expected = lead + (("V",) if prob_target else ())
        raise ValueError(f"target must have shape {expected} for hidden of shape "
                         f"{tuple(hidden.shape)}, got {tuple(target.shape)}")
    rows_h = xp.reshape(hidden, (n, hidden.shape[-1]))
    rows_t = xp.reshape(target, (n,) + tuple(target.shape[len(lead):]))
    return rows_h, rows_t, lead


def linear_cross_entropy(hidden, linear_weight, target, *, bias=None, weight=None,
                         chunk_size=None, ignore_index=-100, reduction="mean",
                         label_smoothing=0.0):
    r"""Cross-entropy of ``hidden @ linear_weight.T + bias`` without the full logits.

    Equal to ``torch.nn.functional.cross_entropy(logits, target, ...)`` on
    ``logits = hidden @ linear_weight.T + bias`` (with the classes moved to
    dimension 1 for extra leading dimensions), but holding only
    ``(N, chunk_size)`` logits at a time.  The argument names are those of
    ``torch.nn.functional.linear_cross_entropy``.

    Parameters
    ----------
    hidden : array
        Hidden states, shape ``(N, H)``, ``(H,)`` (one unbatched row) or
        ``(d1, ..., dk, H)``.
    linear_weight : array
        Output projection, shape ``(V, H)`` (one row per class).
    target : array
        Integer class indices with the shape of ``hidden`` minus its last
        axis, or non-negative class probabilities with that shape plus
        ``V`` (as torch, they need not sum to one).
    bias : array, optional
        Shape ``(V,)``.
    weight : array, optional
        Rescaling weight for each class, shape ``(V,)``, as in
        :func:`cross_entropy_loss`.
    chunk_size : int, optional
        Classes per chunk; by default about 16 MiB of logits per chunk.
    ignore_index : int, optional
        Index targets equal to it are skipped (and not counted by the mean).
    reduction : {"mean", "sum", "none"}, optional
        How the per-row losses are combined (``"none"``: the shape of
        ``hidden`` minus its last axis).
    label_smoothing : float, optional
        :math:`\varepsilon \in [0, 1]`, as in :func:`cross_entropy_loss`.

    Returns
    -------
    array
        A scalar, or the per-row losses for ``reduction="none"``.

    Notes
    -----
    With :math:`z_n = W h_n + b`, the log-sum-exp accumulated online and
    the effective target :math:`t_n` (one-hot or probabilities, smoothed,
    times the class weights, zero where ignored),

    .. math::

        \ell_n = \Bigl(\sum_c t_{n,c}\Bigr) \operatorname{logsumexp}(z_n)
            - \sum_c t_{n,c}\, z_{n,c} ;

    ``"mean"`` divides by the summed class weight of the non-ignored
    targets (index targets) or by the number of rows (probabilities).
    Differences from torch: ``weight`` (the class weights) and the target
    cannot require grad here; ``hidden`` may have more than one leading
    dimension (torch's accepts ``(H)`` and ``(N, H)`` only).

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import numpy as cnp
    >>> rng = np.random.default_rng(0)
    >>> h, W = rng.standard_normal((4, 3)), rng.standard_normal((10, 3))
    >>> y = np.array([1, 0, 9, 4])
    >>> a = cnp.linear_cross_entropy(h, W, y, chunk_size=3)
    >>> b = cnp.cross_entropy_loss(h @ W.T, y)
    >>> bool(np.isclose(a, b, rtol=1e-14))
    True
    """
    rows_h, rows_t, lead = as_rows(hidden, target)
    prob = _validate(rows_h, linear_weight, rows_t, bias, chunk_size, ignore_index,
                     reduction, label_smoothing, weight)
    loss = _forward(prob)[0]
    if reduction == "none":
        xp = namespace(loss)
        return xp.reshape(loss, lead)
    return loss


def linear_cross_entropy_grad(hidden, linear_weight, target, *, bias=None,
                              weight=None, chunk_size=None, ignore_index=-100,
                              reduction="mean", label_smoothing=0.0):
    r"""Gradients of :func:`linear_cross_entropy` for ``hidden``, ``linear_weight``, ``bias``.

    Same parameters as :func:`linear_cross_entropy`.

    Returns
    -------
    tuple
        ``(grad_hidden, grad_linear_weight, grad_bias)``; ``grad_bias`` is
        ``None`` without a bias.  For ``reduction="none"`` the gradient of
        the sum.

    Notes
    -----
    With :math:`G = s\,(P\,T - \tilde Y)` (softmax times the row sums of the
    effective target, minus that target, scaled by the reduction), built
    one chunk of classes at a time,

    .. math::

        \frac{\partial L}{\partial h} = G W, \qquad
        \frac{\partial L}{\partial W} = G^\top h, \qquad
        \frac{\partial L}{\partial b} = \mathbf{1}^\top G .

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import numpy as cnp
    >>> h, W = np.zeros((2, 3)), np.ones((4, 3))
    >>> gh, gW, gb = cnp.linear_cross_entropy_grad(h, W, np.array([0, 1]),
    ...                                            bias=np.zeros(4))
    >>> gb  # mean of (p - y) over the two rows, p uniform
    array([-0.25, -0.25,  0.25,  0.25])
    """
    rows_h, rows_t, lead = as_rows(hidden, target)
    prob = _validate(rows_h, linear_weight, rows_t, bias, chunk_size, ignore_index,
                     reduction, label_smoothing, weight)
    _, lse, total = _forward(prob)
    gh, gw, gb = _backward(prob, lse, total)
    xp = namespace(gh)
    return xp.reshape(gh, tuple(hidden.shape)), gw, gb
