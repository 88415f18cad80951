"""Tests of the models: NumPy from scratch (:mod:`coursepkg.models`) and the
torch twins (:mod:`coursepkg.models_torch`).

References are independent of the code under test: central differences for
the NumPy gradients, and PyTorch autograd through ``torch.nn.functional``
for the same weights in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from support import FACES, assert_close

from coursepkg import models
from coursepkg import numpy as cnp
from coursepkg import torch as ctorch


@pytest.fixture(params=FACES, ids=lambda b: b.label)
def backend(request):
    """Models and data live in the two public faces only."""
    return request.param

D, H, K, N = 5, 7, 4, 12


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny matrices: one thread is faster, and robust on a busy machine
    (idle OpenMP workers spin and fight other processes for the cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def problem(rng):
    X = rng.normal(size=(N, D))
    y = rng.integers(0, K, size=N)
    return X, y


def _random_softmax_regression(rng):
    model = cnp.SoftmaxRegression(D, K)
    model.params["W"] = rng.normal(size=(D, K))
    model.params["b"] = rng.normal(size=K)
    return model


def _torch_twin(np_model):
    """A float64 torch twin holding a copy of ``np_model``'s weights."""
    p = {k: torch.from_numpy(v.copy()) for k, v in np_model.params.items()}
    with torch.no_grad():
        if isinstance(np_model, cnp.SoftmaxRegression):
            twin = ctorch.SoftmaxRegression(D, K).double()
            twin.linear.weight.copy_(p["W"].T)
            twin.linear.bias.copy_(p["b"])
        else:
            twin = ctorch.MLP(D, H, K).double()
            twin.hidden.weight.copy_(p["W1"].T)
            twin.hidden.bias.copy_(p["b1"])
            twin.output.weight.copy_(p["W2"].T)
            twin.output.bias.copy_(p["b2"])
    return twin


def _twin_grads(twin):
    """The twin's gradients, named and laid out as in the NumPy model."""
    if isinstance(twin, ctorch.SoftmaxRegression):
        return {"W": twin.linear.weight.grad.T, "b": twin.linear.bias.grad}
    return {
        "W1": twin.hidden.weight.grad.T,
        "b1": twin.hidden.bias.grad,
        "W2": twin.output.weight.grad.T,
        "b2": twin.output.bias.grad,
    }


def _numpy_models(rng):
    return [_random_softmax_regression(rng), cnp.MLP(D, H, K, seed=3)]


# gradients ------------------------------------------------------------------


@pytest.mark.parametrize("which", [0, 1], ids=["softmax_regression", "mlp"])
def test_grads_equal_finite_differences(problem, rng, which):
    X, y = problem
    model = _numpy_models(rng)[which]
    _, grads = model.loss_and_grads(X, y)
    assert set(grads) == set(model.params)
    for name, value in model.params.items():

        def loss_at(v, name=name):
            saved = model.params[name]
            model.params[name] = v
            try:
                return model.loss_and_grads(X, y)[0]
            finally:
                model.params[name] = saved

        result = cnp.gradcheck(loss_at, lambda v, name=name: grads[name], value)
        assert result.max_abs_error < 1e-8, (name, str(result))


@pytest.mark.parametrize("which", [0, 1], ids=["softmax_regression", "mlp"])
def test_loss_and_grads_equal_torch_autograd(problem, rng, which):
    X, y = problem
    model = _numpy_models(rng)[which]
    loss, grads = model.loss_and_grads(X, y)
    twin = _torch_twin(model)
    logits = twin(torch.from_numpy(X))
    ref = F.cross_entropy(logits, torch.from_numpy(y))
    ref.backward()
    assert_close(loss, ref.item())
    assert_close(model.forward(X), logits.detach().numpy())
    for name, grad in _twin_grads(twin).items():
        assert_close(grads[name], grad.numpy(), rtol=1e-10, atol=1e-12)


def test_relu_gradient_is_zero_for_dead_units(problem):
    X, y = problem
    model = cnp.MLP(D, H, K, seed=0)
    model.params["b1"][:] = -1e3  # every hidden unit is off
    _, grads = model.loss_and_grads(X, y)
    assert np.all(grads["W1"] == 0) and np.all(grads["b1"] == 0)
    assert np.all(grads["W2"] == 0)


# the twins train alike --------------------------------------------------------


