# One optimizer alone for all T epochs, leaving a checkpoint at every switch epoch.
rule train_prefix:
    input:
        data=dataset_file,
        code=TRAIN_CODE,
    output:
        run="results/{study}/seed{seed}/{opt}/run.nc",
        final="results/{study}/seed{seed}/{opt}/final.pt",
        checkpoints=directory("results/{study}/seed{seed}/{opt}/ckpt"),
    log:
        "logs/{study}/seed{seed}/{opt}/train.log",
    conda:
        "../envs/torch.yaml"
    resources:
        **TRAIN_RESOURCES,
    params:
        spec=lambda wc: STUDIES[wc.study].run_spec(int(wc.seed), wc.opt).to_json(),
        keep=lambda wc: STUDIES[wc.study].checkpoint_epochs(wc.opt),
        state_dir="results/{study}/.state/seed{seed}/{opt}",
    script:
        "scripts/run_rule.py"


# Resume the first optimizer's checkpoint at t and continue with the second until T.
rule train_branch:
    input:
        data=dataset_file,
        checkpoints="results/{study}/seed{seed}/{first}/ckpt",
        code=TRAIN_CODE,
    output:
        run="results/{study}/seed{seed}/{first}-{second}/t{t}/run.nc",
        final="results/{study}/seed{seed}/{first}-{second}/t{t}/final.pt",
    log:
        "logs/{study}/seed{seed}/{first}-{second}/t{t}/train.log",
    conda:
        "../envs/torch.yaml"
    resources:
        **TRAIN_RESOURCES,
    params:
        spec=lambda wc: STUDIES[wc.study]
        .run_spec(int(wc.seed), wc.first, wc.second, int(wc.t))
        .to_json(),
        start_epoch=lambda wc: int(wc.t),
        state_dir="results/{study}/.state/seed{seed}/{first}-{second}/t{t}",
    script:
        "scripts/run_rule.py"
