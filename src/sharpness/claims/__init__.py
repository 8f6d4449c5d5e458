"""The claims ledger: every paper claim the catalogue reproduces, computed from the stores
with a stated decision rule, into ``results/claims.nc`` and ``results/claims.md``."""

from .decision import INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, REPRODUCED, VERDICTS, Rule, above, below, between
from .evidence import Estimate, every_run, exact, fraction, mean_interval, paired_difference
from .registry import CLAIMS, Claim, claim, claims_of, load_all

# The declarations: each module registers its claims on import (after the registry, which they use).
from . import dynamics, landscape, switching, toys  # noqa: F401  isort: skip

__all__ = [
    "CLAIMS", "Claim", "Estimate", "INCONCLUSIVE", "NOT_REPRODUCED", "NOT_RUN", "REPRODUCED", "Rule", "VERDICTS",
    "above", "below", "between", "claim", "claims_of", "every_run", "exact", "fraction", "load_all",
    "mean_interval", "paired_difference",
]
