"""Configuration: validation against the JSON schema, defaults, and per-run resolution.

A *run* is one trained network. Its settings are the top-level sections of the config
(``trajectories``, ``model``, ``loss``, ``training``, ``ratemaps``, ``scores``) with the run's own
overrides merged on top, plus its arena and seed. :func:`cw.steps.settings.load_config` checks everything before any
job starts, and reports the first problem as a one-line :class:`ConfigError` naming the key.

NaN and infinity are refused in every key (:func:`check_finite`).

The schema (``cw/config.schema.yaml``, package data) is the one source of every default: the
settings dataclasses of the library take theirs from it through :func:`schema_default`, and
config.yaml spells the same values out (``tests/test_config_agreement.py`` checks all three).
"""

from __future__ import annotations

import copy
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

#: Sections that a run may override.
RUN_SECTIONS = (
    "trajectories", "model", "loss", "training", "ratemaps", "scores",
    "shuffles", "celltypes", "tuning", "development", "boundary",
    "place_cells", "place_rnn", "place_trajectories", "place_training",
)

#: Read-outs of a run: ``position`` (x, y), the network of the paper; ``place_cells``, the
#: place-cell read-out network of Sorscher et al. (cw.network.place_rnn).
READOUTS = ("position", "place_cells")

SCHEMA_PATH = Path(__file__).resolve().parent / "config.schema.yaml"  # package data (workflow/schemas/ links to it)


class ConfigError(ValueError):
    """An invalid configuration value; the message names the key."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=1)
def _package_schema() -> dict:
    return load_schema()


def _frozen(value):
    """Lists as tuples (recursively): defaults of frozen dataclasses."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def schema_default(section: str, *keys: str):
    """Default of ``section.keys...`` in the config schema, the one source of every default.

    Used as the defaults of the settings dataclasses, e.g.
    ``min_lattice_r2: float = schema_default("celltypes", "min_lattice_r2")`` or
    ``polarity: str = schema_default("scores", "border", "polarity")``; lists come as tuples.

    Examples
    --------
    >>> schema_default("training", "hessian_free", "cg_max_iters")
    50
    >>> schema_default("scores", "geometry", "lattice_sharpness")
    (0.0, 1.0, 3.0)
    """
    schema = _package_schema()
    if section not in schema["$defs"]:
        raise KeyError(f"{section}: not in the config schema")
    node = schema["$defs"][section]
    path = section
    for key in keys:
        node = _resolve(schema, node)
        path += f".{key}"
        node = node.get("properties", {}).get(key)
        if node is None:
            raise KeyError(f"{path}: not in the config schema")
    node = _resolve(schema, node)
    if "default" not in node:
        raise KeyError(f"{path}: the config schema gives no default")
    return _frozen(copy.deepcopy(node["default"]))


def _resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    if ref:
        assert ref.startswith("#/$defs/"), ref
        return schema["$defs"][ref.split("/")[-1]]
    return node


def _fill_defaults(schema: dict, node: dict, instance: dict) -> None:
    """Insert the schema's defaults into ``instance`` (recursively through objects)."""
    node = _resolve(schema, node)
    for key, sub in node.get("properties", {}).items():
        sub = _resolve(schema, sub)
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if isinstance(instance.get(key), dict) and sub.get("type") == "object":
            _fill_defaults(schema, sub, instance[key])


def _key_path(path) -> str:
    return ".".join(str(p) for p in path) or "config"


def _format_error(err: jsonschema.ValidationError) -> str:
    where = _key_path(err.absolute_path)
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return f"{where}: unknown key(s) {', '.join(repr(e) for e in extra)}"
    if err.validator == "propertyNames":
        return f"{where}: invalid name {err.instance!r} (letters, digits, _ . - only)"
    if err.validator == "required":
        return f"{where}: {err.message}"
    if err.validator == "enum":
        return f"{where}: {err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    return f"{where}: {err.message}"


def _raise_first(validator: jsonschema.Draft202012Validator, cfg: Mapping) -> None:
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        raise ConfigError(_format_error(errors[0]))


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """Copy of ``base`` with ``override`` merged in (mappings recursively, everything else replaced)."""
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def check_finite(config: Any, path: tuple = ()) -> None:
    """Raise :class:`ConfigError` naming the first key whose value is NaN or +-infinity (YAML's
    ``.nan``, ``.inf``, ``-.inf``), at any depth, also inside lists (``runs.sq.sweep.values.1``).
    JSON Schema's ranges cannot catch them: NaN fails no comparison, and a key without a maximum
    takes infinity.

    Examples
    --------
    >>> check_finite({"model": {"noise_std": 0.1, "n_units": 100}, "runs": {"sq": {"seed": 1}}})
    >>> check_finite({"model": {"noise_std": float("nan")}})
    Traceback (most recent call last):
    ...
    cw.config.ConfigError: model.noise_std: must be a finite number, got nan
    >>> check_finite({"runs": {"sq": {"sweep": {"values": [0.1, float("-inf")]}}}})
    Traceback (most recent call last):
    ...
    cw.config.ConfigError: runs.sq.sweep.values.1: must be a finite number, got -inf
    """
    if isinstance(config, Mapping):
        for k, v in config.items():
            check_finite(v, path + (k,))
    elif isinstance(config, (list, tuple)):
        for i, v in enumerate(config):
            check_finite(v, path + (i,))
    elif isinstance(config, float) and not math.isfinite(config):
        raise ConfigError(f"{_key_path(path)}: must be a finite number, got {config}")


