"""Figures of the dynamics studies: sharpness against the theory edges along training.

sam-eos Figs. 2–16 (LB-F2…F16), far-from-home Figs. 3–6, 8, 9 (FH-F*), late-sam Fig. 10 (LS-F10)
and eigen-sam Fig. 1 (ES-F1). As everywhere in the report, ``*_data`` reduces study stores to the
plotted numbers and ``draw_*`` plots only those. Trajectories are means over seeds with a band of
one sample standard deviation (ddof = 1), or a 95 % t-interval where the paper shows one; the
number of seeds that did not diverge is stored as ``n_seeds`` and printed on every panel.

Each panel also states what the data show about the paper's claim, computed from the numbers:
the median over the last quarter of the recorded steps of λmax divided by the edge that applies
(2/η for GD, the SAM-edge for SAM, the SAM-EOS for USAM).
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from .. import theory
from ..store import read
from .stats import ci95, mean_sd

LABELS = {"gd": "GD", "sgd": "SGD", "sam": "SAM", "usam": "USAM", "asam": "ASAM"}


# -- selection and reduction --------------------------------------------------------------
def _default_rho(store: xr.Dataset, options: dict) -> float:
    """The ρ a figure shows: the option, else the study's smallest nonzero radius."""
    if options.get("rho") is not None:
        return float(options["rho"])
    nonzero = [float(r) for r in store.rho.values if r > 0]
    return min(nonzero) if nonzero else 0.0


def _schedule(store: xr.Dataset, options: dict) -> str:
    return options.get("schedule") or str(store.schedule.values[0])


def _cells(stores: list[str], options: dict, *, rho: str = "one", one_lr: bool = False, schedule: bool = True):
    """(store, the cells a figure reads, its ρ, its lr). ``rho``: "one" (the figure's ρ), "gd"
    (ρ = 0), "pair" (0 and the figure's ρ) or "all"; ``one_lr``: the option's first lr (else the
    grid's first) instead of the option's list (else every lr); ``schedule``: the figure's
    schedule only (else every schedule). A width grid is cut at the option's (or first) width."""
    store = read(stores[0])
    radius = 0.0 if rho == "gd" else _default_rho(store, options)
    fixed: dict = {}
    if schedule:
        fixed["schedule"] = _schedule(store, options)
    if rho in ("one", "gd"):
        fixed["rho"] = radius
    elif rho == "pair":
        fixed["rho"] = sorted({0.0, radius})
    lr = (options.get("lr") or [float(store.lr.values[0])])[0] if one_lr else None
    if one_lr:
        fixed["lr"] = lr
    elif options.get("lr"):
        fixed["lr"] = list(options["lr"])
    sub = store.sel(**fixed)
    if "width" in sub.dims:
        sub = sub.sel(width=options.get("width") or sub.width.values[0])
    return store, sub, radius, lr


def _with_stats(ds: xr.Dataset, name: str, values: xr.DataArray, units: str, long_name: str) -> None:
    mean, sd, count = mean_sd(values)
    ds[f"{name}_mean"] = mean.assign_attrs(units=units, long_name=f"{long_name}, mean over seeds")
    ds[f"{name}_sd"] = sd.assign_attrs(units=units, long_name=f"{long_name}, sample sd over seeds (ddof=1)")
    ds["n_seeds"] = _surviving(count)


def _surviving(count: xr.DataArray) -> xr.DataArray:
    """Seeds with a value at the last step: those that did not diverge."""
    return count.isel(step=-1, drop=True).assign_attrs(units="1", long_name="seeds that did not diverge")


def _last_quarter_median(values: xr.DataArray) -> xr.DataArray:
    """Median over the last quarter of the recorded steps (NaN-aware)."""
    steps = values.step.values
    tail = values.sel(step=steps[steps >= steps[0] + 0.75 * (steps[-1] - steps[0])])
    return tail.median("step", skipna=True)


def _first_half_median(values: xr.DataArray) -> xr.DataArray:
    """Median over the first half of the recorded steps after step 0: where a cosine schedule
    has not yet taken η (and with it every η-normalized eigenvalue) towards 0."""
    steps = values.step.values
    head = values.sel(step=steps[(steps > 0) & (steps <= steps[-1] / 2)])
    return head.median("step", skipna=True)


def _finish(ds: xr.Dataset, store: xr.Dataset, **attrs) -> xr.Dataset:
    ds.attrs.update(study=store.attrs["study"], dataset=_dataset_words(store), **{k: str(v) for k, v in attrs.items()})
    return ds


