"""The cell-type rule on the labelled synthetic benchmark (cw.analysis.benchmark_maps): confusion-matrix
targets in the square, triangle and hexagon of config.yaml, and the known false positives of
the scores (smooth random fields, saturating ramps, salt-and-pepper noise, linear ramps)."""

from __future__ import annotations

import numpy as np
import pytest

from cw.analysis.benchmark_maps import (
    FAMILIES,
    PREDICTED,
    TRUTH,
    confusion_matrix,
    format_confusion,
    make_maps,
    metrics,
    run_benchmark,
)

SEEDS = (0, 1)


@pytest.fixture(scope="module")
def bench():
    """Two seeds x three arenas, 50 shuffles per unit (~25 s on one core)."""
    res = {s: run_benchmark("config.yaml", n_trials=60, n_shuffles=50, seed=s) for s in SEEDS}
    fam = np.concatenate([r["family"] for s in SEEDS for r in res[s].values()])
    ct = np.concatenate([r["cell_type"] for s in SEEDS for r in res[s].values()])
    return res, fam, ct


def test_confusion_matrix_meets_the_targets(bench):
    res, fam, ct = bench
    print(format_confusion(fam, ct, "== all arenas, seeds 0 and 1 =="))
    cm = confusion_matrix(fam, ct)
    assert cm.shape == (len(FAMILIES), len(PREDICTED))
    assert cm.sum() == fam.size
    m = metrics(fam, ct)
    for t in ("grid_like", "band_like", "border"):
        assert m[f"precision_{t}"] >= 0.95, (t, m)
        assert m[f"recall_{t}"] >= 0.9, (t, m)
    assert m["ramp_as_grid_or_band"] == 0, m
    assert m["noise_typed_fraction"] <= 0.05, m
    # every arena contributes every family
    for s in SEEDS:
        for name, r in res[s].items():
            assert set(r["family"]) == set(FAMILIES), name


def test_every_arena_separately(bench):
    res, _, _ = bench
    for name in ("square", "triangle", "hexagon"):
        fam = np.concatenate([res[s][name]["family"] for s in SEEDS])
        ct = np.concatenate([res[s][name]["cell_type"] for s in SEEDS])
        m = metrics(fam, ct)
        assert m["ramp_as_grid_or_band"] == 0, (name, m)
        ramps = np.isin(fam, ("linear_ramp", "tanh_ramp"))
        assert not np.any(ramps & np.isin(ct, ("grid_like", "band_like"))), name
        noise = np.isin(fam, ("smooth_random", "salt_pepper"))
        assert np.sum(noise & np.isin(ct, ("grid_like", "band_like", "border"))) <= 2, name
        for t in ("grid_like", "band_like", "border"):
            assert m[f"recall_{t}"] >= 0.9, (name, t, m)
            assert m[f"precision_{t}"] >= 0.95, (name, t, m)


def test_benchmark_maps_are_labelled_and_normalised():
    from cw.task.arenas import make_arena
    from cw.steps.settings import load_config

    cfg = load_config("config.yaml")
    for name in ("square", "triangle", "hexagon"):
        ar = make_arena(name, cfg["arenas"][name])
        maps = make_maps(ar, np.random.default_rng(0))
        assert set(maps.family) == set(TRUTH)
        x0, x1, y0, y1 = ar.bounds
        g = np.stack(np.meshgrid(np.linspace(x0, x1, 120), np.linspace(y0, y1, 120)), -1)
        pts = g[np.asarray(ar.contains(g), bool)]
        v = maps.values(pts[:, 0], pts[:, 1])
        np.testing.assert_allclose(v.std(axis=0), 1.0, atol=1e-6)
        # the few-period grids: 1.5 periods across the arena's width
        assert any("1.5 periods" in d for d in maps.detail)


def test_saturating_ramps_fit_a_ramp_better_than_a_wave():
    """Problem (2): a tanh ramp reaches a band score of 0.4-0.6 (power leaking to the longest
    admissible wavelength) but a monotone function explains it better than the wave."""
    from cw.analysis.scores import band_scores, score_maps

    yy, xx = (np.mgrid[0:20, 0:20] + 0.5) / 20
    c = (np.arange(20) + 0.5) / 20
    ramps = np.stack([np.tanh(g * (xx - 0.5)) for g in (1, 3, 8)])
    assert np.all(band_scores(ramps, 0.05)["band_score"] > 0.4)  # the score alone is fooled
    out = score_maps(ramps, c, c, bin_size=0.05)
    assert np.all(out["band_ramp_r2"] > 0.95)
    assert np.all(out["band_wave_r2"] - out["band_ramp_r2"] < -0.1)
    wave = np.cos(2 * np.pi * xx / 0.3)[None]
    out = score_maps(wave, c, c, bin_size=0.05)
    assert out["band_wave_r2"][0] > 0.95 and out["band_ramp_r2"][0] < 0.3
    assert out["band_periods"][0] == pytest.approx(1.0 / 0.3, rel=0.05)


def test_salt_and_pepper_is_not_coherent_and_smooth_maps_are():
    """Problem (3): scattered bins have a spatial coherence far below the rule's minimum."""
    from cw.analysis.celltypes import CellTypeParams
    from cw.analysis.scores import spatial_coherence

    rng = np.random.default_rng(3)
    noise = rng.standard_normal((5, 20, 20))
    coh = spatial_coherence(noise)
    assert np.all(np.abs(coh) < 0.2)
    assert np.all(coh < CellTypeParams().min_spatial_coherence)
    yy, xx = (np.mgrid[0:20, 0:20] + 0.5) / 20
    assert spatial_coherence(np.exp(-((xx - 0.5) ** 2 + (yy - 0.5) ** 2) / 0.02))[0] > 0.95


def test_nan_grid_scores_say_why():
    """Problem (4): a linear ramp's autocorrelogram is 1 at every lag, so its grid scores are
    NaN; the status flag records it (2), a constant map gets 1, a grid 0."""
    from cw.analysis.scores import SCORE_ATTRS, score_maps

    yy, xx = (np.mgrid[0:20, 0:20] + 0.5) / 20
    c = (np.arange(20) + 0.5) / 20
    maps = np.stack([xx + 0.5 * yy, np.ones_like(xx),
                     np.cos(2 * np.pi * xx / 0.3) + np.cos(2 * np.pi * yy / 0.3)])
    out = score_maps(maps, c, c, bin_size=0.05)
    assert np.isnan(out["score60"][:2]).all() and np.isfinite(out["score60"][2])
    assert out["grid_score_status"].tolist() == [2, 1, 0]
    assert "flat_autocorrelogram" in SCORE_ATTRS["grid_score_status"]["flag_meanings"]


def test_benchmark_script_prints_the_matrix(capsys):
    from cw.analysis.benchmark_maps import main

    assert main(["config.yaml", "--trials", "20", "--shuffles", "20", "--arenas", "square",
                 "--seeds", "0"]) == 0
    out = capsys.readouterr().out
    assert "== square (seeds 0) ==" in out and "== all arenas (seeds 0) ==" in out
    assert "precision_grid_like=" in out and "smooth_random" in out
