"""Cross-field checks of ``figures.plots``: each figure names studies it can be drawn from."""

from __future__ import annotations

from ..catalog import entries
from .base import ConfigError, Study


def plot_studies(options: dict) -> list[str]:
    """The studies a figure's options name (``studies: [...]`` or ``study: name``; none for an
    analytic figure)."""
    if "studies" in options:
        return list(options["studies"])
    return [options["study"]] if "study" in options else []


def check_figures(config: dict) -> None:
    studies = config["studies"]
    for fig_id, options in config["figures"]["plots"].items():
        kinds = {e.kind for e in entries(fig_id)}
        for i, name in enumerate(plot_studies(options)):
            key = f"figures.plots.{fig_id}." + (f"studies.{i}" if "studies" in options else "study")
            if name not in studies:
                raise ConfigError(f"config key '{key}': no study named '{name}' (studies: {', '.join(studies)})")
            study = Study(name, studies[name])
            if study.kind not in kinds:
                raise ConfigError(f"config key '{key}': {fig_id} draws {'/'.join(sorted(map(str, kinds)))} studies; '{name}' is a {study.kind} study")
            study.check_figure(fig_id, options, key)
