# The switching study (late-sam): each seed trains every optimizer once for all T epochs (the
# prefixes), branches resume a prefix checkpoint at t and switch optimizer; then final and
# checkpoint Hessians, and one store per study.

from sharpness.pipeline.stale import mark_incomplete_checkpoint_folders

SWITCHING = studies_of("switching")
# Studies whose runs are trained one job per run (train_prefix, train_branch), and those trained
# one job per seed (a train_seeds rule of their own: its outputs are the study's run folders).
PER_RUN = [name for name, s in SWITCHING.items() if not s.per_seed_jobs]
PER_SEED = [name for name, s in SWITCHING.items() if s.per_seed_jobs]
# A checkpoint folder that lost a kept checkpoint is an output Snakemake will not look into:
# marked here, so a plain run retrains its prefix (sharpness.pipeline.stale).
mark_incomplete_checkpoint_folders(
    {f: files for s in SWITCHING.values() for f, files in s.kept_checkpoints().items()}
)


wildcard_constraints:
    opt=r"[a-z][a-z0-9_]*",
    first=r"[a-z][a-z0-9_]*",
    second=r"[a-z][a-z0-9_]*",
    t=r"\d+",


# One optimizer alone for all T epochs, leaving a checkpoint at every switch epoch.
rule train_prefix:
    input:
        data=dataset_file,
        init=lambda wc: SWITCHING[wc.study].init_files(wc.seed),
        code=code("train_prefix"),
    output:
        run="results/{study}/seed{seed}/{opt}/run.nc",
        final="results/{study}/seed{seed}/{opt}/final.pt",
        checkpoints=directory("results/{study}/seed{seed}/{opt}/ckpt"),
    log:
        "logs/{study}/seed{seed}/{opt}/train.log",
    wildcard_constraints:
        study=one_of(PER_RUN),
    conda:
        "../envs/torch.yaml"
    resources:
        **TRAIN_RESOURCES,
    params:
        spec=lambda wc: SWITCHING[wc.study].run_spec(int(wc.seed), wc.opt).to_json(),
        keep=lambda wc: SWITCHING[wc.study].checkpoint_epochs(wc.opt),
        state_dir="results/{study}/.state/seed{seed}/{opt}",
    script:
        "scripts/run_rule.py"


# Resume the first optimizer's checkpoint at t and continue with the second until T.
rule train_branch:
    input:
        data=dataset_file,
        checkpoints="results/{study}/seed{seed}/{first}/ckpt",
        code=code("train_branch"),
    output:
        run="results/{study}/seed{seed}/{first}-{second}/t{t}/run.nc",
        final="results/{study}/seed{seed}/{first}-{second}/t{t}/final.pt",
    log:
        "logs/{study}/seed{seed}/{first}-{second}/t{t}/train.log",
    wildcard_constraints:
        study=one_of(PER_RUN),
    conda:
        "../envs/torch.yaml"
    resources:
        **TRAIN_RESOURCES,
    params:
        spec=lambda wc: SWITCHING[wc.study]
        .run_spec(int(wc.seed), wc.first, wc.second, int(wc.t))
        .to_json(),
        start_epoch=lambda wc: int(wc.t),
        state_dir="results/{study}/.state/seed{seed}/{first}-{second}/t{t}",
    script:
        "scripts/run_rule.py"


# The same runs, one job per seed: prefixes first, then the branches from their checkpoints.
for _name in PER_SEED:
    _study = SWITCHING[_name]

    rule:
        name:
            study_rule_name("train_seeds", _name)
        input:
            data=f"results/data/{_study.dataset_key}.pt",
            init=lambda wc, s=_study: s.init_files(wc.seed),
            code=code("train_seeds"),
        output:
            runs=[
                f"results/{_name}/seed{{seed}}/{run}/run.nc"
                for run in _study.run_names
            ],
            finals=[
                f"results/{_name}/seed{{seed}}/{run}/final.pt"
                for run in _study.run_names
            ],
            checkpoints=[
                directory(f"results/{_name}/seed{{seed}}/{opt}/ckpt")
                for opt in _study.prefix_optimizers
            ],
        log:
            f"logs/{_name}/seed{{seed}}/train.log",
        conda:
            "../envs/torch.yaml"
        threads: study_resources(_name)["cpus_per_task"] if _study.cfg["parallel_runs"] > 1 else 1
        resources:
            **study_resources(_name, runs=_study.job_waves()),
        params:
            plan=lambda wc, s=_study: json.dumps(
                s.seed_plan(int(wc.seed)), sort_keys=True
            ),
            parallel_runs=_study.cfg["parallel_runs"],
            seed_dir=f"results/{_name}/seed{{seed}}",
            state_dir=f"results/{_name}/.state/seed{{seed}}",
        script:
            "scripts/run_rule.py"


