"""Rule figure: draw a figure from its saved numbers, in every requested format."""

import json

from ..report.draw import draw_figure


def run(smk, log) -> None:
    draw_figure(smk.wildcards.fig_id, smk.input.data, json.loads(smk.params.style), list(smk.output))
    log(f"drew {smk.wildcards.fig_id}: {list(smk.output)}")
