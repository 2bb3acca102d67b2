# Figures: per run (rate maps, trajectories) and across runs (training curves).
# Titles: cw.report.titles (the figure-layout test draws each figure with its rule's title).

import cw.report.titles as titles
from cw.network.penalties import metabolic_weight_adapted


def arena_name(run):
    return RUNS[run]["arena"]["name"]


rule figure_ratemaps:
    input:
        ratemaps=run_path("ratemaps.nc"),
        scores=run_path("scores.nc"),
    output:
        png=report(f"{OUT}/figures/{{run}}/ratemaps.png", caption="../report/ratemaps.rst",
                   category="Appendix A-C rate maps", subcategory="{run}"),
        pdf=f"{OUT}/figures/{{run}}/ratemaps.pdf",
    params:
        code=script_code("figure_ratemaps.py"),
        title=lambda w: titles.ratemaps(w.run, arena_name(w.run)),
        figures=run_param("figures"),
    log:
        log_path("figure_ratemaps"),
    benchmark:
        benchmark_path("figure_ratemaps")
    localrule: True
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/figure_ratemaps.py"


rule figure_trajectories:
    input:
        activity=run_path("activity.nc"),
        ratemaps=run_path("ratemaps.nc"),
    output:
        png=report(f"{OUT}/figures/{{run}}/trajectories.png", caption="../report/fig1.rst",
                   category="Fig. 1c trajectories", subcategory="{run}"),
        pdf=f"{OUT}/figures/{{run}}/trajectories.pdf",
    params:
        code=script_code("figure_trajectories.py"),
        title=lambda w: titles.trajectories(w.run),
        figures=run_param("figures"),
    log:
        log_path("figure_trajectories"),
    benchmark:
        benchmark_path("figure_trajectories")
    localrule: True
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/figure_trajectories.py"


rule figure_training:
    input:
        histories=[model_path("history.csv", run) for run in CW_RUNS],
    output:
        png=report(f"{OUT}/figures/training.png", caption="../report/training.rst", category="Training"),
        pdf=f"{OUT}/figures/training.pdf",
    params:
        code=script_code("figure_training.py"),
        runs=CW_RUNS,
        figures=config["figures"],
    log:
        f"{OUT}/logs/figure_training.log",
    benchmark:
        f"{OUT}/benchmarks/figure_training.tsv"
    localrule: True
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/figure_training.py"


# -- the paper's figures and the claims table --------------------------------------------

import cw.analysis.claims


def arena_shape(run):
    return RUNS[run]["arena"]["shape"]


def is_ablation(run):
    """A run without the metabolic cost (Fig. 5, claim C5)."""
    return float(RUNS[run]["loss"]["lambda_fr"]) == 0.0


def metabolic_partner(run):
    """The run with the metabolic cost to compare an ablation run with: same arena, same seed if
    there is one, else the first such run by name; None if the config has none."""
    same = [r for r in CW_RUNS if not is_ablation(r)
            and RUNS[r]["arena"]["name"] == RUNS[run]["arena"]["name"]]
    seed = [r for r in same if RUNS[r]["seed"] == RUNS[run]["seed"]]
    return (seed or same or [None])[0]


#: Runs with the metabolic cost (Fig. 2-4, claims C2-C4, C6, C7); Fig. 2 falls back to all runs.
MAIN_RUNS = [r for r in CW_RUNS if not is_ablation(r)]
FIG2_RUNS = MAIN_RUNS or CW_RUNS
#: Fig. 3 is the triangle arena's figure; made for every triangle run of the config (none: no rule target).
FIG3_RUNS = [r for r in MAIN_RUNS if arena_shape(r) == "triangle"]
#: Fig. 5: ablation runs that have a run with the metabolic cost to compare with.
FIG5_RUNS = [r for r in CW_RUNS if is_ablation(r) and metabolic_partner(r) is not None]
#: Units per type in Fig. 2 and units in Fig. 3 (the paper shows nine). OURS.
FIG2_EXAMPLES = 2
FIG3_UNITS = 9
#: Claim thresholds (config section `claims`; OURS).
CLAIM_PARAMS = dict(config["claims"])


