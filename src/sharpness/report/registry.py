"""Which figures and tables exist, what they need, and their captions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    caption: str
    default_direction: str | None = None


FIGURES = {
    "LS-F1": Entry(
        "Test error vs epoch for SGD, SAM and SGD→SAM switched late (late-sam Fig. 1); mean ± std over seeds.",
        default_direction="sgd->sam",
    ),
    "LS-F3": Entry(
        "SGD→SAM: test-loss and test-error gaps to full SAM and λmax of the final model vs the SAM proportion "
        "(T−t)/T (late-sam Fig. 3); mean ± std over seeds, diverged runs left out and counted.",
        default_direction="sgd->sam",
    ),
    "LS-F5": Entry(
        "SAM→SGD: test-loss and test-error gaps to full SAM and λmax of the final model vs the SAM proportion t/T "
        "(late-sam Fig. 5); mean ± std over seeds.",
        default_direction="sam->sgd",
    ),
    "LS-F7": Entry("SGD→SAM as LS-F3 for further architectures (late-sam Fig. 7).", default_direction="sgd->sam"),
    "LS-F9": Entry("SAM→SGD as LS-F5 for further architectures (late-sam Fig. 9).", default_direction="sam->sgd"),
}

TABLES = {
    "LS-F3": Entry("Final-epoch gaps to full SAM and λmax per switch epoch (SGD→SAM).", default_direction="sgd->sam"),
    "LS-F5": Entry("Final-epoch gaps to full SAM and λmax per switch epoch (SAM→SGD).", default_direction="sam->sgd"),
}
