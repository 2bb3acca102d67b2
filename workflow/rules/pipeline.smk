# One rule per step of the paper, one job per run.


rule trajectories:
    output:
        run_path("trajectories.nc"),
    params:
        code=script_code("trajectories.py"),
        arena=run_param("arena"),
        trajectories=run_param("trajectories"),
        seed=run_param("seed"),
    wildcard_constraints:
        run=runs_regex(CW_RUNS),
    log:
        log_path("trajectories"),
    benchmark:
        benchmark_path("trajectories")
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/trajectories.py"


if NET_MODE != "shipped":

    rule train:
        output:
            weights=model_path("weights.nc"),
            checkpoints=model_path("checkpoints.nc"),
            history=model_path("history.csv"),
        params:
            code=script_code("train.py"),
            keep_state=NET_MODE == "continue",  # shipped networks keep their final state
            arena=run_param("arena"),
            trajectories=run_param("trajectories"),
            model=run_param("model"),
            loss=run_param("loss"),
            training=run_param("training"),
            seed=run_param("seed"),
        wildcard_constraints:
            run=runs_regex(CW_RUNS),
        threads: config["threads"]["train"]
        log:
            log_path("train"),
        benchmark:
            benchmark_path("train")
        resources:
            mem_mb=8000,
            runtime=720,
        conda:
            "../envs/cw.yaml"
        script:
            "../scripts/train.py"

    rule train_place:
        """The place-cell read-out network of a run with readout: place_cells (Adam)."""
        output:
            weights=model_path("weights.nc"),
            checkpoints=model_path("checkpoints.nc"),
            history=model_path("history.csv"),
        params:
            code=script_code("train_place.py"),
            keep_state=NET_MODE == "continue",
            arena=run_param("arena"),
            place_cells=run_param("place_cells"),
            place_rnn=run_param("place_rnn"),
            place_trajectories=run_param("place_trajectories"),
            place_training=run_param("place_training"),
            seed=run_param("seed"),
        wildcard_constraints:
            run=runs_regex(PLACE_RUNS),
        threads: config["threads"]["train"]
        log:
            log_path("train"),
        benchmark:
            benchmark_path("train")
        resources:
            mem_mb=8000,
            runtime=720,
        conda:
            "../envs/cw.yaml"
        script:
            "../scripts/train_place.py"


rule networks:
    """The trained networks of every run (make train-networks)."""
    localrule: True
    input:
        [model_path(f, run) for run in RUNS for f in ("weights.nc", "checkpoints.nc", "history.csv")],


rule activity:
    input:
        trajectories=run_path("trajectories.nc"),
        weights=model_path("weights.nc"),
    output:
        run_path("activity.nc"),
    params:
        code=script_code("activity.py"),
        model=run_param("model"),
    threads: config["threads"]["activity"]
    wildcard_constraints:
        run=runs_regex(CW_RUNS),
    log:
        log_path("activity"),
    benchmark:
        benchmark_path("activity")
    resources:
        mem_mb=6000,
        runtime=20,
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/activity.py"


rule ratemaps:
    input:
        activity=run_path("activity.nc"),
    output:
        run_path("ratemaps.nc"),
    params:
        code=script_code("ratemaps.py"),
        arena=run_param("arena"),
        ratemaps=run_param("ratemaps"),
    log:
        log_path("ratemaps"),
    benchmark:
        benchmark_path("ratemaps")
    resources:
        mem_mb=6000,
        runtime=10,
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/ratemaps.py"


rule scores:
    input:
        activity=run_path("activity.nc"),
    output:
        run_path("scores.nc"),
    params:
        code=script_code("scores.py"),
        arena=run_param("arena"),
        analysis=analysis_param(),
        seed=run_param("seed"),
    threads: config["threads"]["scores"]
    log:
        log_path("scores"),
    benchmark:
        benchmark_path("scores")
    resources:
        mem_mb=6000,
        runtime=30,
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/scores.py"


rule tuning:
    input:
        activity=run_path("activity.nc"),
    output:
        run_path("tuning.nc"),
    params:
        code=script_code("tuning.py"),
        tuning=run_param("tuning"),
    log:
        log_path("tuning"),
    benchmark:
        benchmark_path("tuning")
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/tuning.py"


rule development:
    input:
        checkpoints=model_path("checkpoints.nc"),
        trajectories=run_path("trajectories.nc"),
    output:
        run_path("development.nc"),
    params:
        code=script_code("development.py"),
        model=run_param("model"),
        arena=run_param("arena"),
        analysis=analysis_param(),
        development=run_param("development"),
        seed=run_param("seed"),
    threads: config["threads"]["development"]
    wildcard_constraints:
        run=runs_regex(CW_RUNS),
    log:
        log_path("development"),
    benchmark:
        benchmark_path("development")
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/development.py"


rule boundary:
    input:
        activity=run_path("activity.nc"),
        weights=model_path("weights.nc"),
    output:
        run_path("boundary.nc"),
    params:
        code=script_code("boundary.py"),
        model=run_param("model"),
        arena=run_param("arena"),
        trajectories=run_param("trajectories"),
        boundary=run_param("boundary"),
        seed=run_param("seed"),
    wildcard_constraints:
        run=runs_regex(CW_RUNS),
    log:
        log_path("boundary"),
    benchmark:
        benchmark_path("boundary")
    resources:
        mem_mb=6000,
        runtime=30,
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/boundary.py"


rule activity_place:
    """Activity of a place-cell read-out network on its test walks (drawn in the job)."""
    input:
        weights=model_path("weights.nc"),
    output:
        run_path("activity.nc"),
    params:
        code=script_code("activity_place.py"),
        arena=run_param("arena"),
        place_cells=run_param("place_cells"),
        place_rnn=run_param("place_rnn"),
        place_trajectories=run_param("place_trajectories"),
        seed=run_param("seed"),
    wildcard_constraints:
        run=runs_regex(PLACE_RUNS),
    threads: config["threads"]["activity"]
    log:
        log_path("activity"),
    benchmark:
        benchmark_path("activity")
    resources:
        mem_mb=6000,
        runtime=20,
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/activity_place.py"


rule development_place:
    """Maps, scores and cell types of a place-cell read-out network at every checkpoint."""
    input:
        checkpoints=model_path("checkpoints.nc"),
    output:
        run_path("development.nc"),
    params:
        code=script_code("development_place.py"),
        arena=run_param("arena"),
        place_cells=run_param("place_cells"),
        place_rnn=run_param("place_rnn"),
        place_trajectories=run_param("place_trajectories"),
        analysis=analysis_param(),
        development=run_param("development"),
        seed=run_param("seed"),
    wildcard_constraints:
        run=runs_regex(PLACE_RUNS),
    threads: config["threads"]["development"]
    log:
        log_path("development"),
    benchmark:
        benchmark_path("development")
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        "../envs/cw.yaml"
    script:
        "../scripts/development_place.py"
