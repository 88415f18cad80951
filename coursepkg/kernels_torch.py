r"""The torch face's :class:`torch.autograd.Function` classes and fast paths.

:mod:`coursepkg.losses` is the readable reference; the classes here compute
the same numbers on torch's fused kernels where they can, and give autograd
everything ``torch.nn.functional`` gives it:

- **backward** from the closed form: for ``-sum_c t_c log p_c`` with an
  effective target :math:`t` (one-hot or probabilities, smoothed, weighted,
  zero where ignored) the gradient is :math:`p \sum_c t_c - t`;
- **double backward**: when autograd records the backward
  (``create_graph=True``, :func:`torch.func.grad` and friends) the backward
  runs as ordinary differentiable torch operations on the saved inputs, so
  Hessian-vector products and gradient penalties see the loss's Hessian
  :math:`\operatorname{diag}(p) - p p^\top` (times :math:`\sum_c t_c`);
  without a graph it runs in place on one buffer;
- **forward mode** (:meth:`jvp`): :math:`\dot\ell = \sum_c (p \sum t - t)_c
  \dot z_c - \sum_c \log p_c\, \dot t_c`;
- **torch.func**: ``setup_context`` and ``generate_vmap_rule``, with no
  data-dependent Python branches, so ``vmap``, ``grad``, ``jacrev``,
  ``jacfwd`` and per-sample gradients work.  Argument checks that read
  values (class indices in range, probabilities non-negative) look at the
  values of every batch entry under ``vmap``.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch._C import _functorch

from . import compiled
from . import losses as _losses
from ._backend import downcast

__all__ = [
    "CrossEntropyLossFunction",
    "cross_entropy_loss",
    "LinearCrossEntropyFunction",
    "linear_cross_entropy",
]

_FUSED_DTYPES = (torch.float32, torch.float64)


# --------------------------------------------------------------------------
# Cross-entropy from logits
# --------------------------------------------------------------------------


def to_last(t, axis):
    """Move ``axis`` to the end (``movedim``: batched under every vmap)."""
    return t if axis == t.ndim - 1 else t.movedim(axis, -1)


def from_last(t, axis):
    return t if axis == t.ndim - 1 else t.movedim(-1, axis)


def _transformed(*tensors) -> bool:
    """Whether a :mod:`torch.func` transform wraps any of ``tensors`` (in-place
    updates of an unbatched buffer by a batched one are not allowed there)."""
    return any(_functorch.is_functorch_wrapped_tensor(t)
               or _functorch.is_legacy_batchedtensor(t) for t in tensors)


def _problem(logits, target, weight, ignore_index, reduction, label_smoothing,
             check_values=False):
    return _losses._prepare(logits, target, weight, ignore_index, reduction,
                            label_smoothing, check_values=check_values)


def _fused(prob, logits) -> bool:
    """Whether the loss runs on torch's fused log_softmax/nll_loss kernels."""
    return prob.kind == "index" and logits.dtype in _FUSED_DTYPES


def _fused_loss(prob, logits):
    r"""Index-target loss on torch's kernels; returns ``(loss, log_p)``.

    .. math::

        \ell_n = (1-\varepsilon)\, w_{y_n} (-\log p_{n,y_n})
            - \frac{\varepsilon}{C} \sum_c w_c \log p_{n,c}
    """
    cdim = 0 if logits.ndim == 1 else 1
    log_p = F.log_softmax(logits, cdim)
    target = prob.target
    eps = prob.label_smoothing
    if eps == 0:
        loss = F.nll_loss(log_p, target, weight=prob.weight,
                          ignore_index=prob.ignore_index, reduction=prob.reduction)
        return loss, log_p
    c = logits.shape[cdim]
    nll = F.nll_loss(log_p, target, weight=prob.weight,
                     ignore_index=prob.ignore_index, reduction="none")
    w = log_p.new_ones(c) if prob.weight is None else prob.weight
    shape = [1] * logits.ndim
    shape[cdim] = c
    smooth = -(log_p * w.reshape(shape)).sum(cdim)
    valid = target != prob.ignore_index
    smooth = torch.where(valid, smooth, torch.zeros_like(smooth))
    elementwise = (1.0 - eps) * nll + (eps / c) * smooth
    if prob.reduction == "none":
        return elementwise, log_p
    total = elementwise.sum()
    if prob.reduction == "mean":
        safe = torch.where(valid, target, torch.zeros_like(target))
        w_y = torch.where(valid, w[safe], torch.zeros_like(w[safe]))
        total = total / w_y.sum()
    return total, log_p


