# One tensor file per dataset (and subset), with its SHA-256 beside it.
rule prepare_dataset:
    input:
        code=code("prepare_dataset"),
    output:
        tensors="results/data/{dataset}.pt",
        meta="results/data/{dataset}.pt.json",
    log:
        "logs/data/{dataset}.log",
    conda:
        "../envs/torch.yaml"
    params:
        spec=lambda wc: canonical(dataset_spec(wc.dataset)),
        root=config["data_root"],
    script:
        "scripts/run_rule.py"
