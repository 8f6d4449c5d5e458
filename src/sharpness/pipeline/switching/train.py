"""Rules train_prefix and train_branch: one run of a switching study, resumable."""

import json
from pathlib import Path

from ...runspec import RunSpec
from ...train.job import train_job


def run(smk, log) -> None:
    spec = RunSpec.from_dict(json.loads(smk.params.spec))
    start_from = None
    keep = {}
    if smk.rule == "train_branch":
        start_from = str(Path(smk.input.checkpoints) / f"epoch{smk.params.start_epoch}.pt")
    else:
        Path(smk.output.checkpoints).mkdir(parents=True, exist_ok=True)
        keep = {t: str(Path(smk.output.checkpoints) / f"epoch{t}.pt") for t in smk.params.keep}
    train_job(
        spec,
        data_path=smk.input.data,
        state_dir=smk.params.state_dir,
        final_checkpoint=smk.output.final,
        run_netcdf=smk.output.run,
        keep=keep,
        start_from=start_from,
        config_slice=spec.to_dict(),
        log=log,
    )
