"""Argument checking shared by the closed forms: every quantity is a float array, validated once."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["as_output", "nonnegative", "positive", "real"]


def real(name: str, value: ArrayLike) -> np.ndarray:
    """``value`` as a float array; raise ValueError if any entry is NaN."""
    array = np.asarray(value, dtype=float)
    if np.isnan(array).any():
        raise ValueError(f"{name} must not be NaN, got {value!r}")
    return array


def positive(name: str, value: ArrayLike) -> np.ndarray:
    """``value`` as a float array; raise ValueError unless every entry is > 0."""
    array = real(name, value)
    if (array <= 0).any():
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return array


def nonnegative(name: str, value: ArrayLike) -> np.ndarray:
    """``value`` as a float array; raise ValueError unless every entry is >= 0."""
    array = real(name, value)
    if (array < 0).any():
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return array


def as_output(array: np.ndarray) -> float | np.ndarray:
    """A plain float for scalar results, the array otherwise (so scalars print and compare simply)."""
    return float(array) if array.ndim == 0 else array
