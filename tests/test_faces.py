"""The two faces: same names, same signatures, each refusing the other's arrays."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from support import assert_close

from coursepkg import numpy as cnp
from coursepkg import torch as ctorch

CORE_NAMES = [
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
]

# one valid call per function: (positional array arguments, options)
P = [[0.25, 0.75], [0.5, 0.5]]
Z = [[1.0, 2.0], [3.0, 4.0]]
CALLS = {
    "logsumexp": ([Z], {}),
    "softmax": ([Z], {}),
    "log_softmax": ([Z], {}),
    "naive_softmax": ([Z], {}),
    "sigmoid": ([[1.0, -2.0]], {}),
    "log_sigmoid": ([[1.0, -2.0]], {}),
    "entropy": ([P], {}),
    "cross_entropy": ([P, P[::-1]], {}),
    "kl_divergence": ([P, P[::-1]], {}),
    "cross_entropy_loss": ([Z], {"target": [0, 1]}),
    "cross_entropy_loss_grad": ([Z], {"target": [0, 1]}),
    "nll_loss": ([[[-0.5, -1.0], [-2.0, -0.1]]], {"target": [0, 1]}),
    "softmax_jacobian": ([[1.0, 2.0, 3.0]], {}),
}


@pytest.mark.parametrize("name", CORE_NAMES)
def test_both_faces_expose_the_name_with_the_same_signature(name):
    a, b = getattr(cnp, name), getattr(ctorch, name)
    assert name in cnp.__all__ and name in ctorch.__all__
    assert inspect.signature(a) == inspect.signature(b)
    for doc in (a.__doc__, b.__doc__):  # numpydoc with a formula and a doctest
        assert "math:" in doc and "Examples" in doc and ">>> " in doc


@pytest.mark.parametrize("name", sorted(CALLS))
def test_faces_agree_and_return_their_own_array_type(name):
    arrays, options = CALLS[name]
    np_args = [np.asarray(a) for a in arrays]
    np_opts = {k: np.asarray(v) for k, v in options.items()}
    t_args = [torch.tensor(a, dtype=torch.float64) for a in arrays]
    t_opts = {k: torch.tensor(v) for k, v in options.items()}
    a = getattr(cnp, name)(*np_args, **np_opts)
    b = getattr(ctorch, name)(*t_args, **t_opts)
    assert isinstance(a, (np.ndarray, np.floating)) and isinstance(b, torch.Tensor)
    assert_close(np.asarray(a), b.numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_numpy_face_reads_nested_lists(name):
    arrays, options = CALLS[name]
    from_lists = getattr(cnp, name)(*arrays, **options)
    from_arrays = getattr(cnp, name)(*[np.asarray(a) for a in arrays], **{k: np.asarray(v) for k, v in options.items()})
    assert_close(from_lists, from_arrays, rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_numpy_face_refuses_torch_tensors(name):
    arrays, options = CALLS[name]
    args = [torch.tensor(arrays[0])] + list(arrays[1:])
    param = next(iter(inspect.signature(getattr(cnp, name)).parameters))
    with pytest.raises(TypeError, match=f"{param} is a torch tensor; use `from coursepkg import torch as ctorch`"):
        getattr(cnp, name)(*args, **options)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_torch_face_refuses_numpy_arrays(name):
    arrays, options = CALLS[name]
    args = [np.asarray(arrays[0])] + [torch.tensor(a, dtype=torch.float64) for a in arrays[1:]]
    opts = {k: torch.tensor(v) for k, v in options.items()}
    param = next(iter(inspect.signature(getattr(ctorch, name)).parameters))
    with pytest.raises(TypeError, match=f"{param} must be a torch.Tensor, got ndarray"):
        getattr(ctorch, name)(*args, **opts)


def test_torch_face_refuses_a_numpy_target_and_weight():
    z = torch.zeros(2, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match="target must be a torch.Tensor, got ndarray"):
        ctorch.cross_entropy_loss(z, np.array([0, 1]))
    with pytest.raises(TypeError, match="weight must be a torch.Tensor, got list"):
        ctorch.cross_entropy_loss(z, torch.tensor([0, 1]), weight=[1.0, 1.0, 1.0])


def test_torch_face_refuses_python_lists():
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        ctorch.softmax([1.0, 2.0])


def test_numpy_face_refuses_a_torch_weight():
    with pytest.raises(TypeError, match="weight is a torch tensor"):
        cnp.cross_entropy_loss(np.zeros((2, 3)), np.array([0, 1]), weight=torch.ones(3))


def test_numpy_face_refuses_a_torch_parameter():
    with pytest.raises(TypeError, match="x is a torch tensor"):
        cnp.softmax(torch.nn.Parameter(torch.zeros(3)))


@pytest.mark.parametrize("value", [["a", "b"], [object(), 1.0]])
def test_numpy_face_refuses_non_numeric_input(value):
    with pytest.raises(TypeError, match="x must be numeric"):
        cnp.softmax(value)


def test_numpy_face_refuses_a_string_array():
    with pytest.raises(TypeError, match="x must hold floating-point numbers, got dtype <U3"):
        cnp.softmax(np.array(["1.0"]))


def test_numpy_face_refuses_ragged_lists():
    with pytest.raises(TypeError, match="x could not be read as an array"):
        cnp.softmax([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("face", [cnp, ctorch], ids=["numpy", "torch"])
def test_unknown_keyword_names_the_function(face):
    x = np.zeros(3) if face is cnp else torch.zeros(3)
    with pytest.raises(TypeError, match="softmax\\(\\): got an unexpected keyword argument 'dim'"):
        face.softmax(x, dim=0)


def test_integer_list_logits_are_refused_by_the_numpy_face():
    with pytest.raises(TypeError, match="logits must hold floating-point numbers, got dtype int64"):
        cnp.cross_entropy_loss([[1, 2], [3, 4]], [0, 1])


def test_integer_logits_are_refused_by_the_torch_face():
    with pytest.raises(TypeError, match="logits must hold floating-point numbers, got dtype int64"):
        ctorch.cross_entropy_loss(torch.tensor([[1, 2], [3, 4]]), torch.tensor([0, 1]))


def test_torch_face_loss_is_an_autograd_function_with_the_analytic_backward():
    z = torch.zeros(1, 4, dtype=torch.float64, requires_grad=True)
    out = ctorch.cross_entropy_loss(z, torch.tensor([1]))
    assert type(out.grad_fn).__name__ == "CrossEntropyLossFunctionBackward"
    out.backward()
    assert_close(z.grad.numpy(), [[0.25, -0.75, 0.25, 0.25]], rtol=0, atol=0)


def test_torch_face_loss_keeps_the_device_and_dtype():
    z = torch.zeros(2, 3, dtype=torch.float32)
    out = ctorch.cross_entropy_loss(z, torch.tensor([0, 2]))
    assert out.dtype == torch.float32 and out.device == z.device


def test_backend_helper_tells_tensors_from_arrays():
    from coursepkg._backend import is_torch

    assert is_torch(torch.zeros(1)) and not is_torch(np.zeros(1))
