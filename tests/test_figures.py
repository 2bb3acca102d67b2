"""Figures (cw.report.figures, cw.steps.report) on small synthetic datasets: every panel draws, files are
written, examples are chosen by their scores, and a missing cell type is said in its panel."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from cw.report import figures as fg
from cw import io
from cw.steps import report as reporting
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
        "tsne": (("tsne_checkpoint", "unit", "component"), np.random.default_rng(1).normal(size=(3, N, 2)))},
        coords={"cell_type_label": labels, "update": ("checkpoint", [0, 3, 30, 300]),
                "tsne_checkpoint": [0, 2, 3]})


def boundary():
    lag, nr = np.arange(30), np.arange(6)
    return xr.Dataset({
        **{f"error_{k}_{s}": ("lag", v) for k in ("since_boundary", "since_start")
           for s, v in (("mean", 1e-3 * lag), ("sd", 1e-4 * lag), ("count", np.full(30, 50)))},
        **{f"error_recent_{s}": ("n_recent", v) for s, v in (("mean", 1e-2 / (1 + nr)), ("sd", 1e-3 + 0 * nr),
                                                                ("count", np.full(6, 50)))},
        "long_error_mean": ("window", np.full(5, 1e-3)), "long_error_sd": ("window", np.full(5, 1e-4)),
        "const_error_mean": ("window", np.full(5, 8e-2)), "const_error_sd": ("window", np.full(5, 1e-2)),
        "window_start": ("window", np.arange(5) * 1000),
        "error_aligned_mean": (("burst", "align_lag"), np.r_[1e-3 * np.ones(10), 5e-4 * np.ones(21)] * np.c_[[1, 0.8, 0.6]]),
        "episode_count": ("burst", np.array([40, 10, 0]))},
        coords={"lag": lag, "n_recent": nr, "align_lag": np.arange(-10, 21), "burst": [1, 2, 3]},
        attrs={"long_path_steps": 5000, "boundary_recent_window": 100, "boundary_burst_window": 5})


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


def test_every_panel_draws_and_saves(tmp_path):
    rm, sc, tu = ratemaps(), scores(), tuning()
    figs = {
        "fig2": fg.example_types_panel({"a": (rm, sc, True), "b": (rm, scores(["non_spatial"] * N), False)}),
        "fig3": fg.unit_tuning_panel(rm, sc, tu, fg.pick_nine(sc)),
        "fig4": fg.development_panel(development()),
        "fig5": fg.metabolic_panel((rm, sc), (rm, sc)),
        "fig6": fg.boundary_panel(boundary()),
        "dir": fg.tuning_grid(tu, "direction", sc),
        "speed": fg.tuning_grid(tu, "speed", sc),
        "nulls": fg.score_null_panel(sc),
    }
    for name, fig in figs.items():
        outs = [str(tmp_path / f"{name}.png"), str(tmp_path / f"{name}.pdf")]
        fg.save(fig, outs, dpi=40)
        for o in outs:
            assert (tmp_path / o).stat().st_size > 1000, o


def test_panels_cope_with_empty_data():
    sc = scores(["non_spatial"] * N)
    assert "no grid-like" in _texts(fg.example_types_panel({"r": (ratemaps(), sc, False)}))
    nan = scores()
    for s in ("score60", "null_score60", "threshold_score60"):
        nan[s] = nan[s] * np.nan
    assert "no finite values" in _texts(fg.score_null_panel(nan))
    assert "no units to show" in _texts(fg.unit_tuning_panel(ratemaps(), sc, tuning(), []))


def test_file_functions_write_png_and_pdf(tmp_path):
    p = {}
    for name, ds in (("ratemaps", ratemaps()), ("scores", scores()), ("tuning", tuning()),
                     ("development", development()), ("boundary", boundary())):
        p[name] = str(tmp_path / f"{name}.nc")
        io.write_netcdf(ds, p[name])
    f = {"dpi": 40}
    out = lambda n: [str(tmp_path / f"{n}.png"), str(tmp_path / f"{n}.pdf")]  # noqa: E731
    reporting.figure_examples([p["ratemaps"]], [p["scores"]], ["square"], ["square"], out("fig2"), f)
    reporting.figure_units(p["ratemaps"], p["scores"], p["tuning"], out("fig3"), f, "triangle")
    reporting.figure_development(p["development"], out("fig4"), f)
    reporting.figure_metabolic(p["ratemaps"], p["scores"], p["ratemaps"], p["scores"], ["a", "b"], out("fig5"), f)
    reporting.figure_boundary(p["boundary"], out("fig6"), f)
    reporting.figure_tuning(p["tuning"], p["scores"], out("dir"), out("speed"), f)
    reporting.figure_nulls(p["scores"], out("nulls"), f)
    for n in ("fig2", "fig3", "fig4", "fig5", "fig6", "dir", "speed", "nulls"):
        for o in out(n):
            assert (tmp_path / o).stat().st_size > 1000, o


def test_existing_panels_still_work(tmp_path):
    fig = fg.ratemap_panel(ratemaps(), scores(), title="t")
    fg.save(fig, [str(tmp_path / "r.png")], dpi=30)
    fig = fg.training_curves({"a": [{"update": i, "error": 1.0 / (i + 1), "r_l2": 1.0, "r_fr": 0.5} for i in range(5)]})
    fg.save(fig, [str(tmp_path / "t.png")], dpi=30)
    assert (tmp_path / "r.png").is_file() and (tmp_path / "t.png").is_file()


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
    assert "bd no field" in fg._score_line(sc, 0)
    assert "g60 n/a" in fg._score_line(sc, 1)
    assert fg.untrained_label(np.array([0, 10, 100]), np.array([2, 3, 9])) == "untrained 2, "
    assert fg.untrained_label(np.array([5, 10]), np.array([2, 3])) == ""
    assert fg.POLAR_OFFSET == 1.0
    fig = plt.figure()
    ax = fig.add_subplot(111, projection="polar")
    fg._direction_curve(ax, tuning(), 0, polar=True)
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
