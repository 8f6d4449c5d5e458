# Landscape studies: the loss between, around and away from a switching study's final models
# (late-sam Figs. 4b, 4c, 14, 16). They read the source study's run folders.

LANDSCAPES = studies_of("landscape")


rule landscape_analyse:
    input:
        finals=lambda wc: LANDSCAPES[wc.study].inputs(config["studies"]),
        data=lambda wc: LANDSCAPES[wc.study].dataset_file(config["studies"]),
        code=code("landscape_analyse"),
    output:
        "results/{study}/{study}.nc",
    log:
        "logs/{study}/analyse.log",
    wildcard_constraints:
        study=one_of(LANDSCAPES),
    conda:
        "../envs/torch.yaml"
    resources:
        **TRAIN_RESOURCES,
    params:
        study=lambda wc: canonical(LANDSCAPES[wc.study].cfg),
        analysis=lambda wc: canonical(LANDSCAPES[wc.study].analysis(config["studies"])),
    script:
        "scripts/run_rule.py"
