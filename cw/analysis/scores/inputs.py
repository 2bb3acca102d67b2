"""The rate-map inputs every score takes: a stack of maps and the bin size, checked once.

Part of :mod:`cw.analysis.scores`, whose docstring describes the definitions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_stack", "checked_bin_size"]


def checked_bin_size(bin_size, xc: np.ndarray, yc: np.ndarray) -> float:
    """``bin_size`` (m) as a float; a one-line error unless it is a number > 0 and the step of
    the bin centres ``xc``, ``yc``.

    >>> c = np.arange(4) * 0.1 + 0.05
    >>> checked_bin_size(0.1, c, c)
    0.1
    >>> checked_bin_size(0.2, c, c)
    Traceback (most recent call last):
    ...
    ValueError: bin_size: the bin centres x, y are not spaced by bin_size = 0.2
    """
    if isinstance(bin_size, (bool, np.bool_)) or not isinstance(bin_size, (int, float, np.integer, np.floating)) \
            or not bin_size > 0:
        raise ValueError(f"bin_size: must be a number > 0 (m), got {bin_size!r}")
    steps = np.concatenate([np.diff(xc), np.diff(yc)])
    if np.any(np.abs(steps - bin_size) > 1e-6 * bin_size):
        raise ValueError(f"bin_size: the bin centres x, y are not spaced by bin_size = {bin_size}")
    return float(bin_size)


def as_stack(rate) -> np.ndarray:
    """(U, ny, nx) float64 view of a map stack; a single (ny, nx) map becomes U = 1.

    >>> as_stack(np.zeros((3, 4))).shape
    (1, 3, 4)
    """
    r = np.asarray(rate, dtype=np.float64)
    if r.ndim == 2:
        r = r[None]
    if r.ndim != 3:
        raise ValueError(f"rate must be (U, ny, nx), got shape {r.shape}")
    return r
