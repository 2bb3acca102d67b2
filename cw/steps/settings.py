"""Settings of the steps: the whole configuration checked, and each run's typed parameters.

:func:`cw.config.validate_schema` checks the config against the schema; :func:`validate_config`
adds the checks that need the library's parameter classes (arenas are valid convex polygons, the
claims' settings construct, each run names a defined arena and its resolved sections construct),
and :func:`build_params` turns a resolved run into the parameter objects that the steps take.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from cw.config import ConfigError, read_config, read_yaml, resolve_run, validate_schema


def validate_config(config: Mapping, schema: dict | None = None) -> dict:
    """Validated copy of ``config`` with defaults filled in; raises :class:`ConfigError`.

    Checks the schema (types, ranges, unknown keys), that each run names a defined arena, that
    every arena is a valid convex polygon, and that each run's resolved sections construct.
    """
    cfg = validate_schema(config, schema)
    from cw.task.arenas import make_arena

    for name, spec in cfg["arenas"].items():
        if spec["shape"] == "polygon" and "corners" not in spec:
            raise ConfigError(f"arenas.{name}.corners: required for shape 'polygon'")
        if spec["shape"] != "polygon" and "side" not in spec:
            raise ConfigError(f"arenas.{name}.side: required for shape '{spec['shape']}'")
        try:
            make_arena(name, spec)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    from cw.analysis.claims import ClaimParams

    ClaimParams.from_dict(cfg["claims"])
    for run, spec in cfg["runs"].items():
        if spec["arena"] not in cfg["arenas"]:
            raise ConfigError(
                f"runs.{run}.arena: unknown arena {spec['arena']!r} (defined: {', '.join(cfg['arenas'])})"
            )
        _check_run(resolve_run(cfg, run))
    return cfg


def _check_run(run: Mapping) -> None:
    """Checks that involve several sections of one resolved run."""
    from cw.task.arenas import run_arena

    name = run["name"]
    try:
        params = build_params(run)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"runs.{name}: {exc}") from None
    from cw.network.training import penalties_are_damping

    if penalties_are_damping(params["training"]) and not params["loss"].lambda_l2 > 0:
        raise ConfigError(
            f"runs.{name}.loss.lambda_l2: must be > 0 with training.hessian_free.damping: penalty_weights "
            "(the L2 weight is the damping; use damping: tikhonov for a loss without it)"
        )
    arena = run_arena(run["arena"])
    if params["trajectories"].speed_cap >= arena.inradius:
        raise ConfigError(
            f"runs.{name}.trajectories.speed_max: {params['trajectories'].speed_cap} m/step must be below the "
            f"inradius {arena.inradius:.3g} m of arena '{arena.name}'"
        )


def build_params(run: Mapping) -> dict:
    """Construct the library's parameter objects from a resolved run (validates their ranges)."""
    from cw.network.model import ModelParams
    from cw.network.model import LossParams
    from cw.network.training import TrainingParams
    from cw.task.trajectories import TrajectoryParams

    from cw.analysis.boundary import BoundaryParams
    from cw.analysis.celltypes import CellTypeParams
    from cw.analysis.development import DevelopmentParams
    from cw.analysis.ratemaps import RatemapParams
    from cw.analysis.scores import ScoreParams
    from cw.analysis.shuffles import ShuffleParams
    from cw.analysis.tuning import TuningParams

    return {
        "trajectories": TrajectoryParams.from_dict(run["trajectories"]),
        "model": ModelParams.from_dict(run["model"]),
        "loss": LossParams.from_dict(run["loss"]),
        "training": TrainingParams.from_dict(run["training"]),
        "ratemaps": RatemapParams.from_dict(run["ratemaps"]),
        "scores": ScoreParams.from_dict(run["scores"]),
        "shuffles": ShuffleParams.from_dict(run["shuffles"]),
        "celltypes": CellTypeParams.from_dict(run["celltypes"]),
        "tuning": TuningParams.from_dict(run["tuning"]),
        "development": DevelopmentParams.from_dict(run["development"]),
        "boundary": BoundaryParams.from_dict(run["boundary"]),
    }


def load_config(config: Mapping | str | Path) -> dict:
    """A config mapping (or YAML file) read by :func:`cw.config.read_config` (schema and defaults),
    then given the workflow's checks of :func:`validate_config`."""
    return validate_config(read_config(config))


def main(argv: list[str] | None = None) -> int:
    """``python -m cw.steps.settings [FILE ...]``: check config.yaml merged with the given config files
    (in order, as ``snakemake --configfile FILE ...`` merges them) and list the runs."""
    import argparse
    import sys

    from snakemake.utils import update_config

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("files", nargs="*")
    ap.add_argument("--base", default="config.yaml", help="the workflow's config file")
    ap.add_argument("--replace", action="store_true", help="as --replace-workflow-config: ignore the base file")
    args = ap.parse_args(argv)
    try:
        cfg = {} if args.replace else read_yaml(args.base)
        for f in args.files:
            update_config(cfg, read_yaml(f))
        out = validate_config(cfg)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 1
    print(f"config ok: {len(out['runs'])} run(s): {', '.join(out['runs'])}; output in {out['output_dir']}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
