"""The read-out control figure (cw.report.control) on small synthetic sources: the maps shown are
the best by score60 with their scores and types in the titles, the bars are the type fractions,
the training panels draw the score60 summaries per checkpoint, the counts table is right, and
the text fits at the saved size (cw.report.layout)."""

import numpy as np
import pytest
import xarray as xr

from cw.analysis.celltypes import CELL_TYPES
from cw.report import control as c
from cw.report.layout import layout_problems

SQUARE = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])


def _development(path, n_units=12, updates=(0, 10, 100, 1000), readout=None):
    """A development.nc of the shape rule ``development`` writes (the variables the figure reads)."""
    xs = np.linspace(-0.45, 0.45, 10)
    X, Y = np.meshgrid(xs, xs)
    K = len(updates)
    rate = np.stack([[np.cos(2 * np.pi * (u + 1) * X) + k for u in range(n_units)] for k in range(K)])
    score = np.stack([np.linspace(-0.5, 0.5, n_units) + 0.2 * k for k in range(K)])
    ct = np.array([["spatially_irregular"] * n_units] * K, dtype="<U19")
    ct[-1, -2:] = "grid_like"
    ds = xr.Dataset(
        {"rate": (("checkpoint", "unit", "y", "x"), rate), "score60": (("checkpoint", "unit"), score),
         "threshold_score60": (("checkpoint", "unit"), np.full((K, n_units), 0.3)),
         "cell_type": (("checkpoint", "unit"), ct)},
        coords={"update": ("checkpoint", list(updates)), "unit": np.arange(n_units), "x": xs, "y": xs},
        attrs={"arena_corners": SQUARE.ravel(), **({"readout": readout} if readout else {})})
    ds.to_netcdf(path)
    return ds


def _theory(label, types, scores):
    rate = np.random.default_rng(0).random((len(types), 10, 10))
    return c.Source(label, rate, (-0.5, 0.5, -0.5, 0.5), SQUARE, np.asarray(scores, float), np.array(types))


def test_network_source_reads_the_last_checkpoint_and_the_history(tmp_path):
    ds = _development(tmp_path / "development.nc")
    s = c.network_source("net", str(tmp_path / "development.nc"))
    np.testing.assert_array_equal(s.rate, ds["rate"].values[-1])
    np.testing.assert_array_equal(s.score60, ds["score60"].values[-1])
    assert list(s.cell_type).count("grid_like") == 2
    np.testing.assert_array_equal(s.history["checkpoint"], [0, 10, 100, 1000])
    np.testing.assert_array_equal(s.history["grid_like"], [0, 0, 0, 2])
    assert s.extent == pytest.approx((-0.5, 0.5, -0.5, 0.5))
    np.testing.assert_array_equal(s.corners, SQUARE)


def test_best_units_are_by_score60_with_nan_last():
    s = _theory("t", ["grid_like"] * 4, [0.1, np.nan, 0.9, 0.5])
    assert c._best_units(s, 3) == [2, 3, 0]
    assert c._best_units(s, 10) == [2, 3, 0, 1]


def test_counts_table():
    s = _theory("theory", ["grid_like", "grid_like", "grid_like", "border"], [1.2, 1.0, np.nan, -0.2])
    table = c.counts_markdown([s]).splitlines()
    assert table[0].split("|")[3].strip() == "grid-like"
    row = [x.strip() for x in table[2].split("|")[1:-1]]
    assert row[:2] == ["theory", "4"]
    assert row[2] == "3 (75%)" and row[4] == "1 (25%)"  # grid-like, border
    assert row[-1] == "1.00 / 1.20"  # median and largest finite score60
    assert len(row) == len(CELL_TYPES) + 3


def test_figure_panels_data_and_layout(tmp_path):
    _development(tmp_path / "a.nc")
    _development(tmp_path / "b.nc", n_units=40, updates=(0, 5000, 10000), readout="place_cells")
    sources = [c.network_source("Cueva & Wei network, (x, y) read-out", str(tmp_path / "a.nc")),
               c.network_source("place-cell network", str(tmp_path / "b.nc")),
               _theory("theory: place-cell targets", ["grid_like"] * 7 + ["spatially_irregular"], np.linspace(0, 1.4, 8)),
               _theory("theory: (x, y) targets", ["border"] * 2 + ["spatially_irregular"] * 6, np.linspace(-0.3, 0, 8))]
    fig = c.control_figure(sources, n_maps=8)
    map_axes = [ax for ax in fig.axes if ax.images]
    assert len(map_axes) == 4 * 8
    # the first map of the first row is its best unit, titled with its score and type
    assert map_axes[0].get_title() == "1.10 grid-like"  # 0.5 + 0.2 x 3 at the last checkpoint
    np.testing.assert_array_equal(map_axes[0].images[0].get_array().filled(np.nan), sources[0].rate[11])
    bars = [ax for ax in fig.axes if ax.get_xlabel() == "fraction of units (maps)"][0]
    widths = {}
    for p in bars.patches:
        widths.setdefault(p.get_facecolor(), []).append(round(p.get_width(), 6))
    assert sorted(sum(widths.values(), [])) == sorted(
        [round(f, 6) for s in sources for f in c._fractions(s).values()])
    training = [ax for ax in fig.axes if ax.get_xlabel().startswith("training")]
    assert [ax.get_xlabel() for ax in training] == ["training update (0 drawn at 1)", "training step"]
    assert [ax.get_xscale() for ax in training] == ["log", "linear"]
    largest = training[0].lines[0].get_ydata()
    np.testing.assert_allclose(largest, sources[0].history["score60"].max(axis=1))
    assert training[0].get_title().startswith("(a) grid-like units: up to 2, 2 at the last")
    assert layout_problems(fig, 200) == []
