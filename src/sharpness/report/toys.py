"""Figures of the toy studies: far-from-home Figs. 2 and 7 (FH-F2, FH-F7), ravines Figs. 1, 3–5
(BR-F1, BR-F3/F4/F5) and late-sam Fig. 4a (LS-F4a). Each ``*_data`` reduces a toy store to the
plotted numbers (with the contour grids the drawing needs), ``draw_*`` plots only those, and
every panel states what the numbers show."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from .. import theory
from ..store import read
from ..toys import ravine, tanh_valley


def _rho(store: xr.Dataset, options: dict) -> float:
    if options.get("rho") is not None:
        return float(options["rho"])
    nonzero = [float(r) for r in store.rho.values if r > 0]
    return min(nonzero) if nonzero else 0.0


def _option(store: xr.Dataset, key: str):
    """A value of the toy's options, from the store's config attribute."""
    return json.loads(store.attrs["config"])["options"][key]


# -- FH-F2: λmax(JJᵀ) of GD and SAM at a small and a large learning rate ---------------------
def quadratic_trajectories_data(stores: list[str], options: dict) -> xr.Dataset:
    store = read(stores[0])
    rho = _rho(store, options)
    sub = store.sel(rho=sorted({0.0, rho}))
    ds = xr.Dataset({"ntk_max": sub.ntk_max, "sam_normalized": sub.sam_normalized, "diverged": sub.diverged})
    ds["gd_eos"] = (2 / sub.lr).assign_attrs(units="1", long_name="GD edge of stability 2/eta")
    ds["sam_eos"] = xr.DataArray(theory.sam_eos_unnormalized(sub.lr.values, rho), dims="lr", coords={"lr": sub.lr},
                                 attrs={"units": "1", "long_name": "SAM-EOS lambda*, eta (lambda + rho lambda^2) = 2"})
    ds["final_ntk_max"] = sub.ntk_max.isel(step=-1).median("seed").assign_attrs(units="1", long_name="final lambda_max, median over initialisations")
    return ds.assign_attrs(rho=rho, study=store.attrs["study"])


def draw_quadratic_trajectories(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    lrs = ds.lr.values
    fig, axes = plt.subplots(1, len(lrs) + 1, figsize=(4.2 * (len(lrs) + 1), 3.3), squeeze=False)
    axes = axes[0]
    rho = float(ds.attrs["rho"])
    colors = {0.0: "tab:blue", rho: "tab:orange"}
    for ax, lr in zip(axes, lrs):
        for r in ds.rho.values:
            lines = ds.ntk_max.sel(lr=lr, rho=r)
            for i, seed in enumerate(lines.seed.values):
                ax.plot(lines.step, lines.sel(seed=seed), color=colors[float(r)], lw=0.8, alpha=0.8,
                        label=("GD" if r == 0 else f"SAM ρ={r:g}") + f" (n={lines.sizes['seed']})" if i == 0 else None)
        edges = {"SAM-EOS": (float(ds.sam_eos.sel(lr=lr)), dict(color="tab:orange", ls=":", lw=1.2)),
                 "2/η": (float(ds.gd_eos.sel(lr=lr)), dict(color="tab:blue", ls="--", lw=1))}
        off_scale = _draw_edges_on_scale(ax, edges, float(ds.ntk_max.sel(lr=lr).max()))
        final = ds.final_ntk_max.sel(lr=lr)
        ax.set(xlabel="step", ylabel=r"$\lambda_{\max}(JJ^\top)$")
        ax.set_title(f"η={lr:g}: final λmax GD {float(final.sel(rho=0.0)):.3g}, SAM {float(final.sel(rho=rho)):.3g}" + off_scale,
                     fontsize="small", loc="left")
        ax.legend(frameon=False, fontsize="x-small")
    ax = axes[-1]
    big = ds.sel(lr=lrs.max(), rho=rho).sam_normalized
    for seed in big.seed.values:
        ax.plot(big.step, big.sel(seed=seed), color="tab:orange", lw=0.8)
    ax.axhline(2, color="k", ls="--", lw=1)
    ax.set(xlabel="step", ylabel=r"$\eta(\lambda_{\max}+\rho\lambda_{\max}^2)$",
           title=f"η={lrs.max():g}, ρ={rho:g}: median at the end {float(big.isel(step=-1).median()):.3g} (edge: 2)")
    ax.title.set_fontsize("small")
    fig.tight_layout()
    return fig


def _draw_edges_on_scale(ax, edges: dict, data_max: float) -> str:
    """Draw each edge that lies within 1.5× the largest value plotted; an edge further up would
    squash the trajectories to the bottom of the panel, so the title names it instead."""
    off = []
    for name, (value, style) in edges.items():
        if value <= 1.5 * data_max:
            ax.axhline(value, label=name, **style)
        else:
            off.append(f"{name} = {value:.3g}")
    return f"\noff scale: {', '.join(off)}" if off else ""


# -- FH-F7: a ρ sweep at one learning rate --------------------------------------------------
def quadratic_sweep_data(stores: list[str], options: dict) -> xr.Dataset:
    store = read(stores[0])
    lr = float(options.get("lr") or store.lr.values.max())
    sub = store.sel(lr=lr)
    ds = xr.Dataset({"ntk_max": sub.ntk_max, "sam_normalized": sub.sam_normalized, "diverged": sub.diverged})
    ds["n_stable"] = (1 - sub.diverged).sum("seed").assign_attrs(units="1", long_name="initialisations that did not diverge")
    ds["final_sam_normalized"] = sub.sam_normalized.isel(step=-1).median("seed").assign_attrs(
        units="1", long_name="final eta (lambda + rho lambda^2), median over stable initialisations")
    ds["sam_eos"] = xr.DataArray(theory.sam_eos_unnormalized(lr, sub.rho.values), dims="rho", coords={"rho": sub.rho},
                                 attrs={"units": "1", "long_name": "SAM-EOS lambda*"})
    return ds.assign_attrs(lr=lr, study=store.attrs["study"])


def draw_quadratic_sweep(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    palette = plt.get_cmap("viridis")(np.linspace(0, 0.9, ds.sizes["rho"]))
    for color, rho in zip(palette, ds.rho.values):
        sub = ds.sel(rho=rho)
        label = f"ρ={rho:g}: stable {int(sub.n_stable)}/{sub.sizes['seed']}, end {float(sub.final_sam_normalized):.2f}"
        for i, seed in enumerate(sub.seed.values):
            axes[0].plot(sub.step, sub.ntk_max.sel(seed=seed), color=color, lw=0.8, label=label if i == 0 else None)
            axes[1].plot(sub.step, sub.sam_normalized.sel(seed=seed), color=color, lw=0.8)
    axes[0].set(xlabel="step", ylabel=r"$\lambda_{\max}(JJ^\top)$", title=f"η={float(ds.attrs['lr']):g}; legend: stable runs, median η(λ+ρλ²) at the end")
    axes[0].title.set_fontsize("small")
    axes[0].legend(frameon=False, fontsize="x-small")
    axes[1].axhline(2, color="k", ls="--", lw=1)
    axes[1].set(xlabel="step", ylabel=r"$\eta(\lambda_{\max}+\rho\lambda_{\max}^2)$", ylim=(0, 4))
    fig.tight_layout()
    return fig


def _grid(coordinate: str) -> dict:
    return {"units": "1", "long_name": f"{coordinate} on the contour grid"}


# -- BR-F1: normalized SAM on a quadratic and its 2-cycle ------------------------------------
def quadratic_cycle_data(stores: list[str], options: dict) -> xr.Dataset:
    store = read(stores[0])
    cfg_lam = np.asarray(_option(store, "eigenvalues"), float)
    span = 1.2 * float(max(abs(store.w1).max(), abs(store.w2).max()))
    x = np.linspace(-span, span, 101)
    loss = 0.5 * (cfg_lam[0] * x[None, :] ** 2 + cfg_lam[1] * x[:, None] ** 2)
    ds = xr.Dataset({"w1": store.w1, "w2": store.w2, "cycle_amplitude": store.cycle_amplitude,
                     "loss_grid": (("grid_w2", "grid_w1"), loss, {"units": "1", "long_name": "L(w) on the contour grid"})},
                    coords={"grid_w1": ("grid_w1", x, _grid("w1")), "grid_w2": ("grid_w2", x, _grid("w2"))})
    ds["final_distance"] = xr.DataArray(float(np.hypot(abs(store.w1[-1]) - store.cycle_amplitude, store.w2[-1])),
                                        attrs={"units": "1", "long_name": "distance of the last iterate from the 2-cycle"})
    return ds.assign_attrs(study=store.attrs["study"])


def draw_quadratic_cycle(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.contour(ds.grid_w1, ds.grid_w2, ds.loss_grid, levels=12, colors="0.8", linewidths=0.7)
    ax.plot(ds.w1, ds.w2, "-o", ms=3, lw=1, label=f"SAM iterates (first {ds.sizes['step'] - 1})")
    a = float(ds.cycle_amplitude)
    ax.plot([a, -a], [0, 0], "r*", ms=11, label=f"2-cycle ±{a:.4g}·e₁ (closed form)")
    ax.set(xlabel="$w_1$ (λ₁)", ylabel="$w_2$ (λ₂)", aspect="equal",
           title=f"last iterate {float(ds.final_distance):.2g} from the cycle")
    ax.title.set_fontsize("small")
    ax.legend(frameon=False, fontsize="x-small")
    fig.tight_layout()
    return fig


# -- BR-F3/F4/F5: SAM, GD and noisy GD on the ravine -----------------------------------------
def _ravine_data(stores: list[str], options: dict, start: int, methods: tuple[str, ...]) -> xr.Dataset:
    store = read(stores[0])
    start = start if options.get("start") is None else options["start"]
    sub = store.isel(start=start).sel(algorithm=list(methods))
    span_1 = 1.3 * float(abs(sub.w1).max())
    span_2 = 1.3 * float(abs(sub.w2).max())
    g1, g2 = np.linspace(-span_1, span_1, 121), np.linspace(-span_2, span_2, 121)
    grid = np.stack(np.meshgrid(g1, g2), -1)
    half = sub.step >= sub.step.max() / 2
    ds = xr.Dataset(
        {
            "w1": sub.w1, "w2": sub.w2, "sharpness": sub.sharpness,
            "loss_grid": (("grid_w2", "grid_w1"), ravine.loss(grid), {"units": "1", "long_name": "f on the contour grid"}),
            "late_abs_w2": abs(sub.w2).where(half).mean(["step", "seed"]).assign_attrs(units="1", long_name="mean |w2| over the second half of the steps (and the seeds)"),
            "late_sharpness": sub.sharpness.where(half).mean(["step", "seed"]).assign_attrs(units="1", long_name="mean sharpness over the second half of the steps (and the seeds)"),
            "start_point": (("coordinate",), np.asarray(_option(store, "starts")[start], float), {"units": "1", "long_name": "the start (w1, w2)"}),
        },
        coords={"grid_w1": ("grid_w1", g1, _grid("w1")), "grid_w2": ("grid_w2", g2, _grid("w2"))},
    )
    return ds.assign_attrs(start=str(sub.start.values), study=store.attrs["study"])


def draw_ravine(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    names = {"gd": "GD", "sam": "SAM", "sgd": "GD + Gaussian noise"}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    axes[0].contour(ds.grid_w1, ds.grid_w2, ds.loss_grid, levels=15, colors="0.8", linewidths=0.7)
    for method in ds.algorithm.values:
        sub = ds.sel(algorithm=method)
        label = f"{names[str(method)]}: late |w₂| {float(sub.late_abs_w2):.3f}, sharpness {float(sub.late_sharpness):.3f}"
        seeds = sub.seed.values if method == "sgd" else sub.seed.values[:1]
        for i, seed in enumerate(seeds):
            line = axes[0].plot(sub.w1.sel(seed=seed), sub.w2.sel(seed=seed), lw=0.8, alpha=0.9 if i == 0 else 0.3,
                                color=None if i == 0 else line[0].get_color(), label=label if i == 0 else None)
        axes[1].plot(sub.step, sub.sharpness.mean("seed"), color=line[0].get_color(), lw=1.1,
                     label=names[str(method)] + (f" (mean of n={len(seeds)})" if method == "sgd" else ""))
    axes[0].plot(*ds.start_point.values, "k^", ms=7)
    axes[0].set(xlabel="$w_1$", ylabel="$w_2$", title=f"from {ds.attrs['start']}; legend: second half of the run")
    axes[0].title.set_fontsize("small")
    axes[0].legend(frameon=False, fontsize="x-small")
    axes[1].set(xlabel="step", ylabel="sharpness (top Hessian eigenvalue)")
    axes[1].legend(frameon=False, fontsize="x-small")
    fig.tight_layout()
    return fig


# -- LS-F4a: the tanh valley, GD then SAM ---------------------------------------------------
def tanh_valley_data(stores: list[str], options: dict) -> xr.Dataset:
    store = read(stores[0])
    u_span = 1.2 * float(abs(store.u).max())
    v_span = 1.2 * float(abs(store.v).max())
    gu, gv = np.linspace(-u_span, u_span, 121), np.linspace(-v_span, v_span, 121)
    grid = np.stack(np.meshgrid(gu, gv), -1)
    ends = store.isel(step=-1)
    switch = int(_option(store, "switch_step"))
    ds = xr.Dataset(
        {
            "u": store.u, "v": store.v,
            "loss_grid": (("grid_v", "grid_u"), tanh_valley.loss(grid), {"units": "1", "long_name": "L on the contour grid"}),
            "end_sharpness": (("schedule",), tanh_valley.minimum_sharpness(ends.u.values), {"units": "1", "long_name": "tanh(u)^2 at the end of the run"}),
            "switch_sharpness": ((), float(tanh_valley.minimum_sharpness(store.u.isel(schedule=0).sel(step=switch))),
                                 {"units": "1", "long_name": "tanh(u)^2 at the switch"}),
        },
        coords={"grid_u": ("grid_u", gu, _grid("u")), "grid_v": ("grid_v", gv, _grid("v"))},
    )
    return ds.assign_attrs(switch_step=switch, study=store.attrs["study"])


def draw_tanh_valley(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    t = int(ds.attrs["switch_step"])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.contour(ds.grid_u, ds.grid_v, ds.loss_grid, levels=15, colors="0.8", linewidths=0.7)
    ax.axhline(0, color="0.5", lw=1.5, label="minima v = 0 (sharpness tanh²u)")
    gd, sam = ds.isel(schedule=0), ds.isel(schedule=1)
    ax.plot(gd.u.sel(step=slice(0, t)), gd.v.sel(step=slice(0, t)), "-o", ms=2, color="tab:blue",
            label=f"GD to step {t} (sharpness {float(ds.switch_sharpness):.3f})")
    ax.plot(sam.u.sel(step=slice(t, None)), sam.v.sel(step=slice(t, None)), "-o", ms=2, color="tab:orange",
            label=f"SAM after (ends at sharpness {float(ds.end_sharpness.isel(schedule=1)):.3f})")
    ax.set(xlabel="u", ylabel="v", title="GD then SAM on L = ½ tanh²(v·tanh u)")
    ax.title.set_fontsize("small")
    ax.legend(frameon=False, fontsize="x-small")
    fig.tight_layout()
    return fig


FIGURES = {
    "FH-F2": (quadratic_trajectories_data, draw_quadratic_trajectories),
    "FH-F7": (quadratic_sweep_data, draw_quadratic_sweep),
    "BR-F1": (quadratic_cycle_data, draw_quadratic_cycle),
    "BR-F3": (lambda s, o: _ravine_data(s, o, 0, ("gd", "sam")), draw_ravine),
    "BR-F4": (lambda s, o: _ravine_data(s, o, 1, ("gd", "sam")), draw_ravine),
    "BR-F5": (lambda s, o: _ravine_data(s, o, 1, ("sam", "sgd")), draw_ravine),
    "LS-F4a": (tanh_valley_data, draw_tanh_valley),
}
TABLES: dict = {}
