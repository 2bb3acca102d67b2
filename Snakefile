# cw: reproduction of Cueva & Wei (ICLR 2018), "Emergence of grid-like representations by
# training recurrent neural networks to perform spatial localization".
#
#   trajectories -> train -> activity -> ratemaps -> scores -> figures,   one chain per run
#
# Runs, arenas and every parameter live in config.yaml (validated by
# cw/config.schema.yaml, linked from workflow/schemas/). Results go to <output_dir>/<run>/..., figures to
# <output_dir>/figures/.
from snakemake.utils import min_version

min_version("9.0")

import sys

import cw.config as _cwc

try:  # a syntax error in config.yaml: one line with file, line and column (not Snakemake's generic one)
    _cwc.read_yaml("config.yaml")
except _cwc.ConfigError as _err:
    sys.exit(f"config error: {_err}")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/pipeline.smk"
include: "workflow/rules/figures.smk"


rule all:
    default_target: True
    localrule: True
    input:
        all_outputs(),
