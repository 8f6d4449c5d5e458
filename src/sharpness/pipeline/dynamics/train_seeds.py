"""Rule dynamics_seeds__<study>: every run of one seed of a dynamics study in one job.

Each run goes through the same :func:`~sharpness.train.dynamics.dynamics_job` as a per-run job,
with the same state folder, so the files are the ones per-run jobs would write.
"""

from ...runspec import StepRunSpec
from ...train.dynamics import dynamics_job
from ..seed_plan import planned_runs


def run(smk, log) -> None:
    for run in planned_runs(smk, log, unit="step"):
        dynamics_job(StepRunSpec.from_dict(run.spec), smk.input.data, run.state_dir, run.final, run.run_netcdf,
                     keep=run.keep, start_from=run.start_from, log=log)
