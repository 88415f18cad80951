"""Companion package of the course on softmax, cross-entropy and their gradients.

Two faces expose the same functions with the same semantics::

    from coursepkg import numpy as cnp    # NumPy arrays in and out
    from coursepkg import torch as ctorch  # torch tensors in and out, autograd

The modules read as the course's table of contents: :mod:`~coursepkg.softmax`,
:mod:`~coursepkg.information`, :mod:`~coursepkg.losses`,
:mod:`~coursepkg.logsumexp`, :mod:`~coursepkg.gradients`,
:mod:`~coursepkg.models` and :mod:`~coursepkg.data`.
"""

__version__ = "0.2.0"
