"""Benchmark suite: coursepkg against SciPy and PyTorch, speed, memory, ULP.

Run from the repository root::

    .venv/bin/python benchmarks/run.py            # full sizes (minutes)
    .venv/bin/python benchmarks/run.py --quick    # tiny shapes (seconds)

The torch face (``ctorch.softmax``, ``log_softmax``, ``logsumexp``) is timed
against torch itself, forward and forward + backward, and its float32
accuracy is tabulated next to the others (suite ``accuracy_torch_face``).

For every function and shape it prints the median time of each
implementation (15 timed runs after a warm-up, interleaved with the runs of
the implementation it is compared with, each after an untimed settling
run; 7 for the large-vocabulary loss, which takes seconds a run; coursepkg
is timed against SciPy and against torch in separate rounds) and the
ratios measured in the same run, the peak extra memory (tracemalloc for
NumPy; the peak resident set size for torch, whose CPU allocator
tracemalloc cannot see), and the
accuracy in float32 in units in the last place (ULP) against a float64
reference over random and adversarial inputs.  glibc's malloc is first told
to keep freed memory (:func:`steady_allocator`), so that the times do not
include page faults that either side takes at random.  Results are written to
``coursepkg/bench_results/results.json`` and ``.csv`` (or ``--out DIR``).
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import pathlib
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np
import scipy.special as sps
import torch
import torch.nn.functional as F

from coursepkg import chunked, compiled, kernels
from coursepkg import logsumexp as teaching_lse
from coursepkg import numpy as cnp
from coursepkg import softmax as teaching_sm
from coursepkg import torch as ctorch

# package data, so that the book's kernels appendix reads it from an
# installed package too
# (coursepkg.data.benchmark_results)
RESULTS = pathlib.Path(__file__).resolve().parents[1] / "coursepkg" / "bench_results"


# ----------------------------------------------------------------- measuring


def median_time(fn, repeat):
    """Median wall time of ``fn()`` over ``repeat`` runs after one warm-up."""
    fn()
    gc.collect()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def quartiles(num, den):
    """First and third quartiles of the per-round ratios ``num / den``.

    Runs of the same round are seconds apart at most, so their ratio is
    what the machine gave both at that moment; the spread over rounds says
    how far the ratio of the medians can be trusted.
    """
    ratios = [a / b for a, b in zip(num, den)]
    if len(ratios) < 2:  # --quick --repeat 1
        return ratios[0], ratios[0]
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return q1, q3


def minor_faults():
    """Minor page faults of this process so far (fresh pages the kernel had
    to map: about 0.25 ms per MiB here)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def round_times(fns, repeat, faults=None):
    """Wall times of several functions, ``repeat`` interleaved rounds each.

    Each round runs every function (in a rotated order), so a burst of load
    from elsewhere on a shared machine slows all of them alike instead of
    skewing the ratio of whichever happened to be running; the ratios of the
    medians are what the tables report.

    In a round each function runs twice and only the second run is timed.
    The untimed run absorbs what the previous function left behind: torch's
    OpenMP workers keep spinning on both cores for a while after a torch
    call, and a NumPy kernel timed right after one ran up to 1.7x slower
    (measured: cross-entropy forward + gradient at (4096, 1000), 12.4 ms
    against 7.2 ms once settled; torch's own time did not change).

    With ``faults`` (a list), it receives each function's minor page
    faults per timed run, counted outside the timer.
    """
    for fn in fns:
        fn()
    gc.collect()
    times = [[] for _ in fns]
    counted = [0] * len(fns)
    for r in range(repeat):
        for k in range(len(fns)):
            i = (k + r) % len(fns)
            fns[i]()
            before = minor_faults()
            start = time.perf_counter()
            fns[i]()
            times[i].append(time.perf_counter() - start)
            counted[i] += minor_faults() - before
    if faults is not None:
        faults.extend(c / repeat for c in counted)
    return times


