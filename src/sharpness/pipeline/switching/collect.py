"""Rule collect: every run of a switching study in one labelled store."""

import json
from pathlib import Path

from ...store import write_atomic
from ...store.switching import collect_switching_study


def run(smk, log) -> None:
    study_dir = Path(smk.output[0]).parent
    ds = collect_switching_study(study_dir, json.loads(smk.params.study))
    write_atomic(ds, smk.output[0])
    log(f"collected {dict(ds.sizes)}; epochs_trained={ds.attrs['epochs_trained']} epochs_naive={ds.attrs['epochs_naive']}")
