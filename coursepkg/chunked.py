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

import numpy as np

from ._backend import host_values, is_torch, namespace
from .losses import _check_options

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


def _validate(hidden, weight, target, bias, chunk_size, ignore_index, reduction,
              label_smoothing):
    """Check every argument; return ``(chunk_size, valid, safe)``."""
    _check_options(reduction, label_smoothing, ignore_index)
    xp = namespace(hidden, weight, target)
    for name, a in (("hidden", hidden), ("weight", weight)) + (
        (("bias", bias),) if bias is not None else ()
    ):
        if not xp.isdtype(a.dtype, "real floating"):
            raise TypeError(f"{name} must hold floating-point numbers, got "
                            f"dtype {_dtype_name(a)}")
        if a.dtype != hidden.dtype:
            raise TypeError(f"{name} has dtype {_dtype_name(a)} but hidden has "
                            f"{_dtype_name(hidden)}; use one dtype")
    if hidden.ndim != 2:
        raise ValueError(f"hidden must have shape (N, H), got {tuple(hidden.shape)}")
    if weight.ndim != 2 or weight.shape[1] != hidden.shape[1]:
        raise ValueError(
            f"weight must have shape (V, H) with H = {hidden.shape[1]} (the "
            f"width of hidden), got {tuple(weight.shape)}"
        )
    vocab = weight.shape[0]
    if vocab == 0:
        raise ValueError("weight has no rows: the vocabulary is empty")
    if bias is not None and tuple(bias.shape) != (vocab,):
        raise ValueError(f"bias must have shape ({vocab},), got {tuple(bias.shape)}")
    if not xp.isdtype(target.dtype, "integral"):
        raise TypeError(f"target must hold integer class indices, got dtype "
                        f"{_dtype_name(target)}")
    if tuple(target.shape) != (hidden.shape[0],):
        raise ValueError(
            f"target must have shape ({hidden.shape[0]},), one class per row "
            f"of hidden, got {tuple(target.shape)}"
        )
    values = host_values(target)  # every batch entry under torch.func.vmap
    bad = (values != ignore_index) & ((values < 0) | (values >= vocab))
    if bool(xp.any(bad)):
        raise ValueError(
            f"target holds class index {int(values[bad][0])}, out of range "
            f"for a vocabulary of {vocab} (or ignore_index={ignore_index})"
        )
    if chunk_size is None:
        per_row = max(1, hidden.shape[0]) * hidden.dtype.itemsize
        chunk_size = max(128, CHUNK_BYTES // per_row)
    chunk_size = _check_chunk(chunk_size, vocab)
    valid = target != ignore_index
    safe = xp.where(valid, target, xp.zeros_like(target))
    return chunk_size, valid, safe


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


def _forward(hidden, weight, bias, target, chunk_size, ignore_index, reduction,
             label_smoothing):
    """Loss and per-row log-sum-exp (for the backward) of the chunked CE."""
    chunk_size, valid, safe = _validate(
        hidden, weight, target, bias, chunk_size, ignore_index, reduction,
        label_smoothing,
    )
    xp = namespace(hidden)
    lib = _mod(hidden)
    n, vocab = hidden.shape[0], weight.shape[0]
    acc = xp.float64
    m = xp.full((n,), -math.inf, dtype=acc)
    d = xp.zeros((n,), dtype=acc)
    zsum = xp.zeros((n,), dtype=acc)
    for start in range(0, vocab, chunk_size):
        z = _chunk_logits(hidden, weight, bias, start, start + chunk_size)
        if label_smoothing > 0:
            zsum = zsum + xp.astype(xp.sum(z, axis=1), acc)
        m_new = xp.maximum(m, xp.astype(xp.max(z, axis=1), acc))
        z -= xp.astype(m_new, z.dtype)[:, None]
        lib.exp(z, out=z)
        d = d * xp.exp(m - m_new) + xp.astype(xp.sum(z, axis=1), acc)
        m = m_new
        del z
    lse = m + xp.log(d)
    # the target logit, from one row of weight per token: (N, H) not (N, V)
    picked = xp.sum(hidden * xp.take(weight, safe, axis=0), axis=1)
    if bias is not None:
        picked = picked + xp.take(bias, safe, axis=0)
    nll = lse - xp.astype(picked, acc)
    if label_smoothing > 0:
        nll = (1.0 - label_smoothing) * nll + label_smoothing * (lse - zsum / vocab)
    vf = xp.astype(valid, acc)
    elementwise = nll * vf
    count = xp.sum(vf)
    if reduction == "none":
        loss = elementwise
    elif reduction == "sum":
        loss = xp.sum(elementwise)
    else:
        loss = xp.sum(elementwise) / count
    return xp.astype(loss, hidden.dtype), lse, valid, safe, chunk_size


def _backward(hidden, weight, bias, valid, safe, lse, chunk_size, reduction,
              label_smoothing, grad_output=1.0, needs=(True, True, True)):
    """Gradients of the chunked loss, recomputing each chunk of logits.

    With :math:`s_n` the incoming gradient times the reduction's scale,
    :math:`G = s\\,(p - (1-\\varepsilon) y - \\varepsilon/V)` chunk by chunk,
    ``grad_hidden += G @ W_chunk``, ``grad_weight[chunk] = G.T @ hidden``,
    ``grad_bias[chunk] = G.sum(0)``.
    """
    xp = namespace(hidden)
    lib = _mod(hidden)
    n, vocab = hidden.shape[0], weight.shape[0]
    eps = label_smoothing
    vf = xp.astype(valid, hidden.dtype)
    if reduction == "mean":
        count = float(xp.sum(vf))
        scale = vf * (grad_output / count) if count else vf * 0.0
    elif reduction == "sum":
        scale = vf * grad_output
    else:
        scale = vf * xp.astype(xp.asarray(grad_output), hidden.dtype)
    scale = xp.astype(scale, hidden.dtype)
    lse_f = xp.astype(lse, hidden.dtype)[:, None]
    grad_h = xp.zeros_like(hidden) if needs[0] else None
    grad_w = xp.zeros_like(weight) if needs[1] else None
    grad_b = (xp.zeros((vocab,), dtype=hidden.dtype) if bias is not None and needs[2]
              else None)
    rows = xp.arange(n)
    for start in range(0, vocab, chunk_size):
        stop = min(start + chunk_size, vocab)
        g = _chunk_logits(hidden, weight, bias, start, stop)
        g -= lse_f
        lib.exp(g, out=g)  # p for this chunk of classes
        g *= scale[:, None]
        hit = (safe >= start) & (safe < stop) & valid
        r = rows[hit]
        g[r, safe[hit] - start] -= (1.0 - eps) * scale[hit]
        if eps > 0:
            g -= (scale * (eps / vocab))[:, None]
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


def linear_cross_entropy(hidden, weight, target, *, bias=None, chunk_size=None,
                         ignore_index=-100, reduction="mean", label_smoothing=0.0):
    r"""Cross-entropy of ``hidden @ weight.T + bias`` without the full logits.

    Equal to ``cross_entropy(hidden @ weight.T + bias, target, ...)`` but
    holding only ``(N, chunk_size)`` logits at a time.

    Parameters
    ----------
    hidden : array
        Hidden states, shape ``(N, H)``.
    weight : array
        Output projection, shape ``(V, H)`` (one row per class).
    target : array
        Integer class indices, shape ``(N,)``.
    bias : array, optional
        Shape ``(V,)``.
    chunk_size : int, optional
        Classes per chunk; by default about 16 MiB of logits per chunk.
    ignore_index : int, optional
        Targets equal to it are skipped (and not counted by the mean).
    reduction : {"mean", "sum", "none"}, optional
        How the per-row losses are combined.
    label_smoothing : float, optional
        :math:`\varepsilon \in [0, 1]`, as in :func:`cross_entropy_loss`.

    Returns
    -------
    array
        A scalar, or the ``(N,)`` losses for ``reduction="none"``.

    Notes
    -----
    With :math:`z_n = W h_n + b` and the log-sum-exp accumulated online,

    .. math::

        \ell_n = \operatorname{logsumexp}(z_n)
            - (1 - \varepsilon)\, z_{n, y_n} - \frac{\varepsilon}{V} \sum_c z_{n,c} .

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
    return _forward(hidden, weight, bias, target, chunk_size, ignore_index,
                    reduction, label_smoothing)[0]


def linear_cross_entropy_grad(hidden, weight, target, *, bias=None, chunk_size=None,
                              ignore_index=-100, reduction="mean",
                              label_smoothing=0.0):
    r"""Gradients of :func:`linear_cross_entropy` for ``hidden``, ``weight``, ``bias``.

    Same parameters as :func:`linear_cross_entropy`.

    Returns
    -------
    tuple
        ``(grad_hidden, grad_weight, grad_bias)``; ``grad_bias`` is ``None``
        without a bias.  For ``reduction="none"`` the gradient of the sum.

    Notes
    -----
    With :math:`G = P - \tilde Y` (softmax minus the smoothed one-hot
    target, scaled by the reduction), built one chunk of classes at a time,

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
    _, lse, valid, safe, chunk_size = _forward(
        hidden, weight, bias, target, chunk_size, ignore_index, reduction,
        label_smoothing,
    )
    return _backward(hidden, weight, bias, valid, safe, lse, chunk_size,
                     reduction, label_smoothing)
