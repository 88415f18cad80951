"""Tests of softmax, log_softmax, naive_softmax, sigmoid and log_sigmoid."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import scipy.special
import torch
from support import FACES, assert_close, dtype_tol
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from coursepkg import numpy as cnp
from coursepkg import torch as ctorch

SHAPES_AXES = [((5,), 0), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1), ((2, 3, 4), -1)]


# (a) reference comparisons -------------------------------------------------


@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_softmax_matches_scipy_and_torch(backend, rng, shape, axis):
    x = rng.normal(scale=20.0, size=shape)
    got = backend.to_numpy(backend.mod.softmax(backend.array(x), axis=axis))
    assert_close(got, scipy.special.softmax(x, axis=axis), rtol=1e-13, atol=1e-300)
    assert_close(got, torch.softmax(torch.from_numpy(x), axis).numpy(), rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_log_softmax_matches_scipy_and_torch(backend, rng, shape, axis):
    x = rng.normal(scale=20.0, size=shape)
    got = backend.to_numpy(backend.mod.log_softmax(backend.array(x), axis=axis))
    assert_close(got, scipy.special.log_softmax(x, axis=axis), rtol=1e-13)
    assert_close(got, torch.log_softmax(torch.from_numpy(x), axis).numpy(), rtol=1e-13)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1, 2.0, 100.0])
def test_softmax_temperature_divides_the_logits(backend, rng, temperature):
    x = rng.normal(scale=5.0, size=(3, 6))
    got = backend.mod.softmax(backend.array(x), temperature=temperature)
    expected = scipy.special.softmax(x / temperature, axis=-1)
    assert_close(backend.to_numpy(got), expected, rtol=1e-13, atol=1e-300)


@pytest.mark.parametrize("shape,axis", SHAPES_AXES)
def test_naive_softmax_matches_scipy_on_moderate_inputs(backend, rng, shape, axis):
    x = rng.normal(size=shape)
    got = backend.mod.naive_softmax(backend.array(x), axis=axis)
    assert_close(backend.to_numpy(got), scipy.special.softmax(x, axis=axis), rtol=1e-13)


def test_sigmoid_matches_expit_and_torch(backend):
    x = np.concatenate([np.linspace(-800, 800, 101), np.linspace(-5, 5, 41)])
    got = backend.to_numpy(backend.mod.sigmoid(backend.array(x)))
    assert_close(got, scipy.special.expit(x), rtol=1e-15, atol=1e-300)
    assert_close(got, torch.sigmoid(torch.from_numpy(x)).numpy(), rtol=1e-15, atol=1e-300)


def test_log_sigmoid_matches_log_expit_and_torch(backend):
    x = np.concatenate([np.linspace(-800, 800, 101), np.linspace(-5, 5, 41)])
    got = backend.to_numpy(backend.mod.log_sigmoid(backend.array(x)))
    assert_close(got, scipy.special.log_expit(x), rtol=1e-14, atol=1e-300)
    torch_ref = torch.nn.functional.logsigmoid(torch.from_numpy(x)).numpy()
    assert_close(got, torch_ref, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "sigmoid", "log_sigmoid"])
def test_low_precision_keeps_dtype_and_is_close(lowp, rng, name):
    backend, dtype = lowp
    x = backend.array(rng.normal(scale=4.0, size=(5, 8)), dtype)
    x64 = backend.to_numpy(x)  # the exactly representable input, in float64
    reference = {
        "softmax": lambda v: scipy.special.softmax(v, axis=-1),
        "log_softmax": lambda v: scipy.special.log_softmax(v, axis=-1),
        "sigmoid": scipy.special.expit,
        "log_sigmoid": scipy.special.log_expit,
    }[name](x64)
    got = getattr(backend.mod, name)(x)
    assert backend.dtype_name(got) == dtype
    # accumulated in float32, so only the final rounding to dtype remains
    assert_close(
        backend.to_numpy(got), reference, rtol=dtype_tol(dtype, 2), atol=dtype_tol(dtype, 2)
    )


def test_torch_autograd_flows_through_softmax():
    x = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.autograd.gradcheck(ctorch.softmax, (x.requires_grad_(),))
    assert torch.autograd.gradcheck(ctorch.log_softmax, (x,))
    assert torch.autograd.gradcheck(ctorch.log_sigmoid, (x,))


# (b) properties --------------------------------------------------------------

logits = arrays(
    np.float64,
    st.tuples(st.integers(1, 4), st.integers(1, 7)),
    elements=st.floats(-500, 500, allow_nan=False),
)


@given(x=logits, axis=st.sampled_from([0, 1]))
def test_softmax_rows_sum_to_one(x, axis):
    for face, arr in ((cnp, x), (ctorch, torch.from_numpy(x))):
        p = np.asarray(face.softmax(arr, axis=axis))
        assert np.all(p >= 0)
        assert_close(p.sum(axis=axis), 1.0, rtol=0, atol=4 * x.shape[axis] * 2.0**-52)


@given(x=logits, c=st.floats(-1e4, 1e4))
def test_softmax_is_shift_invariant(x, c):
    for face, conv in ((cnp, np.asarray), (ctorch, torch.from_numpy)):
        p = np.asarray(face.softmax(conv(x)))
        q = np.asarray(face.softmax(conv(x + c)))
        # x + c rounds each logit by up to eps*|x + c|, which moves p by that
        spread = 8 * (np.abs(x).max() + abs(c) + 1) * 2.0**-52
        assert_close(q, p, rtol=spread, atol=spread)


@given(x=logits, c=st.floats(-1e4, 1e4))
def test_log_softmax_is_shift_invariant(x, c):
    lhs = cnp.log_softmax(x + c)
    rhs = cnp.log_softmax(x)
    spread = 16 * (np.abs(x).max() + abs(c) + 1) * 2.0**-52
    assert_close(lhs, rhs, rtol=0, atol=spread)


@given(x=logits)
@example(x=np.array([[-357.99277672, 155.0, 155.0, 155.0, 155.0]]))  # exact: a half-way -514.379
def test_log_softmax_is_x_minus_logsumexp(x):
    expected = x - scipy.special.logsumexp(x, axis=-1, keepdims=True)
    scale = 8 * (np.abs(x).max() + 1) * 2.0**-52
    out = cnp.log_softmax(x)
    assert_close(out, expected, rtol=0, atol=scale)
    # exp turns an absolute error of the log into a relative one: a log
    # rounded to the nearest float64 at |y| = 514 (one ULP is 1.1e-13) may
    # move exp(y) by 1.1e-13 relative, so the bound grows with |y|
    rtol = 1e-13 + 4 * np.abs(out[np.isfinite(out)]).max(initial=0.0) * 2.0**-52
    assert_close(np.exp(out), cnp.softmax(x), rtol=rtol, atol=1e-300)


@given(a=st.floats(-700, 700), b=st.floats(-700, 700))
def test_two_class_softmax_is_sigmoid_of_the_difference(a, b):
    p = cnp.softmax(np.array([a, b]))[0]
    assert p == pytest.approx(float(cnp.sigmoid(np.array(a - b))), rel=1e-13, abs=1e-300)


@given(x=st.floats(-1e4, 1e4))
def test_sigmoid_symmetry(x):
    s = cnp.sigmoid(np.array([x, -x]))
    assert s[0] + s[1] == pytest.approx(1.0, abs=2.0**-52)


@given(x=st.floats(-700, 700))
def test_log_sigmoid_matches_mpmath(x):
    exact = float(-mpmath.log1p(mpmath.exp(-mpmath.mpf(x))))
    assert float(cnp.log_sigmoid(np.array(x))) == pytest.approx(exact, rel=4 * 2.0**-52)


# (c) named edge cases --------------------------------------------------------


def test_1000_1000_gives_one_half_each(backend):
    p = backend.to_numpy(backend.mod.softmax(backend.array([1000.0, 1000.0])))
    assert_close(p, [0.5, 0.5], rtol=0, atol=0)


def test_naive_softmax_overflows_where_the_stable_one_does_not(backend):
    x = backend.array([1000.0, 0.0])
    naive = backend.to_numpy(backend.mod.naive_softmax(x))
    stable = backend.to_numpy(backend.mod.softmax(x))
    assert math.isnan(naive[0])  # exp(1000) = inf, inf / inf
    assert_close(stable, [1.0, math.exp(-1000.0)], rtol=0, atol=0)


def test_naive_softmax_underflows_to_nan_for_very_negative_rows(backend):
    x = backend.array([-1000.0, -1001.0])
    naive = backend.to_numpy(backend.mod.naive_softmax(x))
    assert np.all(np.isnan(naive))  # 0 / 0
    expected = [1 / (1 + math.exp(-1)), math.exp(-1) / (1 + math.exp(-1))]
    assert_close(backend.to_numpy(backend.mod.softmax(x)), expected, rtol=1e-15)


def test_naive_softmax_float32_overflows_above_88_7(backend):
    x = backend.array([89.0, 0.0], "float32")
    assert math.isnan(backend.to_numpy(backend.mod.naive_softmax(x))[0])
    assert backend.to_numpy(backend.mod.softmax(x))[0] == 1.0


def test_log_softmax_far_below_gives_the_exact_log_not_minus_inf(backend):
    # softmax underflows to 0 there; its log is still an ordinary number
    out = backend.to_numpy(backend.mod.log_softmax(backend.array([0.0, -1000.0])))
    assert out[1] == pytest.approx(-1000.0, rel=1e-15)
    assert out[0] == 0.0  # -log1p(e^-1000) rounds to -0


def test_log_softmax_largest_entry_is_minus_log1p_of_the_rest(backend):
    out = backend.to_numpy(backend.mod.log_softmax(backend.array([0.0, -40.0])))
    assert out[0] == pytest.approx(-float(mpmath.log1p(mpmath.exp(-40))), rel=1e-15)


def test_all_minus_inf_row_gives_nan_as_scipy_and_torch(backend):
    row = [-np.inf, -np.inf, -np.inf]
    p = backend.to_numpy(backend.mod.softmax(backend.array(row)))
    lp = backend.to_numpy(backend.mod.log_softmax(backend.array(row)))
    assert np.all(np.isnan(p)) and np.all(np.isnan(scipy.special.softmax(row)))
    assert np.all(np.isnan(lp)) and np.all(np.isnan(scipy.special.log_softmax(row)))
    assert torch.softmax(torch.tensor(row), -1).isnan().all()


def test_minus_inf_entries_get_probability_zero(backend):
    row = [-np.inf, 0.0, -np.inf, 0.0]
    p = backend.to_numpy(backend.mod.softmax(backend.array(row)))
    lp = backend.to_numpy(backend.mod.log_softmax(backend.array(row)))
    assert_close(p, [0.0, 0.5, 0.0, 0.5], rtol=0, atol=0)
    assert_close(lp, [-np.inf, -math.log(2), -np.inf, -math.log(2)], rtol=1e-15)


@pytest.mark.parametrize("row", [[np.inf, 0.0], [np.inf, -np.inf], [np.inf, 1000.0], [np.inf, np.inf]])
def test_plus_inf_entry_gives_a_nan_row_in_softmax_as_scipy_and_torch(backend, row):
    p = backend.to_numpy(backend.mod.softmax(backend.array(row)))
    assert np.all(np.isnan(p))
    assert np.all(np.isnan(scipy.special.softmax(row)))
    assert torch.softmax(torch.tensor(row, dtype=torch.float64), -1).isnan().all()


@pytest.mark.parametrize("row", [[np.inf, 0.0], [np.inf, -np.inf]])
def test_plus_inf_entry_gives_a_nan_row_in_log_softmax_as_torch_not_scipy(backend, row):
    # SciPy and PyTorch disagree here; we follow PyTorch (documented).
    lp = backend.to_numpy(backend.mod.log_softmax(backend.array(row)))
    assert np.all(np.isnan(lp))
    assert torch.log_softmax(torch.tensor(row, dtype=torch.float64), -1).isnan().all()
    assert list(np.isnan(scipy.special.log_softmax(row))) == [True, False]


@pytest.mark.parametrize("row", [[np.nan, 0.0], [0.0, np.nan], [np.nan, -np.inf]])
def test_nan_entry_gives_a_nan_row(backend, row):
    assert np.all(np.isnan(backend.to_numpy(backend.mod.softmax(backend.array(row)))))
    assert np.all(np.isnan(backend.to_numpy(backend.mod.log_softmax(backend.array(row)))))
    assert np.all(np.isnan(scipy.special.softmax(row)))


def test_1e308_logits_do_not_overflow(backend):
    p = backend.to_numpy(backend.mod.softmax(backend.array([1e308, -1e308, 1e308])))
    assert_close(p, [0.5, 0.0, 0.5], rtol=0, atol=0)
    lp = backend.to_numpy(backend.mod.log_softmax(backend.array([1e308, 1e308])))
    assert_close(lp, [-math.log(2), -math.log(2)], rtol=1e-15)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "naive_softmax", "sigmoid", "log_sigmoid"])
def test_empty_array_gives_empty_array(backend, name):
    out = getattr(backend.mod, name)(backend.array(np.zeros((2, 0))))
    assert tuple(out.shape) == (2, 0)


def test_empty_array_along_a_non_last_axis(backend):
    out = backend.mod.softmax(backend.array(np.zeros((0, 3))), axis=0)
    assert tuple(out.shape) == (0, 3)


def test_sigmoid_at_plus_and_minus_1000(backend):
    s = backend.to_numpy(backend.mod.sigmoid(backend.array([-1000.0, 1000.0])))
    assert s[0] == 0.0 and s[1] == 1.0  # exp(-1000) underflows to exactly 0
    ls = backend.to_numpy(backend.mod.log_sigmoid(backend.array([-1000.0, 1000.0])))
    assert ls[0] == -1000.0 and ls[1] == 0.0


def test_sigmoid_of_minus_40_keeps_relative_accuracy(backend):
    # 1 - sigmoid(40) would be 0; sigmoid(-40) = e^-40 / (1 + e^-40)
    s = float(backend.mod.sigmoid(backend.array(-40.0)))
    exact = float(mpmath.exp(-40) / (1 + mpmath.exp(-40)))
    assert s == pytest.approx(exact, rel=2 * 2.0**-52)


def test_sigmoid_of_infinities_and_nan(backend):
    s = backend.to_numpy(backend.mod.sigmoid(backend.array([-np.inf, np.inf, np.nan])))
    assert s[0] == 0.0 and s[1] == 1.0 and math.isnan(s[2])
    ls = backend.to_numpy(backend.mod.log_sigmoid(backend.array([-np.inf, np.inf, np.nan])))
    assert ls[0] == -np.inf and ls[1] == 0.0 and math.isnan(ls[2])


def test_tiny_temperature_approaches_one_hot_argmax(backend):
    p = backend.to_numpy(backend.mod.softmax(backend.array([1.0, 2.0, 0.5]), temperature=1e-3))
    assert_close(p, [0.0, 1.0, 0.0], rtol=0, atol=0)


def test_huge_temperature_approaches_uniform(backend):
    p = backend.to_numpy(backend.mod.softmax(backend.array([1.0, 2.0, 0.5]), temperature=1e9))
    assert_close(p, [1 / 3] * 3, rtol=1e-8)


# (d) bad input -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "naive_softmax", "sigmoid", "log_sigmoid"])
def test_integer_input_is_refused(backend, name):
    # the faces promote integers for softmax and log_softmax, as SciPy
    # (tests/test_scipy_semantics.py); the one-axis core functions refuse them
    if backend in FACES and name in ("softmax", "log_softmax"):
        assert backend.dtype_name(getattr(backend.mod, name)(backend.index([1, 2]))) in (
            "float64", "float32")
        return
    with pytest.raises(TypeError, match="x must hold floating-point numbers, got dtype int64"):
        getattr(backend.mod, name)(backend.index([1, 2]))


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "naive_softmax"])
def test_axis_out_of_range_is_refused(backend, name):
    with pytest.raises(ValueError, match="axis=2 is out of range for x with 2 dimension"):
        getattr(backend.mod, name)(backend.array(np.zeros((2, 2))), axis=2)


@pytest.mark.parametrize("temperature", [0.0, -1.0, math.inf, math.nan])
def test_bad_temperature_value_is_refused(backend, temperature):
    with pytest.raises(ValueError, match="temperature must be positive and finite"):
        backend.mod.softmax(backend.array([1.0, 2.0]), temperature=temperature)


@pytest.mark.parametrize("temperature", ["1", None, True])
def test_bad_temperature_type_is_refused(backend, temperature):
    with pytest.raises(TypeError, match="temperature must be a positive real number"):
        backend.mod.softmax(backend.array([1.0, 2.0]), temperature=temperature)
