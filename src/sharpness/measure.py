"""Hessian measurements of saved models on a fixed, recorded subset of their training data."""

from __future__ import annotations

import json

import numpy as np
import torch
import xarray as xr

from .data import load_prepared
from .store import provenance_attrs, read, write_atomic
from .train import RunSpec, make_loss
from .train.checkpoint import load as load_checkpoint
from .train.loop import build_seeded_model, resolve_device


def hessian_subset(data, n_samples: int, batch_size: int, device, dtype) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``n_samples`` training examples (no augmentation) in batches: fixed and
    recorded, so Hessians of different checkpoints are of the same function."""
    n = min(n_samples, len(data.x_train))
    x = data.normalize(data.x_train[:n].to(device), dtype=dtype)
    y = data.y_train[:n].to(device)
    return [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, n, batch_size)]


def final_spectrum(run_path: str, checkpoint_path: str, data_path: str, settings: dict, out_path: str, log=print) -> xr.Dataset:
    """Top-k Hessian eigenvalues (Lanczos, largest algebraic) of a run's final model."""
    from .spectrum import hessian_eigenvalues

    run = read(run_path)
    spec = RunSpec.from_dict(json.loads(run.attrs["run_spec"]))
    k = settings["k"]
    state = load_checkpoint(checkpoint_path)
    values, residuals, converged = np.full(k, np.nan), np.full(k, np.nan), np.zeros(k, dtype=np.int8)
    extra = {}
    if state["history"]["diverged"]:
        log("the run diverged: no Hessian to measure (NaN recorded)")
    else:
        device, dtype = resolve_device(spec.device), getattr(torch, spec.dtype)
        data = load_prepared(data_path)
        model = build_seeded_model(spec, data, device, dtype)
        model.load_state_dict(state["model"])
        batches = hessian_subset(data, settings["n_samples"], settings["batch_size"], device, dtype)
        result = hessian_eigenvalues(
            model, make_loss(spec.loss, data.num_classes), batches, k=k, seed=settings["seed"],
            tol=settings["tol"], max_hvp=settings["max_hvp"], bn_mode=settings["bn_mode"],
        )
        values, residuals = result.eigenvalues.cpu().double().numpy(), result.residuals.cpu().double().numpy()
        converged = result.converged.cpu().numpy().astype(np.int8)
        extra = dict(n_hvp=int(result.n_hvp), solver=result.settings)
        log(f"top-{k} eigenvalues {values} residuals {residuals} ({result.n_hvp} HVPs)")
    ds = xr.Dataset(
        {
            "eigenvalues": ("eig_index", values, {"long_name": "largest algebraic Hessian eigenvalues, descending", "units": "1"}),
            "residuals": ("eig_index", residuals, {"long_name": "Ritz residual norm ||H y - theta y||", "units": "1"}),
            "converged": ("eig_index", converged, {"long_name": "1 if the residual met the tolerance"}),
        },
        coords={"eig_index": ("eig_index", np.arange(k), {"long_name": "rank of the eigenvalue (0 = largest)"})},
    )
    ds.attrs.update(provenance_attrs(settings, data_subset=f"first {settings['n_samples']} training examples, no augmentation",
                                     batchnorm_mode=settings["bn_mode"], diverged=int(state["history"]["diverged"]), **extra))
    write_atomic(ds, out_path)
    return ds
