"""Rule final_sharpness: top Hessian eigenvalues of every final model of one seed."""

import json
from pathlib import Path

from ...train.hessian import final_spectra


def run(smk, log) -> None:
    seed_dir = Path(smk.output[0]).parent
    runs = [str(Path(p).parent.relative_to(seed_dir)) for p in smk.input.runs]
    final_spectra(seed_dir, runs, smk.input.data, json.loads(smk.params.settings), smk.output[0], log=log)
