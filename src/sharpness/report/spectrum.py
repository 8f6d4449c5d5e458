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
from .stats import mean_sd
from .sweeps import alpha_accuracy
from .switching import LABELS, SD_NOTE


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
        ds = xr.Dataset({
            "density_mean": sub.density.mean("seed"),
            "lambda_max_mean": sub.spectrum_eigenvalues.isel(spectrum_eig_index=0).mean("seed"),
            "lambda_max": sub.spectrum_eigenvalues.isel(spectrum_eig_index=0, drop=True),
            "n_seeds": sub.density.notnull().all("eigenvalue").sum("seed"),
        })
        alpha = alpha_accuracy(store)
        if alpha is not None:
            ds = ds.merge(alpha)
        return ds.assign_attrs(checkpoint_epoch=epoch)

    ds = _per_study(store_paths, reduce)
    ds["density_mean"].attrs.update(long_name="spectral density, mean over seeds", units="1")
    ds["lambda_max_mean"].attrs.update(long_name="largest eigenvalue (Lanczos), mean over seeds", units="1")
    ds["lambda_max"].attrs.update(long_name="largest eigenvalue (Lanczos), per seed", units="1")
    ds["n_seeds"].attrs.update(long_name="seeds averaged", units="1")
    ds["eigenvalue"].attrs.update(long_name="Hessian eigenvalue (density grid)", units="1")
    if "alpha_accuracy_mean" in ds:
        ds["alpha_accuracy_mean"].attrs.update(long_name="final test accuracy of Eigen-SAM alone, mean over seeds", units="%")
        ds["alpha_accuracy_sd"].attrs.update(long_name="final test accuracy, sample standard deviation over seeds (ddof = 1)", units="%")
        ds["alpha_n_seeds"].attrs.update(long_name="seeds not diverged", units="1")
        ds["alpha"].attrs.update(long_name="Eigen-SAM's weight alpha of the top-eigenvector component", units="1")
    return ds


def draw_density(ds: xr.Dataset):
    if "alpha_accuracy_mean" in ds:
        return _draw_density_with_alpha(ds)
    fig, panels = _study_panels(ds)
    _draw_density_panels(panels)
    fig.tight_layout()
    return fig


def _draw_density_with_alpha(ds: xr.Dataset):
    import matplotlib.pyplot as plt

    n = ds.sizes["study"]
    fig, axes = plt.subplots(1, 2 * n, figsize=(9.5 * n, 3.4), squeeze=False)
    for i, study in enumerate(ds.study.values):
        sub = ds.sel(study=study)
        ax = axes[0, 2 * i]
        ok = sub.alpha_accuracy_mean.notnull()
        ax.errorbar(sub.alpha[ok], sub.alpha_accuracy_mean[ok], yerr=sub.alpha_accuracy_sd[ok], marker="o", capsize=3)
        ax.set(xlabel=r"Eigen-SAM $\alpha$", ylabel="final test accuracy (%)",
               title=f"{study}: {SD_NOTE}, n = {int(sub.alpha_n_seeds.min())}")
        ax.title.set_fontsize("small")
    _draw_density_panels([(axes[0, 2 * i + 1], study, ds.sel(study=study)) for i, study in enumerate(ds.study.values)])
    fig.tight_layout()
    return fig


def _draw_density_panels(panels) -> None:
    for ax, study, sub in panels:
        for opt in sub.optimizer.values:
            line = ax.semilogy(sub.eigenvalue, np.maximum(sub.density_mean.sel(optimizer=opt), 1e-8), label=LABELS.get(str(opt), opt))
            # Per seed: the seed-averaged density reaches the largest seed's λmax, past their mean.
            for lam in sub.lambda_max.sel(optimizer=opt).values:
                ax.axvline(lam, color=line[0].get_color(), ls=":", lw=1)
        ax.set(xlabel="eigenvalue", ylabel="density", title=f"{study}: end of training, mean over n = {int(sub.n_seeds.min())} seeds", ylim=(1e-6, None))
        ax.legend(frameon=False, title=r"dotted: $\lambda_{\max}$ of each seed")


# -- ES-F5: power-iteration alignment vs HVP steps ------------------------------------------
def power_alignment_data(store_paths: list[str], options: dict) -> xr.Dataset:
    def reduce(store):
        epoch = _pick_epoch(store, options, "first")
        mean, std, count = mean_sd(store.power_alignment.sel(checkpoint_epoch=epoch))
        return xr.Dataset({"alignment_mean": mean, "alignment_std": std, "n_seeds": count}).assign_attrs(checkpoint_epoch=epoch)

    ds = _per_study(store_paths, reduce)
    ds["alignment_mean"].attrs.update(long_name="|cos(v_t, v_1)| of the power-iteration iterate, mean over seeds", units="1")
    ds["alignment_std"].attrs.update(long_name="|cos(v_t, v_1)|, sample standard deviation over seeds (ddof = 1)", units="1")
    ds["n_seeds"].attrs.update(long_name="seeds not diverged", units="1")
    return ds


