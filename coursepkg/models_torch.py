"""PyTorch twins of :mod:`coursepkg.models`, as :class:`torch.nn.Module`\\ s.

:class:`SoftmaxRegression` and :class:`MLP` take the same arguments and start
from the same kind of weights as their NumPy twins; autograd replaces the
hand-written backward pass and a :mod:`torch.optim` optimizer replaces the
update loop.  :class:`DenseDropoutNet` is the small network of the
TensorFlow beginner tutorial (Dense 128, ReLU, Dropout 0.2, Dense 10),
written in PyTorch.  :func:`fit` trains any of them with
:func:`coursepkg.torch.cross_entropy_loss`.

Weights are drawn from a seeded :class:`torch.Generator`, never from the
global random state, so building a model does not change other random
numbers.
"""

from __future__ import annotations

import numbers

import numpy as np

try:
    import torch
except ModuleNotFoundError as _error:  # name the extra that installs it
    from ._extras import missing_extra

    raise missing_extra(_error, "coursepkg.models_torch") from None
from torch import nn

from .models import check_count, check_features, check_fit_args, minibatches

__all__ = ["SoftmaxRegression", "MLP", "DenseDropoutNet", "fit"]

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}


def _check_tensor(value, name: str):
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(value).__name__}; use "
            f"torch.as_tensor({name}) or the NumPy face `coursepkg.numpy`"
        )


def _linear(n_in, n_out, init_weight=nn.init.zeros_):
    """An :class:`~torch.nn.Linear` layer with weights from ``init_weight``
    and zero biases.  ``skip_init`` skips PyTorch's default initialisation,
    which would draw from the global random state."""
    layer = nn.utils.skip_init(nn.Linear, n_in, n_out)
    with torch.no_grad():
        init_weight(layer.weight)
        layer.bias.zero_()
    return layer


