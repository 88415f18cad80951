"""The PyTorch face of the course package: tensors in, tensors out.

Same names and meaning as :mod:`coursepkg.numpy`; autograd works through
every function.  :func:`cross_entropy_loss` is a
:class:`torch.autograd.Function` whose backward pass is the analytic
gradient :func:`cross_entropy_loss_grad` (``softmax - target``, weighted and
scaled by the reduction) rather than autograd's replay of the forward.

The custom Functions (:mod:`coursepkg.kernels_torch`: cross-entropy,
linear cross-entropy, log_softmax) have a double backward, forward mode
and :mod:`torch.func` support; ``softmax`` and ``logsumexp`` run on
torch's own operators for float32/float64.  Differences from torch that
remain: the cross-entropy losses do not differentiate the class weights
(torch does not either) and ``linear_cross_entropy`` not its target;
``linear_cross_entropy`` holds the full logits when autograd records its
backward (double backward) or under a :mod:`torch.func` transform; under a
transform ``log_softmax`` runs the teaching version (about 2.5 float32 ULP
rather than 2), and its recorded backward (for second derivatives) has
torch's float32 accuracy rather than 4 ULP.

>>> import torch
>>> from coursepkg import torch as ctorch
>>> z = torch.zeros(1, 4, dtype=torch.float64, requires_grad=True)
>>> ctorch.cross_entropy_loss(z, torch.tensor([1])).backward()
>>> z.grad
tensor([[ 0.2500, -0.7500,  0.2500,  0.2500]], dtype=torch.float64)
"""

from __future__ import annotations

import inspect as _inspect

try:
    import torch as _torch
except ModuleNotFoundError as _error:  # name the extra that installs it
    from ._extras import missing_extra as _missing_extra

    raise _missing_extra(_error, "coursepkg.torch") from None

from . import _axes
from . import chunked as _chunked
from . import gradients as _gradients
from . import information as _information
from . import kernels_torch as _kernels_torch
from . import logsumexp as _logsumexp
from . import losses as _losses
from . import softmax as _softmax
from ._faces import expose as _expose
from .gradients import GradcheckResult

__all__ = [
    "linear_cross_entropy",
    "linear_cross_entropy_grad",
    "LinearCrossEntropyFunction",
    "logsumexp",
    "softmax",
    "log_softmax",
    "naive_softmax",
    "sigmoid",
    "log_sigmoid",
    "entropy",
    "cross_entropy",
    "kl_divergence",
    "cross_entropy_loss",
    "nll_loss",
    "cross_entropy_loss_grad",
    "softmax_jacobian",
    "numerical_gradient",
    "gradcheck",
    "GradcheckResult",
    "CrossEntropyLossFunction",
    "SoftmaxRegression",
    "MLP",
    "DenseDropoutNet",
    "fit",
    "load_digits",
    "make_blobs",
]


def _as_tensor(value, name):
    if isinstance(value, _torch.Tensor):
        return value
    raise TypeError(
        f"{name} must be a torch.Tensor, got {type(value).__name__}; use "
        f"torch.as_tensor({name}) or the NumPy face `coursepkg.numpy`"
    )


def _face(func, *array_params):
    return _expose(func, _as_tensor, array_params)


CrossEntropyLossFunction = _kernels_torch.CrossEntropyLossFunction


def cross_entropy_loss(
    logits,
    target,
    *,
    weight=None,
    ignore_index=-100,
    reduction="mean",
    label_smoothing=0.0,
):
    for name, value in (("logits", logits), ("target", target), ("weight", weight)):
        if value is not None:
            _as_tensor(value, name)
    return _kernels_torch.cross_entropy_loss(
        logits, target, weight=weight, ignore_index=ignore_index,
        reduction=reduction, label_smoothing=label_smoothing,
    )


cross_entropy_loss.__doc__ = _losses.cross_entropy_loss.__doc__



def _fast(fast, teaching, *array_params):
    """``fast`` under the teaching version's name and doc."""
    wrapped = _face(fast, *array_params)
    for attr in ("__name__", "__qualname__", "__doc__"):
        setattr(wrapped, attr, getattr(teaching, attr))
    return wrapped


