"""Network null: the untrained network (the update-0 checkpoint of every run) classified exactly
like a trained one gives at most chance-level counts of grid-like, band-like and border units
(chance level: the benchmark's false-positive rate on random maps, <= 5% of the units)."""

from __future__ import annotations

import numpy as np
import pytest

from cw.analysis.activity import network_runner
from cw.task.arenas import make_arena
from cw.analysis.celltypes import type_counts
from cw.config import resolve_run
from cw.steps.settings import load_config
from cw.network.model import ModelParams, init_weights
from cw.analysis.ratemaps import RatemapParams, trial_samples
from cw.analysis.units import AnalysisSettings, analyse_units
from cw.task.trajectories import TrajectoryParams, generate_trials


@pytest.mark.parametrize("run", ["square", "hexagon"])  # orthogonal and Gaussian W_rec
def test_untrained_network_has_chance_level_cell_types(run):
    cfg = load_config("config.yaml")
    r = resolve_run(cfg, run)
    tp = TrajectoryParams.from_dict(r["trajectories"])
    ar = make_arena(run, cfg["arenas"][run])
    mp = ModelParams.from_dict(r["model"])
    rp = RatemapParams.from_dict(r["ratemaps"])
    tr = generate_trials(ar, 100, tp, np.random.default_rng(0))
    u, _ = network_runner(mp)(init_weights(mp, np.random.default_rng(10)), tr.speed, tr.heading)
    x, y, a = trial_samples(tr.position[..., 0], tr.position[..., 1], np.asarray(u), rp.skip_steps)
    settings = AnalysisSettings.from_config(r["ratemaps"], r["scores"], r["shuffles"], r["celltypes"])
    ds, _ = analyse_units(x, y, a, ar, settings.with_shuffles(50), np.random.default_rng(0), keep_null=False)
    counts = type_counts(ds["cell_type"].values)
    print(run, counts)
    n = mp.n_units
    assert sum(counts.values()) == n
    typed = counts["grid_like"] + counts["band_like"] + counts["border"]
    assert typed <= 0.05 * n, counts
    assert counts["grid_like"] <= 1, counts
