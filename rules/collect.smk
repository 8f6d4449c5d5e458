# One labelled store per study: dims seed × direction × switch_epoch × epoch.
rule collect:
    input:
        runs=lambda wc: [
            f"results/{wc.study}/{d}/run.nc" for d in run_dirs(STUDIES[wc.study])
        ],
        spectra=lambda wc: [
            f"results/{wc.study}/{d}/final_spectrum.nc"
            for d in run_dirs(STUDIES[wc.study])
        ],
        code=code("store"),
    output:
        "results/{study}/{study}.nc",
    log:
        "logs/{study}/collect.log",
    conda:
        "../envs/report.yaml"
    params:
        study=lambda wc: canonical(STUDIES[wc.study].cfg),
    script:
        "scripts/run_rule.py"
