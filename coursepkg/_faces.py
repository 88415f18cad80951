"""Building the two public faces from the backend-neutral functions.

Each concept module is written once; a face wraps each function so that
its array arguments are checked (and, for NumPy, converted from lists)
before the shared code runs.  The wrapper keeps the name, signature and
docstring of the function it wraps.
"""

from __future__ import annotations

import functools
import inspect


def expose(func, convert, array_params):
    """Wrap ``func`` so that each parameter in ``array_params`` passes through
    ``convert(value, name)`` (``None`` values are left alone)."""
    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{func.__name__}(): {exc}") from None
        for name in array_params:
            value = bound.arguments.get(name)
            if value is not None:
                bound.arguments[name] = convert(value, name)
        return func(*bound.args, **bound.kwargs)

    return wrapper
