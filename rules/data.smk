rule prepare_dataset:
    """One tensor file per dataset (and subset), with its SHA-256 beside it."""
    output:
        tensors="results/data/{dataset}.pt",
        meta="results/data/{dataset}.pt.json",
    input:
        code=code("data"),
    params:
        spec=lambda wc: dataset_spec(wc.dataset),
        root=config["data_root"],
    log:
        "logs/data/{dataset}.log",
    conda:
        "../envs/torch.yaml"
    script:
        "scripts/run_rule.py"