def _dataset_words(store: xr.Dataset) -> str:
    cfg = json.loads(store.attrs["config"])
    d, m = cfg["dataset"], cfg["model"]
    described = store.attrs.get("dataset_description", "")
    if described and described != d["name"]:  # a corpus that stands in for the paper's data says what it is
        return f"{d['name']} ({described}), {m['name']}, loss {cfg['loss']}, batch {cfg['batch_size']}"
    subset = f", first {d['n_train']}" if d.get("n_train") else ""
    classes = f", {d['classes']} classes" if d.get("classes") else ""
    batch = "full batch" if cfg["batch_size"] == "full" else f"batch {cfg['batch_size']}"
    return f"{d['name']}{subset}{classes}, {m['name']}, loss {cfg['loss']}, {batch}"


# -- LB-F2/F3/F4 (and F7–F9, F12–F14): top eigenvalues against 2/η and the SAM-edge ----------
def eigen_edges_data(stores: list[str], options: dict, gd: bool) -> xr.Dataset:
    """Top-k eigenvalues (lr × step × eig_index), 2/η and the optimizer's edge, at ρ = 0 (GD,
    ``gd``) or at the figure's ρ; and the last-quarter median of λmax / edge per lr."""
    store, sub, rho, _ = _cells(stores, options, rho="gd" if gd else "one")
    ds = xr.Dataset()
    _with_stats(ds, "eigenvalues", sub.eigenvalues, "1", "top Hessian eigenvalues")
    _with_stats(ds, "sam_edge", sub.sam_edge, "1", "the optimizer's edge (2/eta for GD, SAM-edge for SAM)")
    ds["gd_edge"] = sub.gd_edge.mean("seed").assign_attrs(units="1", long_name="GD edge 2/eta")
    ratio = _last_quarter_median(sub.eigenvalues.isel(eig_index=0) / sub.sam_edge).mean("seed")
    ds["edge_ratio"] = ratio.assign_attrs(units="1", long_name="median over the last quarter of lambda_max / edge")
    return _finish(ds, store, rho=rho, optimizer="GD" if rho == 0 else LABELS.get(_schedule(store, options), "SAM"), show_gd_edge=int(gd or not options.get("zoom", False)))


def _eos_verdict(ratio: float, edge: str) -> str:
    if not np.isfinite(ratio):
        return "diverged: no verdict"
    where = "at" if 0.9 <= ratio <= 1.1 else ("below" if ratio < 0.9 else "above")
    return f"median λmax/{edge} (last ¼) = {ratio:.2f}: {where} the edge"


def _panels(n: int, width: float = 4.2, height: float = 3.2):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
    return fig, list(axes[0])


def _band(ax, x, mean, sd, **kwargs):
    line = ax.plot(x, mean, **kwargs)[0]
    if np.isfinite(sd).any():
        ax.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.2, lw=0)
    return line


def draw_eigen_edges(ds: xr.Dataset):
    fig, axes = _panels(ds.sizes["lr"])
    opt, rho = ds.attrs["optimizer"], float(ds.attrs["rho"])
    for ax, lr in zip(axes, ds.lr.values):
        sub = ds.sel(lr=lr)
        for i in sub.eig_index.values:
            _band(ax, sub.step, sub.eigenvalues_mean.sel(eig_index=i), sub.eigenvalues_sd.sel(eig_index=i), lw=1.2, label=f"λ{i + 1}")
        if int(ds.attrs["show_gd_edge"]):
            ax.plot(sub.step, sub.gd_edge, color="k", ls="--", lw=1, label="2/η")
        if rho > 0:
            ax.plot(sub.step, sub.sam_edge_mean, color="tab:red", ls=":", lw=1.5, label="SAM-edge (current ‖g‖)")
        edge = "(2/η)" if rho == 0 else "edge"
        ax.set(xlabel="step", ylabel="Hessian eigenvalue", yscale="log" if rho > 0 and int(ds.attrs["show_gd_edge"]) else "linear")
        ax.set_title(f"{opt}, η={lr:g}" + (f", ρ={rho:g}" if rho else "") + f" (n={int(sub.n_seeds)})\n"
                     + _eos_verdict(float(sub.edge_ratio), edge), fontsize="small", loc="left")
        ax.legend(frameon=False, fontsize="x-small")
    fig.suptitle(ds.attrs["dataset"], fontsize="small")
    fig.tight_layout()
    return fig


