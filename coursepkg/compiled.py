r"""Compiled ``log_softmax``: a fused C kernel, built on first use.

``log_softmax`` with the accuracy the package documents (float32: every
entry, the largest included, within 2 ULP; this kernel gives 0.54) needs
float64 exponentials, and a chain of
array operations that each read and write the whole array costs several
times one fused pass over it (measured: 4.4x torch's own float32
``log_softmax`` at (4096, 1000) on the 2-core machine).  This module
compiles ``csrc/log_softmax.c``, the fused forward and gradient of
:func:`coursepkg.softmax.log_softmax` for C-contiguous rows, with the C
compiler that is on the machine (the one that builds Python's own extension
modules) and caches the library.  It is built twice:

- ``openmp``, for the torch face where PyTorch has loaded a ``libgomp``
  (Linux): its row blocks run on OpenMP threads, and since the library is
  loaded after PyTorch it shares PyTorch's ``libgomp`` and so its worker
  threads (a build that would bring a second ``libgomp`` is not used).  (On
  Python threads, PyTorch's OpenMP workers, still spinning after the
  previous torch operation, took the second core: float32 (4096, 1000)
  forward measured 0.9x to 3.7x torch's time from one run to the next,
  and a steady 1.3x on the shared pool.)
- ``plain``, without OpenMP, for the NumPy face and any other torch: its
  row blocks run on :data:`coursepkg.kernels.THREADS` Python threads
  (``ctypes`` releases the GIL for the call).

The faces use it for float32/float64 arrays on the CPU and fall back to
their array-operation kernels, with the same results within the documented
bounds, when it is not available:

- no C compiler (``CC``, ``cc``, ``gcc`` or ``clang``), a failed build, or a
  library that fails the self-test run at load;
- ``COURSEPKG_COMPILED=0`` in the environment (the tests run both paths).

Settings, all read once, at the first call:

``COURSEPKG_COMPILED``
    ``0``/``off``/``no``/``false`` switches the compiled path off.
``COURSEPKG_ISA``
    ``v4``, ``v3`` or ``baseline``: the widest x86-64 variant to use (the
    library carries all three, x86-64-v4 = AVX-512, x86-64-v3 = AVX2+FMA, and
    picks the widest the CPU runs).  Narrower variants give the same float32
    results up to float64 rounding inside; the portability tests use it to
    compute as a smaller machine would.
``COURSEPKG_CACHE_DIR``
    Where built libraries are kept (default ``$XDG_CACHE_HOME/coursepkg`` or
    ``~/.cache/coursepkg``).  The folder must be this user's and writable by
    nobody else, and the library is loaded only when the very file opened
    (checked on the open file and loaded through ``/proc/self/fd``, so a
    folder renamed in between changes nothing) is this user's and writable
    by nobody else; otherwise, or when the folder cannot be written, the
    build goes to a private temporary folder for this process.  (Without
    ``/proc``, as on macOS, the file is checked, then loaded by its path.)

A compiler that fails or hangs (``BUILD_TIMEOUT``) is reported by
:func:`status` and not retried in that process.

:func:`status` says which path is in use and why.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
import os
import platform
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

__all__ = ["available", "status", "torch_kind", "log_softmax_rows", "log_softmax_grad_rows"]

SOURCE = Path(__file__).with_name("csrc") / "log_softmax.c"
#: Compiler flags.  ``-ffp-contract=fast`` lets the x86-64-v3/v4 variants
#: use FMA (2x the speed of separate multiplies and adds in the polynomial);
#: ``-fno-trapping-math`` lets the clamp in the exponential become a vector
#: blend.  No ``-ffast-math``: the kernels rely on NaN, infinities and the
#: order of their roundings.
FLAGS = ("-O3", "-std=c99", "-ffp-contract=fast", "-fno-trapping-math", "-fPIC", "-shared")
#: The two builds' own flags (see the module's docstring).
KINDS = {"plain": ("-fopenmp-simd",), "openmp": ("-fopenmp",)}
_LEVELS = {"v4": 4, "v3": 3, "baseline": 0}
_SUFFIX = {4: "_v4", 3: "_v3", 0: "_base"}
#: Entries per threaded call: below this a call's Python overhead (a few
#: microseconds) is no longer small against the work.
_BLOCK_MIN = 1 << 16

_lock = threading.Lock()
_states: dict[str, dict] = {}


def _after_fork() -> None:
    # a thread of the parent may have held the lock at the fork
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _off(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("0", "off", "no", "false")


def _compiler() -> list[str] | None:
    cc = os.environ.get("CC")
    if cc:
        return shlex.split(cc)
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return [path]
    return None


def _cache_dir() -> Path:
    if os.environ.get("COURSEPKG_CACHE_DIR"):
        return Path(os.environ["COURSEPKG_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "coursepkg"


def _private(path: Path, *, folder: bool) -> bool:
    """``path`` is a regular file (or a folder) of this user's, not a link,
    that no other user can write."""
    try:
        st = path.lstat()
    except OSError:
        return False
    if stat.S_ISLNK(st.st_mode) or stat.S_ISDIR(st.st_mode) != folder:
        return False
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return False
    return not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _trusted(library: Path) -> bool:
    """A cached library may be loaded: private, in a private folder (nobody
    else can have put it there or swapped it)."""
    return _private(library, folder=False) and _private(library.parent, folder=True)


class BuildError(OSError):
    """The compiler failed, or ran past its time (not a cache problem)."""


#: Seconds for ``cc --version`` and for one compilation (about one second
#: here); a compiler that hangs costs this once per process, not forever.
VERSION_TIMEOUT, BUILD_TIMEOUT = 10, 120


def _build(cc: list[str], kind: str, target: Path) -> None:
    """Compile :data:`SOURCE` to ``target`` (atomically: a temporary name,
    then a rename, so concurrent builds do not see half a library).  A
    compiler that refuses the x86-64-v4/v3 variants (GCC before 11) gets a
    second try with the baseline variant only."""
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    cmd = [*cc, *FLAGS, *KINDS[kind], "-o", str(tmp), str(SOURCE), "-lm"]
    try:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
            if done.returncode != 0:
                cmd.insert(len(cc), "-DCOURSEPKG_BASELINE_ONLY")
                done = subprocess.run(cmd, capture_output=True, text=True,
                                      timeout=BUILD_TIMEOUT)
        except FileNotFoundError as error:
            raise BuildError(f"{shlex.join(cmd)} failed: {error}") from None
        except subprocess.TimeoutExpired:
            raise BuildError(f"{shlex.join(cmd)} ran past {BUILD_TIMEOUT} s") from None
        if done.returncode != 0:
            raise BuildError(f"{shlex.join(cmd)} failed: {done.stderr.strip()[-400:]}")
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _library_name(cc: list[str], kind: str) -> str:
    try:
        version = subprocess.run([*cc, "--version"], capture_output=True, text=True,
                                 timeout=VERSION_TIMEOUT).stdout
    except (OSError, subprocess.SubprocessError):
        version = ""
    key = hashlib.sha256()
    for part in (SOURCE.read_bytes(), shlex.join(cc).encode(), version.encode(),
                 " ".join(FLAGS + KINDS[kind]).encode(), platform.machine().encode(),
                 sys.platform.encode()):
        key.update(part + b"\0")
    return f"log_softmax-{kind}-{key.hexdigest()[:20]}.so"


def _load(path: Path, level: int | None = None) -> dict:
    """The library's entry points for the widest variant the CPU runs, at
    most ``level`` (default: ``COURSEPKG_ISA``'s)."""
    lib = ctypes.CDLL(str(path))
    cpu = int(lib.cp_cpu_level())
    if level is None:
        cap = os.environ.get("COURSEPKG_ISA", "").strip().lower()
        level = _LEVELS[cap] if cap else cpu
    built = [v for v in _SUFFIX if hasattr(lib, f"cp_log_softmax_f32{_SUFFIX[v]}")]
    level = max((v for v in built if v <= min(level, cpu)), default=0)
    suffix = _SUFFIX[level]
    ptr, i64 = ctypes.c_void_p, ctypes.c_int64
    funcs, par = {}, {}
    for dtype in ("f32", "f64"):
        f = getattr(lib, f"cp_log_softmax_{dtype}{suffix}")
        f.argtypes, f.restype = [ptr] * 4 + [i64] * 2, ctypes.c_int
        g = getattr(lib, f"cp_log_softmax_grad_{dtype}{suffix}")
        g.argtypes, g.restype = [ptr] * 5 + [i64] * 2, ctypes.c_int
        funcs[dtype] = (f, g)
        f = getattr(lib, f"cp_par_log_softmax_{dtype}{suffix}")
        f.argtypes, f.restype = [ptr] * 4 + [i64] * 2 + [ctypes.c_int], ctypes.c_int
        g = getattr(lib, f"cp_par_log_softmax_grad_{dtype}{suffix}")
        g.argtypes, g.restype = [ptr] * 5 + [i64] * 2 + [ctypes.c_int], ctypes.c_int
        par[dtype] = (f, g)
    return {"lib": lib, "funcs": funcs, "par": par, "path": str(path), "file": path,
            "cpu_level": cpu, "variant": {4: "x86-64-v4", 3: "x86-64-v3", 0: "baseline"}[level]}


def _load_pinned(path: Path) -> dict:
    """:func:`_load` of ``path`` after checking the file that will be loaded
    (Linux): open it without following links, check its owner and mode on
    the open file, and load that very file through ``/proc/self/fd``.  A
    check of the path followed by a load of the path would let anyone who
    can rename a folder above it swap the file in between."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if (not stat.S_ISREG(st.st_mode)
                or (hasattr(os, "getuid") and st.st_uid != os.getuid())
                or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
            raise PermissionError(f"{path} is not private to this user")
        pinned = Path(f"/proc/self/fd/{fd}")
        state = _load(pinned if pinned.exists() else path)
    except BaseException:
        os.close(fd)
        raise
    # the descriptor stays open for the life of the process: the dynamic
    # loader knows a library by the name it was opened with, and a later
    # library opened as the same /proc/self/fd/N (the number reused after a
    # close) would be taken for this one and never loaded
    state["fd"] = fd
    state["path"] = state["file"] = path
    return state


def _self_test(state) -> None:
    """Known values through the loaded library, serial and parallel entry
    points (a miscompiled build, or an ABI mismatch, is refused here rather
    than giving wrong numbers)."""
    import numpy as np

    x = np.array([[0.0, 0.0, -np.inf], [0.0, -40.0, -800.0]])
    want = [-math.log(2.0), -math.log(2.0), -math.inf,
            -math.log1p(math.exp(-40.0)), -40.0 - math.log1p(math.exp(-40.0)), -800.0]
    for dtype in ("f64", "f32"):
        a = x.astype(np.float64 if dtype == "f64" else np.float32)
        for run in (state["funcs"][dtype][0], lambda *args: state["par"][dtype][0](*args, 2)):
            out, m, lognorm = np.empty_like(a), np.empty(2, a.dtype), np.empty(2)
            rc = run(a.ctypes.data, out.ctypes.data, m.ctypes.data, lognorm.ctypes.data, 2, 3)
            got = out.astype(np.float64).ravel().tolist()
            tol = 1e-15 if dtype == "f64" else 6e-8
            if rc != 0 or not all(g == w or abs(g - w) <= tol * abs(w)
                                  for g, w in zip(got, want)):
                raise OSError(f"self-test failed for {dtype}: got {got}")


def _settings() -> None:
    """Refuse misspelt settings rather than ignore them."""
    switch = os.environ.get("COURSEPKG_COMPILED", "").strip().lower()
    if switch not in ("", "1", "on", "yes", "true", "0", "off", "no", "false"):
        raise ValueError(f"COURSEPKG_COMPILED must be 0/off or 1/on, got {switch!r}")
    cap = os.environ.get("COURSEPKG_ISA", "").strip().lower()
    if cap and cap not in _LEVELS:
        raise ValueError(f"COURSEPKG_ISA must be one of {', '.join(_LEVELS)}, got {cap!r}")


def _initialise(kind: str) -> dict:
    _settings()
    if _off("COURSEPKG_COMPILED"):
        return {"reason": "switched off by COURSEPKG_COMPILED"}
    if not SOURCE.is_file():
        return {"reason": f"source {SOURCE} is missing"}
    cc = _compiler()
    if cc is None:
        return {"reason": "no C compiler found (set CC, or install gcc or clang)"}
    name = _library_name(cc, kind)
    cache = _cache_dir()
    private = None
    before = _mapped_libgomp()
    try:
        try:  # the user's cache
            cache.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not _private(cache, folder=True):
                raise PermissionError(f"{cache} is not private to this user")
            if not _trusted(cache / name):
                _build(cc, kind, cache / name)
            state = _load_pinned(cache / name)
        except BuildError:
            raise
        except OSError:  # a shared, read-only or tampered cache: build privately
            private = Path(tempfile.mkdtemp(prefix="coursepkg-"))
            _build(cc, kind, private / name)
            state = _load_pinned(private / name)
            state["path"] = f"{state['path']} (a private build: the cache folder was not usable)"
    except BuildError as error:
        return {"reason": f"build failed: {error}"}
    except (OSError, AttributeError) as error:  # AttributeError: a missing entry point
        return {"reason": f"load failed: {error}"}
    finally:
        if private is not None:  # a loaded library stays mapped
            shutil.rmtree(private, ignore_errors=True)
    if kind == "openmp" and before and _mapped_libgomp() != before:
        # a second OpenMP runtime: its threads would compete with torch's
        return {"reason": "the OpenMP build loaded a libgomp other than torch's: "
                          + ", ".join(sorted(_mapped_libgomp() - before))}
    try:
        _self_test(state)
    except (OSError, AttributeError) as error:
        return {"reason": f"load failed: {error}"}
    return state


def _get(kind: str) -> dict:
    state = _states.get(kind)
    if state is None:
        with _lock:
            state = _states.get(kind)
            if state is None:
                state = _states[kind] = _initialise(kind)
    return state


def _mapped_libgomp() -> set[str]:
    """The libgomp files this process has loaded (Linux)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return set()
    return {line.split()[-1] for line in maps.splitlines()
            if os.path.basename(line.split()[-1]).startswith("libgomp")}


def torch_kind() -> str:
    """The build for the torch face: ``openmp`` where PyTorch already runs
    on a loaded ``libgomp`` (Linux) and the OpenMP build, once loaded, uses
    that same one (its worker threads are then torch's); else ``plain``."""
    state = _states.get("torch-kind")
    if state is None:
        import torch  # noqa: F401  (loads torch's libgomp, if it has one)

        kind = "plain"
        if sys.platform.startswith("linux") and _mapped_libgomp():
            if "funcs" in _get("openmp"):
                kind = "openmp"
        state = _states["torch-kind"] = {"kind": kind}
    return state["kind"]


def available(kind: str = "plain") -> bool:
    """Whether the compiled kernels of build ``kind`` are in use (builds
    them on the first call)."""
    return "funcs" in _get(kind)


def status(kind: str = "plain") -> str:
    """One line: the library and variant in use, or why the faces use their
    array-operation kernels instead."""
    s = _get(kind)
    if "funcs" in s:
        return f"compiled ({kind}, {s['variant']}): {s['path']}"
    return f"not compiled: {s['reason']}"


def _dtype_name(dtype) -> str:
    name = str(dtype).rsplit(".", 1)[-1]
    return {"float32": "f32", "float64": "f64"}[name]


def _split(rows: int, cols: int, threads: int):
    """Row ranges for ``threads`` workers: about four per worker, so a
    worker on a busy core takes fewer of them, none under ``_BLOCK_MIN``."""
    if threads <= 1 or rows * cols < 2 * _BLOCK_MIN:
        return [(0, rows)]
    per = max(1, -(-_BLOCK_MIN // max(cols, 1)), -(-rows // (4 * threads)))
    return [(i, min(i + per, rows)) for i in range(0, rows, per)]


def _parallel(call, ranges, threads: int) -> list:
    if len(ranges) == 1:
        return [call(*ranges[0])]
    from .kernels import _pool

    shared = iter(ranges)

    def worker():
        return [call(*r) for r in shared]  # next() on one iterator: atomic under the GIL

    futures = [_pool().submit(worker) for _ in range(min(threads, len(ranges)) - 1)]
    results = worker()
    for f in futures:
        results += f.result()
    return results


def log_softmax_rows(x, out, m, lognorm, *, dtype, rows: int, cols: int,
                     threads: int, kind: str = "plain") -> bool:
    """Fill ``out`` (rows, cols), ``m`` (rows,) and ``lognorm`` (rows,
    float64) for C-contiguous ``x``; all are addresses (``int``) of
    buffers of ``dtype`` (float32 or float64), which the caller keeps
    alive.  False when a row's maximum is not finite or a row holds a NaN
    (the caller's teaching version documents those)."""
    state, name = _get(kind), _dtype_name(dtype)
    if kind == "openmp":
        return not state["par"][name][0](x, out, m, lognorm, rows, cols, threads)
    forward, size = state["funcs"][name][0], 4 if name == "f32" else 8

    def call(start, stop):
        return forward(x + start * cols * size, out + start * cols * size, m + start * size,
                       lognorm + start * 8, stop - start, cols)

    return not any(_parallel(call, _split(rows, cols, threads), threads))


def log_softmax_grad_rows(x, m, lognorm, g, grad, *, dtype, rows: int, cols: int,
                          threads: int, kind: str = "plain") -> None:
    """``grad = g - softmax(x) * sum(g)`` row by row, from the ``m`` and
    ``lognorm`` of :func:`log_softmax_rows` (addresses, as there)."""
    state, name = _get(kind), _dtype_name(dtype)
    if kind == "openmp":
        failed = state["par"][name][1](x, m, lognorm, g, grad, rows, cols, threads)
    else:
        backward, size = state["funcs"][name][1], 4 if name == "f32" else 8

        def call(start, stop):
            off = start * cols * size
            return backward(x + off, m + start * size, lognorm + start * 8, g + off,
                            grad + off, stop - start, cols)

        failed = any(_parallel(call, _split(rows, cols, threads), threads))
    if failed:  # its row of float64 scratch
        raise MemoryError(f"log_softmax's gradient: no memory for {cols} float64 numbers")
