"""Models from scratch in NumPy: softmax regression and a one-hidden-layer MLP.

Each model keeps its parameters in a dict ``params`` and writes its backward
pass right next to its forward pass: :meth:`~SoftmaxRegression.loss_and_grads`
runs the forward computation, takes the loss and its gradient with respect to
the logits from :mod:`coursepkg.losses`,

.. math::

    \\frac{\\partial \\ell}{\\partial z_n} = \\frac{1}{N}
    \\bigl(\\operatorname{softmax}(z_n) - e_{y_n}\\bigr),

and pushes that gradient back through each layer by the chain rule.
:func:`fit` trains any such model with plain minibatch stochastic gradient
descent.  The PyTorch twins live in :mod:`coursepkg.models_torch`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .losses import cross_entropy_loss, cross_entropy_loss_grad
from .softmax import softmax

__all__ = ["SoftmaxRegression", "MLP", "fit", "minibatches"]


def check_count(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def check_features(X, n_features: int):
    """Raise unless ``X`` is a floating ``(N, n_features)`` array or tensor."""
    kind = getattr(X.dtype, "kind", None)
    floating = kind == "f" if kind is not None else X.dtype.is_floating_point
    if not floating:
        raise TypeError(
            f"X must hold floating-point numbers, got dtype {X.dtype}"
        )
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(
            f"X must have shape (N, {n_features}), got {tuple(X.shape)}"
        )


def check_fit_args(X, y, lr, batch_size):
    """Validate the arguments shared by both faces' ``fit``."""
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
        raise TypeError(f"lr must be a number, got {type(lr).__name__}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be positive and finite, got {lr}")
    if batch_size is not None:
        check_count(batch_size, "batch_size")
    if y.ndim != 1 or X.ndim < 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must have shape ({X.shape[0] if X.ndim else '?'},), one label "
            f"per row of X, got {tuple(y.shape)}"
        )
    if X.shape[0] == 0:
        raise ValueError("X has no rows to train on")


def minibatches(n, batch_size, rng):
    """Yield index arrays that cover ``0 .. n-1`` once, in a shuffled order.

    ``batch_size=None`` gives one batch of everything (full-batch gradient
    descent, in the original order); the last batch may be smaller.

    Examples
    --------
    >>> import numpy as np
    >>> [b.tolist() for b in minibatches(5, 2, np.random.default_rng(0))]
    [[2, 4], [3, 0], [1]]
    """
    if batch_size is None:
        yield np.arange(n)
        return
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


class SoftmaxRegression:
    r"""Multinomial logistic regression: one linear layer and a softmax.

    .. math::

        z = X W + b, \qquad p(y = k \mid x) = \operatorname{softmax}(z)_k .

    Parameters
    ----------
    n_features : int
        Number of input features :math:`D`.
    n_classes : int
        Number of classes :math:`K`.

    Attributes
    ----------
    params : dict
        ``"W"`` of shape ``(D, K)`` and ``"b"`` of shape ``(K,)``, both
        zeros at the start (the loss is convex, so zeros are a fine start).

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import numpy as cnp
    >>> model = cnp.SoftmaxRegression(n_features=2, n_classes=3)
    >>> X, y = np.ones((4, 2)), np.array([0, 1, 2, 2])
    >>> loss, grads = model.loss_and_grads(X, y)
    >>> round(loss, 4)  # uniform predictions: log 3
    1.0986
    >>> grads["W"].shape, grads["b"].shape
    ((2, 3), (3,))
    """

    def __init__(self, n_features, n_classes):
        self.n_features = check_count(n_features, "n_features")
        self.n_classes = check_count(n_classes, "n_classes", minimum=2)
        self.params = {
            "W": np.zeros((self.n_features, self.n_classes)),
            "b": np.zeros(self.n_classes),
        }

    def forward(self, X):
        """Logits :math:`z = X W + b`, shape ``(N, K)``."""
        X = np.asarray(X)
        check_features(X, self.n_features)
        return X @ self.params["W"] + self.params["b"]

    def loss_and_grads(self, X, y):
        r"""Mean cross-entropy and its gradient with respect to each parameter.

        .. math::

            \frac{\partial \ell}{\partial W} = X^{\top} G, \qquad
            \frac{\partial \ell}{\partial b} = \textstyle\sum_n G_n, \qquad
            G = \frac{\partial \ell}{\partial z} .
        """
        X = np.asarray(X)
        y = np.asarray(y)
        # forward
        logits = self.forward(X)
        loss = cross_entropy_loss(logits, y)
        # backward
        d_logits = cross_entropy_loss_grad(logits, y)
        grads = {"W": X.T @ d_logits, "b": d_logits.sum(axis=0)}
        return float(loss), grads

    def predict_proba(self, X):
        """Class probabilities :math:`\\operatorname{softmax}(X W + b)`."""
        return softmax(self.forward(X), axis=-1)

    def predict(self, X):
        """The most probable class of each row of ``X``."""
        return np.argmax(self.forward(X), axis=-1)


