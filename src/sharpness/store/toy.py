"""The store of a toy study: a problem's simulated arrays with CF attributes, one file per study."""

from __future__ import annotations

import xarray as xr

# problem → variable → (units, long name); every variable a simulator returns must be described.
VARIABLES = {
    "quadratic_regression": {
        "ntk_max": ("1", "largest eigenvalue of the NTK J J^T (the Gauss-Newton matrix of L = |z|^2/2)"),
        "loss": ("1", "L = |z|^2 / 2, summed over the D outputs"),
        "gd_normalized": ("1", "eta lambda_max (GD is at its edge at 2)"),
        "sam_normalized": ("1", "eta (lambda_max + rho lambda_max^2) (unnormalized SAM at its edge at 2)"),
        "diverged": ("1", "1 if the trajectory diverged (|z|^2/2 > 1e8 or non-finite)"),
    },
    "sam_quadratic": {
        "w1": ("1", "coordinate along the top eigenvector"),
        "w2": ("1", "coordinate along the second eigenvector"),
        "loss": ("1", "L(w) = (lambda_1 w_1^2 + lambda_2 w_2^2) / 2"),
        "cycle_amplitude": ("1", "closed-form 2-cycle amplitude eta rho lambda_1 / (2 - eta lambda_1) (ravines Thm. 2)"),
    },
    "ravine": {
        "w1": ("1", "first coordinate"),
        "w2": ("1", "second coordinate (the flat direction grows with |w2|)"),
        "loss": ("1", "f(w) = w1^2 / (1 + w2^2 / 2) + w2^2 / 2"),
        "sharpness": ("1", "largest eigenvalue of the Hessian of f at w"),
    },
    "tanh_valley": {
        "u": ("1", "input weight u"),
        "v": ("1", "output weight v (the minima are v = 0)"),
        "loss": ("1", "L = tanh(v tanh u)^2 / 2"),
        "sharpness": ("1", "largest eigenvalue of the Hessian of L (tanh(u)^2 on the minima)"),
    },
}

_STEP = ("1", "iteration (0: the start)")
# problem → coordinate → (units, long name)
COORDINATES = {
    "quadratic_regression": {"seed": ("1", "seed of the random initialisation (q, J, z)"), "lr": ("1", "learning rate eta"),
                             "rho": ("1", "unnormalized SAM radius rho (0: GD)"), "step": _STEP},
    "sam_quadratic": {"step": _STEP},
    "ravine": {"algorithm": ("1", "method: gd, sam (normalized) or sgd (GD with Gaussian gradient noise)"),
               "start": ("1", "starting point (w1, w2)"), "seed": ("1", "seed of the gradient noise (sgd only)"), "step": _STEP},
    "tanh_valley": {"schedule": ("1", "schedule: gd, or gd->sam@ the switch step"), "step": _STEP},
}


def toy_dataset(problem: str, data: dict, coords: dict, attrs: dict) -> xr.Dataset:
    """``data`` ({name: (dims, array)}) and ``coords`` as a Dataset with CF attributes."""
    described = VARIABLES[problem]
    missing = sorted(set(data) - set(described))
    if missing:
        raise ValueError(f"variables of problem {problem!r} without a description: {missing}")
    data_vars = {name: (dims, values, {"units": described[name][0], "long_name": described[name][1]}) for name, (dims, values) in data.items()}
    coord_attrs = COORDINATES[problem]
    coords = {name: (name, values, _attrs(coord_attrs[name])) if name in coord_attrs else values for name, values in coords.items()}
    return xr.Dataset(data_vars, coords=coords, attrs=dict(attrs))


def _attrs(described: tuple[str, str]) -> dict:
    return {"units": described[0], "long_name": described[1]}
