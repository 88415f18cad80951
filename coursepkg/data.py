"""Data sets the chapters train on: handwritten digits and Gaussian blobs.

Both are small, ship with the package's dependencies (nothing is downloaded)
and are reproducible: the same ``seed`` gives the same arrays on every
machine.

* :func:`load_digits` -- the 1,797 handwritten digits of 8 x 8 pixels that
  scikit-learn ships, scaled to :math:`[0, 1]` and split into a training and
  a test set with the same class proportions (a *stratified* split).
* :func:`make_blobs` -- points drawn around a few centres, one Gaussian per
  class: two-dimensional pictures of decision boundaries.
* :func:`benchmark_results` -- the saved results of ``make bench`` that the
  last chapter plots, shipped with the package so that the chapter runs
  from an installed package too.

Features come as float64 arrays ``X`` of shape ``(N, D)`` and labels as
int64 arrays ``y`` of shape ``(N,)``; the torch face returns float32 and
int64 tensors instead.
"""

from __future__ import annotations

import importlib.resources
import json
import math
import numbers
from typing import NamedTuple

import numpy as np

__all__ = ["load_digits", "make_blobs", "DigitsSplit", "stratified_split",
           "benchmark_results"]

PIXEL_MAX = 16.0  # the digits' pixels are counts from 0 to 16


class DigitsSplit(NamedTuple):
    """A training and a test set: ``X_train, X_test, y_train, y_test``."""

    X_train: object
    X_test: object
    y_train: object
    y_test: object


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    return int(seed)


def _check_positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value}")
    return float(value)


def stratified_split(y, test_size=0.25, seed=0):
    r"""Indices of a stratified train/test split.

    Each class :math:`c` with :math:`n_c` examples sends
    :math:`\operatorname{round}(\text{test\_size} \cdot n_c)` of them, chosen
    at random, to the test set, so both sets keep the class proportions.

    Parameters
    ----------
    y : array of int, shape (N,)
        Class labels.
    test_size : float, optional
        Fraction of each class that goes to the test set, in :math:`(0, 1)`.
    seed : int, optional
        Seed of the :func:`numpy.random.default_rng` that picks the examples.

    Returns
    -------
    train, test : ndarray of int64
        Sorted indices into ``y``; together they are ``0 .. N-1``.

    Examples
    --------
    >>> from coursepkg.data import stratified_split
    >>> train, test = stratified_split([0, 0, 0, 0, 1, 1, 1, 1], test_size=0.5)
    >>> len(train), len(test)
    (4, 4)
    """
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(
            f"test_size must be a fraction in (0, 1), got "
            f"{type(test_size).__name__}"
        )
    if not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    rng = np.random.default_rng(_check_seed(seed))
    y = np.asarray(y)
    test = []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        test.append(members[: round(float(test_size) * members.size)])
    test = np.sort(np.concatenate(test)).astype(np.int64)
    train = np.setdiff1d(np.arange(y.size), test).astype(np.int64)
    return train, test


def load_digits(test_size=0.25, seed=0):
    r"""The 8 x 8 handwritten digits, scaled and split with a fixed seed.

    The 1,797 images of :func:`sklearn.datasets.load_digits` (ten classes,
    about 180 each), flattened to 64 pixels and scaled from counts in
    :math:`\{0, \dots, 16\}` to :math:`[0, 1]`:

    .. math::

        x_{\text{scaled}} = x / 16 .

    Parameters
    ----------
    test_size : float, optional
        Fraction of each class held out for testing, in :math:`(0, 1)`.
    seed : int, optional
        Seed of the split (see ``coursepkg.data.stratified_split``).

    Returns
    -------
    coursepkg.data.DigitsSplit
        ``(X_train, X_test, y_train, y_test)``: float64 arrays of shape
        ``(N, 64)`` and int64 labels in ``0 .. 9`` of shape ``(N,)``.

    Examples
    --------
    >>> from coursepkg import numpy as cnp
    >>> data = cnp.load_digits()
    >>> data.X_train.shape, data.X_test.shape
    ((1347, 64), (450, 64))
    >>> float(data.X_train.min()), float(data.X_train.max())
    (0.0, 1.0)
    """
    try:
        from sklearn import datasets  # imported here: only this function needs it
    except ModuleNotFoundError as error:
        from ._extras import missing_extra

        raise missing_extra(error, "load_digits") from None

    digits = datasets.load_digits()
    X = np.asarray(digits.data, dtype=np.float64) / PIXEL_MAX
    y = np.asarray(digits.target, dtype=np.int64)
    train, test = stratified_split(y, test_size=test_size, seed=seed)
    return DigitsSplit(X[train], X[test], y[train], y[test])


