"""Figures of the landscape studies: late-sam Figs. 4b and 16 (escape), 4c (interpolation) and 14
(2-D landscape). ``*_data`` reduces the store to the plotted numbers, ``draw_*`` plots them; each
panel states from the numbers what they show."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..store import read
from .stats import ci95, mean_sd


def _words(store: xr.Dataset) -> str:
    return f"{store.attrs['source']}: {store.attrs['switched_run']} vs {store.attrs['pure_run']}"


# -- LS-F4b / LS-F16: escape from the converged pure run -----------------------------------
def escape_data(stores: list[str], options: dict, splits: tuple[str, ...]) -> xr.Dataset:
    store = read(stores[0])
    loss = store.escape_loss.sel(split=list(splits))
    mean, half, count = ci95(loss, "trial")
    ds = xr.Dataset({
        "loss_mean": mean.assign_attrs(units="1", long_name="loss, mean over trials"),
        "loss_ci95": half.assign_attrs(units="1", long_name="half-width of the 95% t-interval over trials"),
        "loss_trials": loss.isel(trial=slice(0, 10)).assign_attrs(units="1", long_name="the first ten trials"),
        "n_trials": count.isel(escape_step=0, drop=True).assign_attrs(units="1", long_name="trials"),
    })
    start, peak = mean.isel(escape_step=0), mean.max("escape_step")
    ds["rise"] = (peak / start).assign_attrs(units="1", long_name="largest mean loss over the loss at the switch")
    ds["peak_step"] = mean.idxmax("escape_step").assign_attrs(units="1", long_name="step t' of the largest mean loss")
    return ds.assign_attrs(source=_words(store))


def draw_escape(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ds.sizes["split"], figsize=(5 * ds.sizes["split"], 3.5), squeeze=False)
    for ax, split in zip(axes[0], ds.split.values):
        sub = ds.sel(split=split)
        for trial in sub.trial.values:
            ax.plot(sub.escape_step, sub.loss_trials.sel(trial=trial), color="0.7", lw=0.6)
        m, h = sub.loss_mean, sub.loss_ci95
        ax.plot(sub.escape_step, m, color="tab:red", lw=1.6, label=f"mean of n={int(sub.n_trials)} trials ± 95% CI")
        ax.fill_between(sub.escape_step, m - h, m + h, color="tab:red", alpha=0.2, lw=0)
        ax.set(xlabel="steps t′ after switching to SAM", ylabel=f"{split} loss", yscale="log")
        ax.set_title(f"mean rises ×{float(sub.rise):.3g} by t′={int(sub.peak_step)} (from the converged SGD solution)",
                     fontsize="small", loc="left")
        ax.legend(frameon=False, fontsize="x-small")
    fig.suptitle(ds.attrs["source"], fontsize="small")
    fig.tight_layout()
    return fig


# -- LS-F4c: 1-D interpolation between the switched and the pure solution ------------------
def interpolation_data(stores: list[str], options: dict) -> xr.Dataset:
    store = read(stores[0])
    ds = xr.Dataset()
    for name, values in (("loss", store.interpolation_loss.sel(split="train")), ("curvature", store.interpolation_curvature.sel(split="train"))):
        mean, sd, count = mean_sd(values)
        ds[f"{name}_mean"] = mean.assign_attrs(units="1", long_name=f"train {name} along theta_lambda, mean over seeds")
        ds[f"{name}_sd"] = sd.assign_attrs(units="1", long_name=f"train {name} along theta_lambda, sample sd over seeds (ddof=1)")
    ds["n_seeds"] = xr.DataArray(store.sizes["seed"], attrs={"units": "1", "long_name": "seeds"})
    inside = store.interpolation_loss.sel(split="train", lam=slice(0, 1))
    ends = np.maximum(inside.isel(lam=0), inside.isel(lam=-1))
    ds["barrier"] = (inside.max("lam") - ends).mean("seed").assign_attrs(
        units="1", long_name="largest train loss on [0, 1] above the higher end, mean over seeds (0: no barrier)")
    curv = store.interpolation_curvature.sel(split="train")
    ds["curvature_ends"] = xr.concat([curv.sel(lam=0.0, method="nearest"), curv.sel(lam=1.0, method="nearest")], dim="end").mean("seed").assign_coords(
        end=("end", ["switched (lambda=0)", "pure (lambda=1)"], {"units": "1", "long_name": "end of the interpolation line"})
    ).assign_attrs(units="1", long_name="second difference at the two solutions, mean over seeds")
    return ds.assign_attrs(source=_words(store), h=store.attrs["h"])


def draw_interpolation(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(5.5, 5.5), sharex=True)
    n = int(ds.n_seeds)
    for ax, name, label in ((axes[0], "loss", "train loss"), (axes[1], "curvature", "L″ (second difference)")):
        m, s = ds[f"{name}_mean"], ds[f"{name}_sd"]
        ax.plot(ds.lam, m, "-o", ms=2.5, label=f"mean ± sd, n={n} seeds")
        if np.isfinite(s).any():
            ax.fill_between(ds.lam, m - s, m + s, alpha=0.2, lw=0)
        for x in (0, 1):
            ax.axvline(x, color="0.6", ls=":", lw=1)
        ax.set(ylabel=label)
        ax.legend(frameon=False, fontsize="x-small")
    c0, c1 = (float(v) for v in ds.curvature_ends)
    axes[0].set_title(f"barrier on [0, 1]: {float(ds.barrier):.2g}; L″ at λ=0 {c0:.3g} vs λ=1 {c1:.3g} "
                      f"({'switched flatter' if c0 < c1 else 'switched not flatter'})", fontsize="small", loc="left")
    axes[1].set(xlabel=r"$\lambda$  ($\theta_\lambda = (1-\lambda)\theta_{switched} + \lambda\theta_{pure}$)")
    fig.suptitle(f"{ds.attrs['source']}; h={float(ds.attrs['h']):g}, L″ = (L(λ+h)+L(λ−h)−2L(λ))/(2h)² as printed", fontsize="x-small")
    fig.tight_layout()
    return fig


# -- LS-F14: 2-D landscape around the switched solution -------------------------------------
def plane_data(stores: list[str], options: dict) -> xr.Dataset:
    store = read(stores[0])
    ds = xr.Dataset({"plane_loss": store.plane_loss})
    ds["center_loss"] = store.plane_loss.sel(alpha=0, beta=0, method="nearest").mean("draw").assign_attrs(units="1", long_name="train loss at the switched solution")
    return ds.assign_attrs(source=_words(store))


def draw_plane(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    from matplotlib.colors import LogNorm

    n = ds.sizes["draw"]
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n + 0.8, 3.6), squeeze=False, layout="constrained")
    # One log scale for every panel, read off one colorbar: labels on the lines piled up where
    # the loss rises steeply.
    levels = np.geomspace(max(float(ds.plane_loss.min()), 1e-6), float(ds.plane_loss.max()), 15)
    for ax, draw in zip(axes[0], ds.draw.values):
        grid = ds.plane_loss.sel(draw=draw)
        filled = ax.contourf(ds.alpha, ds.beta, grid.T, levels=levels, norm=LogNorm(levels[0], levels[-1]), cmap="viridis")
        ax.contour(ds.alpha, ds.beta, grid.T, levels=levels, colors="white", linewidths=0.4, alpha=0.6)
        ax.plot([0], [0], "o", color="tab:orange", mec="k", label="switched (centre)")
        ax.plot([1], [0], "s", color="tab:blue", mec="k", label="pure")
        ax.set(xlabel="α along δ = θ_pure − θ_switched", ylabel="β along a filter-normalized direction", title=f"random direction {int(draw) + 1}")
        ax.title.set_fontsize("small")
        ax.grid(False)
        ax.legend(frameon=True, fontsize="x-small")
    fig.colorbar(filled, ax=axes[0].tolist(), label="train loss (log scale)", format="%.2g")
    fig.suptitle(f"train loss; {ds.attrs['source']}", fontsize="small")
    return fig


FIGURES = {
    "LS-F4b": (lambda s, o: escape_data(s, o, ("train",)), draw_escape),
    "LS-F16": (lambda s, o: escape_data(s, o, ("train", "test")), draw_escape),
    "LS-F4c": (interpolation_data, draw_interpolation),
    "LS-F14": (plane_data, draw_plane),
}
TABLES: dict = {}
