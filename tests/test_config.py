"""Configuration: the default file and presets validate; bad values give one-line errors naming the key."""

import copy
from pathlib import Path

import pytest
import yaml

from cw.config import ConfigError, deep_merge, resolve_run, select_run_set
from cw.steps.settings import load_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def default():
    """config.yaml with its named run set spelled out under runs."""
    return select_run_set(yaml.safe_load((ROOT / "config.yaml").read_text()))


def test_config_yaml_names_its_run_set_and_a_users_runs_replace_it(tmp_path):
    """Snakemake merges a --configfile into config.yaml key by key: a user's runs replace the
    named default set (one run in, one run out), and a config without runs keeps it."""
    from snakemake.utils import update_config

    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert raw["runs"] == "paper"
    assert set(load_config(copy.deepcopy(raw))["runs"]) == {"square", "triangle", "hexagon", "square_no_metabolic"}
    merged = copy.deepcopy(raw)
    update_config(merged, {"runs": {"mine": {"arena": "square", "seed": 4}}})
    assert set(load_config(merged)["runs"]) == {"mine"}
    quick = copy.deepcopy(raw)
    update_config(quick, yaml.safe_load((ROOT / "workflow/presets/quick.yaml").read_text()))
    assert len(load_config(quick)["runs"]) == 4
    with pytest.raises(ConfigError, match="runs: unknown run set 'papper' \\(run_sets defines: paper\\)"):
        load_config({**raw, "runs": "papper"})


def test_default_config_holds_the_paper_runs(default):
    cfg = load_config(default)
    assert set(cfg["runs"]) == {"square", "triangle", "hexagon", "square_no_metabolic"}
    hexagon = resolve_run(cfg, "hexagon")
    assert hexagon["model"]["init_recurrent"] == "gaussian" and hexagon["model"]["init_recurrent_gain"] == 1.5
    assert resolve_run(cfg, "square")["model"]["init_recurrent"] == "orthogonal"
    assert resolve_run(cfg, "square_no_metabolic")["loss"]["lambda_fr"] == 0.0
    assert resolve_run(cfg, "square")["loss"]["lambda_fr"] == cfg["loss"]["lambda_fr"] > 0
    assert resolve_run(cfg, "triangle")["arena"] == {"name": "triangle", "shape": "triangle", "side": pytest.approx(3.0393427426063886)}


def _leaves(d, path=()):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _leaves(v, path + (k,))
        else:
            yield path + (k,), v


PRESETS = sorted(p.name for p in (ROOT / "workflow/presets").glob("*.yaml"))


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_validate_and_keep_their_values(default, preset):
    """Every preset loads (as its header says to use it: merged into config.yaml, or alone with
    --replace-workflow-config) and every value it sets outside ``runs`` is the loaded value."""
    text = (ROOT / "workflow/presets" / preset).read_text()
    overrides = yaml.safe_load(text)
    base = {} if "--replace-workflow-config" in text else default
    cfg = load_config(deep_merge(base, copy.deepcopy(overrides)))
    checked = 0
    for path, value in _leaves({k: v for k, v in overrides.items() if k not in ("runs", "run_sets")}):
        node = cfg
        for key in path:
            node = node[key]
        if isinstance(value, list) and value and isinstance(value[0], (int, float)):
            value = pytest.approx(value)
        assert node == value, f"{preset}: {'.'.join(path)} = {node!r}, the preset says {value!r}"
        checked += 1
    assert checked >= 2 and cfg["output_dir"] == overrides["output_dir"]
    if isinstance(overrides.get("runs"), dict):
        names = set(overrides["runs"])
        assert names <= set(cfg["runs"]) or all(any(r.startswith(n) for r in cfg["runs"]) for n in names)


def _set(cfg, path, value):
    node = cfg
    keys = path.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value


_DELETE = object()

