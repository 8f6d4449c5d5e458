# Toy studies: problems with known answers (far-from-home's quadratic model, the ravines
# quadratic and 2-D ravine, late-sam's tanh valley), simulated exactly in one job each.

TOYS = studies_of("toy")


rule toy_simulate:
    input:
        code=code("toy_simulate"),
    output:
        "results/{study}/{study}.nc",
    log:
        "logs/{study}/simulate.log",
    wildcard_constraints:
        study=one_of(TOYS),
    conda:
        "../envs/report.yaml"
    params:
        study=lambda wc: canonical(TOYS[wc.study].cfg),
    script:
        "scripts/run_rule.py"
