"""Figures of the dynamics studies: sharpness against the theory edges along training.

sam-eos Figs. 2–16 (LB-F2…F16), far-from-home Figs. 3–6, 8, 9 (FH-F*), late-sam Fig. 10 (LS-F10)
and eigen-sam Fig. 1 (ES-F1). As everywhere in the report, ``*_data`` reduces study stores to the
plotted numbers and ``draw_*`` plots only those. Trajectories are means over seeds with a band of
one sample standard deviation (ddof = 1), or every seed's line where a band over three seeds would
say little (ES-F1); the number of seeds that did not diverge is stored as ``n_seeds`` and printed
on every panel.

Each panel also states what the data show about the paper's claim, computed from the numbers:
the median over the last quarter of the recorded steps of λmax divided by the edge that applies
(2/η for GD, the SAM-edge for SAM, the SAM-EOS for USAM).
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import xarray as xr

from .. import theory
from ..store import read
from .stats import mean_sd

LABELS = {"gd": "GD", "sgd": "SGD", "sam": "SAM", "usam": "USAM", "asam": "ASAM"}
# Okabe–Ito colours, no two alike (the colorblind palette's orange and vermillion look the same
# at a line's width): for figures whose lines are schedules, not one optimizer's settings.
DISTINCT = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#000000", "#56B4E9")


def distinct_styles(n: int) -> list[dict]:
    """n line styles, no two alike: the distinct colours, then again dashed."""
    return [dict(color=DISTINCT[i % len(DISTINCT)], ls=("-", "--", "-.")[i // len(DISTINCT) % 3]) for i in range(n)]


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
    start = (sub.eigenvalues.isel(eig_index=0, step=0) / sub.gd_edge.isel(step=0)).mean("seed")
    ds["start_ratio"] = start.assign_attrs(units="1", long_name="lambda_max eta/2 at the first record (step 0), mean over seeds")
    return _finish(ds, store, rho=rho, optimizer="GD" if rho == 0 else LABELS.get(_schedule(store, options), "SAM"), show_gd_edge=int(gd or not options.get("zoom", False)))


def _eos_verdict(ratio: float, edge: str) -> str:
    if not np.isfinite(ratio):
        return "diverged: no verdict"
    where = "at" if 0.9 <= ratio <= 1.1 else ("below" if ratio < 0.9 else "above")
    return f"median λmax/{edge} (last ¼) = {ratio:.2f}: {where} the edge"


def _start_note(sub: xr.Dataset) -> str:
    """A run that starts above 2/η has not sharpened to the edge: the panel says so (eos-cnn)."""
    if "start_ratio" not in sub or not float(sub.start_ratio) > 1:
        return ""
    return f"\nstarts above the edge (λη/2 = {float(sub.start_ratio):.2f} at step {int(sub.step[0])})"


def _panels(n: int, width: float = 4.2, height: float = 3.2):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
    return fig, list(axes[0])


def _suptitle(fig, text: str) -> None:
    """The figure's title wrapped to the figure's width: a long dataset description (eos-lm's
    corpus) must not widen the saved canvas beyond its panels (bbox_inches="tight")."""
    import textwrap

    chars = int(fig.get_figwidth() * 13)  # about 13 characters of "small" text per inch
    fig.suptitle(textwrap.fill(text, max(chars, 40)), fontsize="small")


def _outside_legend(ax, **kwargs) -> None:
    """The legend below the axes, where it covers no curve (call it after tight_layout)."""
    ax.legend(frameon=False, fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.3), **kwargs)


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
                     + _eos_verdict(float(sub.edge_ratio), edge) + _start_note(sub), fontsize="small", loc="left")
        ax.legend(frameon=False, fontsize="x-small")
    _suptitle(fig, ds.attrs["dataset"])
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
    _suptitle(fig, ds.attrs["dataset"])
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
    _suptitle(fig, ds.attrs["dataset"])
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
    for style, schedule in zip(distinct_styles(ds.sizes["schedule"]), ds.schedule.values):
        sub = ds.sel(schedule=schedule)
        name = _schedule_label(str(schedule))
        _band(ax, sub.step, sub.lambda_max_mean, sub.lambda_max_sd, lw=1.2, **style,
              label=f"{name}: last ¼ at {float(sub.edge_ratio):.2f}×(2/η) (n={int(sub.n_seeds)})")
    ax.plot(ds.step, ds.gd_edge, color="0.4", ls="--", lw=1, label="2/η")
    ax.set(xlabel="step", ylabel=r"$\lambda_{\max}$", title=f"η={float(ds.attrs['lr']):g}, SAM ρ={float(ds.attrs['rho']):g}; {ds.attrs['dataset']}")
    ax.title.set_fontsize("small")
    fig.tight_layout()
    _outside_legend(ax, ncol=2)
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
    _with_learning(ds, sub.train_error)
    return _finish(ds, store, lr=lr)


def _with_learning(ds: xr.Dataset, train_error: xr.DataArray) -> None:
    """The first and last training error (mean over seeds) and whether the run learned: a run
    whose final training error is above half its error at step 0 (the untrained network, at
    chance) did not learn, and its sharpness is not comparable with the others'."""
    first, last = (100 * train_error.isel(step=i, drop=True).mean("seed") for i in (0, -1))
    ds["start_train_error"] = first.assign_attrs(units="%", long_name="training error at step 0, mean over seeds")
    ds["final_train_error"] = last.assign_attrs(units="%", long_name="training error at the last step, mean over seeds")
    ds["did_not_learn"] = (last > first / 2).astype(int).assign_attrs(
        units="1", long_name="1 where the final training error is above half the error at step 0")