BAD = [
    ("runs", {}, "runs"),
    ("runs.square.seed", -1, "runs.square.seed"),
    ("runs.square.arena", "circle", "runs.square.arena"),
    ("runs.square.colour", "red", "runs.square"),
    ("runs.square.training.n_updates", 0, "runs.square.training.n_updates"),
    ("runs.square.loss.lambda_fr", -0.1, "runs.square.loss.lambda_fr"),
    ("runs.bad name", {"arena": "square", "seed": 1}, "runs"),
    ("arenas.square.side", -1.0, "arenas.square.side"),
    ("arenas.square.shape", "circle", "arenas.square.shape"),
    ("arenas.square", {"shape": "polygon", "corners": [[0, 0], [1, 0], [0.2, 0.2], [0, 1]]}, "arenas.square.corners"),
    ("arenas.square", {"shape": "polygon", "corners": [[0, 0], [1, 1], [1, 0], [0, 1]]}, "arenas.square.corners"),
    ("arenas.square", {"shape": "polygon"}, "arenas.square.corners"),
    ("trajectories.zero_speed_fraction", 1.5, "trajectories.zero_speed_fraction"),
    ("trajectories.n_test", -10, "trajectories.n_test"),
    ("trajectories.n_steps", "500", "trajectories.n_steps"),
    ("trajectories.speed_max", 0.9, "speed_max"),
    ("model.n_units", 0, "model.n_units"),
    ("model.heading_encoding", "degrees", "model.heading_encoding"),
    ("training.optimizer", "sgd", "training.optimizer"),
    ("training.adam.learning_rate", 0, "training.adam.learning_rate"),
    ("training.batch_size", 0, "training.batch_size"),
    ("ratemaps.bin_size", 0, "ratemaps.bin_size"),
    ("scores.variant", "median", "scores.variant"),
    ("unknown_section", 1, "config"),
    ("threads.train", 0, "threads.train"),
]


