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
