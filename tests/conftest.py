"""Fixtures of the unit tests; the helpers they use live in ``support.py``.

(Test modules import helpers with ``from support import ...``: a module
named ``conftest`` is not unique in this tree, so it is not importable.)
"""

from __future__ import annotations

import numpy as np
import pytest
from support import BACKENDS, LOW_PRECISION, Backend


@pytest.fixture(params=BACKENDS, ids=lambda b: b.label)
def backend(request) -> Backend:
    """The NumPy face, the torch face, and the core code on each array type."""
    return request.param


@pytest.fixture(params=LOW_PRECISION, ids=lambda bd: f"{bd[0].label}-{bd[1]}")
def lowp(request):
    """``(backend, dtype)`` for every reduced-precision dtype of each face."""
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)