def numpy_peak(fn):
    """Peak bytes NumPy allocates while ``fn()`` runs (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del result
    return peak


def _status(field):
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)  # pragma: no cover


def rss_peak(fn):
    """Peak resident memory above the current level while ``fn()`` runs.

    Resets the kernel's high-water mark (``/proc/self/clear_refs``), so the
    peak is that of this call alone, after handing free heap memory back to
    the OS (:func:`release_free_memory`).
    """
    gc.collect()
    release_free_memory()  # else freed blocks kept by steady_allocator count as base
    try:
        pathlib.Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # pragma: no cover - not Linux
        return float("nan")
    base = _status("VmRSS")
    result = fn()
    peak = _status("VmHWM") - base
    del result
    return peak


def ulp(got, exact):
    """Error in float32 ULP at the exact value (0 where both agree)."""
    got = np.asarray(got, dtype=np.float64)
    exact = np.asarray(exact, dtype=np.float64)
    spacing = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(got - exact) / spacing
    return np.where(got == exact, 0.0, err)


# ----------------------------------------------------------------- suites

SOFTMAX_IMPLS = {
    "softmax": (
        lambda x: cnp.softmax(x),
        lambda x: sps.softmax(x, axis=-1),
        lambda t: torch.softmax(t, -1),
    ),
    "log_softmax": (
        lambda x: cnp.log_softmax(x),
        lambda x: sps.log_softmax(x, axis=-1),
        lambda t: torch.log_softmax(t, -1),
    ),
    "logsumexp": (
        lambda x: cnp.logsumexp(x),
        lambda x: sps.logsumexp(x, axis=-1),
        lambda t: torch.logsumexp(t, -1),
    ),
}


def bench_softmax(shapes, repeat, rows):
    rng = np.random.default_rng(0)
    for dtype in ("float32", "float64"):
        for shape in shapes:
            x = (rng.standard_normal(shape) * 3).astype(dtype)
            t = torch.from_numpy(x)
            for name, (ours, scipy_fn, torch_fn) in SOFTMAX_IMPLS.items():
                # two sets of interleaved rounds: coursepkg with SciPy, then
                # coursepkg with torch.  With torch in the SciPy rounds too,
                # its OpenMP workers (still spinning after a call) slowed the
                # NumPy kernels' two threads: float32 log_softmax at
                # (4096, 1000) measured 1.1-1.2x SciPy's speed instead of
                # 1.4-1.5x (and the same 1.4-1.5x with OMP_WAIT_POLICY=passive)
                r_ours, r_scipy = round_times(
                    [lambda: ours(x), lambda: scipy_fn(x)], repeat)
                r_ours_t, r_torch = round_times(
                    [lambda: ours(x), lambda: torch_fn(t)], repeat)
                t_ours, t_scipy, t_ours_t, t_torch = map(
                    statistics.median, (r_ours, r_scipy, r_ours_t, r_torch))
                rows.append(dict(
                    suite="softmax", function=name, shape=str(shape), dtype=dtype,
                    ours_s=t_ours, scipy_s=t_scipy, torch_s=t_torch,
                    ours_s_torch_rounds=t_ours_t,
                    speedup_vs_scipy=t_scipy / t_ours,
                    speedup_vs_scipy_q=quartiles(r_scipy, r_ours),
                    speedup_vs_torch=t_torch / t_ours_t,
                    speedup_vs_torch_q=quartiles(r_torch, r_ours_t),
                    ours_mem_x_input=numpy_peak(lambda: ours(x)) / x.nbytes,
                    scipy_mem_x_input=numpy_peak(lambda: scipy_fn(x)) / x.nbytes,
                ))
                report(rows[-1])


TORCH_FACE = {
    "softmax": (ctorch.softmax, lambda t: torch.softmax(t, -1)),
    "log_softmax": (ctorch.log_softmax, lambda t: torch.log_softmax(t, -1)),
    "logsumexp": (ctorch.logsumexp, lambda t: torch.logsumexp(t, -1)),
}


def bench_torch_face(shapes, repeat, rows):
    """The torch face against torch itself: forward, and forward + backward."""
    gen = torch.Generator().manual_seed(2)
    for dtype in (torch.float32, torch.float64):
        for shape in shapes:
            x = torch.randn(shape, generator=gen, dtype=dtype) * 3
            leaf = x.clone().requires_grad_()
            for name, (ours, theirs) in TORCH_FACE.items():
                upstream = torch.randn(theirs(x).shape, generator=gen, dtype=dtype)

                def fwd_bwd(fn):
                    leaf.grad = None
                    fn(leaf).backward(upstream)

                for mode, a, b in (
                    ("forward", lambda: ours(x), lambda: theirs(x)),
                    ("forward+backward", lambda: fwd_bwd(ours), lambda: fwd_bwd(theirs)),
                ):
                    faults = []
                    r_ours, r_torch = round_times([a, b], repeat, faults)
                    t_ours, t_torch = map(statistics.median, (r_ours, r_torch))
                    rows.append(dict(
                        suite="torch_face", function=name, mode=mode, shape=str(shape),
                        dtype=str(dtype).removeprefix("torch."),
                        ctorch_s=t_ours, torch_s=t_torch,
                        ctorch_over_torch=t_ours / t_torch,
                        ctorch_over_torch_q=quartiles(r_ours, r_torch),
                        ctorch_faults_per_run=faults[0], torch_faults_per_run=faults[1],
                    ))
                    report(rows[-1])


BUSY_LOOP = "import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"


def bench_busy(shapes, repeat, rows):
    """float32 log_softmax, NumPy face against SciPy, while another process
    keeps one core busy (a Python loop: a machine shared with other work)."""
    import subprocess

    rng = np.random.default_rng(0)
    ours, scipy_fn, _ = SOFTMAX_IMPLS["log_softmax"]
    for shape in shapes:
        x = (rng.standard_normal(shape) * 3).astype("float32")
        busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP.format(seconds=600)])
        try:
            time.sleep(0.5)  # let it start
            before = load()
            r_ours, r_scipy = round_times([lambda: ours(x), lambda: scipy_fn(x)], repeat)
            after = load()
        finally:
            busy.kill()
            busy.wait()
        t_ours, t_scipy = map(statistics.median, (r_ours, r_scipy))
        rows.append(dict(
            suite="softmax_busy", function="log_softmax", shape=str(shape), dtype="float32",
            load="one other process spinning on a core", loadavg_before=before["loadavg"],
            loadavg_after=after["loadavg"], ours_s=t_ours, scipy_s=t_scipy,
            speedup_vs_scipy=t_scipy / t_ours, speedup_vs_scipy_q=quartiles(r_scipy, r_ours),
        ))
        report(rows[-1])


def bench_cross_entropy(shapes, repeat, rows):
    rng = np.random.default_rng(1)
    for dtype in ("float32", "float64"):
        for shape in shapes:
            x = rng.standard_normal(shape).astype(dtype)
            y = rng.integers(0, shape[1], size=(shape[0],) + tuple(shape[2:]))
            xt, yt = torch.from_numpy(x), torch.from_numpy(y)

            def torch_fb(fn=F.cross_entropy):
                z = xt.clone().requires_grad_()
                fn(z, yt).backward()
                return z.grad

            def numpy_fb():
                return cnp.cross_entropy_loss(x, y), cnp.cross_entropy_loss_grad(x, y)

            r_torch, r_ctorch, r_numpy = round_times(
                [torch_fb, lambda: torch_fb(ctorch.cross_entropy_loss), numpy_fb],
                repeat)
            t_torch, t_ctorch, t_numpy = map(
                statistics.median, (r_torch, r_ctorch, r_numpy))
            rows.append(dict(
                suite="cross_entropy", function="cross_entropy fwd+grad",
                shape=str(shape), dtype=dtype, torch_s=t_torch,
                ctorch_s=t_ctorch, numpy_s=t_numpy,
                numpy_over_torch=t_numpy / t_torch,
                numpy_over_torch_q=quartiles(r_numpy, r_torch),
                ctorch_over_torch=t_ctorch / t_torch,
                ctorch_over_torch_q=quartiles(r_ctorch, r_torch),
                numpy_mem_x_input=numpy_peak(numpy_fb) / x.nbytes,
                torch_rss_x_input=rss_peak(torch_fb) / x.nbytes,
                ctorch_rss_x_input=rss_peak(
                    lambda: torch_fb(ctorch.cross_entropy_loss)) / x.nbytes,
            ))
            report(rows[-1])


def bench_linear_ce(n, h, v, repeat, rows):
    g = torch.Generator().manual_seed(2)
    hidden = torch.randn(n, h, generator=g)
    weight = torch.randn(v, h, generator=g) * h**-0.5
    target = torch.randint(0, v, (n,), generator=g)
    logits_bytes = n * v * 4

    def run(loss_fn, leaves=None):
        hh, ww = leaves or (hidden.clone().requires_grad_(),
                            weight.clone().requires_grad_())
        loss = loss_fn(hh, ww)
        loss.backward()
        return loss.detach(), hh.grad, ww.grad

    impls = {
        "eager": lambda a, b: F.cross_entropy(a @ b.T, target),
        "coursepkg": lambda a, b: ctorch.linear_cross_entropy(a, b, target),
        "torch_chunked": lambda a, b: F.linear_cross_entropy(
            a, b, target, options=torch.nn.LinearCrossEntropyOptions()),
    }
    ref = run(impls["eager"])
    grads_bytes = (hidden.numel() + weight.numel()) * 4
    row = dict(suite="linear_cross_entropy", function="linear_cross_entropy fwd+bwd",
               shape=str((n, h, v)), dtype="float32", logits_bytes=logits_bytes,
               grads_bytes=grads_bytes)
    for name, fn in impls.items():
        got = run(fn)
        row[f"{name}_s"] = median_time(lambda: run(fn), min(repeat, 7))
        # fresh leaves made outside the measurement: only the loss, its
        # graph and the two gradients count
        leaves = (hidden.clone().requires_grad_(), weight.clone().requires_grad_())
        peak = rss_peak(lambda: run(fn, leaves))
        del leaves
        row[f"{name}_rss_x_logits"] = peak / logits_bytes
        row[f"{name}_workspace_x_logits"] = (peak - grads_bytes) / logits_bytes
        row[f"{name}_loss_rel_err"] = abs(got[0].item() - ref[0].item()) / abs(
            ref[0].item())
        row[f"{name}_grad_max_abs_err"] = max(
            (a - b).abs().max().item() for a, b in zip(got[1:], ref[1:]))
    for name in ("coursepkg", "torch_chunked"):
        row[f"{name}_over_eager"] = row[f"{name}_s"] / row["eager_s"]
    rows.append(row)
    report(row)


def adversarial_inputs(rng, shape):
    """Named float32 inputs: random, wide, offset, ties, masked, dominant."""
    cases = {
        "sigma=1": rng.standard_normal(shape),
        "sigma=30": rng.standard_normal(shape) * 30,
        "offset 1e4": 1e4 + rng.standard_normal(shape),
        "ties": np.round(rng.standard_normal(shape)),
    }
    masked = rng.standard_normal(shape) * 5
    masked[:, ::2] = -np.inf
    cases["masked -inf"] = masked
    dominant = rng.standard_normal(shape) * 3
    dominant[:, 0] = 40.0
    cases["dominant"] = dominant
    return {k: v.astype(np.float32) for k, v in cases.items()}


def accuracy(shape, rows):
    """Max float32 ULP error of each implementation (float64 reference)."""
    rng = np.random.default_rng(3)
    impls = {
        "coursepkg": (kernels.softmax, kernels.log_softmax, kernels.logsumexp),
        "teaching": (teaching_sm.softmax, teaching_sm.log_softmax,
                     teaching_lse.logsumexp),
        "scipy": tuple(f[1] for f in SOFTMAX_IMPLS.values()),
        "torch": tuple(
            (lambda f: lambda x: f(torch.from_numpy(x)).numpy())(f[2])
            for f in SOFTMAX_IMPLS.values()),
    }
    for case, x in adversarial_inputs(rng, shape).items():
        x64 = x.astype(np.float64)
        exact = (teaching_sm.softmax(x64), teaching_sm.log_softmax(x64),
                 teaching_lse.logsumexp(x64))
        top = (np.arange(len(x)), x.argmax(axis=1))
        normal = exact[0] > np.finfo(np.float32).tiny  # skip subnormal probs
        finite = np.isfinite(exact[1])
        for impl, (sm, lsm, lse) in impls.items():
            with np.errstate(all="ignore"):
                row = dict(suite="accuracy", case=case, implementation=impl,
                           shape=str(shape), dtype="float32",
                           softmax_ulp=float(ulp(sm(x), exact[0])[normal].max()),
                           log_softmax_ulp=float(ulp(lsm(x), exact[1])[finite].max()),
                           log_softmax_max_entry_ulp=float(
                               ulp(lsm(x)[top], exact[1][top]).max()),
                           logsumexp_ulp=float(ulp(lse(x), exact[2]).max()))
            rows.append(row)
        # the torch face, in its own suite (the kernels appendix tabulates "accuracy")
        t = torch.from_numpy(x)
        lsm = ctorch.log_softmax(t).numpy()
        rows.append(dict(
            suite="accuracy_torch_face", case=case, implementation="ctorch",
            shape=str(shape), dtype="float32",
            softmax_ulp=float(ulp(ctorch.softmax(t).numpy(), exact[0])[normal].max()),
            log_softmax_ulp=float(ulp(lsm, exact[1])[finite].max()),
            log_softmax_max_entry_ulp=float(ulp(lsm[top], exact[1][top]).max()),
            logsumexp_ulp=float(ulp(ctorch.logsumexp(t).numpy(), exact[2]).max())))
    report_accuracy([r for r in rows if r["suite"].startswith("accuracy")])


# ----------------------------------------------------------------- reporting


def report(row):
    keys = [k for k in row if k not in ("suite",)]
    print("  ".join(f"{k}={_fmt(row[k])}" for k in keys), flush=True)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.3e}"
    return str(v)


def report_accuracy(rows):
    print("\nfloat32 accuracy, max ULP vs float64 reference "
          "(softmax | log_softmax | log_softmax at the max | logsumexp)")
    for r in rows:
        print(f"  {r['case']:<12} {r['implementation']:<10} "
              f"{r['softmax_ulp']:>10.3g} {r['log_softmax_ulp']:>10.3g} "
              f"{r['log_softmax_max_entry_ulp']:>10.3g} {r['logsumexp_ulp']:>8.3g}")


def _spread(row, key):
    """``1.50x (1.31-1.62)``: the ratio of the medians, then its quartiles."""
    lo, hi = row[f"{key}_q"]
    return f"{row[key]:.2f}x ({lo:.2f}-{hi:.2f})"


def table(rows):
    """A compact summary table of the ratios (rich when it is installed)."""
    lines = []
    for r in rows:
        if r["suite"] == "softmax":
            lines.append((r["function"], r["shape"], r["dtype"],
                          _spread(r, "speedup_vs_scipy"), _spread(r, "speedup_vs_torch"),
                          f"{r['ours_mem_x_input']:.2f} / {r['scipy_mem_x_input']:.2f}"))
        elif r["suite"] == "softmax_busy":
            lines.append((f"{r['function']} (a core busy)", r["shape"], r["dtype"],
                          _spread(r, "speedup_vs_scipy"), "", ""))
        elif r["suite"] == "torch_face":
            lines.append((f"ctorch.{r['function']} {r['mode']}", r["shape"], r["dtype"],
                          f"{_spread(r, 'ctorch_over_torch')} torch time", "", ""))
        elif r["suite"] == "cross_entropy":
            lines.append((r["function"], r["shape"], r["dtype"],
                          f"numpy {_spread(r, 'numpy_over_torch')} torch time",
                          f"ctorch {_spread(r, 'ctorch_over_torch')} torch time",
                          f"{r['numpy_mem_x_input']:.2f}"))
        elif r["suite"] == "linear_cross_entropy":
            lines.append((r["function"], r["shape"], r["dtype"],
                          f"{r['coursepkg_over_eager']:.2f}x eager time",
                          f"torch chunked {r['torch_chunked_over_eager']:.2f}x",
                          f"{r['coursepkg_rss_x_logits']:.3f} x logits"))
    head = ("function", "shape", "dtype", "ratio A", "ratio B", "peak memory")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover
        for line in (head,) + tuple(lines):
            print(" | ".join(line))
        return
    t = Table(*head, title="coursepkg vs SciPy / PyTorch (same run)")
    for line in lines:
        t.add_row(*line)
    Console(width=140).print(t)


#: The suites, in the order they run (``--suites`` picks some).  "accuracy"
#: also writes "accuracy_torch_face".
SUITES = ("accuracy", "softmax", "softmax_busy", "torch_face", "cross_entropy",
          "linear_cross_entropy")


#: glibc's M_TRIM_THRESHOLD and M_MMAP_THRESHOLD (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def steady_allocator() -> str:
    """Keep freed memory in this process's heap (glibc: ``mallopt``), and
    say so for the results.

    With glibc's defaults a 16 MB block comes from ``mmap`` or from the top
    of the heap, and the heap's top is handed back to the system whenever
    it holds more free memory than a threshold that glibc moves as it goes.
    Whether the next call then finds its 16-32 MB already mapped, or takes
    4000-8000 page faults (3-10 ms here) to map it again, depended on the
    order of a few small allocations: the same forward + backward of torch's
    own log_softmax ran at 2.9 ms or at 7-13 ms from one round to the next,
    and coursepkg's likewise, so the ratio measured the allocator's state.
    Both thresholds at 1 GiB switch the moving threshold off; the torch-face
    rows count each side's page faults per run to show it.  (Replacing
    malloc by jemalloc or tcmalloc, the usual advice for PyTorch on CPU, e.g.
    in AMD's ZenDNN user guide, also keeps freed memory for reuse.)
    ``--default-malloc`` measures without it.
    """
    import ctypes

    if platform.libc_ver()[0] != "glibc":
        return f"default ({platform.libc_ver()[0] or 'not glibc'})"
    libc = ctypes.CDLL(None)
    ok = libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30) and libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    if not ok:
        return "glibc default (mallopt refused)"
    return "glibc, M_MMAP_THRESHOLD = M_TRIM_THRESHOLD = 1 GiB (mallopt)"


def release_free_memory() -> None:
    """Hand the heap's free memory back to the system (glibc's
    ``malloc_trim``), so that a resident-set peak measured next counts only
    what is allocated anew."""
    import ctypes

    if platform.libc_ver()[0] == "glibc":
        ctypes.CDLL(None).malloc_trim(0)


def load():
    """The load average and CPU count, recorded with the results."""
    return dict(loadavg=os.getloadavg(), cpus=os.cpu_count())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    parser.add_argument("--repeat", type=int, default=15,
                        help="timed runs after the warm-up (at least 7 unless --quick)")
    parser.add_argument("--suites", default=",".join(SUITES),
                        help="comma-separated suites to run (default: all); with fewer "
                             "than all, the other suites' rows are kept from --out's "
                             "results.json")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's malloc thresholds as they are (see "
                             "steady_allocator)")
    args = parser.parse_args(argv)
    suites = [name.strip() for name in args.suites.split(",") if name.strip()]
    unknown = sorted(set(suites) - set(SUITES))
    if unknown:
        parser.error(f"--suites: unknown {', '.join(unknown)} (choose from {', '.join(SUITES)})")
    repeat = args.repeat if args.quick else max(7, args.repeat)
    if args.quick:
        shapes, ce_shapes, lce, acc = [(64, 100)], [(64, 100), (2, 5, 64)], (
            64, 16, 500), (16, 200)
    else:
        shapes = [(4096, 1000), (512, 32000)]
        ce_shapes = [(4096, 1000), (512, 32000), (16, 21, 65536)]
        lce, acc = (4096, 512, 32000), (256, 4096)
    malloc = "glibc default (--default-malloc)" if args.default_malloc else steady_allocator()
    meta = dict(quick=args.quick, repeat=repeat, start=load(), malloc=malloc,
                python=sys.version.split()[0], numpy=np.__version__,
                torch=torch.__version__, threads=kernels.THREADS,
                torch_threads=torch.get_num_threads(), machine=platform.machine(),
                chunk_bytes=chunked.CHUNK_BYTES,
                compiled={"numpy face": compiled.status(),
                          "torch face": compiled.status(compiled.torch_kind())})
    print(f"load average at start: {meta['start']['loadavg']}", flush=True)
    print(f"compiled log_softmax: {meta['compiled']}", flush=True)
    print(f"malloc: {malloc}", flush=True)
    rows = []
    runs = {
        "accuracy": lambda: accuracy(acc, rows),
        "softmax": lambda: bench_softmax(shapes, repeat, rows),
        "softmax_busy": lambda: bench_busy(shapes, repeat, rows),
        "torch_face": lambda: bench_torch_face(shapes, repeat, rows),
        "cross_entropy": lambda: bench_cross_entropy(ce_shapes, repeat, rows),
        "linear_cross_entropy": lambda: bench_linear_ce(*lce, repeat, rows),
    }
    for name in SUITES:
        if name in suites:
            runs[name]()
    meta["end"] = load()
    if set(suites) != set(SUITES):
        meta["suites"] = suites
        old = args.out / "results.json"
        if old.is_file():  # keep the other suites' rows and say when they ran
            previous = json.loads(old.read_text())
            ran = {r["suite"] for r in rows}
            kept = [r for r in previous["rows"] if r["suite"] not in ran]
            meta["kept_from_earlier_run"] = {
                "suites": sorted({r["suite"] for r in kept}), "meta": previous["meta"]}
            rows = kept + rows
    print(f"load average at end: {meta['end']['loadavg']}")
    table(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps(dict(meta=meta, rows=rows), indent=1))
    keys = sorted({k for r in rows for k in r})
    with open(args.out / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    print(f"saved {args.out / 'results.json'} and results.csv")
    return rows


if __name__ == "__main__":
    main()
