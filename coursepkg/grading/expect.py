"""Comparisons for the grading tests, and the classic mistakes they recognise.

Every check runs on the trusted side on plain arrays that came back from the
child.  A failed check raises :class:`Mismatch` (details shown only for
visible tests) or :class:`Mistake` (a classic mistake, named with a link to
the chapter section that explains it, shown for hidden tests too).  A
mismatch says how many entries are wrong, where the worst one is, how far
off it is and whether a float32 result is the cause (:func:`diagnose`).

>>> expect_close(np.array([0.5, 0.5]), np.array([0.5, 0.5]))
>>> expect_close(np.array([1.0, 1.0]), np.array([0.5, 0.5]),
...              mistakes={"sum-not-mean": np.array([1.0, 1.0])})
Traceback (most recent call last):
...
coursepkg.grading.expect.Mistake: sum-not-mean
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from .sandbox import StudentError

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
    "log2": (
        "log base 2 (bits) instead of nats: np.log2 measures in bits, this "
        "course measures in nats, with the natural log np.log (your values are "
        "the right ones divided by log 2)",
        "book/02_information.html#info-entropy",
    ),
    "global-max": (
        "one maximum for the whole array instead of one per row: a row far "
        "below the global maximum underflows (its exponentials are all 0, so "
        "a log of their sum gives -inf and a division by it 0/0 = nan), and a "
        "1-D input of all -inf gives nan; take "
        "np.max(x, axis=-1, keepdims=True) and replace a non-finite maximum by 0",
        "book/04_logsumexp.html#lse-max-shift",
    ),
    "classes-from-data": (
        "the classes were taken from the labels (np.unique(y), y.max() + 1, "
        "len(set(y))): a class that no sample of this batch has still exists; "
        "take the number of classes from num_classes or from the shape of the "
        "logits or weights",
        "book/03_mle.html#mle-softmax-regression",
    ),
    "row-at-a-time": (
        "f was called on one row of x at a time: f takes the whole array, and "
        "its value can depend on every entry (a sum of per-row values is the "
        "only case where rows can be split); perturb one entry of a full copy "
        "of x and call f on all of it",
        "book/05_gradients.html#grad-check",
    ),
    "eps-ignored": (
        "the eps argument is ignored: the step of the difference must be the "
        "eps the caller passes, not a number fixed in your code",
        "book/05_gradients.html#grad-check",
    ),
}

#: float dtypes narrower than float64: a result in one of these is flagged
NARROW_FLOATS = ("float16", "float32")


class Mismatch(AssertionError):
    """A wrong result.  Its text is shown only for visible tests; ``public``
    (no input or expected value in it) is shown for hidden tests too.

    >>> Mismatch("expected 1, got 2", "float32").for_hidden()
    'wrong result on a hidden input; float32'
    """

    def __init__(self, detail: str, public: str = ""):
        super().__init__(detail)
        self.public = public

    def for_hidden(self) -> str:
        """The feedback of a hidden test (the whole message, when all of it is public)."""
        if self.public and self.public == str(self):
            return self.public
        return "wrong result on a hidden input" + (f"; {self.public}" if self.public else "")


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


def _show(array, prefix: str) -> str:
    """``prefix`` and the array, its lines aligned and at most 74 characters
    long (feedback is printed indented in 80 columns)."""
    return prefix + np.array2string(np.asarray(array), precision=8, threshold=12,
                                    max_line_width=74, prefix=prefix)


def _entry(value) -> str:
    """One number with every digit that tells it apart (``repr`` of the float)."""
    return repr(float(value))


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
    return bool(np.all(_ok(a, e, rtol, atol)))


def _ok(a, e, rtol, atol):
    same_special = (np.isnan(a) & np.isnan(e)) | ((a == e) & np.isinf(e))
    finite = np.isfinite(a) & np.isfinite(e)
    ok = np.zeros(a.shape, dtype=bool)
    ok[finite] = np.abs(a[finite] - e[finite]) <= atol + rtol * np.abs(e[finite])
    return ok | same_special


def as_array(value, shape, what: str = "the result") -> np.ndarray:
    """``value`` as a float64 array of the given shape, or :class:`Mismatch`.

    A single number returned as an array of one entry (shape ``(1,)``,
    ``(1, 1)``) is accepted where a number is expected.

    >>> as_array(np.array([1, 2]), (3,), "softmax(z)")
    Traceback (most recent call last):
    ...
    coursepkg.grading.expect.Mismatch: softmax(z) has shape (2,), expected (3,)
    >>> as_array(np.array([[0.5]]), ())
    array(0.5)
    """
    array = np.asarray(value)
    shape = tuple(shape)
    if shape == () and array.size == 1:
        array = array.reshape(())
    if tuple(array.shape) != shape:
        if shape == ():
            raise Mismatch(f"{what} has shape {array.shape}, expected a single number "
                           "(a float, or an array of one entry)")
        raise Mismatch(f"{what} has shape {array.shape}, expected {shape}")
    return array.astype(np.float64)


def unpack(result, names: tuple[str, ...], what: str = "the function") -> tuple:
    """The ``len(names)`` results of a function that returns several values.

    A tuple or a list of the right length is accepted (the runner sends a
    list of differently shaped arrays as a tuple); anything else fails with
    a sentence that says what to return, shown for hidden tests too.

    >>> unpack((1.0, 2.0), ("W", "b"))
    (1.0, 2.0)
    >>> unpack(np.zeros(3), ("W", "b"), "fit_softmax_regression")
    Traceback (most recent call last):
    ...
    coursepkg.grading.expect.Mismatch: fit_softmax_regression must return 2 values, (W, b), as a tuple; it returned one array of shape (3,)
    """
    if isinstance(result, (tuple, list)) and len(result) == len(names):
        return tuple(result)
    if isinstance(result, (tuple, list)):
        got = f"{len(result)} values"
    else:
        got = f"one array of shape {np.shape(result)}"
    message = (f"{what} must return {len(names)} values, ({', '.join(names)}), "
               f"as a tuple; it returned {got}")
    raise Mismatch(message, message)


def _worst(a, e, rtol, atol):
    """Index of the worst entry: a wrong special value first, then the
    largest error in units of the tolerance."""
    bad = ~_ok(a, e, rtol, atol)
    special = bad & ~(np.isfinite(a) & np.isfinite(e))
    if special.any():
        return np.unravel_index(int(np.argmax(special)), a.shape) if a.ndim else ()
    with np.errstate(invalid="ignore", over="ignore"):
        score = np.where(bad, np.abs(a - e) / (atol + rtol * np.abs(e)), -1.0)
    return np.unravel_index(int(np.argmax(score)), a.shape) if a.ndim else ()


def _errors(a, e) -> tuple[float, float]:
    """Max absolute and relative error over the entries where both are finite."""
    finite = np.isfinite(a) & np.isfinite(e)
    if not finite.any():
        return float("nan"), float("nan")
    diff = np.abs(a[finite] - e[finite])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.abs(e[finite]))
    return float(diff.max()), float(rel.max())


def diagnose(actual, expected, dtype, rtol: float, atol: float, what: str) -> Mismatch:
    """The :class:`Mismatch` for ``actual`` (float64, same shape as
    ``expected``) that failed the tolerances: how many entries are wrong,
    the worst one (index, both values in full), the largest absolute and
    relative errors, and the student's dtype when it is narrower than float64.

    >>> m = diagnose(np.array([0.5, 0.25]), np.array([0.5, 0.3]), np.dtype("float64"),
    ...              1e-7, 1e-10, "p")
    >>> print(m)
    p: 1 of 2 entries wrong; the worst, at index (1,): expected 0.3, got 0.25
    max abs error 0.05, max rel error 0.167 (allowed: rtol 1e-07, atol 1e-10); your result is float64
    expected [0.5 0.3]
    got      [0.5  0.25]
    >>> m.public
    'max rel error 0.167'
    """
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    bad = ~_ok(a, e, rtol, atol)
    special = bad & ~(np.isfinite(a) & np.isfinite(e))
    index = _worst(a, e, rtol, atol)
    abs_err, rel_err = _errors(a, e)
    where = f"at index {tuple(int(i) for i in index)}" if a.ndim else "the value"
    if a.ndim:
        head = (f"{what}: {int(bad.sum())} of {a.size} entries wrong; the worst, {where}: "
                f"expected {_entry(e[index])}, got {_entry(a[index])}")
    else:
        head = f"{what}: expected {_entry(e)}, got {_entry(a)}"
    lines = [head]
    count = int(special.sum())
    if count:
        lines.append(f"{count} {'entry has' if count == 1 else 'entries have'} the wrong "
                     "special value (nan or inf where a finite number is expected, or "
                     "the reverse)")
    if not np.isnan(abs_err) and not (count and abs_err == 0):
        over = " (over the entries where both are finite)" if special.any() else ""
        lines.append(f"max abs error {abs_err:.3g}, max rel error {rel_err:.3g}{over} "
                     f"(allowed: rtol {rtol:g}, atol {atol:g})")
    public = [f"max rel error {rel_err:.3g}"] if not np.isnan(rel_err) else []
    if np.dtype(dtype).name in NARROW_FLOATS:
        note = _narrow_float_note(np.dtype(dtype), rel_err, bool(special.any()), rtol)
        lines.append(note)
        public.append(note)
    else:
        lines[-1] += f"; your result is {np.dtype(dtype).name}"
    if a.ndim and a.size > 1:
        lines.append(_show(e, "expected "))
        lines.append(_show(a, "got      "))
    return Mismatch("\n".join(lines), "; ".join(public))


def _narrow_float_note(dtype, rel_err, special: bool, rtol) -> str:
    info = np.finfo(dtype)
    note = (f"your result is {dtype.name}, which keeps about {info.precision} significant "
            f"digits (float64: 15) and overflows above {float(info.max):.2g}")
    if special:
        note += "; its nan or inf entries may come from that overflow"
    elif not np.isnan(rel_err):
        note += f"; passing would need rtol {rel_err:.2g}, this test asks for {rtol:g}"
    return note + ": compute and return float64 (np.asarray(x, dtype=np.float64))"


def expect_close(actual, expected, *, rtol: float = 1e-7, atol: float = 1e-10,
                 what: str = "the result", mistakes=None) -> None:
    """Check ``actual`` against ``expected``; name a classic mistake if one fits.

    Parameters
    ----------
    actual, expected : array_like
        The student's value and the reference (same shape expected; a
        number may come as an array of one entry).
    rtol, atol : float
        Tolerances, as in :func:`close`.
    what : str
        How to call the value in the feedback.
    mistakes : dict, optional
        ``{key: alternative}``: if ``actual`` matches ``alternative`` (an array,
        or a predicate called on ``actual``), raise :class:`Mistake` ``key``.
        Not tried on a float16/float32 result: its error is the narrow
        dtype's, and :func:`diagnose` says so.
    """
    expected = np.asarray(expected, dtype=np.float64)
    dtype = np.asarray(actual).dtype
    actual = as_array(actual, expected.shape, what)
    if close(actual, expected, rtol, atol):
        return
    if dtype.name not in NARROW_FLOATS:
        for key, alternative in (mistakes or {}).items():
            if callable(alternative):
                if alternative(actual):
                    raise Mistake(key)
            elif close(actual, alternative, max(rtol, 1e-6), atol):
                raise Mistake(key)
    raise diagnose(actual, expected, dtype, rtol, atol, what)


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


#: for a test whose labels leave out some classes
CLASSES_HINT = ("note: the labels of this test leave out some classes: take the number "
                "of classes from num_classes or from the shape of the logits or weights, "
                "not from the labels")


@contextmanager
def hint_if_raises(hint: str):
    """Add ``hint`` to the message of an exception the student's code raised
    inside the block (shown for visible tests; a hidden test shows only the
    exception's type)."""
    try:
        yield
    except StudentError as error:
        if error.kind != "raised":
            raise
        raise StudentError(error.kind, f"{error.message}\n{hint}") from None
