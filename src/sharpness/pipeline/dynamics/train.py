"""Rules dynamics_prefix and dynamics_branch: one step-based run, resumable."""

import json
from pathlib import Path

from ...runspec import StepRunSpec
from ...train.dynamics import dynamics_job


def run(smk, log) -> None:
    spec = StepRunSpec.from_dict(json.loads(smk.params.spec))
    start_from, keep = None, {}
    if smk.rule == "dynamics_branch":
        start_from = str(Path(smk.input.checkpoints) / f"step{smk.params.start_step}.pt")
    else:
        Path(smk.output.checkpoints).mkdir(parents=True, exist_ok=True)
        keep = {t: str(Path(smk.output.checkpoints) / f"step{t}.pt") for t in smk.params.keep}
    dynamics_job(spec, smk.input.data, smk.params.state_dir, smk.output.final, smk.output.run, keep=keep, start_from=start_from, log=log)