# Top Hessian eigenvalues of every final model of a seed, on a fixed, recorded training subset.
# One job per seed: a Hessian of a small model takes less time than starting a job.
rule final_sharpness:
    input:
        runs=lambda wc: SWITCHING[wc.study].seed_files(wc.seed, "run.nc"),
        finals=lambda wc: SWITCHING[wc.study].seed_files(wc.seed, "final.pt"),
        data=dataset_file,
        code=code("final_sharpness"),
    output:
        "results/{study}/seed{seed}/final_spectra.nc",
    log:
        "logs/{study}/seed{seed}/final_sharpness.log",
    wildcard_constraints:
        study=one_of(PER_RUN),
    conda:
        "../envs/torch.yaml"
    resources:
        **TRAIN_RESOURCES,
    params:
        settings=lambda wc: canonical(SWITCHING[wc.study].cfg["sharpness"]),
        specs=lambda wc: canonical(
            {
                f"results/{wc.study}/seed{wc.seed}": SWITCHING[wc.study].seed_specs(
                    int(wc.seed)
                )
            }
        ),
    script:
        "scripts/run_rule.py"


# The same for a study trained one job per seed: all its seeds in one job.
for _name in PER_SEED:
    _study = SWITCHING[_name]

    rule:
        name:
            study_rule_name("final_sharpness", _name)
        input:
            runs=[f for seed in _study.seeds for f in _study.seed_files(seed, "run.nc")],
            finals=[
                f for seed in _study.seeds for f in _study.seed_files(seed, "final.pt")
            ],
            data=f"results/data/{_study.dataset_key}.pt",
            code=code("final_sharpness"),
        output:
            [f"results/{_name}/seed{seed}/final_spectra.nc" for seed in _study.seeds],
        log:
            f"logs/{_name}/final_sharpness.log",
        conda:
            "../envs/torch.yaml"
        resources:
            **study_resources(_name, runs=len(_study.seeds)),
        params:
            settings=canonical(_study.cfg["sharpness"]),
            specs=canonical(
                {
                    f"results/{_name}/seed{s}": _study.seed_specs(s)
                    for s in _study.seeds
                }
            ),
        script:
            "scripts/run_rule.py"


# Full spectra (top-k, trace, ‖H‖²_F, density, power-iteration alignment, γ) of chosen
# checkpoints of a pure run, for the spectrum figures and tables.
rule spectrum:
    input:
        run="results/{study}/seed{seed}/{opt}/run.nc",
        final="results/{study}/seed{seed}/{opt}/final.pt",
        checkpoints="results/{study}/seed{seed}/{opt}/ckpt",
        data=dataset_file,
        code=code("spectrum"),
    output:
        "results/{study}/seed{seed}/{opt}/spectrum.nc",
    log:
        "logs/{study}/seed{seed}/{opt}/spectrum.log",
    wildcard_constraints:
        study=one_of(PER_RUN),
    conda:
        "../envs/torch.yaml"
    resources:
        **TRAIN_RESOURCES,
    params:
        settings=lambda wc: canonical(SWITCHING[wc.study].spectrum),
        specs=lambda wc: canonical(
            {
                f"results/{wc.study}/seed{wc.seed}/{wc.opt}": SWITCHING[
                    wc.study
                ].seed_specs(int(wc.seed))[wc.opt]
            }
        ),
    script:
        "scripts/run_rule.py"


# The same for a study trained one job per seed: every measured run in one job.
for _name in [n for n in PER_SEED if SWITCHING[n].spectrum]:
    _study = SWITCHING[_name]

    rule:
        name:
            study_rule_name("spectrum", _name)
        input:
            runs=[p.replace("spectrum.nc", "run.nc") for p in _study.spectrum_files()],
            finals=[
                p.replace("spectrum.nc", "final.pt") for p in _study.spectrum_files()
            ],
            checkpoints=[
                p.replace("spectrum.nc", "ckpt") for p in _study.spectrum_files()
            ],
            data=f"results/data/{_study.dataset_key}.pt",
            code=code("spectrum"),
        output:
            _study.spectrum_files(),
        log:
            f"logs/{_name}/spectrum.log",
        conda:
            "../envs/torch.yaml"
        resources:
            **study_resources(_name, runs=len(_study.spectrum_files())),
        params:
            settings=canonical(_study.spectrum),
            specs=canonical(
                {
                    f"results/{_name}/seed{s}/{opt}": _study.seed_specs(s)[opt]
                    for s in _study.seeds
                    for opt in _study.spectrum["runs"]
                }
            ),
        script:
            "scripts/run_rule.py"


# One labelled store per study: dims seed × direction × switch_epoch × epoch.
rule collect:
    input:
        runs=lambda wc: [
            f"results/{wc.study}/seed{seed}/{run}/run.nc"
            for seed in SWITCHING[wc.study].seeds
            for run in SWITCHING[wc.study].run_names
        ],
        spectra=lambda wc: [
            f"results/{wc.study}/seed{seed}/final_spectra.nc"
            for seed in SWITCHING[wc.study].seeds
        ],
        checkpoint_spectra=lambda wc: SWITCHING[wc.study].spectrum_files(),
        code=code("collect"),
    output:
        "results/{study}/{study}.nc",
    log:
        "logs/{study}/collect.log",
    wildcard_constraints:
        study=one_of(SWITCHING),
    conda:
        "../envs/report.yaml"
    params:
        study=lambda wc: canonical(SWITCHING[wc.study].cfg),
    script:
        "scripts/run_rule.py"
