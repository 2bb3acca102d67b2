# Figures: per run (rate maps, trajectories) and across runs (training curves).


rule figure_ratemaps:
    input:
        ratemaps=run_path("ratemaps.nc"),
        scores=run_path("scores.nc"),
        code=cw_sources("figures"),
    output:
        png=f"{OUT}/figures/{{run}}/ratemaps.png",
        pdf=f"{OUT}/figures/{{run}}/ratemaps.pdf",
    params:
        title=lambda w: f"{w.run}: rate maps of all units ({RUNS[w.run]['arena']['name']} arena)",
        figures=run_param("figures"),
    log:
        log_path("figure_ratemaps"),
    benchmark:
        benchmark_path("figure_ratemaps")
    localrule: True
    script:
        "../scripts/figure_ratemaps.py"


rule figure_trajectories:
    input:
        activity=run_path("activity.nc"),
        ratemaps=run_path("ratemaps.nc"),
        code=cw_sources("figures"),
    output:
        png=f"{OUT}/figures/{{run}}/trajectories.png",
        pdf=f"{OUT}/figures/{{run}}/trajectories.pdf",
    params:
        title=lambda w: f"{w.run}: test paths (black) and network output (red)",
        figures=run_param("figures"),
    log:
        log_path("figure_trajectories"),
    benchmark:
        benchmark_path("figure_trajectories")
    localrule: True
    script:
        "../scripts/figure_trajectories.py"


rule figure_training:
    input:
        histories=expand(f"{OUT}/{{run}}/model/history.csv", run=sorted(RUNS)),
        code=cw_sources("figures"),
    output:
        png=f"{OUT}/figures/training.png",
        pdf=f"{OUT}/figures/training.pdf",
    params:
        runs=sorted(RUNS),
        figures=config["figures"],
    log:
        f"{OUT}/logs/figure_training.log",
    benchmark:
        f"{OUT}/benchmarks/figure_training.tsv"
    localrule: True
    script:
        "../scripts/figure_training.py"