# -- LB-F5 (F10, F15): training loss, GD vs SAM ----------------------------------------------
def loss_data(stores: list[str], options: dict) -> xr.Dataset:
    store, sub, rho, _ = _cells(stores, options, rho="pair")
    variable = "batch_loss" if _minibatch(store) else "train_loss"
    ds = xr.Dataset()
    _with_stats(ds, "loss", sub[variable], "1", "training loss" + (" (per minibatch)" if variable == "batch_loss" else ""))
    return _finish(ds, store, rho=rho, variable=variable)


def _minibatch(store: xr.Dataset) -> bool:
    """Whether the study trains on minibatches (then losses are per minibatch, as in sam-eos)."""
    return json.loads(store.attrs["config"])["batch_size"] != "full"


def draw_loss(ds: xr.Dataset):
    fig, axes = _panels(ds.sizes["lr"])
    for ax, lr in zip(axes, ds.lr.values):
        for rho in ds.rho.values:
            sub = ds.sel(lr=lr, rho=rho)
            label = "GD/SGD (ρ=0)" if rho == 0 else f"SAM ρ={rho:g}"
            _band(ax, sub.step, sub.loss_mean, sub.loss_sd, label=f"{label} (n={int(sub.n_seeds)})")
        final = ds.sel(lr=lr).loss_mean.isel(step=-1)
        ax.set(xlabel="step", ylabel=ds.loss_mean.attrs["long_name"].split(",")[0], yscale="log")
        ax.set_title(f"η={lr:g}: final loss GD {float(final.isel(rho=0)):.3g}, SAM {float(final.isel(rho=-1)):.3g}", fontsize="small", loc="left")
        ax.legend(frameon=False, fontsize="x-small")
    fig.suptitle(ds.attrs["dataset"], fontsize="small")
    fig.tight_layout()
    return fig


# -- LB-F6 (F11, F16): gradient alignment with the top eigenvector ---------------------------
def alignment_data(stores: list[str], options: dict) -> xr.Dataset:
    store, sub, rho, _ = _cells(stores, options)
    ds = xr.Dataset()
    _with_stats(ds, "grad_alignment", sub.grad_alignment, "1", "|cos(g, v1)| at the iterate")
    _with_stats(ds, "sam_grad_alignment", sub.sam_grad_alignment, "1", "|cos(g_SAM, v1)| at the SAM point")
    dim = float(sub.n_parameters.max())
    ds["random_alignment"] = xr.DataArray(np.sqrt(2 / (np.pi * dim)), attrs={"units": "1", "long_name": "E|cos| of a random direction, sqrt(2/(pi P))"})
    return _finish(ds, store, rho=rho)


def draw_alignment(ds: xr.Dataset):
    fig, axes = _panels(ds.sizes["lr"])
    for ax, lr in zip(axes, ds.lr.values):
        sub = ds.sel(lr=lr)
        _band(ax, sub.step, sub.grad_alignment_mean, sub.grad_alignment_sd, label="gradient at the iterate")
        _band(ax, sub.step, sub.sam_grad_alignment_mean, sub.sam_grad_alignment_sd, label="gradient at the SAM point")
        ax.axhline(float(ds.random_alignment), color="0.5", ls=":", lw=1, label="random direction")
        a, b = float(sub.grad_alignment_mean.mean()), float(sub.sam_grad_alignment_mean.mean())
        verdict = "SAM gradient more aligned" if b > a else "SAM gradient not more aligned"
        ax.set(xlabel="step", ylabel="|cos| with top eigenvector", ylim=(0, 1.02))
        ax.set_title(f"η={lr:g}, ρ={float(ds.attrs['rho']):g} (n={int(sub.n_seeds)}): mean {a:.2f} vs {b:.2f}, {verdict}",
                     fontsize="small", loc="left")
        ax.legend(frameon=False, fontsize="x-small")
    fig.suptitle(ds.attrs["dataset"], fontsize="small")
    fig.tight_layout()
    return fig


# -- LS-F10: full-batch GD, SAM and switches -------------------------------------------------
def schedules_data(stores: list[str], options: dict) -> xr.Dataset:
    """λmax of every schedule (schedule × step) at one lr and ρ, with 2/η."""
    store, sub, rho, lr = _cells(stores, options, one_lr=True, schedule=False)
    ds = xr.Dataset()
    _with_stats(ds, "lambda_max", sub.eigenvalues.isel(eig_index=0, drop=True), "1", "largest Hessian eigenvalue")
    ds["gd_edge"] = sub.gd_edge.isel(schedule=0, drop=True).mean("seed").assign_attrs(units="1", long_name="GD edge 2/eta")
    ds["edge_ratio"] = _last_quarter_median(sub.eigenvalues.isel(eig_index=0) / sub.gd_edge).mean("seed").assign_attrs(
        units="1", long_name="median over the last quarter of lambda_max / (2/eta)")
    return _finish(ds, store, rho=rho, lr=lr)


