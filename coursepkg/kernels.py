r"""Fast NumPy kernels for softmax, log-softmax, log-sum-exp and cross-entropy.

The teaching versions (:mod:`coursepkg.softmax`, :mod:`coursepkg.logsumexp`,
:mod:`coursepkg.losses`) are written for reading: one expression per idea,
every intermediate a fresh array.  The functions here compute the same
numbers for ``float32`` and ``float64`` NumPy arrays with three levers:

- **blocks**: the reduction axis is viewed as the middle axis of an
  ``(A, C, B)`` array and processed a block at a time (a cache-sized
  :data:`BLOCK_BYTES` where a float64 scratch block is needed, larger where
  the work happens in the output), so each element is read from main memory
  once and the later passes over it mostly hit the cache;
- **in place**: exponentials, shifts and divisions write into one scratch
  block or straight into the output (``out=`` buffers; float32
  log_softmax even keeps its float64 exponentials in its own output
  block), so the only large allocation is the result itself;
- **two threads**: NumPy releases the GIL inside its loops, so the blocks are
  shared between :data:`THREADS` worker threads.

``log_softmax`` over the last axis goes further where a C compiler is
available: :mod:`coursepkg.compiled` fuses its passes into one C loop per
row (the same formula, float64 inside).

They are also *more* accurate than the teaching versions in ``float32``:
each block is computed in ``float64`` and rounded once, so the shift
``x - m`` is exact and the exponentials carry no ``float32`` error.  With
the split-off maximum (``log1p`` of the other terms),

.. math::

    \log \operatorname{softmax}(x)_i
    = (x_i - m) - \operatorname{log1p}\Bigl(\sum_{j \ne k} e^{x_j - m}\Bigr),

every entry of ``log_softmax`` (the largest included) is within about one
unit in the last place (ULP) of the exact value.

Rows whose maximum is not finite (a NaN, a ``+inf``, a row of all ``-inf``)
and empty inputs are handed to the teaching version, so special values come
out exactly as documented there.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import logsumexp as _lse
from . import losses as _losses
from . import softmax as _sm
from ._backend import check_axis, check_floating

__all__ = [
    "softmax",
    "log_softmax",
    "logsumexp",
    "cross_entropy_loss",
    "cross_entropy_loss_grad",
    "BLOCK_BYTES",
    "THREADS",
]

#: Bytes of ``float64`` scratch per block, for the kernels that need a
#: scratch block (logsumexp, the cross-entropy loss, float32 log_softmax
#: over a middle axis): the L2 cache of one core of the 2-core EPYC this was
#: tuned on.  Smaller blocks cost more in per-call Python overhead than they
#: gain in locality: a (4096, 1000) float32 log_softmax went from 0.5x to
#: 1.5-1.8x SciPy's speed when the block grew from 256 KiB to 1 MiB.
BLOCK_BYTES = 1024 * 1024
#: Entries per block for the kernels that work in their own output
#: (softmax, log_softmax).  Larger than the float64 scratch blocks, because
#: two threads gain only from long NumPy calls: a thread whose call returns
#: while the other holds the GIL waits for it (measured on the 2-core EPYC:
#: ``exp`` over 4096 float64 entries ran 0.65x as fast on two threads as on
#: one, over 65536 entries 1.7x).  Float32 log_softmax against SciPy: 0.9-1.1x
#: with 2**17 entries per block, 1.1-1.4x with 2**19 at (4096, 1000), and
#: 1.3x and 1.5-1.75x at (512, 32000); float32 softmax went from 2.3x to
#: 2.6-2.8x.
_OUT_ELEMENTS = 1 << 19
#: Worker threads (at most 2 by default; ``COURSEPKG_THREADS`` overrides).
THREADS = max(1, int(os.environ.get("COURSEPKG_THREADS", min(2, os.cpu_count() or 1))))
#: Below this many elements one thread is faster than two.
_THREAD_MIN = 1 << 18
_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_POOL: ThreadPoolExecutor | None = None


def is_fast(x) -> bool:
    """Whether ``x`` is a non-empty ``float32``/``float64`` NumPy array."""
    return isinstance(x, np.ndarray) and x.dtype in _FAST_DTYPES and x.size > 0


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="coursepkg")
    return _POOL


def _forget_pool() -> None:
    """In a forked child: the parent's worker threads do not exist there, so
    work submitted to its pool would wait forever; start a new one."""
    global _POOL
    _POOL = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _three_d(x, axis: int):
    """``x`` viewed as ``(A, C, B)`` with the reduction axis in the middle."""
    x = np.ascontiguousarray(x)
    shape = x.shape
    a = math.prod(shape[:axis])
    b = math.prod(shape[axis + 1 :])
    return x.reshape(a, shape[axis], b)


def _out_elements(size: int) -> int:
    """Entries per block for a kernel that works in its output.

    :data:`_OUT_ELEMENTS`, but small enough for a block per thread when the
    array is worth threading (a (512, 1000) float32 softmax in one block ran
    on one thread, at 0.7x the speed of the 2-block split; four blocks were
    slower than two at (1024, 1000)), and no smaller than a scratch block.
    """
    if size < _THREAD_MIN:
        return _OUT_ELEMENTS
    per = min(_OUT_ELEMENTS, -(-size // THREADS))
    return max(per, min(BLOCK_BYTES // 8, _OUT_ELEMENTS))


def _blocks(a: int, c: int, b: int, elements: int | None = None):
    """Slices ``(sa, sb)`` covering ``(A, :, B)`` in blocks.

    A block holds about ``elements`` entries (default: ``BLOCK_BYTES`` of
    float64).  Blocks of whole ``(C, B)`` slabs, or of whole rows when
    ``B = 1``, are contiguous in a C-ordered array; otherwise a block is a
    strided ``(1, C, cols)`` slice.
    """
    per_row = max(1, elements or BLOCK_BYTES // 8)
    if c * b <= per_row:
        rows = max(1, per_row // (c * b))
        return [(slice(i, min(i + rows, a)), slice(0, b)) for i in range(0, a, rows)]
    cols = max(1, per_row // c)
    return [
        (slice(i, i + 1), slice(j, min(j + cols, b)))
        for i in range(a)
        for j in range(0, b, cols)
    ]


def _run(kernel, blocks, n_elements: int) -> bool:
    """Run ``kernel(blocks_subset, scratch)`` on one or two threads.

    Returns ``False`` as soon as a block reports a non-finite maximum.
    """
    def guarded(part):
        # x - m may overflow to -inf (x = -1e308, m = 1e308): exp gives 0.
        with np.errstate(over="ignore"):
            return kernel(part)

    workers = THREADS if n_elements >= _THREAD_MIN and len(blocks) > 1 else 1
    if workers == 1:
        return guarded(blocks)
    # All workers pull the next block from one shared iterator (its next()
    # is atomic under the GIL), and the calling thread is one of them.  A
    # fixed half each would make the call as slow as the slower half: on a
    # machine whose other core is busy, the thread there takes fewer blocks.
    shared = iter(blocks)
    futures = [_pool().submit(guarded, shared) for _ in range(workers - 1)]
    ok = guarded(shared)
    return all([ok] + [f.result() for f in futures])


def _scratch(blocks, c: int):
    sa, sb = blocks[0]
    n = (sa.stop - sa.start) * c * (sb.stop - sb.start)
    return np.empty(n, dtype=np.float64)


def _argmax1(xb):
    """``xb.argmax(axis=1, keepdims=True)`` for an ``(A, C, B)`` block.

    With ``B = 1`` it runs on the 2-D view: NumPy's argmax over the middle
    axis of ``(A, C, 1)`` holds the GIL (measured: two threads run it no
    faster than one), over the last axis of ``(A, C)`` it does not.
    """
    if xb.shape[2] == 1:
        return xb[:, :, 0].argmax(axis=1)[:, None, None]
    return xb.argmax(axis=1, keepdims=True)


def _shifted(xb, w):
    """Fill ``w`` (float64) with ``xb - m``; return ``(m, idx)`` or None.

    ``m`` is taken at the argmax ``idx``, so exactly one entry per row is
    the split-off maximum (ties included), as in the teaching version.
    The subtraction runs in float64 (``dtype=``), so for float32 input it is
    exact: no rounding error enters the exponentials.
    """
    idx = _argmax1(xb)
    m = np.take_along_axis(xb, idx, axis=1)
    if not np.isfinite(m).all():
        return None
    np.subtract(xb, m, out=w, dtype=np.float64)
    return m, idx


def _view(flat, shape):
    return flat[: math.prod(shape)].reshape(shape)


#: float32 rows with ``|m|`` up to this take ``exp(x)`` in float64 without a
#: shift: ``e^600`` is far from the float64 overflow, and what float64
#: underflow loses (below ``5e-324 * e^600``) is far below float32's reach.
_F32_EXP64_UNSHIFTED = 600.0
#: ``1 / S`` must be a normal float32 for the unshifted float32 softmax.
_TINY32 = float(np.finfo(np.float32).tiny)
_S_MAX32 = 1.0 / _TINY32


def _softmax_f32_unshifted(xb, ob, scale=None) -> bool:
    r"""float32 softmax of ``xb`` into ``ob`` with float32 ``exp``; or False.

    The max shift exists only to keep ``exp`` in range, and the float32
    row sums tell whether the range was safe without it:

    - ``S <= 1/tiny`` (``1/S`` a normal float32): no ``exp`` overflowed;
    - ``S >= 1``: every entry whose ``exp(x)`` underflowed (``x < -87.3``)
      has a probability ``e^x / S < tiny`` too, subnormal either way.

    Dropping the shift is also *more* accurate: ``x - m`` rounded to
    float32 is off by up to half an ULP of ``|x - m|``, a relative error of
    ``|x - m|`` ULPs in the exponential (30+ ULP at sigma = 30), while ``x``
    itself is exact.  So

    .. math:: p_i = e^{x_i} \cdot \operatorname{fl}_{32}(1 / S),
              \qquad S = \textstyle\sum_j e^{x_j} \text{ (float64)}

    is three passes, no maximum at all: ``exp`` in place in the output, a
    float64-accumulated sum, one multiply by the reciprocal (cheaper than a
    division).  Errors at most: NumPy's float32 ``exp`` (2.5 ULP, measured),
    the reciprocal (0.5) and the product (0.5), within the 8-ULP target.
    Returns False (``ob`` then holds garbage) when a row is out of range
    (NaN, +inf, all -inf included); the caller recomputes the block.

    With a row factor ``scale`` (the cross-entropy gradient's ``f``) the
    result is ``e^x * fl32(f / S)``; then ``S >= max(1, |f|)`` keeps the
    underflowed entries below ``tiny``, and ``f / S`` must be a normal
    float32 (or 0).
    """
    np.exp(xb, out=ob)
    s = np.add.reduce(ob, axis=1, keepdims=True, dtype=np.float64)
    floor = 1.0 if scale is None else np.maximum(1.0, np.abs(scale))
    if not ((s >= floor) & (s <= _S_MAX32)).all():
        return False
    r = (1.0 if scale is None else scale) / s
    if scale is not None and not ((r == 0) | (np.abs(r) >= _TINY32)).all():
        return False
    np.multiply(ob, r.astype(np.float32), out=ob)
    return True


def _softmax3(x3, temperature=1.0, scale=None):
    """Softmax over axis 1 of ``(A, C, B)``; None if a maximum is not finite.

    ``scale`` (float64, ``(A, 1, B)``) multiplies each row, folded into the
    normalisation: ``scale * e^x / S`` costs no extra pass over the block.
    """
    out = np.empty_like(x3)
    f32 = x3.dtype == np.float32
    # float32 with a temperature: x / T rounds, so those blocks (and the
    # rare float32 blocks outside the unshifted range) run in float64, in a
    # scratch block; everything else works in the output
    unshifted = f32 and temperature == 1.0
    blocks = _blocks(*x3.shape, None if f32 and not unshifted else _out_elements(x3.size))

    def kernel(part):
        flat = None  # float32 scratch, allocated only if a block needs it
        for sa, sb in part:
            xb, ob = x3[sa, :, sb], out[sa, :, sb]
            f = None if scale is None else scale[sa, :, sb]
            if unshifted and _softmax_f32_unshifted(xb, ob, f):
                continue
            if f32 and flat is None:
                flat = _scratch(blocks, x3.shape[1])
            # float64 work: in the output block itself for float64 input,
            # in a float64 scratch block (rounded once at the end) for float32
            w = ob if not f32 else _view(flat, xb.shape)
            if temperature != 1.0:
                np.divide(xb, temperature, out=w, dtype=np.float64)
                src = w
            else:
                src = xb
            m = src.max(axis=1, keepdims=True)
            if not np.isfinite(m).all():
                return False
            np.subtract(src, m, out=w, dtype=np.float64)
            np.exp(w, out=w)
            # one reciprocal per row and a multiply: cheaper than dividing
            # every entry, and 0.5 ULP of float64 is far below any target
            np.multiply(w, (1.0 if f is None else f) / w.sum(axis=1, keepdims=True), out=w)
            if f32:
                np.copyto(ob, w, casting="same_kind")
        return True

    return out if _run(kernel, blocks, x3.size) else None


def _log_norm_f32(xb, w):
    r"""float32 rows: ``(m, idx, L)`` with ``L = log1p(rest)``, or None.

    ``rest`` must be accurate (NumPy's float32 ``exp`` is off by up to 2.5
    ULP: too much for the largest entry, which is ``-L`` itself), so the
    exponentials are float64; but for ``|m| <=`` :data:`_F32_EXP64_UNSHIFTED`
    they need no shift either: ``exp(x)`` straight from float32 into the
    float64 scratch (one pass instead of copy, subtract, exp) and

    .. math:: \mathrm{rest} = e^{-m} \sum_{j \ne k} e^{x_j}.

    The other rows (and ``w``) go through :func:`_shifted`.
    """
    idx = _argmax1(xb)
    m = np.take_along_axis(xb, idx, axis=1)
    if not (np.abs(m) <= _F32_EXP64_UNSHIFTED).all():
        res = _shifted(xb, w)
        if res is None:
            return None
        np.exp(w, out=w)
        np.put_along_axis(w, res[1], 0.0, axis=1)
        return res[0], res[1], np.log1p(w.sum(axis=1, keepdims=True))
    np.exp(xb, out=w, dtype=np.float64)
    np.put_along_axis(w, idx, 0.0, axis=1)
    m64 = m.astype(np.float64)
    rest = w.sum(axis=1, keepdims=True) * np.exp(-m64)
    return m, idx, np.log1p(rest)


def _minus_lognorm(xb, m, lognorm, ob):
    """``ob = (xb - m) - lognorm``, in ``ob``'s dtype: log-softmax's last step.

    In float32 that is three roundings (``x - m``, ``L``, the difference),
    each at most half an ULP of the result, as ``|x - m|`` and ``L`` are
    both ``<= |result|``: 1.5 ULP at worst.
    """
    np.subtract(xb, m, out=ob)
    np.subtract(ob, lognorm.astype(ob.dtype, copy=False), out=ob)


def _halves(r: int, c: int, b: int):
    """Pieces of a ``(r, c, b)`` block, each at most half of it, and their axis.

    Split along the rows if there are two or more, else along ``B``, else
    along ``C`` (a single long row).  Returns ``(axis, [slice, ...])``, or
    ``(None, [])`` for a block of one entry.
    """
    for axis, n in ((0, r), (2, b), (1, c)):
        if n >= 2:
            h = n // 2
            return axis, [slice(lo, min(lo + h, n)) for lo in range(0, n, h)]
    return None, []


def _log_softmax_f32_in_output(xb, ob) -> bool:
    r"""float32 log-softmax of ``xb`` into ``ob`` using ``ob`` as the scratch.

    ``ob`` (C-contiguous, the block's part of the result) has room for half
    the block in float64, so the float64 exponentials are taken half a block
    at a time in that memory and only their row sums are kept; the result
    then overwrites them:

    .. math::

        \log \operatorname{softmax}(x)_i = (x_i - m) - L, \qquad
        L = \operatorname{log1p}\Bigl(\sum_{j \ne k} e^{x_j - m}\Bigr).

    The exponentials are ``exp(x)`` straight from float32 (times ``e^{-m}``
    once per row) when every ``|m| <=`` :data:`_F32_EXP64_UNSHIFTED`, and
    ``exp(x - m)`` with the exact float64 shift otherwise.  So no array but
    the result is ever allocated.  Returns False if a maximum is not finite.
    """
    r, c, b = xb.shape
    idx = _argmax1(xb)
    # flat positions of the maxima in the contiguous block: plain indexing
    # (take/put_along_axis spend ~20 us a call holding the GIL, which the
    # other thread then waits for)
    pos = idx * b + (np.arange(r)[:, None, None] * (c * b) + np.arange(b))
    m = xb.reshape(-1)[pos]
    if not np.isfinite(m).all():
        return False
    shifted = not (np.abs(m) <= _F32_EXP64_UNSHIFTED).all()
    # ob is contiguous: its bytes, from the first 8-byte boundary, as float64
    o = ob.reshape(-1)
    skip = (-o.ctypes.data % 8) // 4
    flat = o[skip : skip + 2 * ((o.size - skip) // 2)].view(np.float64)
    rest = np.zeros(m.shape)
    axis, pieces = _halves(*xb.shape)
    for piece in pieces:
        sl = [slice(None)] * 3
        sl[axis] = piece
        xp = xb[tuple(sl)]
        if axis == 1:
            sl[1] = slice(None)  # m, idx, rest have one entry along C
        rows = tuple(sl)
        # every piece fits but the last, even piece of a block that starts
        # 4 bytes past an 8-byte boundary: that one gets its own scratch
        w = (flat[: xp.size] if xp.size <= flat.size else np.empty(xp.size))
        w = w.reshape(xp.shape)
        if shifted:
            np.subtract(xp, m[rows], out=w, dtype=np.float64)
            np.exp(w, out=w)
        else:
            np.exp(xp, out=w, dtype=np.float64)
        # zero the maxima of this piece: (q, C, B) rows, or (1, C, q) columns,
        # or a stretch of a single row that may or may not hold its maximum
        if axis == 0:
            w.reshape(-1)[pos[piece] - piece.start * (c * b)] = 0.0
        elif axis == 2:
            q = piece.stop - piece.start
            w.reshape(-1)[idx[:, :, piece] * q + np.arange(q)] = 0.0
        else:
            k = int(idx[0, 0, 0]) - piece.start
            if 0 <= k < w.shape[1]:
                w[0, k, 0] = 0.0
        rest[rows] += w.sum(axis=1, keepdims=True)
    if not shifted:
        rest *= np.exp(-m.astype(np.float64))
    _minus_lognorm(xb, m, np.log1p(rest), ob)
    return True


def softmax(x, axis=-1, temperature=1.0):
    r"""Softmax of a ``float32``/``float64`` array, blocked and in place.

    Same contract as :func:`coursepkg.softmax.softmax`.

    .. math::

        \operatorname{softmax}(x; T)_i
        = \frac{e^{(x_i - m)/T}}{\sum_j e^{(x_j - m)/T}}

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import kernels
    >>> kernels.softmax(np.array([1000.0, 1000.0, 1000.0 - np.log(4.0)]))
    array([0.44444444, 0.44444444, 0.11111111])
    """
    check_floating(x, "x")
    axis = check_axis(axis, x.ndim, "x")
    temperature = _sm._check_temperature(temperature)
    if not is_fast(x):
        return _sm.softmax(x, axis=axis, temperature=temperature)
    out = _softmax3(_three_d(x, axis), temperature)
    if out is None:
        return _sm.softmax(x, axis=axis, temperature=temperature)
    return out.reshape(x.shape)


def _compiled_log_softmax(x3):
    """log_softmax of ``x3`` (A, C, 1) on the compiled kernel
    (:mod:`coursepkg.compiled`), on :data:`THREADS` threads: the result,
    False for a row it refuses (a non-finite maximum, a NaN), or None when
    the kernel does not apply (a middle axis, no compiled library)."""
    from . import compiled

    a, c, b = x3.shape
    if b != 1 or not x3.flags.aligned or not compiled.available():
        return None
    out = np.empty_like(x3)
    m, lognorm = np.empty(a, x3.dtype), np.empty(a)
    ok = compiled.log_softmax_rows(x3.ctypes.data, out.ctypes.data, m.ctypes.data,
                                   lognorm.ctypes.data, dtype=x3.dtype, rows=a, cols=c,
                                   threads=THREADS)
    return out if ok else False


def log_softmax(x, axis=-1):
    r"""Log-softmax of a ``float32``/``float64`` array, blocked and in place.

    Same contract as :func:`coursepkg.softmax.log_softmax`; every entry,
    the largest included, within about one ULP in ``float32``.  Over the last
    axis it runs the compiled kernel of :mod:`coursepkg.compiled` when that
    is available (within 0.54 ULP; 3.1-3.9x SciPy's speed at (4096, 1000)
    float32 on the 2-core machine, 2.1-3.6x with the other core busy),
    otherwise, and over other axes, the blocked array operations below.

    .. math::

        \log \operatorname{softmax}(x)_i
        = (x_i - m) - \operatorname{log1p}\Bigl(\sum_{j \ne k} e^{x_j - m}\Bigr)

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import kernels
    >>> kernels.log_softmax(np.array([0.0, -40.0]))  # -log1p(e^-40) first
    array([-4.24835426e-18, -4.00000000e+01])
    """
    check_floating(x, "x")
    axis = check_axis(axis, x.ndim, "x")
    if not is_fast(x):
        return _sm.log_softmax(x, axis=axis)
    x3 = _three_d(x, axis)
    out = _compiled_log_softmax(x3)
    if out is False:
        return _sm.log_softmax(x, axis=axis)
    if out is not None:
        return out.reshape(x.shape)
    out = np.empty_like(x3)
    a, c, b = x3.shape
    f32 = x3.dtype == np.float32
    # float32 in big blocks when they are contiguous (whole slabs, or whole
    # rows when the axis is the last): such a block is its own scratch
    per = _out_elements(x3.size)
    in_output = f32 and (b == 1 or c * b <= per)
    blocks = _blocks(a, c, b, per if in_output or not f32 else None)

    def kernel(part):
        # float32 blocks that are strided slices of the output need a
        # float64 scratch block for their exponentials; float64 works in the
        # output block alone
        flat = _scratch(blocks, c) if f32 and not in_output else None
        for sa, sb in part:
            xb, ob = x3[sa, :, sb], out[sa, :, sb]
            if in_output:
                if not _log_softmax_f32_in_output(xb, ob):
                    return False
                continue
            if f32:
                e = _view(flat, xb.shape)
                res = _log_norm_f32(xb, e)
                if res is None:
                    return False
                _minus_lognorm(xb, res[0], res[2], ob)
                continue
            # float64: exp(x - m) in the output block itself, its row sums,
            # then x - m computed again (the same bits) and shifted by the
            # log normaliser: one extra subtraction instead of a scratch
            # block, so the output is the only large allocation
            res = _shifted(xb, ob)
            if res is None:
                return False
            m, idx = res
            np.exp(ob, out=ob)
            np.put_along_axis(ob, idx, 0.0, axis=1)
            _minus_lognorm(xb, m, np.log1p(ob.sum(axis=1, keepdims=True)), ob)
        return True

    if not _run(kernel, blocks, x.size):
        return _sm.log_softmax(x, axis=axis)
    return out.reshape(x.shape)


def _lse3(x3, extra_weight=None):
    r"""Split log-sum-exp over axis 1 of ``x3``: ``(m, L, wsum)`` or None.

    ``m`` is the maximum and ``L = log1p(rest)`` (float64, ``(A, 1, B)``),
    so that ``logsumexp = m + L``.

    With ``extra_weight`` (a ``(1, C, 1)`` float64 array) also returns
    :math:`\sum_c w_c (x_c - m)`, for label smoothing.
    """
    a, c, b = x3.shape
    mx = np.empty((a, 1, b))
    lognorm = np.empty((a, 1, b))
    wsum = np.empty((a, 1, b)) if extra_weight is not None else None
    blocks = _blocks(a, c, b)

    f32 = x3.dtype == np.float32

    def kernel(part):
        flat = _scratch(blocks, c)
        for sa, sb in part:
            xb = x3[sa, :, sb]
            w = _view(flat, xb.shape)
            if f32 and wsum is None:
                # no array of the input's size at all: exp into the small
                # reused float64 block, one sum per row
                res = _log_norm_f32(xb, w)
                if res is None:
                    return False
                mx[sa, :, sb], _, lognorm[sa, :, sb] = res
                continue
            res = _shifted(xb, w)
            if res is None:
                return False
            m, idx = res
            if wsum is not None:
                wsum[sa, :, sb] = (w * extra_weight).sum(axis=1, keepdims=True)
            np.exp(w, out=w)
            np.put_along_axis(w, idx, 0.0, axis=1)
            mx[sa, :, sb] = m
            lognorm[sa, :, sb] = np.log1p(w.sum(axis=1, keepdims=True))
        return True

    if not _run(kernel, blocks, x3.size):
        return None
    return mx, lognorm, wsum


def logsumexp(x, axis=-1, keepdims=False):
    r"""Log-sum-exp of a ``float32``/``float64`` array with no large temporary.

    Same contract as :func:`coursepkg.logsumexp.logsumexp`.

    .. math::

        \operatorname{logsumexp}(x) = m + \operatorname{log1p}
        \Bigl(\sum_{j \ne k} e^{x_j - m}\Bigr)

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import kernels
    >>> float(kernels.logsumexp(np.array([0.0, -40.0])))
    4.248354255291589e-18
    """
    check_floating(x, "x")
    axis = check_axis(axis, x.ndim, "x")
    if not is_fast(x):
        return _lse.logsumexp(x, axis=axis, keepdims=keepdims)
    res = _lse3(_three_d(x, axis))
    if res is None:
        return _lse.logsumexp(x, axis=axis, keepdims=keepdims)
    shape = x.shape[:axis] + ((1,) if keepdims else ()) + x.shape[axis + 1 :]
    return (res[0] + res[1]).astype(x.dtype).reshape(shape)


# --------------------------------------------------------------------------
# Cross-entropy from logits: index targets, every option of the teaching code
# --------------------------------------------------------------------------


def _index_problem(logits, target, weight, ignore_index, reduction, label_smoothing):
    """Validate (with the teaching code's messages) and decide the path."""
    prob = _losses._prepare(
        logits, target, weight, ignore_index, reduction, label_smoothing
    )
    fast = prob.kind == "index" and is_fast(logits)
    return prob, fast


def _index_terms(logits, prob):
    """Shared pieces: logits as (A, C, B), targets (A, 1, B), weights."""
    x3 = logits.reshape(1, logits.shape[0], 1) if logits.ndim == 1 else (
        _three_d(logits, 1)
    )
    a, c, b = x3.shape
    target = np.asarray(prob.target).reshape(a, 1, b)
    valid = target != prob.ignore_index
    safe = np.where(valid, target, 0)
    if prob.weight is None:
        w_y = valid.astype(np.float64)
        wvec = None
    else:
        wvec = np.asarray(prob.weight, dtype=np.float64)
        w_y = np.where(valid, wvec[safe], 0.0)
    return x3, valid, safe, w_y, wvec


def cross_entropy_loss(
    logits, target, *, weight=None, ignore_index=-100, reduction="mean",
    label_smoothing=0.0,
):
    r"""Cross-entropy from logits, one blocked log-sum-exp pass.

    Same contract as :func:`coursepkg.losses.cross_entropy_loss`; the fast
    path covers index targets with ``float32``/``float64`` logits (all
    options), anything else runs the teaching version.

    .. math::

        \ell_n = (1 - \varepsilon)\, w_{y_n}
            \bigl(\operatorname{logsumexp}(z_n) - z_{n, y_n}\bigr)
            - \frac{\varepsilon}{C} \sum_c w_c \log \operatorname{softmax}(z_n)_c

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import kernels
    >>> float(kernels.cross_entropy_loss(np.zeros((2, 10)), np.array([3, 7])))
    2.302585092994046
    """
    prob, fast = _index_problem(
        logits, target, weight, ignore_index, reduction, label_smoothing
    )
    if not fast:
        return _losses._loss(prob)
    x3, valid, safe, w_y, wvec = _index_terms(logits, prob)
    c = x3.shape[1]
    eps = prob.label_smoothing
    wcol = None
    if eps > 0:
        wcol = (np.ones(c) if wvec is None else wvec).reshape(1, c, 1)
    res = _lse3(x3, wcol)
    if res is None:
        return _losses._loss(prob)
    m, lognorm, wsum = res
    lse = m + lognorm
    picked = np.take_along_axis(x3, safe, axis=1).astype(np.float64)
    elementwise = w_y * (lse - picked)
    if eps > 0:
        # -sum_c w_c log p_c = W * log1p(rest) - sum_c w_c (z_c - m)
        smooth = np.where(valid, wcol.sum() * lognorm - wsum, 0.0)
        elementwise = (1.0 - eps) * elementwise + (eps / c) * smooth
    elementwise = elementwise.reshape(np.shape(prob.target))
    if reduction == "none":
        return elementwise.astype(logits.dtype)
    total = elementwise.sum()
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            total = total / w_y.sum()
    return np.asarray(total, dtype=logits.dtype)[()]


def cross_entropy_loss_grad(
    logits, target, *, weight=None, ignore_index=-100, reduction="mean",
    label_smoothing=0.0,
):
    r"""Gradient of :func:`cross_entropy_loss` with respect to the logits.

    Same contract as :func:`coursepkg.losses.cross_entropy_loss_grad`:
    one blocked softmax pass, then the targets subtracted in place.

    .. math::

        \frac{\partial \ell_n}{\partial z_n} = p_n \sum_c t_{n,c} - t_n

    Examples
    --------
    >>> import numpy as np
    >>> from coursepkg import kernels
    >>> kernels.cross_entropy_loss_grad(np.zeros((1, 4)), np.array([1]))
    array([[ 0.25, -0.75,  0.25,  0.25]])
    """
    prob, fast = _index_problem(
        logits, target, weight, ignore_index, reduction, label_smoothing
    )
    if not fast:
        return _losses._grad(prob)
    x3, valid, safe, w_y, wvec = _index_terms(logits, prob)
    c = x3.shape[1]
    eps = prob.label_smoothing
    if reduction == "mean":
        denom = w_y.sum()
        # every target ignored: torch's gradient is zero, not 0/0
        scale = 1.0 / denom if denom != 0 else 0.0
    else:
        scale = 1.0
    wtot = c if wvec is None else wvec.sum()
    row_total = (1.0 - eps) * w_y + np.where(valid, eps / c * wtot, 0.0)
    # p * sum_c t_c, the row factor folded into the softmax's normalisation
    p = _softmax3(x3, scale=np.broadcast_to(row_total * scale, w_y.shape))
    if p is None:
        return _losses._grad(prob)
    hit = np.take_along_axis(p, safe, axis=1)
    hit -= ((1.0 - eps) * w_y * scale).astype(p.dtype)
    np.put_along_axis(p, safe, hit, axis=1)
    if eps > 0:
        wc = (np.ones(c) if wvec is None else wvec).reshape(1, c, 1)
        p -= (np.where(valid, eps / c * scale, 0.0) * wc).astype(p.dtype)
    return p.reshape(logits.shape)