@pytest.mark.parametrize("path, value, key", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_key(default, path, value, key):
    cfg = copy.deepcopy(default)
    _set(cfg, path, value)
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    msg = str(exc.value)
    assert key in msg and "\n" not in msg, msg


def test_training_pool_key_is_gone(default):
    """Training trials are fresh for every update: a pool size is an unknown key."""
    cfg = copy.deepcopy(default)
    cfg["trajectories"]["n_train"] = 100
    with pytest.raises(ConfigError, match="trajectories: unknown key.*n_train"):
        load_config(cfg)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("runs: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)


def test_runs_expand_over_seeds_and_a_sweep(default):
    cfg = copy.deepcopy(default)
    cfg["runs"] = {
        "sq": {"arena": "square", "seed": 0, "seeds": [1, 2], "sweep": {"key": "loss.lambda_fr", "values": [0.0, 0.1]}},
        "tri": {"arena": "triangle", "seed": 4, "sweep": {"key": "training.hessian_free.structural_damping", "values": [0, 0.3]}},
    }
    out = load_config(cfg)
    assert sorted(out["runs"]) == sorted([
        "sq_lambda_fr0_seed1", "sq_lambda_fr0_seed2", "sq_lambda_fr0.1_seed1", "sq_lambda_fr0.1_seed2",
        "tri_structural_damping0", "tri_structural_damping0.3",
    ])
    run = resolve_run(out, "sq_lambda_fr0.1_seed2")
    assert run["seed"] == 2 and run["loss"]["lambda_fr"] == 0.1 and run["loss"]["lambda_l2"] == cfg["loss"]["lambda_l2"]
    assert resolve_run(out, "tri_structural_damping0.3")["training"]["hessian_free"]["structural_damping"] == 0.3
    assert resolve_run(out, "tri_structural_damping0.3")["training"]["hessian_free"]["cg_max_iters"] == 50


@pytest.mark.parametrize("sweep, key", [
    ({"key": "colour", "values": [1]}, "runs.sq.sweep.key"),
    ({"key": "loss.lambda_fr", "values": []}, "runs.sq.sweep.values"),
    ({"key": "loss.lambda_fr", "values": [-1.0]}, "lambda_fr"),
    ({"key": "loss.lambda_typo", "values": [0.1]}, "lambda_typo"),
])
def test_bad_sweeps_name_the_key(default, sweep, key):
    cfg = copy.deepcopy(default)
    cfg["runs"] = {"sq": {"arena": "square", "seed": 0, "sweep": sweep}}
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert key in str(exc.value), str(exc.value)


def test_yaml_syntax_error_names_file_line_and_column(tmp_path):
    from cw.config import read_yaml
    from cw.steps.settings import main

    bad = tmp_path / "my.yaml"
    bad.write_text("runs:\n  mine: {arena: square, seed: 1\ntraining: {}\n")
    with pytest.raises(ConfigError) as exc:
        read_yaml(bad)
    msg = str(exc.value)
    assert msg.startswith(f"{bad}:3:9: YAML syntax error: expected ','") and "\n" not in msg
    # the checker merges like snakemake --configfile and reports one line either way
    good = tmp_path / "one.yaml"
    good.write_text("runs:\n  mine: {arena: square, seed: 1}\n")
    assert main(["--base", str(ROOT / "config.yaml"), str(good)]) == 0
    assert main(["--base", str(ROOT / "config.yaml"), str(bad)]) == 1


def test_penalty_weight_damping_needs_an_l2_weight():
    """With damping penalty_weights the L2 weight is the damping: 0 is refused in one line."""
    from cw.config import ConfigError
    from cw.steps.settings import validate_config

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["loss"]["lambda_l2"] = 0.0
    with pytest.raises(ConfigError, match=r"runs.square.loss.lambda_l2: must be > 0 with training.hessian_free.damping"):
        validate_config(cfg)
    cfg["training"]["hessian_free"]["damping"] = "tikhonov"
    validate_config(cfg)  # a Tikhonov run may drop the L2 penalty


def _numeric_keys(schema, node, path):
    """Dotted paths of every number or integer key under ``node`` of the schema."""
    from cw.config import _resolve

    node = _resolve(schema, node)
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    if "number" in types or "integer" in types:
        return [path]
    out = []
    for key, sub in node.get("properties", {}).items():
        out += _numeric_keys(schema, sub, f"{path}.{key}" if path else key)
    return out


def _all_numeric_keys():
    from cw.config import load_schema

    schema = load_schema()
    keys = []
    for key, sub in schema["properties"].items():
        if key not in ("runs", "run_sets", "arenas"):
            keys += _numeric_keys(schema, sub, key)
    # a run's own keys and its overrides, an arena's size
    keys += ["runs.square.seed", "runs.square.loss.lambda_fr", "runs.square.model.noise_std", "arenas.square.side"]
    return keys


NUMERIC_KEYS = _all_numeric_keys()


def test_every_numeric_key_is_covered():
    """The list below holds the schema's numeric keys (a new key is covered without listing it)."""
    assert len(NUMERIC_KEYS) > 100
    assert {"model.noise_std", "training.hessian_free.structural_damping", "boundary.window_steps",
            "figures.dpi"} <= set(NUMERIC_KEYS)


@pytest.mark.parametrize("key", NUMERIC_KEYS)
def test_nan_and_infinity_are_refused_in_one_line_naming_the_key(default, key):
    """YAML's .nan, .inf and -.inf in any numeric key: one line naming the key (NaN fails no
    range check of the schema, and keys without a maximum would take infinity)."""
    for bad, text in ((float("nan"), "nan"), (float("inf"), "inf"), (float("-inf"), "-inf")):
        cfg = copy.deepcopy(default)
        _set(cfg, key, bad)
        with pytest.raises(ConfigError) as exc:
            load_config(cfg)
        assert str(exc.value) == f"{key}: must be a finite number, got {text}"


def test_nan_from_a_yaml_file_and_in_lists_is_refused(tmp_path):
    """As a user writes it: `.nan` in a config file, `-.inf` among an arena's corners or a sweep's
    values; the error names the list position."""
    from cw.config import read_config

    path = tmp_path / "my.yaml"
    path.write_text("runs: {mine: {arena: square, seed: 1}}\narenas: {square: {shape: square, side: 1.0}}\n"
                    "model: {noise_std: .nan}\n")
    with pytest.raises(ConfigError, match=r"^model\.noise_std: must be a finite number, got nan$"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"^arenas\.p\.corners\.1\.0: must be a finite number, got -inf$"):
        read_config({"runs": {"mine": {"arena": "p", "seed": 1}},
                     "arenas": {"p": {"shape": "polygon", "corners": [[0, 0], [float("-inf"), 0], [0, 1]]}}})
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["runs"] = {"sq": {"arena": "square", "seed": 0, "sweep": {"key": "loss.lambda_fr", "values": [0.1, float("inf")]}}}
    with pytest.raises(ConfigError, match=r"^runs\.sq\.sweep\.values\.1: must be a finite number, got inf$"):
        load_config(cfg)
