"""The ``Examples`` sections of the library's docstrings run as tests (doctest), and the library
names the docs cite exist."""

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import cw

ROOT = Path(__file__).resolve().parent.parent

#: Modules whose docstrings state formulas with examples: the analysis, the task, the config, and
#: from the network and the figures those that hold examples (the default noise location and the
#: Euler step, the structural-damping coefficient mu / (T N), the title and wrapping helpers, the
#: layout checker).
MODULES = sorted(m.name for m in pkgutil.walk_packages(cw.__path__, "cw.")
                 if m.name.startswith(("cw.analysis", "cw.task")) or m.name in (
                     "cw.config", "cw.synthetic", "cw.stats", "cw.seeds", "cw.atomic", "cw.network.model",
                     "cw.network.optimizers.params",
                     "cw.report.drawing", "cw.report.layout", "cw.report.titles"))


#: Modules of that selection without examples, and why: packages (no code), steps whose inputs are
#: whole runs (activity datasets, trained networks, result tables), and the trajectory generators,
#: whose examples would be whole batches of trials.
WITHOUT_EXAMPLES = {
    "cw.analysis", "cw.analysis.scores", "cw.task",                              # packages
    "cw.analysis.activity", "cw.analysis.benchmark_maps", "cw.analysis.boundary",  # whole runs
    "cw.analysis.claims", "cw.analysis.theory_control",
    "cw.task.trajectory_files",
    "cw.task.trajectories", "cw.task.long_path", "cw.task.sorscher_trajectories",  # batches of trials
}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
    if name in WITHOUT_EXAMPLES:
        assert result.attempted == 0, f"{name} has examples now: take it off WITHOUT_EXAMPLES"
    else:
        assert result.attempted > 0, f"{name}: no example runs (add one, or say why in WITHOUT_EXAMPLES)"


def _resolve(dotted: str):
    """The object a dotted ``cw.`` name refers to: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_library_names_cited_in_the_docs_exist(doc):
    """Every `cw.module.name` the README and docs/ cite is a module, function, class or method of
    the library (docs/paper-map.md once cited a `cw.network.model.loss_numpy` that did not exist)."""
    names = sorted(set(re.findall(r"`(cw(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`", doc.read_text())))
    missing = []
    for name in names:
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert not missing, f"{doc.name}: {', '.join(missing)}"