@pytest.mark.parametrize("batch_size", [None, 5])
@pytest.mark.parametrize("which", [0, 1], ids=["softmax_regression", "mlp"])
def test_numpy_and_torch_twins_give_the_same_history(problem, rng, which, batch_size):
    X, y = problem
    model = [cnp.SoftmaxRegression(D, K), cnp.MLP(D, H, K, seed=1)][which]
    twin = _torch_twin(model)
    kwargs = dict(lr=0.3, epochs=4, batch_size=batch_size, seed=5)
    history = cnp.fit(model, X, y, **kwargs)
    twin_history = ctorch.fit(twin, torch.from_numpy(X), torch.from_numpy(y), **kwargs)
    assert all(isinstance(v, float) for v in history + twin_history)
    assert len(history) == 4
    assert_close(history, twin_history, rtol=1e-10)
    assert_close(model.forward(X), twin(torch.from_numpy(X)).detach().numpy(), rtol=1e-9)


def test_full_batch_history_is_the_loss_before_each_step(problem):
    X, y = problem
    model = cnp.SoftmaxRegression(D, K)
    history = cnp.fit(model, X, y, lr=0.1, epochs=3)
    assert history[0] == pytest.approx(math.log(K), rel=1e-14)  # zero weights
    # replay by hand: W -= lr * grad, starting from zeros
    W, b = np.zeros((D, K)), np.zeros(K)
    losses = []
    for _ in range(3):
        logits = torch.from_numpy(X @ W + b).requires_grad_()
        loss = F.cross_entropy(logits, torch.from_numpy(y))
        loss.backward()
        g = logits.grad.numpy()
        losses.append(loss.item())
        W, b = W - 0.1 * X.T @ g, b - 0.1 * g.sum(axis=0)
    assert_close(history, losses)
    assert_close(model.params["W"], W)


# training works ----------------------------------------------------------------


@pytest.mark.parametrize("face", [cnp, ctorch], ids=["numpy", "torch"])
def test_training_lowers_the_loss_on_blobs(face):
    X, y = face.make_blobs(n_per_class=40, seed=2)
    model = face.MLP(2, 16, 3, seed=0)
    history = face.fit(model, X, y, lr=0.1, epochs=20, batch_size=16)
    assert history[-1] < 0.5 * history[0]
    assert float((model.predict(X) == y).float().mean() if face is ctorch
                 else np.mean(model.predict(X) == y)) > 0.9


@pytest.fixture(scope="module")
def digits():
    return cnp.load_digits()


def test_numpy_softmax_regression_learns_digits(digits):
    model = cnp.SoftmaxRegression(64, 10)
    history = cnp.fit(model, digits.X_train, digits.y_train, lr=0.5, epochs=15,
                      batch_size=32, seed=0)
    assert history == sorted(history, reverse=True)  # steadily down
    accuracy = np.mean(model.predict(digits.X_test) == digits.y_test)
    assert accuracy > 0.9


@pytest.mark.parametrize(
    "make,optimizer,lr",
    [
        (lambda: ctorch.SoftmaxRegression(64, 10), "sgd", 1.0),
        (lambda: ctorch.MLP(64, 32, 10, seed=0), "adam", 0.01),
        (lambda: ctorch.DenseDropoutNet(64, seed=0), "adam", 0.01),
    ],
    ids=["softmax_regression", "mlp", "dense_dropout"],
)
def test_torch_models_learn_digits(make, optimizer, lr):
    data = ctorch.load_digits()
    model = make()
    history = ctorch.fit(model, data.X_train, data.y_train, lr=lr, epochs=10,
                         batch_size=64, optimizer=optimizer)
    assert history[-1] < history[0]
    assert not model.training  # fit leaves the model in evaluation mode
    accuracy = (model.predict(data.X_test) == data.y_test).double().mean()
    assert accuracy > 0.9


def test_fit_accepts_an_optimizer_class(problem):
    X, y = (torch.from_numpy(a) for a in problem)
    model = ctorch.SoftmaxRegression(D, K).double()
    history = ctorch.fit(model, X, y, lr=0.01, epochs=3, optimizer=torch.optim.RMSprop)
    assert history[-1] < history[0]


# determinism and random state ---------------------------------------------------


