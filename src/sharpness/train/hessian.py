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
from ..runspec import RunSpec, check_run_identity, run_identity
from ..spectrum import HessianOperator, dominant_eigenpair, estimate_frobenius_sq, estimate_trace, hessian_eigenvalues, slq_density, top_eigenpairs
from ..spectrum.noise import gradient_noise_alignment
from ..spectrum.operator import hvp_arguments
from ..spectrum.trace import exact_trace_and_frobenius_sq
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


def planned_run(run_dir: Path, planned: dict) -> RunSpec:
    """The run the config plans in ``run_dir`` (``planned``: its spec), once its ``run.nc``
    is checked to record that run: a file trained at other settings, or another run's file
    copied into place, is refused naming both (its ``final.pt`` is checked when loaded)."""
    spec = RunSpec.from_dict(planned)
    run_file = run_dir / "run.nc"
    check_run_identity(run_file, read(run_file).attrs.get("run_spec"), spec)
    return spec


def _load_data(data_path: str, spec: RunSpec):
    """The prepared data as the run saw it (its preprocessing)."""
    return load_prepared(data_path, preprocess=spec.dataset.get("preprocess", "standardize"))


def _top_eigenvalues(run_dir: Path, spec: RunSpec, data, settings: dict, log) -> tuple[np.ndarray, ...]:
    """(eigenvalues, residuals, converged, n_hvp) of one run's final model; NaN if it diverged."""
    k = settings["k"]
    state = load_run_state(run_dir / "final.pt", spec, spec.epochs)
    if state["history"]["diverged"]:
        log(f"{run_dir.name}: diverged, no Hessian to measure (NaN recorded)")
        return np.full(k, np.nan), np.full(k, np.nan), np.zeros(k, dtype=np.int8), 0
    device, dtype = resolve_device(spec.device), getattr(torch, spec.dtype)
    model = build_seeded_model(spec, data, device, dtype)
    model.load_state_dict(state["model"])
    batches = hessian_subset(data, settings["n_samples"], settings["batch_size"], device, dtype)
    op = HessianOperator(model, make_loss(spec.loss, data.num_classes), batches, bn_mode=settings["bn_mode"],
                         **hvp_arguments(settings))
    result = hessian_eigenvalues(op, k=k, seed=settings["seed"], tol=settings["tol"], max_hvp=settings["max_hvp"])
    values, residuals = result.eigenvalues.double().cpu().numpy(), result.residuals.double().cpu().numpy()
    log(f"{run_dir}: top-{k} eigenvalues {values}, residuals {residuals} ({result.n_hvp} HVPs)")
    return values, residuals, result.converged.cpu().numpy().astype(np.int8), result.n_hvp


def final_spectra(seed_dir: str | Path, planned: dict[str, dict], data_path: str, settings: dict, out_path: str, log=print) -> xr.Dataset:
    """Top-k Hessian eigenvalues (Lanczos, largest algebraic) of the final model of every
    planned run of one seed (``planned``: folder → run spec), on dims ``run`` × ``eig_index``.
    Records each run's identity, which the study's collect checks."""
    runs = list(planned)
    specs = {run: planned_run(Path(seed_dir) / run, planned[run]) for run in runs}
    data = _load_data(data_path, specs[runs[0]])  # one dataset for the study
    measured = [_top_eigenvalues(Path(seed_dir) / run, specs[run], data, settings, log) for run in runs]
    values, residuals, converged, n_hvp = (np.stack(x) for x in zip(*measured))
    ds = final_spectra_dataset(runs, values, residuals, converged, n_hvp, settings)
    ds.attrs["run_identities"] = json.dumps({run: run_identity(spec) for run, spec in specs.items()}, sort_keys=True)
    write_atomic(ds, out_path)
    return ds


# tr(H) and ‖H‖²_F are computed exactly (one HVP per parameter) up to this many parameters: the
# digits MLP of digits-linstab (1,074) costs about a second per checkpoint, while Hutch++ from
# 20-30 HVPs is off by ~6 % per draw. The digits CNNs (1,946) would add ~2 minutes on 2 cores
# to the default run for their 12 checkpoints; they keep Hutch++ and its 95 % interval.
EXACT_MAX_PARAMS = 1500


def _trace_and_frobenius_sq(op: HessianOperator, s: dict):
    if op.dim <= EXACT_MAX_PARAMS:
        return exact_trace_and_frobenius_sq(op)
    trace = estimate_trace(op, n_hvp=s["trace"]["n_hvp"], method=s["trace"]["estimator"], seed=s["seed"])
    frob = estimate_frobenius_sq(op, n_hvp=s["trace"]["n_hvp"], method=s["trace"]["estimator"], seed=s["seed"] + 1)
    return trace, frob


def _measure_checkpoint(model, loss_fn, batches, settings: dict, warm_start=None) -> dict:
    """Every spectrum quantity of one checkpoint, through one Hessian operator. ``warm_start``:
    the previous checkpoint's top eigenvectors, a good start for Lanczos along a trajectory."""
    s, d = settings, settings["density"]
    op = HessianOperator(model, loss_fn, batches, bn_mode=s["bn_mode"], **hvp_arguments(s))
    top = top_eigenpairs(op, s["k"], seed=s["seed"], tol=s["tol"], max_hvp=s["max_hvp"], return_eigenvectors=True, init_vectors=warm_start)
    trace, frob = _trace_and_frobenius_sq(op, s)
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
        trace=trace.estimate, trace_stderr=trace.stderr, trace_ci95=trace.ci95,
        frobenius_sq=frob.estimate, frobenius_sq_stderr=frob.stderr, frobenius_sq_ci95=frob.ci95, trace_frobenius_exact=int(frob.exact),
        density=density.density.numpy(), power_alignment=pad(power.alignment_history), power_eigenvalue=pad(power.eigenvalue_history),
        loss=noise["loss"], trace_sigma_h=noise["trace_sigma_h"], gamma=noise["gamma"], n_hvp=op.n_hvp,
        eigenvectors=top.eigenvectors,
    )


def checkpoint_spectra(run_dir: str | Path, planned: dict, epochs: list[int], data_path: str, settings: dict, out_path: str, log=print) -> xr.Dataset:
    """The spectrum of a pure run's checkpoints at ``epochs`` (T: the final model), on dims
    ``checkpoint_epoch`` × (``eig_index`` | ``eigenvalue`` grid | ``hvp_step``); ``planned``:
    the run's spec as the config plans it (its identity is recorded and checked by collect)."""
    run_dir = Path(run_dir)
    spec = planned_run(run_dir, planned)
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
        log(f"epoch {epoch}: top eigenvalues {r['eigenvalues']}, trace {r['trace']:.4g} ± {r['trace_ci95']:.2g}, "
            f"||H||_F^2 {r['frobenius_sq']:.4g} ± {r['frobenius_sq_ci95']:.2g} (95 %; {'exact' if r['trace_frobenius_exact'] else 'Hutch++'}), gamma {r['gamma']:.4g} ({r['n_hvp']} HVPs)")
    ds = checkpoint_spectra_dataset(rows, epochs, settings)
    ds.attrs["run_identity"] = run_identity(spec)
    write_atomic(ds, out_path)
    return ds
