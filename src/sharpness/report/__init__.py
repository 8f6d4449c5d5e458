"""Figures and tables by experiment id; each figure's plotted numbers are saved beside it."""

from __future__ import annotations

import os
from pathlib import Path

from ..store import provenance_attrs, read, write_atomic
from . import spectrum, switching
from .registry import FIGURES, TABLES
from .style import apply_theme, save

# id → (data function, drawing function); data functions take (store paths, options, direction).
_FIGURE_FUNCTIONS = {
    "LS-F1": (lambda stores, options, d: switching.curves_data(stores[0], options, d), switching.draw_curves),
    **{
        fig_id: (lambda stores, options, d: switching.proportion_data(stores, d), switching.draw_proportion)
        for fig_id in ("LS-F3", "LS-F5", "LS-F7", "LS-F9")
    },
    "ES-F3": (lambda stores, options, d: spectrum.density_data(stores, options), spectrum.draw_density),
    "ES-F5": (lambda stores, options, d: spectrum.power_alignment_data(stores, options), spectrum.draw_power_alignment),
}


def _direction(registry, fig_id: str, options: dict) -> str:
    return options.get("direction") or registry[fig_id].default_direction


def figure_data(fig_id: str, stores: list[str], options: dict):
    make_data, _ = _FIGURE_FUNCTIONS[fig_id]
    ds = make_data(stores, options, _direction(FIGURES, fig_id, options))
    ds.attrs.update(provenance_attrs(options, figure=fig_id, caption=FIGURES[fig_id].caption))
    return ds


def write_figure_data(fig_id: str, stores: list[str], options: dict, data_path: str) -> None:
    write_atomic(figure_data(fig_id, stores, options), data_path)


def draw_figure(fig_id: str, data_path: str, style: dict, figure_paths: list[str]) -> None:
    """Draw the numbers saved by :func:`write_figure_data`, in every requested format."""
    apply_theme(style)
    _, draw = _FIGURE_FUNCTIONS[fig_id]
    save(draw(read(data_path)), figure_paths, dpi=style.get("dpi", 150))


def write_table(fig_id: str, stores: list[str], options: dict, csv_path: str, md_path: str) -> None:
    if fig_id == "LS-T2":
        frame = spectrum.stability_table(stores, options)
    else:
        frame = switching.proportion_table(switching.proportion_data(stores, _direction(TABLES, fig_id, options)))
    _write_text(csv_path, frame.to_csv(index=False, float_format="%.6g"))
    _write_text(md_path, f"{TABLES[fig_id].caption}\n\n" + frame.to_markdown(index=False, floatfmt=".4g") + "\n")


def _write_text(path: str, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


__all__ = ["FIGURES", "TABLES", "draw_figure", "figure_data", "write_figure_data", "write_table"]
