"""Figures (cw.report.figures) on small synthetic datasets: what each panel shows (panels, titles,
data drawn), examples chosen by their scores, a missing cell type said in its panel.  The step
functions that write the files, and the layout at print size: tests/test_figure_layout.py."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from cw.report import figures as fg
from cw.analysis.celltypes import CELL_TYPES

N = 12
SQUARE = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]).ravel()
TYPES = ["grid_like", "grid_like", "border", "border", "border"] + ["spatially_irregular"] * 5 + ["non_spatial"] * 2


def ratemaps():
    xs = np.linspace(-0.45, 0.45, 10)
    X, Y = np.meshgrid(xs, xs)
    rate = np.stack([np.cos(2 * np.pi * (k + 1) * X) * np.cos(2 * np.pi * Y) for k in range(N)])
    rate[:, 0, 0] = np.nan
    return xr.Dataset({"rate": (("unit", "y", "x"), rate)}, coords={"unit": np.arange(N), "x": xs, "y": xs},
                      attrs={"arena_corners": SQUARE})


def scores(types=TYPES):
    rng = np.random.default_rng(0)
    ds = xr.Dataset({"cell_type": ("unit", np.array(types))}, coords={"unit": np.arange(N)},
                    attrs={"arena_corners": SQUARE})
    for s in ("score60", "score90", "border_score", "band_score", "spatial_variance_fraction"):
        ds[s] = ("unit", np.linspace(-0.5, 1.0, N))
        ds[f"null_{s}"] = (("shuffle", "unit"), rng.normal(0, 0.2, (20, N)))
        ds[f"threshold_{s}"] = ("unit", np.full(N, 0.3))
        ds[f"significant_{s}"] = ("unit", ds[s].values > 0.3)
    ds["score90"] = ("unit", np.r_[0.9, 0.2, np.zeros(N - 2)])
    return ds


def tuning():
    d = np.arange(5, 360, 10.0)
    s = np.array([0.0, 0.01, 0.02, 0.03, 0.04])
    return xr.Dataset({
        "direction_curve": (("direction", "unit"), np.cos(np.deg2rad(d))[:, None] * np.linspace(0, 1, N)),
        "speed_curve": (("speed_bin", "unit"), s[:, None] * np.arange(N)),
        "resultant_length": ("unit", np.linspace(0, 1, N)), "speed_r": ("unit", np.linspace(-1, 1, N)),
        "speed_slope": ("unit", np.arange(N, dtype=float)), "speed_intercept": ("unit", np.zeros(N))},
        coords={"direction": d, "speed_bin": s, "unit": np.arange(N)})


def development():
    K, labels = 4, list(CELL_TYPES)
    counts = np.zeros((K, len(labels)), int)
    counts[:, labels.index("border")] = [0, 2, 3, 3]
    counts[:, labels.index("grid_like")] = [0, 0, 1, 2]
    ct = np.array([["non_spatial"] * N] * (K - 1) + [TYPES])
    return xr.Dataset({
        "type_count": (("checkpoint", "cell_type_label"), counts),
        "cell_type": (("checkpoint", "unit"), ct),
        "tsne": (("tsne_checkpoint", "unit", "component"), np.random.default_rng(1).normal(size=(3, N, 2))),
        "map_correlation_to_final": (("checkpoint", "unit"), np.linspace(0, 1, K)[:, None] * np.ones(N))},
        coords={"cell_type_label": labels, "update": ("checkpoint", [0, 3, 30, 300]),
                "tsne_checkpoint": [0, 2, 3]})


def boundary():
    lag, nr = np.arange(30), np.arange(6)
    return xr.Dataset({
        **{f"error_{k}_{s}": ("lag", v) for k in ("since_boundary", "since_start")
           for s, v in (("mean", 1e-3 * lag), ("sd", 1e-4 * lag), ("count", np.full(30, 50)))},
        **{f"error_recent_{s}": ("n_recent", v) for s, v in (("mean", 1e-2 / (1 + nr)), ("sd", 1e-3 + 0 * nr),
                                                                ("count", np.full(6, 50)))},
        "long_error_mean": ("window", np.full(6, 1e-2)), "long_error_sd": ("window", np.full(6, 4e-3)),
        "const_error_mean": ("window", np.full(6, 8e-2)), "const_error_sd": ("window", np.full(6, 1e-1)),
        "window_start": ("window", np.arange(6) * 200),
        "error_aligned_mean": (("burst", "align_lag"), np.r_[1e-3 * np.ones(10), 5e-4 * np.ones(21)] * np.c_[[1, 0.8, 0.6]]),
        "episode_count": ("burst", np.array([40, 10, 0]))},
        coords={"lag": lag, "n_recent": nr, "align_lag": np.arange(-10, 21), "burst": [1, 2, 3]},
        attrs={"long_path_steps": 1200, "boundary_window_steps": 200, "boundary_recent_window": 100,
               "boundary_burst_window": 5})


def _texts(fig):
    out = [t.get_text() for t in fig.texts]
    for ax in fig.get_axes():
        out += [t.get_text() for t in ax.texts] + [ax.get_title()]
    for sub in getattr(fig, "subfigs", []):
        out += [t.get_text() for t in sub.texts]
    return "\n".join(out)


def test_examples_are_the_best_of_each_type_and_missing_types_are_said():
    sc = scores()
    assert fg.example_units(sc, "border", 2) == [4, 3]  # highest border score first
    assert fg.example_units(sc, "grid_like", 1, square_like=True) == [0]  # square: score90
    assert fg.example_units(sc, "band_like", 2) == []
    fig = fg.example_types_panel({"square": (ratemaps(), sc, True)}, n_examples=2)
    text = _texts(fig)
    assert "no band-like\nunits" in text and "border (3)" in text and "band-like (0)" in text
    nine = fg.pick_nine(sc)
    assert len(nine) == 9 and len(set(nine)) == 9 and nine[:3] == [1, 4, 9]


def _maps(axes):
    """Axes that show a rate map (an image)."""
    return [ax for ax in axes if ax.get_images()]


def test_each_paper_figure_shows_its_panels_and_data(tmp_path):
    """What each figure shows: its panels, their titles and the data drawn (the files themselves
    and the layout at print size: tests/test_figure_layout.py)."""
    rm, sc, tu = ratemaps(), scores(), tuning()
    # Fig. 2: one row of 4 types x 2 examples per run, maps only where a type has units
    fig = fg.example_types_panel({"a": (rm, sc, True), "b": (rm, scores(["non_spatial"] * N), False)},
                                 title="Fig. 2")
    assert len(fig.axes) == 2 * 8 + 1  # + the colour bar
    assert len(_maps(fig.axes)) == 6  # run a: 2 grid-like, 0 band-like, 2 border, 2 irregular; run b: none
    assert fig.get_suptitle().startswith("Fig. 2\n")
    plt.close(fig)
    # Fig. 3: per unit a map, a polar direction curve and a speed curve with its line
    units = fg.pick_nine(sc)
    fig = fg.unit_tuning_panel(rm, sc, tu, units, title="Fig. 3 (triangle)")
    polar = [ax for ax in fig.axes if ax.name == "polar"]
    assert len(_maps(fig.axes)) == 9 and len(polar) == 9 and len(fig.axes) == 27 + 1
    assert [ax.get_title().split(":")[0] for ax in _maps(fig.axes)] == [f"unit {i}" for i in units]
    speed_axes = [ax for ax in fig.axes if ax.get_title().startswith("speed r=")]
    assert len(speed_axes) == 9 and all(len(ax.get_lines()) == 2 for ax in speed_axes)  # means + line
    assert fig.get_suptitle().startswith("Fig. 3 (triangle)\n")
    plt.close(fig)
    # Fig. 4: three t-SNE stages, the counts over training and the maps' settling
    dev = development()
    fig = fg.development_panel(dev, title="Fig. 4 (square)")
    assert [ax.get_title() for ax in fig.axes] == [
        "early: update 0", "intermediate: update 30", "late: update 300",
        "units of each type over training", "how far the maps have settled"]
    counts = {ln.get_label().split(":")[0]: list(ln.get_ydata()) for ln in fig.axes[3].get_lines()}
    assert counts["border"] == [0, 2, 3, 3] and counts["grid-like"] == [0, 0, 1, 2]
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == N  # every unit a point
    plt.close(fig)
    # Fig. 5: every map of both runs, framed in its type's colour, each run's counts in its title
    fig = fg.metabolic_panel((rm, scores(["border"] * N)), (rm, sc), names=("without", "with"), title="Fig. 5")
    assert len(fig.subfigs) == 2
    for sub, head in zip(fig.subfigs, ("without\n", "with\n")):
        assert len(_maps(sub.axes)) == N and sub.get_suptitle().startswith(head)
    assert "border 12" in fig.subfigs[0].get_suptitle() and "border 3" in fig.subfigs[1].get_suptitle()
    frame = _maps(fig.subfigs[0].axes)[0].spines["left"].get_edgecolor()
    assert matplotlib.colors.same_color(frame, fg.TYPE_COLOURS["border"])
    plt.close(fig)
    # Fig. 6b as the paper shows it: mean +- SD per window, network against the best constant,
    # on a linear axis from 0 (error bars cut at 0)
    bd = boundary()
    fig = fg.boundary_panel(bd, title="Fig. 6")
    ax = fig.axes[2]
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0
    assert "mean \u00b1 SD per window of 200 steps" in ax.get_title() and "1,200 steps" in ax.get_title()
    bars = {c.get_label(): c for c in ax.containers}
    assert set(bars) == {"network", "best constant output (mean position)"}
    line, _, (seg,) = bars["network"]
    np.testing.assert_allclose(line.get_xdata(), np.arange(6) * 200 + 100)  # window centres
    np.testing.assert_allclose(line.get_ydata(), 1e-2)
    np.testing.assert_allclose([s[:, 1] for s in seg.get_segments()], [[6e-3, 1.4e-2]] * 6)  # mean +- SD
    _, _, (seg,) = bars["best constant output (mean position)"]
    np.testing.assert_allclose([s[:, 1] for s in seg.get_segments()], [[0.0, 0.18]] * 6)  # cut at 0
    assert [len(a.get_lines()) for a in fig.axes[:2]] == [2, 2 + 1]  # curves (+ the line at lag 0)
    plt.close(fig)
    # Appendix: one curve per unit, titled with its number and tuning strength
    for kind, key in (("direction", "R"), ("speed", "r")):
        fig = fg.tuning_grid(tu, kind, sc, title=f"Appendix: {kind} tuning")
        ax, = fig.axes  # small multiples on one surface
        strength = tu['resultant_length' if kind == 'direction' else 'speed_r']
        titles = [t.get_text() for t in ax.texts if "  " in t.get_text()]
        assert titles == [f"{i}  {key} {float(strength[i]):.2f}" for i in range(N)]
        black = [c for c in ax.collections if matplotlib.colors.same_color(c.get_edgecolor()[0], "k")]
        assert len(black) == 1 and len(black[0].get_segments()) == N  # one curve per unit
        if kind == "direction":  # radius = activity + 1 around each panel's centre
            seg = black[0].get_segments()[3]
            grey = [c for c in ax.collections if matplotlib.colors.same_color(c.get_edgecolor()[0], "0.8")]
            ring = grey[0].get_segments()[3 * 9]  # unit 3's ring at activity 0 (2 rings, 7 spokes each)
            centre = ring[:-1].mean(axis=0)
            curve = np.asarray(tu["direction_curve"].isel(unit=3).values, float)
            radius = np.linalg.norm(seg[:-1] - centre, axis=1)
            np.testing.assert_allclose(radius / radius.mean(), (curve + 1) / (curve + 1).mean(), rtol=1e-6)
        plt.close(fig)
    # score nulls: one panel per score with a null, the count of significant units in its title
    fig = fg.score_null_panel(sc, title="nulls")
    names = [k[5:] for k in sc.data_vars if k.startswith("null_")]
    assert [ax.get_title() for ax in fig.axes] == [f"{s}: {int(sc[f'significant_{s}'].sum())} significant" for s in names]
    plt.close(fig)


def test_fig6b_draws_a_band_for_many_windows():
    """At the paper's scale (500 windows of 10,000 steps) the SD is a band, the axis in thousands."""
    bd = boundary().drop_dims("window")
    bd["long_error_mean"] = ("window", np.full(500, 0.05))
    bd["long_error_sd"] = ("window", np.full(500, 0.02))
    bd["const_error_mean"] = ("window", np.full(500, 0.4))
    bd["const_error_sd"] = ("window", np.full(500, 0.3))
    bd = bd.assign_coords(window_start=("window", np.arange(500) * 10000))
    bd.attrs.update(long_path_steps=5_000_000, boundary_window_steps=10000)
    fig = fg.boundary_panel(bd)
    ax = fig.axes[2]
    assert "(thousands)" in ax.get_xlabel() and "10,000 steps" in ax.get_title()
    bands = ax.collections
    assert len(bands) == 2
    lo_hi = bands[0].get_paths()[0].vertices[:, 1]
    assert lo_hi.min() == pytest.approx(0.03) and lo_hi.max() == pytest.approx(0.07)
    plt.close(fig)


