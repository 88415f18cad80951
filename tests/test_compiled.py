"""The compiled log_softmax (coursepkg/compiled.py, coursepkg/csrc/log_softmax.c).

Every x86-64 variant the machine runs (x86-64-v4, -v3, the baseline) is
checked against 160-digit mpmath references: its exponential (through the
log-normaliser it returns), the forward and the gradient in float32 and
float64 on hard rows, the rows it must refuse, and that the thread count and
the two builds give the same bits.  The loader is checked from fresh
processes: its settings, a missing compiler, an unusable cache folder,
concurrent builds, and a library planted in a cache folder other users can
write (with the planted library shown to run its code when loaded without
the check).

These tests need a C compiler, as the compiled path does; with
``COURSEPKG_COMPILED=0`` set they are skipped (the path is then off on
purpose), otherwise a missing compiler fails them.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest

from coursepkg import compiled
from coursepkg.softmax import softmax as teaching_softmax

if compiled._off("COURSEPKG_COMPILED"):
    pytest.skip("COURSEPKG_COMPILED=0: the compiled path is off", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def library():
    state = compiled._get("plain")
    assert "funcs" in state, compiled.status()
    return state


def _levels(library):
    return [lvl for lvl in (4, 3, 0) if lvl <= library["cpu_level"]]


@pytest.fixture(scope="module", params=[4, 3, 0], ids=["x86-64-v4", "x86-64-v3", "baseline"])
def variant(request, library):
    if request.param not in _levels(library):
        pytest.skip(f"this CPU does not run {request.param}")  # a narrower machine
    return compiled._load(library["file"], request.param)


def _forward(state, x):
    """(ok, out, m, lognorm) from the serial entry point of ``state``."""
    x = np.ascontiguousarray(x)
    rows, cols = x.shape
    out, m, lognorm = np.empty_like(x), np.empty(rows, x.dtype), np.empty(rows)
    fn = state["funcs"]["f32" if x.dtype == np.float32 else "f64"][0]
    rc = fn(x.ctypes.data, out.ctypes.data, m.ctypes.data, lognorm.ctypes.data, rows, cols)
    return rc == 0, out, m, lognorm


def _grad(state, x, m, lognorm, g):
    grad = np.empty_like(g)
    fn = state["funcs"]["f32" if x.dtype == np.float32 else "f64"][1]
    fn(x.ctypes.data, m.ctypes.data, lognorm.ctypes.data, g.ctypes.data, grad.ctypes.data,
       *x.shape)
    return grad


def _ulp(got, exact, dtype):
    """|got - exact| in units of ``dtype``'s spacing at ``exact``."""
    exact = np.asarray(exact, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(got == exact, 0.0, np.abs(got - exact) / spacing)


def _mp_rows(x, g=None):
    """log_softmax (and its gradient for ``g``) of each row, as mpf lists
    (-inf entries as None), at 160 digits: a dominant entry's -log1p(rest)
    with rest = e**-240 needs more than 104 of them."""
    with mpmath.workdps(160):
        return _mp_rows_at(x, g)


def _mp_rows_at(x, g):
    outs, grads = [], []
    for i, row in enumerate(x.astype(np.float64).tolist()):
        lse = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in row if v != -math.inf))
        out = [None if v == -math.inf else mpmath.mpf(v) - lse for v in row]
        outs.append(out)
        if g is not None:
            gi = [mpmath.mpf(v) for v in g[i].astype(np.float64).tolist()]
            total = mpmath.fsum(gi)
            grads.append([gj - (0 if o is None else mpmath.exp(o)) * total
                          for gj, o in zip(gi, out)])
    return outs, grads


def _as_float(rows, dtype):
    """The mpf rows rounded once to float64 (exact enough for a float32
    ULP); for float64 ULPs the comparison is done in mpmath instead."""
    return np.array([[-math.inf if v is None else float(v) for v in r] for r in rows])