def draw_power_alignment(ds: xr.Dataset):
    fig, panels = _study_panels(ds)
    for ax, study, sub in panels:
        for opt in sub.optimizer.values:
            m, s = sub.alignment_mean.sel(optimizer=opt), sub.alignment_std.sel(optimizer=opt)
            ax.plot(sub.hvp_step, m, label=LABELS.get(str(opt), opt))
            ax.fill_between(sub.hvp_step, m - s, np.minimum(m + s, 1), alpha=0.25)
        n = int(sub.n_seeds.min())
        ax.set(xlabel="HVP steps", ylabel=r"$|\cos(v_t, v_1)|$", ylim=(0, 1.02),
               title=f"{study}: epoch {ds.attrs.get('checkpoint_epoch', '')}; {SD_NOTE}, n = {n}")
        ax.title.set_fontsize("small")
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig


# -- LS-T2: measured sharpness against the linear-stability bounds -------------------------
# late-sam proves Theorem 4.1 (and quotes SGD's bound) for SGD and unnormalized SAM without
# momentum or weight decay, on the squared loss, at a zero-loss minimum.
SQUARED_LOSSES = ("mse", "tanh_mse")
THEOREM_OPTIMIZERS = ("sgd", "gd", "usam")
# At most this final training loss counts as near zero: 1/250 of the squared loss of predicting
# 0.5 on two classes, and the cross-entropy of a 99.9 %-confident correct prediction.
NEAR_ZERO_LOSS = 1e-3
WITHIN_ASSUMPTIONS = "within the theorem's assumptions"

LS_T2_NOTE = (
    "late-sam's Theorem 4.1 (Table 2) is proved for SGD and unnormalized SAM without momentum or weight "
    "decay, on the squared loss, at a zero-loss minimum. Rows within its assumptions evaluate the bounds "
    "as stated, at eta = lr and USAM's rho. Rows outside name the assumptions that fail: the theorem does "
    "not apply to them, and the bounds are evaluated with corrections of ours, not the paper's (column "
    "correction: lr/(1 - momentum) for momentum, rho/||g|| for normalized SAM with ||g|| the epoch's mean "
    f"minibatch gradient norm). near_zero_loss: seeds whose training loss at the checkpoint is <= {NEAR_ZERO_LOSS:g}; "
    "n_converged: seeds whose loss had settled at T by the study's convergence rule. frobenius_sq_ci95: the "
    "largest half-width of a seed's 95 % interval (0: exact, from the dense Hessian; n_exact seeds). gamma, "
    "the loss and ||H||_F^2 come from the same fixed training subset; fraction_of_own_bound is ||H||_F^2 over "
    "its own bound per seed; mean ± sample sd (ddof = 1) over n seeds"
)


def stability_table(store_paths: list[str], options: dict) -> pd.DataFrame:
    """Per study and optimizer: ‖H‖²_F and γ at the checkpoint (mean ± sample sd over seeds),
    late-sam's Table 2 bounds evaluated per seed with that seed's γ, the fraction of its bound,
    the training loss, and which of the theorem's assumptions the runs break (see
    :data:`LS_T2_NOTE`)."""
    rows = []
    for path in store_paths:
        store = read(path)
        cfg = json.loads(store.attrs["config"])
        epoch = _pick_epoch(store, options, "last")
        for opt in store.optimizer.values:
            rows.append(_stability_row(store, cfg, str(opt), epoch))
    frame = pd.DataFrame(rows)
    frame = frame.rename(columns={c: f"{c} [{u}]" for c, u in _LS_T2_UNITS.items() if c in frame})
    frame.attrs["note"] = LS_T2_NOTE
    return frame


_LS_T2_UNITS = {
    "lr": "1", "lr_effective": "1", "rho": "1", "rho_effective": "1", "final_train_loss_mean": "1",
    "frobenius_sq_mean": "1", "frobenius_sq_std": "1", "frobenius_sq_ci95": "1", "gamma_mean": "1", "gamma_std": "1",
    "sgd_bound_mean": "1", "own_bound_mean": "1", "fraction_of_own_bound": "1", "fraction_of_own_bound_std": "1",
}


def theorem_assumptions_broken(cfg: dict, opt: str) -> list[str]:
    """The assumptions of late-sam's Theorem 4.1 that the runs of ``opt`` in a study break, in
    words (the loss, the optimizer, momentum, weight decay); [] where all hold."""
    settings = cfg["optimizers"][opt]
    kind = settings.get("type", opt)
    broken = [] if cfg["loss"] in SQUARED_LOSSES else [cfg["loss"].replace("_", "-")]
    if kind not in THEOREM_OPTIMIZERS:
        broken.append("normalized SAM" if kind == "sam" else kind)
    if settings.get("base", "sgd") != "sgd":
        broken.append(f"{settings['base']} base")
    if float(settings.get("momentum", 0.0)) > 0:
        broken.append("momentum")
    if float(settings.get("weight_decay", 0.0)) > 0:
        broken.append("weight decay")
    return broken