def test_panels_cope_with_empty_data():
    sc = scores(["non_spatial"] * N)
    assert "no grid-like" in _texts(fg.example_types_panel({"r": (ratemaps(), sc, False)}))
    nan = scores()
    for s in ("score60", "null_score60", "threshold_score60"):
        nan[s] = nan[s] * np.nan
    assert "no finite values" in _texts(fg.score_null_panel(nan))
    assert "no units to show" in _texts(fg.unit_tuning_panel(ratemaps(), sc, tuning(), []))


def test_rate_map_trajectory_and_training_panels():
    """All units' maps with their scores and ranges; the training curves one line per run and
    term on log axes."""
    rm, sc = ratemaps(), scores()
    fig = fg.ratemap_panel(rm, sc, title="t")
    ax, _colourbar = fig.axes  # every map in one image of one surface
    labels = [t.get_text() for t in ax.texts]
    assert len(ax.get_images()) == 1 and len(labels) == N and labels[0].startswith("0  -0.50 | 0.90\n[")
    # each map's panel holds the map in its own colour range: the brightest bin red, the lowest blue
    mosaic = ax.get_images()[0].get_array()
    assert mosaic.dtype == np.uint8 and (mosaic[..., 3] == 255).sum() >= N * rm.sizes["x"] * rm.sizes["y"]
    assert fig.get_suptitle().startswith("t\nunit  grid score")
    plt.close(fig)
    fig = fg.training_curves({r: [{"update": i, "error": 1.0 / (i + 1), "r_l2": 1.0, "r_fr": 0.5} for i in range(5)]
                              for r in ("a", "b")})
    terms = fig.axes[:3]  # then the penalty weights (when the history has them)
    assert [ax.get_title() for ax in terms] == ["position error E (m$^2$)", "$R_{L2}$", "$R_{FR}$ (mean $u^2$)"]
    assert all(ax.get_yscale() == "log" and len(ax.get_lines()) == 2 for ax in terms)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), 1.0 / np.arange(1, 6))
    plt.close(fig)