def _effective_target(prob):
    """``(t, valid, denominator)`` in the class-last layout of ``prob.z``.

    ``t`` is the effective target of every variant (differentiable in a
    probability target), ``valid`` the mask of non-ignored elements (None
    for probability targets) and ``denominator`` what ``"mean"`` divides by.
    """
    z = prob.z
    c = z.shape[-1]
    eps = prob.label_smoothing
    w = prob.weight
    if prob.kind == "index":
        valid = prob.target != prob.ignore_index
        safe = torch.where(valid, prob.target, torch.zeros_like(prob.target))
        classes = torch.arange(c, device=z.device)
        t = (safe[..., None] == classes).to(z.dtype) * (1.0 - eps) + eps / c
        if w is not None:
            t = t * w
        t = t * valid[..., None].to(z.dtype)
        w_y = valid.to(z.dtype) if w is None else torch.where(
            valid, w[safe], torch.zeros((), dtype=z.dtype, device=z.device))
        return t, valid, w_y.sum()
    t = prob.target * (1.0 - eps) + eps / c
    if w is not None:
        t = t * w
    count = 1
    for size in z.shape[:-1]:
        count *= size
    return t, None, torch.tensor(float(count) if count else float("nan"),
                                 dtype=z.dtype, device=z.device)


def _scale(prob, grad_output, denominator, like):
    """The incoming gradient times the reduction's factor, per element."""
    g = grad_output.to(like.dtype)
    if prob.reduction == "mean":
        nonzero = denominator != 0
        safe = torch.where(nonzero, denominator, torch.ones_like(denominator))
        # every target ignored: a NaN loss but a zero gradient, as torch
        g = torch.where(nonzero, g / safe, torch.zeros_like(g))
    if prob.reduction != "none":
        g = g.expand(like.shape[:-1])
    return g


def _grads_differentiable(prob, grad_output, needs_target):
    """Gradients for logits (and probability target) as recorded torch ops."""
    z = prob.z
    t, valid, denominator = _effective_target(prob)
    log_p = torch.log_softmax(z, -1)
    s = _scale(prob, grad_output, denominator, z)[..., None]
    grad_z = (log_p.exp() * t.sum(-1, keepdim=True) - t) * s
    if valid is not None:
        grad_z = torch.where(valid[..., None], grad_z, torch.zeros_like(grad_z))
    grad_z = downcast(from_last(grad_z, prob.class_axis), prob.dtype)
    grad_t = None
    if needs_target:
        factor = (1.0 - prob.label_smoothing) * s
        if prob.weight is not None:
            factor = factor * prob.weight
        grad_t = from_last(-log_p * factor, prob.class_axis)
    return grad_z, grad_t


