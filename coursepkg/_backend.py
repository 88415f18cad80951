"""Small helpers shared by every concept module: namespaces, dtypes, checks.

Each concept module is written once against the Array API (``xp`` is the
namespace of the input, from :mod:`array_api_compat`), so the same lines run
on NumPy arrays and on PyTorch tensors.  The helpers here keep the error
messages uniform: every check names the argument and says what was wrong.
"""

from __future__ import annotations

import math

import array_api_compat

__all__ = [
    "namespace",
    "is_torch",
    "check_floating",
    "check_axis",
    "upcast",
    "finfo_eps",
]

_LOW_PRECISION = ("float16", "bfloat16")


def namespace(*arrays):
    """Return the Array API namespace shared by ``arrays``."""
    return array_api_compat.array_namespace(*arrays)


def host_values(x):
    """The values of ``x`` for a data-dependent check.

    Under :func:`torch.func.vmap` (and ``grad``) a tensor is a wrapper
    whose values cannot be read by ``bool()``; the wrapped tensor holds the
    values of every batch entry, which is what a range check needs.  Other
    arrays come back as they are.
    """
    if is_torch(x):
        from torch._C import _functorch

        while _functorch.is_functorch_wrapped_tensor(x):
            x = _functorch.get_unwrapped(x)
    return x


def array_device(x):
    """The device ``x`` lives on (``"cpu"`` for NumPy)."""
    return array_api_compat.device(x)


def is_torch(x) -> bool:
    return array_api_compat.is_torch_array(x)


def _dtype_name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def check_floating(x, name: str):
    """Raise ``TypeError`` unless ``x`` holds real floating-point numbers."""
    xp = namespace(x)
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(
            f"{name} must hold floating-point numbers, got dtype "
            f"{_dtype_name(x.dtype)}; convert it first (e.g. x.astype(float) "
            f"or tensor.float())"
        )


def check_axis(axis, ndim: int, name: str) -> int:
    """Return ``axis`` as a non-negative int, or raise a clear error."""
    if isinstance(axis, bool):  # bool has __index__, but True is no axis
        raise TypeError("axis must be an int, got bool")
    if not isinstance(axis, int):
        try:
            axis = int(axis.__index__())
        except (AttributeError, TypeError):
            raise TypeError(
                f"axis must be an int, got {type(axis).__name__}"
            ) from None
    if ndim == 0:
        raise ValueError(f"{name} must have at least one dimension, got a scalar")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"axis={axis} is out of range for {name} with {ndim} dimension(s)"
        )
    return axis % ndim


def upcast(x):
    """Return ``(x_work, dtype)``: half precision is computed in float32.

    float16 and bfloat16 have too few exponent or mantissa bits to
    accumulate a sum of exponentials; we compute in float32 and the caller
    casts the result back to ``dtype``.
    """
    xp = namespace(x)
    dtype = x.dtype
    if _dtype_name(dtype) in _LOW_PRECISION:
        return xp.astype(x, xp.float32), dtype
    return x, dtype


def downcast(y, dtype):
    xp = namespace(y)
    return y if y.dtype == dtype else xp.astype(y, dtype)


def finfo_eps(dtype) -> float:
    """Machine epsilon of a floating dtype of either backend."""
    if _dtype_name(dtype) == "bfloat16":
        return 2.0**-7
    if _dtype_name(dtype) == "float16":
        return 2.0**-10
    if _dtype_name(dtype) == "float32":
        return 2.0**-23
    return 2.0**-52


def sum_tolerance(dtype, n: int) -> float:
    """Tolerance for "sums to one" checks: loose enough for rounding, tight
    enough to catch an unnormalised vector (sqrt of eps, at least n*eps*8)."""
    eps = finfo_eps(dtype)
    return max(math.sqrt(eps), 8 * max(n, 1) * eps)


def to_last(x, axis: int):
    """Move ``axis`` to the end (a view where the backend allows)."""
    xp = namespace(x)
    return x if axis == x.ndim - 1 else xp.moveaxis(x, axis, -1)


def from_last(y, axis: int):
    xp = namespace(y)
    return y if axis == y.ndim - 1 else xp.moveaxis(y, -1, axis)
