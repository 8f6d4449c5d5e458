"""netCDF layouts of Hessian measurements of saved models: final spectra and checkpoint spectra."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .provenance import provenance_attrs

_SUBSET = "first {n} training examples, no augmentation"


def final_spectra_dataset(runs: list[str], values, residuals, converged, n_hvp, settings: dict) -> xr.Dataset:
    """Top-k eigenvalues of the final model of every run of one seed: dims ``run`` × ``eig_index``
    (arrays of shape (runs, k); ``n_hvp`` of shape (runs,))."""
    dims = ("run", "eig_index")
    ds = xr.Dataset(
        {
            "eigenvalues": (dims, values, {"long_name": "largest algebraic Hessian eigenvalues, descending", "units": "1"}),
            "residuals": (dims, residuals, {"long_name": "Ritz residual norm ||H y - theta y||", "units": "1"}),
            "converged": (dims, converged, {"long_name": "1 if the residual met the tolerance", "units": "1"}),
            "n_hvp": ("run", n_hvp, {"long_name": "Hessian-vector products used", "units": "1"}),
        },
        coords={
            "run": ("run", np.array(runs, dtype=object), {"long_name": "run folder inside the seed's folder"}),
            "eig_index": ("eig_index", np.arange(settings["k"]), {"long_name": "rank of the eigenvalue (0 = largest)"}),
        },
    )
    ds.attrs.update(provenance_attrs(settings, solver="thick-restart Lanczos, largest algebraic", batchnorm_mode=settings["bn_mode"],
                                     data_subset=_SUBSET.format(n=settings["n_samples"])))
    return ds


# name → (dims after checkpoint_epoch, long name)
SPECTRUM_VARIABLES = {
    "eigenvalues": (("eig_index",), "largest algebraic Hessian eigenvalues, descending"),
    "residuals": (("eig_index",), "Ritz residual norm ||H y - theta y||"),
    "converged": (("eig_index",), "1 if the residual met the tolerance"),
    "trace": ((), "Hessian trace (exact, or a Hutchinson/Hutch++ estimate)"),
    "trace_stderr": ((), "standard error of the trace estimate (0: exact)"),
    "trace_ci95": ((), "half-width of the 95 % interval of trace (t quantile x stderr; 0: exact)"),
    "frobenius_sq": ((), "squared Frobenius norm of the Hessian, tr(H^2)"),
    "frobenius_sq_stderr": ((), "standard error of frobenius_sq (0: exact)"),
    "frobenius_sq_ci95": ((), "half-width of the 95 % interval of frobenius_sq (t quantile x stderr; 0: exact)"),
    "trace_frobenius_exact": ((), "1 if trace and frobenius_sq are exact (dense Hessian), 0 if Hutchinson/Hutch++ estimates"),
    "density": (("eigenvalue",), "spectral density (SLQ, Gaussian kernel)"),
    "power_alignment": (("hvp_step",), "|cos| of the power-iteration iterate with the top eigenvector"),
    "power_eigenvalue": (("hvp_step",), "Rayleigh quotient of the power-iteration iterate"),
    "loss": ((), "mean loss on the measured subset"),
    "trace_sigma_h": ((), "Tr(Sigma H), Sigma the per-sample gradient covariance"),
    "gamma": ((), "gradient-noise alignment Tr(Sigma H) / (2 L ||H||_F^2) (late-sam Assumption 4.1)"),
    "n_hvp": ((), "Hessian-vector products used"),
}


def checkpoint_spectra_dataset(rows: list[dict | None], epochs: list[int], settings: dict) -> xr.Dataset:
    """Spectra of a run's checkpoints at ``epochs`` on dims ``checkpoint_epoch`` ×
    (``eig_index`` | ``eigenvalue`` grid | ``hvp_step``); a row of None (a diverged checkpoint)
    is NaN throughout."""
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
            "eigenvalue": ("eigenvalue", np.linspace(d["min"], d["max"], d["n_grid"]), {"units": "1", "long_name": "density grid"}),
            "hvp_step": ("hvp_step", np.arange(1, settings["power_steps"] + 1), {"long_name": "power-iteration HVPs"}),
        },
    )
    ds.attrs.update(provenance_attrs(settings, batchnorm_mode=settings["bn_mode"],
                                     data_subset=_SUBSET.format(n=settings["n_samples"]),
                                     gamma_definition="G taken as the Hessian on the subset; per-sample gradients, loss and ||H||_F^2 all over the same subset"))
    return ds
