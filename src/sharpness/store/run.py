"""The per-run netCDF file: one training run's metrics over epochs, with provenance."""

from __future__ import annotations

import numpy as np
import xarray as xr

# CF-style descriptions of the per-epoch variables.
RUN_VARIABLES = {
    "train_loss": ("1", "training loss after the epoch (full training set, eval mode)"),
    "train_error": ("1", "training error fraction after the epoch"),
    "test_loss": ("1", "test loss after the epoch"),
    "test_error": ("1", "test error fraction after the epoch"),
    "lr": ("1", "learning rate used during the epoch"),
    "grad_norm": ("1", "mean over the epoch's minibatches of the minibatch gradient norm at the iterate"),
}


def run_dataset(metrics: dict[str, list[float]], optimizer: list[str], epochs: int, attrs: dict) -> xr.Dataset:
    """Metrics on dim ``epoch`` = 1…``epochs``; ``metrics`` and ``optimizer`` hold the epochs
    trained so far, and the epochs after them (a divergence) are NaN, so stores align."""
    n = len(optimizer)
    data_vars = {}
    for name, (units, long_name) in RUN_VARIABLES.items():
        values = np.full(epochs, np.nan)
        values[:n] = metrics[name]
        data_vars[name] = ("epoch", values, {"units": units, "long_name": long_name})
    padded = np.array(list(optimizer) + [""] * (epochs - n), dtype=object)
    data_vars["optimizer"] = ("epoch", padded, {"long_name": "optimizer used during the epoch"})
    epoch = ("epoch", np.arange(1, epochs + 1), {"long_name": "epoch (metrics after it)", "units": "1"})
    return xr.Dataset(data_vars, coords={"epoch": epoch}, attrs=dict(attrs))
