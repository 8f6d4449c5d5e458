# Top Hessian eigenvalues of every final model of a seed, on a fixed, recorded training subset.
# One job per seed: a Hessian of a small model takes less time than starting a job.
rule final_sharpness:
    input:
        runs=lambda wc: seed_runs(wc, "run.nc"),
        finals=lambda wc: seed_runs(wc, "final.pt"),
        data=dataset_file,
        code=code("data", "measure", "models", "spectrum", "store", "train"),
    output:
        "results/{study}/seed{seed}/final_spectra.nc",
    log:
        "logs/{study}/seed{seed}/final_sharpness.log",
    conda:
        "../envs/torch.yaml"
    resources:
        **TRAIN_RESOURCES,
    params:
        settings=lambda wc: canonical(STUDIES[wc.study].cfg["sharpness"]),
    script:
        "scripts/run_rule.py"


# Full spectra (top-k, trace, ‖H‖²_F, density, power-iteration alignment, γ) of chosen
# checkpoints of a pure run, for the spectrum figures and tables.
rule spectrum:
    input:
        run="results/{study}/seed{seed}/{opt}/run.nc",
        final="results/{study}/seed{seed}/{opt}/final.pt",
        checkpoints="results/{study}/seed{seed}/{opt}/ckpt",
        data=dataset_file,
        code=code("data", "measure", "models", "spectrum", "store", "train"),
    output:
        "results/{study}/seed{seed}/{opt}/spectrum.nc",
    log:
        "logs/{study}/seed{seed}/{opt}/spectrum.log",
    conda:
        "../envs/torch.yaml"
    resources:
        **TRAIN_RESOURCES,
    params:
        settings=lambda wc: canonical(STUDIES[wc.study].spectrum),
    script:
        "scripts/run_rule.py"
