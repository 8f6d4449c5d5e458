"""Decision rules: how a claim's estimate becomes a verdict.

A rule is a region of the quantity's values where the claim holds. The verdict reads the whole
interval, never the point estimate alone: ``reproduced`` when the interval lies inside the
region, ``not reproduced`` when it lies wholly outside, ``inconclusive`` when it straddles a
threshold (or has no interval: one seed, every run diverged), and ``not run`` when the study
behind the claim was not run.
"""

from __future__ import annotations

from dataclasses import dataclass

from .evidence import Estimate

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_RUN = "not run"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN)


@dataclass(frozen=True)
class Rule:
    """The claim holds for values ``> low`` (``above``), ``< high`` (``below``) or in
    ``[low, high]`` (``between``)."""

    kind: str
    low: float = float("-inf")
    high: float = float("inf")

    def __post_init__(self):
        if self.kind not in ("above", "below", "between"):
            raise ValueError(f"unknown rule kind {self.kind!r}")
        if self.kind == "between" and not self.low < self.high:
            raise ValueError(f"empty rule region [{self.low}, {self.high}]")

    def __str__(self) -> str:
        if self.kind == "above":
            return f"> {self.low:g}"
        if self.kind == "below":
            return f"< {self.high:g}"
        return f"in [{self.low:g}, {self.high:g}]"

    def verdict(self, estimate: Estimate | None) -> str:
        if estimate is None:
            return NOT_RUN
        if not estimate.defined:
            return INCONCLUSIVE
        lo, hi = estimate.low, estimate.high
        if self.kind == "above":
            inside, outside = lo > self.low, hi <= self.low
        elif self.kind == "below":
            inside, outside = hi < self.high, lo >= self.high
        else:
            inside = self.low <= lo and hi <= self.high
            outside = hi < self.low or lo > self.high
        return REPRODUCED if inside else NOT_REPRODUCED if outside else INCONCLUSIVE


def above(threshold: float) -> Rule:
    return Rule("above", low=threshold)


def below(threshold: float) -> Rule:
    return Rule("below", high=threshold)


def between(low: float, high: float) -> Rule:
    return Rule("between", low=low, high=high)
