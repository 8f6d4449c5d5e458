# The dynamics studies (edge of stability): step-based runs over a grid of learning rates and
# SAM radii, each recording the top Hessian eigenvalues, gradient alignments and the theory
# edges every few steps. A switched schedule resumes its first optimizer's pure run at the
# switch step, as the switching study does per epoch.

from sharpness.pipeline.stale import mark_incomplete_checkpoint_folders

DYNAMICS = studies_of("dynamics")
DYNAMICS_PER_RUN = [name for name, s in DYNAMICS.items() if not s.per_seed_jobs]
DYNAMICS_PER_SEED = [name for name, s in DYNAMICS.items() if s.per_seed_jobs]
PREFIX_RUNS = [run for study in DYNAMICS.values() for run in study.prefix_runs]
BRANCH_RUNS = [run for study in DYNAMICS.values() for run in study.branch_runs]
# As for the switching studies: a checkpoint folder missing a kept checkpoint is retrained.
mark_incomplete_checkpoint_folders(
    {f: files for s in DYNAMICS.values() for f, files in s.kept_checkpoints().items()}
)


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
        study=one_of(DYNAMICS_PER_RUN),
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
        study=one_of(DYNAMICS_PER_RUN),
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


# The same runs, one job per seed: pure runs first, then the branches from their checkpoints.
for _name in DYNAMICS_PER_SEED:
    _study = DYNAMICS[_name]

    rule:
        name:
            study_rule_name("dynamics_seeds", _name)
        input:
            data=f"results/data/{_study.dataset_key}.pt",
            code=code("dynamics_seeds"),
        output:
            runs=[f"results/{_name}/seed{{seed}}/{run}/run.nc" for run in _study.runs],
            finals=[
                f"results/{_name}/seed{{seed}}/{run}/final.pt" for run in _study.runs
            ],
            checkpoints=[
                directory(f"results/{_name}/seed{{seed}}/{run}/ckpt")
                for run in _study.prefix_runs
            ],
        log:
            f"logs/{_name}/seed{{seed}}/train.log",
        conda:
            "../envs/torch.yaml"
        resources:
            **study_resources(_name, runs=len(_study.runs)),
        params:
            plan=lambda wc, s=_study: json.dumps(
                s.seed_plan(int(wc.seed)), sort_keys=True
            ),
            seed_dir=f"results/{_name}/seed{{seed}}",
            state_dir=f"results/{_name}/.state/seed{{seed}}",
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
