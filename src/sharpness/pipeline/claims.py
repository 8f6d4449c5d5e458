"""Rule claims: every claim of the config's figures and tables, evaluated on the studies each
draws, one file per id (an id without claims gets a file with no rows)."""

import json
from pathlib import Path

from ..claims.ledger import evaluate_id
from ..config.figures import plot_studies
from ..store import check_planned_settings, write_atomic


def run(smk, log) -> None:
    plots = json.loads(smk.params.plots)
    stores = {Path(s).stem: str(s) for s in smk.input.stores}
    for study, planned in json.loads(smk.params.planned).items():
        check_planned_settings(stores[study], study, planned)
    outputs = {Path(p).stem: str(p) for p in smk.output}
    for exp_id, options in plots.items():
        ds = evaluate_id(exp_id, [stores[name] for name in plot_studies(options)], options)
        write_atomic(ds, outputs[exp_id])
        verdicts = ", ".join(f"{v} {k}" for k, v in ds.verdict.to_series().value_counts().items())
        log(f"{exp_id}: {ds.sizes['row']} claims evaluated ({verdicts or 'none declared'})")
