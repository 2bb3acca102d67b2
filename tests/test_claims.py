"""Claims (cw.analysis.claims) on synthetic datasets with known answers: what should hold holds, what
should fail fails, what cannot be measured is untestable; and the table writers."""

import csv

import numpy as np
import pytest
import xarray as xr

from cw.analysis import claim_tables
from cw.analysis import claims as cl
from cw import io
from cw.analysis.celltypes import CELL_TYPES

SQUARE = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]).ravel()


def scores_ds(types, score90=None, sig90=None, score60=None, sig60=None, spatial=None):
    n = len(types)
    z = np.zeros(n)
    return xr.Dataset(
        {"cell_type": ("unit", np.array(types)),
         "spatial_variance_fraction": ("unit", np.linspace(0.1, 0.9, n) if spatial is None else np.asarray(spatial, float)),
         "score60": ("unit", z if score60 is None else np.asarray(score60, float)),
         "score90": ("unit", z if score90 is None else np.asarray(score90, float)),
         "significant_score60": ("unit", np.zeros(n, bool) if sig60 is None else np.asarray(sig60, bool)),
         "significant_score90": ("unit", np.zeros(n, bool) if sig90 is None else np.asarray(sig90, bool))},
        coords={"unit": np.arange(n)}, attrs={"arena_corners": SQUARE})


def tuning_ds(speed_r, resultant=None):
    """Speed r per unit; direction resultant lengths falling with the unit index (so with the
    spatial variance fraction of :func:`scores_ds`) unless given."""
    n = len(speed_r)
    rl = np.linspace(0.6, 0.05, n) + 0.02 * np.sin(np.arange(n)) if resultant is None else resultant
    return xr.Dataset({"speed_r": ("unit", np.asarray(speed_r, float)),
                       "resultant_length": ("unit", np.asarray(rl, float))})


def development_ds(border_counts, grid_counts, updates=(0, 10, 100, 300)):
    labels = list(CELL_TYPES)
    counts = np.zeros((len(updates), len(labels)), int)
    counts[:, labels.index("border")] = border_counts
    counts[:, labels.index("grid_like")] = grid_counts
    return xr.Dataset({"type_count": (("checkpoint", "cell_type_label"), counts)},
                      coords={"cell_type_label": labels, "update": ("checkpoint", np.array(updates))})


def boundary_ds(mse=0.0004, lag_slope=1e-4, drop1=0.5, drop2=0.8, long=0.001, const=0.08, count=100):
    """Episodes: ``count`` single interactions and ``count`` of 2-3; the error after an episode is
    (1 - drop) x the error before, with a little spread."""
    lag = np.arange(50)
    rng = np.random.default_rng(0)
    size = np.r_[np.ones(count, int), rng.integers(2, 4, count)]
    before = 0.01 + 0.002 * rng.random(2 * count)
    after = before * (1 - np.where(size == 1, drop1, drop2)) + 1e-4 * rng.random(2 * count)
    return xr.Dataset(
        {"error_since_boundary_mean": ("lag", 0.001 + lag_slope * lag),
         "error_since_boundary_count": ("lag", np.full(lag.size, count)),
         "episode_size": ("episode", size),
         "episode_error_before": ("episode", before),
         "episode_error_after": ("episode", after),
         "long_error_mean": ("window", np.full(5, long)),
         "const_error_mean": ("window", np.full(5, const))},
        coords={"lag": lag},
        attrs={"mse_test_m2": mse, "long_path_const_mse_m2": const, "long_path_steps": 50000})


def good_run():
    types = ["grid_like"] * 10 + ["border"] * 20 + ["band_like"] * 10 + ["spatially_irregular"] * 60
    s90 = np.r_[np.full(10, 0.8), np.zeros(90)]
    speed = np.r_[np.full(10, 0.6), np.full(20, 0.05), np.full(70, 0.5)] + np.linspace(0, 0.01, 100)
    return dict(scores=scores_ds(types, score90=s90, sig90=s90 > 0), tuning=tuning_ds(speed),
                development=development_ds([0, 5, 20, 20], [0, 0, 2, 10]), boundary=boundary_ds())


def verdicts(rows):
    return {c.claim: c.verdict for c in rows}


