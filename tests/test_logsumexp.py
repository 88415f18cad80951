"""Tests of :func:`coursepkg.logsumexp.logsumexp` on both faces."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.special
import torch
from support import FACES, assert_close, dtype_tol
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

SHAPES_AXES = [
    ((5,), -1),
    ((5,), 0),
    ((3, 4), 0),
    ((3, 4), 1),
    ((3, 4), -1),
    ((2, 3, 4), 0),
    ((2, 3, 4), 1),
    ((2, 3, 4), -2),
    ((2, 3, 4), 2),
]


# (a) reference comparisons -------------------------------------------------


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_matches_scipy_and_torch_float64(backend, rng, shape, axis, keepdims):
    x = rng.normal(scale=30.0, size=shape)
    got = backend.mod.logsumexp(backend.array(x), axis=axis, keepdims=keepdims)
    expected = scipy.special.logsumexp(x, axis=axis, keepdims=keepdims)
    by_torch = torch.logsumexp(torch.from_numpy(x), dim=axis, keepdim=keepdims)
    assert tuple(got.shape) == expected.shape
    assert_close(backend.to_numpy(got), expected, rtol=1e-14)
    assert_close(backend.to_numpy(got), by_torch.numpy(), rtol=1e-14)


def test_default_axis_is_last(backend, rng):
    x = rng.normal(size=(3, 4))
    got = backend.mod.logsumexp(backend.array(x))
    assert_close(backend.to_numpy(got), scipy.special.logsumexp(x, axis=-1))


def test_numpy_integer_axis_is_accepted(backend, rng):
    x = rng.normal(size=(3, 4))
    got = backend.mod.logsumexp(backend.array(x), axis=np.int64(0))
    assert_close(backend.to_numpy(got), scipy.special.logsumexp(x, axis=0))


def test_low_precision_keeps_dtype_and_is_close(lowp, rng):
    backend, dtype = lowp
    x = backend.array(rng.normal(scale=3.0, size=(6, 7)), dtype)
    exact = scipy.special.logsumexp(backend.to_numpy(x), axis=-1)
    got = backend.mod.logsumexp(x)
    assert backend.dtype_name(got) == dtype
    # one rounding of the float32 result to the dtype, relative to |result|
    assert_close(
        backend.to_numpy(got), exact, rtol=dtype_tol(dtype, 1), atol=dtype_tol(dtype, 2)
    )


def test_float32_result_is_float32_accurate(backend, rng):
    x = backend.array(rng.normal(scale=50.0, size=(8, 9)), "float32")
    exact = scipy.special.logsumexp(backend.to_numpy(x), axis=-1)
    got = backend.mod.logsumexp(x)
    assert backend.dtype_name(got) == "float32"
    assert_close(backend.to_numpy(got), exact, rtol=dtype_tol("float32", 4), atol=0)


def test_autograd_gradient_is_softmax():
    x = torch.randn(4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    from coursepkg import torch as ctorch

    ctorch.logsumexp(x).sum().backward()
    assert_close(x.grad.numpy(), torch.softmax(x.detach(), -1).numpy(), rtol=1e-14)


# (b) properties --------------------------------------------------------------

finite_rows = arrays(
    np.float64,
    st.tuples(st.integers(1, 4), st.integers(1, 6)),
    elements=st.floats(-1e3, 1e3, allow_nan=False),
)


@given(x=finite_rows, c=st.floats(-1e3, 1e3))
def test_shift_adds_the_shift(x, c):
    from coursepkg import numpy as cnp

    lhs = cnp.logsumexp(x + c)
    rhs = cnp.logsumexp(x) + c
    scale = np.abs(x).max(initial=0.0) + abs(c) + 1.0
    assert_close(lhs, rhs, rtol=0, atol=16 * scale * 2.0**-52)


@given(x=finite_rows)
def test_bounded_by_max_and_max_plus_log_n(x):
    from coursepkg import numpy as cnp

    out = cnp.logsumexp(x)
    m = x.max(axis=-1)
    slack = 4 * (np.abs(m) + 1) * 2.0**-52
    assert np.all(out >= m - slack)
    assert np.all(out <= m + math.log(x.shape[-1]) + slack)


@given(x=finite_rows)
def test_faces_agree(x):
    from coursepkg import numpy as cnp
    from coursepkg import torch as ctorch

    assert_close(ctorch.logsumexp(torch.from_numpy(x)).numpy(), cnp.logsumexp(x), rtol=1e-15)


# (c) named edge cases --------------------------------------------------------


def test_two_equal_large_entries_give_1000_plus_log_2(backend):
    out = backend.mod.logsumexp(backend.array([1000.0, 1000.0]))
    assert float(out) == pytest.approx(1000.0 + math.log(2.0), rel=1e-15)


def test_tiny_rest_keeps_full_relative_accuracy(backend):
    # log(1 + e^-40) = log1p(e^-40) ~ 4.248e-18; m + log(sum) would give 0
    out = float(backend.mod.logsumexp(backend.array([0.0, -40.0])))
    exact = float(mpmath.log1p(mpmath.exp(-40)))
    assert out == pytest.approx(exact, rel=1e-15)
    assert out == pytest.approx(4.248354255291589e-18, rel=1e-12)


def test_all_minus_inf_row_gives_minus_inf(backend):
    out = backend.to_numpy(backend.mod.logsumexp(backend.array([[-np.inf, -np.inf], [0.0, 0.0]])))
    assert out[0] == -np.inf
    assert out[1] == pytest.approx(math.log(2.0))


def test_minus_inf_entries_are_masked_out(backend):
    out = float(backend.mod.logsumexp(backend.array([-np.inf, 3.0, -np.inf])))
    assert out == 3.0


@pytest.mark.parametrize("row", [[np.inf, 0.0], [np.inf, np.inf], [np.inf, -np.inf], [1.0, np.inf]])
def test_plus_inf_entry_gives_plus_inf_as_scipy_and_torch(backend, row):
    out = float(backend.mod.logsumexp(backend.array(row)))
    assert out == np.inf
    assert scipy.special.logsumexp(row) == np.inf
    assert torch.logsumexp(torch.tensor(row, dtype=torch.float64), -1).item() == np.inf


@pytest.mark.parametrize("row", [[np.nan, 0.0], [0.0, np.nan], [np.nan, np.inf], [-np.inf, np.nan]])
def test_nan_entry_gives_nan_as_scipy_and_torch(backend, row):
    assert math.isnan(float(backend.mod.logsumexp(backend.array(row))))
    assert math.isnan(scipy.special.logsumexp(row))


def test_1e308_does_not_overflow(backend):
    out = float(backend.mod.logsumexp(backend.array([1e308, 1e308])))
    assert out == 1e308  # + log 2 is below the spacing of floats there
    assert float(backend.mod.logsumexp(backend.array([1e308, -1e308]))) == 1e308


def test_empty_axis_gives_minus_inf_the_log_of_an_empty_sum(backend):
    out = backend.mod.logsumexp(backend.array(np.zeros((3, 0))))
    assert tuple(out.shape) == (3,)
    assert np.all(backend.to_numpy(out) == -np.inf)
    assert torch.logsumexp(torch.zeros(3, 0), -1).tolist() == [-np.inf] * 3


def test_empty_axis_keepdims_shape(backend):
    out = backend.mod.logsumexp(backend.array(np.zeros((0, 2))), axis=0, keepdims=True)
    assert tuple(out.shape) == (1, 2)
    assert np.all(backend.to_numpy(out) == -np.inf)


def test_empty_batch_gives_empty_result(backend):
    out = backend.mod.logsumexp(backend.array(np.zeros((0, 4))))
    assert tuple(out.shape) == (0,)


def test_float16_sum_beyond_float16_range_is_accumulated_in_float32(backend):
    # exp(11) = 59874 > 65504 / 2: summing two of them in float16 overflows
    x = backend.array([11.0, 11.0], "float16")
    out = float(backend.mod.logsumexp(x))
    assert out == pytest.approx(11.0 + math.log(2.0), rel=dtype_tol("float16", 1))


# (d) bad input -----------------------------------------------------------------


def test_integer_input_is_refused_by_the_core_function(backend):
    x = backend.index([1, 2, 3])
    if backend in FACES:  # promoted, as SciPy (tests/test_scipy_semantics.py)
        assert backend.dtype_name(backend.mod.logsumexp(x)) in ("float64", "float32")
        return
    with pytest.raises(TypeError, match="x must hold floating-point"):
        backend.mod.logsumexp(x)


@pytest.mark.parametrize("axis", [2, -3])
def test_axis_out_of_range_is_refused(backend, axis):
    with pytest.raises(ValueError, match=f"axis={axis} is out of range for x"):
        backend.mod.logsumexp(backend.array(np.zeros((2, 3))), axis=axis)


@pytest.mark.parametrize("axis", [1.0, "0", None, True])
def test_non_integer_axis_is_refused(backend, axis):
    if backend in FACES and axis is None:  # every axis, as SciPy
        return
    with pytest.raises(TypeError, match="axis must be an int"):
        backend.mod.logsumexp(backend.array(np.zeros((2, 3))), axis=axis)


def test_scalar_input_is_refused_by_the_core_function(backend):
    if backend in FACES:  # 0-d input is its own log-sum-exp, as SciPy
        assert float(backend.to_numpy(backend.mod.logsumexp(backend.array(1.0)))) == 1.0
        return
    with pytest.raises(ValueError, match="x must have at least one dimension"):
        backend.mod.logsumexp(backend.array(1.0))