class MLP:
    r"""A multilayer perceptron with one hidden ReLU layer.

    .. math::

        h = \max(0,\ X W_1 + b_1), \qquad z = h W_2 + b_2 .

    Parameters
    ----------
    n_features : int
        Number of input features :math:`D`.
    n_hidden : int
        Width :math:`H` of the hidden layer.
    n_classes : int
        Number of classes :math:`K`.
    seed : int, optional
        Seed of the :func:`numpy.random.default_rng` that draws the weights.

    Attributes
    ----------
    params : dict
        ``"W1"`` ``(D, H)``, ``"b1"`` ``(H,)``, ``"W2"`` ``(H, K)``,
        ``"b2"`` ``(K,)``.  Weights start from He initialisation,
        :math:`W \sim \mathcal{N}(0,\ 2 / \text{fan\_in})`, which keeps the
        scale of the activations steady through a ReLU; biases start at zero.

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import numpy as cnp
    >>> model = cnp.MLP(n_features=4, n_hidden=8, n_classes=3, seed=0)
    >>> model.forward(np.ones((5, 4))).shape
    (5, 3)
    >>> sorted(model.params)
    ['W1', 'W2', 'b1', 'b2']
    """

    def __init__(self, n_features, n_hidden, n_classes, seed=0):
        self.n_features = check_count(n_features, "n_features")
        self.n_hidden = check_count(n_hidden, "n_hidden")
        self.n_classes = check_count(n_classes, "n_classes", minimum=2)
        rng = np.random.default_rng(check_count(seed, "seed", minimum=0))
        D, H, K = self.n_features, self.n_hidden, self.n_classes
        self.params = {
            "W1": rng.normal(0.0, math.sqrt(2.0 / D), size=(D, H)),
            "b1": np.zeros(H),
            "W2": rng.normal(0.0, math.sqrt(2.0 / H), size=(H, K)),
            "b2": np.zeros(K),
        }

    def _forward(self, X):
        X = np.asarray(X)
        check_features(X, self.n_features)
        pre = X @ self.params["W1"] + self.params["b1"]
        hidden = np.maximum(pre, 0.0)
        logits = hidden @ self.params["W2"] + self.params["b2"]
        return X, pre, hidden, logits

    def forward(self, X):
        """Logits :math:`z = \\max(0, X W_1 + b_1) W_2 + b_2`, ``(N, K)``."""
        return self._forward(X)[-1]

    def loss_and_grads(self, X, y):
        r"""Mean cross-entropy and its gradient with respect to each parameter.

        Backpropagation, layer by layer from the loss down
        (:math:`G = \partial \ell / \partial z`, :math:`a = X W_1 + b_1`):

        .. math::

            \frac{\partial \ell}{\partial W_2} = h^{\top} G, \quad
            \frac{\partial \ell}{\partial h} = G W_2^{\top}, \quad
            \frac{\partial \ell}{\partial a} = \frac{\partial \ell}{\partial h}
                \odot [a > 0], \quad
            \frac{\partial \ell}{\partial W_1} = X^{\top}
                \frac{\partial \ell}{\partial a} .
        """
        y = np.asarray(y)
        # forward
        X, pre, hidden, logits = self._forward(X)
        loss = cross_entropy_loss(logits, y)
        # backward
        d_logits = cross_entropy_loss_grad(logits, y)
        d_hidden = d_logits @ self.params["W2"].T
        d_pre = d_hidden * (pre > 0)
        grads = {
            "W2": hidden.T @ d_logits,
            "b2": d_logits.sum(axis=0),
            "W1": X.T @ d_pre,
            "b1": d_pre.sum(axis=0),
        }
        return float(loss), grads

    def predict_proba(self, X):
        """Class probabilities, the softmax of :meth:`forward`."""
        return softmax(self.forward(X), axis=-1)

    def predict(self, X):
        """The most probable class of each row of ``X``."""
        return np.argmax(self.forward(X), axis=-1)


def fit(model, X, y, *, lr=0.1, epochs=10, batch_size=None, seed=0):
    r"""Train ``model`` with plain minibatch stochastic gradient descent.

    Every step takes one minibatch :math:`B` and moves each parameter
    against its gradient:

    .. math::

        \theta \leftarrow \theta - \eta\, \nabla_\theta
        \frac{1}{|B|} \sum_{n \in B} \ell(x_n, y_n) .

    Parameters
    ----------
    model : SoftmaxRegression or MLP
        Anything with a ``params`` dict and ``loss_and_grads(X, y)``; its
        parameters are updated in place.
    X : ndarray of float, shape (N, D)
        Training inputs.
    y : ndarray of int, shape (N,)
        Training labels.
    lr : float, optional
        Learning rate :math:`\eta`.
    epochs : int, optional
        Number of passes over the data.
    batch_size : int or None, optional
        Minibatch size; ``None`` uses the whole training set in every step.
    seed : int, optional
        Seed of the :func:`numpy.random.default_rng` that shuffles the
        minibatches, so a run is reproducible.

    Returns
    -------
    list of float
        For each epoch, the mean training loss over its examples, each batch's
        loss taken just before its update.

    Examples
    --------
    >>> from coursepkg import numpy as cnp
    >>> X, y = cnp.make_blobs(n_per_class=20, seed=0)
    >>> model = cnp.SoftmaxRegression(n_features=2, n_classes=3)
    >>> history = cnp.fit(model, X, y, lr=0.5, epochs=5, batch_size=10)
    >>> len(history), [round(loss, 2) for loss in history[:2]]
    (5, [0.35, 0.1])
    >>> history[-1] < history[0]
    True
    """
    X = np.asarray(X)
    y = np.asarray(y)
    check_fit_args(X, y, lr, batch_size)
    epochs = check_count(epochs, "epochs")
    rng = np.random.default_rng(check_count(seed, "seed", minimum=0))
    history = []
    for _ in range(epochs):
        total = 0.0
        for batch in minibatches(X.shape[0], batch_size, rng):
            loss, grads = model.loss_and_grads(X[batch], y[batch])
            for name, grad in grads.items():
                model.params[name] -= lr * grad
            total += loss * batch.size
        history.append(total / X.shape[0])
    return history