def figure_outputs():
    """Every figure of the paper that the config's runs allow (used by all_outputs)."""
    fig = f"{OUT}/figures"
    out = []
    for run in PLACE_RUNS:  # the place-cell read-out: its units' figures (no boundary analysis)
        names = ["direction_tuning", "speed_tuning", "score_nulls", "fig4_development"]
        out += [f"{fig}/{run}/{n}.{e}" for n in names for e in ("png", "pdf")]
    if not CW_RUNS:
        return out
    out += [f"{fig}/fig2_examples.{e}" for e in ("png", "pdf")]
    for run in CW_RUNS:
        names = ["fig6_boundary", "direction_tuning", "speed_tuning", "score_nulls"]
        if run in MAIN_RUNS:
            names.append("fig4_development")
        if run in FIG3_RUNS:
            names.append("fig3_units")
        if run in FIG5_RUNS:
            names.append("fig5_metabolic")
        out += [f"{fig}/{run}/{n}.{e}" for n in names for e in ("png", "pdf")]
    out += [f"{OUT}/claims.md", f"{OUT}/claims.csv", f"{OUT}/claims_seeds.csv", f"{OUT}/claims.html"]
    if config.get("study"):
        out += [f"{OUT}/study.csv", f"{OUT}/study.md", f"{fig}/study_best_units.png", f"{fig}/study_best_units.pdf"]
    return out


rule figure_examples:
    input:
        ratemaps=expand(f"{OUT}/{{run}}/ratemaps.nc", run=FIG2_RUNS),
        scores=expand(f"{OUT}/{{run}}/scores.nc", run=FIG2_RUNS),
    output:
        png=report(f"{OUT}/figures/fig2_examples.png", caption="../report/fig2.rst", category="Fig. 2 example units"),
        pdf=f"{OUT}/figures/fig2_examples.pdf",
    params:
        code=script_code("fig_examples.py"),
        runs=FIG2_RUNS,
        shapes=[arena_shape(r) for r in FIG2_RUNS],
        n_examples=FIG2_EXAMPLES,
        title=titles.fig2(),
        figures=config["figures"],
    log:
        f"{OUT}/logs/figure_examples.log",
    benchmark:
        f"{OUT}/benchmarks/figure_examples.tsv"
    localrule: True
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/fig_examples.py"


rule figure_units:
    input:
        ratemaps=run_path("ratemaps.nc"),
        scores=run_path("scores.nc"),
        tuning=run_path("tuning.nc"),
    output:
        png=report(f"{OUT}/figures/{{run}}/fig3_units.png", caption="../report/fig3.rst",
                   category="Fig. 3 triangle units", subcategory="{run}"),
        pdf=f"{OUT}/figures/{{run}}/fig3_units.pdf",
    params:
        code=script_code("fig_units.py"),
        shape=lambda w: arena_shape(w.run),
        n_units=FIG3_UNITS,
        title=lambda w: titles.fig3(w.run, arena_name(w.run)),
        figures=run_param("figures"),
    log:
        log_path("figure_units"),
    benchmark:
        benchmark_path("figure_units")
    localrule: True
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/fig_units.py"


rule figure_development:
    input:
        development=run_path("development.nc"),
    output:
        png=report(f"{OUT}/figures/{{run}}/fig4_development.png", caption="../report/fig4.rst",
                   category="Fig. 4 development", subcategory="{run}"),
        pdf=f"{OUT}/figures/{{run}}/fig4_development.pdf",
    params:
        code=script_code("fig_development.py"),
        title=lambda w: titles.fig4(w.run),
        figures=run_param("figures"),
    log:
        log_path("figure_development"),
    benchmark:
        benchmark_path("figure_development")
    localrule: True
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/fig_development.py"


rule figure_metabolic:
    input:
        ratemaps_without=run_path("ratemaps.nc"),
        scores_without=run_path("scores.nc"),
        ratemaps_with=lambda w: f"{OUT}/{metabolic_partner(w.run)}/ratemaps.nc",
        scores_with=lambda w: f"{OUT}/{metabolic_partner(w.run)}/scores.nc",
    output:
        png=report(f"{OUT}/figures/{{run}}/fig5_metabolic.png", caption="../report/fig5.rst",
                   category="Fig. 5 metabolic cost", subcategory="{run}"),
        pdf=f"{OUT}/figures/{{run}}/fig5_metabolic.pdf",
    params:
        code=script_code("fig_metabolic.py"),
        names=lambda w: titles.fig5_names(
            w.run, metabolic_partner(w.run), RUNS[metabolic_partner(w.run)]["loss"]["lambda_fr"],
            metabolic_weight_adapted(RUNS[metabolic_partner(w.run)]["training"])),
        title=lambda w: titles.fig5(arena_name(w.run)),
        figures=run_param("figures"),
    log:
        log_path("figure_metabolic"),
    benchmark:
        benchmark_path("figure_metabolic")
    localrule: True
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/fig_metabolic.py"