def test_every_claim_holds_on_a_run_that_shows_them():
    v = verdicts(cl.run_claims("square", "square", False, **good_run()))
    assert v == {k: "holds" for k in ("C1a", "C1b", "C2", "C3a", "C3b", "C4", "C6a", "C6b", "C6c", "C7", "C8", "C9")}


def test_claims_fail_on_a_run_that_contradicts_them():
    d = good_run()
    types = ["border"] * 20 + ["spatially_irregular"] * 80
    d["scores"] = scores_ds(types, score90=np.full(100, 0.2), sig90=np.ones(100, bool))  # significant but < 0.3
    # border units most speed-tuned; 20% of the units speed-tuned (< 25%); the most spatial units most direction-tuned
    d["tuning"] = tuning_ds(np.r_[np.full(20, 0.9), np.full(80, 0.1)], resultant=np.linspace(0.05, 0.6, 100))
    d["development"] = development_ds([0, 0, 0, 5], [0, 3, 5, 5])  # grid-like first
    d["boundary"] = boundary_ds(mse=0.04, lag_slope=-1e-4, drop1=0.05, drop2=0.0, long=0.1, const=0.08)
    v = verdicts(cl.run_claims("square", "square", False, **d))
    assert v == {"C1a": "fails", "C1b": "fails", "C2": "fails", "C3a": "holds", "C3b": "fails",
                 "C4": "fails", "C6a": "fails", "C6b": "fails", "C6c": "fails", "C7": "fails", "C8": "fails",
                 "C9": "fails"}


def test_values_thresholds_and_arena_rules():
    rows = {c.claim: c for c in cl.run_claims("square", "square", False, **good_run())}
    # mse 4e-4 m^2 per coordinate: RMS distance sqrt(2 x 4e-4) = 2.83 cm in a 1 m arena
    assert rows["C1a"].value == pytest.approx(100 * np.sqrt(8e-4) / 1.0)
    assert rows["C1b"].value == pytest.approx(0.001 / 0.08)
    assert rows["C2"].value == 10 and rows["C2"].measure == "units of cell type grid_like"
    assert "score-only count (significant score90 > 0.3, no lattice test): 10" in rows["C2"].note
    assert "untrained network (update 0): 0" in rows["C2"].note
    assert rows["C4"].value == 100 - 10
    b = good_run()["boundary"]
    bef, aft = b["episode_error_before"].values, b["episode_error_after"].values
    assert rows["C6b"].value == pytest.approx(1 - aft.mean() / bef.mean())
    big = b["episode_size"].values >= 2
    assert rows["C6c"].value == pytest.approx((bef - aft)[big].mean() - (bef - aft)[~big].mean())
    # the score-only note uses score60 in a triangle; the verdict still counts the cell type
    d = good_run()
    tri = {c.claim: c for c in cl.run_claims("triangle", "triangle", False, **d)}
    assert tri["C2"].verdict == "holds" and "score60" in tri["C2"].note
    assert "significant score60 > 0.3, no lattice test): 0" in tri["C2"].note


@pytest.mark.parametrize("n_grid, n_score_only", [(0, 0), (0, 7), (1, 0), (3, 3), (2, 9)])
def test_c2_verdict_is_at_least_one_grid_like_unit(n_grid, n_score_only):
    """C2 agrees with the figures: it holds exactly when some unit has cell type grid_like,
    whatever the score-only count (smooth random maps pass the grid scores alone)."""
    n = 40
    types = ["grid_like"] * n_grid + ["spatially_irregular"] * (n - n_grid)
    s90 = np.r_[np.full(n_score_only, 0.9), np.zeros(n - n_score_only)]
    for arena in ("square", "triangle", "hexagon"):
        sc = scores_ds(types, score90=s90, sig90=s90 > 0, score60=s90, sig60=s90 > 0)
        c2 = [c for c in cl.run_claims("r", arena, False, scores=sc) if c.claim == "C2"][0]
        assert c2.value == n_grid
        assert c2.verdict == ("holds" if n_grid >= 1 else "fails")
        assert f"no lattice test): {n_score_only}" in c2.note


