"""The NumPy face of the course package: NumPy arrays in, NumPy arrays out.

>>> from coursepkg import numpy as cnp
>>> cnp.softmax([0.0, 0.0])
array([0.5, 0.5])

The same names, with the same meaning, live in :mod:`coursepkg.torch`.
Array arguments may be NumPy arrays or anything :func:`numpy.asarray`
accepts (lists, scalars); torch tensors are refused with a pointer to the
torch face.
"""

from __future__ import annotations

import functools as _functools

import numpy as _np

from . import _axes
from . import chunked as _chunked
from . import gradients as _gradients
from . import information as _information
from . import kernels as _kernels
from . import logsumexp as _logsumexp
from . import losses as _losses
from . import softmax as _softmax
from ._faces import expose as _expose
from .gradients import GradcheckResult

__all__ = [
    "linear_cross_entropy",
    "linear_cross_entropy_grad",
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
    "SoftmaxRegression",
    "MLP",
    "fit",
    "load_digits",
    "make_blobs",
]


def _as_array(value, name):
    if isinstance(value, _np.ndarray):
        return value
    if type(value).__module__.startswith("torch"):
        raise TypeError(
            f"{name} is a torch tensor; use `from coursepkg import torch as "
            f"ctorch` for tensors, or pass {name}.numpy()"
        )
    try:
        array = _np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} could not be read as an array: {exc}") from None
    if array.dtype == object or array.dtype.kind in "USV":
        raise TypeError(
            f"{name} must be numeric, got an array of dtype {array.dtype}"
        )
    return array


def _face(func, *array_params):
    return _expose(func, _as_array, array_params)


def _fast(fast, teaching, *array_params):
    """The fast kernel (float32/float64) under the teaching version's doc."""
    wrapped = _face(fast, *array_params)
    wrapped.__doc__ = teaching.__doc__
    return wrapped


def _scalars(func):
    """0-d results as NumPy scalars, where SciPy returns them."""

    @_functools.wraps(func)
    def wrapper(*args, **kwargs):
        out = func(*args, **kwargs)
        if isinstance(out, tuple):
            return tuple(o[()] if o.ndim == 0 else o for o in out)
        return out[()] if out.ndim == 0 else out

    return wrapper


logsumexp = _scalars(_fast(_axes.scipy_logsumexp(_kernels.logsumexp),
                           _logsumexp.logsumexp, "x", "b"))
softmax = _scalars(_fast(_axes.scipy_axes(_kernels.softmax), _softmax.softmax, "x"))
log_softmax = _scalars(_fast(_axes.scipy_axes(_kernels.log_softmax),
                             _softmax.log_softmax, "x"))
naive_softmax = _face(_softmax.naive_softmax, "x")
sigmoid = _face(_softmax.sigmoid, "x")
log_sigmoid = _face(_softmax.log_sigmoid, "x")
entropy = _face(_information.entropy, "p")
cross_entropy = _face(_information.cross_entropy, "p", "q")
kl_divergence = _face(_information.kl_divergence, "p", "q")
cross_entropy_loss = _fast(
    _kernels.cross_entropy_loss, _losses.cross_entropy_loss,
    "logits", "target", "weight",
)
cross_entropy_loss_grad = _fast(
    _kernels.cross_entropy_loss_grad, _losses.cross_entropy_loss_grad,
    "logits", "target", "weight",
)
nll_loss = _face(_losses.nll_loss, "log_probs", "target", "weight")
softmax_jacobian = _face(_gradients.softmax_jacobian, "x")
numerical_gradient = _face(_gradients.numerical_gradient, "x")
gradcheck = _face(_gradients.gradcheck, "x")
linear_cross_entropy = _face(
    _chunked.linear_cross_entropy, "hidden", "linear_weight", "target", "bias", "weight"
)
linear_cross_entropy_grad = _face(
    _chunked.linear_cross_entropy_grad, "hidden", "linear_weight", "target", "bias",
    "weight",
)

from .data import load_digits, make_blobs  # noqa: E402
from .models import MLP, SoftmaxRegression, fit  # noqa: E402
