"""Cell-type rule (cw.analysis.celltypes): precedence on hand-made scores, and end to end on synthetic
units driven by position along real trajectories (square and triangle arenas)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from cw.task.arenas import make_arena
from cw.analysis.celltypes import (
    CELL_TYPES,
    CellTypeParams,
    celltype_dataset,
    classify,
    counts_dataset,
    type_counts,
)
from cw.analysis.ratemaps import RatemapParams
from cw.analysis.scores import SCORE_NAMES, ScoreParams
from cw.analysis.shuffles import ShuffleParams
from cw.analysis.units import AnalysisSettings, analyse_units
from cw.task.trajectories import TrajectoryParams, generate_trials


def _scores(**kw):
    base = {"spatial_variance_fraction": 0.5, "band_score": 0.0, "border_score": -1.0,
            "score60": 0.0, "score90": 0.0, "grid_contrast": 0.8,
            "spatial_coherence": 0.9, "grid_hex_order": 0.97, "grid_hex_ratio": 1.05,
            "grid_square_order": 0.97, "grid_square_ratio": 1.05, "n_fields": 6,
            "band_periods": 2.5, "band_wave_r2": 0.8, "band_ramp_r2": 0.1,
            "border_cm": 1.0, "border_profile_r2": 0.85, "border_profile_halfwidth": 0.14,
            "lattice_r2": 0.8, "square_lattice_r2": 0.8, "field_r2": 0.2}
    base.update(kw)
    return {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in base.items()}


ALL_SIG = {n: np.array([True]) for n in SCORE_NAMES}


@pytest.mark.parametrize("kw, sig_off, expected", [
    ({}, (), "spatially_irregular"),
    ({"score60": 0.8}, (), "grid_like"),
    ({"score90": 0.8}, (), "grid_like"),
    ({"score60": 0.8, "lattice_r2": 0.3}, (), "spatially_irregular"),   # no lattice fits the map
    ({"score60": 0.8, "lattice_r2": np.nan}, (), "spatially_irregular"),
    ({"score60": 0.8, "lattice_r2": -0.8}, (), "grid_like"),           # low activity forms it
    ({"score60": 0.8, "field_r2": 0.75}, (), "spatially_irregular"),   # one field fits as well
    ({"score60": 0.8, "grid_contrast": 0.05}, (), "grid_like"),        # SAC contrast: squares only
    ({"score90": 0.8, "grid_contrast": 0.05}, (), "spatially_irregular"),  # no lattice in the SAC
    ({"score90": 0.8, "grid_contrast": np.nan}, (), "spatially_irregular"),
    ({"score60": 0.8}, ("score60",), "spatially_irregular"),           # not above its null
    ({"score60": 0.2}, (), "spatially_irregular"),                     # below the minimum
    ({"border_score": 0.7, "score60": 0.8}, (), "grid_like"),          # grid before border
    ({"border_score": 0.7, "score60": 0.8, "lattice_r2": 0.4}, (), "border"),  # no lattice
    ({"border_score": 0.7}, (), "border"),
    ({"border_score": 0.7, "border_profile_r2": 0.3}, (), "spatially_irregular"),  # no wall profile
    ({"border_score": 0.7, "border_profile_halfwidth": 0.6}, (), "spatially_irregular"),  # ramp
    ({"border_score": 0.7, "border_cm": 0.2}, (), "spatially_irregular"),  # covers little wall
    ({"border_score": 0.7, "spatial_coherence": 0.1}, (), "spatially_irregular"),  # salt-and-pepper
    ({"score60": 0.8, "n_fields": 1}, (), "spatially_irregular"),          # a single field
    ({"score60": 0.8, "spatial_coherence": 0.1}, (), "spatially_irregular"),  # no contiguous fields
    ({"score60": 0.8, "spatial_coherence": -0.5, "lattice_spacing": 0.3}, (), "grid_like"),  # a fine grid
    ({"score60": 0.8, "spatial_coherence": -0.5, "lattice_spacing": 0.5}, (), "spatially_irregular"),
    ({"score60": 0.8, "spatial_coherence": -0.5, "lattice_spacing": 0.3, "lattice_r2": 0.3}, (),
     "spatially_irregular"),                                              # fine, but no lattice
    ({"score90": 0.8, "spatial_coherence": 0.1, "square_lattice_spacing": 0.3}, (), "grid_like"),
    ({"border_score": 0.7, "spatial_coherence": 0.1, "lattice_spacing": 0.3}, (), "spatially_irregular"),
    ({"score90": 0.8, "grid_square_order": 0.5}, (), "spatially_irregular"),
    ({"score90": 0.8, "n_fields": 2}, (), "spatially_irregular"),
    ({"score90": 0.8, "square_lattice_r2": 0.55}, (), "spatially_irregular"),  # no square lattice
    ({"score90": 0.8, "field_r2": 0.75}, (), "spatially_irregular"),
    ({"score60": 0.34}, (), "spatially_irregular"),                    # below 0.37
    ({"band_score": 0.6}, (), "band_like"),
    ({"band_score": 0.6, "band_periods": 1.2}, (), "spatially_irregular"),  # no repeat
    ({"band_score": 0.6, "band_ramp_r2": 0.7}, (), "spatially_irregular"),  # a ramp fits better
    ({"band_score": 0.6, "border_score": 0.7, "score90": 0.5}, (), "band_like"),  # band first
    ({"band_score": 0.6}, ("band_score",), "spatially_irregular"),
    ({"score60": 1.2}, ("spatial_variance_fraction",), "non_spatial"),
    ({"score60": 1.2, "spatial_variance_fraction": 0.05}, (), "non_spatial"),
    ({"spatial_variance_fraction": np.nan}, (), "non_spatial"),
])
def test_rule_and_precedence(kw, sig_off, expected):
    sig = {n: np.array([n not in sig_off]) for n in SCORE_NAMES}
    assert classify(_scores(**kw), sig)[0] == expected


def test_score90_switch_and_counts():
    s = _scores(score90=0.9)
    assert classify(s, ALL_SIG, CellTypeParams(use_score90=False))[0] == "spatially_irregular"
    ct = np.array(["border", "grid_like", "border", "non_spatial"])
    assert type_counts(ct) == {"grid_like": 1, "band_like": 0, "border": 2,
                               "spatially_irregular": 0, "non_spatial": 1}
    ds = counts_dataset(ct)
    assert list(ds["cell_type_label"].values) == list(CELL_TYPES)
    assert ds["type_count"].sum() == 4 and ds["type_fraction"].sel(cell_type_label="border") == 0.5
    with pytest.raises(ValueError, match="unknown cell type"):
        type_counts(np.array(["place"]))


def test_params_validation():
    with pytest.raises(ValueError, match="celltypes.min_spatial_variance_fraction"):
        CellTypeParams(min_spatial_variance_fraction=1.5)
    with pytest.raises(ValueError, match="celltypes.use_score90"):
        CellTypeParams(use_score90="yes")
    with pytest.raises(ValueError, match="celltypes.min_grid_score"):
        CellTypeParams(min_grid_score=float("nan"))
    with pytest.raises(ValueError, match="celltypes.min_grid_contrast"):
        CellTypeParams(min_grid_contrast="high")
    with pytest.raises(ValueError, match="celltypes.foo: unknown key"):
        CellTypeParams.from_dict({"foo": 1})


def _wave(x, y, spacing, theta, n):
    if n == 3:
        k, step = 4 * np.pi / (np.sqrt(3) * spacing), 60.0
    else:
        k, step = 2 * np.pi / spacing, 90.0
    return sum(np.cos(k * (np.cos(a) * (x - 0.03) + np.sin(a) * (y + 0.02)))
               for a in np.deg2rad(theta + step * np.arange(n)))


@pytest.mark.parametrize("name, spec", [
    ("square", {"shape": "square", "side": 1.0}),
    ("triangle", {"shape": "triangle", "side": 1.5}),
])
def test_synthetic_units_get_their_types(name, spec):
    arena = make_arena(name, spec)
    rng = np.random.default_rng(21)
    tr = generate_trials(arena, 160, TrajectoryParams(), rng)
    pos = tr.position.reshape(-1, 2).astype(np.float64)
    x, y = pos[:, 0], pos[:, 1]
    walls = arena.wall_distances(pos)  # (S, K)
    units = {
        "grid_like": [_wave(x, y, 0.35, 10.0, 3), _wave(x, y, 0.3, 40.0, 3)],
        "band_like": [_wave(x, y, 0.3, 20.0, 1), _wave(x, y, 0.4, 100.0, 1)],
        "border": [2 * np.exp(-walls[:, 0] ** 2 / (2 * 0.05**2)),
                   -2 * np.exp(-walls[:, 1] ** 2 / (2 * 0.07**2))],   # low-activity border
        "spatially_irregular": [2 * np.exp(-((x - 0.05) ** 2 + (y - 0.02) ** 2) / (2 * 0.15**2))],
        "non_spatial": [np.zeros_like(x), np.zeros_like(x)],
    }
    if name == "square":
        units["grid_like"].append(_wave(x, y, 0.3, 0.0, 2))  # square lattice: score90
    expected = [t for t, fs in units.items() for _ in fs]
    sig = np.stack([f for fs in units.values() for f in fs], axis=1)
    a = np.exp(-1.0 / 20.0)
    noise = scipy.signal.lfilter([1.0], [1.0, -a], rng.normal(size=sig.shape) * np.sqrt(1 - a * a), axis=0)
    act = np.tanh(0.4 * sig + 0.15 * noise).astype(np.float32)
    # arenas of ~1 m^2 at 0.05-m bins: the metre settings at half the 2-m arenas' values
    settings = AnalysisSettings(RatemapParams(bin_size=0.05),
                                ScoreParams.from_dict({"border": {"min_field_area": 0.02}}),
                                ShuffleParams(n_shuffles=40, min_shift=500),
                                CellTypeParams(max_border_halfwidth=0.15))
    ds, rate = analyse_units(x, y, act, arena, settings, np.random.default_rng(4))
    got = list(ds["cell_type"].values)
    assert got == expected, list(zip(expected, got, ds["score60"].values.round(2),
                                     ds["band_score"].values.round(2),
                                     ds["border_score"].values.round(2)))
    assert rate.dims == ("unit", "y", "x") and rate.shape[0] == len(expected)
    counts = {t: expected.count(t) for t in CELL_TYPES}
    assert {t: ds.attrs[f"count_{t}"] for t in CELL_TYPES} == counts
    np.testing.assert_array_equal(ds["type_count"].values, [counts[t] for t in CELL_TYPES])
    for n in SCORE_NAMES:
        assert ds[f"null_{n}"].shape == (40, len(expected))
        assert ds[f"threshold_{n}"].dims == ("unit",)
    assert "celltypes_rule" in ds.attrs and ds.attrs["shuffles_n_shuffles"] == 40


def test_celltype_dataset_attrs():
    s = _scores(score60=[0.9, 0.0], spatial_variance_fraction=[0.5, 0.5], band_score=[0, 0],
                border_score=[-1, -1], score90=[0, 0], grid_contrast=[0.8, 0.8])
    sig = {n: np.array([True, True]) for n in SCORE_NAMES}
    ds = celltype_dataset(s, sig, np.array([7, 8]))
    assert list(ds["cell_type"].values) == ["grid_like", "spatially_irregular"]
    assert ds.attrs["count_grid_like"] == 1 and ds.attrs["celltypes_min_border_score"] == 0.5
    assert list(ds["unit"].values) == [7, 8]


def test_analyse_scores_file_to_file(tmp_path):
    import xarray as xr

    from cw import io
    from cw.steps.analysis import analyse_scores

    arena_cfg = {"name": "hexagon", "shape": "hexagon", "side": 0.6}
    arena = make_arena("hexagon", {"shape": "hexagon", "side": 0.6})
    rng = np.random.default_rng(8)
    tr = generate_trials(arena, 40, TrajectoryParams(), rng)
    x, y = tr.position[..., 0], tr.position[..., 1]
    u = np.stack([np.tanh(_wave(x, y, 0.3, 5.0, 3)), np.tanh(_wave(x, y, 0.3, 50.0, 1)),
                  0.1 * rng.normal(size=x.shape)], axis=-1).astype(np.float32)
    act = xr.Dataset({"u": (("trial", "time", "unit"), u), "x": (("trial", "time"), x),
                      "y": (("trial", "time"), y)}, coords={"unit": [0, 1, 2]})
    io.write_netcdf(act, tmp_path / "activity.nc")
    analysis = {"ratemaps": {"bin_size": 0.05, "min_occupancy": 2, "smoothing_sigma": 0.5},
                "scores": {"variant": "minmax", "border": {"polarity": "positive"}},
                "shuffles": {"n_shuffles": 12, "min_shift": 500}, "celltypes": {"min_grid_score": 0.4}}
    analyse_scores(str(tmp_path / "activity.nc"), str(tmp_path / "scores.nc"), arena_cfg, analysis, seed=9)
    ds = io.open_dataset(tmp_path / "scores.nc")
    assert list(ds["cell_type"].values) == ["grid_like", "band_like", "non_spatial"]
    assert ds.attrs["count_grid_like"] == 1 and ds.attrs["count_non_spatial"] == 1
    assert ds.attrs["grid_score_variant"] == "minmax" and ds.attrs["border_polarity"] == "positive"
    assert ds.attrs["ratemaps_smoothing_sigma"] == 0.5 and ds.attrs["celltypes_min_grid_score"] == 0.4
    assert ds.attrs["seed"] == 9 and "params_shuffles" in ds.attrs and "cw_version" in ds.attrs
    assert ds["null_band_score"].shape == (12, 3) and ds["shift"].shape == (12,)
    for v in ("score60", "border_score", "band_score", "grid_spacing", "threshold_score60",
              "p_band_score", "significant_border_score", "type_count"):
        assert v in ds
    with pytest.raises(ValueError, match="shuffles.n_shuffles"):
        analyse_scores(str(tmp_path / "activity.nc"), str(tmp_path / "bad.nc"), arena_cfg,
                       {"shuffles": {"n_shuffles": 0}}, seed=9)