rule figure_boundary:
    input:
        boundary=run_path("boundary.nc"),
    output:
        png=report(f"{OUT}/figures/{{run}}/fig6_boundary.png", caption="../report/fig6.rst",
                   category="Fig. 6 boundary interactions", subcategory="{run}"),
        pdf=f"{OUT}/figures/{{run}}/fig6_boundary.pdf",
    params:
        code=script_code("fig_boundary.py"),
        title=lambda w: titles.fig6(w.run),
        min_count=CLAIM_PARAMS["min_bin_samples"],
        figures=run_param("figures"),
    log:
        log_path("figure_boundary"),
    benchmark:
        benchmark_path("figure_boundary")
    localrule: True
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/fig_boundary.py"


rule figure_tuning:
    input:
        tuning=run_path("tuning.nc"),
        scores=run_path("scores.nc"),
    output:
        direction_png=report(f"{OUT}/figures/{{run}}/direction_tuning.png", caption="../report/tuning.rst",
                             category="Appendix A-C tuning", subcategory="{run}"),
        direction_pdf=f"{OUT}/figures/{{run}}/direction_tuning.pdf",
        speed_png=report(f"{OUT}/figures/{{run}}/speed_tuning.png", caption="../report/tuning.rst",
                         category="Appendix A-C tuning", subcategory="{run}"),
        speed_pdf=f"{OUT}/figures/{{run}}/speed_tuning.pdf",
    params:
        code=script_code("fig_tuning.py"),
        title=lambda w: titles.appendix(w.run, arena_name(w.run)),
        figures=run_param("figures"),
    log:
        log_path("figure_tuning"),
    benchmark:
        benchmark_path("figure_tuning")
    localrule: True
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/fig_tuning.py"


rule figure_nulls:
    input:
        scores=run_path("scores.nc"),
    output:
        png=report(f"{OUT}/figures/{{run}}/score_nulls.png", caption="../report/nulls.rst",
                   category="Scores against shuffles", subcategory="{run}"),
        pdf=f"{OUT}/figures/{{run}}/score_nulls.pdf",
    params:
        code=script_code("fig_nulls.py"),
        title=lambda w: titles.nulls(w.run),
        figures=run_param("figures"),
    log:
        log_path("figure_nulls"),
    benchmark:
        benchmark_path("figure_nulls")
    localrule: True
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/fig_nulls.py"


rule claims:
    input:
        scores=expand(f"{OUT}/{{run}}/scores.nc", run=CW_RUNS),
        tuning=expand(f"{OUT}/{{run}}/tuning.nc", run=CW_RUNS),
        development=expand(f"{OUT}/{{run}}/development.nc", run=CW_RUNS),
        boundary=expand(f"{OUT}/{{run}}/boundary.nc", run=CW_RUNS),
    output:
        markdown=f"{OUT}/claims.md",
        csv=f"{OUT}/claims.csv",
        seeds_csv=f"{OUT}/claims_seeds.csv",
        html=report(f"{OUT}/claims.html", caption="../report/claims.rst", category="Claims table"),
    params:
        code=script_code("claims.py"),
        runs=[{"name": r, "arena": arena_shape(r), "ablation": is_ablation(r)} for r in CW_RUNS],
        claims=CLAIM_PARAMS,
        preamble=cw.analysis.claims.scale_preamble(OUT, {r: RUNS[r] for r in CW_RUNS}),
    log:
        f"{OUT}/logs/claims.log",
    benchmark:
        f"{OUT}/benchmarks/claims.tsv"
    localrule: True
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/claims.py"


if config.get("study"):

    rule study:
        """The study of conditions (workflow/presets/study.yaml): one table, one figure."""
        input:
            scores=expand(f"{OUT}/{{run}}/scores.nc", run=sorted(RUNS)),
            ratemaps=expand(f"{OUT}/{{run}}/ratemaps.nc", run=sorted(RUNS)),
            claims=f"{OUT}/claims.csv",
        output:
            csv=f"{OUT}/study.csv",
            markdown=f"{OUT}/study.md",
            png=f"{OUT}/figures/study_best_units.png",
            pdf=f"{OUT}/figures/study_best_units.pdf",
        params:
            code=script_code("study.py"),
            runs=[{"name": r, "setting": config["study"].get(r, "")} for r in sorted(RUNS)],
            figures=config["figures"],
            preamble=f"Study of conditions: runs {', '.join(sorted(RUNS))} (output folder {OUT}).",
        log:
            f"{OUT}/logs/study.log",
        benchmark:
            f"{OUT}/benchmarks/study.tsv"
        localrule: True
        conda:
            "../envs/cw.yaml"
        script:
            "../scripts/study.py"
