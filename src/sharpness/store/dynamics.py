"""Stores of the dynamics study: one run's tracked history, and all runs in one labelled store.

A run file has dims ``step`` (every measured step, 0 = initialisation) and ``eig_index`` (and
``ntk_index`` when NTK eigenvalues are tracked). The study store adds ``seed × schedule × lr ×
rho`` (and ``width`` when the study sweeps it); runs that are one trajectory (GD at every ρ, SAM
at ρ = 0) appear in every cell they stand for.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from ..runspec import check_run_identity
from .netcdf import read
from .provenance import provenance_attrs

# name → (units, long name) of the per-step variables
STEP_VARIABLES = {
    "train_loss": ("1", "training loss on the measurement subset (eval mode)"),
    "train_error": ("1", "training error fraction on the measurement subset"),
    "test_loss": ("1", "test loss"),
    "test_error": ("1", "test error fraction"),
    "batch_loss": ("1", "training step's own (mini)batch loss, mean over the steps since the previous record"),
    "batch_grad_norm": ("1", "training step's own (mini)batch gradient norm, mean over the steps since the previous record"),
    "learning_rate": ("1", "learning rate eta of the step (the lr coordinate is the schedule's base rate)"),
    "grad_norm": ("1", "norm of the full gradient on the measurement subset"),
    "grad_alignment": ("1", "|cos| of the gradient with the top Hessian eigenvector"),
    "sam_grad_alignment": ("1", "|cos| of the gradient at the SAM point theta + epsilon with the top eigenvector"),
    "perturbation_alignment": ("1", "eigen-sam Align(epsilon, v1) = 1 - min_s ||epsilon/||epsilon|| - s v1||"),
    "gd_edge": ("1", "GD edge of stability 2/eta"),
    "sam_edge": ("1", "the optimizer's own edge: 2/eta (GD/SGD), SAM-EOS (USAM), SAM-edge with the current ||g|| (SAM)"),
    "n_hvp": ("1", "Hessian-vector products of the measurement"),
}
EIGEN_VARIABLES = {
    "eigenvalues": ("eig_index", "1", "largest algebraic Hessian eigenvalues, descending (Lanczos)"),
    "residuals": ("eig_index", "1", "Ritz residual norm ||H y - theta y||"),
    "converged": ("eig_index", "1", "1 if the residual met the tolerance"),
    "ntk_eigenvalues": ("ntk_index", "1", "largest eigenvalues of the NTK at the mse loss's Gauss-Newton scale 2/(N C) J^T J"),
}


def run_dataset(steps: list[int], optimizer: list[str], metrics: dict, eigen: dict, planned: list[int], attrs: dict) -> xr.Dataset:
    """The history recorded at ``steps`` laid out on all ``planned`` steps; the steps after a
    divergence are NaN (so stores align)."""
    n, total = len(steps), len(planned)
    if list(steps) != planned[:n]:
        raise ValueError(f"recorded steps {steps[:5]}… are not the planned steps {planned[:5]}…")
    data_vars = {}
    for name, (units, long_name) in STEP_VARIABLES.items():
        values = np.full(total, np.nan)
        values[:n] = metrics[name]
        data_vars[name] = ("step", values, {"units": units, "long_name": long_name})
    for name, (dim, units, long_name) in EIGEN_VARIABLES.items():
        rows = np.asarray(eigen[name], float).reshape(n, -1)
        if rows.shape[1] == 0:
            continue
        values = np.full((total, rows.shape[1]), np.nan)
        values[:n] = rows
        data_vars[name] = (("step", dim), values, {"units": units, "long_name": long_name})
    padded = np.array(list(optimizer) + [""] * (total - n), dtype=object)
    coords = {"step": ("step", np.asarray(planned), {"long_name": "updates taken (0: initialisation)", "units": "1"}),
              "optimizer": ("step", padded, {"long_name": "optimizer that made the step (the first one at step 0)", "units": "1"})}
    return xr.Dataset(data_vars, coords=coords, attrs=dict(attrs))


_CELL = ("diverged", "diverged_step")


def _cell(run: xr.Dataset) -> xr.Dataset:
    ds = run.drop_vars("optimizer")  # a coordinate of the run file; the schedule says it
    ds["diverged"] = xr.DataArray(int(run.attrs["diverged"]), attrs={"long_name": "1 if the run diverged", "units": "1"})
    ds["diverged_step"] = xr.DataArray(int(run.attrs["diverged_step"]), attrs={"long_name": "step of divergence (0: none)", "units": "1"})
    ds["n_parameters"] = xr.DataArray(int(run.attrs["n_parameters"]), attrs={"long_name": "trainable parameters P", "units": "1"})
    ds.attrs = {}
    return ds


def collect_dynamics_study(study_dir: str | Path, study) -> xr.Dataset:
    """Every cell of the study (its :class:`~sharpness.config.dynamics.DynamicsStudy` plan; the
    runs read from ``study_dir``, each run file once) in one dataset."""
    study_dir = Path(study_dir)
    cells = study.store_runs()
    runs = {(seed, name): _planned_file(study_dir / f"seed{seed}" / name / "run.nc", study.run_spec(seed, name))
            for seed, _, _, name in cells}
    grid = study.grid
    dims = ["seed", "schedule", *grid]
    shape = [len(study.seeds), len(study.schedules), *(len(v) for v in grid.values())]
    # Cells in the order store_runs lists them: seed, schedule, then the grid, last key fastest.
    nested = _nest([_cell(runs[seed, name]) for seed, _, _, name in cells], shape)
    # "override" keeps each variable's CF attributes (those of the first cell); the cells carry no
    # global attributes (see _cell), which are set below.
    ds = xr.combine_nested(nested, concat_dim=dims, join="exact", compat="no_conflicts", combine_attrs="override",
                           data_vars="all", coords="different")
    coords = {"seed": ("seed", study.seeds, {"long_name": "random seed (initialisation and minibatch order)"}),
              "schedule": ("schedule", study.schedules, {"long_name": "optimizer, or first->second@switch step"})}
    names = {"lr": "learning rate eta", "rho": "SAM radius rho (0: the base optimizer)", "width": "model width"}
    coords.update({key: (key, values, {"long_name": names[key], "units": "1"}) for key, values in grid.items()})
    ds = ds.assign_coords(coords).transpose(*dims, "step", ...)
    for name in ("converged", "n_hvp"):
        ds[name] = ds[name].fillna(0).astype(np.int32, keep_attrs=True)  # NaN after a divergence: 0
    trained = sum(int(run.attrs["steps_trained"]) for run in runs.values())
    first = next(iter(runs.values()))
    ds.attrs.update(steps_trained=trained, runs=json.dumps([f"seed{seed}/{name}" for seed, name in runs]),
                    dataset_description=first.attrs.get("dataset_description", ""))
    ds.attrs.update(provenance_attrs(study.cfg, study=study.name, kind="dynamics"))
    return ds


def _planned_file(path: Path, spec) -> xr.Dataset:
    """A run file, once checked to be the planned run's (see :func:`check_run_identity`)."""
    run = read(path)
    check_run_identity(path, run.attrs.get("run_spec"), spec)
    return run


def _nest(flat: list, shape: list[int]) -> list:
    """``flat`` (row-major) as nested lists of the given shape."""
    if len(shape) == 1:
        return list(flat)
    chunk = len(flat) // shape[0]
    return [_nest(flat[i * chunk : (i + 1) * chunk], shape[1:]) for i in range(shape[0])]
