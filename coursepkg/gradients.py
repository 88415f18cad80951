"""Gradients: the softmax Jacobian and checking gradients numerically.

The derivative of :math:`p = \\operatorname{softmax}(z)` is

.. math::

    \\frac{\\partial p_i}{\\partial z_j} = p_i (\\delta_{ij} - p_j),
    \\qquad J = \\operatorname{diag}(p) - p p^{\\top},

a symmetric matrix whose rows sum to zero (adding a constant to every logit
changes nothing).  Chained with :math:`\\partial(-\\log p_y)/\\partial p`
it gives the famous :math:`\\partial \\ell / \\partial z = p - e_y`
(see :func:`~coursepkg.numpy.cross_entropy_loss_grad`).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ._backend import array_device, check_floating, namespace
from .softmax import softmax

__all__ = ["softmax_jacobian", "numerical_gradient", "gradcheck", "GradcheckResult"]


def softmax_jacobian(x):
    r"""Jacobian of the softmax over the last axis.

    Parameters
    ----------
    x : array
        Floating-point logits of shape ``(..., K)``.

    Returns
    -------
    array
        Shape ``(..., K, K)``; entry ``[..., i, j]`` is
        :math:`\partial p_i / \partial x_j`.

    Notes
    -----
    .. math::

        J = \operatorname{diag}(p) - p\, p^{\top}, \qquad
        p = \operatorname{softmax}(x) .

    Examples
    --------
    >>> from coursepkg import numpy as cnp
    >>> cnp.softmax_jacobian([0.0, 0.0])
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    """
    p = softmax(x, axis=-1)
    xp = namespace(p)
    outer = p[..., :, None] * p[..., None, :]
    eye = xp.eye(p.shape[-1], dtype=p.dtype, device=array_device(p))
    return p[..., :, None] * eye - outer


def _check_eps(eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be a positive number, got {type(eps).__name__}")
    if not 0 < float(eps) < 1:
        raise ValueError(f"eps must be in (0, 1), got {eps}")
    return float(eps)


def numerical_gradient(f, x, eps=1e-6):
    r"""Gradient of a scalar function by central differences.

    Parameters
    ----------
    f : callable
        Takes an array shaped like ``x`` and returns a scalar.
    x : array
        Floating-point point at which to differentiate; left unchanged.
    eps : float, optional
        Step :math:`h`.  The error is :math:`O(h^2)` from truncation plus
        :math:`O(\epsilon_{\text{mach}} / h)` from rounding, so ``1e-6`` suits
        float64; use float64 for gradient checks.

    Returns
    -------
    array
        Same shape, type and dtype as ``x``.

    Notes
    -----
    .. math::

        \frac{\partial f}{\partial x_i} \approx
        \frac{f(x + h e_i) - f(x - h e_i)}{2h}

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import numpy as cnp
    >>> g = cnp.numerical_gradient(lambda v: float(np.sum(v ** 3)),
    ...                            np.array([1.0, 2.0]))
    >>> np.round(g, 6)  # exactly 3 x^2
    array([ 3., 12.])
    """
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    check_floating(x, "x")
    eps = _check_eps(eps)
    xp = namespace(x)
    if hasattr(x, "detach"):  # a torch tensor: perturb a copy outside autograd
        x = x.detach()
    flat = xp.reshape(xp.asarray(x, copy=True), (-1,))
    grad = xp.zeros_like(flat)
    for i in range(flat.shape[0]):
        original = float(flat[i])  # a number: a torch flat[i] is a view
        flat[i] = original + eps
        f_plus = float(f(xp.reshape(flat, x.shape)))
        flat[i] = original - eps
        f_minus = float(f(xp.reshape(flat, x.shape)))
        flat[i] = original
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return xp.reshape(grad, x.shape)


@dataclass(frozen=True)
class GradcheckResult:
    """Largest errors between an analytic and a numerical gradient."""

    max_abs_error: float
    max_rel_error: float

    def passed(self, rtol: float = 1e-5, atol: float = 1e-7) -> bool:
        """True when every entry is within ``atol`` or ``rtol``."""
        return self.max_abs_error <= atol or self.max_rel_error <= rtol

    def __str__(self) -> str:
        return (
            f"max abs error {self.max_abs_error:.2e}, "
            f"max rel error {self.max_rel_error:.2e}"
        )


def gradcheck(f, grad_f, x, eps=1e-6):
    r"""Compare an analytic gradient with central differences.

    Parameters
    ----------
    f : callable
        Scalar function of an array.
    grad_f : callable
        Its claimed gradient, returning an array shaped like ``x``.
    x : array
        Point at which to compare (float64 recommended).
    eps : float, optional
        Finite-difference step.

    Returns
    -------
    coursepkg.gradients.GradcheckResult
        ``max_abs_error`` :math:`= \max_i |a_i - n_i|` and ``max_rel_error``
        :math:`= \max_i |a_i - n_i| / \max(|a_i|, |n_i|, 10^{-12})`.

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import numpy as cnp
    >>> x = np.array([0.5, -1.0, 2.0])
    >>> good = cnp.gradcheck(lambda v: float(cnp.logsumexp(v)), cnp.softmax, x)
    >>> good.max_rel_error < 1e-8
    True
    >>> bad = cnp.gradcheck(lambda v: float(cnp.logsumexp(v)), np.exp, x)
    >>> bad.max_rel_error > 0.5
    True
    """
    numeric = numerical_gradient(f, x, eps=eps)
    analytic = grad_f(x)
    a = np.asarray(_to_numpy(analytic), dtype=np.float64)
    n = np.asarray(_to_numpy(numeric), dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(
            f"grad_f returned shape {a.shape}, but x has shape {n.shape}"
        )
    diff = np.abs(a - n)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(n)), 1e-12)
    if diff.size == 0:
        return GradcheckResult(0.0, 0.0)
    return GradcheckResult(float(diff.max()), float((diff / scale).max()))


def _to_numpy(a):
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return a
