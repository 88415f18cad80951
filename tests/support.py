"""Shared test support: one suite, run over both faces of ``coursepkg``.

``backend`` is parametrized over the NumPy face and the torch face; each
test writes its inputs with ``backend.array`` and reads results back with
``backend.to_numpy``, so the same lines check both faces.  References
(SciPy, ``torch.nn.functional``, closed forms) are always computed
independently of the code under test.

Hypothesis runs under the ``"course"`` profile: derandomized (the same
examples on every run, so CI is reproducible), a modest number of examples
and no deadline (the first torch call is slow).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType, SimpleNamespace

import numpy as np
import torch
from hypothesis import HealthCheck, settings

from coursepkg import gradients as _gradients
from coursepkg import information as _information
from coursepkg import logsumexp as _logsumexp
from coursepkg import losses as _losses
from coursepkg import numpy as cnp
from coursepkg import softmax as _softmax
from coursepkg import torch as ctorch

settings.register_profile(
    "course",
    derandomize=True,
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("course")

# float16/bfloat16 keep few digits; everything else is checked in float64.
TORCH_DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
EPS = {
    "float64": 2.0**-52,
    "float32": 2.0**-23,
    "float16": 2.0**-10,
    "bfloat16": 2.0**-7,
}


@dataclass(frozen=True)
class Backend:
    """One face of the package plus helpers to feed it and read it back."""

    name: str  # the array type: "numpy" or "torch"
    mod: ModuleType | SimpleNamespace
    label: str = ""

    def __post_init__(self):
        if not self.label:
            object.__setattr__(self, "label", self.name)

    def array(self, values, dtype="float64"):
        """Make an array of this backend (``dtype`` by name)."""
        if self.name == "numpy":
            if dtype == "bfloat16":
                raise ValueError("NumPy has no bfloat16")
            return np.asarray(values, dtype=dtype)
        if isinstance(values, torch.Tensor):
            return values.to(TORCH_DTYPES.get(dtype, dtype))
        return torch.tensor(np.asarray(values), dtype=TORCH_DTYPES.get(dtype, dtype))

    def index(self, values):
        """Integer class indices (int64, as torch requires)."""
        if self.name == "numpy":
            return np.asarray(values, dtype=np.int64)
        return torch.tensor(np.asarray(values, dtype=np.int64))

    def to_numpy(self, a):
        """Back to a float64 NumPy array (scalars become 0-d arrays)."""
        if isinstance(a, torch.Tensor):
            return a.detach().to(torch.float64).numpy()
        return np.asarray(a, dtype=np.float64)

    def dtype_name(self, a) -> str:
        return str(a.dtype).removeprefix("torch.")

    @property
    def dtypes(self):
        """Floating dtypes this backend has."""
        if self.name == "numpy":
            return ("float64", "float32", "float16")
        return ("float64", "float32", "float16", "bfloat16")


# The core modules themselves, called with NumPy arrays or torch tensors:
# the NumPy face dispatches float32/float64 to the fast kernels and the torch
# face's loss may take torch's fused path, so the shared teaching code is
# checked on its own as well (same semantics, same tests).
CORE = SimpleNamespace(
    **{
        name: getattr(module, name)
        for module in (_gradients, _information, _logsumexp, _losses, _softmax)
        for name in module.__all__
    }
)

NUMPY = Backend("numpy", cnp)
TORCH = Backend("torch", ctorch)
NUMPY_CORE = Backend("numpy", CORE, label="numpy-core")
TORCH_CORE = Backend("torch", CORE, label="torch-core")
BACKENDS = (NUMPY, TORCH, NUMPY_CORE, TORCH_CORE)
# the two public faces only (models and data are not core functions)
FACES = (NUMPY, TORCH)


LOW_PRECISION = [
    (b, d) for b in BACKENDS for d in b.dtypes if d != "float64"
]


def assert_close(actual, expected, *, rtol=1e-12, atol=1e-12, msg=""):
    """``np.testing.assert_allclose`` that also requires equal NaN/inf places."""
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64),
        np.asarray(expected, dtype=np.float64),
        rtol=rtol,
        atol=atol,
        equal_nan=True,
        err_msg=msg,
    )


def dtype_tol(dtype: str, k: float = 8.0) -> float:
    """A tolerance of ``k`` machine epsilons of ``dtype``."""
    return k * EPS[dtype]
