"""Rule train_seeds__<study>: every run of one seed in one job, prefixes first, then branches.

Each run goes through the same :func:`~sharpness.train.job.train_job` as a per-run job, with the
same state folder, so the files are the ones per-run jobs would write, and a killed job resumes
the run it was in. With ``parallel_runs: k`` the runs go ``k`` at a time in separate processes
sharing the job's device (:mod:`..parallel_runs`).
"""

from ...runspec import RunSpec
from ...train.job import train_job
from ..parallel_runs import train_in_waves
from ..seed_plan import planned_runs


def run(smk, log) -> None:
    parallel = int(smk.params.parallel_runs)
    if parallel > 1:
        runs = list(planned_runs(smk, log, unit="epoch"))
        train_in_waves(runs, smk.input.data, parallel, max(1, int(smk.threads) // parallel), log)
        return
    for run in planned_runs(smk, log, unit="epoch"):
        spec = RunSpec.from_dict(run.spec)
        train_job(spec, smk.input.data, run.state_dir, run.final, run.run_netcdf, keep=run.keep,
                  start_from=run.start_from, config_slice=spec.to_dict(), log=log)
