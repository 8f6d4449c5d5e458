"""The study store: all runs of a switching study in one labelled dataset.

Dims: ``seed``, ``direction`` ('sgd->sam', …), ``switch_epoch`` (0…T: T = the first optimizer
throughout, 0 = the second throughout), ``epoch`` (1…T) and ``eig_index`` (0…k−1).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from ..config import Study
from ..runspec import RunSpec, check_derived_identity, check_run_identity
from .netcdf import read
from .provenance import provenance_attrs
from .run import OPTIONAL_RUN_VARIABLES

PER_EPOCH = ("train_loss", "test_loss", "train_error", "test_error", "lr", "grad_norm")


def training_converged(train_loss, phase_start: int, window: int, rtol: float, atol: float = 0.0) -> bool:
    """Whether a run's training loss had settled at T: its last optimizer ran at least
    ``window`` epochs, and the loss changed by at most ``rtol`` (relative) plus ``atol`` over
    the last ``window`` of them (``atol`` keeps a loss near zero, whose relative changes are
    noise, from counting as unsettled). A branch switched a few epochs before T is in its
    transient."""
    loss = np.asarray(train_loss, dtype=float)
    T = len(loss)
    if T - phase_start < window or T <= window or not np.all(np.isfinite(loss[-window - 1 :])):
        return False
    before, last = loss[-window - 1], loss[-1]
    return bool(abs(last - before) <= rtol * abs(before) + atol)


def _one_run(run: xr.Dataset, spectrum: xr.Dataset, phase_start: int, convergence: dict) -> xr.Dataset:
    # Variables only some runs record (robust error, Eigen-SAM alignment) are NaN where absent.
    ds = run[list(PER_EPOCH)]
    for name, (units, long_name) in OPTIONAL_RUN_VARIABLES.items():
        ds[name] = run[name] if name in run else xr.full_like(run["train_loss"], np.nan).assign_attrs(units=units, long_name=long_name)
    ds["lambda_max"] = spectrum["eigenvalues"].isel(eig_index=0, drop=True)
    ds["lambda_max_residual"] = spectrum["residuals"].isel(eig_index=0, drop=True)
    for name in ("eigenvalues", "residuals", "converged"):
        ds[name] = spectrum[name]
    ds["diverged"] = xr.DataArray(int(run.attrs["diverged"]), attrs={"long_name": "1 if the run diverged", "units": "1"})
    ds["diverged_epoch"] = xr.DataArray(int(run.attrs["diverged_epoch"]), attrs={"long_name": "epoch of divergence (0: none)", "units": "1"})
    converged = training_converged(run["train_loss"].values, phase_start, convergence["window"], convergence["rtol"], convergence["atol"])
    ds["train_converged"] = xr.DataArray(int(converged) if not int(run.attrs["diverged"]) else 0)
    ds.attrs = {}
    return ds


def collect_switching_study(study_dir: str | Path, study_cfg: dict) -> xr.Dataset:
    """Combine every run of the study (read from ``study_dir``) into one dataset."""
    study_dir = Path(study_dir)
    study = Study(study_dir.name, study_cfg)
    planned = {(seed, name): RunSpec.from_dict(spec) for seed in study.seeds for name, spec in study.seed_specs(seed).items()}
    # Each run is read once: the pure runs appear in every direction that names them.
    runs = {(seed, name): _planned_file(study_dir / f"seed{seed}" / name / "run.nc", planned[seed, name])
            for seed in study.seeds for name in study.run_names}
    convergence = study.cfg["switching"]["convergence"]
    nested = []
    for seed in study.seeds:
        spectra = read(path := study_dir / f"seed{seed}" / "final_spectra.nc")
        measured = json.loads(spectra.attrs.get("run_identities", "{}"))
        for name in study.run_names:
            check_derived_identity(path, measured.get(name), planned[seed, name], f"final model of {name}")
        nested.append(
            [
                [
                    _one_run(runs[seed, (name := study.run_name(d, t))], spectra.sel(run=name, drop=True), _phase_start(t, study.epochs), convergence)
                    for t in study.switch_epochs
                ]
                for d in study.directions
            ]
        )
    ds = xr.combine_nested(
        nested,
        concat_dim=["seed", "direction", "switch_epoch"],
        join="exact",
        compat="no_conflicts",
        combine_attrs="drop",
        data_vars="all",
        coords="different",
    )
    ds = ds.assign_coords(
        seed=("seed", study.seeds, {"long_name": "random seed (initialisation and minibatch order)"}),
        direction=("direction", study.directions, {"long_name": "first optimizer -> second optimizer"}),
        switch_epoch=("switch_epoch", study.switch_epochs, {"long_name": "epoch t after which the second optimizer runs", "units": "1"}),
    )
    ds = ds.drop_vars([name for name in OPTIONAL_RUN_VARIABLES if bool(ds[name].isnull().all())])
    # combine_attrs="drop" keeps the global attributes out; the variables get theirs back here.
    _restore_variable_attrs(ds, [next(iter(runs.values())), spectra])
    ds = ds.transpose("seed", "direction", "switch_epoch", "epoch", "eig_index")
    ds["lambda_max"].attrs.update(long_name="largest Hessian eigenvalue of the final model", units="1")
    ds["lambda_max_residual"].attrs.update(long_name="Ritz residual norm of lambda_max", units="1")
    ds["train_converged"].attrs.update(
        long_name="1 if the training loss had settled at T",
        units="1",
        rule=f"the last optimizer ran >= {convergence['window']} epochs and the training loss changed by <= "
        f"{convergence['rtol']:g} x its value + {convergence['atol']:g} over the last {convergence['window']} epochs; diverged runs are 0",
    )
    if study.spectrum:
        ds = ds.merge(_checkpoint_spectra(study_dir, study), join="exact", compat="no_conflicts")
    trained = sum(int(run.attrs["epochs_trained"]) for run in runs.values())
    ds.attrs.update(
        # What the pipeline trained (branches only after their switch) against one full run per schedule.
        epochs_trained=trained,
        epochs_naive=study.epochs_naive(),
        runs=json.dumps([f"seed{seed}/{name}" for seed, name in runs]),
    )
    ds.attrs.update(provenance_attrs(study_cfg, study=study.name))
    return ds


def _planned_file(path: Path, spec: RunSpec) -> xr.Dataset:
    """A run file, once checked to be the planned run's (see :func:`check_run_identity`)."""
    run = read(path)
    check_run_identity(path, run.attrs.get("run_spec"), spec)
    return run