@pytest.mark.parametrize("face", [cnp, ctorch], ids=["numpy", "torch"])
def test_fit_is_deterministic_and_seed_matters(face):
    X, y = face.make_blobs(n_per_class=20, seed=0)
    runs = [
        face.fit(face.MLP(2, 8, 3, seed=0), X, y, epochs=3, batch_size=8, seed=s)
        for s in (0, 0, 1)
    ]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_numpy_mlp_init_is_seeded_he():
    a, b, c = (cnp.MLP(400, 300, 200, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    assert a.params["W1"].std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    assert a.params["W2"].std() == pytest.approx(math.sqrt(2 / 300), rel=0.02)
    assert not a.params["b1"].any() and not a.params["b2"].any()
    z = cnp.SoftmaxRegression(3, 2).params
    assert not z["W"].any() and not z["b"].any()


def test_torch_init_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = ctorch.MLP(400, 300, 200, seed=0)
    net = ctorch.DenseDropoutNet(400, n_hidden=300, n_classes=200, seed=0)
    assert torch.equal(torch.rand(3), expected)
    b, c = ctorch.MLP(400, 300, 200, seed=0), ctorch.MLP(400, 300, 200, seed=1)
    assert torch.equal(a.hidden.weight, b.hidden.weight)
    assert not torch.equal(a.hidden.weight, c.hidden.weight)
    assert a.hidden.weight.std().item() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    assert a.output.weight.std().item() == pytest.approx(math.sqrt(2 / 300), rel=0.02)
    assert not a.hidden.bias.any() and not a.output.bias.any()
    # Glorot uniform: U(-r, r) with r = sqrt(6 / (fan_in + fan_out))
    w = net.layers[1].weight
    r = math.sqrt(6 / (400 + 300))
    assert w.abs().max().item() <= r
    assert w.std().item() == pytest.approx(r / math.sqrt(3), rel=0.02)
    z = ctorch.SoftmaxRegression(3, 2)
    assert not z.linear.weight.any() and not z.linear.bias.any()


def test_torch_fit_with_dropout_is_reproducible_and_keeps_the_global_rng():
    data = ctorch.make_blobs(n_per_class=20, seed=0)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    h1 = ctorch.fit(ctorch.DenseDropoutNet(2, 16, 3, p_drop=0.5), *data,
                    epochs=3, batch_size=8)
    assert torch.equal(torch.rand(3), expected)
    h2 = ctorch.fit(ctorch.DenseDropoutNet(2, 16, 3, p_drop=0.5), *data,
                    epochs=3, batch_size=8)
    assert h1 == h2


# dropout and prediction ----------------------------------------------------------


def test_dropout_is_active_only_in_training_mode():
    X = torch.randn(4, 8, 8, generator=torch.Generator().manual_seed(0))
    net = ctorch.DenseDropoutNet(64, seed=0)
    net.train()
    assert not torch.equal(net(X), net(X))  # different masks
    proba = net.predict_proba(X)  # evaluation mode inside, restored after
    assert net.training
    assert torch.equal(proba, net.predict_proba(X))
    net.eval()
    assert torch.equal(net(X), net(X))
    assert torch.equal(torch.softmax(net(X), dim=-1), proba)
    still = ctorch.DenseDropoutNet(64, p_drop=0.0, seed=0)
    assert torch.equal(still.train()(X), still.eval()(X))


def test_predict_proba_and_predict(backend, rng):
    X = rng.normal(size=(6, D))
    for model in (backend.mod.SoftmaxRegression(D, K), backend.mod.MLP(D, H, K)):
        if backend.name == "torch":
            model = model.double()
        proba = backend.to_numpy(model.predict_proba(backend.array(X)))
        logits = backend.to_numpy(model.forward(backend.array(X)))
        assert proba.shape == (6, K)
        assert_close(proba.sum(axis=1), np.ones(6))
        expected = np.exp(logits - logits.max(axis=1, keepdims=True))
        assert_close(proba, expected / expected.sum(axis=1, keepdims=True))
        np.testing.assert_array_equal(
            backend.to_numpy(model.predict(backend.array(X))), logits.argmax(axis=1)
        )


def test_minibatches_cover_every_index_once():
    batches = list(models.minibatches(10, 3, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(10))
    (full,) = models.minibatches(4, None, None)
    np.testing.assert_array_equal(full, np.arange(4))


# bad arguments --------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,kwargs,error,name",
    [
        ((0, 3), {}, ValueError, "n_features"),
        ((2.5, 3), {}, TypeError, "n_features"),
        ((True, 3), {}, TypeError, "n_features"),
        ((4, 1), {}, ValueError, "n_classes"),
        ((4, "3"), {}, TypeError, "n_classes"),
    ],
)
def test_softmax_regression_bad_arguments(backend, args, kwargs, error, name):
    with pytest.raises(error, match=name):
        backend.mod.SoftmaxRegression(*args, **kwargs)


@pytest.mark.parametrize(
    "args,kwargs,error,name",
    [
        ((0, 8, 3), {}, ValueError, "n_features"),
        ((4, 0, 3), {}, ValueError, "n_hidden"),
        ((4, 8, 1), {}, ValueError, "n_classes"),
        ((4, 8, 3), {"seed": -1}, ValueError, "seed"),
        ((4, 8, 3), {"seed": 0.5}, TypeError, "seed"),
    ],
)
def test_mlp_bad_arguments(backend, args, kwargs, error, name):
    with pytest.raises(error, match=name):
        backend.mod.MLP(*args, **kwargs)


@pytest.mark.parametrize(
    "kwargs,error,name",
    [
        ({"n_features": 0}, ValueError, "n_features"),
        ({"n_hidden": 0}, ValueError, "n_hidden"),
        ({"n_classes": 1}, ValueError, "n_classes"),
        ({"p_drop": 1.0}, ValueError, "p_drop"),
        ({"p_drop": -0.1}, ValueError, "p_drop"),
        ({"p_drop": "0.2"}, TypeError, "p_drop"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_dense_dropout_net_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        ctorch.DenseDropoutNet(**{"n_features": 64, **kwargs})


@pytest.mark.parametrize(
    "X,error,match",
    [
        (np.ones((3, D + 1)), ValueError, r"X must have shape \(N, 5\)"),
        (np.ones(D), ValueError, "X must have shape"),
        (np.ones((3, D), dtype=np.int64), TypeError, "X must hold floating"),
    ],
)
def test_forward_bad_inputs(backend, X, error, match):
    models_ = [backend.mod.SoftmaxRegression(D, K), backend.mod.MLP(D, H, K)]
    if backend.name == "torch":
        models_.append(ctorch.DenseDropoutNet(D, 8, K))
        X = torch.from_numpy(X)
    for model in models_:
        with pytest.raises(error, match=match):
            model.forward(X)


def test_torch_models_refuse_numpy_inputs():
    X = np.ones((3, D), dtype=np.float32)
    for model in (ctorch.SoftmaxRegression(D, K), ctorch.MLP(D, H, K),
                  ctorch.DenseDropoutNet(D, 8, K)):
        with pytest.raises(TypeError, match="X must be a torch.Tensor"):
            model(X)


@pytest.mark.parametrize(
    "kwargs,error,name",
    [
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"lr": math.nan}, ValueError, "lr"),
        ({"lr": "0.1"}, TypeError, "lr"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 2.0}, TypeError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 1.5}, TypeError, "batch_size"),
        ({"seed": -1}, ValueError, "seed"),
        ({"y": [0, 1]}, ValueError, "y must have shape"),
        ({"X": np.zeros((0, D)), "y": []}, ValueError, "X has no rows"),
    ],
)
def test_fit_bad_arguments(backend, problem, kwargs, error, name):
    kwargs = dict(kwargs)  # the parameters are shared by both backends
    X, y = kwargs.pop("X", problem[0]), kwargs.pop("y", problem[1])
    X, y = backend.array(X), backend.index(y)
    model = backend.mod.SoftmaxRegression(D, K)
    if backend.name == "torch":
        model = model.double()
    with pytest.raises(error, match=name):
        backend.mod.fit(model, X, y, **kwargs)


def test_torch_fit_bad_optimizer_and_inputs(problem):
    X, y = (torch.from_numpy(a) for a in problem)
    model = ctorch.SoftmaxRegression(D, K).double()
    with pytest.raises(ValueError, match="optimizer must be one of"):
        ctorch.fit(model, X, y, optimizer="lbfgs")
    with pytest.raises(TypeError, match="optimizer must be"):
        ctorch.fit(model, X, y, optimizer=3)
    with pytest.raises(TypeError, match="X must be a torch.Tensor"):
        ctorch.fit(model, problem[0], y)
    with pytest.raises(TypeError, match="y must be a torch.Tensor"):
        ctorch.fit(model, X, problem[1])


def test_numpy_loss_rejects_out_of_range_labels(problem):
    X, _ = problem
    with pytest.raises(ValueError, match="out of range"):
        cnp.SoftmaxRegression(D, K).loss_and_grads(X, np.full(N, K))