def draw_normalized_eigen(ds: xr.Dataset):
    fig, axes = _panels(3)
    panels = [("lambda_max", r"$\lambda_{\max}$"), ("gd_normalized", r"$\eta_t\lambda_{\max}$"),
              ("sam_normalized", r"$\eta_t(\lambda_{\max}+\rho\lambda_{\max}^2)$")]
    for ax, (name, label) in zip(axes, panels):
        for rho in ds.rho.values:
            sub = ds.sel(rho=rho)
            tag = (f"ρ={rho:g} (n={int(sub.n_seeds)}): first ½ median of η(λ+ρλ²) {float(sub.sam_normalized_median):.2f}"
                   + _learning_note(sub))
            _band(ax, sub.step, sub[f"{name}_mean"], sub[f"{name}_sd"], lw=1.1, label=tag)
        if name != "lambda_max":
            ax.axhline(2, color="k", ls="--", lw=1, label="level 2")
            _clip_first_record(ax, ds[f"{name}_mean"])
        ax.set(xlabel="step", ylabel=label)
    _suptitle(fig, f"unnormalized SAM, η₀={float(ds.attrs['lr']):g}; {ds.attrs['dataset']}")
    fig.tight_layout()
    fig.legend(*axes[-1].get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.02), frameon=False, fontsize="x-small")
    return fig


def _learning_note(sub: xr.Dataset) -> str:
    if "did_not_learn" not in sub or not int(sub.did_not_learn):
        return ""
    return f"; did not learn (train error {float(sub.final_train_error):.1f} %, {float(sub.start_train_error):.1f} % at step 0)"


def _clip_first_record(ax, mean: xr.DataArray) -> None:
    """A y-range that shows the level 2: set by the records after the first (the untrained
    network's η₀λ can be 20 times the edge), and the title says what is cut off."""
    later = float(mean.isel(step=slice(1, None)).max())
    first = float(mean.isel(step=0).max())
    top = 1.15 * max(later, 2.0)
    if first > 2 * top:
        ax.set_ylim(bottom=min(0.0, float(mean.min())), top=top)
        ax.set_title(f"step {int(mean.step[0])} off scale (up to {first:.3g})", fontsize="x-small", loc="left")


# -- FH-F5: early vs late SAM ----------------------------------------------------------------
def sam_schedule_data(stores: list[str], options: dict) -> xr.Dataset:
    store, sub, rho, lr = _cells(stores, options, one_lr=True, schedule=False)
    lam = sub.eigenvalues.isel(eig_index=0, drop=True)
    eta = sub.learning_rate
    ds = xr.Dataset()
    _with_stats(ds, "lambda_max", lam, "1", "largest Hessian eigenvalue")
    _with_stats(ds, "gd_normalized", eta * lam, "1", "eta_t lambda_max")
    _with_stats(ds, "sam_normalized", eta * (lam + rho * lam**2), "1", "eta_t (lambda_max + rho lambda_max^2)")
    _with_learning(ds, sub.train_error)
    return _finish(ds, store, rho=rho, lr=lr)