def _restore_variable_attrs(ds: xr.Dataset, sources: list[xr.Dataset]) -> None:
    """Give every variable without CF attributes those of the first source file that has it."""
    for name, var in ds.variables.items():
        if {"units", "long_name"} <= set(var.attrs):
            continue
        for source in sources:
            if name in source.variables and source[name].attrs:
                var.attrs.update({k: v for k, v in source[name].attrs.items() if k in ("units", "long_name")})
                break
    for name, var in ds.variables.items():
        var.attrs.setdefault("long_name", _LONG_NAMES.get(name, name.replace("_", " ")))
        var.attrs.setdefault("units", "1")  # what is left is a count, flag, index or label


_LONG_NAMES = {
    "diverged": "1 if the run diverged",
    "diverged_epoch": "epoch of divergence (0: none)",
    "eig_index": "rank of the eigenvalue (0: largest)",
    "converged": "1 if Lanczos converged for the eigenvalue",
    "checkpoint_epoch": "epoch of the measured checkpoint",
    "eigenvalue": "Hessian eigenvalue (density grid)",
    "hvp_step": "Hessian-vector products of power iteration so far",
    "optimizer": "optimizer of the pure run",
}


def _phase_start(switch_epoch: int, epochs: int) -> int:
    """First epoch of a run's last optimizer minus one: the switch epoch of a branch, 0 for a pure run."""
    return switch_epoch if 0 < switch_epoch < epochs else 0


# Spectrum variables whose names would clash with the final-model variables of the store.
_SPECTRUM_RENAMES = {name: f"spectrum_{name}" for name in ("eigenvalues", "residuals", "converged", "n_hvp")}


def _checkpoint_spectra(study_dir: Path, study) -> xr.Dataset:
    """Spectra of the measured pure runs on dims seed × optimizer × checkpoint_epoch × …"""
    runs = study.spectrum["runs"]
    nested = [[_measured(study_dir / f"seed{seed}" / opt / "spectrum.nc", study.seed_specs(seed)[opt]) for opt in runs]
              for seed in study.seeds]
    ds = xr.combine_nested(nested, concat_dim=["seed", "optimizer"], join="exact", compat="no_conflicts", combine_attrs="drop")
    ds = ds.assign_coords(seed=study.seeds, optimizer=("optimizer", runs, {"long_name": "optimizer of the pure run"}))
    _restore_variable_attrs(ds, [nested[0][0]])
    # Its own rank dim: the spectrum's k need not equal the final-sharpness k.
    return ds.rename(_SPECTRUM_RENAMES).rename(eig_index="spectrum_eig_index")


def _measured(path: Path, spec: dict) -> xr.Dataset:
    """A checkpoint spectrum, once checked to be of the planned run."""
    ds = read(path)
    check_derived_identity(path, ds.attrs.get("run_identity"), RunSpec.from_dict(spec), "spectrum")
    return ds
