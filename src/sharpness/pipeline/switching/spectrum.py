"""Rule spectrum: full Hessian spectra of chosen checkpoints of one pure run."""

import json
from pathlib import Path

from ...train.hessian import checkpoint_spectra


def run(smk, log) -> None:
    settings = json.loads(smk.params.settings)
    run_dir = Path(smk.output[0]).parent
    checkpoint_spectra(run_dir, sorted(settings["epochs"]), smk.input.data, settings, smk.output[0], log=log)
