"""Statistics over seeds or trials that every figure reports: mean, sample sd, 95 % t-interval."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import stats


def mean_sd(values: xr.DataArray, dim: str = "seed") -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Mean, sample standard deviation (ddof = 1; NaN for one value) and count over ``dim``,
    leaving out NaN (diverged) entries."""
    count = values.notnull().sum(dim)
    return values.mean(dim, skipna=True), values.std(dim, skipna=True, ddof=1), count


def ci95(values: xr.DataArray, dim: str = "seed") -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Mean and half-width of the 95 % Student-t interval over ``dim`` (NaN below two values)."""
    mean, sd, count = mean_sd(values, dim)
    n = count.values.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(n > 1, stats.t.ppf(0.975, np.maximum(n - 1, 1)), np.nan)
        half = sd * t / np.sqrt(n)
    return mean, half, count
