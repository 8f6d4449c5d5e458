"""Figures and tables of the switching study (late-sam Figs. 1, 3, 5, 7, 9).

Each figure is computed in two steps: ``*_data`` reduces study stores to exactly the numbers
that are plotted (saved beside the figure as netCDF), ``draw_*`` plots only those numbers.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..catalog import entry
from ..store import read

SGD_LIKE = ("sgd", "gd")
LABELS = {"sgd": "SGD", "gd": "GD", "sam": "SAM", "usam": "USAM", "asam": "ASAM"}


def _mean_std(values: xr.DataArray, dim: str = "seed") -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Mean and std over seeds, leaving out diverged (NaN) runs; also the count used."""
    count = values.notnull().sum(dim)
    mean = values.mean(dim, skipna=True)
    std = values.std(dim, skipna=True, ddof=0)
    return mean, std, count


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
    picks = {LABELS[first]: T, LABELS[second]: 0, f"{LABELS[first]}→{LABELS[second]} (t={t})": t}
    error = xr.concat([store["test_error"].sel(switch_epoch=s) for s in picks.values()], dim="schedule", coords="minimal", compat="override")
    error = error.drop_vars("switch_epoch").assign_coords(schedule=list(picks))
    error = error.sel(epoch=error.epoch > options.get("skip_epochs", 0))
    mean, std, count = _mean_std(100 * error)
    ds = xr.Dataset(
        {
            "test_error_mean": mean.assign_attrs(units="%", long_name="test error, mean over seeds"),
            "test_error_std": std.assign_attrs(units="%", long_name="test error, std over seeds"),
            "n_seeds": count.assign_attrs(long_name="seeds not diverged"),
        }
    )
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
    ax.set(xlabel="epoch", ylabel="test error (%)", title=f"switch at t={ds.attrs['switch_epoch']} of T={ds.attrs['epochs']}")
    ax.legend(frameon=False)
    return fig


# -- LS-F3/F5/F7/F9: final gaps and sharpness vs SAM proportion -----------------------------
def proportion_data(store_paths: list[str], direction: str) -> xr.Dataset:
    """Per study and switch epoch: final test-loss/-error gaps to the pure SAM-like run and
    final λmax, mean ± std over seeds, against the fraction of epochs spent with SAM."""
    per_study = []
    for path in store_paths:
        store = read(path).sel(direction=direction)
        T = int(store.switch_epoch.max())
        first, second, sam_like = _roles(direction)
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
            mean, std, count = _mean_std(values)
            ds[f"{name}_mean"], ds[f"{name}_std"] = mean, std
        ds["n_seeds"] = count.copy(data=count.values).assign_attrs(long_name="seeds not diverged (of the final-epoch gap)", units="1")
        ds = ds.drop_vars(["epoch", "direction"], errors="ignore").assign_coords(sam_proportion=("switch_epoch", proportion.values))
        per_study.append(ds.expand_dims(study=[str(store.attrs.get("study", path))]))
    out = xr.concat(per_study, dim="study", join="outer", coords="different", compat="equals")
    out["test_loss_gap_mean"].attrs.update(long_name="final test loss minus full SAM's", units="1")
    out["test_error_gap_mean"].attrs.update(long_name="final test error minus full SAM's", units="%")
    out["lambda_max_mean"].attrs.update(long_name="largest Hessian eigenvalue of the final model", units="1")
    out.attrs.update(direction=direction, sam_optimizer=_roles(direction)[2])
    return out


def draw_proportion(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    panels = [("test_loss_gap", "test loss gap"), ("test_error_gap", "test error gap (%)"), ("lambda_max", r"final $\lambda_{\max}$")]
    n = ds.sizes["study"]
    fig, axes = plt.subplots(n, 3, figsize=(10, 2.8 * n), squeeze=False)
    first, second = ds.attrs["direction"].split("->")
    sam = LABELS[ds.attrs["sam_optimizer"]]
    for row, study in enumerate(ds.study.values):
        sub = ds.sel(study=study).dropna("switch_epoch", how="all")
        x = sub.sam_proportion.values
        order = np.argsort(x)
        for col, (name, label) in enumerate(panels):
            ax = axes[row, col]
            m, s = sub[f"{name}_mean"].values[order], sub[f"{name}_std"].values[order]
            ax.errorbar(x[order], m, yerr=s, marker="o", ms=4, capsize=3)
            if name != "lambda_max":
                ax.axhline(0, color="0.4", lw=1, ls=":")
            ax.set(xlabel=f"{sam} proportion", ylabel=label)
            if col == 0:
                ax.set_title(f"{study}: {LABELS[first]}→{LABELS[second]}", loc="left")
        axes[row, 1].set_title(_baseline_summary(sub, sam), fontsize="small", loc="left")
    fig.tight_layout()
    return fig


def _baseline_summary(sub: xr.Dataset, sam: str) -> str:
    """What the two pure runs show, stated on the figure whichever way it comes out."""
    pure_sgd = sub.isel(switch_epoch=int(sub.sam_proportion.values.argmin()))
    gap, std = float(pure_sgd.test_error_gap_mean), float(pure_sgd.test_error_gap_std)
    if not np.isfinite(gap):
        return "no comparison: every seed of a pure run diverged (see n_seeds in the figure data)"
    verdict = f"{sam} generalizes better" if gap > std else f"{sam} not better here"
    lam_sgd = float(pure_sgd.lambda_max_mean)
    lam_sam = float(sub.isel(switch_epoch=int(sub.sam_proportion.values.argmax())).lambda_max_mean)
    return f"pure SGD − pure {sam}: test error {gap:+.2f} ± {std:.2f} pts ({verdict}); λmax {lam_sgd:.3g} vs {lam_sam:.3g}"


def proportion_table(ds: xr.Dataset):
    """One row per study and switch epoch; CSV keeps mean and std as separate columns."""
    frame = ds.to_dataframe().reset_index()
    columns = ["study", "switch_epoch", "sam_proportion"]
    columns += [c for c in ds.data_vars if c != "n_seeds"] + ["n_seeds"]
    return frame[columns].dropna(subset=["n_seeds"]).sort_values(["study", "switch_epoch"])


def _direction(exp_id: str, options: dict) -> str:
    return options.get("direction") or entry(exp_id).default_direction


FIGURES = {
    "LS-F1": (lambda stores, options: curves_data(stores[0], options, _direction("LS-F1", options)), draw_curves),
    **{
        fig_id: (lambda stores, options, fig_id=fig_id: proportion_data(stores, _direction(fig_id, options)), draw_proportion)
        for fig_id in ("LS-F3", "LS-F5", "LS-F7", "LS-F9")
    },
}
TABLES = {
    table_id: lambda stores, options, table_id=table_id: proportion_table(proportion_data(stores, _direction(table_id, options)))
    for table_id in ("LS-F3", "LS-F5")
}
