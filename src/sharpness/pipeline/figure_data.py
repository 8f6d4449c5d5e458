"""Rule figure_data: the numbers a figure plots, reduced from study stores."""

import json

from ..report import write_figure_data


def run(smk, log) -> None:
    write_figure_data(smk.wildcards.fig_id, list(smk.input.stores), json.loads(smk.params.options), smk.output[0])
    log(f"wrote the numbers of {smk.wildcards.fig_id}")