def validate_schema(config: Mapping, schema: dict | None = None) -> dict:
    """Copy of ``config`` checked against the schema (types, ranges, unknown keys), with defaults
    filled in and run sweeps expanded; raises :class:`ConfigError`.

    The checks that need the library's parameter classes (arenas are valid polygons, each run's
    sections construct) follow in :func:`cw.steps.settings.validate_config`.
    """
    check_finite(config)
    schema = schema or load_schema()
    cfg = copy.deepcopy(dict(config))
    cfg = select_run_set(cfg)
    # defaults for the top-level sections only: run overrides must stay partial
    for key, sub in schema["properties"].items():
        sub = _resolve(schema, sub)
        if key not in cfg and "default" in sub:
            cfg[key] = copy.deepcopy(sub["default"])
        if sub.get("type") == "object" and key not in ("runs", "arenas"):
            cfg.setdefault(key, {})
            if isinstance(cfg[key], dict):
                _fill_defaults(schema, sub, cfg[key])
    validator = jsonschema.Draft202012Validator(schema)
    _raise_first(validator, cfg)
    cfg["runs"] = expand_runs(cfg["runs"])
    _raise_first(validator, cfg)  # the swept values, now in place

    return cfg


def select_run_set(cfg: dict) -> dict:
    """Replace ``runs: <name>`` by the run set ``run_sets.<name>`` (in place; returns ``cfg``).

    config.yaml names its default runs (``runs: paper``) instead of spelling them out, so that a
    user's config file listing ``runs:`` replaces them (Snakemake merges a ``--configfile`` into
    config.yaml key by key: a mapping of runs would be merged with the default runs, a name is
    simply replaced).
    """
    runs = cfg.get("runs")
    if isinstance(runs, str):
        sets = cfg.get("run_sets") or {}
        if runs not in sets:
            raise ConfigError(f"runs: unknown run set {runs!r} (run_sets defines: {', '.join(sets) or 'none'})")
        cfg["runs"] = copy.deepcopy(sets[runs])
    return cfg


def _format_value(value) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text.replace("-", "m")


def expand_runs(runs: Mapping) -> dict:
    """Expand runs that list ``seeds`` and/or a ``sweep`` into one run per combination.

    ``seeds: [1, 2]`` turns run ``square`` into ``square_seed1`` and ``square_seed2``;
    ``sweep: {key: loss.lambda_fr, values: [0, 0.1]}`` into ``square_lambda_fr0`` and
    ``square_lambda_fr0.1``; both together give ``square_lambda_fr0_seed1`` and so on. The swept
    value overrides the run's own setting of that key. Run names must stay unique.
    """
    out: dict = {}
    for name, spec in runs.items():
        spec = copy.deepcopy(dict(spec))
        seeds = spec.pop("seeds", None)
        sweep = spec.pop("sweep", None)
        variants = [(name, spec)]
        if sweep is not None:
            section, key = sweep["key"].split(".", 1)
            variants = []
            for value in sweep["values"]:
                v = copy.deepcopy(spec)
                node = v.setdefault(section, {})
                *parents, leaf = key.split(".")
                for p in parents:
                    node = node.setdefault(p, {})
                node[leaf] = value
                variants.append((f"{name}_{leaf}{_format_value(value)}", v))
        if seeds is not None:
            variants = [(f"{n}_seed{s}", {**v, "seed": int(s)}) for n, v in variants for s in seeds]
        for n, v in variants:
            if n in out:
                raise ConfigError(f"runs.{name}: expanded run name {n!r} is not unique")
            out[n] = v
    return out


def resolve_run(cfg: Mapping, run: str) -> dict[str, Any]:
    """All settings of one run as plain builtins: the sections merged with the run's overrides.

    Returns a dict with ``name``, ``seed``, ``arena`` (the arena spec plus its ``name``) and one
    dict per section of :data:`RUN_SECTIONS` plus ``figures``.
    """
    spec = cfg["runs"][run]
    out: dict[str, Any] = {"name": run, "seed": int(spec["seed"]), "readout": spec.get("readout", "position")}
    out["arena"] = {"name": spec["arena"], **copy.deepcopy(cfg["arenas"][spec["arena"]])}
    for section in RUN_SECTIONS:
        out[section] = deep_merge(cfg.get(section, {}), spec.get(section, {}))
    out["figures"] = copy.deepcopy(cfg.get("figures", {}))
    return out


def read_yaml(path: str | Path) -> dict:
    """A YAML config file as a mapping; a syntax error is one line with the file, line and column."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: YAML syntax error: {problem}; fix the file and rerun") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: must be a mapping of keys to values")
    return dict(data)


def read_config(config: Mapping | str | Path) -> dict:
    """A config mapping (or YAML file) checked against the schema, with defaults filled in."""
    if isinstance(config, (str, Path)):
        config = read_yaml(config)
    if not isinstance(config, Mapping):
        raise ConfigError("config: must be a mapping of keys to values")
    return validate_schema(config)