def test_untrained_counts_in_the_notes():
    d = good_run()
    d["development"] = development_ds([2, 5, 20, 20], [1, 0, 2, 10])
    rows = {c.claim: c for c in cl.run_claims("square", "square", False, **d)}
    assert cl.untrained_count(d["development"], "grid_like") == 1
    assert rows["C2"].note.endswith("untrained network (update 0): 1")
    assert rows["C3a"].note == "untrained network (update 0): 2"
    assert cl.untrained_count(development_ds([1, 1], [1, 1], updates=(5, 10)), "border") is None


def test_scale_preamble_names_the_scale():
    def run(n_updates, n_units, n_test=500, n_steps=500):
        return {"training": {"n_updates": n_updates}, "model": {"n_units": n_units},
                "trajectories": {"n_test": n_test, "n_steps": n_steps}, "shuffles": {"n_shuffles": 5}}

    text = cl.scale_preamble("results/tiny", {"square": run(3, 12, 20, 60)})
    assert "`results/tiny`" in text and "n_updates 3, n_units 12, n_test 20 x n_steps 60" in text
    assert "**Reduced scale**" in text and "not the paper's test" in text
    text = cl.scale_preamble("results", {"square": run(1900, 100)})  # the schema's defaults
    assert "Reduced" not in text and "Paper scale" in text
    assert "**Reduced scale**" in cl.scale_preamble("results", {"square": run(300, 100)})
    md = claim_tables.claims_markdown([], preamble=text)
    assert md.index("Paper scale") < md.index("0 claim rows")


def test_border_units_only_without_grids_fail_c4_and_missing_border_is_untestable_for_c7():
    d = good_run()
    d["development"] = development_ds([1, 5, 9, 9], [0, 0, 0, 0])
    d["scores"] = scores_ds(["spatially_irregular"] * 100)
    v = verdicts(cl.run_claims("hexagon", "hexagon", False, **d))
    assert v["C4"] == "fails" and v["C7"] == "untestable" and v["C3a"] == "fails"


def test_ablation_claims():
    mostly_border = scores_ds(["border"] * 70 + ["spatially_irregular"] * 30)
    v = verdicts(cl.run_claims("sq0", "square", True, scores=mostly_border, boundary=boundary_ds()))
    assert v == {"C1a": "holds", "C1b": "holds", "C5a": "holds", "C5b": "holds"}
    with_grids = scores_ds(["border"] * 30 + ["grid_like"] * 5 + ["spatially_irregular"] * 65)
    v = verdicts(cl.run_claims("sq0", "square", True, scores=with_grids))
    assert v == {"C5a": "fails", "C5b": "fails"}


def test_too_few_samples_make_c6_untestable():
    d = good_run()
    d["boundary"] = boundary_ds(count=3)
    v = verdicts(cl.run_claims("square", "square", False, **d))
    assert v["C6a"] == "untestable" and v["C6b"] == "untestable" and v["C6c"] == "untestable"


def test_seed_summary_counts_seeds():
    rows = [
        {"claim": "C2", "run": f"square_seed{s}", "arena": "square", "statement": "s", "measure": "m",
         "threshold": ">= 1", "value": float(v), "verdict": "holds" if v >= 1 else "fails"}
        for s, v in ((1, 3), (2, 0), (3, 5))
    ]
    (s,) = cl.summarise_seeds(rows)
    assert (s["runs"], s["n_seeds"], s["n_holds"], s["verdict"], s["median"]) == ("square", 3, 2, "mixed", 3.0)
    assert cl.summarise_seeds(rows[:1])[0]["verdict"] == "holds"
    assert cl.base_run("square_no_metabolic_seed12") == "square_no_metabolic"


def test_make_claims_from_files(tmp_path):
    d = good_run()
    paths = {}
    for key in ("scores", "tuning", "development", "boundary"):
        paths[key] = str(tmp_path / f"{key}.nc")
        io.write_netcdf(d[key], paths[key])
    from cw.steps.report import make_claims

    out = {k: str(tmp_path / f"claims.{k}") for k in ("md", "csv", "seeds", "html")}
    make_claims([{"name": "square", "arena": "square", "ablation": False}], [paths["scores"]],
                [paths["tuning"]], [paths["development"]], [paths["boundary"]], out["md"], out["csv"],
                out["seeds"], html=out["html"])
    with open(out["csv"]) as f:
        rows = list(csv.DictReader(f))
    assert [r["claim"] for r in rows] == ["C1a", "C1b", "C2", "C3a", "C3b", "C4", "C6a", "C6b", "C6c", "C7", "C8",
                                          "C9"]
    assert all(r["verdict"] == "holds" for r in rows) and set(rows[0]) == set(cl.COLUMNS)
    md = open(out["md"]).read()
    assert "12 claim rows: 12 hold, 0 fail" in md and "| C9 | square |" in md
    assert "<table>" in open(out["html"]).read()


