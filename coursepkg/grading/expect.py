"""Comparisons for the grading tests, and the classic mistakes they recognise.

Every check runs on the trusted side on plain arrays that came back from the
child.  A failed check raises :class:`Mismatch` (details shown only for
visible tests) or :class:`Mistake` (a classic mistake, named with a link to
the chapter section that explains it, shown for hidden tests too).

>>> expect_close(np.array([0.5, 0.5]), np.array([0.5, 0.5]))
>>> expect_close(np.array([1.0, 1.0]), np.array([0.5, 0.5]),
...              mistakes={"sum-not-mean": np.array([1.0, 1.0])})
Traceback (most recent call last):
...
coursepkg.grading.expect.Mistake: sum-not-mean
"""

from __future__ import annotations

import numpy as np

# key: (what the mistake is, the chapter section that explains it)
MISTAKES: dict[str, tuple[str, str]] = {
    "max-shift": (
        "overflow from a missing max shift: exp of a large logit is inf and "
        "inf/inf is nan; subtract the row maximum before exponentiating",
        "book/04_logsumexp.html#lse-max-shift",
    ),
    "wrong-axis": (
        "reduction over the wrong axis: a batch has one distribution per row, "
        "so sum (and take the max) over the last axis, axis=-1, with keepdims=True",
        "book/01_softmax.html#softmax-axis",
    ),
    "zero-log-zero": (
        "0 * log 0 gave nan: by convention 0 log 0 = 0, so leave out the terms "
        "with p = 0 (np.where) instead of computing them",
        "book/02_information.html#info-zero-log-zero",
    ),
    "eps-in-log": (
        "+eps inside the log: log(q + eps) turns an infinite cross-entropy or KL "
        "(q = 0 < p) into a large finite number and biases every other value",
        "book/02_information.html#info-zero-log-zero",
    ),
    "kl-swapped": (
        "swapped KL arguments: you computed KL(q || p); KL(p || q) is the "
        "expectation under p of log(p / q), and KL is not symmetric",
        "book/02_information.html#info-kl-asymmetry",
    ),
    "sum-not-mean": (
        "sum instead of mean: the loss is the mean over the batch, divide by N",
        "book/03_mle.html#mle-mean-loss",
    ),
    "mle-counts": (
        "the maximum-likelihood probabilities are the relative frequencies "
        "count_k / N, with a 0 for every class that never occurs",
        "book/03_mle.html#mle-categorical",
    ),
    "gd-update": (
        "gradient descent: start from W = 0, b = 0 and step against the gradient "
        "of the mean cross-entropy, X.T @ (P - Y) / N and the column sums of (P - Y) / N",
        "book/03_mle.html#mle-softmax-regression",
    ),
    "lse-max-shift": (
        "overflow from a missing max shift: log(sum(exp(x))) overflows for x "
        "around 710; compute m + log(sum(exp(x - m))) with m the row maximum",
        "book/04_logsumexp.html#lse-max-shift",
    ),
    "lse-all-neg-inf": (
        "a row of all -inf must give -inf: the max shift computes -inf - (-inf) = nan "
        "unless a non-finite maximum is replaced by 0",
        "book/04_logsumexp.html#lse-max-shift",
    ),
    "log-of-softmax": (
        "log(softmax) underflowing to -inf: a tiny probability rounds to 0 and its "
        "log is -inf; compute z - logsumexp(z) instead",
        "book/04_logsumexp.html#lse-log-softmax",
    ),
    "ce-from-logits": (
        "cross-entropy from logits: use logsumexp(z_n) - z_n[y_n], which never "
        "exponentiates a large logit and never takes the log of 0",
        "book/04_logsumexp.html#lse-cross-entropy",
    ),
    "jacobian": (
        "the softmax Jacobian is diag(p) - p p^T (symmetric, rows summing to 0)",
        "book/05_gradients.html#grad-softmax-jacobian",
    ),
    "grad-logits": (
        "the gradient of the mean cross-entropy with respect to the logits is "
        "(softmax(z) - onehot(y)) / N",
        "book/05_gradients.html#grad-ce-logits",
    ),
    "grad-missing-1-over-n": (
        "a gradient missing its 1/N: the loss is a mean over the batch, so its "
        "gradient carries the same factor 1/N",
        "book/05_gradients.html#grad-batch-mean",
    ),
    "forward-difference": (
        "a one-sided difference (f(x + eps) - f(x)) / eps is only O(eps) accurate; "
        "use the central difference (f(x + eps) - f(x - eps)) / (2 eps)",
        "book/05_gradients.html#grad-check",
    ),
    "mutated-input": (
        "the input array was changed: work on a copy (np.array(x, dtype=float)) "
        "and restore every entry you perturb",
        "book/05_gradients.html#grad-check",
    ),
}


