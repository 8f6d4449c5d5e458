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
# Recorded only by the runs that have them (a run without them keeps the variables above only).
OPTIONAL_RUN_VARIABLES = {
    "robust_test_loss": ("1", "test loss on L-infinity PGD examples after the epoch (eval mode)"),
    "robust_test_error": ("1", "test error fraction on L-infinity PGD examples after the epoch"),
    "eigen_alignment": ("1", "mean over the epoch's Eigen-SAM steps of |cos(perturbation, top-eigenvector estimate)| (NaN: no Eigen-SAM step)"),
}


def run_dataset(metrics: dict[str, list[float]], optimizer: list[str], epochs: int, attrs: dict) -> xr.Dataset:
    """Metrics on dim ``epoch`` = 1…``epochs``; ``metrics`` and ``optimizer`` hold the epochs
    trained so far, and the epochs after them (a divergence) are NaN, so stores align."""
    n = len(optimizer)
    data_vars = {}
    described = {**RUN_VARIABLES, **{k: v for k, v in OPTIONAL_RUN_VARIABLES.items() if k in metrics}}
    for name, (units, long_name) in described.items():
        values = np.full(epochs, np.nan)
        values[:n] = metrics[name]
        data_vars[name] = ("epoch", values, {"units": units, "long_name": long_name})
    padded = np.array(list(optimizer) + [""] * (epochs - n), dtype=object)
    data_vars["optimizer"] = ("epoch", padded, {"long_name": "optimizer used during the epoch", "units": "1"})
    epoch = ("epoch", np.arange(1, epochs + 1), {"long_name": "epoch (metrics after it)", "units": "1"})
    return xr.Dataset(data_vars, coords={"epoch": epoch}, attrs=dict(attrs))
