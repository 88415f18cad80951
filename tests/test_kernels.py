"""The fast NumPy kernels agree with the teaching versions and beat float32.

:mod:`coursepkg.kernels` is what the NumPy face runs for float32/float64
arrays; the teaching versions are what the chapters show.  These tests pin
that the two give the same numbers (random, adversarial and special inputs,
every axis, blocked and threaded paths), that the float32 results are within
the promised ULP of a float64 reference, and that the torch face's fused
cross-entropy equals ``torch.nn.functional.cross_entropy`` with its
hand-written backward.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursepkg import kernels
from coursepkg import logsumexp as teaching_lse
from coursepkg import losses as teaching_losses
from coursepkg import softmax as teaching_sm
from coursepkg import torch as ctorch

#: Both ways the NumPy face computes log_softmax on the last axis: its array
#: operations, and the compiled kernel (:mod:`coursepkg.compiled`, tested
#: in full in test_compiled.py).  Tests without this parameter run the
#: array operations.
BOTH_PATHS = pytest.mark.parametrize("kernel_path", ["array operations", "compiled"])


@pytest.fixture(autouse=True)
def _kernel_path(request, monkeypatch):
    from coursepkg import compiled

    params = getattr(getattr(request.node, "callspec", None), "params", {})
    if params.get("kernel_path", "array operations") == "array operations":
        monkeypatch.setattr(kernels, "_compiled_log_softmax", lambda x3: None)
    elif compiled._off("COURSEPKG_COMPILED"):
        pytest.skip("COURSEPKG_COMPILED=0")
    else:
        assert compiled.available(), compiled.status()


FUNCS = {
    "softmax": (kernels.softmax, teaching_sm.softmax),
    "log_softmax": (kernels.log_softmax, teaching_sm.log_softmax),
    "logsumexp": (kernels.logsumexp, teaching_lse.logsumexp),
}


def ulp_error(got, exact):
    """Error of ``got`` (float32) in units of the float32 spacing at ``exact``."""
    exact = np.asarray(exact, dtype=np.float64)
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf where both are -inf
        diff = np.abs(got.astype(np.float64) - exact)
    return np.where(got == exact, 0.0, diff / spacing)


def adversarial(rng, shape):
    """Inputs that break naive code: wide spread, huge offsets, ties, -inf."""
    yield rng.standard_normal(shape) * 30
    yield rng.standard_normal(shape) * 1e-3 + 1e4
    x = rng.standard_normal(shape)
    x[..., ::3] = -np.inf
    yield x
    yield np.round(rng.standard_normal(shape))  # many ties at the maximum
    x = rng.standard_normal(shape) * 5
    x[..., 0] = 60.0  # one dominant logit: the rest are tiny
    yield x


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "shape,axis", [((64, 100), -1), ((3, 50, 7), 1), ((9, 4000), 0), ((5,), 0)]
)
@BOTH_PATHS
def test_fast_equals_teaching_version(name, dtype, shape, axis, rng, kernel_path):
    fast, teaching = FUNCS[name]
    for x in adversarial(rng, shape):
        x = x.astype(dtype)
        got, want = fast(x, axis=axis), teaching(x, axis=axis)
        assert got.dtype == want.dtype and got.shape == want.shape
        # float32: the fast version is the more accurate one (float64
        # inside); the teaching version's x - m is rounded, a relative error
        # of up to |x - m| * 2**-24 in exp(x - m).  Subnormals are skipped.
        rtol, atol = (2e-5, 1e-37) if dtype == "float32" else (1e-13, 0)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("name", list(FUNCS))
def test_blocked_and_threaded_paths_equal_one_block(name, rng, monkeypatch):
    fast, teaching = FUNCS[name]
    x = rng.standard_normal((300, 40, 30))  # several blocks along A and B
    whole = teaching(x, axis=1)
    for block_bytes, threads in ((256 * 1024, 2), (4096, 2), (4096, 1), (8, 2)):
        monkeypatch.setattr(kernels, "BLOCK_BYTES", block_bytes)
        monkeypatch.setattr(kernels, "_OUT_ELEMENTS", block_bytes // 8)
        monkeypatch.setattr(kernels, "THREADS", threads)
        monkeypatch.setattr(kernels, "_THREAD_MIN", 0)
        np.testing.assert_allclose(fast(x, axis=1), whole, rtol=1e-13, atol=0)
        # float32: the blocks that work in their output, and their fallbacks
        got32 = fast(x.astype(np.float32), axis=1)
        assert got32.dtype == np.float32
        np.testing.assert_allclose(got32, whole, rtol=2e-6, atol=0)


def test_logsumexp_keepdims_and_temperature(rng):
    x = rng.standard_normal((4, 6, 5))
    got = kernels.logsumexp(x, axis=1, keepdims=True)
    assert got.shape == (4, 1, 5)
    np.testing.assert_allclose(got, teaching_lse.logsumexp(x, 1, True), rtol=1e-14)
    np.testing.assert_allclose(
        kernels.softmax(x, axis=1, temperature=0.3),
        teaching_sm.softmax(x, axis=1, temperature=0.3),
        rtol=1e-13,
    )


@pytest.mark.parametrize("name", list(FUNCS))
@BOTH_PATHS
def test_special_values_are_those_of_the_teaching_version(name, kernel_path):
    fast, teaching = FUNCS[name]
    x = np.array(
        [[1.0, np.inf, 2.0], [-np.inf] * 3, [np.nan, 1.0, 2.0], [0.0, -np.inf, 1.0]]
    )
    for dtype in ("float32", "float64"):
        xd = x.astype(dtype)
        np.testing.assert_array_equal(fast(xd), teaching(xd))
    big = np.array([1e308, -1e308])
    np.testing.assert_array_equal(fast(big), teaching(big))


@pytest.mark.parametrize("name", list(FUNCS))
def test_other_inputs_go_to_the_teaching_version(name):
    fast, teaching = FUNCS[name]
    half = np.array([[1.0, 2.0, 3.0]], dtype=np.float16)
    assert fast(half).dtype == np.float16
    np.testing.assert_array_equal(fast(half), teaching(half))
    empty = np.zeros((0, 3))
    assert fast(empty).shape == teaching(empty).shape


@pytest.mark.parametrize("name", list(FUNCS))
def test_bad_input_names_the_argument(name):
    fast, _ = FUNCS[name]
    with pytest.raises(TypeError, match="x must hold floating-point"):
        fast(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="axis=2 is out of range for x"):
        fast(np.zeros((2, 2)), axis=2)
    with pytest.raises(ValueError, match="temperature"):
        kernels.softmax(np.zeros(3), temperature=0.0)


@pytest.fixture
def float32_cases(rng):
    return [x.astype(np.float32) for x in adversarial(rng, (64, 1000))]


@BOTH_PATHS
def test_float32_log_softmax_within_2_ulp_at_every_entry(float32_cases, kernel_path):
    for x in float32_cases:
        exact = teaching_sm.log_softmax(x.astype(np.float64))
        finite = np.isfinite(exact)
        err = ulp_error(kernels.log_softmax(x), exact)[finite]
        assert err.max() <= 2.0, err.max()


@BOTH_PATHS
def test_float32_log_softmax_largest_entry_beats_cancellation(float32_cases, kernel_path):
    # the naive x_max - max - log(sum) loses every digit of -log1p(rest)
    x = float32_cases[0]
    exact = teaching_sm.log_softmax(x.astype(np.float64))
    rows = np.arange(len(x))
    top = x.argmax(axis=1)
    naive = (x - x.max(1, keepdims=True)) - np.log(
        np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)
    )
    assert ulp_error(naive[rows, top], exact[rows, top]).max() > 100
    assert ulp_error(kernels.log_softmax(x)[rows, top], exact[rows, top]).max() <= 1


def test_float32_softmax_within_8_ulp(float32_cases):
    for x in float32_cases:
        exact = teaching_sm.softmax(x.astype(np.float64))
        normal = exact > np.finfo(np.float32).tiny
        assert ulp_error(kernels.softmax(x), exact)[normal].max() <= 8.0


def test_float32_logsumexp_within_1_ulp(float32_cases):
    for x in float32_cases:
        exact = teaching_lse.logsumexp(x.astype(np.float64))
        assert ulp_error(kernels.logsumexp(x), exact).max() <= 1.0


# ---------------------------------------------------------------- losses

OPTIONS = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(label_smoothing=0.2),
    dict(weight="w", label_smoothing=0.1, reduction="mean"),
    dict(weight="w", reduction="none", ignore_index=2),
]


def _torch_reference(z, y, opts, w):
    kw = dict(opts)
    if kw.get("weight") == "w":
        kw["weight"] = torch.from_numpy(w)
    zt = torch.tensor(z, requires_grad=True)
    loss = F.cross_entropy(zt, torch.from_numpy(y), **kw)
    loss.sum().backward()
    return loss.detach().numpy(), zt.grad.numpy()


@pytest.mark.parametrize("opts", OPTIONS)
@pytest.mark.parametrize("shape", [(32, 7), (4, 7, 3, 5), (7,)])
def test_fast_cross_entropy_and_grad_equal_torch(opts, shape, rng):
    z = rng.standard_normal(shape) * 4
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    y = rng.integers(0, c, size=tshape)
    if y.ndim:
        y.flat[0] = opts.get("ignore_index", -100)
    w = rng.uniform(0.5, 2.0, c)
    loss_ref, grad_ref = _torch_reference(z, y, opts, w)
    kw = {k: (w if v == "w" else v) for k, v in opts.items()}
    np.testing.assert_allclose(
        kernels.cross_entropy_loss(z, y, **kw), loss_ref, rtol=1e-12, atol=1e-14
    )
    np.testing.assert_allclose(
        kernels.cross_entropy_loss_grad(z, y, **kw), grad_ref, rtol=1e-11, atol=1e-15
    )


def test_float32_cross_entropy_grad_with_a_subnormal_row_factor(rng):
    # mean over 4096 rows of large logits: the row factor (1/N) / S is below
    # the smallest normal float32, so those blocks take the float64 path
    z = (80.0 + rng.standard_normal((4096, 16))).astype(np.float32)
    y = rng.integers(0, 16, 4096)
    _, grad_ref = _torch_reference(z.astype(np.float64), y, {}, None)
    got = kernels.cross_entropy_loss_grad(z, y)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, grad_ref, rtol=1e-5, atol=1e-12)


def test_fast_cross_entropy_falls_back_for_probabilities_and_nan(rng):
    z = rng.standard_normal((5, 4))
    p = teaching_sm.softmax(rng.standard_normal((5, 4)))
    np.testing.assert_array_equal(
        kernels.cross_entropy_loss(z, p), teaching_losses.cross_entropy_loss(z, p)
    )
    np.testing.assert_array_equal(
        kernels.cross_entropy_loss_grad(z, p),
        teaching_losses.cross_entropy_loss_grad(z, p),
    )
    z[0, 0] = np.nan
    y = np.array([0, 1, 2, 3, 0])
    assert np.isnan(kernels.cross_entropy_loss(z, y))
    np.testing.assert_array_equal(
        kernels.cross_entropy_loss_grad(z, y),
        teaching_losses.cross_entropy_loss_grad(z, y),
    )


def test_fast_cross_entropy_float32_keeps_dtype_and_errors(rng):
    z = rng.standard_normal((6, 5)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 4, 0])
    assert kernels.cross_entropy_loss(z, y).dtype == np.float32
    assert kernels.cross_entropy_loss_grad(z, y).dtype == np.float32
    with pytest.raises(ValueError, match="class index 9"):
        kernels.cross_entropy_loss(z, np.array([9, 0, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="reduction"):
        kernels.cross_entropy_loss_grad(z, y, reduction="avg")


@pytest.mark.parametrize("opts", OPTIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_face_fused_path_equals_torch(opts, dtype, rng):
    z = rng.standard_normal((16, 6, 3))
    y = rng.integers(0, 6, size=(16, 3))
    y[0, 0] = opts.get("ignore_index", -100)
    w = rng.uniform(0.5, 2.0, 6)
    kw = {k: (torch.from_numpy(w).to(dtype) if v == "w" else v) for k, v in opts.items()}
    z1 = torch.tensor(z, dtype=dtype, requires_grad=True)
    z2 = torch.tensor(z, dtype=dtype, requires_grad=True)
    a = ctorch.cross_entropy_loss(z1, torch.from_numpy(y), **kw)
    b = F.cross_entropy(z2, torch.from_numpy(y), **kw)
    torch.testing.assert_close(a, b)
    g = torch.randn(a.shape, dtype=dtype, generator=torch.Generator().manual_seed(0))
    a.backward(g)
    b.backward(g)
    torch.testing.assert_close(z1.grad, z2.grad)


def test_torch_face_fused_backward_passes_gradcheck(rng):
    z = torch.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    y = torch.tensor([0, 3, -100, 1, 2])
    w = torch.tensor([1.0, 2.0, 0.5, 1.5], dtype=torch.float64)
    for red in ("mean", "sum", "none"):
        assert torch.autograd.gradcheck(
            lambda t: ctorch.cross_entropy_loss(
                t, y, weight=w, reduction=red, label_smoothing=0.1
            ),
            (z,),
        )


# ------------------------------------------------- float32 fast paths

def _float32_rows(rng):
    """Rows for every float32 path: in range, overflowing, underflowing."""
    x = rng.standard_normal((48, 700)) * 4
    x[0:4] *= 30  # sigma ~ 120: exp(x) overflows, the shifted path runs
    x[4:8] -= 30  # every exp(x) tiny, S < 1: shifted path again
    x[8:12] += 1e4  # |m| > 600: the float64 exp needs the shift
    x[12:16, 0] = 60.0  # one dominant logit: rest ~ e^-50
    x[16:20] = np.round(x[16:20])  # ties at the maximum
    x[20:24, ::3] = -np.inf
    x[24:26] = -85.0 + rng.standard_normal((2, 700))  # exp(x) near underflow
    x[26:28] = 88.5 + 0.1 * rng.standard_normal((2, 700))  # near overflow
    return x.astype(np.float32)


@pytest.mark.parametrize("name", list(FUNCS))
def test_float32_fast_paths_agree_with_forced_shifted_path(name, rng, monkeypatch):
    # the unshifted float32 paths (float32 exp for softmax, float64 exp of
    # x itself for log_softmax/logsumexp) against the always-shifted float64
    # path, in the same blocks as mixed rows that must fall back
    fast, teaching = FUNCS[name]
    x = _float32_rows(rng)
    exact = teaching(x.astype(np.float64))
    got = fast(x)
    monkeypatch.setattr(kernels, "_S_MAX32", 0.0)  # softmax: never unshifted
    monkeypatch.setattr(kernels, "_F32_EXP64_UNSHIFTED", -1.0)
    shifted = fast(x)
    if name == "softmax":
        normal = exact > np.finfo(np.float32).tiny
        bound = 8.0
    else:
        normal = np.isfinite(exact)
        bound = 2.0 if name == "log_softmax" else 1.0
    for out in (got, shifted):
        assert out.dtype == np.float32
        assert ulp_error(out, exact)[normal].max() <= bound
        np.testing.assert_allclose(out, teaching(x), rtol=2e-5, atol=1e-37)
    if name == "log_softmax":  # the largest entry: -log1p(rest), <= 1 ULP
        rows, top = np.arange(len(x)), x.argmax(axis=1)
        assert ulp_error(got[rows, top], exact[rows, top]).max() <= 1.0


def test_float32_softmax_unshifted_special_rows_fall_back(rng):
    x = np.array(
        [[0.0, np.inf, 1.0], [-np.inf] * 3, [np.nan, 1.0, 2.0], [-200.0, -201.0, -199.0],
         [100.0, 99.0, 0.0], [1.0, 2.0, 3.0]],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(
        np.isnan(kernels.softmax(x)), np.isnan(teaching_sm.softmax(x))
    )
    np.testing.assert_allclose(
        kernels.softmax(x[3:]), teaching_sm.softmax(x[3:].astype(np.float64)),
        rtol=1e-6, atol=1e-37,  # e^-100 / S is subnormal in float32
    )
    # a temperature always takes the float64 path (x / T would round)
    z = rng.standard_normal((5, 9)).astype(np.float32)
    np.testing.assert_allclose(
        kernels.softmax(z, temperature=0.7),
        teaching_sm.softmax(z.astype(np.float64), temperature=0.7), rtol=1e-6,
    )


# ------------------------------------- float32 log_softmax in its own output


@pytest.mark.parametrize(
    "shape,axis,elements",
    [
        ((7, 33), -1, 66),  # blocks of 2 rows, an odd last block, odd rows (4-byte offsets)
        ((5, 9), -1, 27),  # blocks of 3 rows: pieces of 1, 1, 1 rows
        ((4, 101), -1, 50),  # one long row per block: split along the axis
        ((3, 6, 5), 1, 30),  # one (C, B) slab per block: split along B
        ((3, 6, 5), 1, 60),  # two slabs per block
        ((6, 1), -1, 4),  # a single entry per row: log_softmax is 0
        ((1, 1), -1, 4),  # a block of one entry: nothing to halve
        ((3, 40, 9), 1, 100),  # a slab is larger than a block: strided scratch path
    ],
)
def test_float32_log_softmax_in_output_every_geometry(shape, axis, elements, rng, monkeypatch):
    # the float64 exponentials live in the block's own output memory, half a
    # block at a time: every way of halving a block gives the float64 answer
    monkeypatch.setattr(kernels, "_OUT_ELEMENTS", elements)
    monkeypatch.setattr(kernels, "_THREAD_MIN", 0)
    for x in adversarial(rng, shape):
        x = x.astype(np.float32)
        exact = teaching_sm.log_softmax(x.astype(np.float64), axis=axis)
        got = kernels.log_softmax(x, axis=axis)
        finite = np.isfinite(exact)
        np.testing.assert_array_equal(np.isfinite(got), finite)
        assert (ulp_error(got, exact)[finite] <= 2.0).all()


def test_float32_log_softmax_in_output_shifted_block(rng, monkeypatch):
    # a block with one |m| > 600 row takes exp(x - m) for all its rows
    monkeypatch.setattr(kernels, "_OUT_ELEMENTS", 400)
    x = rng.standard_normal((9, 100)).astype(np.float32)
    x[4] += 1e4
    exact = teaching_sm.log_softmax(x.astype(np.float64))
    assert ulp_error(kernels.log_softmax(x), exact).max() <= 2.0


@pytest.mark.parametrize("shape", [(512, 1000), (64, 8000)])
@BOTH_PATHS
def test_float32_log_softmax_allocates_only_its_result(shape, rng, kernel_path):
    import tracemalloc

    x = rng.standard_normal(shape).astype(np.float32)
    kernels.log_softmax(x)  # warm up: the thread pool, NumPy's caches
    tracemalloc.start()
    try:
        kernels.log_softmax(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the result, a few float64 numbers per row (m, L, the row sums) and
    # NumPy's casting buffers (8192 float64, per thread and call); a float64
    # scratch block per thread would be megabytes
    assert peak <= x.nbytes + 64 * shape[0] + 4 * 65536, peak / x.nbytes


def test_float32_cross_entropy_grad_with_heavy_weights_and_tiny_logits(rng):
    # class weight 1e4, one logit 0 and the others near -95: float32
    # exp(-95) is subnormal (about 12 significant bits), but
    # weight * e^x / S is a normal float32 gradient entry
    z = (-95.0 + 0.5 * rng.standard_normal((64, 8))).astype(np.float32)
    z[:, 0] = 0.0
    y = rng.integers(0, 8, 64)
    w = np.full(8, 1e4)
    _, grad_ref = _torch_reference(z.astype(np.float64), y, {"weight": "w",
                                                             "reduction": "sum"}, w)
    got = kernels.cross_entropy_loss_grad(z, y, weight=w, reduction="sum")
    normal = np.abs(grad_ref) > np.finfo(np.float32).tiny
    np.testing.assert_allclose(got[normal], grad_ref[normal], rtol=1e-5)