def draw_schedules(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for schedule in ds.schedule.values:
        sub = ds.sel(schedule=schedule)
        name = _schedule_label(str(schedule))
        _band(ax, sub.step, sub.lambda_max_mean, sub.lambda_max_sd, lw=1.2,
              label=f"{name}: last ¼ at {float(sub.edge_ratio):.2f}×(2/η) (n={int(sub.n_seeds)})")
    ax.plot(ds.step, ds.gd_edge, color="k", ls="--", lw=1, label="2/η")
    ax.set(xlabel="step", ylabel=r"$\lambda_{\max}$", title=f"η={float(ds.attrs['lr']):g}, SAM ρ={float(ds.attrs['rho']):g}; {ds.attrs['dataset']}")
    ax.title.set_fontsize("small")
    ax.legend(frameon=False, fontsize="x-small", loc="best")
    fig.tight_layout()
    return fig


def _schedule_label(schedule: str) -> str:
    if "->" not in schedule:
        return LABELS.get(schedule, schedule)
    pair, step = schedule.split("@")
    first, second = pair.split("->")
    return f"{LABELS[first]}→{LABELS[second]} at t={step}"


# -- FH-F3: NTK eigenvalues against the GD-EOS and the SAM-EOS -------------------------------
def ntk_data(stores: list[str], options: dict) -> xr.Dataset:
    store, sub, rho, lr = _cells(stores, options, rho="pair", one_lr=True)
    ds = xr.Dataset()
    _with_stats(ds, "ntk_max", sub.ntk_eigenvalues.isel(ntk_index=0, drop=True), "1", "largest NTK eigenvalue (Gauss-Newton scale)")
    ds["gd_eos"] = xr.DataArray(float(theory.gd_edge(lr)), attrs={"units": "1", "long_name": "GD EOS 2/eta"})
    ds["sam_eos"] = xr.DataArray(float(theory.sam_eos_unnormalized(lr, rho)), attrs={"units": "1", "long_name": "SAM-EOS (sqrt(1+8 rho/eta)-1)/(2 rho)"})
    edges = [float(theory.sam_eos_unnormalized(lr, r)) for r in sub.rho.values]  # 2/η at ρ = 0
    ds["eos_ratio"] = _last_quarter_median(sub.ntk_eigenvalues.isel(ntk_index=0, drop=True)).mean("seed") / xr.DataArray(
        edges, dims="rho", coords={"rho": sub.rho})
    ds["eos_ratio"].attrs.update(units="1", long_name="median over the last quarter of the NTK eigenvalue / its EOS")
    return _finish(ds, store, rho=rho, lr=lr, optimizer=LABELS.get(_schedule(store, options), "SAM"))


def draw_ntk(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    colors = {}
    for rho in ds.rho.values:
        sub = ds.sel(rho=rho)
        name = "GD" if rho == 0 else f"{ds.attrs['optimizer']} ρ={rho:g}"
        line = _band(ax, sub.step, sub.ntk_max_mean, sub.ntk_max_sd, label=f"{name}: last ¼ at {float(sub.eos_ratio):.2f}× its EOS (n={int(sub.n_seeds)})")
        colors[rho] = line.get_color()
    ax.axhline(float(ds.gd_eos), color=colors[0.0], ls="--", lw=1, label="GD EOS 2/η")
    ax.axhline(float(ds.sam_eos), color=colors[ds.rho.values[-1]], ls=":", lw=1.5, label="SAM-EOS η(λ+ρλ²)=2")
    ax.set(xlabel="step", ylabel="largest NTK eigenvalue", title=f"η={float(ds.attrs['lr']):g}; {ds.attrs['dataset']}")
    ax.title.set_fontsize("small")
    ax.legend(frameon=False, fontsize="x-small")
    fig.tight_layout()
    return fig


# -- FH-F4/F8: λmax, ηλmax and η(λmax + ρλmax²) for several ρ -------------------------------
def normalized_eigen_data(stores: list[str], options: dict) -> xr.Dataset:
    store, sub, _, lr = _cells(stores, options, rho="all", one_lr=True)
    lam = sub.eigenvalues.isel(eig_index=0, drop=True)
    eta = sub.learning_rate
    ds = xr.Dataset()
    _with_stats(ds, "lambda_max", lam, "1", "largest Hessian eigenvalue")
    _with_stats(ds, "gd_normalized", eta * lam, "1", "eta_t lambda_max")
    _with_stats(ds, "sam_normalized", eta * (lam + sub.rho * lam**2), "1", "eta_t (lambda_max + rho lambda_max^2)")
    ds["sam_normalized_median"] = _first_half_median(eta * (lam + sub.rho * lam**2)).mean("seed").assign_attrs(
        units="1", long_name="median over the first half of the steps of eta_t (lambda + rho lambda^2)")
    return _finish(ds, store, lr=lr)


def draw_normalized_eigen(ds: xr.Dataset):
    fig, axes = _panels(3)
    panels = [("lambda_max", r"$\lambda_{\max}$"), ("gd_normalized", r"$\eta_t\lambda_{\max}$"),
              ("sam_normalized", r"$\eta_t(\lambda_{\max}+\rho\lambda_{\max}^2)$")]
    for ax, (name, label) in zip(axes, panels):
        for rho in ds.rho.values:
            sub = ds.sel(rho=rho)
            tag = f"ρ={rho:g} (n={int(sub.n_seeds)})" + (f": first ½ median {float(sub.sam_normalized_median):.2f}" if name == "sam_normalized" else "")
            _band(ax, sub.step, sub[f"{name}_mean"], sub[f"{name}_sd"], lw=1.1, label=tag)
        if name != "lambda_max":
            ax.axhline(2, color="k", ls="--", lw=1)
        ax.set(xlabel="step", ylabel=label)
        ax.legend(frameon=False, fontsize="x-small")
    fig.suptitle(f"unnormalized SAM, η₀={float(ds.attrs['lr']):g}; {ds.attrs['dataset']}", fontsize="small")
    fig.tight_layout()
    return fig


# -- FH-F5: early vs late SAM ----------------------------------------------------------------
def sam_schedule_data(stores: list[str], options: dict) -> xr.Dataset:
    store, sub, rho, lr = _cells(stores, options, one_lr=True, schedule=False)
    lam = sub.eigenvalues.isel(eig_index=0, drop=True)
    eta = sub.learning_rate
    ds = xr.Dataset()
    _with_stats(ds, "lambda_max", lam, "1", "largest Hessian eigenvalue")
    _with_stats(ds, "gd_normalized", eta * lam, "1", "eta_t lambda_max")
    _with_stats(ds, "sam_normalized", eta * (lam + rho * lam**2), "1", "eta_t (lambda_max + rho lambda_max^2)")
    return _finish(ds, store, rho=rho, lr=lr)


def draw_sam_schedule(ds: xr.Dataset):
    fig, axes = _panels(2, width=5)
    for schedule in ds.schedule.values:
        sub = ds.sel(schedule=schedule)
        label = f"{_schedule_label(str(schedule))} (n={int(sub.n_seeds)}): final λmax {float(sub.lambda_max_mean.isel(step=-1)):.3g}"
        line = _band(axes[0], sub.step, sub.lambda_max_mean, sub.lambda_max_sd, lw=1.1, label=label)
        axes[1].plot(sub.step, sub.gd_normalized_mean, color=line.get_color(), lw=1.1)
        axes[1].plot(sub.step, sub.sam_normalized_mean, color=line.get_color(), lw=1.1, ls=":")
    axes[0].set(xlabel="step", ylabel=r"$\lambda_{\max}$")
    axes[1].axhline(2, color="k", ls="--", lw=1)
    axes[1].set(xlabel="step", ylabel="normalized eigenvalue", title="solid: ηλ (GD-normalized); dotted: η(λ+ρλ²) (SAM-normalized)")
    axes[1].title.set_fontsize("x-small")
    axes[0].legend(frameon=False, fontsize="x-small")
    fig.suptitle(f"SAM schedules, ρ={float(ds.attrs['rho']):g}, η₀={float(ds.attrs['lr']):g}; {ds.attrs['dataset']}", fontsize="small")
    fig.tight_layout()
    return fig


# -- FH-F6/F9: minibatch gradient norms ------------------------------------------------------
def grad_norm_data(stores: list[str], options: dict) -> xr.Dataset:
    store, sub, _, lr = _cells(stores, options, rho="all", one_lr=True)
    ds = xr.Dataset()
    _with_stats(ds, "grad_norm", sub.batch_grad_norm, "1", "minibatch gradient norm at the iterate (mean since the previous record)")
    g = sub.batch_grad_norm
    ds["variation"] = (g.std("step") / g.mean("step")).mean("seed").assign_attrs(units="1", long_name="coefficient of variation over the run")
    return _finish(ds, store, lr=lr)


def draw_grad_norm(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for rho in ds.rho.values:
        sub = ds.sel(rho=rho)
        _band(ax, sub.step, sub.grad_norm_mean, sub.grad_norm_sd, lw=1.1,
              label=f"ρ={rho:g} (n={int(sub.n_seeds)}): sd/mean {float(sub.variation):.2f}")
    ax.set(xlabel="step", ylabel="minibatch ‖g‖", title=f"η₀={float(ds.attrs['lr']):g}; {ds.attrs['dataset']}")
    ax.title.set_fontsize("small")
    ax.legend(frameon=False, fontsize="x-small")
    fig.tight_layout()
    return fig


# -- ES-F1: alignment of the SAM perturbation, and λmax --------------------------------------
def perturbation_data(stores: list[str], options: dict) -> xr.Dataset:
    store, sub, rho, lr = _cells(stores, options, one_lr=True)
    ds = xr.Dataset()
    for name, values, long_name in (("align", sub.perturbation_alignment, "Align(epsilon, v1) of eigen-sam"),
                                    ("lambda_max", sub.eigenvalues.isel(eig_index=0, drop=True), "largest Hessian eigenvalue")):
        mean, half, count = ci95(values)
        ds[f"{name}_mean"] = mean.assign_attrs(units="1", long_name=f"{long_name}, mean over seeds")
        ds[f"{name}_ci95"] = half.assign_attrs(units="1", long_name=f"{long_name}, half-width of the 95% t-interval over seeds")
        ds["n_seeds"] = _surviving(count)
    return _finish(ds, store, rho=rho, lr=lr)


def draw_perturbation(ds: xr.Dataset):
    fig, axes = _panels(2, width=5)
    n = int(ds.n_seeds)
    for ax, name, label in ((axes[0], "align", r"Align($\epsilon$, $v_1$)"), (axes[1], "lambda_max", r"$\lambda_{\max}$")):
        _band(ax, ds.step, ds[f"{name}_mean"], ds[f"{name}_ci95"], label=f"SAM ρ={float(ds.attrs['rho']):g}, mean ± 95% CI (n={n})")
        ax.set(xlabel="step", ylabel=label)
        ax.legend(frameon=False, fontsize="x-small")
    axes[0].axhline(1, color="0.5", ls=":", lw=1)
    mean = float(ds.align_mean.mean())
    axes[0].set_title(f"mean Align {mean:.2f} (1 = aligned, 1−√2 ≈ −0.41 = orthogonal)", fontsize="small", loc="left")
    fig.suptitle(ds.attrs["dataset"], fontsize="small")
    fig.tight_layout()
    return fig


def _family(first: int, study_figures: dict) -> dict:
    """sam-eos's five figures per setting, numbered from ``first`` (LB-F2 for the MLP, …)."""
    ids = [f"LB-F{first + i}" for i in range(5)]
    return dict(zip(ids, study_figures.values()))


_SAM_EOS_FIVE = {
    "gd": (lambda s, o: eigen_edges_data(s, o, gd=True), draw_eigen_edges),
    "sam": (lambda s, o: eigen_edges_data(s, o, gd=False), draw_eigen_edges),
    "zoom": (lambda s, o: eigen_edges_data(s, {**o, "zoom": True}, gd=False), draw_eigen_edges),
    "loss": (loss_data, draw_loss),
    "alignment": (alignment_data, draw_alignment),
}

FIGURES = {
    **_family(2, _SAM_EOS_FIVE),
    **_family(7, _SAM_EOS_FIVE),
    **_family(12, _SAM_EOS_FIVE),
    "LS-F10": (schedules_data, draw_schedules),
    "FH-F3": (ntk_data, draw_ntk),
    "FH-F4": (normalized_eigen_data, draw_normalized_eigen),
    "FH-F8": (normalized_eigen_data, draw_normalized_eigen),
    "FH-F5": (sam_schedule_data, draw_sam_schedule),
    "FH-F6": (grad_norm_data, draw_grad_norm),
    "FH-F9": (grad_norm_data, draw_grad_norm),
    "ES-F1": (perturbation_data, draw_perturbation),
}
TABLES: dict = {}
