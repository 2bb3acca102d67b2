"""Figures at print size: every figure a rule of the workflow makes, drawn by the rule's own step
function on files of the tiny preset's shapes (12 units, two runs, 10 x 10 bins, 3 checkpoints,
a long path of 6 windows) with the title its rule gives it (cw.report.titles), is checked at
the dpi it is saved with (the tiny preset's) and at config.yaml's: no two text elements (titles,
axis labels, tick labels, legends, free texts) overlap and none leaves the figure's canvas
(cw.report.layout).  Paper-scale variants where the layout depends on the data's size: Fig. 2
with three runs, Fig. 6 with 500 windows of a path of 5,000,000 steps, the study figure with
long settings.  (The panel grids are 10 columns wide from 10 units on, so the tiny preset's 12
units already give the paper's widths.)"""

import csv
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

import test_figures as data
from cw import io
from cw.report import drawing
from cw.report import figures as fg
from cw.report import titles
from cw.report.layout import layout_problems

ROOT = Path(__file__).resolve().parent.parent
TINY = yaml.safe_load((ROOT / "workflow/presets/tiny.yaml").read_text())
PAPER_DPI = int(yaml.safe_load((ROOT / "config.yaml").read_text())["figures"]["dpi"])
FIGURES = dict(TINY["figures"])
TRIANGLE = np.array([[-0.75, -0.43], [0.75, -0.43], [0.0, 0.87]]).ravel()


def _activity():
    n_trials, n_steps = TINY["trajectories"]["n_test"], TINY["trajectories"]["n_steps"]
    t = np.linspace(0, 1, n_steps)
    x = 0.3 * np.cos(2 * np.pi * t)[None].repeat(n_trials, 0)
    y = 0.3 * np.sin(2 * np.pi * t)[None].repeat(n_trials, 0)
    b = np.zeros((n_trials, n_steps))
    b[:, ::10] = 1
    return xr.Dataset({"x": (("trial", "time"), x), "y": (("trial", "time"), y),
                       "output_x": (("trial", "time"), x + 0.01), "output_y": (("trial", "time"), y - 0.01),
                       "boundary": (("trial", "time"), b)},
                      coords={"trial": np.arange(n_trials)}, attrs={"rms_position_error_m": 0.0213})