def assumptions_label(broken: list[str], n_near_zero: int, n_seeds: int) -> str:
    if broken:
        return f"outside the theorem's assumptions ({', '.join(broken)})"
    if n_near_zero < n_seeds:
        return f"{WITHIN_ASSUMPTIONS}, but the loss is not near zero for {n_seeds - n_near_zero} of {n_seeds} seeds"
    return WITHIN_ASSUMPTIONS


def _bound_inputs(settings: dict, opt: str, lr: float, grad_norm: np.ndarray) -> tuple[float, np.ndarray, str]:
    """(η, ρ per seed, the correction made) at which the bounds are evaluated. The theorem's own
    SGD and USAM need none; momentum and normalized SAM get ours (see :data:`LS_T2_NOTE`)."""
    rho, momentum = float(settings.get("rho", 0.0)), float(settings.get("momentum", 0.0))
    lr_used, rho_used, corrections = lr / (1 - momentum), np.full(len(grad_norm), rho), []
    if momentum > 0:
        corrections.append(f"eta = lr/(1 - momentum) = {lr_used:.3g}")
    if rho > 0 and settings.get("type", opt) != "usam":
        # Normalized SAM moves by ρ/‖g‖ times the gradient: USAM's radius at that gradient norm.
        rho_used = rho / grad_norm
        corrections.append("rho/||g|| for normalized SAM")
    return lr_used, rho_used, "; ".join(corrections) or "none"


def _stability_row(store: xr.Dataset, cfg: dict, opt: str, epoch: int) -> dict:
    settings = cfg["optimizers"][opt]
    sub = store.sel(optimizer=opt, checkpoint_epoch=epoch)
    pure = _pure_run(store, opt).sel(epoch=epoch)
    lr, rho, batch = float(pure.lr.mean()), float(settings.get("rho", 0.0)), cfg["batch_size"]
    broken = theorem_assumptions_broken(cfg, opt)
    row = {"study": str(store.attrs["study"]), "optimizer": opt, "epoch": epoch, "assumptions": assumptions_label(broken, 0, 0),
           "batch_size": batch, "lr": lr, "momentum": float(settings.get("momentum", 0.0)),
           "weight_decay": float(settings.get("weight_decay", 0.0)), "rho": rho}
    ok = np.isfinite(sub.frobenius_sq.values) & (sub.gamma.values > 0)  # diverged seeds are NaN
    if not ok.any():
        return {**row, "n_seeds": 0}
    frob, gamma, loss = sub.frobenius_sq.values[ok], sub.gamma.values[ok], pure.train_loss.values[ok]
    lr_used, rho_used, correction = _bound_inputs(settings, opt, lr, pure.grad_norm.values[ok])
    sgd_bound = theory.sgd_frobenius_bound(batch, lr_used, gamma)
    own_bound = theory.sam_frobenius_bound(batch, lr_used, rho_used, gamma) if rho > 0 else sgd_bound
    fraction, n_near_zero = frob / own_bound, int(np.sum(loss <= NEAR_ZERO_LOSS))
    return {
        **row, "assumptions": assumptions_label(broken, n_near_zero, int(ok.sum())), "correction": correction,
        "lr_effective": lr_used, "rho_effective": float(np.mean(rho_used)),
        "final_train_loss_mean": np.mean(loss), "near_zero_loss": n_near_zero, "n_converged": int(pure.train_converged.values[ok].sum()),
        "frobenius_sq_mean": np.mean(frob), "frobenius_sq_std": _sd(frob),
        "frobenius_sq_ci95": float(np.max(sub.frobenius_sq_ci95.values[ok])), "n_exact": int(sub.trace_frobenius_exact.values[ok].sum()),
        "gamma_mean": np.mean(gamma), "gamma_std": _sd(gamma),
        "sgd_bound_mean": np.mean(sgd_bound), "own_bound_mean": np.mean(own_bound),
        "fraction_of_own_bound": np.mean(fraction), "fraction_of_own_bound_std": _sd(fraction),
        "within_own_bound": int(np.all(frob <= own_bound)), "n_seeds": int(ok.sum()),
    }


def _pure_run(store: xr.Dataset, opt: str) -> xr.Dataset:
    """The run of ``opt`` alone, per seed: the end of a direction that names it."""
    for direction in store.direction.values:
        first, second = str(direction).split("->")
        if opt in (first, second):
            t = int(store.switch_epoch.max()) if opt == first else 0
            return store.sel(direction=direction, switch_epoch=t)
    raise ValueError(f"no direction of the store runs {opt} alone")


def _sd(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


FIGURES = {"ES-F3": (density_data, draw_density), "ES-F5": (power_alignment_data, draw_power_alignment)}
TABLES = {"LS-T2": stability_table}
