"""The store of a landscape study: losses along the interpolation line, on the plane, and after
the switch to SAM from a converged solution."""

from __future__ import annotations

import numpy as np
import xarray as xr


def second_difference(loss: np.ndarray, lambdas: np.ndarray, h: float) -> np.ndarray:
    """(L(λ + h) + L(λ − h) − 2L(λ)) / (2h)² along the last axis, as late-sam prints it (Fig. 4c;
    a quarter of the usual central difference); NaN where λ ± h leaves the grid."""
    shift = int(round(h / (lambdas[1] - lambdas[0])))
    out = np.full(loss.shape, np.nan)
    out[..., shift:-shift] = (loss[..., 2 * shift :] + loss[..., : -2 * shift] - 2 * loss[..., shift:-shift]) / (2 * h) ** 2
    return out


def landscape_dataset(result: dict, seeds: list[int], h: float, attrs: dict) -> xr.Dataset:
    split = ("train", "test")
    line = result["interpolation"]  # (seed, lambda, split)
    curvature = second_difference(line.transpose(0, 2, 1), result["lambdas"], h).transpose(0, 2, 1)
    ds = xr.Dataset(
        {
            "interpolation_loss": (("seed", "lam", "split"), line, {"units": "1", "long_name": "loss at theta_lambda = (1 - lambda) theta_switched + lambda theta_pure"}),
            "interpolation_curvature": (("seed", "lam", "split"), curvature,
                                        {"units": "1", "long_name": "(L(lambda + h) + L(lambda - h) - 2 L(lambda)) / (2h)^2 (late-sam Fig. 4c)"}),
            "plane_loss": (("draw", "alpha", "beta"), result["plane"],
                           {"units": "1", "long_name": "train loss at theta_switched + alpha delta + beta d (first seed)"}),
            "escape_loss": (("trial", "escape_step", "split"), result["escape"],
                            {"units": "1", "long_name": "loss after switching the converged pure run to SAM (first seed)"}),
        },
        coords={
            "seed": ("seed", list(seeds), {"long_name": "seed of the source study's runs"}),
            "lam": ("lam", result["lambdas"], {"units": "1", "long_name": "interpolation coefficient lambda (0: switched, 1: pure)"}),
            "split": ("split", list(split), {"long_name": "data the loss is taken on"}),
            "alpha": ("alpha", result["alphas"], {"units": "1", "long_name": "step along delta = theta_pure - theta_switched"}),
            "beta": ("beta", result["betas"], {"units": "1", "long_name": "step along the filter-normalized random direction"}),
            "draw": ("draw", np.arange(result["plane"].shape[0]), {"long_name": "random direction"}),
            "trial": ("trial", np.arange(result["escape"].shape[0]), {"long_name": "minibatch order of the escape run"}),
            "escape_step": ("escape_step", result["escape_steps"], {"units": "1", "long_name": "updates after the switch t'"}),
        },
    )
    ds.attrs.update(attrs, h=h, n_parameters=int(result["n_parameters"]))
    return ds
