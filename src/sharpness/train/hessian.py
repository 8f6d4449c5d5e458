"""Hessian measurements of saved models on a fixed, recorded subset of their training data.

The spectrum engine (:mod:`sharpness.spectrum`) takes a model, a loss and batches; this module
rebuilds a run's model from its spec and checkpoint, picks the fixed subset, measures, and hands
plain arrays to the netCDF layouts of :mod:`sharpness.store.spectra`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from ..data import load_prepared
from ..runspec import RunSpec
from ..spectrum import HessianOperator, dominant_eigenpair, estimate_frobenius_sq, estimate_trace, hessian_eigenvalues, slq_density, top_eigenpairs
from ..spectrum.noise import gradient_noise_alignment
from ..store import read, write_atomic
from ..store.spectra import checkpoint_spectra_dataset, final_spectra_dataset
from .checkpoint import load_run_state
from .loop import build_seeded_model, resolve_device
from .losses import make_loss


def hessian_subset(data, n_samples: int, batch_size: int, device, dtype) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``n_samples`` training examples (no augmentation) in batches: fixed and
    recorded, so Hessians of different checkpoints are of the same function."""
    n = min(n_samples, len(data.x_train))
    x = data.normalize(data.x_train[:n].to(device), dtype=dtype)
    y = data.y_train[:n].to(device)
    return [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, n, batch_size)]


def _run_spec(run_dir: Path) -> RunSpec:
    return RunSpec.from_dict(json.loads(read(run_dir / "run.nc").attrs["run_spec"]))


def _load_data(data_path: str, spec: RunSpec):
    """The prepared data as the run saw it (its preprocessing)."""
    return load_prepared(data_path, preprocess=spec.dataset.get("preprocess", "standardize"))


def _top_eigenvalues(run_dir: Path, data, settings: dict, log) -> tuple[np.ndarray, ...]:
    """(eigenvalues, residuals, converged, n_hvp) of one run's final model; NaN if it diverged."""
    k = settings["k"]
    spec = _run_spec(run_dir)
    state = load_run_state(run_dir / "final.pt", spec, spec.epochs)
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
    data = _load_data(data_path, _run_spec(Path(seed_dir) / runs[0]))  # one dataset for the study
    measured = [_top_eigenvalues(Path(seed_dir) / run, data, settings, log) for run in runs]
    values, residuals, converged, n_hvp = (np.stack(x) for x in zip(*measured))
    ds = final_spectra_dataset(runs, values, residuals, converged, n_hvp, settings)
    write_atomic(ds, out_path)
    return ds


def _measure_checkpoint(model, loss_fn, batches, settings: dict, warm_start=None) -> dict:
    """Every spectrum quantity of one checkpoint, through one Hessian operator. ``warm_start``:
    the previous checkpoint's top eigenvectors, a good start for Lanczos along a trajectory."""
    s, d = settings, settings["density"]
    op = HessianOperator(model, loss_fn, batches, bn_mode=s["bn_mode"])
    top = top_eigenpairs(op, s["k"], seed=s["seed"], tol=s["tol"], max_hvp=s["max_hvp"], return_eigenvectors=True, init_vectors=warm_start)
    trace = estimate_trace(op, n_hvp=s["trace"]["n_hvp"], method=s["trace"]["estimator"], seed=s["seed"])
    frob = estimate_frobenius_sq(op, n_hvp=s["trace"]["n_hvp"], method=s["trace"]["estimator"], seed=s["seed"] + 1)
    grid = np.linspace(d["min"], d["max"], d["n_grid"])
    density = slq_density(op, grid, d["bandwidth"], n_probes=d["n_probes"], lanczos_steps=d["lanczos_steps"], seed=s["seed"])
    power = dominant_eigenpair(op, n_iter=s["power_steps"], tol=0.0, seed=s["seed"], reference=top.eigenvectors[0])
    # γ's Σ, its loss L and ‖H‖²_F all come from the operator's one subset (late-sam Assumption 4.1).
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    noise = gradient_noise_alignment(model, loss_fn, (x, y), op, frob.estimate)

    def pad(history):  # power iteration may stop early; keep one length per study
        return np.pad(np.asarray(history, float), (0, s["power_steps"] - len(history)), constant_values=np.nan)

    return dict(
        eigenvalues=top.eigenvalues.numpy(), residuals=top.residuals.numpy(), converged=top.converged.numpy().astype(np.int8),
        trace=trace.estimate, trace_stderr=trace.stderr, frobenius_sq=frob.estimate, frobenius_sq_stderr=frob.stderr,
        density=density.density.numpy(), power_alignment=pad(power.alignment_history), power_eigenvalue=pad(power.eigenvalue_history),
        loss=noise["loss"], trace_sigma_h=noise["trace_sigma_h"], gamma=noise["gamma"], n_hvp=op.n_hvp,
        eigenvectors=top.eigenvectors,
    )


def checkpoint_spectra(run_dir: str | Path, epochs: list[int], data_path: str, settings: dict, out_path: str, log=print) -> xr.Dataset:
    """The spectrum of a pure run's checkpoints at ``epochs`` (T: the final model), on dims
    ``checkpoint_epoch`` × (``eig_index`` | ``eigenvalue`` grid | ``hvp_step``)."""
    run_dir = Path(run_dir)
    spec = _run_spec(run_dir)
    data = _load_data(data_path, spec)
    device, dtype = resolve_device(spec.device), getattr(torch, spec.dtype)
    loss_fn = make_loss(spec.loss, data.num_classes)
    batches = hessian_subset(data, settings["n_samples"], settings["batch_size"], device, dtype)
    rows, warm_start = [], None
    for epoch in epochs:
        path = run_dir / "final.pt" if epoch == spec.epochs else run_dir / "ckpt" / f"epoch{epoch}.pt"
        state = load_run_state(path, spec, epoch)
        if state["history"]["diverged"]:
            log(f"epoch {epoch}: the run diverged, NaN recorded")
            rows.append(None)
            continue
        model = build_seeded_model(spec, data, device, dtype)
        model.load_state_dict(state["model"])
        rows.append(_measure_checkpoint(model, loss_fn, batches, settings, warm_start))
        r = rows[-1]
        warm_start = r.pop("eigenvectors")
        log(f"epoch {epoch}: top eigenvalues {r['eigenvalues']}, trace {r['trace']:.4g} ± {r['trace_stderr']:.2g}, "
            f"||H||_F^2 {r['frobenius_sq']:.4g} ± {r['frobenius_sq_stderr']:.2g}, gamma {r['gamma']:.4g} ({r['n_hvp']} HVPs)")
    ds = checkpoint_spectra_dataset(rows, epochs, settings)
    write_atomic(ds, out_path)
    return ds