def _hard(dtype, rows=30, cols=77, seed=0):
    """Rows that break naive arithmetic: wide spreads, a dominant entry
    (the others' total 1e-20 .. 1e-6), offsets of 1e4 and 1e30, ties at the
    maximum, -inf masks, values near exp's underflow, one-entry rows."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)) * 4
    x[0:3] *= 40
    x[3:6, 5] = 60.0
    x[6:8, 0] = 14.0
    x[8:10] += 1e4
    x[10:12] = np.round(x[10:12])
    x[12:14, ::2] = -np.inf
    x[14:16] -= 700.0
    x[16, :] = 3.0  # all tied
    x[17, 1:] = -np.inf  # one finite entry
    x[18:20] *= 1e-7  # nearly uniform
    x[20, 7] = 250.0  # the rest below e**-240
    if dtype == np.float32:
        x[21] = x[21] * 1e37  # spreads near float32's range
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exponential_through_the_log_normaliser(variant, dtype):
    """Rows (0, t): lognorm = log1p(e**t), the kernel's exp of t to its
    relative error (float32 input: exp32, 1.1e-12, or on x86-64-v4 the
    table-driven exponential, 2e-13, down to t = -300, below which both give
    0; float64: degree 13, 2e-16) plus log1p's rounding."""
    lo = -708.0 if dtype == np.float64 else -299.0
    t = np.concatenate([-np.geomspace(1e-6, -lo, 1500), np.linspace(lo, 0, 1500, endpoint=False)])
    t = t.astype(dtype)
    ok, _, _, lognorm = _forward(variant, np.stack([np.zeros_like(t), t], axis=1))
    assert ok
    with mpmath.workdps(40):
        exact = np.array([float(mpmath.log1p(mpmath.exp(mpmath.mpf(float(v))))) for v in t])
    rel = np.abs(lognorm - exact) / exact
    bound = 1.2e-12 if dtype == np.float32 else 6e-16
    assert rel.max() <= bound, (float(rel.max()), float(t[rel.argmax()]))


