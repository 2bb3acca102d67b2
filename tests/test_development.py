"""Development analysis (cw.analysis.development, Fig. 4) on a tiny network with 3 checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from cw import io
from cw.analysis.celltypes import CELL_TYPES
from cw.analysis.development import (
    DevelopmentParams,
    correlation_distance,
    map_correlation_to_final,
    tsne_checkpoint_indices,
    tsne_embedding,
)
from cw.network.model import ModelParams, init_weights


def test_checkpoint_indices():
    assert tsne_checkpoint_indices(8) == [1, 4, 7]
    assert tsne_checkpoint_indices(3) == [0, 1, 2]
    assert tsne_checkpoint_indices(8, (0, -1, 3)) == [0, 3, 7]
    with pytest.raises(ValueError, match="development.tsne_checkpoints"):
        tsne_checkpoint_indices(3, (5,))


def test_correlation_distance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=100)
    series = np.stack([a, 2 * a + 1, -a, rng.normal(size=100), np.full(100, 0.3)])
    d = correlation_distance(series)
    assert d.shape == (5, 5) and np.allclose(d, d.T) and np.all(np.diag(d) == 0)
    assert d[0, 1] == pytest.approx(0.0, abs=1e-12) and d[0, 2] == pytest.approx(2.0)
    np.testing.assert_allclose(d[4, :4], 1.0)  # constant series: r = 0 with everything
    np.testing.assert_allclose(d[0, 3], 1 - np.corrcoef(a, series[3])[0, 1])


def test_map_correlation_to_final():
    rng = np.random.default_rng(2)
    final = rng.normal(size=(3, 6, 6))
    final[:, 0, 0] = np.nan  # a bin outside the arena
    noise = rng.normal(size=(3, 6, 6))
    rate = np.stack([
        noise,                       # unrelated maps
        -final + 0.0,                # inverted maps
        2.0 * final + 5.0,           # same maps up to gain and offset
        final,
    ])
    rate[0, 2] = 1.0                 # a flat map has no correlation
    r = map_correlation_to_final(rate)
    assert r.shape == (4, 3)
    np.testing.assert_allclose(r[3], 1.0)
    np.testing.assert_allclose(r[2], 1.0)
    np.testing.assert_allclose(r[1], -1.0)
    assert np.isnan(r[0, 2])
    ok = np.isfinite(final[0]) & np.isfinite(noise[0])
    np.testing.assert_allclose(r[0, 0], np.corrcoef(noise[0][ok], final[0][ok])[0, 1])


def test_tsne_is_seeded_and_separates_clusters():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(2, 300))
    series = np.concatenate([base[0] + 0.3 * rng.normal(size=(10, 300)),
                             base[1] + 0.3 * rng.normal(size=(10, 300))])
    d = correlation_distance(series)
    e1 = tsne_embedding(d, 30.0, seed=7)
    e2 = tsne_embedding(d, 30.0, seed=7)
    np.testing.assert_array_equal(e1, e2)
    c0, c1 = e1[:10].mean(0), e1[10:].mean(0)
    spread = max(np.linalg.norm(e1[:10] - c0, axis=1).max(), np.linalg.norm(e1[10:] - c1, axis=1).max())
    assert np.linalg.norm(c0 - c1) > 2 * spread


def test_analyse_development_on_tiny_network(tmp_path):
    from cw.steps.analysis import analyse_development
    from cw.steps.pipeline import make_trajectories

    arena = {"name": "square", "shape": "square", "side": 1.0}
    traj = {"n_test": 30, "n_steps": 100}
    make_trajectories(str(tmp_path / "trajectories.nc"), arena, traj, seed=2)
    model = {"n_units": 8}
    mp = ModelParams(**model)
    rng = np.random.default_rng(3)
    w0 = init_weights(mp, rng)
    ws = [w0]
    for scale in (0.1, 0.3):  # two "later" checkpoints: perturbed weights, non-zero read-out
        w = {k: (v + scale * rng.normal(size=v.shape)).astype(np.float32) for k, v in w0.items()}
        ws.append(w)
    io.write_netcdf(io.checkpoints_dataset([0, 10, 100], ws), tmp_path / "checkpoints.nc")
    analyse_development(
        str(tmp_path / "checkpoints.nc"), str(tmp_path / "trajectories.nc"),
        str(tmp_path / "development.nc"), model, arena,
        analysis={"ratemaps": {"bin_size": 0.1}, "shuffles": {"n_shuffles": 8, "min_shift": 100}},
        development={"perplexity": 5.0}, seed=4)
    ds = io.open_dataset(tmp_path / "development.nc")
    assert ds.sizes["checkpoint"] == 3 and ds.sizes["unit"] == 8
    assert ds["rate"].dims == ("checkpoint", "unit", "y", "x") and ds["rate"].shape[2:] == (10, 10)
    assert ds["cell_type"].dims == ("checkpoint", "unit")
    assert set(np.unique(ds["cell_type"].values)) <= set(CELL_TYPES)
    np.testing.assert_array_equal(ds["type_count"].sum("cell_type_label").values, [8, 8, 8])
    assert list(ds["cell_type_label"].values) == list(CELL_TYPES)
    for k in range(3):  # counts agree with the per-unit types
        ct = ds["cell_type"].values[k]
        assert [int(np.sum(ct == t)) for t in CELL_TYPES] == list(ds["type_count"].values[k])
    assert ds["tsne"].shape == (3, 8, 2) and list(ds["tsne_checkpoint"].values) == [0, 1, 2]
    assert np.all(np.isfinite(ds["tsne"].values))
    np.testing.assert_array_equal(ds["update"].values, [0, 10, 100])
    assert ds["score60"].dims == ("checkpoint", "unit") and ds["threshold_score60"].dims == ("checkpoint", "unit")
    assert ds["rms_position_error"].shape == (3,) and np.all(ds["rms_position_error"].values > 0)
    assert ds["tsne_distance"].dims == ("unit",)
    np.testing.assert_allclose(ds["map_correlation_to_final"].values[-1], 1.0)
    assert ds.attrs["shuffles_n_shuffles"] == 8 and "development_tsne_method" in ds.attrs
    assert '"perplexity": 5.0' in ds.attrs["params_development"]
    # the untrained network's counts (update 0) beside the final ones
    assert ds.attrs["has_untrained_checkpoint"] == 1
    for j, t in enumerate(CELL_TYPES):
        assert ds.attrs[f"untrained_count_{t}"] == int(ds["type_count"].values[0, j])
        assert ds.attrs[f"final_count_{t}"] == int(ds["type_count"].values[-1, j])
    # the command-line summary: one line of counts per checkpoint, with --scores one of scores
    import contextlib
    import io as textio

    from cw.analysis.development import main

    out = textio.StringIO()
    with contextlib.redirect_stdout(out):
        main(["--scores", str(tmp_path / "development.nc")])
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 + 2 * 3 and lines[1].startswith("  update     0: median map r")
    s60 = ds["score60"].values[2]
    n_sig = int(np.sum(ds["significant_score60"].values[2].astype(bool) & (s60 >= 0.37)))
    lat = np.abs(ds["lattice_r2"].values[2])
    assert lines[6] == (f"      max score60 {np.nanmax(s60):.2f}; significant score60 >= 0.37: {n_sig}; "
                        f"|lattice_r2| >= 0.5: {int(np.sum(lat >= 0.5))} (max {np.nanmax(lat):.2f})")


def test_params_validation():
    with pytest.raises(ValueError, match="development.perplexity"):
        DevelopmentParams(perplexity=0)
    with pytest.raises(ValueError, match="development.tsne_checkpoints"):
        DevelopmentParams(tsne_checkpoints=[1.5])
    with pytest.raises(ValueError, match="development.n_shuffles"):
        DevelopmentParams(n_shuffles=0)
    with pytest.raises(ValueError, match="development.foo: unknown key"):
        DevelopmentParams.from_dict({"foo": 1})
    assert DevelopmentParams.from_dict({"tsne_checkpoints": [0, 2]}).tsne_checkpoints == (0, 2)


def test_settling_update_is_the_first_checkpoint_from_which_counts_and_maps_hold():
    from cw.analysis.development import settling_update

    updates = [0, 10, 100, 200, 300]
    counts = np.array([[0, 100], [8, 92], [9, 91], [12, 88], [10, 90]])
    corr = np.tile(np.array([[0.0], [0.9], [0.96], [0.97], [1.0]]), (1, 4))
    # the count at update 200 is 2 off the final one: settled only from 300
    assert settling_update(updates, counts, corr) == 300
    assert settling_update(updates, counts, corr, count_tolerance=2) == 200  # median 0.96 < 0.97 at 100
    assert settling_update(updates, counts, corr, count_tolerance=2, min_median_correlation=0.95) == 100
    assert settling_update(updates, counts, corr, count_tolerance=2, min_median_correlation=0.5) == 10
    corr[3, :3] = np.nan  # units without maps are left out of the median
    assert settling_update(updates, counts, corr, count_tolerance=2, min_median_correlation=0.95) == 100


def test_batched_observed_scores_equal_the_per_checkpoint_path():
    """development_dataset scores the maps of all checkpoints in one call; every number equals
    the per-checkpoint path (analyse_units on each checkpoint alone, the earlier code path) to
    float tolerance, and the cell types are identical."""
    import dataclasses

    from cw.analysis.units import AnalysisSettings, analyse_units
    from cw.analysis.development import development_dataset
    from cw.analysis.scores import ScoreParams
    from cw.analysis.shuffles import ShuffleParams
    from cw.synthetic import cosine_lattice
    from cw.task.arenas import make_arena

    arena = make_arena("square", {"shape": "square", "side": 2.0})
    rng = np.random.default_rng(5)
    s = 6000
    x, y = rng.uniform(-1, 1, (2, s))
    acts = []
    for k in range(3):  # a grid, a band, a ramp and noise; sharper with k
        grid = cosine_lattice(x, y, 0.6, 10.0 * k, 3)
        acts.append(np.stack([grid, np.cos(2 * np.pi * x / 0.5), x + 0.1 * k * y,
                              rng.normal(size=s)], 1) + (0.5 / (k + 1)) * rng.normal(size=(s, 4)))
    sp = ScoreParams()
    sp = dataclasses.replace(sp, geometry=dataclasses.replace(sp.geometry, lattice_n_spacings=6, lattice_n_offsets=6))
    shp = ShuffleParams(n_shuffles=6, min_shift=500)
    params = DevelopmentParams(perplexity=2.0, max_samples=500)
    settings = AnalysisSettings(scores=sp, shuffles=shp)
    dev = development_dataset(acts, [0, 10, 100], x, y, arena, settings=settings, params=params, seed=4)
    for k, act in enumerate(acts):
        ref, rate = analyse_units(x, y, act, arena, settings,
                                  np.random.default_rng(np.random.SeedSequence([4, 102, k])), keep_null=False)
        assert dev["cell_type"].isel(checkpoint=k).values.tolist() == ref["cell_type"].values.tolist()
        np.testing.assert_array_equal(dev["rate"].isel(checkpoint=k).values, rate.values)
        for name in ("score60", "score90", "band_score", "border_score", "lattice_r2",
                     "square_lattice_r2", "field_r2", "threshold_score60", "spatial_variance_fraction"):
            np.testing.assert_allclose(dev[name].isel(checkpoint=k).values, ref[name].values,
                                       rtol=1e-5, atol=1e-6, err_msg=name)
    types = {str(t) for t in np.ravel(dev["cell_type"].values)}
    assert len(types) >= 2, types  # the comparison covers more than one cell type