def _loss_tangent(prob, d_z, d_target):
    r"""Forward-mode derivative of the loss, ``d_z`` in the class-last layout.

    .. math::

        \dot\ell_n = \sum_c \Bigl(p_{n,c} \sum_k t_{n,k} - t_{n,c}\Bigr) \dot z_{n,c}
            - \sum_c \log p_{n,c}\, \dot t_{n,c}
    """
    t, valid, denominator = _effective_target(prob)
    log_p = torch.log_softmax(prob.z, -1)
    dl = torch.zeros(prob.z.shape[:-1], dtype=prob.z.dtype, device=prob.z.device)
    if d_z is not None:
        dl = dl + ((log_p.exp() * t.sum(-1, keepdim=True) - t) * d_z.to(prob.z.dtype)).sum(-1)
    if d_target is not None and prob.kind == "prob":
        dt = to_last(d_target, prob.class_axis) * (1.0 - prob.label_smoothing)
        if prob.weight is not None:
            dt = dt * prob.weight
        dl = dl - (log_p * dt).sum(-1)
    if valid is not None:
        dl = torch.where(valid, dl, torch.zeros_like(dl))
    if prob.reduction != "none":
        dl = dl.sum()
        if prob.reduction == "mean":
            dl = dl / denominator
    return downcast(dl, prob.dtype)


def _grad_in_place(prob, logits, grad_output, log_p):
    r"""Index-target gradient in place on one buffer, ``p = exp(log p)``.

    .. math::

        \frac{\partial \ell_n}{\partial z_n}
        = g_n \Bigl(p_n \sum_c t_{n,c} - t_n\Bigr)
    """
    cdim = 0 if logits.ndim == 1 else 1
    c = logits.shape[cdim]
    eps = prob.label_smoothing
    target = prob.target
    valid = target != prob.ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target))
    vf = valid.to(logits.dtype)
    w_y = vf if prob.weight is None else prob.weight[safe] * vf
    g = _scale(prob, grad_output, w_y.sum(), log_p.movedim(cdim, -1))
    p = log_p.exp()  # elementwise: no strided reduction for (N, C, d...)
    wtot = c if prob.weight is None else prob.weight.sum()
    row = ((1.0 - eps) * w_y + vf * (eps / c * wtot)) * g
    p.mul_(row.unsqueeze(cdim))
    p.scatter_add_(cdim, safe.unsqueeze(cdim), (-(1.0 - eps) * w_y * g).unsqueeze(cdim))
    if eps > 0:
        shape = [1] * logits.ndim
        shape[cdim] = c
        wc = p.new_ones(c) if prob.weight is None else prob.weight
        p.sub_((vf * g * (eps / c)).unsqueeze(cdim) * wc.reshape(shape))
    return p


class CrossEntropyLossFunction(torch.autograd.Function):
    """Cross-entropy from logits: closed-form backward, double backward,
    forward mode and ``torch.func`` (see the module docstring).

    ``forward`` returns ``(loss, log_p)``: the log-probabilities of the
    fused path (an empty tensor otherwise), kept for the in-place backward
    and marked non-differentiable.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(logits, target, weight, ignore_index, reduction, label_smoothing):
        prob = _problem(logits, target, weight, ignore_index, reduction,
                        label_smoothing, check_values=True)
        if _fused(prob, logits):
            return _fused_loss(prob, logits)
        return _losses._loss(prob), logits.new_empty(0)

    @staticmethod
    def setup_context(ctx, inputs, output):
        logits, target, weight, *options = inputs
        ctx.options = tuple(options)
        ctx.mark_non_differentiable(output[1])
        ctx.save_for_backward(logits, target, weight, output[1])
        ctx.save_for_forward(logits, target, weight)

    @staticmethod
    def backward(ctx, grad_loss, _grad_log_p):
        logits, target, weight, log_p = ctx.saved_tensors
        prob = _problem(logits, target, weight, *ctx.options)
        needs_logits, needs_target = ctx.needs_input_grad[:2]
        if torch.is_grad_enabled() or log_p.numel() == 0 or _transformed(grad_loss):
            grad_z, grad_t = _grads_differentiable(prob, grad_loss, needs_target)
        else:
            grad_z, grad_t = _grad_in_place(prob, logits, grad_loss, log_p), None
        return (grad_z if needs_logits else None), grad_t, None, None, None, None

    @staticmethod
    def jvp(ctx, d_logits, d_target, *_):
        logits, target, weight = ctx.saved_tensors
        prob = _problem(logits, target, weight, *ctx.options)
        d_z = None if d_logits is None else to_last(d_logits, prob.class_axis)
        return _loss_tangent(prob, d_z, d_target), None


def cross_entropy_loss(logits, target, *, weight=None, ignore_index=-100,
                       reduction="mean", label_smoothing=0.0):
    """The torch face's :func:`coursepkg.losses.cross_entropy_loss`."""
    if weight is not None and weight.requires_grad:
        raise ValueError(
            "cross_entropy_loss differentiates with respect to logits (and a "
            "probability target) only, as torch does; weight requires grad, "
            "detach it first"
        )
    return CrossEntropyLossFunction.apply(
        logits, target, weight, ignore_index, reduction, label_smoothing
    )[0]


