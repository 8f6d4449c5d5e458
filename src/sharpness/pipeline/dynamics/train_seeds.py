"""Rule dynamics_seeds__<study>: every run of one seed of a dynamics study in one job.

Each run goes through the same :func:`~sharpness.train.dynamics.dynamics_job` as a per-run job,
with the same state folder, so the files are the ones per-run jobs would write.
"""

import json
from pathlib import Path

from ...runspec import StepRunSpec
from ...train.dynamics import dynamics_job


def run(smk, log) -> None:
    seed_dir, state_root = Path(smk.params.seed_dir), Path(smk.params.state_dir)
    plan = json.loads(smk.params.plan)
    for i, item in enumerate(plan, 1):
        name, folder = item["run"], seed_dir / item["run"]
        log(f"[{i}/{len(plan)}] {name}")
        keep = {}
        if "keep" in item:
            (folder / "ckpt").mkdir(parents=True, exist_ok=True)
            keep = {t: str(folder / "ckpt" / f"step{t}.pt") for t in item["keep"]}
        start_from = str(seed_dir / item["start_from"]) if "start_from" in item else None
        dynamics_job(StepRunSpec.from_dict(item["spec"]), smk.input.data, str(state_root / name), str(folder / "final.pt"),
                     str(folder / "run.nc"), keep=keep, start_from=start_from, log=log)
