"""Rules spectrum (one pure run) and spectrum__<study> (every measured run of a study trained
one job per seed): full Hessian spectra of chosen checkpoints."""

import json
from pathlib import Path

from ...train.hessian import checkpoint_spectra


def run(smk, log) -> None:
    settings = json.loads(smk.params.settings)
    planned = json.loads(smk.params.specs)  # run folder → the run's spec
    for output in smk.output:
        run_dir = Path(output).parent
        checkpoint_spectra(run_dir, planned[run_dir.as_posix()], sorted(settings["epochs"]), smk.input.data, settings, output, log=log)
