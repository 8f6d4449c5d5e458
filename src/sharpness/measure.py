"""Hessian measurements of saved models on a fixed, recorded subset of their training data."""

from __future__ import annotations

import json
from pathlib import Path

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


def _top_eigenvalues(run_dir: Path, data, settings: dict, log) -> tuple[np.ndarray, ...]:
    """(eigenvalues, residuals, converged, n_hvp) of one run's final model; NaN if it diverged."""
    from .spectrum import hessian_eigenvalues

    k = settings["k"]
    spec = RunSpec.from_dict(json.loads(read(run_dir / "run.nc").attrs["run_spec"]))
    state = load_checkpoint(run_dir / "final.pt")
    if state["history"]["diverged"]:
        log(f"{run_dir.name}: diverged, no Hessian to measure (NaN recorded)")
        return np.full(k, np.nan), np.full(k, np.nan), np.zeros(k, dtype=np.int8), 0
    device, dtype = resolve_device(spec.device), getattr(torch, spec.dtype)
    model = build_seeded_model(spec, data, device, dtype)
    model.load_state_dict(state["model"])
    batches = hessian_subset(data, settings["n_samples"], settings["batch_size"], device, dtype)
    result = hessian_eigenvalues(
        model, make_loss(spec.loss, data.num_classes), batches, k=k, seed=settings["seed"],
        tol=settings["tol"], max_hvp=settings["max_hvp"], bn_mode=settings["bn_mode"],
    )
    values, residuals = result.eigenvalues.double().cpu().numpy(), result.residuals.double().cpu().numpy()
    log(f"{run_dir}: top-{k} eigenvalues {values}, residuals {residuals} ({result.n_hvp} HVPs)")
    return values, residuals, result.converged.cpu().numpy().astype(np.int8), result.n_hvp


def final_spectra(seed_dir: str | Path, runs: list[str], data_path: str, settings: dict, out_path: str, log=print) -> xr.Dataset:
    """Top-k Hessian eigenvalues (Lanczos, largest algebraic) of the final model of every run
    of one seed, on dims ``run`` × ``eig_index``."""
    data = load_prepared(data_path)
    measured = [_top_eigenvalues(Path(seed_dir) / run, data, settings, log) for run in runs]
    values, residuals, converged, n_hvp = (np.stack(x) for x in zip(*measured))
    dims = ("run", "eig_index")
    ds = xr.Dataset(
        {
            "eigenvalues": (dims, values, {"long_name": "largest algebraic Hessian eigenvalues, descending", "units": "1"}),
            "residuals": (dims, residuals, {"long_name": "Ritz residual norm ||H y - theta y||", "units": "1"}),
            "converged": (dims, converged, {"long_name": "1 if the residual met the tolerance"}),
            "n_hvp": ("run", n_hvp, {"long_name": "Hessian-vector products used"}),
        },
        coords={
            "run": ("run", np.array(runs, dtype=object), {"long_name": "run folder inside the seed's folder"}),
            "eig_index": ("eig_index", np.arange(settings["k"]), {"long_name": "rank of the eigenvalue (0 = largest)"}),
        },
    )
    ds.attrs.update(provenance_attrs(settings, solver="thick-restart Lanczos, largest algebraic", batchnorm_mode=settings["bn_mode"],
                                     data_subset=f"first {settings['n_samples']} training examples, no augmentation"))
    write_atomic(ds, out_path)
    return ds
