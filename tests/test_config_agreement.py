"""config.yaml, the config schema and the settings dataclasses agree, key by key.

The schema (``cw/config.schema.yaml``) is the one source of every default: the dataclasses take
theirs from it through :func:`cw.config.schema_default`, and config.yaml spells every value out
for the reader. :func:`disagreements` lists every key where the three differ; the tests below run
it on the shipped files and on deliberately broken copies, so that it is known to catch a drift.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import math
import pkgutil
import re
from pathlib import Path

import pytest
import yaml

import cw
from cw.analysis.boundary import BoundaryParams
from cw.analysis.celltypes import CellTypeParams
from cw.analysis.claims import ClaimParams
from cw.analysis.development import DevelopmentParams
from cw.analysis.lattice import LatticeFitParams
from cw.analysis.pattern_formation import PatternFormationParams
from cw.analysis.ratemaps import RatemapParams
from cw.analysis.scores import BandScoreParams, BorderScoreParams, GridGeometryParams
from cw.analysis.scores.grid import GridScoreParams, GridScoreSettings
from cw.analysis.scores.maps import ScoreParams
from cw.analysis.shuffles import ShuffleParams
from cw.analysis.tuning import TuningParams
from cw.analysis.units import AnalysisSettings
from cw.config import _resolve, load_schema, schema_default
from cw.network.model import LossParams, ModelParams
from cw.network.optimizers.params import AdamParams, HessianFreeParams
from cw.network.penalties import PenaltyAdaptParams
from cw.network.place_rnn import PlaceRNNParams
from cw.network.training import TrainingParams
from cw.task.place_cells import PlaceCellParams
from cw.task.sorscher_trajectories import SorscherTrajectoryParams
from cw.network.place_training import PlaceTrainingParams
from cw.task.trajectories import TrajectoryParams

ROOT = Path(__file__).resolve().parent.parent

#: Config section (dotted) -> (settings dataclass, prefix of its keys in the section).
SECTIONS: dict[str, list[tuple[type, str]]] = {
    "trajectories": [(TrajectoryParams, "")],
    "model": [(ModelParams, "")],
    "loss": [(LossParams, "")],
    "training": [(TrainingParams, "")],
    "training.adam": [(AdamParams, "")],
    "training.hessian_free": [(HessianFreeParams, "")],
    "training.adapt_penalties": [(PenaltyAdaptParams, "")],
    "ratemaps": [(RatemapParams, "")],
    "scores": [(GridScoreSettings, "")],
    "scores.geometry": [(GridGeometryParams, ""), (LatticeFitParams, "lattice_")],
    "scores.border": [(BorderScoreParams, "")],
    "scores.band": [(BandScoreParams, "")],
    "shuffles": [(ShuffleParams, "")],
    "celltypes": [(CellTypeParams, "")],
    "tuning": [(TuningParams, "")],
    "development": [(DevelopmentParams, "")],
    "boundary": [(BoundaryParams, "")],
    "claims": [(ClaimParams, "")],
    "place_cells": [(PlaceCellParams, "")],
    "place_rnn": [(PlaceRNNParams, "")],
    "place_trajectories": [(SorscherTrajectoryParams, "")],
    "place_training": [(PlaceTrainingParams, "")],
    "pattern_formation": [(PatternFormationParams, "")],
}

#: Keys of a section that its dataclass does not hold (read elsewhere).
NOT_IN_DATACLASS = {"trajectories.n_test",  # test trials: cw.steps, not the motion model
                    "place_trajectories.n_test", "place_trajectories.n_steps_test"}

#: Settings dataclasses that are no config section of their own.
COMPOSITES = {GridScoreParams, ScoreParams,  # built from GridScoreSettings and the scores section
              AnalysisSettings}  # the ratemaps, scores, shuffles and celltypes sections together

#: Top-level keys of config.yaml that hold no settings with defaults.
NO_DEFAULTS = {"runs", "run_sets", "arenas"}


def _norm(value):
    """Lists as tuples, recursively (YAML lists, tuples in the frozen dataclasses)."""
    return tuple(_norm(v) for v in value) if isinstance(value, (list, tuple)) else value


def _same(a, b) -> bool:
    """Equal values of the same types (10 and 10.0 differ: a float setting must stay a float)."""
    return repr(_norm(a)) == repr(_norm(b))


def schema_defaults(schema: dict) -> dict[str, object]:
    """Every default of the schema, by dotted key (objects: their own default and their keys)."""
    out: dict[str, object] = {}

    def walk(node: dict, prefix: str) -> None:
        for key, sub in _resolve(schema, node).get("properties", {}).items():
            sub = _resolve(schema, sub)
            path = f"{prefix}{key}"
            if "default" in sub:
                out[path] = sub["default"]
            if sub.get("type") == "object" and key not in NO_DEFAULTS:
                walk(sub, path + ".")

    walk(schema, "")
    return out


def config_values(config: dict) -> dict[str, object]:
    """Every setting of config.yaml, by dotted key (mappings are walked, not compared whole)."""
    out: dict[str, object] = {}

    def walk(node: dict, prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict) and value:
                walk(value, path + ".")
            else:
                out[path] = value

    walk({k: v for k, v in config.items() if k not in NO_DEFAULTS}, "")
    return out


def _field_default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def disagreements(config: dict, schema: dict, sections=SECTIONS) -> list[str]:
    """Every key where config.yaml, the schema and the dataclass defaults differ, one line each."""
    defaults = schema_defaults(schema)
    values = config_values(config)
    bad = []
    for key in sorted(set(values) | set(defaults)):
        if key not in defaults:
            bad.append(f"{key}: in config.yaml, no default in the schema")
        elif key not in values:
            if not (isinstance(defaults[key], dict) and any(k.startswith(key + ".") for k in values)):
                bad.append(f"{key}: schema default {defaults[key]!r} not spelled out in config.yaml")
        elif not _same(values[key], defaults[key]):
            bad.append(f"{key}: config.yaml {values[key]!r} != schema {defaults[key]!r}")
    for section, classes in sections.items():
        keys = {k[len(section) + 1:] for k in defaults if k.startswith(section + ".")
                and "." not in k[len(section) + 1:]}
        held = set()
        for cls, prefix in classes:
            for f in dataclasses.fields(cls):
                key = f"{section}.{prefix}{f.name}"
                held.add(prefix + f.name)
                lib = _field_default(f)
                if key not in defaults:
                    bad.append(f"{key}: {cls.__name__}.{f.name} has no default in the schema")
                elif lib is dataclasses.MISSING or not _same(lib, defaults[key]):
                    bad.append(f"{key}: {cls.__name__}.{f.name} = {lib!r} != schema {defaults[key]!r}")
        if not classes[0][1]:  # a class holding the whole section: every key of it
            for key in sorted(keys - held):
                if f"{section}.{key}" not in NOT_IN_DATACLASS | set(sections):  # sub-sections: own entries
                    bad.append(f"{section}.{key}: in the schema, no field of {classes[0][0].__name__}")
    return bad


@pytest.fixture(scope="module")
def config():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.fixture(scope="module")
def schema():
    return load_schema()


def test_config_yaml_schema_and_dataclasses_agree(config, schema):
    assert disagreements(config, schema) == []


def test_every_settings_dataclass_is_a_config_section():
    """A new settings class must join SECTIONS (or COMPOSITES), so that its defaults are checked."""
    listed = {cls for classes in SECTIONS.values() for cls, _ in classes} | COMPOSITES
    found = set()
    for m in pkgutil.walk_packages(cw.__path__, "cw."):
        mod = importlib.import_module(m.name)
        for obj in vars(mod).values():
            if (isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == mod.__name__
                    and obj.__name__.endswith(("Params", "Settings"))):
                found.add(obj)
    assert found - listed == set(), sorted(c.__name__ for c in found - listed)


def test_the_composite_defaults_come_from_their_sections():
    assert GridScoreSettings().params() == GridScoreParams()
    assert AnalysisSettings() == AnalysisSettings.from_config() == AnalysisSettings(
        RatemapParams.from_dict(None), ScoreParams.from_dict(None), ShuffleParams.from_dict(None),
        CellTypeParams.from_dict(None))
    assert ScoreParams.from_dict({}) == ScoreParams()
    assert GridGeometryParams().lattice == LatticeFitParams()


def test_a_changed_config_value_is_caught(config, schema):
    cfg = copy.deepcopy(config)
    cfg["scores"]["border"]["field_threshold"] = 0.35
    cfg["model"]["speed_scale"] = 1  # an int where the default is a float
    assert disagreements(cfg, schema) == [
        "model.speed_scale: config.yaml 1 != schema 1.0",
        "scores.border.field_threshold: config.yaml 0.35 != schema 0.3",
    ]


def test_missing_and_unknown_config_keys_are_caught(config, schema):
    cfg = copy.deepcopy(config)
    del cfg["tuning"]["lag_steps"]
    cfg["tuning"]["lag"] = 0
    assert disagreements(cfg, schema) == [
        "tuning.lag: in config.yaml, no default in the schema",
        "tuning.lag_steps: schema default 0 not spelled out in config.yaml",
    ]


def test_a_changed_schema_default_is_caught(config, schema):
    """The dataclasses read the installed schema once; a changed copy disagrees with them."""
    changed = copy.deepcopy(schema)
    changed["$defs"]["training"]["properties"]["hessian_free"]["properties"]["cg_max_iters"]["default"] = 40
    changed["$defs"]["celltypes"]["properties"]["min_lattice_r2"]["default"] = 0.55
    assert sorted(disagreements(config, changed)) == [
        "celltypes.min_lattice_r2: CellTypeParams.min_lattice_r2 = 0.5 != schema 0.55",
        "celltypes.min_lattice_r2: config.yaml 0.5 != schema 0.55",
        "training.hessian_free.cg_max_iters: HessianFreeParams.cg_max_iters = 50 != schema 40",
        "training.hessian_free.cg_max_iters: config.yaml 50 != schema 40",
    ]


def test_a_dataclass_default_of_its_own_is_caught(config, schema):
    """A default typed into a dataclass instead of taken from the schema, or a field the schema lacks."""
    fields = [(f.name, f.type, dataclasses.field(default=_field_default(f))) for f in dataclasses.fields(TuningParams)]
    fields = [(n, t, dataclasses.field(default=72) if n == "n_direction_bins" else d) for n, t, d in fields]
    drifted = dataclasses.make_dataclass("TuningParams", fields + [("smoothing", float, dataclasses.field(default=0.0))],
                                         frozen=True)
    sections = {**SECTIONS, "tuning": [(drifted, "")]}
    assert disagreements(config, schema, sections) == [
        "tuning.n_direction_bins: TuningParams.n_direction_bins = 72 != schema 36",
        "tuning.smoothing: TuningParams.smoothing has no default in the schema",
    ]


def test_schema_default_names_a_missing_key():
    assert schema_default("scores", "geometry", "n_peaks") == 6
    assert schema_default("scores", "geometry", "lattice_sharpness") == (0.0, 1.0, 3.0)
    with pytest.raises(KeyError, match="scores.geometry.n_peak: not in the config schema"):
        schema_default("scores", "geometry", "n_peak")


# -- the defaults written in the dataclasses' docstrings -------------------------------------------
_DOC_DEFAULT = re.compile(r"^\s*([A-Za-z_][\w, ]*?) : [^\n]*?, defaults? (.+?)\s*$", re.M)


def _doc_value(text: str):
    """A docstring's default as a value: numbers (also ``2/3``, ``pi / 4``), True/False/None,
    quoted strings and tuples."""
    return eval(text, {"__builtins__": {}}, {"pi": math.pi, "True": True, "False": False, "None": None})  # noqa: S307


def docstring_default_disagreements(classes) -> list[str]:
    """``name : type, default V`` (or ``a, b : type, defaults Va, Vb``) in each settings
    dataclass's docstring against the field's own default (which is the schema's): every
    mismatch, and every stated default of a field that has none."""
    bad = []
    for cls in classes:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for names, value in _DOC_DEFAULT.findall(cls.__doc__ or ""):
            names = [n.strip() for n in names.split(",")]
            values = [_doc_value(value)] if len(names) == 1 else list(_doc_value(f"({value},)"))
            for name, stated in zip(names, values):
                if name not in fields:
                    bad.append(f"{cls.__name__}.{name}: docstring states a default of no field")
                    continue
                actual = _norm(_field_default(fields[name]))
                stated = _norm(stated)
                if isinstance(actual, float) and isinstance(stated, (int, float)) and not isinstance(stated, bool):
                    ok = math.isclose(actual, stated, rel_tol=5e-4)  # printed to 3-4 digits: 0.8168
                else:
                    ok = actual == stated
                if not ok:
                    bad.append(f"{cls.__name__}.{name}: docstring default {stated!r}, field default {actual!r}")
    return bad


def _settings_classes():
    return [cls for pairs in SECTIONS.values() for cls, _ in pairs]


def test_the_docstring_defaults_agree_with_the_schema():
    stated = sum(len(_DOC_DEFAULT.findall(c.__doc__ or "")) for c in _settings_classes())
    assert stated >= 60  # the docstrings do state their defaults
    assert docstring_default_disagreements(_settings_classes()) == []


def test_a_wrong_docstring_default_is_caught():
    @dataclasses.dataclass(frozen=True)
    class Fake:
        """Settings.

        steps : int, default 12
            Steps.
        rate, decay : float, defaults 0.5, 2/3
            Rates.
        """

        steps: int = 10
        rate: float = 0.5
        decay: float = 0.7

    assert docstring_default_disagreements([Fake]) == [
        "Fake.steps: docstring default 12, field default 10",
        "Fake.decay: docstring default 0.6666666666666666, field default 0.7"]