def test_readable_figure_helpers():
    """Numbers a reader relies on: error bands never below zero, the speed line is the
    least-squares line through the plotted means, undefined scores and absent fields are named,
    the untrained network's count is shown beside the final one, and the polar radius is
    activity + 1 on one scale (centre = activity -1)."""
    lo, hi = fg.sem_band([0.001, 0.01], [0.02, 0.01], [4, 100])
    np.testing.assert_allclose(lo, [0.0, 0.009])
    np.testing.assert_allclose(hi, [0.011, 0.011])
    s = np.array([0.0, 0.01, 0.02, 0.03])
    a, b = fg.speed_line(s, 0.2 + 5.0 * s + np.array([0.0, np.nan, 0.0, 0.0]))
    assert a == pytest.approx(5.0) and b == pytest.approx(0.2)
    assert np.isnan(fg.speed_line(s, np.array([1.0, np.nan, np.nan, np.nan]))[0])
    sc = scores()
    sc["border_score"][0] = -1.0
    sc["score60"][1] = np.nan
    assert "bd no field" in fg.score_line(sc, 0)
    assert "g60 n/a" in fg.score_line(sc, 1)
    assert fg.untrained_label(np.array([0, 10, 100]), np.array([2, 3, 9])) == "untrained 2, "
    assert fg.untrained_label(np.array([5, 10]), np.array([2, 3])) == ""
    assert fg.POLAR_OFFSET == 1.0
    fig = plt.figure()
    ax = fig.add_subplot(111, projection="polar")
    fg.direction_curve(ax, tuning(), 0, polar=True)
    assert ax.get_ylim() == (0.0, 2.0)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1"]
    plt.close(fig)


def test_development_counts_have_integer_ticks_and_update_zero():
    fig = fg.development_panel(development())
    ax = fig.axes[-2] if "map_correlation_to_final" in development() else fig.axes[-1]
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(lab.startswith("border: untrained") and "final" in lab for lab in labels)
    plt.close(fig)
