"""The per-run netCDF file: one training run's metrics over epochs, with provenance."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..train.loop import RunHistory
from ..train.spec import RunSpec

# CF-style descriptions of the per-epoch variables.
RUN_VARIABLES = {
    "train_loss": ("1", "training loss after the epoch (full training set, eval mode)"),
    "train_error": ("1", "training error fraction after the epoch"),
    "test_loss": ("1", "test loss after the epoch"),
    "test_error": ("1", "test error fraction after the epoch"),
    "lr": ("1", "learning rate used during the epoch"),
    "grad_norm": ("1", "mean over the epoch's minibatches of the minibatch gradient norm at the iterate"),
}


def run_dataset(history: RunHistory, spec: RunSpec, attrs: dict) -> xr.Dataset:
    """Metrics on dim ``epoch`` = 1…T; epochs after a divergence are NaN (so stores align).
    ``start_epoch`` records the epoch of the prefix checkpoint the run continued from (0: none)."""
    epochs = np.arange(1, spec.epochs + 1)
    n = history.last_epoch
    data_vars = {}
    for name, (units, long_name) in RUN_VARIABLES.items():
        values = np.full(spec.epochs, np.nan)
        values[:n] = history.metrics[name]
        data_vars[name] = ("epoch", values, {"units": units, "long_name": long_name})
    optimizer = np.array(history.optimizer + [""] * (spec.epochs - n), dtype=object)
    data_vars["optimizer"] = ("epoch", optimizer, {"long_name": "optimizer used during the epoch"})
    ds = xr.Dataset(data_vars, coords={"epoch": ("epoch", epochs, {"long_name": "epoch (metrics after it)", "units": "1"})})
    ds.attrs.update(attrs)
    ds.attrs.update(
        diverged=int(history.diverged),
        diverged_epoch=history.diverged_epoch,
        start_epoch=history.start_epoch,
        epochs_trained=history.last_epoch - history.start_epoch,
        seed=spec.seed,
        device=spec.device,
        dtype=spec.dtype,
        momentum_policy=spec.momentum_policy,
        batchnorm_policy="train-mode batch statistics; SAM's perturbed pass does not update running statistics; evaluation in eval mode",
    )
    return ds
