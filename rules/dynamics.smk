# The dynamics studies (edge of stability): step-based runs over a grid of learning rates and
# SAM radii, each recording the top Hessian eigenvalues, gradient alignments and the theory
# edges every few steps. A switched schedule resumes its first optimizer's pure run at the
# switch step, as the switching study does per epoch.

DYNAMICS = studies_of("dynamics")
PREFIX_RUNS = [run for study in DYNAMICS.values() for run in study.prefix_runs]
BRANCH_RUNS = [run for study in DYNAMICS.values() for run in study.branch_runs]


# A pure run, leaving a checkpoint at every step a switched run starts from.
rule dynamics_prefix:
    input:
        data=dataset_file,
        code=code("dynamics_prefix"),
    output:
        run="results/{study}/seed{seed}/{run}/run.nc",
        final="results/{study}/seed{seed}/{run}/final.pt",
        checkpoints=directory("results/{study}/seed{seed}/{run}/ckpt"),
    log:
        "logs/{study}/seed{seed}/{run}/train.log",
    wildcard_constraints:
        study=one_of(DYNAMICS),
        run=one_of(PREFIX_RUNS),
    conda:
        "../envs/torch.yaml"
    resources:
        **TRAIN_RESOURCES,
    params:
        spec=lambda wc: DYNAMICS[wc.study].run_spec(int(wc.seed), wc.run).to_json(),
        keep=lambda wc: DYNAMICS[wc.study].checkpoint_steps(wc.run),
        state_dir="results/{study}/.state/seed{seed}/{run}",
    script:
        "scripts/run_rule.py"


# A switched run: the first optimizer's checkpoint at the switch step, then the second to T.
rule dynamics_branch:
    input:
        data=dataset_file,
        checkpoints=lambda wc: DYNAMICS[wc.study].prefix_checkpoints(wc.seed, wc.run),
        code=code("dynamics_branch"),
    output:
        run="results/{study}/seed{seed}/{run}/run.nc",
        final="results/{study}/seed{seed}/{run}/final.pt",
    log:
        "logs/{study}/seed{seed}/{run}/train.log",
    wildcard_constraints:
        study=one_of(DYNAMICS),
        run=one_of(BRANCH_RUNS),
    conda:
        "../envs/torch.yaml"
    resources:
        **TRAIN_RESOURCES,
    params:
        spec=lambda wc: DYNAMICS[wc.study].run_spec(int(wc.seed), wc.run).to_json(),
        start_step=lambda wc: DYNAMICS[wc.study].runs[wc.run].switch_step,
        state_dir="results/{study}/.state/seed{seed}/{run}",
    script:
        "scripts/run_rule.py"


# One labelled store per study: dims seed × schedule × lr × rho [× width] × step.
rule dynamics_collect:
    input:
        runs=lambda wc: DYNAMICS[wc.study].run_files(),
        code=code("dynamics_collect"),
    output:
        "results/{study}/{study}.nc",
    log:
        "logs/{study}/collect.log",
    wildcard_constraints:
        study=one_of(DYNAMICS),
    conda:
        "../envs/report.yaml"
    params:
        study=lambda wc: canonical(DYNAMICS[wc.study].cfg),
    script:
        "scripts/run_rule.py"
