"""Synthetic rate maps with known structure: the ground truth of the score tests and benchmarks."""

from __future__ import annotations

import numpy as np


def cosine_lattice(
    x: np.ndarray,
    y: np.ndarray,
    spacing: float,
    orientation_deg: float,
    n_waves: int,
    phase: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Sum of plane cosine waves at the points (x, y).

    Parameters
    ----------
    x, y : arrays of the same shape, positions (any length unit)
    spacing : for ``n_waves = 3`` the distance between neighbouring vertices of the hexagonal grid
        (waves 60 degrees apart, wave number 4 pi / (sqrt(3) spacing)); for 2 the period of the
        square lattice (waves 90 degrees apart); for 1 the wavelength of the plane wave
    orientation_deg : direction of the first wave vector, degrees
    n_waves : 3 (hexagonal grid), 2 (square lattice) or 1 (plane wave, a band)
    phase : offset (x0, y0) of the lattice, same unit as x and y

    Returns
    -------
    array of the shape of x, values in [-n_waves, n_waves]

    Examples
    --------
    With the first wave vector along x, the grid's vertices lie at 30 and 90 degrees from the
    origin, ``spacing`` apart; every vertex is a peak (all three waves at 1), the midpoint between
    two neighbouring vertices a saddle (1 - 1 - 1); a square lattice repeats after one period:

    >>> import numpy as np
    >>> s = 0.5
    >>> vertices = s * np.array([[0.0, 0.0], [np.sqrt(3) / 2, 0.5], [0.0, 1.0]])
    >>> np.round(cosine_lattice(vertices[:, 0], vertices[:, 1], s, 0.0, 3), 12).tolist()
    [3.0, 3.0, 3.0]
    >>> round(float(cosine_lattice(np.array(0.0), np.array(s / 2), s, 0.0, 3)), 12)
    -1.0
    >>> x = np.linspace(0, 1, 7)
    >>> bool(np.allclose(cosine_lattice(x, x, 0.3, 20.0, 2),
    ...                  cosine_lattice(x + 0.3 * np.cos(np.deg2rad(20)), x + 0.3 * np.sin(np.deg2rad(20)),
    ...                                 0.3, 20.0, 2)))
    True
    """
    if n_waves not in (1, 2, 3):
        raise ValueError(f"n_waves: must be 1, 2 or 3, got {n_waves}")
    if n_waves == 3:
        k, step = 4 * np.pi / (np.sqrt(3) * spacing), 60.0
    else:
        k, step = 2 * np.pi / spacing, 90.0
    z = np.zeros(np.shape(x))
    for i in range(n_waves):
        a = np.deg2rad(orientation_deg + step * i)
        z += np.cos(k * (np.cos(a) * (np.asarray(x) - phase[0]) + np.sin(a) * (np.asarray(y) - phase[1])))
    return z
