"""Every claim the catalogue reproduces, declared once beside the code that measures it.

A claim belongs to one figure or table id and is evaluated on each study that id draws (the
studies of ``figures.plots.<id>``): its measure reads one study store and returns an
:class:`~.evidence.Estimate` (``None`` where the store does not hold what the claim needs, which
the ledger reports as ``not run``). Claims that need no study (closed forms) get ``None`` for
the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import xarray as xr

from .decision import Rule
from .evidence import Estimate

PAPERS = {
    "late-sam": "late-sam (Zhou et al., the late phase of SAM training)",
    "far-from-home": "far-from-home (Agarwala & Dauphin, SAM's edge of stability in the quadratic regression model)",
    "sam-eos": "sam-eos (Long & Bartlett, sharpness-aware minimization and the edge of stability)",
    "ravines": "ravines (Bartlett, Long & Bousquet, the dynamics of SAM: bouncing across ravines)",
    "eigen-sam": "eigen-sam (Luo et al., explicit eigenvalue regularization improves SAM)",
}

Measure = Callable[[xr.Dataset | None, dict], Estimate | None]


@dataclass(frozen=True)
class Claim:
    claim_id: str  # "<exp id>/<short name>"
    exp_id: str
    paper: str
    statement: str  # the paper's claim in words
    quantity: str  # what the estimate is, with its sign convention
    units: str
    rule: Rule
    measure: Measure
    paper_value: str = ""  # the paper's own number where it prints one

    def evaluate(self, store: xr.Dataset | None, options: dict) -> Estimate | None:
        return self.measure(store, options)


CLAIMS: dict[str, Claim] = {}


def claim(exp_id: str, name: str, *, paper: str, statement: str, quantity: str, units: str, rule: Rule,
          paper_value: str = "") -> Callable[[Measure], Measure]:
    """Declare the decorated measure as claim ``<exp_id>/<name>``."""
    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; one of {sorted(PAPERS)}")

    def register(measure: Measure) -> Measure:
        claim_id = f"{exp_id}/{name}"
        if claim_id in CLAIMS:
            raise ValueError(f"claim {claim_id} declared twice")
        CLAIMS[claim_id] = Claim(claim_id, exp_id, paper, statement, quantity, units, rule, measure, paper_value)
        return measure

    return register


def claims_of(exp_id: str) -> list[Claim]:
    """The claims of one figure or table id, in declaration order."""
    load_all()
    return [c for c in CLAIMS.values() if c.exp_id == exp_id]


def load_all() -> dict[str, Claim]:
    """Every declared claim, in declaration order. The package imports every module that declares
    claims (each registers on import), so importing any part of it declares them all."""
    return CLAIMS
