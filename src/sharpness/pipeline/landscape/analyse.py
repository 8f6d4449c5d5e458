"""Rule landscape_analyse: interpolation, plane and escape of a switching study's final models."""

import json

from ...store import provenance_attrs, write_atomic
from ...store.landscape import landscape_dataset
from ...train.landscape import analyse


def run(smk, log) -> None:
    cfg, a = json.loads(smk.params.study), json.loads(smk.params.analysis)
    result = analyse(a["source_dir"], a["seeds"], a["switched_run"], a["pure_run"], smk.input.data, cfg, a["escape_settings"], a["specs"], log=log)
    attrs = provenance_attrs(cfg, study=smk.wildcards.study, kind="landscape", source=cfg["source"],
                             switched_run=a["switched_run"], pure_run=a["pure_run"])
    write_atomic(landscape_dataset(result, a["seeds"], cfg["interpolation"]["h"], attrs), smk.output[0])
    log(f"analysed {a['switched_run']} vs {a['pure_run']} of {cfg['source']}")
