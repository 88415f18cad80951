"""Settings that make this machine compute like another one.

The stored outputs of the chapters must be the same on any reader's machine.
What changes from one machine to the next is which SIMD loops NumPy, PyTorch,
MKL, oneDNN and OpenBLAS pick, and how many threads split a sum.  Every one
of them can be told, through the environment, to behave as on a smaller
machine; each configuration below is one such machine.  They are computed
from what this machine has (``numpy``'s CPU feature tables, ``uname -m``),
so the same names work on x86-64 and ARM.

What cannot be emulated: a *larger* machine (SIMD this CPU lacks, such as
AVX512-FP16 on a machine without it), a different CPU vendor's microcode,
another build of a library (a NumPy linked to MKL instead of OpenBLAS), and
another operating system's ``libm``.  The chapters guard against those by
printing only what cannot change: bounds, booleans, rounded values.

``python tests/portability.py`` prints the configurations.
"""

from __future__ import annotations

import os
import platform


def _numpy_dispatch() -> tuple[list[str], list[str], bool]:
    """NumPy's dispatch targets this CPU supports: (all, the AVX-512 or SVE
    ones, whether the CPU has AVX2)."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    have = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
    wide = [f for f in have if f.startswith("AVX512") or f in ("X86_V4", "SVE")]
    return have, wide, bool(__cpu_features__.get("AVX2"))


def configurations() -> dict[str, dict[str, str]]:
    """Environment overrides, by name, of each emulated machine."""
    have, wide, avx2 = _numpy_dispatch()
    one_thread = {
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "COURSEPKG_THREADS": "1",
    }
    # NumPy without its widest loops (AVX-512 on x86, SVE on ARM) ...
    narrower = {"NPY_DISABLE_CPU_FEATURES": " ".join(wide)}
    # ... and with its baseline only
    baseline = {"NPY_DISABLE_CPU_FEATURES": " ".join(have), "COURSEPKG_ISA": "baseline"}
    if platform.machine().lower() in ("x86_64", "amd64"):
        if avx2:  # an AVX2 machine (on an older CPU, asking for AVX2 would crash)
            narrower.update({
                "ATEN_CPU_CAPABILITY": "avx2",
                "MKL_ENABLE_INSTRUCTIONS": "AVX2", "MKL_CBWR": "AVX2",
                "ONEDNN_MAX_CPU_ISA": "AVX2",
                "OPENBLAS_CORETYPE": "Haswell",
                "COURSEPKG_ISA": "v3",  # the compiled log_softmax's AVX2 variant
            })
        baseline.update({  # torch's scalar (non-vectorised) kernels, SSE4.2 BLAS
            "ATEN_CPU_CAPABILITY": "default",
            "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "MKL_CBWR": "SSE4_2",
            "ONEDNN_MAX_CPU_ISA": "SSE41",
            "OPENBLAS_CORETYPE": "Nehalem",
        })
    else:  # ARM
        narrower["ATEN_CPU_CAPABILITY"] = "default"
        baseline.update({"ATEN_CPU_CAPABILITY": "default", "OPENBLAS_CORETYPE": "ARMV8"})
    configs = {"narrower-simd": narrower, "baseline-simd": baseline,
               "one-thread": one_thread}
    for env in configs.values():  # nothing to disable: leave NumPy alone
        if env.get("NPY_DISABLE_CPU_FEATURES") == "":
            del env["NPY_DISABLE_CPU_FEATURES"]
    return configs


def environment(name: str) -> dict[str, str]:
    """``os.environ`` with configuration ``name`` applied."""
    env = dict(os.environ)
    env.update(configurations()[name])
    return env


if __name__ == "__main__":  # pragma: no cover - a helper for people
    for name, env in configurations().items():
        print(name)
        for key, value in env.items():
            print(f"    {key}={value}")
