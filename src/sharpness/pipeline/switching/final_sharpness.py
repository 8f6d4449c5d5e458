"""Rules final_sharpness (one seed) and final_sharpness__<study> (every seed of a study
trained one job per seed): top Hessian eigenvalues of every final model."""

import json
from pathlib import Path

from ...train.hessian import final_spectra


def run(smk, log) -> None:
    settings = json.loads(smk.params.settings)
    planned = json.loads(smk.params.specs)  # seed folder → run folder → the run's spec
    for output in smk.output:
        seed_dir = Path(output).parent
        final_spectra(seed_dir, planned[seed_dir.as_posix()], smk.input.data, settings, output, log=log)