class Mismatch(AssertionError):
    """A wrong result; ``detail`` is shown only for visible tests."""


class Mistake(AssertionError):
    """A wrong result recognised as the classic mistake ``key`` of :data:`MISTAKES`."""

    def __init__(self, key: str):
        if key not in MISTAKES:
            raise ValueError(f"key: unknown mistake {key!r}")
        super().__init__(key)
        self.key = key


def describe_mistake(key: str, book_url: str = "") -> str:
    """The feedback line for a mistake, with its chapter link.

    >>> describe_mistake("kl-swapped", "https://example.org/")[:40]
    'classic mistake: swapped KL arguments: y'
    >>> describe_mistake("kl-swapped").endswith("book/02_information.html#info-kl-asymmetry")
    True
    """
    text, link = MISTAKES[key]
    return f"classic mistake: {text}. See {book_url}{link}"


def _show(array) -> str:
    return np.array2string(np.asarray(array), precision=6, threshold=12, max_line_width=100)


def close(actual, expected, rtol: float = 1e-7, atol: float = 1e-10) -> bool:
    """Elementwise closeness with equal infinities and NaNs in the same places.

    >>> close(np.array([np.inf, 1.0]), np.array([np.inf, 1.0 + 1e-12]))
    True
    >>> close(np.array([np.nan]), np.array([0.0]))
    False
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return False
    same_special = (np.isnan(a) & np.isnan(e)) | ((a == e) & np.isinf(e))
    finite = np.isfinite(a) & np.isfinite(e)
    ok = np.zeros(a.shape, dtype=bool)
    ok[finite] = np.abs(a[finite] - e[finite]) <= atol + rtol * np.abs(e[finite])
    return bool(np.all(ok | same_special))


def as_array(value, shape, what: str = "the result") -> np.ndarray:
    """``value`` as a float64 array of the given shape, or :class:`Mismatch`.

    >>> as_array(np.array([1, 2]), (3,), "softmax(z)")
    Traceback (most recent call last):
    ...
    coursepkg.grading.expect.Mismatch: softmax(z) has shape (2,), expected (3,)
    """
    array = np.asarray(value)
    if tuple(array.shape) != tuple(shape):
        raise Mismatch(f"{what} has shape {array.shape}, expected {tuple(shape)}")
    return array.astype(np.float64)


def expect_close(actual, expected, *, rtol: float = 1e-7, atol: float = 1e-10,
                 what: str = "the result", mistakes=None) -> None:
    """Check ``actual`` against ``expected``; name a classic mistake if one fits.

    Parameters
    ----------
    actual, expected : array_like
        The student's value and the reference (same shape expected).
    rtol, atol : float
        Tolerances, as in :func:`close`.
    what : str
        How to call the value in the feedback.
    mistakes : dict, optional
        ``{key: alternative}``: if ``actual`` matches ``alternative`` (an array,
        or a predicate called on ``actual``), raise :class:`Mistake` ``key``.
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual = as_array(actual, expected.shape, what)
    if close(actual, expected, rtol, atol):
        return
    for key, alternative in (mistakes or {}).items():
        if callable(alternative):
            if alternative(actual):
                raise Mistake(key)
        elif close(actual, alternative, max(rtol, 1e-6), atol):
            raise Mistake(key)
    raise Mismatch(f"{what}: expected {_show(expected)}, got {_show(actual)}")


def expect(condition: bool, message: str, mistake: str | None = None) -> None:
    """Fail with ``mistake`` (if given) or ``message`` unless ``condition``.

    >>> expect(True, "fine")
    >>> expect(False, "rows must sum to 1")
    Traceback (most recent call last):
    ...
    coursepkg.grading.expect.Mismatch: rows must sum to 1
    """
    if condition:
        return
    if mistake is not None:
        raise Mistake(mistake)
    raise Mismatch(message)


def has_nan(actual) -> bool:
    """Predicate for ``mistakes``: some entry is NaN."""
    return bool(np.isnan(np.asarray(actual, dtype=np.float64)).any())


def has_nonfinite(actual) -> bool:
    """Predicate for ``mistakes``: some entry is NaN or infinite."""
    return not bool(np.isfinite(np.asarray(actual, dtype=np.float64)).all())
