"""Rules spectrum (one pure run) and spectrum__<study> (every measured run of a study trained
one job per seed): full Hessian spectra of chosen checkpoints."""

import json
from pathlib import Path

from ...train.hessian import checkpoint_spectra


def run(smk, log) -> None:
    settings = json.loads(smk.params.settings)
    for output in smk.output:
        checkpoint_spectra(Path(output).parent, sorted(settings["epochs"]), smk.input.data, settings, output, log=log)
