"""Small statistics shared by the analyses."""

from __future__ import annotations

import numpy as np


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of two equal-length 1-D samples; NaN for fewer than 3 values or a
    constant sample.

    Examples
    --------
    >>> pearson([1, 2, 3, 4], [2, 4, 6, 8]), pearson([1, 2, 3], [3, 1, 2])
    (1.0, -0.5)
    >>> pearson([1, 2], [1, 2]), pearson([1, 2, 3], [5, 5, 5])
    (nan, nan)
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.size < 3 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])
