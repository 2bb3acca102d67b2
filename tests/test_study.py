"""The study table (cw.report.study): one row per run, counts, best scores and claim verdicts."""

import numpy as np
import xarray as xr

from cw.report.study import study_markdown, study_rows


def _scores(path, types, s60, s90):
    ds = xr.Dataset(
        {"cell_type": ("unit", np.array(types)), "score60": ("unit", np.array(s60)), "score90": ("unit", np.array(s90))}
    )
    ds.to_netcdf(path)
    return str(path)


def test_study_rows_count_types_and_take_verdicts(tmp_path):
    a = _scores(tmp_path / "a.nc", ["grid_like", "border", "border", "irregular"], [0.5, -0.2, np.nan, 0.1], [0.1, 0.2, 0.3, np.nan])
    b = _scores(tmp_path / "b.nc", ["band_like", "non_spatial"], [np.nan, np.nan], [0.05, -0.1])
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "claim,run,statement,measure,threshold,value,verdict,note\n"
        "C1a,base,x,y,< 10,7.5,holds,\n"
        "C2,base,x,y,>= 1,1,holds,\n"
        "C1a,other,x,y,< 10,12,fails,\n"
        "C5a,other,x,y,>= 0.5,0,fails,\n"
    )
    rows = study_rows([{"name": "base", "setting": "authors"}, {"name": "other", "setting": "no cost"}], [a, b], claims)
    assert rows[0]["n_grid_like"] == 1 and rows[0]["n_border"] == 2 and rows[0]["n_band_like"] == 0
    assert rows[0]["best_score60"] == 0.5 and rows[0]["best_score90"] == 0.3
    assert rows[0]["error_pct_width"] == 7.5 and rows[0]["C2"] == "holds" and rows[0]["C5a"] == ""
    assert rows[1]["n_band_like"] == 1 and np.isnan(rows[1]["best_score60"]) and rows[1]["best_score90"] == 0.05
    assert rows[1]["C5a"] == "fails" and rows[1]["C2"] == ""
    md = study_markdown(rows, "Study")
    assert md.splitlines()[2].startswith("| run | setting | error_pct_width | n_grid_like")
    assert "| base | authors | 7.5 | 1 | 0 | 2 | 0.5 | 0.3 |" in md
