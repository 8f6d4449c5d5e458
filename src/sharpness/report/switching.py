"""Figures and tables of the switching study (late-sam Figs. 1, 3, 5, 7, 9).

Each figure is computed in two steps: ``*_data`` reduces study stores to exactly the numbers
that are plotted (saved beside the figure as netCDF), ``draw_*`` plots only those numbers.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..catalog import entry
from ..store import read
from .stats import mean_sd

SGD_LIKE = ("sgd", "gd", "adamw", "at")
LABELS = {"sgd": "SGD", "gd": "GD", "sam": "SAM", "usam": "USAM", "asam": "ASAM", "eigen_sam": "Eigen-SAM", "adamw": "AdamW", "at": "AT"}
SD_NOTE = "mean ± sample sd over seeds (ddof = 1)"


def label(optimizer: str) -> str:
    """How an optimizer label reads on a figure (labels of the user's own stay as they are)."""
    return LABELS.get(optimizer, optimizer)


def _roles(direction: str) -> tuple[str, str, str]:
    """(first, second, the SAM-like optimizer of the direction)."""
    first, second = direction.split("->")
    sam_like = second if first in SGD_LIKE else first
    return first, second, sam_like


# -- LS-F1: test error vs epoch -------------------------------------------------------------
def curves_data(store_path: str, options: dict, direction: str) -> xr.Dataset:
    store = read(store_path).sel(direction=direction)
    T = int(store.switch_epoch.max())
    t = options.get("switch_epoch") or max(int(s) for s in store.switch_epoch if 0 < s < T)
    first, second, _ = _roles(direction)
    picks = {label(first): T, label(second): 0, f"{label(first)}→{label(second)} (t={t})": t}
    error = xr.concat([store["test_error"].sel(switch_epoch=s) for s in picks.values()], dim="schedule", coords="minimal", compat="override")
    error = error.drop_vars("switch_epoch").assign_coords(schedule=list(picks))
    error = error.sel(epoch=error.epoch > options.get("skip_epochs", 0))
    mean, std, count = mean_sd(100 * error)
    ds = xr.Dataset(
        {
            "test_error_mean": mean.assign_attrs(units="%", long_name="test error, mean over seeds"),
            "test_error_std": std.assign_attrs(units="%", long_name="test error, sample standard deviation over seeds (ddof = 1)"),
            "n_seeds": count.assign_attrs(units="1", long_name="seeds not diverged"),
        }
    )
    ds["epoch"].attrs.update(units="1", long_name="epoch")
    ds["schedule"].attrs.update(units="1", long_name="training schedule: first optimizer, second optimizer, or switched at t")
    ds.attrs.update(direction=direction, switch_epoch=t, epochs=T, source=store_path)
    return ds


def draw_curves(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for schedule in ds.schedule.values:
        m, s = ds.test_error_mean.sel(schedule=schedule), ds.test_error_std.sel(schedule=schedule)
        ax.plot(ds.epoch, m, label=str(schedule))
        ax.fill_between(ds.epoch, m - s, m + s, alpha=0.25)
    ax.axvline(ds.attrs["switch_epoch"], color="0.4", ls=":", lw=1)
    n = int(ds.n_seeds.min())
    ax.set(
        xlabel="epoch", ylabel="test error (%)",
        title=f"switch at t={ds.attrs['switch_epoch']} of T={ds.attrs['epochs']}; {SD_NOTE}, n = {n}",
    )
    ax.title.set_fontsize("small")
    ax.legend(frameon=False)
    return fig


# -- LS-F3/F5/F7/F9: final gaps and sharpness vs SAM proportion -----------------------------
GAP_SIGN = "run − full {sam}"  # every gap is this run's value minus the pure SAM-like run's


def proportion_data(store_paths: list[str], direction: str) -> xr.Dataset:
    """Per study and switch epoch: final test-loss/-error gaps to the pure SAM-like run (run −
    full SAM, per seed, then mean ± sample sd) and final λmax, against the fraction of epochs
    spent with SAM; also how many seeds had converged at T."""
    per_study = [_proportion_one(path, direction) for path in store_paths]
    out = xr.concat(per_study, dim="study", join="outer", coords="different", compat="equals")
    sam = label(_roles(direction)[2])
    sign = GAP_SIGN.format(sam=sam)
    described = {
        "test_loss_gap": (f"final test loss, {sign}", "1"),
        "test_error_gap": (f"final test error, {sign}", "percentage points"),
        "lambda_max": ("largest Hessian eigenvalue of the final model", "1"),
    }
    for name, (long_name, units) in described.items():
        out[f"{name}_mean"].attrs.update(long_name=f"{long_name}, mean over seeds", units=units)
        out[f"{name}_std"].attrs.update(long_name=f"{long_name}, sample standard deviation over seeds (ddof = 1)", units=units)
    out["n_seeds"].attrs.update(long_name="seeds not diverged (of the final-epoch gap)", units="1")
    out["n_converged"].attrs.update(long_name="seeds whose training loss had settled at T (train_converged)", units="1")
    out["sam_proportion"].attrs.update(long_name=f"fraction of the epochs trained with {sam}", units="1")
    out["switch_epoch"].attrs.update(long_name="switch epoch t", units="1")
    out.attrs.update(direction=direction, sam_optimizer=_roles(direction)[2], gap_sign=sign, error_bars=SD_NOTE)
    return out


def _proportion_one(path: str, direction: str) -> xr.Dataset:
    store = read(path).sel(direction=direction)
    T = int(store.switch_epoch.max())
    first, _, sam_like = _roles(direction)
    full_sam = T if first == sam_like else 0
    final = store.sel(epoch=T)
    proportion = (store.switch_epoch / T) if first == sam_like else (T - store.switch_epoch) / T
    quantities = {
        "test_loss_gap": final.test_loss - final.test_loss.sel(switch_epoch=full_sam),
        "test_error_gap": 100 * (final.test_error - final.test_error.sel(switch_epoch=full_sam)),
        "lambda_max": store.lambda_max,
    }
    ds = xr.Dataset()
    for name, values in quantities.items():
        mean, std, count = mean_sd(values)
        ds[f"{name}_mean"], ds[f"{name}_std"] = mean, std
    ds["n_seeds"] = count.copy(data=count.values)
    if "train_converged" in store:
        ds["n_converged"] = store.train_converged.sum("seed")
    else:  # a store collected before the convergence rule existed: nothing is known
        ds["n_converged"] = xr.full_like(count, -1)
    ds = ds.drop_vars(["epoch", "direction"], errors="ignore").assign_coords(sam_proportion=("switch_epoch", proportion.values))
    return ds.expand_dims(study=[str(store.attrs.get("study", path))])


def draw_proportion(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    sign = ds.attrs.get("gap_sign", "run − full SAM")
    panels = [
        ("test_loss_gap", f"test loss gap\n({sign})"),
        ("test_error_gap", f"test error gap (points)\n({sign})"),
        ("lambda_max", r"final $\lambda_{\max}$"),
    ]
    n = ds.sizes["study"]
    fig, axes = plt.subplots(n, 3, figsize=(10.5, 3.0 * n + 0.4), squeeze=False)
    first, second = ds.attrs["direction"].split("->")
    sam = label(ds.attrs["sam_optimizer"])
    for row, study in enumerate(ds.study.values):
        sub = ds.sel(study=study).dropna("switch_epoch", how="all")
        x = sub.sam_proportion.values
        order = np.argsort(x)
        settled = (sub.n_converged.values == sub.n_seeds.values)[order]
        for col, (name, ylabel) in enumerate(panels):
            ax = axes[row, col]
            m, s = sub[f"{name}_mean"].values[order], sub[f"{name}_std"].values[order]
            ax.errorbar(x[order], m, yerr=s, color="C0", lw=1, capsize=3, zorder=1)
            ax.scatter(x[order][settled], m[settled], color="C0", s=22, zorder=2, label="converged at T (all seeds)")
            ax.scatter(x[order][~settled], m[~settled], facecolor="white", edgecolor="C0", s=22, zorder=2, label="not converged at T (some seeds)")
            if name != "lambda_max":
                ax.axhline(0, color="0.4", lw=1, ls=":")
            ax.set(xlabel=f"{sam} proportion", ylabel=ylabel)
            if col == 0:
                seeds = int(sub.n_seeds.max())
                ax.set_title(f"{study}: {label(first)}→{label(second)}, n = {seeds} seeds", loc="left", fontsize="small")
        base = label(first if second == ds.attrs["sam_optimizer"] else second)
        axes[row, 1].set_title(_baseline_summary(sub, base, sam), fontsize="small", loc="left")
        if (~settled).any():
            axes[row, 2].legend(frameon=False, fontsize="x-small")
    fig.suptitle(f"error bars: {SD_NOTE}; open markers: training loss not settled at T", fontsize="small", y=0.995)
    fig.tight_layout()
    return fig


def _baseline_summary(sub: xr.Dataset, base: str, sam: str) -> str:
    """What the two pure runs show, stated on the figure whichever way it comes out: the
    paired gap (pure base − pure SAM-like, per seed; base: SGD, AdamW, …) against twice its
    standard error."""
    pure_sgd = sub.isel(switch_epoch=int(sub.sam_proportion.values.argmin()))
    gap, sd, n = float(pure_sgd.test_error_gap_mean), float(pure_sgd.test_error_gap_std), int(pure_sgd.n_seeds)
    if not np.isfinite(gap):
        return "no comparison: every seed of a pure run diverged (see n_seeds in the figure data)"
    se = sd / np.sqrt(n) if n > 1 else float("nan")
    if not np.isfinite(se):
        verdict = "one seed: no error estimate"
    elif gap > 2 * se:
        verdict = f"{sam} better by > 2 SE"
    elif gap < -2 * se:
        verdict = f"{sam} worse by > 2 SE"
    else:
        verdict = "no difference beyond 2 SE"
    lam_base = float(pure_sgd.lambda_max_mean)
    lam_sam = float(sub.isel(switch_epoch=int(sub.sam_proportion.values.argmax())).lambda_max_mean)
    return f"pure {base} − pure {sam}: test error {gap:+.2f} ± {se:.2f} (SE) points, n = {n} ({verdict}); λmax {lam_base:.3g} vs {lam_sam:.3g}"


# Table columns: units in the header, as a reviewer reads them.
_TABLE_UNITS = {
    "sam_proportion": "fraction", "test_loss_gap_mean": "nats", "test_loss_gap_std": "nats",
    "test_error_gap_mean": "points", "test_error_gap_std": "points", "lambda_max_mean": "1", "lambda_max_std": "1",
}


def proportion_table(ds: xr.Dataset):
    """One row per study and switch epoch: gaps (run − full SAM), their sample sd over seeds,
    λmax, and n; the header carries the units. CSV keeps mean and sd as separate columns."""
    frame = ds.to_dataframe().reset_index()
    columns = ["study", "switch_epoch", "sam_proportion"]
    columns += [c for c in ds.data_vars if c not in ("n_seeds", "n_converged")] + ["n_seeds", "n_converged"]
    frame = frame[columns].dropna(subset=["n_seeds"]).sort_values(["study", "switch_epoch"])
    # A mean of per-seed gaps that cancel (+0.28 and −0.28 points) is 0 up to rounding (1e-16):
    # print the 0 it is. NaN (every seed diverged) stays NaN.
    gaps = [c for c in frame if "_gap_" in c]
    frame[gaps] = frame[gaps].mask(frame[gaps].abs() < 1e-12 * frame[gaps].abs().max(), 0.0)
    frame = frame.rename(columns={c: f"{c} [{u}]" for c, u in _TABLE_UNITS.items()})
    frame.attrs["note"] = f"gaps: {ds.attrs['gap_sign']}; {SD_NOTE}; n_converged: seeds whose training loss had settled at T"
    return frame


def _direction(exp_id: str, options: dict) -> str:
    return options.get("direction") or entry(exp_id).default_direction


FIGURES = {
    "LS-F1": (lambda stores, options: curves_data(stores[0], options, _direction("LS-F1", options)), draw_curves),
    **{
        fig_id: (lambda stores, options, fig_id=fig_id: proportion_data(stores, _direction(fig_id, options)), draw_proportion)
        for fig_id in ("LS-F3", "LS-F5", "LS-F7", "LS-F9", "LS-F8", "LS-F11", "LS-F12", "LS-F13")
    },
}
TABLES = {
    table_id: lambda stores, options, table_id=table_id: proportion_table(proportion_data(stores, _direction(table_id, options)))
    for table_id in ("LS-F3", "LS-F5")
}