def draw_sam_schedule(ds: xr.Dataset):
    from matplotlib.lines import Line2D

    fig, axes = _panels(2, width=5)
    for color, schedule in zip(itertools.cycle(DISTINCT), ds.schedule.values):
        sub = ds.sel(schedule=schedule)
        label = f"{_schedule_label(str(schedule))} (n={int(sub.n_seeds)}): final λmax {float(sub.lambda_max_mean.isel(step=-1)):.3g}"
        _band(axes[0], sub.step, sub.lambda_max_mean, sub.lambda_max_sd, lw=1.1, color=color, label=label + _learning_note(sub))
        axes[1].plot(sub.step, sub.gd_normalized_mean, color=color, lw=1.1, label=_schedule_label(str(schedule)))
        axes[1].plot(sub.step, sub.sam_normalized_mean, color=color, lw=1.1, ls=":")
    axes[0].set(xlabel="step", ylabel=r"$\lambda_{\max}$")
    axes[1].axhline(2, color="0.4", ls="--", lw=1)
    _clip_first_record(axes[1], xr.concat([ds.gd_normalized_mean, ds.sam_normalized_mean], "kind"))
    axes[1].set(xlabel="step", ylabel="normalized eigenvalue")
    key = [Line2D([], [], color="0.3", lw=1.1, label="solid: ηλ (GD-normalized)"),
           Line2D([], [], color="0.3", lw=1.1, ls=":", label="dotted: η(λ+ρλ²) (SAM-normalized)"),
           Line2D([], [], color="0.4", lw=1, ls="--", label="level 2")]
    handles, _ = axes[1].get_legend_handles_labels()
    _suptitle(fig, f"SAM schedules, ρ={float(ds.attrs['rho']):g}, η₀={float(ds.attrs['lr']):g}; {ds.attrs['dataset']}")
    fig.tight_layout()  # before the legends below the panels, which the saved canvas grows to hold
    _outside_legend(axes[0])
    _outside_legend(axes[1], handles=handles + key, ncol=2)
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
ALIGN_RANGE = (1 - np.sqrt(2), 1.0)  # Align(ε, v₁) of an orthogonal and of a parallel ε


def perturbation_data(stores: list[str], options: dict) -> xr.Dataset:
    """Align(ε, v₁) and λmax per seed (few seeds: every one is drawn) and their mean over seeds."""
    store, sub, rho, lr = _cells(stores, options, one_lr=True)
    ds = xr.Dataset()
    for name, values, long_name in (("align", sub.perturbation_alignment, "Align(epsilon, v1) of eigen-sam"),
                                    ("lambda_max", sub.eigenvalues.isel(eig_index=0, drop=True), "largest Hessian eigenvalue")):
        ds[name] = values.assign_attrs(units="1", long_name=f"{long_name}, per seed")
        ds[f"{name}_mean"] = values.mean("seed").assign_attrs(units="1", long_name=f"{long_name}, mean over seeds")
        ds["n_seeds"] = _surviving(values.notnull().sum("seed"))
    ds["seed"].attrs.update(units="1", long_name="training seed")
    return _finish(ds, store, rho=rho, lr=lr)


def draw_perturbation(ds: xr.Dataset):
    fig, axes = _panels(2, width=5)
    n = int(ds.n_seeds)
    for ax, name, label in ((axes[0], "align", r"Align($\epsilon$, $v_1$)"), (axes[1], "lambda_max", r"$\lambda_{\max}$")):
        line = ax.plot(ds.step, ds[f"{name}_mean"], lw=1.8, label=f"SAM ρ={float(ds.attrs['rho']):g}, mean over n={n} seeds")[0]
        for i, seed in enumerate(ds.seed.values):
            ax.plot(ds.step, ds[name].sel(seed=seed), color=line.get_color(), lw=0.7, alpha=0.5, label="each seed" if i == 0 else None)
        ax.set(xlabel="step", ylabel=label)
        ax.legend(frameon=False, fontsize="x-small")
    for level in ALIGN_RANGE:
        axes[0].axhline(level, color="0.5", ls=":", lw=1)
    low, high = ALIGN_RANGE
    axes[0].set_ylim(low - 0.05, high + 0.05)
    mean = float(ds.align_mean.mean())
    axes[0].set_title(f"mean Align {mean:.2f} (1 = aligned, 1−√2 ≈ {low:.2f} = orthogonal)", fontsize="small", loc="left")
    _suptitle(fig, ds.attrs["dataset"])
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
