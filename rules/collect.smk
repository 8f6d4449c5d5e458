# One labelled store per study: dims seed × direction × switch_epoch × epoch.
rule collect:
    input:
        runs=lambda wc: [
            f"results/{wc.study}/seed{seed}/{run}/run.nc"
            for seed in STUDIES[wc.study].seeds
            for run in STUDIES[wc.study].run_names
        ],
        spectra=lambda wc: [
            f"results/{wc.study}/seed{seed}/final_spectra.nc"
            for seed in STUDIES[wc.study].seeds
        ],
        checkpoint_spectra=lambda wc: spectrum_files(STUDIES[wc.study]),
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
