"""README results section (cw.report.readme): figures scaled down, section replaced between markers."""

from __future__ import annotations

import numpy as np
import pytest

from cw.report import readme


def _png(path, w, h):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(path)


def test_results_section(tmp_path):
    from PIL import Image

    res = tmp_path / "results"
    for src, _, _ in readme.FIGURES:
        _png(res / "figures" / src, 2000, 1000)
    (res / "claims.md").write_text("# Claims\n\n| claim | verdict |\n|---|---|\n| C1a | holds |\n")
    (res / "benchmarks" / "train").mkdir(parents=True)
    (res / "benchmarks" / "train" / "a.tsv").write_text("s\th:m:s\n3600\t1:00:00\n")
    (res / "benchmarks" / "train" / "b.tsv").write_text("s\th:m:s\n1800\t0:30:00\n")
    (res / "benchmarks" / "scores").mkdir(parents=True)
    (res / "benchmarks" / "scores" / "c.tsv").write_text("s\th:m:s\n720\t0:12:00\n")
    md = tmp_path / "README.md"
    md.write_text(f"intro\n\n{readme.BEGIN}\nold text\n{readme.END}\n\n## after\n")
    readme.main(["--results", str(res), "--docs", str(tmp_path / "docs"), "--readme", str(md),
                 "--wall", "1 h", "--width", "500"])
    text = md.read_text()
    assert text.startswith("intro\n") and text.endswith("\n\n## after\n") and "old text" not in text
    assert "| C1a | holds |" in text and "\n# Claims" not in text
    assert "wall time 1 h" in text and "0.2 h summed over the analysis jobs, 1.5 h over the training jobs benchmarked" in text
    for _, name, _ in readme.FIGURES:
        assert f"(docs/{name})" in text
        with Image.open(tmp_path / "docs" / name) as im:
            assert im.size == (500, 250)
    readme.main(["--results", str(res), "--docs", str(tmp_path / "docs"), "--readme", str(md), "--wall", "2 h",
                 "--cores", "1"])
    assert md.read_text().count(readme.BEGIN) == 1 and "wall time 2 h (`snakemake --cores 1`)" in md.read_text()


def test_missing_inputs(tmp_path):
    md = tmp_path / "README.md"
    md.write_text("no markers\n")
    with pytest.raises(SystemExit, match="figure not found"):
        readme.main(["--results", str(tmp_path), "--readme", str(md), "--wall", "1 h"])
    with pytest.raises(ValueError, match="markers"):
        readme.update_readme(md, "x")
    assert md.read_text() == "no markers\n"


def test_study_section(tmp_path):
    """--study: the study table and figure between the study markers; the results part untouched."""
    from PIL import Image

    study = tmp_path / "results" / "study"
    _png(study / readme.STUDY_FIGURE[0], 1200, 2400)
    (study / "study.md").write_text("Study of conditions: runs a, b (output folder x).\n\n| run | n_grid_like |\n|---|---|\n| a | 0 |\n")
    (study / "study.csv").write_text("run,n_grid_like\na,0\n")
    md = tmp_path / "README.md"
    md.write_text(f"intro\n{readme.BEGIN}\nresults\n{readme.END}\n{readme.STUDY_BEGIN}\nold\n{readme.STUDY_END}\nend\n")
    readme.main(["--study", str(study), "--docs", str(tmp_path / "docs"), "--readme", str(md), "--width", "600"])
    text = md.read_text()
    assert f"{readme.BEGIN}\nresults\n{readme.END}" in text and "\nold\n" not in text and text.endswith("end\n")
    assert "| a | 0 |" in text and "Study of conditions:" not in text
    assert "(docs/study_best_units.png)" in text and "(docs/study.csv)" in text
    assert (tmp_path / "docs" / "study.csv").read_text() == "run,n_grid_like\na,0\n"
    with Image.open(tmp_path / "docs" / "study_best_units.png") as im:
        assert im.size == (600, 1200)
    (study / "study.csv").rename(study / "kept.csv")
    with pytest.raises(SystemExit, match="study.csv"):
        readme.main(["--study", str(study), "--docs", str(tmp_path / "other"), "--readme", str(md)])
    assert not (tmp_path / "other").exists() and md.read_text() == text  # nothing half-written
    (study / "kept.csv").rename(study / "study.csv")
    (study / "study.md").unlink()
    with pytest.raises(FileNotFoundError, match="no study table"):
        readme.main(["--study", str(study), "--docs", str(tmp_path / "docs"), "--readme", str(md)])
    with pytest.raises(SystemExit, match="--wall"):
        readme.main(["--results", str(tmp_path), "--readme", str(md)])


def test_verdicts_section(tmp_path):
    """--verdicts: two folders' claims side by side between the verdict markers, the rest untouched."""
    from cw.analysis.claim_tables import write_claims_csv

    def row(value, verdict):
        return {"claim": "C1a", "run": "square", "arena": "square", "statement": "s", "measure": "m",
                "threshold": "< 10", "value": value, "verdict": verdict, "note": ""}

    for folder, r in (("old", row(11.3, "fails")), ("new", row(9.5, "holds"))):
        (tmp_path / folder).mkdir()
        write_claims_csv([r], tmp_path / folder / "claims.csv")
    md = tmp_path / "README.md"
    md.write_text(f"intro\n{readme.VERDICTS_BEGIN}\nold table\n{readme.VERDICTS_END}\nend\n")
    readme.main(["--verdicts", str(tmp_path / "old"), str(tmp_path / "new"), "--labels", "Tikhonov", "authors'",
                 "--readme", str(md)])
    text = md.read_text()
    assert text.startswith(f"intro\n{readme.VERDICTS_BEGIN}\n") and text.endswith(f"{readme.VERDICTS_END}\nend\n")
    assert "old table" not in text and "the verdict changes in 1: C1a square (fails -> holds)." in text
    assert "| Tikhonov: value | Tikhonov: verdict | authors': value | authors': verdict |" in text
    assert "| 11.3 | fails | 9.5 | **holds** |" in text
    with pytest.raises(SystemExit, match="missing/claims.csv: no claims table"):
        readme.main(["--verdicts", str(tmp_path / "old"), str(tmp_path / "missing"), "--readme", str(md)])
