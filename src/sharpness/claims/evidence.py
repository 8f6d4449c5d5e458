"""What a claim's numbers are: an estimate with its interval and n, reduced from runs.

Training is chaotic (the same run with another thread count ends elsewhere), so a number from a
few seeds is a result only with its interval. Every reducer here returns an :class:`Estimate`
whose interval says how it was formed; the decision rules (:mod:`.decision`) read only that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

T_MEAN = "95 % t-interval of the mean"
T_PAIRED = "95 % t-interval of the mean paired difference"
RANGE = "range over runs (every run)"
EXACT = "exact (deterministic computation)"
CLOPPER_PEARSON = "95 % Clopper-Pearson interval of the fraction"


@dataclass(frozen=True)
class Estimate:
    """A quantity's estimate, its interval [low, high] formed by ``method``, and its n."""

    value: float
    low: float
    high: float
    n: int
    method: str
    note: str = ""

    @property
    def defined(self) -> bool:
        return self.n > 0 and bool(np.isfinite([self.value, self.low, self.high]).all())


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=float).ravel()
    return values[np.isfinite(values)]


def _left_out(total: int, kept: int, what: str) -> str:
    return f"{total - kept} of {total} {what} left out (diverged or not finite)" if kept < total else ""


def mean_interval(values, what: str = "seeds") -> Estimate:
    """Mean and 95 % Student-t interval over the finite values (NaN interval below two)."""
    raw = np.asarray(values, dtype=float).ravel()
    x = _finite(raw)
    n = len(x)
    if n == 0:
        return Estimate(np.nan, np.nan, np.nan, 0, T_MEAN, f"no finite value among {len(raw)} {what}")
    mean = float(x.mean())
    if n < 2:
        return Estimate(mean, np.nan, np.nan, n, T_MEAN, "one value: no interval")
    half = float(stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return Estimate(mean, mean - half, mean + half, n, T_MEAN, _left_out(len(raw), n, what))


def paired_difference(a, b, what: str = "seeds") -> Estimate:
    """Mean of a − b over pairs (seeds) where both are finite, with its 95 % t-interval."""
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values of different lengths: {a.shape} and {b.shape}")
    est = mean_interval(a - b, what)
    return Estimate(est.value, est.low, est.high, est.n, T_PAIRED, est.note)


def every_run(values, what: str = "runs") -> Estimate:
    """The median of per-run values with their range: a rule on it holds for every run."""
    raw = np.asarray(values, dtype=float).ravel()
    x = _finite(raw)
    if len(x) == 0:
        return Estimate(np.nan, np.nan, np.nan, 0, RANGE, f"no finite value among {len(raw)} {what}")
    return Estimate(float(np.median(x)), float(x.min()), float(x.max()), len(x), RANGE, _left_out(len(raw), len(x), what))


def exact(value: float, n: int = 1, note: str = "") -> Estimate:
    """A deterministic number (a closed form, a seeded simulation): its interval is itself."""
    value = float(value)
    return Estimate(value, value, value, n, EXACT, note)


def fraction(successes: int, n: int, note: str = "") -> Estimate:
    """A fraction of n runs with its exact 95 % Clopper-Pearson interval."""
    if n <= 0:
        return Estimate(np.nan, np.nan, np.nan, 0, CLOPPER_PEARSON, note or "no runs")
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(0.95, method="exact")
    return Estimate(successes / n, float(ci.low), float(ci.high), int(n), CLOPPER_PEARSON, note)
