# Top Hessian eigenvalues of a final model on a fixed, recorded training subset.
rule final_sharpness:
    input:
        run="results/{study}/seed{seed}/{run}/run.nc",
        final="results/{study}/seed{seed}/{run}/final.pt",
        data=dataset_file,
        code=code("data", "measure", "models", "spectrum", "store", "train"),
    output:
        "results/{study}/seed{seed}/{run}/final_spectrum.nc",
    log:
        "logs/{study}/seed{seed}/{run}/final_sharpness.log",
    conda:
        "../envs/torch.yaml"
    resources:
        **TRAIN_RESOURCES,
    params:
        settings=lambda wc: canonical(STUDIES[wc.study].cfg["sharpness"]),
    script:
        "scripts/run_rule.py"
