"""Rule train_seeds_<study>: every run of one seed in one job, prefixes first, then branches.

Each run goes through the same :func:`~sharpness.train.job.train_job` as a per-run job, with the
same state folder, so the files are the ones per-run jobs would write, and a killed job resumes
the run it was in.
"""

import json
from pathlib import Path

from ...runspec import RunSpec
from ...train.job import train_job


def run(smk, log) -> None:
    seed_dir = Path(smk.params.seed_dir)
    state_root = Path(smk.params.state_dir)
    plan = json.loads(smk.params.plan)
    for i, item in enumerate(plan, 1):
        name, folder = item["run"], seed_dir / item["run"]
        log(f"[{i}/{len(plan)}] {name}")
        keep = {}
        if "keep" in item:
            (folder / "ckpt").mkdir(parents=True, exist_ok=True)
            keep = {t: str(folder / "ckpt" / f"epoch{t}.pt") for t in item["keep"]}
        spec = RunSpec.from_dict(item["spec"])
        train_job(
            spec,
            data_path=smk.input.data,
            state_dir=str(state_root / name),
            final_checkpoint=str(folder / "final.pt"),
            run_netcdf=str(folder / "run.nc"),
            keep=keep,
            start_from=str(seed_dir / item["start_from"]) if "start_from" in item else None,
            config_slice=spec.to_dict(),
            log=log,
        )
