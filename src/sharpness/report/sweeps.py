"""Figures and tables that compare optimizers run alone, or one setting swept, in a switching study.

- ES-T1 (eigen-sam Table 1): final test accuracy of SGD, SAM and Eigen-SAM, mean ± 95 % CI.
- ES-T2 (eigen-sam Table 2): the same for runs fine-tuned from a pretrained model (``init_from``).
- ES-T3/T4 (eigen-sam Tables 3, 4): Eigen-SAM's accuracy against its refresh period p.
- LS-F15 (late-sam Fig. 15): SAM→SGD for several ρ, final test loss and error vs SAM proportion.

A study's "pure" run of an optimizer label is the end of a direction that names it: ``a->b``
at t = T is ``a`` alone, at t = 0 ``b`` alone (:func:`pure_runs`). Settings come from the
study's config, stored in the store's ``config`` attribute.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import xarray as xr

from ..config.base import TRAIN_SIZES
from ..store import read
from .stats import ci95, mean_sd
from .switching import SD_NOTE

CI_NOTE = "mean ± half-width of the 95 % Student-t interval over seeds"

# eigen-sam Tables 1 and 2 as printed, test accuracy (%): (model, dataset) -> {optimizer type: accuracy}.
PAPER_ACCURACY = {
    ("resnet18", "cifar10"): {"sgd": 94.8, "sam": 95.5, "eigen_sam": 95.9},
    ("resnet18", "cifar100"): {"sgd": 74.6, "sam": 77.4, "eigen_sam": 78.3},
    ("wrn", "cifar10"): {"sgd": 95.7, "sam": 96.5, "eigen_sam": 96.8},
    ("wrn", "cifar100"): {"sgd": 79.8, "sam": 82.0, "eigen_sam": 82.8},
    # Table 2: ViT-B/16 fine-tuned from ImageNet-1K weights.
    ("vit_b16", "cifar10"): {"sgd": 98.0, "sam": 98.4, "eigen_sam": 98.5},
    ("vit_b16", "cifar100"): {"sgd": 88.6, "sam": 89.5, "eigen_sam": 89.8},
}


def pure_runs(store: xr.Dataset) -> dict[str, xr.Dataset]:
    """Optimizer label → its run alone for all T epochs (variables over seed × epoch)."""
    T = int(store.switch_epoch.max())
    runs = {}
    for direction in store.direction.values:
        first, second = str(direction).split("->")
        runs.setdefault(first, store.sel(direction=direction, switch_epoch=T))
        runs.setdefault(second, store.sel(direction=direction, switch_epoch=0))
    return runs


def _settings(store: xr.Dataset) -> tuple[dict, dict]:
    cfg = json.loads(store.attrs["config"])
    return cfg, cfg["optimizers"]


def _kind(settings: dict, name: str) -> str:
    return settings.get("type", name)


def _final_accuracy(run: xr.Dataset) -> np.ndarray:
    """Per seed, 100 − final test error (%); NaN for a diverged seed."""
    return 100 * (1 - run.test_error.isel(epoch=-1).values)


def _accuracy_row(study: str, name: str, run: xr.Dataset, settings: dict) -> dict:
    accuracy = xr.DataArray(_final_accuracy(run), dims="seed")
    mean, half, n = ci95(accuracy)
    return {
        "study": study, "optimizer": name, "type": _kind(settings, name), "rho": settings.get("rho", 0.0),
        "test_accuracy_mean": float(mean), "test_accuracy_ci95": float(half), "n_seeds": int(n),
    }


# -- ES-T1 -----------------------------------------------------------------------------------
def accuracy_table(store_paths: list[str], options: dict, paper_table: int = 1) -> pd.DataFrame:
    """Per study and optimizer run alone: final test accuracy, mean ± 95 % CI over seeds; with
    the paper's number beside it (from eigen-sam's Table ``paper_table``) where the study is one
    eigen-sam reports."""
    rows = []
    for path in store_paths:
        store = read(path)
        cfg, settings = _settings(store)
        wanted = options.get("optimizers")
        paper = PAPER_ACCURACY.get((cfg["model"]["name"], cfg["dataset"]["name"]), {})
        for name, run in pure_runs(store).items():
            if wanted and name not in wanted:
                continue
            row = _accuracy_row(str(store.attrs["study"]), name, run, settings[name])
            row["paper_accuracy"] = paper.get(row["type"], np.nan)
            if cfg.get("init_from"):
                row["initialised_from"] = f"{cfg['init_from']['study']}/{cfg['init_from']['run']}"
            rows.append(row)
    frame = pd.DataFrame(rows)
    return _with_units(frame, f"test accuracy: {CI_NOTE}; paper_accuracy: eigen-sam Table {paper_table} as printed "
                              "(blank: not a setting it reports)")


# -- ES-T3/T4 --------------------------------------------------------------------------------
def refresh_table(store_paths: list[str], options: dict) -> pd.DataFrame:
    """Eigen-SAM's final test accuracy against its refresh period p at one α (the α of most of
    the study's Eigen-SAM runs: other α belong to ES-F3), with SAM as the p → ∞ reference; mean
    ± 95 % CI over seeds."""
    rows = []
    for path in store_paths:
        store = read(path)
        cfg, settings = _settings(store)
        steps = steps_alone(cfg)
        runs = {n: r for n, r in pure_runs(store).items() if _kind(settings[n], n) in ("eigen_sam", "sam")}
        alphas = [_alpha(settings[n]) for n in runs if _kind(settings[n], n) == "eigen_sam"]
        alpha = max(sorted(set(alphas)), key=alphas.count) if alphas else None
        for name, run in runs.items():
            eigen = _kind(settings[name], name) == "eigen_sam"
            if eigen and _alpha(settings[name]) != alpha:
                continue
            row = _accuracy_row(str(store.attrs["study"]), name, run, settings[name])
            p = int(settings[name].get("refresh_every", 100)) if eigen else np.nan
            counted = eigen and steps is not None
            row["refresh_every"] = p
            row["refreshes"], row["steps"] = (refreshes(steps, p), steps) if counted else (np.nan, np.nan)
            row["alpha"] = _alpha(settings[name]) if eigen else np.nan
            rows.append(row)
    frame = pd.DataFrame(rows).sort_values(["study", "type", "refresh_every"], na_position="last")
    note = (f"{CI_NOTE}; refresh_every: p, SGD steps between top-eigenvector estimates; refreshes: how often a run "
            "of `steps` steps renews the estimate after its first, at step 0: (steps − 1) // p; SAM has none")
    return _with_units(frame, note + _few_refreshes(frame))


def steps_alone(cfg: dict) -> int | None:
    """Optimizer steps of a run trained alone for all T epochs of switching study ``cfg``:
    T · ⌈n / batch_size⌉, an epoch's last minibatch being partial (``Trainer.train_epoch``); None
    where n is known only once the data is prepared (a class subset, text windows)."""
    dataset = cfg["dataset"]
    size = TRAIN_SIZES.get(dataset["name"])
    if size is None or dataset.get("classes"):
        return None
    n = min(size, dataset.get("n_train") or size)
    return cfg["epochs"] * math.ceil(n / cfg["batch_size"])


def refreshes(steps: int, p: int) -> int:
    """How often Eigen-SAM re-estimates its top eigenvector in ``steps`` steps with refresh
    period ``p``: it estimates at steps 0, p, 2p, … < steps (``EigenSAM.refresh_due``), and the
    estimate at step 0 is the first, not a refresh."""
    return (steps - 1) // p


def _few_refreshes(frame: pd.DataFrame) -> str:
    """The note's warning for the Eigen-SAM rows whose p refreshes fewer than twice a run: they
    hardly differ from never refreshing, so they do not test p."""
    few = frame[frame.refreshes < 2]
    if few.empty:
        return ""
    rows = ", ".join(f"{r.study} p = {r.refresh_every:.0f} ({r.refreshes:.0f} in {r.steps:.0f} steps)" for r in few.itertuples())
    return f"; fewer than two refreshes per run, so not a test of p: {rows}"


def _alpha(settings: dict) -> float:
    return float(settings.get("alpha", 0.2))


_UNITS = {"rho": "1", "test_accuracy_mean": "%", "test_accuracy_ci95": "%", "paper_accuracy": "%", "refresh_every": "steps", "refreshes": "per run", "steps": "per run", "alpha": "1"}


def _with_units(frame: pd.DataFrame, note: str) -> pd.DataFrame:
    frame = frame.rename(columns={c: f"{c} [{u}]" for c, u in _UNITS.items() if c in frame})
    frame.attrs["note"] = note
    return frame


# -- α sensitivity (ES-F3, left) -------------------------------------------------------------
def alpha_accuracy(store: xr.Dataset) -> xr.Dataset | None:
    """Final test accuracy of the Eigen-SAM runs alone against α (mean ± sample sd over seeds),
    None when the study runs Eigen-SAM with fewer than two α."""
    _, settings = _settings(store)
    by_alpha = {}
    for name, run in pure_runs(store).items():
        s = settings[name]
        if _kind(s, name) == "eigen_sam" and int(s.get("refresh_every", 100)) == 100:
            by_alpha[_alpha(s)] = xr.DataArray(_final_accuracy(run), dims="seed")
    if len(by_alpha) < 2:
        return None
    alphas = sorted(by_alpha)
    values = xr.concat([by_alpha[a] for a in alphas], dim="alpha").assign_coords(alpha=alphas)
    mean, sd, n = mean_sd(values)
    return xr.Dataset({"alpha_accuracy_mean": mean, "alpha_accuracy_sd": sd, "alpha_n_seeds": n})


# -- LS-F15 ----------------------------------------------------------------------------------
def rho_sweep_data(store_paths: list[str], options: dict) -> xr.Dataset:
    """SAM→SGD for every SAM-type label with ρ, in one study: final test loss and error (not
    gaps: each ρ has its own full SAM) against the SAM proportion t/T, mean ± sample sd."""
    store_path = store_paths[0]
    store = read(store_path)
    _, settings = _settings(store)
    parts = []
    for direction in store.direction.values:
        first, second = str(direction).split("->")
        if _kind(settings[first], first) not in ("sam", "usam", "asam") or second not in ("sgd", "gd"):
            continue
        final = store.sel(direction=direction, epoch=int(store.epoch.max()))
        ds = xr.Dataset()
        for name, values in (("test_loss", final.test_loss), ("test_error", 100 * final.test_error)):
            ds[f"{name}_mean"], ds[f"{name}_sd"], ds["n_seeds"] = mean_sd(values)
        ds = ds.drop_vars(["epoch", "direction"], errors="ignore")
        parts.append(ds.expand_dims(rho=[float(settings[first]["rho"])]))
    if not parts:
        raise ValueError(f"{store_path}: LS-F15 needs directions <SAM label> -> sgd (one per rho)")
    T = int(store.switch_epoch.max())
    out = xr.concat(parts, dim="rho").sortby("rho")
    out = out.assign_coords(sam_proportion=("switch_epoch", (out.switch_epoch / T).values))
    out["test_loss_mean"].attrs.update(long_name="final test loss, mean over seeds", units="1")
    out["test_loss_sd"].attrs.update(long_name="final test loss, sample standard deviation over seeds (ddof = 1)", units="1")
    out["test_error_mean"].attrs.update(long_name="final test error, mean over seeds", units="%")
    out["test_error_sd"].attrs.update(long_name="final test error, sample standard deviation over seeds (ddof = 1)", units="%")
    out["n_seeds"].attrs.update(long_name="seeds not diverged", units="1")
    out["rho"].attrs.update(long_name="SAM radius of the first phase", units="1")
    out["sam_proportion"].attrs.update(long_name="fraction of the epochs trained with SAM (t/T)", units="1")
    out["switch_epoch"].attrs.update(long_name="switch epoch t", units="1")
    out.attrs.update(study=str(store.attrs["study"]), epochs=T, error_bars=SD_NOTE)
    return out


def draw_rho_sweep(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.4))
    x = ds.sam_proportion.values
    order = np.argsort(x)
    for rho in ds.rho.values:
        sub = ds.sel(rho=rho)
        for ax, name in zip(axes, ("test_loss", "test_error")):
            m, s = sub[f"{name}_mean"].values[order], sub[f"{name}_sd"].values[order]
            ax.errorbar(x[order], m, yerr=s, marker="o", ms=3, capsize=2, label=f"ρ = {rho:g}")
    n = int(ds.n_seeds.min())
    axes[0].set(xlabel="SAM proportion t/T", ylabel="final test loss", title=f"{ds.attrs['study']}: SAM→SGD; {SD_NOTE}, n = {n}")
    axes[1].set(xlabel="SAM proportion t/T", ylabel="final test error (%)")
    axes[0].title.set_fontsize("small")
    axes[1].legend(frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


FIGURES = {"LS-F15": (rho_sweep_data, draw_rho_sweep)}
TABLES = {
    "ES-T1": accuracy_table,
    "ES-T2": lambda stores, options: accuracy_table(stores, options, paper_table=2),
    "ES-T3": refresh_table,
    "ES-T4": refresh_table,
}
