"""Rule dynamics_collect: every run of a dynamics study in one labelled store."""

import json
from pathlib import Path

from ...config import Study
from ...store import write_atomic
from ...store.dynamics import collect_dynamics_study


def run(smk, log) -> None:
    ds = collect_dynamics_study(Path(smk.output[0]).parent, Study(smk.wildcards.study, json.loads(smk.params.study)))
    write_atomic(ds, smk.output[0])
    log(f"collected {dict(ds.sizes)}; steps_trained={ds.attrs['steps_trained']}")
