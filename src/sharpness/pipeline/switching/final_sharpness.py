"""Rules final_sharpness (one seed) and final_sharpness__<study> (every seed of a study
trained one job per seed): top Hessian eigenvalues of every final model."""

import json
from pathlib import Path

from ...train.hessian import final_spectra


def run(smk, log) -> None:
    settings = json.loads(smk.params.settings)
    for output in smk.output:
        seed_dir = Path(output).parent
        runs = [str(Path(p).parent.relative_to(seed_dir)) for p in smk.input.runs if Path(p).is_relative_to(seed_dir)]
        final_spectra(seed_dir, runs, smk.input.data, settings, output, log=log)
