"""Grading tests of ``ex1_softmax.softmax``."""

import math

import numpy as np
import pytest
from scipy import special

from coursepkg.grading.expect import Mistake, as_array, close, expect, expect_close, has_nan


def _global_max_softmax(z):
    """What a softmax that subtracts one maximum for the whole array returns."""
    with np.errstate(all="ignore"):
        e = np.exp(z - np.max(z))
        return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_definition(softmax):
    """matches exp(z_i) / sum_j exp(z_j) on [1, 2, 3]"""
    z = [1.0, 2.0, 3.0]
    total = sum(math.exp(v) for v in z)
    expect_close(softmax(np.array(z)), [math.exp(v) / total for v in z], what="softmax([1, 2, 3])")


@pytest.mark.points(2)
@pytest.mark.visibility("visible")
def test_rows_sum_to_one(softmax):
    """rows sum to 1 and entries lie in [0, 1]"""
    z = np.random.default_rng(0).normal(size=(4, 4))
    raw = softmax(z)
    p = as_array(raw, z.shape, "softmax(z)")
    expect(bool(np.all((p >= 0) & (p <= 1))), "entries must lie in [0, 1]")
    if close(p.sum(axis=0), np.ones(4)) and not close(p.sum(axis=-1), np.ones(4)):
        raise Mistake("wrong-axis")
    expect_close(np.sum(raw, axis=-1), np.ones(4), what="the row sums of softmax(z)")


@pytest.mark.points(3)
@pytest.mark.visibility("visible")
def test_batch_last_axis(softmax):
    """a batch: one softmax per row (the last axis)"""
    z = np.arange(9.0).reshape(3, 3) ** 1.5 / 4
    expect_close(softmax(z), special.softmax(z, axis=-1), what="softmax of a (3, 3) batch",
                 mistakes={"wrong-axis": special.softmax(z, axis=0),
                           "max-shift": has_nan})


@pytest.mark.points(3)
@pytest.mark.visibility("visible")
def test_huge_logits(softmax):
    """huge logits (magnitude 1e300) do not overflow"""
    z = np.array([[1e300, -1e300, 0.0], [1000.0, 1000.0, 1000.0]])
    expect_close(softmax(z), [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]],
                 what="softmax of huge logits",
                 mistakes={"global-max": _global_max_softmax(z), "max-shift": has_nan})


@pytest.mark.points(3)
@pytest.mark.visibility("hidden")
def test_rows_of_different_scales(softmax):
    """a 3-D batch whose rows have very different scales"""
    rng = np.random.default_rng(1)
    z = rng.normal(size=(2, 4, 5)) * np.array([1e-3, 1.0, 1e3, 1e6])[:, None]
    expect_close(softmax(z), special.softmax(z, axis=-1), what="softmax",
                 mistakes={"global-max": _global_max_softmax(z), "max-shift": has_nan})


@pytest.mark.points(1)
@pytest.mark.visibility("visible")
def test_input_unchanged(softmax):
    """leaves its input unchanged (and is right)"""
    z = np.array([[3.0, 1.0, -2.0], [0.5, 0.5, 9.0]])
    call = softmax.call(z.copy())
    expect(np.array_equal(call.args_after[0], z), "softmax changed its argument z in place")
    expect_close(call.value, special.softmax(z, axis=-1), what="softmax(z)")
