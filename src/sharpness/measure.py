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


def gradient_noise_alignment(model, loss_fn, samples, operator, frobenius_sq: float) -> dict:
    """late-sam Assumption 4.1: γ = Tr(ΣG) / (2 L ‖G‖²_F), with Σ the covariance of per-sample
    gradients over ``samples`` and G taken as the Hessian ``operator`` (equal at a global
    minimum of a squared loss); L is the operator's mean loss. Per-sample gradients are taken
    in eval mode (a single sample has no batch statistics)."""
    was_training = model.training
    model.eval()
    x, y = samples
    params = [p for p in model.parameters() if p.requires_grad]
    grads = []
    for i in range(len(x)):
        g = torch.autograd.grad(loss_fn(model(x[i : i + 1]), y[i : i + 1]), params)
        grads.append(torch.cat([t.reshape(-1) for t in g]))
    model.train(was_training)
    grads = torch.stack(grads)  # (m, dim)
    centred = grads - grads.mean(0)
    trace_sigma_h = float(sum(torch.dot(c, operator.matvec(c)) for c in centred)) / len(centred)
    loss = float(operator.loss())
    gamma = trace_sigma_h / (2 * loss * frobenius_sq) if loss > 0 and frobenius_sq > 0 else float("nan")
    return {"trace_sigma_h": trace_sigma_h, "loss": loss, "gamma": gamma}


def _measure_checkpoint(model, loss_fn, batches, settings: dict, warm_start=None) -> dict:
    """Every spectrum quantity of one checkpoint, through one Hessian operator. ``warm_start``:
    the previous checkpoint's top eigenvectors, a good start for Lanczos along a trajectory."""
    from .spectrum import HessianOperator, dominant_eigenpair, estimate_frobenius_sq, estimate_trace, slq_density, top_eigenpairs

    s, d = settings, settings["density"]
    op = HessianOperator(model, loss_fn, batches, bn_mode=s["bn_mode"])
    top = top_eigenpairs(op, s["k"], seed=s["seed"], tol=s["tol"], max_hvp=s["max_hvp"], return_eigenvectors=True, init_vectors=warm_start)
    trace = estimate_trace(op, n_hvp=s["trace"]["n_hvp"], method=s["trace"]["estimator"], seed=s["seed"])
    frob = estimate_frobenius_sq(op, n_hvp=s["trace"]["n_hvp"], method=s["trace"]["estimator"], seed=s["seed"] + 1)
    grid = np.linspace(d["min"], d["max"], d["n_grid"])
    density = slq_density(op, grid, d["bandwidth"], n_probes=d["n_probes"], lanczos_steps=d["lanczos_steps"], seed=s["seed"])
    power = dominant_eigenpair(op, n_iter=s["power_steps"], tol=0.0, seed=s["seed"], reference=top.eigenvectors[0])
    x = torch.cat([b[0] for b in batches])[: s["gamma_samples"]]
    y = torch.cat([b[1] for b in batches])[: s["gamma_samples"]]
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


# name → (dims after checkpoint_epoch, long name)
SPECTRUM_VARIABLES = {
    "eigenvalues": (("eig_index",), "largest algebraic Hessian eigenvalues, descending"),
    "residuals": (("eig_index",), "Ritz residual norm ||H y - theta y||"),
    "converged": (("eig_index",), "1 if the residual met the tolerance"),
    "trace": ((), "Hessian trace (Hutchinson/Hutch++ estimate)"),
    "trace_stderr": ((), "standard error of the trace estimate"),
    "frobenius_sq": ((), "squared Frobenius norm of the Hessian, tr(H^2)"),
    "frobenius_sq_stderr": ((), "standard error of frobenius_sq"),
    "density": (("eigenvalue",), "spectral density (SLQ, Gaussian kernel)"),
    "power_alignment": (("hvp_step",), "|cos| of the power-iteration iterate with the top eigenvector"),
    "power_eigenvalue": (("hvp_step",), "Rayleigh quotient of the power-iteration iterate"),
    "loss": ((), "mean loss on the measured subset"),
    "trace_sigma_h": ((), "Tr(Sigma H), Sigma the per-sample gradient covariance"),
    "gamma": ((), "gradient-noise alignment Tr(Sigma H) / (2 L ||H||_F^2) (late-sam Assumption 4.1)"),
    "n_hvp": ((), "Hessian-vector products used"),
}


def checkpoint_spectra(run_dir: str | Path, epochs: list[int], data_path: str, settings: dict, out_path: str, log=print) -> xr.Dataset:
    """The spectrum of a pure run's checkpoints at ``epochs`` (T: the final model), on dims
    ``checkpoint_epoch`` × (``eig_index`` | ``eigenvalue`` grid | ``hvp_step``)."""
    run_dir = Path(run_dir)
    spec = RunSpec.from_dict(json.loads(read(run_dir / "run.nc").attrs["run_spec"]))
    data = load_prepared(data_path)
    device, dtype = resolve_device(spec.device), getattr(torch, spec.dtype)
    loss_fn = make_loss(spec.loss, data.num_classes)
    batches = hessian_subset(data, settings["n_samples"], settings["batch_size"], device, dtype)
    rows, warm_start = [], None
    for epoch in epochs:
        path = run_dir / "final.pt" if epoch == spec.epochs else run_dir / "ckpt" / f"epoch{epoch}.pt"
        state = load_checkpoint(path)
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
    return _spectra_dataset(rows, epochs, settings, out_path)


def _spectra_dataset(rows: list, epochs: list[int], settings: dict, out_path: str) -> xr.Dataset:
    d = settings["density"]
    sizes = {"eig_index": settings["k"], "eigenvalue": d["n_grid"], "hvp_step": settings["power_steps"]}
    data_vars = {}
    for name, (dims, long_name) in SPECTRUM_VARIABLES.items():
        shape = [sizes[dim] for dim in dims]
        values = np.stack([np.asarray(r[name], float) if r else np.full(shape, np.nan) for r in rows])
        data_vars[name] = (("checkpoint_epoch", *dims), values, {"long_name": long_name, "units": "1"})
    ds = xr.Dataset(
        data_vars,
        coords={
            "checkpoint_epoch": ("checkpoint_epoch", epochs, {"long_name": "epoch after which the checkpoint was taken"}),
            "eig_index": ("eig_index", np.arange(settings["k"])),
            "eigenvalue": ("eigenvalue", np.linspace(d["min"], d["max"], d["n_grid"]), {"long_name": "density grid"}),
            "hvp_step": ("hvp_step", np.arange(1, settings["power_steps"] + 1), {"long_name": "power-iteration HVPs"}),
        },
    )
    ds.attrs.update(provenance_attrs(settings, batchnorm_mode=settings["bn_mode"],
                                     data_subset=f"first {settings['n_samples']} training examples, no augmentation",
                                     gamma_definition="G taken as the Hessian on the subset; per-sample gradients of the first gamma_samples examples"))
    write_atomic(ds, out_path)
    return ds