def _paper_boundary():
    """Fig. 6 at the paper's scale: 500 windows of 10,000 steps."""
    bd = data.boundary().drop_dims("window")
    rng = np.random.default_rng(0)
    w = 500
    bd["long_error_mean"] = ("window", 0.05 + 0.03 * rng.random(w))
    bd["long_error_sd"] = ("window", np.full(w, 0.04))
    bd["const_error_mean"] = ("window", 0.4 + 0.05 * rng.random(w))
    bd["const_error_sd"] = ("window", np.full(w, 0.3))
    bd = bd.assign_coords(window_start=("window", np.arange(w) * 10000))
    bd.attrs.update(long_path_steps=5_000_000, boundary_window_steps=10000)
    return bd


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The input files of every figure rule, written as the pipeline writes them."""
    d = tmp_path_factory.mktemp("inputs")
    p = {}
    tri_rm = data.ratemaps()
    tri_rm.attrs["arena_corners"] = TRIANGLE
    tri_sc = data.scores()
    tri_sc.attrs["arena_corners"] = TRIANGLE
    for name, ds in (("ratemaps", data.ratemaps()), ("scores", data.scores()), ("tuning", data.tuning()),
                     ("development", data.development()), ("boundary", data.boundary()),
                     ("boundary_paper", _paper_boundary()), ("activity", _activity()),
                     ("tri_ratemaps", tri_rm), ("tri_scores", tri_sc),
                     ("empty_scores", data.scores(["non_spatial"] * data.N))):
        p[name] = str(d / f"{name}.nc")
        io.write_netcdf(ds, p[name])
    for run in ("square", "triangle"):
        p[f"history_{run}"] = str(d / f"history_{run}.csv")
        io.write_csv([{"update": i, "error": 0.1 / (i + 1), "r_l2": 1.0 + i, "r_fr": 0.5, "seconds": 1.0,
                       "lambda_l2": 0.5 * 1.5 ** i, "lambda_fr": 0.1 * 1.5 ** i, "damping": 0.0}
                      for i in range(TINY["training"]["n_updates"] + 1)], p[f"history_{run}"])
    p["claims"] = str(d / "claims.csv")
    with open(p["claims"], "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["claim", "run", "value", "verdict"])
        w.writeheader()
        for run in ("baseline", "noise_rate0", "code_hf"):
            w.writerow({"claim": "C1a", "run": run, "value": "4.2", "verdict": "reproduced"})
    p["dir"] = d
    return p


def _outs(tmp, name):
    return [str(tmp / f"{name}.png"), str(tmp / f"{name}.pdf")]


def _rules():
    """rule name -> function(files, output folder) running the rule's step as its script does."""
    from cw.steps import report

    return {
        "figure_ratemaps": lambda f, t: report.figure_ratemaps(
            f["ratemaps"], f["scores"], _outs(t, "ratemaps"), titles.ratemaps("square", "square"), FIGURES),
        "figure_trajectories": lambda f, t: report.figure_trajectories(
            f["activity"], f["ratemaps"], _outs(t, "trajectories"), titles.trajectories("square"), FIGURES),
        "figure_training": lambda f, t: report.figure_training(
            [f["history_square"], f["history_triangle"]], ["square", "triangle"], _outs(t, "training"), FIGURES),
        "figure_examples": lambda f, t: report.figure_examples(
            [f["ratemaps"], f["tri_ratemaps"]], [f["scores"], f["empty_scores"]], ["square", "triangle"],
            ["square", "triangle"], _outs(t, "fig2"), FIGURES, n_examples=2, title=titles.fig2()),
        "figure_examples (three runs)": lambda f, t: report.figure_examples(
            [f["ratemaps"], f["tri_ratemaps"], f["ratemaps"]], [f["scores"], f["tri_scores"], f["empty_scores"]],
            ["square", "triangle", "hexagon"], ["square", "triangle", "hexagon"], _outs(t, "fig2"), FIGURES,
            n_examples=2, title=titles.fig2()),
        "figure_units": lambda f, t: report.figure_units(
            f["tri_ratemaps"], f["tri_scores"], f["tuning"], _outs(t, "fig3"), FIGURES, "triangle", n_units=9,
            title=titles.fig3("triangle", "triangle")),
        "figure_development": lambda f, t: report.figure_development(
            f["development"], _outs(t, "fig4"), FIGURES, title=titles.fig4("square")),
        "figure_metabolic": lambda f, t: report.figure_metabolic(
            f["ratemaps"], f["empty_scores"], f["ratemaps"], f["scores"],
            titles.fig5_names("square_no_metabolic", "square", 0.1), _outs(t, "fig5"), FIGURES,
            title=titles.fig5("square")),
        "figure_boundary": lambda f, t: report.figure_boundary(
            f["boundary"], _outs(t, "fig6"), FIGURES, title=titles.fig6("square"), min_count=1),
        "figure_boundary (paper scale)": lambda f, t: report.figure_boundary(
            f["boundary_paper"], _outs(t, "fig6"), FIGURES, title=titles.fig6("square"), min_count=1),
        "figure_tuning": lambda f, t: report.figure_tuning(
            f["tuning"], f["scores"], _outs(t, "direction"), _outs(t, "speed"), FIGURES,
            title=titles.appendix("square", "square")),
        "figure_nulls": lambda f, t: report.figure_nulls(
            f["scores"], _outs(t, "nulls"), FIGURES, title=titles.nulls("square")),
        "study": lambda f, t: report.make_study(
            [{"name": "baseline", "setting": "earlier defaults: Tikhonov damping, heading in rad, speed x 10"},
             {"name": "noise_rate0", "setting": "no noise"},
             {"name": "code_hf", "setting": "authors' damping and inputs (CODE)"}],
            [f["scores"]] * 3, [f["ratemaps"]] * 3, f["claims"], str(t / "study.csv"), str(t / "study.md"),
            _outs(t, "study"), FIGURES),
    }


RULES = list(_rules())


@pytest.mark.parametrize("rule", RULES)
def test_figure_text_fits_at_the_saved_size(rule, files, monkeypatch, tmp_path):
    """Each figure the rule saves: no overlapping text and nothing off the canvas, at the dpi it
    is saved with and at config.yaml's dpi; the files are written."""
    seen = []
    real_save = drawing.save

    def checked_save(fig, outs, dpi, tight=True):
        for d in sorted({int(dpi), PAPER_DPI}):
            seen.append((Path(outs[0]).name, d, layout_problems(fig, d)))
        real_save(fig, outs, dpi, tight)

    monkeypatch.setattr(fg, "save", checked_save)
    monkeypatch.setattr(drawing, "save", checked_save)
    _rules()[rule](files, tmp_path)
    assert seen, f"{rule}: no figure saved"
    bad = [f"{name} at {dpi} dpi: {p}" for name, dpi, problems in seen for p in problems]
    assert not bad, "\n".join(bad)
    for name, _, _ in seen:
        assert (tmp_path / name).stat().st_size > 1000 and (tmp_path / name).with_suffix(".pdf").is_file()


def test_the_checker_finds_overlaps_and_text_off_the_canvas():
    """The checker itself: a label drawn over a title and a text running off the right edge are
    both reported, a clean figure gives nothing."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("title")
    ax.set_xlabel("x")
    fig.tight_layout()
    assert layout_problems(fig, 100) == []
    ax.text(0.5, 1.01, "over the title", transform=ax.transAxes, ha="center")
    fig.text(0.8, 0.5, "runs off the right edge of the figure")
    problems = layout_problems(fig, 100)
    assert any(p.startswith("overlap: 'title'") and "over the title" in p for p in problems), problems
    assert any(p.startswith("outside the canvas: 'runs off") for p in problems), problems
    leg = ax.plot([0, 1], label="a legend entry")[0]
    assert leg is not None
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02))  # on top of the x label
    assert any("a legend entry" in p and "'x'" in p for p in layout_problems(fig, 100))
    plt.close(fig)
