"""Grid geometry: spacing, orientation and lattice fit from the autocorrelogram's peaks.

Part of :mod:`cw.analysis.scores`, whose docstring describes the definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
import scipy.ndimage as ndi

from cw.analysis.lattice import LatticeFitParams
from cw.config import schema_default


@dataclass(frozen=True)
class GridGeometryParams:
    """How grid spacing and orientation are read off the autocorrelogram (OURS).

    n_peaks : number of SAC peaks nearest to the centre that define the grid (6: the inner
        hexagon of Hafting et al. 2005; for a square lattice the 6 nearest are its 4 nearest
        neighbours and 2 diagonal ones, whose median distance is still the lattice spacing).
    min_peak_distance : peaks closer than this to the centre (bins) are ignored (the central
        peak and anything on its flank).
    peak_threshold : a SAC local maximum is a peak only if its correlation exceeds this.
    min_peak_overlap : a peak counts only at a lag where the map and its shifted copy overlap
        on at least this fraction of the map's valid bins. At the extreme lags the correlation
        rests on a few edge bins and reaches 1 for any smooth map that is similar on opposite
        walls (a single central field gets 4 spurious "peaks" at the map's edges). Default 0.08
        (OURS): 0.2 lost the 6 peaks of grids with 1.5-2 periods in the triangle and the
        hexagon; the spurious edge peaks it lets through are rejected by the cell-type rule
        (lattice regularity and field count, :mod:`cw.analysis.celltypes`).
    lattice_min_spacing, lattice_min_periods, lattice_n_spacings, lattice_orientation_step,
    lattice_n_offsets,
    lattice_sharpness : the search of the hexagonal-lattice fit (``lattice_r2``, used by the
        grid-like rule): :class:`cw.analysis.lattice.LatticeFitParams` without the prefix.
    field_threshold : the fields counted by :func:`count_fields` (``n_fields``, used by the
        grid-like rule) are bins at or above this fraction of the map's range (OURS, 0.5: half
        the range separates neighbouring grid fields).
    min_field_bins : ... in 4-connected groups of at least this many bins (OURS, 2: a single
        noisy bin is not a field; a grid field of 5 periods in 1 m covers ~3 bins above half).
    """

    n_peaks: int = schema_default("scores", "geometry", "n_peaks")
    min_peak_distance: float = schema_default("scores", "geometry", "min_peak_distance")
    peak_threshold: float = schema_default("scores", "geometry", "peak_threshold")
    min_peak_overlap: float = schema_default("scores", "geometry", "min_peak_overlap")
    field_threshold: float = schema_default("scores", "geometry", "field_threshold")
    min_field_bins: int = schema_default("scores", "geometry", "min_field_bins")
    lattice_min_spacing: float = schema_default("scores", "geometry", "lattice_min_spacing")
    lattice_min_periods: float = schema_default("scores", "geometry", "lattice_min_periods")
    lattice_n_spacings: int = schema_default("scores", "geometry", "lattice_n_spacings")
    lattice_orientation_step: float = schema_default("scores", "geometry", "lattice_orientation_step")
    lattice_n_offsets: int = schema_default("scores", "geometry", "lattice_n_offsets")
    lattice_sharpness: tuple = schema_default("scores", "geometry", "lattice_sharpness")
    field_fit_widths: tuple = schema_default("scores", "geometry", "field_fit_widths")

    @property
    def lattice(self) -> LatticeFitParams:
        """The lattice-fit search of these settings."""
        return LatticeFitParams(self.lattice_min_spacing, self.lattice_min_periods,
                                self.lattice_n_spacings, self.lattice_orientation_step,
                                self.lattice_n_offsets, self.lattice_sharpness)

    def __post_init__(self):
        object.__setattr__(self, "lattice_sharpness", self.lattice.sharpness)  # validated
        w = np.asarray(self.field_fit_widths, dtype=np.float64) if not isinstance(
            self.field_fit_widths, (str, bytes)) else np.array([np.nan])
        if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w) & (w > 0)):
            raise ValueError("scores.geometry.field_fit_widths: must be a list of numbers > 0 "
                             f"(bins), got {self.field_fit_widths!r}")
        object.__setattr__(self, "field_fit_widths", tuple(float(v) for v in w))
        if int(self.n_peaks) < 3:
            raise ValueError(f"scores.geometry.n_peaks: must be >= 3, got {self.n_peaks!r}")
        if not self.min_peak_distance >= 0:
            raise ValueError("scores.geometry.min_peak_distance: must be >= 0 bins, "
                             f"got {self.min_peak_distance!r}")
        if not 0.0 <= self.min_peak_overlap <= 1.0:
            raise ValueError("scores.geometry.min_peak_overlap: must be in [0, 1], "
                             f"got {self.min_peak_overlap!r}")
        if not 0.0 < self.field_threshold < 1.0:
            raise ValueError("scores.geometry.field_threshold: must be in (0, 1), "
                             f"got {self.field_threshold!r}")
        if isinstance(self.min_field_bins, bool) or int(self.min_field_bins) != self.min_field_bins \
                or self.min_field_bins < 1:
            raise ValueError("scores.geometry.min_field_bins: must be an integer >= 1, "
                             f"got {self.min_field_bins!r}")
        if not -1.0 <= self.peak_threshold < 1.0:
            raise ValueError("scores.geometry.peak_threshold: must be in [-1, 1), "
                             f"got {self.peak_threshold!r}")


def _wrap_deg(a: float, period: float) -> float:
    """``a`` modulo ``period`` in [0, period), with round-off just below ``period`` sent to 0."""
    w = float(a) % period
    return 0.0 if w > period - 1e-9 else w


def _subbin_offset(fm, f0, fp):
    """Vertex offset (in [-0.5, 0.5] bins) of the parabola through three samples."""
    den = fm - 2.0 * f0 + fp
    with np.errstate(invalid="ignore", divide="ignore"):
        off = 0.5 * (fm - fp) / den
    ok = np.isfinite(off) & (den < 0)
    return np.where(ok, np.clip(off, -0.5, 0.5), 0.0)


def _overlap_fraction(valid: np.ndarray) -> np.ndarray:
    """For (U, ny, nx) validity masks: (U, 2ny-1, 2nx-1) number of bins valid in both the map and
    its copy shifted by each lag, divided by the number of valid bins (SAC layout)."""
    m = valid.astype(np.float64)
    ny, nx = m.shape[-2:]
    s = (sfft.next_fast_len(2 * ny - 1, real=True), sfft.next_fast_len(2 * nx - 1, real=True))
    F = sfft.rfft2(m, s=s)
    c = sfft.irfft2(F * np.conj(F), s=s)
    iy = np.arange(-(ny - 1), ny) % s[0]
    ix = np.arange(-(nx - 1), nx) % s[1]
    n = np.rint(c[..., iy, :][..., :, ix])
    tot = m.sum(axis=(-2, -1))[..., None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, n / tot, 0.0)


def grid_geometry(
    sac: np.ndarray,
    bin_size: float = 1.0,
    params: GridGeometryParams = GridGeometryParams(),
    valid: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Grid spacing and orientation from the peaks of spatial autocorrelograms.

    Peaks are the local maxima (3x3 neighbourhood, NaN ignored) of the SAC above
    ``params.peak_threshold``, at least ``params.min_peak_distance`` bins from the centre and
    (if the maps' validity masks ``valid`` are given) at lags where the map overlaps its shifted
    copy on at least ``params.min_peak_overlap`` of its valid bins,
    refined to sub-bin precision by a parabola through the peak and its two neighbours along
    each axis.  Of these, the ``params.n_peaks`` nearest to the centre define the grid:

    * ``grid_spacing`` = median distance of those peaks from the centre, times ``bin_size`` (m);
    * ``grid_orientation60`` = orientation of the hexagonal axes in [0, 60) deg, counter-clockwise
      from the +x axis: ``arg(sum_j exp(6 i theta_j)) / 6`` over the peak angles theta_j (for a
      perfect hexagonal grid, the angle of the first lattice axis);
    * ``grid_orientation90`` = same for a square lattice in [0, 90) deg from the 4 nearest peaks:
      ``arg(sum_j exp(4 i theta_j)) / 4``;
    * ``grid_contrast`` = median over those peaks of ``SAC(peak) - SAC(midpoint between the
      centre and the peak)`` (bilinear interpolation). A lattice has a trough between the
      central peak and each neighbour (contrast ~1 for clean grids, >= 0.35 on the synthetic
      grids with noise as strong as the grid itself); the small ripples that noise puts on a
      smooth SAC (gradients, single fields) give contrast ~0 (<= 0.05 on the maps of briefly
      trained networks that passed the grid-score threshold). Used by :mod:`cw.analysis.celltypes`.

    Fewer than 3 peaks give NaN.

    Parameters
    ----------
    sac : (U, 2*ny-1, 2*nx-1) autocorrelograms (or one 2-D SAC), centre at the middle bin,
        rows = y lag, columns = x lag.
    bin_size : side of a rate-map bin (m); 1.0 returns the spacing in bins.
    valid : (U, ny, nx) or (ny, nx) finite-bin masks of the maps (None: no overlap condition).

    Returns
    -------
    dict with ``grid_spacing``, ``grid_orientation60``, ``grid_orientation90``,
    ``grid_n_peaks`` (number of peaks found, before keeping the nearest n_peaks),
    ``grid_contrast``, and the lattice regularity (NaN with fewer than 4 peaks, i.e. fewer than
    two lattice axes): ``grid_hex_order`` = ``|mean_j exp(6 i theta_j)|`` over the nearest
    n_peaks (1 for a hexagon of peaks, ~0.4 for a square lattice), ``grid_hex_ratio`` = largest /
    smallest distance of those peaks, ``grid_square_order`` = ``|mean exp(4 i theta)|`` and
    ``grid_square_ratio`` over the 4 nearest peaks; all (U,).

    Examples
    --------
    A hexagonal cosine grid of spacing 0.5 m whose first wave vector points along +x (so its
    rows of fields, the grid axes, run at 30 deg):

    >>> import numpy as np
    >>> from cw.synthetic import cosine_lattice
    >>> xc = np.arange(-0.95, 1.0, 0.1)  # centres of 20 bins of 0.1 m across a 2 m square
    >>> X, Y = np.meshgrid(xc, xc)
    >>> from cw.analysis.scores import autocorrelogram
    >>> g = grid_geometry(autocorrelogram(cosine_lattice(X, Y, 0.5, 0.0, 3)), bin_size=0.1)
    >>> round(float(g["grid_spacing"][0]), 2), round(float(g["grid_orientation60"][0]))
    (0.5, 30)
    >>> bool(g["grid_hex_order"][0] > 0.9)
    True
    """
    s = np.asarray(sac, dtype=np.float64)
    if s.ndim == 2:
        s = s[None]
    U, H, W = s.shape
    cy, cx = (H - 1) / 2.0, (W - 1) / 2.0
    f = np.where(np.isfinite(s), s, -np.inf)
    mx = ndi.maximum_filter(f, size=(1, 3, 3), mode="constant", cval=-np.inf)
    peak = (f == mx) & np.isfinite(s) & (s > params.peak_threshold)
    if valid is not None:
        v = np.asarray(valid, dtype=bool)
        if v.ndim == 2:
            v = v[None]
        if v.shape[-2:] != ((H + 1) // 2, (W + 1) // 2):
            raise ValueError(f"valid: shape {v.shape} does not match the SAC shape {s.shape}")
        peak &= _overlap_fraction(v) >= params.min_peak_overlap
    spacing = np.full(U, np.nan)
    o60 = np.full(U, np.nan)
    o90 = np.full(U, np.nan)
    npk = np.zeros(U, dtype=np.int64)
    contrast = np.full(U, np.nan)
    hex_order, hex_ratio = np.full(U, np.nan), np.full(U, np.nan)
    sq_order, sq_ratio = np.full(U, np.nan), np.full(U, np.nan)
    filled = np.where(np.isfinite(s), s, 0.0)
    fpad = np.pad(f, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    for u in range(U):
        iy, ix = np.nonzero(peak[u])
        if iy.size == 0:
            continue
        p = fpad[u]
        f0 = p[iy + 1, ix + 1]
        oy = _subbin_offset(p[iy, ix + 1], f0, p[iy + 2, ix + 1])
        ox = _subbin_offset(p[iy + 1, ix], f0, p[iy + 1, ix + 2])
        dy = iy + oy - cy
        dx = ix + ox - cx
        d = np.hypot(dx, dy)
        keep = d >= max(params.min_peak_distance, 1e-9)
        dx, dy, d = dx[keep], dy[keep], d[keep]
        npk[u] = d.size
        if d.size < 3:
            continue
        order = np.argsort(d, kind="stable")
        near = order[: int(params.n_peaks)]
        theta = np.arctan2(dy[near], dx[near])
        spacing[u] = float(np.median(d[near])) * bin_size
        # lattice contrast: each peak against the SAC halfway back to the centre
        mid = ndi.map_coordinates(filled[u], [cy + 0.5 * dy[near], cx + 0.5 * dx[near]],
                                  order=1, mode="nearest")
        contrast[u] = float(np.median(f0[keep][near] - mid))
        o60[u] = _wrap_deg(np.rad2deg(np.angle(np.sum(np.exp(6j * theta))) / 6.0), 60.0)
        t4 = np.arctan2(dy[order[:4]], dx[order[:4]])
        o90[u] = _wrap_deg(np.rad2deg(np.angle(np.sum(np.exp(4j * t4))) / 4.0), 90.0)
        if d.size >= 4:  # at least two lattice axes (peaks come in point-symmetric pairs)
            hex_order[u] = float(np.abs(np.mean(np.exp(6j * theta))))
            hex_ratio[u] = float(d[near].max() / d[near].min())
            sq_order[u] = float(np.abs(np.mean(np.exp(4j * t4))))
            sq_ratio[u] = float(d[order[:4]].max() / d[order[:4]].min())
    return {"grid_spacing": spacing, "grid_orientation60": o60,
            "grid_orientation90": o90, "grid_n_peaks": npk, "grid_contrast": contrast,
            "grid_hex_order": hex_order, "grid_hex_ratio": hex_ratio,
            "grid_square_order": sq_order, "grid_square_ratio": sq_ratio}


# --------------------------------------------------------------------------
# polygon helpers
# --------------------------------------------------------------------------