def test_float64_exponential_into_subnormals_and_below(variant):
    t = np.array([-709.5, -720.0, -740.0, -744.9, -745.2, -746.5, -800.0, -1e300, -np.inf])
    ok, out, _, lognorm = _forward(variant, np.stack([np.zeros_like(t), t], axis=1))
    assert ok
    with mpmath.workdps(40):  # log1p(y) = y here
        want = np.array([float(mpmath.exp(mpmath.mpf(float(v)))) for v in t])
    # subnormal results round once: within one subnormal spacing
    assert np.all(np.abs(lognorm - want) <= np.maximum(5e-324, 2e-16 * want))
    assert (lognorm[-3:] == 0).all() and np.isneginf(out[-1, 1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_on_hard_rows(variant, dtype):
    x = _hard(dtype)
    ok, out, m, _ = _forward(variant, x)
    assert ok
    np.testing.assert_array_equal(m, x.max(axis=1))
    exact_mp, _ = _mp_rows(x)
    finite = np.isfinite(x)
    np.testing.assert_array_equal(np.isfinite(out), finite)
    top = (np.arange(len(x)), x.argmax(axis=1))
    if dtype == np.float32:
        err = _ulp(out, _as_float(exact_mp, dtype), np.float32)
        # rounded once from float64: half an ULP and L's error (0.03 ULP at most)
        assert err[finite].max() <= 0.54
        assert err[top].max() <= 0.54
    else:
        err = np.zeros(x.shape)
        for i, j in zip(*np.nonzero(finite)):
            err[i, j] = abs(mpmath.mpf(float(out[i, j])) - exact_mp[i][j]) / np.spacing(
                abs(float(exact_mp[i][j])))
        # the shift's rounding is carried (TwoSum); L's error is that of
        # the exponentials, the sum and log1p: within 3 ULP
        assert err.max() <= 3.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("upstream", ["one-hot at the max", "one-hot elsewhere", "random",
                                      "the prediction itself"])
def test_gradient_on_hard_rows(variant, dtype, upstream):
    x = _hard(dtype, rows=22, cols=40, seed=1)
    rng = np.random.default_rng(2)
    g = np.zeros_like(x)
    rows = np.arange(len(x))
    if upstream == "one-hot at the max":  # nll of the predicted class: p_k near 1
        g[rows, x.argmax(1)] = -1.0
    elif upstream == "one-hot elsewhere":
        g[rows, (x.argmax(1) + 1) % x.shape[1]] = -1.0
    elif upstream == "random":
        g = rng.standard_normal(x.shape).astype(dtype)
    else:  # soft targets equal to the prediction: g_j - p_j * sum(g) cancels
        # (a float32 exponential of 6e-11 relative error gave 2e5 ULP here)
        g = teaching_softmax(x.astype(np.float64)).astype(dtype)
    ok, _, m, lognorm = _forward(variant, x)
    assert ok
    got = _grad(variant, x, m, lognorm, g)
    _, exact_mp = _mp_rows(x, g)
    tiny = np.finfo(dtype).tiny
    if dtype == np.float32:
        exact = _as_float(exact_mp, dtype)
        normal = np.abs(exact) > tiny
        # float64 inside, rounded once: 1.5 ULP, plus float64's own error
        # where g - p * sum(g) cancels (g = p: by up to 3e9 here), bounded
        # as for float64 below by units of 2**-53 of the operands (at 3e9:
        # 3.5 ULP with GCC's build, 7.9 with Clang's, whose sums run in
        # another order; a flat 4 held for one compiler only)
        p_sum = np.abs(exact - g.astype(np.float64))  # p_j * sum(g)
        allowed = (1.5 * np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
                   + 2.0**-53 * (4.0 * np.abs(g) + (x.shape[1] / 8 + 3) * p_sum))
        err = np.abs(got.astype(np.float64) - exact)
        assert (err <= allowed)[normal].all(), float((err / allowed)[normal].max())
        if upstream != "the prediction itself":  # no cancellation: the 1.5 ULP
            assert _ulp(got, exact, np.float32)[normal].max() <= 1.5
    else:
        # float64 has nothing wider inside: p_j = exp(x_j - m - L) carries
        # L's absolute error (3 ULP of L, so about 3 L * 2**-53 relative)
        # and the exponential's (2 units), and g_j - p_j * sum(g) may cancel
        # (torch's own float64 gradient, exp(out) * sum(g), is no better);
        # sum(g) itself is a float64 sum, in 8 lanes of cols / 8 terms
        worst = 0.0
        abs_total = np.abs(g).sum(axis=1)
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                e = exact_mp[i][j]
                if abs(e) > tiny:
                    gj = float(g[i, j])
                    p = math.exp(float(x[i, j]) - float(m[i]) - lognorm[i])
                    scale = (abs(gj) + (4.0 + 3.0 * lognorm[i]) * abs(float(e) - gj)
                             + (x.shape[1] / 8 + 3) * p * abs_total[i])
                    worst = max(worst, float(abs(mpmath.mpf(float(got[i, j])) - e))
                                / (np.spacing(abs(float(e))) + 2.0**-53 * scale))
        assert worst <= 4.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_row_length_up_to_three_vectors(variant, dtype):
    """Rows of 1 to 49 entries: the sweeps run on whole blocks of 16 and
    then on the row's last 16 again (the x86-64-v4 sweeps on 16 at a time
    under a mask), so each remainder takes a path of its own.  Each row has
    a -inf, a tie at its maximum from 3 entries on, and an entry 120 below
    it (under e**-100); the gradient's upstream is random."""
    rng = np.random.default_rng(11)
    for cols in range(1, 50):
        x = rng.standard_normal((3, cols)) * 5
        if cols >= 2:
            x[:, -1] = -np.inf
        if cols >= 3:
            x[1, 0] = x[1, 1] = x[1].max() + 1.0
            x[2, -2] = x[2, :-2].max() - 120.0
        x = x.astype(dtype)
        g = rng.standard_normal(x.shape).astype(dtype)
        ok, out, m, lognorm = _forward(variant, x)
        assert ok
        got = _grad(variant, x, m, lognorm, g)
        exact_out, exact_grad = _mp_rows(x, g)
        finite = np.isfinite(x)
        assert (np.isneginf(out) == ~finite).all(), cols
        if dtype == np.float32:
            out_err = _ulp(out, _as_float(exact_out, dtype), dtype)[finite]
            exact_g = _as_float(exact_grad, dtype)
            grad_err = _ulp(got, exact_g, dtype)[np.abs(exact_g) > np.finfo(dtype).tiny]
            assert out_err.max() <= 0.54 and grad_err.max(initial=0.0) <= 1.5, cols
        else:  # the bounds of the hard rows, without their cancellation
            want = _as_float(exact_out, dtype)[finite]  # (1e-160 where it is 0)
            err = np.abs(out[finite] - want)
            assert (err <= 3 * np.spacing(np.abs(want)) + 1e-150).all(), cols
            exact_g = _as_float(exact_grad, dtype)
            assert np.allclose(got, exact_g, rtol=1e-14, atol=1e-15 * np.abs(g).sum()), cols


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("row", [
    [1.0, np.nan, 2.0], [np.nan, np.nan, np.nan], [1.0, np.inf, 2.0], [-np.inf] * 3,
    [np.inf, -np.inf, 0.0],
])
def test_rows_it_must_refuse(variant, dtype, row):
    """A refused row anywhere refuses the call (its output is then
    unspecified: the float32 kernel writes a row's output in the next row's
    sweep), and the faces hand the array to the teaching version."""
    good = [0.0, 1.0, 2.0]
    for x in ([good, row], [row, good], [good, row, good, good]):
        ok, _, _, _ = _forward(variant, np.array(x, dtype=dtype))
        assert not ok, x


def test_variants_agree(library):
    x = _hard(np.float32, rows=40, cols=300, seed=4)
    outs = [_forward(compiled._load(library["file"], lvl), x)[1] for lvl in _levels(library)]
    for other in outs[1:]:  # float64 inside: the float32 results differ by 1 ULP at most
        assert _ulp(other, outs[0], np.float32)[np.isfinite(x)].max() <= 1.0
        assert np.mean(other == outs[0]) > 0.999


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_threads_and_builds_give_the_same_bits(dtype):
    torch = pytest.importorskip("torch")
    x = torch.randn(3001, 117, generator=torch.Generator().manual_seed(5), dtype=getattr(torch, dtype)) * 5
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(6), dtype=x.dtype)
    results = []
    for kind in ("plain", compiled.torch_kind()):
        for threads in (1, 2, 3):
            out, m = torch.empty_like(x), x.new_empty(len(x))
            lognorm, grad = torch.empty(len(x), dtype=torch.float64), torch.empty_like(x)
            addr = dict(dtype=x.dtype, rows=x.shape[0], cols=x.shape[1], threads=threads, kind=kind)
            assert compiled.log_softmax_rows(x.data_ptr(), out.data_ptr(), m.data_ptr(),
                                             lognorm.data_ptr(), **addr)
            compiled.log_softmax_grad_rows(x.data_ptr(), m.data_ptr(), lognorm.data_ptr(),
                                           g.data_ptr(), grad.data_ptr(), **addr)
            results.append((out, grad))
    for out, grad in results[1:]:
        assert torch.equal(out, results[0][0]) and torch.equal(grad, results[0][1])


def test_a_row_starting_a_thread_block_sums_g_in_the_same_order():
    """Each row's sum(g) is taken in the sweep of the row before, and a
    block of rows (a thread's) starts with a sum of its own: in the same
    order, or a row's result depends on where the blocks fall.  Here
    sum(g) = 2**60 - 2**60 + 1 depends on the order (found by a review:
    x86-64-v4 gave 1.0 serially and 0.999 on two threads at the rows that
    start a block)."""
    torch = pytest.importorskip("torch")
    rows, cols = 200, 1000
    x = torch.zeros(rows, cols)
    x[:, 0] = 1.0
    g = torch.zeros(rows, cols)
    g[:, 0], g[:, 1], g[:, 6] = 2.0**60, -(2.0**60), 1.0
    grads = []
    for kind in ("plain", compiled.torch_kind()):
        for threads in (1, 2):
            out, m = torch.empty_like(x), x.new_empty(rows)
            lognorm, grad = torch.empty(rows, dtype=torch.float64), torch.empty_like(x)
            addr = dict(dtype=x.dtype, rows=rows, cols=cols, threads=threads, kind=kind)
            assert compiled.log_softmax_rows(x.data_ptr(), out.data_ptr(), m.data_ptr(),
                                             lognorm.data_ptr(), **addr)
            compiled.log_softmax_grad_rows(x.data_ptr(), m.data_ptr(), lognorm.data_ptr(),
                                           g.data_ptr(), grad.data_ptr(), **addr)
            grads.append(grad)
    for grad in grads[1:]:
        assert torch.equal(grad, grads[0])
    assert (grads[0] == grads[0][0]).all()  # and every row alike, block start or not


def test_no_rows(tmp_path):
    """rows = 0 reads nothing (the gradient once summed a first row of g
    before its loop: with NULL buffers, a crash)."""
    code = """
import ctypes
from coursepkg import compiled
state = compiled._get("plain")
for name in ("f32", "f64"):
    forward, backward = state["funcs"][name]
    assert forward(None, None, None, None, 0, 5) == 0
    assert backward(None, None, None, None, None, 0, 5) == 0
print("ok")
"""
    result = _python(code, {}, tmp_path, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-500:]


def test_tied_maxima_beyond_two_to_the_33(variant):
    """The float32 spacing at m is 1024 from 2**33 on, so m - 300 rounds to
    m: the x86-64-v4 gradient then gave the entries equal to m no
    exponential (found by a review: [1e10, 1e10] with g = (1, 0) gave
    (1, 0), not (0.5, -0.5)).  Tied maxima: p = 1/n each."""
    for row in ([1e10, 1e10], [-1e10] * 4, [1e30] * 3, [3.4e38, 3.4e38], [2.0**33] * 2,
                [1e10, 1e10, 1e10 - 2048.0]):
        x = np.array([row], dtype=np.float32)
        ok, out, m, lognorm = _forward(variant, x)
        n = int((x == x.max()).sum())
        assert ok and (out[0, :n] == np.float32(-math.log(n))).all(), (row, out)
        g = np.zeros_like(x)
        g[0, 0] = 1.0
        grad = _grad(variant, x, m, lognorm, g)
        want = np.where(x[0] == x.max(), -1.0 / n, 0.0)
        want[0] += 1.0
        np.testing.assert_allclose(grad[0], want, rtol=1e-7, err_msg=str(row))


@pytest.mark.parametrize("first", ["torch", "sklearn"])
def test_torch_build_shares_torchs_openmp_runtime(tmp_path, first):
    """Loaded after torch, the OpenMP build brings no libgomp of its own: it
    runs on torch's (scikit-learn, imported first, has a renamed copy of its
    own, which it keeps)."""
    code = f"""
import json, sys
import {'sklearn.linear_model' if first == 'sklearn' else 'torch'}
import torch
from coursepkg import compiled
before = compiled._mapped_libgomp()
kind = compiled.torch_kind()
print(json.dumps(dict(kind=kind, before=sorted(before), after=sorted(compiled._mapped_libgomp()),
                      status=compiled.status(kind), openmp=compiled.available("openmp"))))
"""
    answer = _answer(_python(code, {"COURSEPKG_CACHE_DIR": str(tmp_path / "c")}, tmp_path))
    torchs = [p for p in answer["before"] if "/torch/" in p]
    if not torchs:
        pytest.skip("this torch does not run on libgomp")
    if not answer["openmp"]:  # e.g. CC=clang without its libomp: the plain build
        assert answer["kind"] == "plain" and answer["after"] == answer["before"]
        return
    assert answer["kind"] == "openmp", answer["status"]
    assert answer["after"] == answer["before"]


# --------------------------------------------------------------- the loader

_CHECK = """
import json, torch
from coursepkg import compiled, torch as ctorch
x = torch.tensor([[0.0, -40.0, 3.0]])
print(json.dumps(dict(status=compiled.status(compiled.torch_kind()),
                      out=ctorch.log_softmax(x).tolist())))
"""


def _python(code, env_extra, tmp_path, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEPKG_")}
    env.update(env_extra)
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _answer(result):
    import json

    return json.loads(result.stdout.strip().splitlines()[-1])


def _right(out):
    want = [0.0 - 3.0 - math.log1p(math.exp(-3.0) + math.exp(-43.0)),
            -43.0 - math.log1p(math.exp(-3.0) + math.exp(-43.0)),
            -math.log1p(math.exp(-3.0) + math.exp(-43.0))]
    np.testing.assert_allclose(out[0], want, rtol=2e-7)


def test_switched_off_and_misspelt_settings(tmp_path):
    answer = _answer(_python(_CHECK, {"COURSEPKG_COMPILED": "0"}, tmp_path))
    assert answer["status"] == "not compiled: switched off by COURSEPKG_COMPILED"
    _right(answer["out"])
    for name, value in (("COURSEPKG_COMPILED", "maybe"), ("COURSEPKG_ISA", "avx9000")):
        result = _python(_CHECK, {name: value, "COURSEPKG_CACHE_DIR": str(tmp_path)}, tmp_path,
                         check=False)
        assert result.returncode != 0
        assert f"ValueError: {name} must be" in result.stderr and repr(value) in result.stderr


def test_a_narrower_variant_on_request(tmp_path):
    answer = _answer(_python(_CHECK, {"COURSEPKG_ISA": "baseline",
                                      "COURSEPKG_CACHE_DIR": str(tmp_path / "c")}, tmp_path))
    assert "baseline" in answer["status"]
    _right(answer["out"])


def test_no_compiler_falls_back_with_the_reason(tmp_path):
    answer = _answer(_python(_CHECK, {"CC": str(tmp_path / "no-such-cc"),
                                      "COURSEPKG_CACHE_DIR": str(tmp_path / "c")}, tmp_path))
    assert answer["status"].startswith("not compiled: build failed")
    assert "no-such-cc" in answer["status"]
    _right(answer["out"])


def test_an_unusable_cache_folder_builds_privately(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    answer = _answer(_python(_CHECK, {"COURSEPKG_CACHE_DIR": str(blocker / "cache")}, tmp_path))
    assert answer["status"].startswith("compiled") and "a private build" in answer["status"]
    _right(answer["out"])
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("coursepkg-*/log_softmax-*.so.*.tmp"))


def test_concurrent_first_builds(tmp_path):
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEPKG_")}
    env["COURSEPKG_CACHE_DIR"] = str(cache)
    procs = [subprocess.Popen([sys.executable, "-c", _CHECK], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        answer = _answer(subprocess.CompletedProcess([], 0, out, err))
        assert answer["status"].startswith("compiled") and "private" not in answer["status"]
        _right(answer["out"])
    assert not list(cache.glob("*.tmp"))
    assert len(list(cache.glob("log_softmax-*.so"))) >= 1


_PLANTED = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void planted(void) {
    FILE *f = fopen(getenv("PLANTED_MARKER"), "w");
    if (f) { fputs("the planted library ran", f); fclose(f); }
}
"""


@pytest.mark.parametrize("how", ["folder others can write", "file others can write", "symlink"])
def test_a_planted_library_is_not_loaded(tmp_path, how):
    """Another user who can write the cache folder (or the library) could
    put code there that runs in the next process that loads it."""
    cc = compiled._compiler()
    cache, marker = tmp_path / "cache", tmp_path / "marker"
    cache.mkdir()
    # the name the loader will look for, with the torch face's build
    name = _python("from coursepkg import compiled; import torch; "
                   "print(compiled._library_name(compiled._compiler(), compiled.torch_kind()))",
                   {}, tmp_path).stdout.strip()
    source = tmp_path / "planted.c"
    # the planted library is the real kernels plus a constructor: it passes the self-test
    source.write_text(compiled.SOURCE.read_text() + _PLANTED)
    kind = compiled.torch_kind()
    evil = tmp_path / "evil.so"
    subprocess.run([*cc, *compiled.FLAGS, *compiled.KINDS[kind], "-o", str(evil), str(source),
                    "-lm"], check=True, capture_output=True)
    # without the check, loading it runs its code
    subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(evil)!r})"],
                   check=True, env={**os.environ, "PLANTED_MARKER": str(marker)})
    assert marker.read_text() == "the planted library ran"
    marker.unlink()
    target = cache / name
    if how == "folder others can write":
        shutil.copy(evil, target)
        cache.chmod(0o777)
    elif how == "file others can write":
        shutil.copy(evil, target)
        target.chmod(0o666)
        cache.chmod(0o700)
    else:
        target.symlink_to(evil)
        cache.chmod(0o700)
    answer = _answer(_python(_CHECK, {"COURSEPKG_CACHE_DIR": str(cache),
                                      "PLANTED_MARKER": str(marker)}, tmp_path))
    assert not marker.exists()
    assert answer["status"].startswith("compiled")
    _right(answer["out"])


def test_a_compiler_without_the_variants_builds_the_baseline(tmp_path):
    """GCC before 11 refuses target("arch=x86-64-v4"): the loader retries
    with the baseline variant only."""
    real = shutil.which("cc") or shutil.which("gcc")
    wrapper = tmp_path / "old-cc"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" --version "*) exec ' + real + ' "$@";; esac\n'
        'case " $* " in *" -DCOURSEPKG_BASELINE_ONLY "*) exec ' + real + ' "$@";; esac\n'
        'echo "error: attribute(target(\\"arch=x86-64-v4\\")) is unknown" >&2; exit 1\n')
    wrapper.chmod(0o755)
    answer = _answer(_python(_CHECK, {"CC": str(wrapper),
                                      "COURSEPKG_CACHE_DIR": str(tmp_path / "c")}, tmp_path))
    assert answer["status"].startswith("compiled") and "baseline" in answer["status"]
    _right(answer["out"])


def test_the_torch_face_uses_the_plain_build_without_torchs_libgomp(monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr(compiled, "_states", {k: v for k, v in compiled._states.items()
                                              if k != "torch-kind"})
    monkeypatch.setattr(compiled, "_mapped_libgomp", lambda: set())
    assert compiled.torch_kind() == "plain"


def test_the_numpy_face_on_unaligned_and_strided_input():
    from coursepkg import kernels
    from coursepkg import softmax as teaching

    rng = np.random.default_rng(7)
    x = (rng.standard_normal((50, 33)) * 5).astype(np.float32)
    raw = bytearray(x.nbytes + 1)
    unaligned = np.frombuffer(raw, dtype=np.float32, offset=1, count=x.size).reshape(x.shape)
    assert not unaligned.flags.aligned
    # np.frombuffer of a bytearray is writable: fill it
    unaligned[...] = x
    for got in (kernels.log_softmax(unaligned), kernels.log_softmax(np.asfortranarray(x)),
                kernels.log_softmax(x.T, axis=0).T):
        err = _ulp(got, teaching.log_softmax(x.astype(np.float64)), np.float32)
        assert err.max() <= 2.0


def test_the_torch_face_follows_torchs_thread_count(monkeypatch):
    torch = pytest.importorskip("torch")
    from coursepkg import kernels, kernels_torch

    before = torch.get_num_threads()
    torch.set_num_threads(5)
    try:
        monkeypatch.delenv("COURSEPKG_THREADS", raising=False)
        assert kernels_torch._threads() == 5  # not the NumPy face's default of two
        monkeypatch.setenv("COURSEPKG_THREADS", "1")
        assert kernels_torch._threads() == min(5, kernels.THREADS)
        torch.set_num_threads(1)
        monkeypatch.delenv("COURSEPKG_THREADS")
        assert kernels_torch._threads() == 1
    finally:
        torch.set_num_threads(before)


def test_the_gradient_where_it_cancels_everywhere(variant):
    """x = (0, 1, 2, 3) with the upstream gradient softmax(x) rounded to
    float32: every entry of g - p * sum(g) is a difference of near-equal
    numbers (found by a review: 193188 ULP with a float32-grade exponential)."""
    x = np.array([[0.0, 1.0, 2.0, 3.0]], dtype=np.float32)
    g = teaching_softmax(x.astype(np.float64)).astype(np.float32)
    ok, _, m, lognorm = _forward(variant, x)
    got = _grad(variant, x, m, lognorm, g)
    _, exact = _mp_rows(x, g)
    assert _ulp(got, _as_float(exact, np.float32), np.float32).max() <= 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_masked_entries_leave_the_maximum_at_plus_zero(variant, dtype):
    x = np.array([[0.0, -np.inf, -np.inf], [2.5, -np.inf, 2.5]], dtype=dtype)
    ok, out, _, _ = _forward(variant, x)
    assert ok and out[0, 0] == 0.0 and not np.signbit(out[0, 0])  # exact: log(1) = +0
    assert out[1, 0] == out[1, 2] == np.log(dtype(0.5)) and np.isneginf(out[:, 1]).all()
    # and from a maximum of -0.0 (float32 gave -0.0 - (m + 0) = -0.0)
    ok, top, _, _ = _forward(variant, np.array([[-0.0, -np.inf]], dtype=dtype))
    assert ok and top[0, 0] == 0.0 and not np.signbit(top[0, 0])
    g = np.ones_like(x)
    grad = _grad(variant, x, *_forward(variant, x)[2:], g)
    assert (grad[:, 1] == 1.0).all()  # p = 0 exactly at -inf: g - 0 * sum(g)
    g[:, 1] = 0.0  # and 0 - 0 * sum(g) is +0.0, as torch gives
    grad = _grad(variant, x, *_forward(variant, x)[2:], g)
    assert (grad[:, 1] == 0.0).all() and not np.signbit(grad[:, 1]).any()
    # -0.0 - 0 * sum(g) with sum(g) < 0 is +0.0 too, in every variant
    # (x86-64-v4 once returned g itself there)
    g = np.array([[-1.0, -0.0, -0.0], [-1.0, -0.0, -1.0]], dtype=dtype)
    grad = _grad(variant, x, *_forward(variant, x)[2:], g)
    assert (grad[:, 1] == 0.0).all() and not np.signbit(grad[:, 1]).any()


def test_a_negative_view_is_read_as_its_values():
    torch = pytest.importorskip("torch")
    from coursepkg import torch as ctorch

    base = torch.randn(3, 5, generator=torch.Generator().manual_seed(8))
    neg = torch._neg_view(base)  # the negative bit: memory holds base, values are -base
    assert neg.is_neg() and neg.is_contiguous()
    want = torch.log_softmax(-base.double(), 1)
    torch.testing.assert_close(ctorch.log_softmax(neg), want.float(), rtol=2e-7, atol=0)
    leaf = neg.clone().requires_grad_()  # and a negative upstream gradient
    g = torch._neg_view(torch.randn(3, 5, generator=torch.Generator().manual_seed(9)))
    got, = torch.autograd.grad(ctorch.log_softmax(leaf), leaf, g)
    p = want.exp()
    torch.testing.assert_close(got.double(), g.double() - p * g.double().sum(1, keepdim=True),
                               rtol=1e-6, atol=1e-7)


def test_a_forked_child_does_not_wait_for_its_parents_threads(tmp_path):
    """multiprocessing's default on Linux is fork: the child inherits the
    parent's thread pool object but not its threads (found by a review: the
    child waited forever)."""
    code = """
import multiprocessing as mp, numpy as np, sys
from coursepkg import numpy as cnp, kernels
x = np.random.default_rng(0).standard_normal((2048, 1000)).astype(np.float32)
cnp.log_softmax(x)            # the parent starts its worker threads
kernels.log_softmax(x, axis=0)  # the array operations' pool too
def child(q):
    q.put(float(cnp.log_softmax(x).sum() + kernels.log_softmax(x, axis=0).sum()))
ctx = mp.get_context("fork")
q = ctx.Queue()
p = ctx.Process(target=child, args=(q,))
p.start()
p.join(60)
print("alive" if p.is_alive() else q.get(timeout=5))
if p.is_alive():
    p.kill()
"""
    out = _python(code, {"COURSEPKG_CACHE_DIR": str(tmp_path / "c"), "COURSEPKG_THREADS": "2"},
                  tmp_path).stdout.strip()
    assert out != "alive" and np.isfinite(float(out))


def test_a_hanging_compiler_costs_its_timeout_once(tmp_path):
    hang = tmp_path / "hanging-cc"
    hang.write_text("#!/bin/sh\ncase \" $* \" in *\" --version \"*) echo hang-cc 1.0; exit 0;; esac\n"
                    "exec sleep 600\n")
    hang.chmod(0o755)
    code = """
import json, time
from coursepkg import compiled
compiled.BUILD_TIMEOUT = 3
start = time.monotonic()
first = compiled.status()
again = compiled.status()
print(json.dumps(dict(first=first, again=again, seconds=time.monotonic() - start)))
"""
    answer = _answer(_python(code, {"CC": str(hang), "COURSEPKG_CACHE_DIR": str(tmp_path / "c")},
                             tmp_path))
    assert answer["first"] == answer["again"]
    assert answer["first"].startswith("not compiled: build failed") and "ran past 3 s" in answer["first"]
    assert answer["seconds"] < 5.5  # one timeout, no private retry (which made it two)


_SWAP = r"""
import os, sys, json
from pathlib import Path
from coursepkg import compiled
cache, evil, marker = map(Path, sys.argv[1:4])
name = compiled._library_name(compiled._compiler(), "plain")
real_load = compiled._load
def attacker_moves_first(path, level=None):
    # between the check and the load, someone renames the folders
    os.rename(cache, cache.with_name("genuine"))
    os.rename(evil, cache)
    return real_load(path, level)
compiled._load = attacker_moves_first
mode = sys.argv[4]
if mode == "pinned":
    state = compiled._load_pinned(cache / name)
    compiled._self_test(state)
else:  # what a check of the path followed by a load of the path would do
    assert compiled._trusted(cache / name)
    state = attacker_moves_first(cache / name)
print(json.dumps(dict(marker=marker.exists())))
"""


@pytest.mark.parametrize("mode", ["pinned", "check then load by path"])
def test_a_folder_swapped_between_check_and_load(tmp_path, mode):
    """The review's race, made deterministic: the attacker's rename happens
    exactly between the loader's check and its load."""
    cc = compiled._compiler()
    parent = tmp_path / "shared"  # a folder the attacker can rename things in
    parent.mkdir()
    cache, evil, marker = parent / "cache", parent / "evil", tmp_path / "marker"
    cache.mkdir(mode=0o700)
    evil.mkdir(mode=0o755)
    name = _python("from coursepkg import compiled; "
                   "print(compiled._library_name(compiled._compiler(), 'plain'))",
                   {}, tmp_path).stdout.strip()
    subprocess.run([*cc, *compiled.FLAGS, *compiled.KINDS["plain"], "-o", str(cache / name),
                    str(compiled.SOURCE), "-lm"], check=True, capture_output=True)
    source = tmp_path / "planted.c"
    source.write_text(compiled.SOURCE.read_text() + _PLANTED)
    subprocess.run([*cc, *compiled.FLAGS, *compiled.KINDS["plain"], "-o", str(evil / name),
                    str(source), "-lm"], check=True, capture_output=True)
    script = tmp_path / "swap.py"
    script.write_text(_SWAP)
    result = _python(f"import runpy, sys; sys.argv = ['swap', {str(cache)!r}, {str(evil)!r}, "
                     f"{str(marker)!r}, {mode!r}]; runpy.run_path({str(script)!r})",
                     {"PLANTED_MARKER": str(marker)}, tmp_path)
    assert _answer(result)["marker"] is (mode != "pinned")


def test_both_builds_load_in_one_process(tmp_path):
    """The NumPy face's build, then the torch face's: two libraries.  (Each
    is loaded as /proc/self/fd/N; with the first descriptor closed, the
    second got the same name and the loader handed back the first library,
    so the torch face ran the plain build on one thread.)"""
    torch = pytest.importorskip("torch")  # noqa: F841
    code = """
import json
import numpy as np, torch
from coursepkg import compiled, numpy as cnp
cnp.log_softmax(np.zeros((2, 3)))  # the plain build first
kind = compiled.torch_kind()
plain, other = compiled._get("plain"), compiled._get(kind)
maps = open("/proc/self/maps").read()
print(json.dumps(dict(kind=kind, same=plain["lib"]._handle == other["lib"]._handle,
                      mapped=sorted({l.split()[-1] for l in maps.splitlines()
                                     if "log_softmax-" in l}))))
"""
    answer = _answer(_python(code, {"COURSEPKG_CACHE_DIR": str(tmp_path / "c")}, tmp_path))
    if answer["kind"] == "plain":
        pytest.skip("this torch does not run on libgomp: one build serves both faces")
    assert not answer["same"]
    assert [Path(p).name.split("-")[1] for p in answer["mapped"]] == ["openmp", "plain"]


@pytest.mark.skipif(shutil.which("clang") is None, reason="no clang on this machine")
def test_the_accuracy_tests_with_clang(tmp_path, library):
    """The kernel built by Clang (CC=clang; the compiler macOS calls cc)
    passes the accuracy and refusal tests above for every variant.  Clang
    once fell back to the baseline build (it refused GCC's
    __builtin_cpu_supports("x86-64-v4")), started OpenMP's max reductions
    at -FLT_MAX (a row of -inf was not refused), and sums in another order
    (the cancelling gradient's bound)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEPKG_")}
    env.update(CC="clang", COURSEPKG_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k",
         "hard_rows or must_refuse or every_row_length or through_the_log_normaliser"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary
    if library["cpu_level"] == 4:  # every variant ran, as with the default compiler
        assert "skipped" not in summary, summary
    built = list((tmp_path / "cache").glob("log_softmax-plain-*.so"))
    assert built, "no library was built with clang"