def test_verdicts_side_by_side_from_two_claims_tables(tmp_path):
    def row(claim, run, value, verdict):
        return {"claim": claim, "run": run, "arena": run, "statement": f"{claim} holds", "measure": "m",
                "threshold": "< 10", "value": value, "verdict": verdict, "note": ""}

    before = [row("C1a", "square", 11.3, "fails"), row("C1a", "triangle", 7.9, "holds"),
              row("C3a", "triangle", 1, "holds"), row("C5a", "square_no_metabolic", 0.04, "fails")]
    after = [row("C1a", "square", 9.5, "holds"), row("C1a", "triangle", 8.1, "holds"),
             row("C3a", "triangle", 0, "fails"), row("C2", "hexagon", float("nan"), "untestable")]
    claim_tables.write_claims_csv(before, tmp_path / "before.csv")
    claim_tables.write_claims_csv(after, tmp_path / "after.csv")
    b, a = claim_tables.read_claims_csv(tmp_path / "before.csv"), claim_tables.read_claims_csv(tmp_path / "after.csv")
    assert b[0]["value"] == 11.3 and np.isnan(a[3]["value"])
    text = claim_tables.verdict_comparison(b, a, ("old", "new"))
    lines = text.splitlines()
    assert lines[0] == ("3 claim rows in both tables; the verdict changes in 2: C1a square (fails -> holds), "
                        "C3a triangle (holds -> fails).")
    table = [ln for ln in lines if ln.startswith("| C")]
    assert len(table) == 5  # the union: 3 in both, one only after, one only before
    assert table[0].endswith("| 11.3 | fails | 9.5 | **holds** |")
    assert table[1].endswith("| 7.9 | holds | 8.1 | holds |")
    assert table[3].startswith("| C2 | hexagon |") and table[3].endswith("| - | - | n/a | untestable |")
    assert table[4].startswith("| C5a | square_no_metabolic |") and table[4].endswith("| 0.04 | fails | - | - |")
    with pytest.raises(FileNotFoundError, match="nothing.csv: no claims table"):
        claim_tables.read_claims_csv(tmp_path / "nothing.csv")


def test_speed_and_direction_tuning_claims_against_known_values():
    """C8 counts |speed r| >= 0.3 against a quarter of the units; C9 is Spearman's rho of the
    direction resultant length against the spatial variance fraction (exact: -1 and +1 for
    monotonic pairs), untestable without the variables."""
    n = 40
    speed = np.r_[np.full(10, 0.3), np.full(30, 0.29)]  # exactly a quarter at the threshold
    scores = scores_ds(["spatially_irregular"] * n, spatial=np.linspace(0, 1, n))
    rows = {c.claim: c for c in cl.run_claims("r", "square", False, scores=scores,
                                               tuning=tuning_ds(speed, resultant=np.linspace(1, 0, n)))}
    assert rows["C8"].value == pytest.approx(0.25) and rows["C8"].verdict == "holds"
    assert rows["C9"].value == pytest.approx(-1.0) and rows["C9"].verdict == "holds"
    rows = {c.claim: c for c in cl.run_claims("r", "square", False, scores=scores,
                                               tuning=tuning_ds(speed * 0.9, resultant=np.linspace(0, 1, n)))}
    assert rows["C8"].value == 0.0 and rows["C8"].verdict == "fails"
    assert rows["C9"].value == pytest.approx(1.0) and rows["C9"].verdict == "fails"
    bare = xr.Dataset({"speed_r": ("unit", speed)})
    assert {c.claim: c.verdict for c in cl.run_claims("r", "square", False, scores=scores, tuning=bare)}["C9"] == "untestable"
    assert not {"C8", "C9"} & {c.claim for c in cl.run_claims("r", "square", True, scores=scores, tuning=bare)}
