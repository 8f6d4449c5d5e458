rule collect:
    """One labelled store per study: dims seed × direction × switch_epoch × epoch."""
    output:
        "results/{study}/{study}.nc",
    input:
        runs=lambda wc: [f"results/{wc.study}/{d}/run.nc" for d in run_dirs(STUDIES[wc.study])],
        spectra=lambda wc: [
            f"results/{wc.study}/{d}/final_spectrum.nc" for d in run_dirs(STUDIES[wc.study])
        ],
        code=code("store"),
    params:
        study=lambda wc: STUDIES[wc.study].cfg,
    log:
        "logs/{study}/collect.log",
    conda:
        "../envs/report.yaml"
    script:
        "scripts/run_rule.py"
