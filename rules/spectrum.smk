rule final_sharpness:
    """Top Hessian eigenvalues of a final model on a fixed, recorded training subset."""
    output:
        "results/{study}/seed{seed}/{run}/final_spectrum.nc",
    input:
        run="results/{study}/seed{seed}/{run}/run.nc",
        final="results/{study}/seed{seed}/{run}/final.pt",
        data=dataset_file,
        code=code("data", "measure", "models", "spectrum", "store", "train"),
    params:
        settings=lambda wc: STUDIES[wc.study].cfg["sharpness"],
    log:
        "logs/{study}/seed{seed}/{run}/final_sharpness.log",
    resources:
        **TRAIN_RESOURCES,
    conda:
        "../envs/torch.yaml"
    script:
        "scripts/run_rule.py"
