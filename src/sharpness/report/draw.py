"""Drawing a figure from the numbers :func:`sharpness.report.write_figure_data` saved."""

from __future__ import annotations

from ..store import read
from . import _module
from .style import apply_theme, save


def draw_figure(fig_id: str, data_path: str, style: dict, figure_paths: list[str]) -> None:
    """Draw the numbers saved in ``data_path``, in every requested format."""
    apply_theme(style)
    _, draw = _module(fig_id).FIGURES[fig_id]
    save(draw(read(data_path)), figure_paths, dpi=style.get("dpi", 150))