class _Classifier(nn.Module):
    """Prediction helpers shared by the models below."""

    def predict_proba(self, X):
        """Class probabilities (the softmax of the logits), without dropout."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return torch.softmax(self(X), dim=-1)
        finally:
            self.train(was_training)

    def predict(self, X):
        """The most probable class of each row of ``X``."""
        return torch.argmax(self.predict_proba(X), dim=-1)


class SoftmaxRegression(_Classifier):
    r"""Softmax regression: one :class:`~torch.nn.Linear` layer, zero at first.

    .. math::

        z = X W^{\top} + b \qquad (\text{PyTorch stores } W
        \text{ as } (K, D)) .

    Parameters
    ----------
    n_features, n_classes : int
        Input size :math:`D` and number of classes :math:`K`.

    Examples
    --------
    >>> import torch
    >>> from coursepkg import torch as ctorch
    >>> model = ctorch.SoftmaxRegression(n_features=2, n_classes=3)
    >>> model.predict_proba(torch.ones(1, 2))
    tensor([[0.3333, 0.3333, 0.3333]])
    """

    def __init__(self, n_features, n_classes):
        super().__init__()
        self.n_features = check_count(n_features, "n_features")
        self.n_classes = check_count(n_classes, "n_classes", minimum=2)
        self.linear = _linear(self.n_features, self.n_classes)

    def forward(self, X):
        """Logits of shape ``(N, K)``."""
        _check_tensor(X, "X")
        check_features(X, self.n_features)
        return self.linear(X)


class MLP(_Classifier):
    r"""One hidden ReLU layer, He-initialised from a seeded generator.

    .. math::

        z = \operatorname{relu}(X W_1^{\top} + b_1) W_2^{\top} + b_2 ,
        \qquad W \sim \mathcal{N}(0,\ 2 / \text{fan\_in}),\ b = 0 .

    Parameters
    ----------
    n_features, n_hidden, n_classes : int
        Input size :math:`D`, hidden width :math:`H`, number of classes
        :math:`K`.
    seed : int, optional
        Seed of the :class:`torch.Generator` that draws the weights.

    Examples
    --------
    >>> import torch
    >>> from coursepkg import torch as ctorch
    >>> model = ctorch.MLP(n_features=4, n_hidden=8, n_classes=3, seed=0)
    >>> model(torch.ones(5, 4)).shape
    torch.Size([5, 3])
    """

    def __init__(self, n_features, n_hidden, n_classes, seed=0):
        super().__init__()
        self.n_features = check_count(n_features, "n_features")
        self.n_hidden = n_hidden = check_count(n_hidden, "n_hidden")
        self.n_classes = n_classes = check_count(n_classes, "n_classes", 2)
        generator = torch.Generator().manual_seed(check_count(seed, "seed", 0))

        def he_normal(weight):  # N(0, 2 / fan_in)
            nn.init.kaiming_normal_(
                weight, nonlinearity="relu", generator=generator
            )

        self.hidden = _linear(self.n_features, n_hidden, he_normal)
        self.output = _linear(n_hidden, n_classes, he_normal)

    def forward(self, X):
        """Logits of shape ``(N, K)``."""
        _check_tensor(X, "X")
        check_features(X, self.n_features)
        return self.output(torch.relu(self.hidden(X)))


class DenseDropoutNet(_Classifier):
    r"""Dense(128), ReLU, Dropout(0.2), Dense(10): the TensorFlow tutorial net.

    Inputs of shape ``(N, ...)`` are flattened to ``(N, n_features)`` first
    (the tutorial's ``Flatten`` layer).  Dropout zeroes each hidden unit with
    probability :math:`p` during training and scales the survivors by
    :math:`1 / (1 - p)`, so that in evaluation mode nothing changes:

    .. math::

        z = W_2 \bigl(m \odot \operatorname{relu}(W_1 x + b_1)\bigr)
            / (1 - p) + b_2, \qquad m_j \sim \text{Bernoulli}(1 - p) .

    Weights start Glorot-uniform (the Keras default), biases zero.

    Parameters
    ----------
    n_features : int
        Number of inputs after flattening.
    n_hidden : int, optional
        Width of the hidden layer.
    n_classes : int, optional
        Number of classes.
    p_drop : float, optional
        Dropout probability, in :math:`[0, 1)`.
    seed : int, optional
        Seed of the :class:`torch.Generator` that draws the weights.

    Examples
    --------
    >>> import torch
    >>> from coursepkg import torch as ctorch
    >>> model = ctorch.DenseDropoutNet(n_features=64)
    >>> model(torch.zeros(2, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self, n_features, n_hidden=128, n_classes=10, p_drop=0.2, seed=0
    ):
        super().__init__()
        self.n_features = check_count(n_features, "n_features")
        self.n_hidden = n_hidden = check_count(n_hidden, "n_hidden")
        self.n_classes = n_classes = check_count(n_classes, "n_classes", 2)
        if isinstance(p_drop, bool) or not isinstance(p_drop, numbers.Real):
            raise TypeError(
                f"p_drop must be a number, got {type(p_drop).__name__}"
            )
        if not 0.0 <= p_drop < 1.0:
            raise ValueError(f"p_drop must be in [0, 1), got {p_drop}")
        generator = torch.Generator().manual_seed(check_count(seed, "seed", 0))

        # U(-r, r) with r = sqrt(6 / (fan_in + fan_out))
        def glorot_uniform(weight):
            nn.init.xavier_uniform_(weight, generator=generator)

        self.layers = nn.Sequential(
            nn.Flatten(),
            _linear(self.n_features, n_hidden, glorot_uniform),
            nn.ReLU(),
            nn.Dropout(float(p_drop)),
            _linear(n_hidden, n_classes, glorot_uniform),
        )

    def forward(self, X):
        """Logits of shape ``(N, n_classes)``."""
        _check_tensor(X, "X")
        check_features(X.flatten(1) if X.ndim > 1 else X, self.n_features)
        return self.layers(X)


def _make_optimizer(optimizer, parameters, lr):
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {tuple(OPTIMIZERS)} or an "
                f"optimizer class, got {optimizer!r}"
            )
        optimizer = OPTIMIZERS[optimizer]
    if not callable(optimizer):
        raise TypeError(
            f"optimizer must be a name or an optimizer class, got "
            f"{type(optimizer).__name__}"
        )
    return optimizer(parameters, lr=lr)


def fit(
    model, X, y, *, lr=0.1, epochs=10, batch_size=None, seed=0, optimizer="sgd"
):
    r"""Train a model with a :mod:`torch.optim` optimizer and cross-entropy.

    Each step computes :math:`\frac{1}{|B|}\sum_{n \in B} \ell(x_n, y_n)` with
    :func:`coursepkg.torch.cross_entropy_loss` on a minibatch :math:`B`,
    backpropagates, and lets the optimizer move the parameters (for SGD,
    :math:`\theta \leftarrow \theta - \eta \nabla_\theta`).

    The minibatches come in the same order as in :func:`coursepkg.numpy.fit`
    for the same ``seed``, so the two twins trained from the same weights give
    the same losses.  Dropout masks are drawn from the global generator seeded
    with ``seed`` inside :func:`torch.random.fork_rng`: the run is reproducible
    and the caller's random state is left as it was.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``X`` to logits of shape ``(N, K)``; trained in place.
    X : Tensor of float, shape (N, ...)
        Training inputs, of the model's dtype.
    y : Tensor of int64, shape (N,)
        Training labels.
    lr : float, optional
        Learning rate :math:`\eta`.
    epochs : int, optional
        Number of passes over the data.
    batch_size : int or None, optional
        Minibatch size; ``None`` uses the whole training set in every step.
    seed : int, optional
        Seed of the shuffling and of dropout.
    optimizer : {"sgd", "adam"} or callable, optional
        The optimizer, or a class such as :class:`torch.optim.RMSprop`
        called as ``optimizer(model.parameters(), lr=lr)``.

    Returns
    -------
    list of float
        For each epoch, the mean training loss over its examples, each
        batch's loss taken just before its update.  The model is left in
        evaluation mode.

    Examples
    --------
    >>> from coursepkg import torch as ctorch
    >>> X, y = ctorch.make_blobs(n_per_class=20, seed=0)
    >>> model = ctorch.SoftmaxRegression(n_features=2, n_classes=3)
    >>> history = ctorch.fit(model, X, y, lr=0.5, epochs=5, batch_size=10)
    >>> len(history), [round(loss, 2) for loss in history[:2]]
    (5, [0.35, 0.1])
    """
    from .torch import cross_entropy_loss  # the face imports this module

    _check_tensor(X, "X")
    _check_tensor(y, "y")
    check_fit_args(X, y, lr, batch_size)
    epochs = check_count(epochs, "epochs")
    seed = check_count(seed, "seed", minimum=0)
    opt = _make_optimizer(optimizer, model.parameters(), lr)
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    cuda = [X.device.index or 0] if X.device.type == "cuda" else []
    history = []
    model.train()
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        for _ in range(epochs):
            total = 0.0
            for batch in minibatches(n, batch_size, rng):
                index = torch.as_tensor(batch, device=X.device)
                opt.zero_grad()
                loss = cross_entropy_loss(model(X[index]), y[index])
                loss.backward()
                opt.step()
                total += loss.item() * len(batch)
            history.append(total / n)
    model.eval()
    return history