# --------------------------------------------------------------------------
# Cross-entropy of a linear layer, chunked over the vocabulary
# --------------------------------------------------------------------------


def _dense_logits(hidden, weight, bias):
    z = hidden @ weight.T
    return z if bias is None else z + bias


def _dense_problem(hidden, weight, bias, target, class_weight, ignore_index,
                   reduction, label_smoothing):
    z = _dense_logits(hidden, weight, bias)
    return z, _problem(z, target, class_weight, ignore_index, reduction,
                       label_smoothing)


class LinearCrossEntropyFunction(torch.autograd.Function):
    r"""Chunked linear cross-entropy whose backward recomputes each chunk.

    Takes the 2-D problem (``hidden (N, H)``); without a recorded graph the
    forward and backward never hold more than ``(N, chunk_size)`` logits
    (:mod:`coursepkg.chunked`).  Double backward, forward mode and the
    :mod:`torch.func` transforms go through the full ``(N, V)`` logits as
    differentiable torch operations (memory as in the unchunked
    ``cross_entropy(hidden @ weight.T + bias, target)``):

    .. math::

        G = s\,(p\,T - t), \qquad
        \frac{\partial L}{\partial h} = G W, \quad
        \frac{\partial L}{\partial W} = G^\top h, \quad
        \frac{\partial L}{\partial b} = \mathbf{1}^\top G .
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(hidden, weight, bias, target, class_weight, chunk_size, ignore_index,
                reduction, label_smoothing):
        from . import chunked

        prob = chunked._validate(hidden, weight, target, bias, chunk_size,
                                 ignore_index, reduction, label_smoothing, class_weight)
        if _transformed(hidden, weight, target,
                        *(t for t in (bias, class_weight) if t is not None)):
            _, dense = _dense_problem(hidden, weight, bias, target, class_weight,
                                      ignore_index, reduction, label_smoothing)
            empty = hidden.new_empty(0, dtype=torch.float64)
            return _losses._loss(dense), empty, empty
        return chunked._forward(prob)

    @staticmethod
    def setup_context(ctx, inputs, output):
        hidden, weight, bias, target, class_weight, *options = inputs
        ctx.options = tuple(options)
        ctx.mark_non_differentiable(output[1], output[2])
        ctx.save_for_backward(hidden, weight, bias, target, class_weight, output[1],
                              output[2])
        ctx.save_for_forward(hidden, weight, bias, target, class_weight)

    @staticmethod
    def backward(ctx, grad_loss, _grad_lse, _grad_total):
        from . import chunked

        hidden, weight, bias, target, class_weight, lse, total = ctx.saved_tensors
        chunk, ignore_index, reduction, eps = ctx.options
        needs = ctx.needs_input_grad[:3]
        if torch.is_grad_enabled() or lse.numel() == 0 or _transformed(grad_loss):
            _, prob = _dense_problem(hidden, weight, bias, target, class_weight,
                                     ignore_index, reduction, eps)
            g, _ = _grads_differentiable(prob, grad_loss, False)
            gh = g @ weight if needs[0] else None
            gw = g.T @ hidden if needs[1] else None
            gb = g.sum(0) if bias is not None and needs[2] else None
        else:
            prob = chunked._validate(hidden, weight, target, bias, chunk, ignore_index,
                                     reduction, eps, class_weight)
            go = grad_loss if reduction == "none" else float(grad_loss)
            gh, gw, gb = chunked._backward(prob, lse, total, go, needs)
        return gh, gw, gb, None, None, None, None, None, None

    @staticmethod
    def jvp(ctx, d_hidden, d_weight, d_bias, *_):
        hidden, weight, bias, target, class_weight = ctx.saved_tensors
        _, ignore_index, reduction, eps = ctx.options
        _, prob = _dense_problem(hidden, weight, bias, target, class_weight,
                                 ignore_index, reduction, eps)
        d_z = torch.zeros_like(prob.z)
        if d_hidden is not None:
            d_z = d_z + d_hidden @ weight.T
        if d_weight is not None:
            d_z = d_z + hidden @ d_weight.T
        if d_bias is not None:
            d_z = d_z + d_bias
        return _loss_tangent(prob, d_z, None), None, None


def linear_cross_entropy(hidden, linear_weight, target, *, bias=None, weight=None,
                         chunk_size=None, ignore_index=-100, reduction="mean",
                         label_smoothing=0.0):
    """The torch face's :func:`coursepkg.chunked.linear_cross_entropy`."""
    from . import chunked

    for name, value in (("target", target), ("weight", weight)):
        if value is not None and value.requires_grad:
            raise ValueError(
                f"linear_cross_entropy differentiates with respect to hidden, "
                f"linear_weight and bias only; {name} requires grad, detach it first"
            )
    rows_h, rows_t, lead = chunked.as_rows(hidden, target)
    loss = LinearCrossEntropyFunction.apply(
        rows_h, linear_weight, bias, rows_t, weight, chunk_size, ignore_index,
        reduction, label_smoothing,
    )[0]
    return loss.reshape(lead) if reduction == "none" else loss


