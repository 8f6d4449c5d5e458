"""Rule table: a paper table as CSV and Markdown."""

import json

from ..report import write_table


def run(smk, log) -> None:
    write_table(smk.wildcards.fig_id, list(smk.input.stores), json.loads(smk.params.options), smk.output.csv, smk.output.md)
    log(f"wrote table {smk.wildcards.fig_id}")
