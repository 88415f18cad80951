"""Tests of :mod:`coursepkg.data` (digits split, Gaussian blobs) on both faces.

References are independent of the code under test: the raw digits come
straight from scikit-learn, class proportions from ``np.bincount``, blob
statistics from the sample mean and standard deviation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sklearn.datasets
import torch
from support import FACES, assert_close

from coursepkg import data
from coursepkg import torch as ctorch


@pytest.fixture(params=FACES, ids=lambda b: b.label)
def backend(request):
    """Models and data live in the two public faces only."""
    return request.param

EXPECTED_DTYPES = {"numpy": ("float64", "int64"), "torch": ("float32", "int64")}


def _np(a):
    return a.numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


@pytest.fixture(scope="module")
def raw_digits():
    digits = sklearn.datasets.load_digits()
    return digits.data, digits.target


# load_digits ---------------------------------------------------------------


def test_digits_shapes_and_dtypes(backend):
    split = backend.mod.load_digits()
    X_train, X_test, y_train, y_test = split  # a named tuple
    assert split.X_train is X_train and split.y_test is y_test
    assert tuple(X_train.shape) == (1347, 64) and tuple(X_test.shape) == (450, 64)
    assert tuple(y_train.shape) == (1347,) and tuple(y_test.shape) == (450,)
    x_dtype, y_dtype = EXPECTED_DTYPES[backend.name]
    assert backend.dtype_name(X_train) == backend.dtype_name(X_test) == x_dtype
    assert backend.dtype_name(y_train) == backend.dtype_name(y_test) == y_dtype


def test_digits_are_the_sklearn_digits_scaled_to_unit_interval(raw_digits):
    X_raw, y_raw = raw_digits
    split = data.load_digits()
    X = np.concatenate([split.X_train, split.X_test])
    y = np.concatenate([split.y_train, split.y_test])
    assert X.min() == 0.0 and X.max() == 1.0
    # the split is a partition of the sklearn rows: same multiset of (x, y)
    got = np.column_stack([X * 16.0, y])
    ref = np.column_stack([X_raw, y_raw]).astype(np.float64)
    got = got[np.lexsort(got.T[::-1])]
    ref = ref[np.lexsort(ref.T[::-1])]
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("test_size", [0.25, 0.5, 0.1])
def test_digits_split_is_stratified(raw_digits, test_size):
    _, y_raw = raw_digits
    split = data.load_digits(test_size=test_size)
    per_class = np.bincount(y_raw)
    test_counts = np.bincount(split.y_test, minlength=10)
    train_counts = np.bincount(split.y_train, minlength=10)
    np.testing.assert_array_equal(test_counts + train_counts, per_class)
    # each class sends test_size of its examples to the test set, +/- rounding
    assert np.all(np.abs(test_counts - test_size * per_class) <= 0.5)


def test_digits_split_is_deterministic_and_depends_on_seed(backend):
    a = backend.mod.load_digits(seed=3)
    b = backend.mod.load_digits(seed=3)
    c = backend.mod.load_digits(seed=4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(_np(x), _np(y))
    assert not np.array_equal(_np(a.y_train), _np(c.y_train)) or not np.array_equal(
        _np(a.X_train), _np(c.X_train)
    )


def test_torch_digits_equal_numpy_digits():
    n = data.load_digits(seed=1)
    tt = ctorch.load_digits(seed=1)
    for a, b in zip(n, tt):
        assert_close(b.numpy(), a.astype(b.numpy().dtype), rtol=0, atol=0)


def test_stratified_split_indices_partition():
    y = np.array([0] * 10 + [1] * 6 + [2] * 4)
    train, test = data.stratified_split(y, test_size=0.5, seed=0)
    assert train.dtype == np.int64 and test.dtype == np.int64
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(20))
    np.testing.assert_array_equal(np.bincount(y[test]), [5, 3, 2])


@pytest.mark.parametrize(
    "kwargs,error,name",
    [
        ({"test_size": 0.0}, ValueError, "test_size"),
        ({"test_size": 1.0}, ValueError, "test_size"),
        ({"test_size": -0.2}, ValueError, "test_size"),
        ({"test_size": "0.25"}, TypeError, "test_size"),
        ({"test_size": True}, TypeError, "test_size"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"seed": None}, TypeError, "seed"),
    ],
)
def test_digits_bad_arguments(backend, kwargs, error, name):
    with pytest.raises(error, match=name):
        backend.mod.load_digits(**kwargs)


# make_blobs ----------------------------------------------------------------


def test_blobs_shapes_dtypes_and_counts(backend):
    X, y = backend.mod.make_blobs(n_per_class=30)
    assert tuple(X.shape) == (90, 2) and tuple(y.shape) == (90,)
    x_dtype, y_dtype = EXPECTED_DTYPES[backend.name]
    assert backend.dtype_name(X) == x_dtype and backend.dtype_name(y) == y_dtype
    np.testing.assert_array_equal(np.bincount(_np(y)), [30, 30, 30])


def test_blobs_are_seeded(backend):
    X1, y1 = backend.mod.make_blobs(seed=7)
    X2, y2 = backend.mod.make_blobs(seed=7)
    X3, _ = backend.mod.make_blobs(seed=8)
    np.testing.assert_array_equal(_np(X1), _np(X2))
    np.testing.assert_array_equal(_np(y1), _np(y2))
    assert not np.array_equal(_np(X1), _np(X3))


def test_blobs_are_shuffled():
    _, y = data.make_blobs(n_per_class=50)
    assert not np.all(np.diff(y) >= 0)


def test_blob_statistics_match_centers_and_stds():
    centers = np.array([[0.0, 0.0, 1.0], [10.0, -5.0, 2.0]])
    stds = np.array([0.5, 2.0])
    n = 4000
    X, y = data.make_blobs(n_per_class=n, centers=centers, std=stds, seed=1)
    assert X.shape == (2 * n, 3)
    for k in range(2):
        pts = X[y == k]
        # sample mean within 5 standard errors, sample std within 5%
        assert np.all(np.abs(pts.mean(axis=0) - centers[k]) < 5 * stds[k] / math.sqrt(n))
        assert np.all(np.abs(pts.std(axis=0) / stds[k] - 1) < 0.05)


def test_default_centers_lie_on_a_circle_of_radius_3():
    X, y = data.make_blobs(n_per_class=2000, centers=4, std=0.1, seed=0)
    means = np.stack([X[y == k].mean(axis=0) for k in range(4)])
    assert_close(np.linalg.norm(means, axis=1), [3.0] * 4, atol=0.02)
    # evenly spaced: neighbouring centres are 3 * sqrt(2) apart
    gaps = np.linalg.norm(means - np.roll(means, 1, axis=0), axis=1)
    assert_close(gaps, [3 * math.sqrt(2)] * 4, atol=0.03)


@pytest.mark.parametrize(
    "kwargs,error,name",
    [
        ({"n_per_class": 0}, ValueError, "n_per_class"),
        ({"n_per_class": 2.5}, TypeError, "n_per_class"),
        ({"n_per_class": True}, TypeError, "n_per_class"),
        ({"centers": 0}, ValueError, "centers"),
        ({"centers": [1.0, 2.0]}, ValueError, "centers"),
        ({"centers": np.zeros((0, 2))}, ValueError, "centers"),
        ({"centers": [[np.inf, 0.0]]}, ValueError, "centers"),
        ({"centers": [["a", "b"]]}, TypeError, "centers"),
        ({"std": 0.0}, ValueError, "std"),
        ({"std": -1.0}, ValueError, "std"),
        ({"std": math.nan}, ValueError, "std"),
        ({"std": "wide"}, TypeError, "std"),
        ({"std": True}, TypeError, "std"),
        ({"std": [1.0, 2.0]}, ValueError, "std"),
        ({"std": [1.0, -1.0, 1.0]}, ValueError, "std"),
        ({"seed": -3}, ValueError, "seed"),
        ({"seed": "0"}, TypeError, "seed"),
    ],
)
def test_blobs_bad_arguments(backend, kwargs, error, name):
    with pytest.raises(error, match=name):
        backend.mod.make_blobs(**kwargs)
