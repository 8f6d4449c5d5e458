"""Rule toy_simulate: a toy problem simulated exactly, written as the study store."""

import json

from ...store import provenance_attrs, write_atomic
from ...store.toy import toy_dataset
from ...toys import PROBLEMS


def run(smk, log) -> None:
    cfg = json.loads(smk.params.study)
    data, coords = PROBLEMS[cfg["problem"]](cfg["options"], cfg["seeds"])
    attrs = provenance_attrs(cfg, study=smk.wildcards.study, kind="toy", problem=cfg["problem"])
    ds = toy_dataset(cfg["problem"], data, coords, attrs)
    write_atomic(ds, smk.output[0])
    log(f"simulated {cfg['problem']}: {dict(ds.sizes)}")