def _float_array(value, name: str, what: str):
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {what} of numbers") from None


def _default_centers(k: int):
    """``k`` centres evenly spaced on a circle of radius 3."""
    angles = 2 * np.pi * np.arange(k) / k + np.pi / 2
    return 3.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def make_blobs(n_per_class=100, centers=3, std=1.0, seed=0):
    r"""Gaussian blobs: ``n_per_class`` points around each centre.

    Class :math:`k` draws its points from an isotropic Gaussian around its
    centre :math:`\mu_k` with standard deviation :math:`\sigma_k`:

    .. math::

        x \mid y = k \;\sim\; \mathcal{N}(\mu_k,\ \sigma_k^2 I) .

    Parameters
    ----------
    n_per_class : int, optional
        Number of points of each class.
    centers : int or array_like of shape (K, D), optional
        The centres, or their number ``K``: ``K`` points evenly spaced on a
        circle of radius 3 in the plane (``D = 2``).
    std : float or array_like of shape (K,), optional
        Standard deviation of each blob (one number for all of them).
    seed : int, optional
        Seed of the :func:`numpy.random.default_rng` that draws the points.

    Returns
    -------
    X : ndarray of float64, shape (K * n_per_class, D)
        The points, in a random order.
    y : ndarray of int64, shape (K * n_per_class,)
        The class of each point, in ``0 .. K-1``.

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import numpy as cnp
    >>> X, y = cnp.make_blobs(n_per_class=50, centers=[[0, 0], [5, 5]],
    ...                       std=0.5)
    >>> X.shape, np.bincount(y)
    ((100, 2), array([50, 50]))
    >>> np.round(X[y == 1].mean(axis=0))  # near the centre (5, 5)
    array([5., 5.])
    """
    if isinstance(n_per_class, bool) or not isinstance(
        n_per_class, numbers.Integral
    ):
        raise TypeError(
            f"n_per_class must be an int, got {type(n_per_class).__name__}"
        )
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be at least 1, got {n_per_class}")
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        if centers < 1:
            raise ValueError(f"centers must be at least 1, got {centers}")
        centers = _default_centers(int(centers))
    else:
        centers = _float_array(centers, "centers", "an int or an array (K, D)")
    if centers.ndim != 2 or centers.shape[0] == 0 or centers.shape[1] == 0:
        raise ValueError(
            f"centers must have shape (K, D) with K, D >= 1, got "
            f"{centers.shape}"
        )
    if not np.all(np.isfinite(centers)):
        raise ValueError("centers must be finite")
    k, d = centers.shape
    if isinstance(std, numbers.Real):
        stds = np.full(k, _check_positive(std, "std"))
    else:
        stds = _float_array(std, "std", "a number or an array (K,)")
        if stds.shape != (k,):
            raise ValueError(
                f"std must be a number or have shape ({k},), one per centre, "
                f"got {stds.shape}"
            )
        if not np.all(np.isfinite(stds) & (stds > 0)):
            raise ValueError("std must be positive and finite")
    rng = np.random.default_rng(_check_seed(seed))
    y = np.repeat(np.arange(k, dtype=np.int64), n_per_class)
    X = centers[y] + stds[y, None] * rng.standard_normal((y.size, d))
    order = rng.permutation(y.size)
    return X[order], y[order]


def benchmark_results() -> dict:
    """The results of the last full ``make bench`` run, as saved.

    ``benchmarks/run.py`` writes them into the package
    (``coursepkg/bench_results/results.json``); the book's kernels appendix
    reads them from here, whether the package is the repository's or an
    installed wheel.

    >>> from coursepkg.data import benchmark_results
    >>> sorted(benchmark_results())
    ['meta', 'rows']
    """
    resource = importlib.resources.files("coursepkg") / "bench_results" / "results.json"
    return json.loads(resource.read_text())