# --------------------------------------------------------------------------
# log_softmax: float64 inside, rounded once
# --------------------------------------------------------------------------

#: float64 entries per chunk of rows (2 MiB); each chunk is shifted (in
#: float64), exponentiated, summed and written out while it is in cache.
#: Measured on the shared 2-core machine at (4096, 1000) float32, each op
#: split over torch's two threads: 2**15-2**16 entries per chunk ran 5-10x
#: slower than 2**18 under load (an OpenMP region per small op), 2**19-2**20
#: 1.1-1.4x slower.
CHUNK_ELEMENTS = 1 << 18
#: Rows whose ``S - 1`` (float64) is below this recompute ``rest`` without
#: the 1 of the maximal entry: ``log1p(rest)`` needs ``rest`` to full
#: relative precision, and ``S - 1`` keeps only ``2**-53 / rest`` of it.
_REST_RECOMPUTE = 2.0**-20
_D = torch.float64


def _exp_chunks(x, shift, also=None):
    """Yield ``(start, stop, exp(x[start:stop] - shift[start:stop]), extra)``
    in float64, chunk by chunk of rows, in reused buffers; ``extra`` is the
    chunk of ``also`` converted to float64 (or None).

    Every op has one dtype: ``torch.sub`` of a float32 chunk and a float64
    shift runs torch's casting loop, 196 us for 262144 entries against
    27 + 22 us for the conversion (``copy_``) and the float64 ``sub_``
    (measured on the 2-core machine, load 4)."""
    rows, cols = x.shape
    step = max(1, CHUNK_ELEMENTS // max(cols, 1))
    buf = torch.empty(min(rows, step), cols, dtype=_D)
    extra = None if also is None else torch.empty_like(buf)
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        b = buf[: stop - start]
        b.copy_(x[start:stop])  # exact: every float32 is a float64
        b.sub_(shift[start:stop])
        e = None
        if extra is not None:
            e = extra[: stop - start]
            e.copy_(also[start:stop])
        yield start, stop, b.exp_(), e


def _compiled_ok(x) -> bool:
    """The compiled kernels (:mod:`coursepkg.compiled`) take contiguous CPU
    rows of float32/float64 (callers make them contiguous)."""
    return (x.device.type == "cpu" and x.dtype in _FUSED_DTYPES
            and compiled.available(compiled.torch_kind()))


def _threads() -> int:
    """torch's thread count (``torch.set_num_threads``), capped by
    ``COURSEPKG_THREADS`` where that is set (the NumPy face's default of two
    threads is not a cap here: on a 16-core machine torch uses 16)."""
    from .kernels import THREADS

    n = torch.get_num_threads()
    return max(1, min(n, THREADS) if os.environ.get("COURSEPKG_THREADS") else n)


def _log_softmax_rows(x, shape=None):
    r"""``(out, m, L)`` for a contiguous ``(R, C)`` float32/float64 ``x``
    (``out`` of ``shape``, default ``x``'s: the compiled path writes the
    result in a tensor of the caller's shape rather than returning a view,
    which autograd would treat as a view of an intermediate).

    .. math::

        L = \operatorname{log1p}\Bigl(\sum_{j \ne k} e^{x_j - m}\Bigr), \qquad
        \log \operatorname{softmax}(x)_j = (x_j - m) - L ,

    with :math:`x_j - m` and the exponentials in float64 (exact differences
    of float32 numbers) and ``out`` rounded from two float32 subtractions,
    each within half a unit of ``|out|``: at most 1.5 ULP, and the largest
    entry, ``-L``, within half an ULP.  Returns None when a row's maximum is
    not finite (the teaching version gives those their documented NaN/-inf).

    On the CPU, when :mod:`coursepkg.compiled` has its library, the fused C
    kernel computes the same ``(out, m, L)`` (with ``L`` summed without the
    maximal entry's 1, and each float32 output the rounding of a float64
    value within 2**-29 of exact: within 0.54 ULP) and also refuses rows
    holding a NaN; the chunked array operations below are the fallback.
    """
    if _compiled_ok(x):
        x = x.resolve_neg()  # the kernel reads memory: a negative view's bit is not in it
        full = x.new_empty(x.shape if shape is None else shape)  # no view (docstring)
        m = x.new_empty(x.shape[0], 1)
        lognorm = torch.empty(x.shape[0], 1, dtype=_D)
        ok = compiled.log_softmax_rows(
            x.data_ptr(), full.data_ptr(), m.data_ptr(), lognorm.data_ptr(),
            dtype=x.dtype, rows=x.shape[0], cols=x.shape[1], threads=_threads(),
            kind=compiled.torch_kind())
        return (full, m, lognorm) if ok else None
    m = x.amax(-1, keepdim=True)
    if not bool(torch.isfinite(m).all()):
        return None
    lognorm = torch.empty(x.shape[0], 1, dtype=_D)
    out = torch.empty_like(x)
    for start, stop, b, _ in _exp_chunks(x, m.to(_D)):
        r = lognorm[start:stop]
        torch.sum(b, -1, keepdim=True, out=r)
        r.sub_(1.0)
        tiny = (r[:, 0] < _REST_RECOMPUTE).nonzero()[:, 0]
        if len(tiny):  # one maximal entry, the others tiny: sum without it
            e = b[tiny]
            below = torch.where(e < 1.0, e, torch.zeros_like(e)).sum(-1, keepdim=True)
            ties = (e == 1.0).sum(-1, keepdim=True).to(_D) - 1.0
            r[tiny] = below + ties
        r.log1p_()
        o = out[start:stop]  # (x - m) - L, the chunk of x still in cache
        torch.sub(x[start:stop], m[start:stop], out=o)
        o.sub_(r.to(x.dtype))
    return out, m, lognorm


def _log_softmax_grad_rows(x, m, lognorm, g, shape=None):
    r"""Gradient of :func:`_log_softmax_rows` for the incoming ``g``, float64
    inside:

    .. math::

        \frac{\partial}{\partial x_j} = g_j - p_j \sum_i g_i, \qquad
        p_j = e^{(x_j - m) - L},

    with the exponent from ``x`` (not from the rounded output, whose error
    ``exp`` would multiply by ``|out_j|``) and, where ``p_k`` is close to one,
    the maximal entry as ``(g_k - \sum g) - \sum g \cdot \operatorname{expm1}(-L)``
    (no cancellation in ``g_k - p_k \sum g``).

    The result is a new tensor of ``shape`` (default ``g``'s), not a view
    of one: autograd hands a gradient that is no view to the leaf as it is,
    and copies one that is (0.5 ms at (4096, 1000), a third of torch's own
    backward).
    """
    full = g.new_empty(g.shape if shape is None else shape)
    grad = full.view(g.shape)
    if _compiled_ok(x) and g.dtype == x.dtype and g.device == x.device:
        x, g = x.resolve_neg(), g.resolve_neg()
        compiled.log_softmax_grad_rows(
            x.data_ptr(), m.data_ptr(), lognorm.data_ptr(), g.data_ptr(), grad.data_ptr(),
            dtype=x.dtype, rows=x.shape[0], cols=x.shape[1], threads=_threads(),
            kind=compiled.torch_kind())
        return full
    sg = torch.empty(g.shape[0], 1, dtype=_D)
    shift = m.to(_D) + lognorm
    for start, stop, b, gb in _exp_chunks(x, shift, also=g):
        s = sg[start:stop]
        torch.sum(gb, -1, keepdim=True, out=s)
        b.mul_(s.neg())
        b.add_(gb)  # g - p * sum(g), rounded once
        grad[start:stop].copy_(b)
    near = (lognorm[:, 0] < 0.5).nonzero()[:, 0]  # p_k > 0.6: one maximal entry
    if len(near):
        k = x[near].argmax(-1, keepdim=True)
        s = sg[near]
        top = (g[near].gather(1, k).to(_D) - s) - s * torch.expm1(-lognorm[near])
        grad[near, k[:, 0]] = top[:, 0].to(g.dtype)
    return full


def _as_rows(t, dim):
    last = to_last(t, dim).contiguous()
    return last.reshape(-1, last.shape[-1]), last.shape


class LogSoftmaxFunction(torch.autograd.Function):
    r"""``log_softmax`` with float64 inside and an accurate backward.

    Forward: :func:`_log_softmax_rows`.  Backward without a recorded graph:
    :func:`_log_softmax_grad_rows`; with one (double backward,
    :mod:`torch.func`), ``g - softmax(x) * g.sum()`` as differentiable torch
    operations.  Forward mode: :math:`\dot y = \dot x - \sum_j p_j \dot x_j`.
    Under :mod:`torch.func` transforms the forward is the teaching version
    (:func:`coursepkg.softmax.log_softmax_last`), whose operations all batch.

    Speed: on the CPU both passes run the fused C kernel of
    :mod:`coursepkg.compiled` (one sweep a row for the float64 exponentials
    and their sum, which also takes the next row's maximum and writes the
    previous row's output; built with OpenMP, on torch's own worker
    threads): 1.1-1.2x torch's float32 time forward and 1.0-1.25x forward +
    backward at (4096, 1000), 1.2-1.4x at (512, 32000), over four runs on
    the 2-core AVX-512 machine, where the chunked array operations below
    took 4.4x and 2.0x (``benchmarks/run.py``, suite ``torch_face``, with
    glibc's malloc kept from handing memory back: see ``steady_allocator``
    there).  Those array
    operations are the fallback without a C compiler and on other devices:
    every pass over the array is a separate torch call, and the float64
    exponentials alone cost more than torch's fused float32 kernel; a
    float32 ``exp`` would be as fast, but its rounding (up to 1 ULP per term,
    and ``|x - m|`` times 2**-24 from rounding the shift) puts the largest
    entry and the gradient outside 2 ULP.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(x, dim):
        from . import softmax as _softmax

        empty = x.new_empty(0, dtype=_D)
        rows, shape = _as_rows(x, dim)
        res = None if _transformed(x) else _log_softmax_rows(rows, shape)
        if res is None:
            out = from_last(_softmax.log_softmax_last(to_last(x, dim)), dim)
            return out, empty, empty
        out, m, lognorm = res
        out = from_last(out.reshape(shape), dim)
        if out.stride() != x.stride():
            # the output in x's layout: forward mode's tangent (computed from
            # x's) must have the output's, or autograd fails an assertion
            out = torch.empty_like(x).copy_(out)
        return out, m, lognorm

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, dim = inputs
        ctx.dim = dim
        ctx.mark_non_differentiable(output[1], output[2])
        ctx.save_for_backward(x, output[1], output[2])
        ctx.save_for_forward(output[0])

    @staticmethod
    def backward(ctx, grad_out, _grad_m, _grad_lognorm):
        x, m, lognorm = ctx.saved_tensors
        dim = ctx.dim
        if torch.is_grad_enabled() or m.numel() == 0 or _transformed(grad_out):
            return grad_out - torch.softmax(x, dim) * grad_out.sum(dim, keepdim=True), None
        rows, shape = _as_rows(x, dim)
        g = _log_softmax_grad_rows(rows, m, lognorm, _as_rows(grad_out, dim)[0], shape)
        return from_last(g, dim), None

    @staticmethod
    def jvp(ctx, d_x, _d_dim):
        out, = ctx.saved_tensors
        return d_x - (out.exp() * d_x).sum(ctx.dim, keepdim=True), None, None


def log_softmax(x, dim):
    """float32/float64 ``log_softmax`` along ``dim`` (checked by the caller)."""
    return LogSoftmaxFunction.apply(x, dim)[0]


# --------------------------------------------------------------------------
# The torch face's softmax, log_softmax and logsumexp
# --------------------------------------------------------------------------


def _fast_input(x, axis) -> bool:
    """float32/float64 with a non-empty class axis: the fast paths' domain
    (half precision and empty axes run the teaching version)."""
    return x.dtype in _FUSED_DTYPES and x.shape[axis] > 0 and x.numel() > 0


def log_softmax_face(x, axis=-1):
    """:func:`coursepkg.softmax.log_softmax` on :class:`LogSoftmaxFunction`."""
    from . import softmax as _softmax
    from ._backend import check_axis, check_floating

    check_floating(x, "x")
    axis = check_axis(axis, x.ndim, "x")
    if not _fast_input(x, axis):
        return _softmax.log_softmax(x, axis)
    return log_softmax(x, axis)


def softmax(x, axis=-1, temperature=1.0):
    """:func:`coursepkg.softmax.softmax` on :func:`torch.softmax` (same
    special values; autograd, forward mode and vmap are torch's own)."""
    from . import softmax as _softmax
    from ._backend import check_axis, check_floating

    check_floating(x, "x")
    axis = check_axis(axis, x.ndim, "x")
    temperature = _softmax._check_temperature(temperature)
    if not _fast_input(x, axis):
        return _softmax.softmax(x, axis, temperature)
    return torch.softmax(x if temperature == 1.0 else x / temperature, axis)


def logsumexp(x, axis=-1, keepdims=False):
    """:func:`coursepkg.logsumexp.logsumexp` on :func:`torch.logsumexp`."""
    from . import logsumexp as _lse
    from ._backend import check_axis, check_floating

    check_floating(x, "x")
    axis = check_axis(axis, x.ndim, "x")
    if not _fast_input(x, axis):
        return _lse.logsumexp(x, axis, keepdims)
    return torch.logsumexp(x, axis, keepdim=keepdims)
