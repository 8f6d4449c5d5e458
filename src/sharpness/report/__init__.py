"""Figures and tables by experiment id; each figure's plotted numbers are saved beside it.

The catalogue (:mod:`sharpness.catalog`) names the module that reduces and draws each id; that
module declares ``FIGURES = {id: (data, draw)}`` and ``TABLES = {id: table}``, where
``data(stores, options)`` returns the plotted numbers as a Dataset, ``draw(ds)`` a matplotlib
figure and ``table(stores, options)`` a DataFrame. Modules are imported on demand, so a figure
job loads only its own module (and the workflow tracks only that one).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..atomic import atomic_write
from ..catalog import FIGURES, TABLES, entry
from ..store import STORE_LAYOUT, check_study_store, provenance_attrs, write_atomic


def figure_module(exp_id: str) -> str:
    """The full name of the module that reduces and draws ``exp_id``."""
    return f"{__name__}.{entry(exp_id).module}"


def _module(exp_id: str):
    return importlib.import_module(figure_module(exp_id))


def _check_stores(stores: list[str]) -> None:
    for path in stores:  # results/<study>/<study>.nc
        check_study_store(path, Path(path).stem, STORE_LAYOUT)


def figure_data(fig_id: str, stores: list[str], options: dict):
    _check_stores(stores)
    make_data, _ = _module(fig_id).FIGURES[fig_id]
    ds = make_data(stores, options)
    ds.attrs.update(provenance_attrs(options, figure=fig_id, caption=FIGURES[fig_id].caption))
    return ds


def write_figure_data(fig_id: str, stores: list[str], options: dict, data_path: str) -> None:
    write_atomic(figure_data(fig_id, stores, options), data_path)


def write_table(fig_id: str, stores: list[str], options: dict, csv_path: str, md_path: str) -> None:
    _check_stores(stores)
    frame = _module(fig_id).TABLES[fig_id](stores, options)
    _write_text(csv_path, frame.to_csv(index=False, float_format="%.6g"))
    note = f"\n{frame.attrs['note']}\n" if frame.attrs.get("note") else ""
    blanks = frame.astype(object).where(frame.notna(), None)  # a missing value prints blank, not "nan"
    _write_text(md_path, f"{TABLES[fig_id].caption}\n\n" + blanks.to_markdown(index=False, floatfmt=".4g", missingval="") + "\n" + note)


def _write_text(path: str, text: str) -> None:
    with atomic_write(path, "w") as f:
        f.write(text)


__all__ = ["FIGURES", "TABLES", "figure_data", "figure_module", "write_figure_data", "write_table"]
