"""Spectrum figures and tables: ES-F3 (density), ES-F5 (power-iteration alignment), LS-T2.

As for the switching figures, ``*_data`` reduces study stores to the plotted numbers and
``draw_*`` plots only those.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xarray as xr

from .. import theory
from ..store import read
from .switching import LABELS, _mean_std


def _pick_epoch(store: xr.Dataset, options: dict, default: str) -> int:
    epochs = store.checkpoint_epoch.values
    return int(options.get("epoch") or (epochs.max() if default == "last" else epochs.min()))


def _per_study(store_paths: list[str], reduce) -> xr.Dataset:
    stores = [read(path) for path in store_paths]
    parts = [reduce(store).expand_dims(study=[store.attrs["study"]]) for store in stores]
    return xr.concat(parts, dim="study", join="outer")


def _study_panels(ds: xr.Dataset):
    """One panel per study, side by side: (figure, [(axes, study, its data)])."""
    import matplotlib.pyplot as plt

    n = ds.sizes["study"]
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 3.4), squeeze=False)
    return fig, [(ax, study, ds.sel(study=study)) for ax, study in zip(axes[0], ds.study.values)]


# -- ES-F3: spectral density at the end of training -----------------------------------------
def density_data(store_paths: list[str], options: dict) -> xr.Dataset:
    def reduce(store):
        epoch = _pick_epoch(store, options, "last")
        sub = store.sel(checkpoint_epoch=epoch)
        ds = xr.Dataset({"density_mean": sub.density.mean("seed"), "lambda_max_mean": sub.spectrum_eigenvalues.isel(spectrum_eig_index=0).mean("seed")})
        return ds.assign_attrs(checkpoint_epoch=epoch)

    ds = _per_study(store_paths, reduce)
    ds["density_mean"].attrs.update(long_name="spectral density, mean over seeds", units="1")
    ds["lambda_max_mean"].attrs.update(long_name="largest eigenvalue (Lanczos), mean over seeds", units="1")
    return ds


def draw_density(ds: xr.Dataset):
    fig, panels = _study_panels(ds)
    for ax, study, sub in panels:
        for opt in sub.optimizer.values:
            line = ax.semilogy(sub.eigenvalue, np.maximum(sub.density_mean.sel(optimizer=opt), 1e-8), label=LABELS.get(str(opt), opt))
            ax.axvline(float(sub.lambda_max_mean.sel(optimizer=opt)), color=line[0].get_color(), ls=":", lw=1)
        ax.set(xlabel="eigenvalue", ylabel="density", title=f"{study}: end of training", ylim=(1e-6, None))
        ax.legend(frameon=False, title=r"dotted: $\lambda_{\max}$")
    fig.tight_layout()
    return fig


# -- ES-F5: power-iteration alignment vs HVP steps ------------------------------------------
def power_alignment_data(store_paths: list[str], options: dict) -> xr.Dataset:
    def reduce(store):
        epoch = _pick_epoch(store, options, "first")
        mean, std, count = _mean_std(store.power_alignment.sel(checkpoint_epoch=epoch))
        return xr.Dataset({"alignment_mean": mean, "alignment_std": std, "n_seeds": count}).assign_attrs(checkpoint_epoch=epoch)

    ds = _per_study(store_paths, reduce)
    ds["alignment_mean"].attrs.update(long_name="|cos(v_t, v_1)| of the power-iteration iterate, mean over seeds", units="1")
    return ds


def draw_power_alignment(ds: xr.Dataset):
    fig, panels = _study_panels(ds)
    for ax, study, sub in panels:
        for opt in sub.optimizer.values:
            m, s = sub.alignment_mean.sel(optimizer=opt), sub.alignment_std.sel(optimizer=opt)
            ax.plot(sub.hvp_step, m, label=LABELS.get(str(opt), opt))
            ax.fill_between(sub.hvp_step, m - s, np.minimum(m + s, 1), alpha=0.25)
        ax.set(xlabel="HVP steps", ylabel=r"$|\cos(v_t, v_1)|$", ylim=(0, 1.02), title=f"{study}: checkpoint at epoch {ds.attrs.get('checkpoint_epoch', '')}")
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig


# -- LS-T2: measured sharpness against the linear-stability bounds -------------------------
def stability_table(store_paths: list[str], options: dict) -> pd.DataFrame:
    """Per study and optimizer: ‖H‖²_F and γ at the final solution (mean ± std over seeds), and
    late-sam's Table 2 bounds evaluated with each seed's γ, the run's η, B and ρ."""
    rows = []
    for path in store_paths:
        store = read(path)
        cfg = json.loads(store.attrs["config"])
        epoch = _pick_epoch(store, options, "last")
        batch = cfg["batch_size"]
        for opt in store.optimizer.values:
            sub = store.sel(optimizer=opt, checkpoint_epoch=epoch)
            lr = float(store.lr.sel(direction=store.direction.values[0]).isel(switch_epoch=-1, epoch=-1).mean())
            rho = cfg["optimizers"][str(opt)].get("rho", 0.0)
            ok = np.isfinite(sub.frobenius_sq.values) & (sub.gamma.values > 0)  # diverged seeds are NaN
            frob, gamma = sub.frobenius_sq.values[ok], sub.gamma.values[ok]
            if not ok.any():
                rows.append({"study": str(store.attrs["study"]), "optimizer": str(opt), "epoch": epoch, "n_seeds": 0})
                continue
            sgd_bound = theory.sgd_frobenius_bound(batch, lr, gamma)
            sam_bound = theory.sam_frobenius_bound(batch, lr, rho, gamma) if rho > 0 else sgd_bound
            rows.append(
                {
                    "study": str(store.attrs["study"]), "optimizer": str(opt), "epoch": epoch, "batch_size": batch, "lr": lr, "rho": rho,
                    "frobenius_sq_mean": np.nanmean(frob), "frobenius_sq_std": np.nanstd(frob),
                    "gamma_mean": np.nanmean(gamma), "gamma_std": np.nanstd(gamma),
                    "sgd_bound_mean": np.nanmean(sgd_bound), "own_bound_mean": np.nanmean(sam_bound),
                    "fraction_of_own_bound": np.nanmean(frob / sam_bound),
                    "within_own_bound": int(np.all(frob <= sam_bound)), "n_seeds": int(ok.sum()),
                }
            )
    return pd.DataFrame(rows)


FIGURES = {"ES-F3": (density_data, draw_density), "ES-F5": (power_alignment_data, draw_power_alignment)}
TABLES = {"LS-T2": stability_table}
