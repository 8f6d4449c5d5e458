"""Rule report__<module>: every figure and table of one report module, as the config asks.

A figure's numbers are reduced from the study stores and saved (``<ID>.nc`` in the config's
figure folder), then the figure is drawn from that file alone, so what is plotted is exactly
what is saved. Where the files go is the rule's business: this step writes its outputs.
"""

import json
from pathlib import Path

from ..config.figures import plot_studies
from ..report import write_figure_data, write_table
from ..report.draw import draw_figure
from ..store import check_planned_settings


def run(smk, log) -> None:
    plots, style = json.loads(smk.params.plots), json.loads(smk.params.style)
    stores = {Path(s).stem: s for s in smk.input.stores}
    for study, planned in json.loads(smk.params.planned).items():
        check_planned_settings(stores[study], study, planned)
    for fig_id, options in plots.items():
        own = [stores[name] for name in plot_studies(options)]  # in the order the figure lists them
        data = _output_of(smk.output.data, fig_id)
        if data:
            write_figure_data(fig_id, own, options, data)
            paths = [p for p in smk.output.figures if Path(p).stem == fig_id]
            draw_figure(fig_id, data, style, paths)
            log(f"drew {fig_id}: {paths}")
        csv = _output_of(smk.output.csv, fig_id)
        if csv:
            write_table(fig_id, own, options, csv, _output_of(smk.output.md, fig_id))
            log(f"wrote table {fig_id}")


def _output_of(paths, fig_id: str) -> str | None:
    return next((str(p) for p in paths if Path(p).stem == fig_id), None)
