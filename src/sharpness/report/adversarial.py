"""LS-F6 (late-sam Fig. 6): switching from SGD to adversarial training late.

Left: robust (L∞ PGD) and natural test error along training for SGD, AT and SGD→AT switched
late. Right: the final robust and natural test errors against the AT proportion (T − t)/T.
Both from a switching study whose runs record ``robust_test_error`` (``robust_eval``).
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from ..store import read
from .stats import mean_sd
from .switching import SD_NOTE, label

ERRORS = {"test_error": "natural", "robust_test_error": "robust"}


def at_switch_data(store_paths: list[str], options: dict) -> xr.Dataset:
    store = read(store_paths[0])
    direction = options.get("direction") or "sgd->at"
    if "robust_test_error" not in store:
        raise ValueError(f"{store_paths[0]}: LS-F6 needs a study with robust_eval (no robust_test_error in its store)")
    sub = store.sel(direction=direction)
    T = int(sub.switch_epoch.max())
    t = options.get("switch_epoch") or max(int(s) for s in sub.switch_epoch if 0 < s < T)
    first, second = direction.split("->")
    ds = xr.Dataset()
    picks = {label(first): T, label(second): 0, f"{label(first)}→{label(second)} (t={t})": t}
    for name in ERRORS:
        curves = xr.concat([100 * sub[name].sel(switch_epoch=s, drop=True) for s in picks.values()], dim="schedule")
        ds[f"{name}_mean"], ds[f"{name}_sd"], ds["n_seeds"] = mean_sd(curves.assign_coords(schedule=list(picks)))
        final = 100 * sub[name].isel(epoch=-1, drop=True)
        ds[f"final_{name}_mean"], ds[f"final_{name}_sd"], ds["final_n_seeds"] = mean_sd(final)
    ds = ds.assign_coords(at_proportion=("switch_epoch", ((T - sub.switch_epoch) / T).values))
    for name, kind in ERRORS.items():
        ds[f"{name}_mean"].attrs.update(long_name=f"{kind} test error, mean over seeds", units="%")
        ds[f"{name}_sd"].attrs.update(long_name=f"{kind} test error, sample standard deviation over seeds (ddof = 1)", units="%")
        ds[f"final_{name}_mean"].attrs.update(long_name=f"final {kind} test error, mean over seeds", units="%")
        ds[f"final_{name}_sd"].attrs.update(long_name=f"final {kind} test error, sample sd over seeds (ddof = 1)", units="%")
    ds["n_seeds"].attrs.update(long_name="seeds not diverged", units="1")
    ds["final_n_seeds"].attrs.update(long_name="seeds not diverged at the final epoch, per switch epoch", units="1")
    ds["at_proportion"].attrs.update(long_name="fraction of the epochs trained adversarially", units="1")
    ds["switch_epoch"].attrs.update(long_name="switch epoch t", units="1")
    ds["epoch"].attrs.update(long_name="epoch", units="1")
    attack = json.loads(store.attrs["config"]).get("robust_eval", {})
    ds.attrs.update(direction=direction, switch_epoch=t, epochs=T, attack=json.dumps(attack, sort_keys=True), study=str(store.attrs["study"]))
    return ds


def draw_at_switch(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    styles = {"test_error": "-", "robust_test_error": "--"}
    for i, schedule in enumerate(ds.schedule.values):
        for name, ls in styles.items():
            m, s = ds[f"{name}_mean"].sel(schedule=schedule), ds[f"{name}_sd"].sel(schedule=schedule)
            left.plot(ds.epoch, m, ls=ls, color=f"C{i}", label=f"{schedule}, {ERRORS[name]}")
            left.fill_between(ds.epoch, m - s, m + s, color=f"C{i}", alpha=0.15)
    left.axvline(ds.attrs["switch_epoch"], color="0.4", ls=":", lw=1)
    n = int(ds.n_seeds.min())
    left.set(xlabel="epoch", ylabel="test error (%)", title=f"{ds.attrs['study']}: {SD_NOTE}, n = {n}")
    left.title.set_fontsize("small")
    x = ds.at_proportion.values
    order = np.argsort(x)
    for name, ls in styles.items():
        m, s = ds[f"final_{name}_mean"].values[order], ds[f"final_{name}_sd"].values[order]
        right.errorbar(x[order], m, yerr=s, ls=ls, marker="o", ms=3, capsize=2, label=ERRORS[name])
    attack = json.loads(ds.attrs["attack"])
    right.set(xlabel="AT proportion (T − t)/T", ylabel="final test error (%)",
              title=f"PGD-{attack.get('steps', '')}, ε = {attack.get('epsilon', float('nan')) * 255:.0f}/255; "
                    f"{SD_NOTE}, n = {int(ds.final_n_seeds.min())}")
    right.title.set_fontsize("small")
    right.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    # Below the panel: inside, it covered the bands of the curves.
    left.legend(frameon=False, fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    return fig


FIGURES = {"LS-F6": (at_switch_data, draw_at_switch)}