logsumexp = _fast(_axes.scipy_logsumexp(_kernels_torch.logsumexp),
                  _logsumexp.logsumexp, "x", "b")
softmax = _fast(_axes.scipy_axes(_kernels_torch.softmax), _softmax.softmax, "x")
log_softmax = _fast(_axes.scipy_axes(_kernels_torch.log_softmax_face),
                    _softmax.log_softmax, "x")
naive_softmax = _face(_softmax.naive_softmax, "x")
sigmoid = _face(_softmax.sigmoid, "x")
log_sigmoid = _face(_softmax.log_sigmoid, "x")
entropy = _face(_information.entropy, "p")
cross_entropy = _face(_information.cross_entropy, "p", "q")
kl_divergence = _face(_information.kl_divergence, "p", "q")
cross_entropy_loss_grad = _face(
    _losses.cross_entropy_loss_grad, "logits", "target", "weight"
)
nll_loss = _face(_losses.nll_loss, "log_probs", "target", "weight")
softmax_jacobian = _face(_gradients.softmax_jacobian, "x")
numerical_gradient = _face(_gradients.numerical_gradient, "x")
gradcheck = _face(_gradients.gradcheck, "x")
linear_cross_entropy_grad = _face(
    _chunked.linear_cross_entropy_grad, "hidden", "linear_weight", "target", "bias",
    "weight",
)
LinearCrossEntropyFunction = _kernels_torch.LinearCrossEntropyFunction


def linear_cross_entropy(hidden, linear_weight, target, *, bias=None, weight=None,
                         chunk_size=None, ignore_index=-100, reduction="mean",
                         label_smoothing=0.0):
    for name, value in (("hidden", hidden), ("linear_weight", linear_weight),
                        ("target", target), ("bias", bias), ("weight", weight)):
        if value is not None:
            _as_tensor(value, name)
    return _kernels_torch.linear_cross_entropy(
        hidden, linear_weight, target, bias=bias, weight=weight,
        chunk_size=chunk_size, ignore_index=ignore_index, reduction=reduction,
        label_smoothing=label_smoothing,
    )


linear_cross_entropy.__doc__ = _chunked.linear_cross_entropy.__doc__

from . import data as _data  # noqa: E402
from .models_torch import MLP, DenseDropoutNet, SoftmaxRegression, fit  # noqa: E402


def load_digits(test_size=0.25, seed=0):
    """:func:`coursepkg.numpy.load_digits` as tensors: float32 ``X``, int64 ``y``.

    Parameters
    ----------
    test_size : float, optional
        Fraction of each class held out for testing, in :math:`(0, 1)`.
    seed : int, optional
        Seed of the split: the same split as the NumPy face's.

    Returns
    -------
    coursepkg.data.DigitsSplit
        ``(X_train, X_test, y_train, y_test)`` as tensors.

    Examples
    --------
    >>> from coursepkg import torch as ctorch
    >>> data = ctorch.load_digits()
    >>> data.X_train.dtype, data.y_train.dtype, tuple(data.X_test.shape)
    (torch.float32, torch.int64, (450, 64))
    """
    X_train, X_test, y_train, y_test = _data.load_digits(test_size, seed)
    return _data.DigitsSplit(
        _torch.from_numpy(X_train).float(),
        _torch.from_numpy(X_test).float(),
        _torch.from_numpy(y_train),
        _torch.from_numpy(y_test),
    )


def make_blobs(n_per_class=100, centers=3, std=1.0, seed=0):
    """:func:`coursepkg.numpy.make_blobs` as tensors: float32 ``X``, int64 ``y``.

    Parameters
    ----------
    n_per_class, centers, std, seed
        As for :func:`coursepkg.numpy.make_blobs`: the same points.

    Returns
    -------
    X : Tensor of float32, shape (K * n_per_class, D)
    y : Tensor of int64, shape (K * n_per_class,)

    Examples
    --------
    >>> from coursepkg import torch as ctorch
    >>> X, y = ctorch.make_blobs(n_per_class=5, seed=0)
    >>> X.dtype, y.dtype, tuple(X.shape)
    (torch.float32, torch.int64, (15, 2))
    """
    X, y = _data.make_blobs(n_per_class, centers, std, seed)
    return _torch.from_numpy(X).float(), _torch.from_numpy(y)
