"""The experiment catalogue: every figure and table id the pipeline draws, declared once.

Each entry names the kind of study it draws (``None`` for an analytic figure that needs no study)
and the :mod:`sharpness.report` module that reduces and draws it. The config checks, the rules,
the schema test and the report all read ids from here. This module imports nothing heavy: the
workflow reads it while parsing the Snakefile.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    caption: str
    kind: str | None  # the study kind whose stores it reads; None: computed from theory alone
    module: str  # sharpness.report.<module> holds its data and drawing functions
    default_direction: str | None = None
    needs_spectrum: bool = False


_SWITCHING = dict(kind="switching", module="switching")
_SPECTRUM = dict(kind="switching", module="spectrum", needs_spectrum=True)
FIGURES = {
    "LS-F1": Entry(
        "Test error vs epoch for SGD, SAM and SGD→SAM switched late (late-sam Fig. 1); mean ± std over seeds.",
        default_direction="sgd->sam",
        **_SWITCHING,
    ),
    "LS-F3": Entry(
        "SGD→SAM: test-loss and test-error gaps to full SAM and λmax of the final model vs the SAM proportion "
        "(T−t)/T (late-sam Fig. 3); mean ± std over seeds, diverged runs left out and counted.",
        default_direction="sgd->sam",
        **_SWITCHING,
    ),
    "LS-F5": Entry(
        "SAM→SGD: test-loss and test-error gaps to full SAM and λmax of the final model vs the SAM proportion t/T "
        "(late-sam Fig. 5); mean ± std over seeds.",
        default_direction="sam->sgd",
        **_SWITCHING,
    ),
    "LS-F7": Entry("SGD→SAM as LS-F3 for further architectures (late-sam Fig. 7).", default_direction="sgd->sam", **_SWITCHING),
    "LS-F9": Entry("SAM→SGD as LS-F5 for further architectures (late-sam Fig. 9).", default_direction="sam->sgd", **_SWITCHING),
    "ES-F3": Entry(
        "Hessian spectral density (stochastic Lanczos quadrature, one fixed grid and bandwidth) at the end of "
        "training, SGD vs SAM (eigen-sam Fig. 3, right); mean over seeds.",
        **_SPECTRUM,
    ),
    "ES-F5": Entry(
        "Alignment |cos(v_t, v_1)| of the power-iteration estimate with the top Hessian eigenvector (Lanczos) vs "
        "the number of HVP steps, at a mid-training checkpoint (eigen-sam Fig. 5); mean ± std over seeds.",
        **_SPECTRUM,
    ),
}

TABLES = {
    "LS-F3": Entry("Final-epoch gaps to full SAM and λmax per switch epoch (SGD→SAM).", default_direction="sgd->sam", **_SWITCHING),
    "LS-F5": Entry("Final-epoch gaps to full SAM and λmax per switch epoch (SAM→SGD).", default_direction="sam->sgd", **_SWITCHING),
    "LS-T2": Entry(
        "Measured ‖H‖²_F and gradient-noise alignment γ at the final SGD and SAM solutions against late-sam's "
        "Table 2 linear-stability bounds ‖H‖²_F ≤ B/(η²γ) (SGD) and ‖H‖²_F(1 + ρ²γ‖H‖²_F/B) ≤ B/(η²γ) (SAM).",
        **_SPECTRUM,
    ),
}


def entry(exp_id: str) -> Entry:
    """The catalogue entry of a figure or table id."""
    return FIGURES.get(exp_id) or TABLES[exp_id]


def entries(exp_id: str) -> list[Entry]:
    """Every entry of an id: LS-F3 is both a figure and a table."""
    return [e for e in (FIGURES.get(exp_id), TABLES.get(exp_id)) if e is not None]
