"""Claims of the switching figures and tables (declared with :func:`..registry.claim`).

Every measure reads one switching-study store and picks its schedules from the store's own
coordinates, so that it holds at paper scale too: the first optimizer of a direction alone is
switch epoch T, the second alone is 0, "late" is the latest interior switch epoch (or the
figure's own ``switch_epoch``) and "early" the earliest. Values are per seed at T, NaN where a
run diverged (the reducers leave those out and count them). Seeds pair across schedules: every
schedule of a seed shares its initialisation and minibatch order, so differences are paired.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import numpy as np
import xarray as xr

from ..report.spectrum import _pick_epoch, _stability_row
from ..report.sweeps import _alpha, _kind, _settings, pure_runs
from ..report.switching import _direction, _roles, label
from .decision import above, below
from .evidence import Estimate, every_run, paired_difference
from .registry import claim

POINTS = "percentage points"
SAM_TYPES = ("sam", "usam", "asam")  # the SAM family, as LS-F15's figure reads it
EIGEN_SAM_POWER_STEPS = 5  # eigen-sam runs Algorithm 1 for q = 5 HVPs per refresh (Sec. 5)
ALIGNED = 0.9  # |cos| with the top eigenvector that counts as "converged" (fixed before any run)
_PERCENT = {"test_error": 100.0, "robust_test_error": 100.0}  # fractions in the store, points here


# -- reading a store -------------------------------------------------------------------------
def _at_end(run: xr.Dataset, name: str) -> np.ndarray:
    """Per seed: ``name`` after the last epoch (or of the final model), in points for errors,
    NaN where the run diverged."""
    values = run[name].isel(epoch=-1) if "epoch" in run[name].dims else run[name]
    values = _PERCENT.get(name, 1.0) * values.transpose("seed").values.astype(float)
    if "diverged" in run:
        values = np.where(run["diverged"].transpose("seed").values == 1, np.nan, values)
    return values


def _direction_of(store: xr.Dataset | None, exp_id: str, options: dict, default: str | None = None) -> str | None:
    """The figure's direction (its option, else the catalogue's default, else ``default``, else
    the study's only one); None where the store does not run it."""
    if store is None:
        return None
    sole = str(store.direction.values[0]) if store.sizes["direction"] == 1 else None
    direction = _direction(exp_id, options) or default or sole
    return direction if direction in store.direction.values else None


def _switch_epoch(store: xr.Dataset, options: dict, when: str) -> int | None:
    """The latest interior switch epoch (or the figure's ``switch_epoch``) or the earliest; None
    where the study has none (or the figure's is not one of them)."""
    T = int(store.switch_epoch.max())
    interior = sorted(int(s) for s in store.switch_epoch.values if 0 < s < T)
    if not interior:
        return None
    t = int(options.get("switch_epoch") or interior[-1]) if when == "late" else interior[0]
    return t if t in interior else None


def _finals(store: xr.Dataset | None, direction: str | None, name: str, options: dict, when: str | None = None):
    """Per-seed ``name`` at T of the SGD-like optimizer alone ("sgd"), the SAM-like one alone
    ("sam") and, for ``when`` "late"/"early", the run switched then ("switch"); with a note
    naming the switch. None where the store lacks the direction, the variable or the switch."""
    if store is None or direction is None or name not in store:
        return None
    T = int(store.switch_epoch.max())
    first, _, sam_like = _roles(direction)
    sam_alone = T if first == sam_like else 0
    epochs = {"sgd": T - sam_alone, "sam": sam_alone}
    if when is not None:
        if (t := _switch_epoch(store, options, when)) is None:
            return None
        epochs["switch"] = t
    runs = store.sel(direction=direction)
    note = f"{direction}, switched at t = {epochs['switch']} of T = {T}" if when else direction
    return {role: _at_end(runs.sel(switch_epoch=s), name) for role, s in epochs.items()}, note


def _noted(estimate: Estimate, text: str) -> Estimate:
    return replace(estimate, note="; ".join(part for part in (text, estimate.note) if part))


def _for_every(estimates: dict[str, Estimate], what: str) -> Estimate | None:
    """"Holds for every x" as one estimate, for a rule ``> c``: the lowest value with the lowest
    bounds, so the rule is reproduced only when every interval lies above c, and not
    reproduced when some interval lies wholly at or below c (an intersection-union test); a
    part without an interval leaves it inconclusive."""
    if not estimates:
        return None
    parts = list(estimates.values())
    lowest = {key: float(np.min([getattr(e, key) for e in parts])) for key in ("value", "low", "high")}  # NaN propagates
    note = "; ".join(f"{x}: {e.value:+.3g} [{e.low:.3g}, {e.high:.3g}], n = {e.n}" + (f" ({e.note})" if e.note else "")
                     for x, e in estimates.items())
    return Estimate(**lowest, n=min(e.n for e in parts), method=f"lowest over {what} of each {parts[0].method}", note=note)


# -- measures of the switching figures -------------------------------------------------------
def _difference(exp_id: str, name: str, a: str, b: str, when: str | None = None, default: str | None = None):
    """Paired a − b of ``name`` over seeds, a and b among "sgd", "sam", "switch"; ``default``:
    the direction where neither the options nor the catalogue name one."""

    def measure(store, options):
        found = _finals(store, _direction_of(store, exp_id, options, default), name, options, when)
        if found is None:
            return None
        values, note = found
        return _noted(paired_difference(values[a], values[b]), note)

    return measure


def _closes_gap(exp_id: str, name: str, when: str = "late", toward: str = "sam", default: str | None = None):
    """Per seed, how much nearer the switched run ends to ``toward`` alone than to the other
    optimizer alone: (SGD − switch) − (switch − SAM) toward SAM, its negative toward SGD; > 0
    means more than half of the way. Only where SAM alone beats SGD alone is there a gap to
    close; otherwise the estimate has no interval (inconclusive) and the note says why."""

    def measure(store, options):
        direction = _direction_of(store, exp_id, options, default)
        found = _finals(store, direction, name, options, when)
        if found is None:
            return None
        v, note = found
        nearer_sam, nearer_sgd = v["sgd"] - v["switch"], v["switch"] - v["sam"]
        estimate = paired_difference(*((nearer_sam, nearer_sgd) if toward == "sam" else (nearer_sgd, nearer_sam)))
        first, second, sam_like = _roles(direction)
        sgd, sam = label(second if first == sam_like else first), label(sam_like)
        gap = paired_difference(v["sgd"], v["sam"])
        note += f"; {sgd} − {sam} alone {gap.value:+.3g} [{gap.low:.3g}, {gap.high:.3g}]"
        if not gap.low > 0:
            return _noted(replace(estimate, low=np.nan, high=np.nan), f"no gap to close ({sam} alone does not beat {sgd} alone); {note}")
        closed = paired_difference(v["sgd"], v["switch"]).value / gap.value
        return _noted(estimate, f"{note}; fraction of the gap closed by the switch {closed:.2f}")

    return measure


# -- LS-F15: SAM -> SGD for several rho -----------------------------------------------------
def _rho_directions(store: xr.Dataset) -> dict[float, str]:
    """ρ → its "<SAM-family label> -> SGD" direction (the lines of LS-F15)."""
    _, settings = _settings(store)
    found = {}
    for direction in map(str, store.direction.values):
        first, second = direction.split("->")
        if _kind(settings[first], first) in SAM_TYPES and second in ("sgd", "gd"):
            found[float(settings[first]["rho"])] = direction
    return found


def _larger_rho_better(store, options):
    if store is None or len(rhos := _rho_directions(store)) < 2:
        return None
    low, high = min(rhos), max(rhos)
    loss = {rho: _finals(store, rhos[rho], "test_loss", options)[0]["sam"] for rho in (low, high)}
    return _noted(paired_difference(loss[low], loss[high]), f"SAM alone, ρ = {low:g} minus ρ = {high:g}")


def _sgd_end_loses_every_rho(store, options):
    if store is None:
        return None
    gaps = {}
    for rho, direction in sorted(_rho_directions(store).items()):
        found = _finals(store, direction, "test_loss", options, "late")
        if found is not None:
            gaps[f"ρ = {rho:g}, {found[1]}"] = paired_difference(found[0]["switch"], found[0]["sam"])
    return _for_every(gaps, "ρ")


# -- ES-T1..T4, ES-F3: optimizers run alone --------------------------------------------------
def _alone(store: xr.Dataset, options: dict) -> dict[str, tuple[str, xr.Dataset]]:
    """Label → (optimizer type, its run alone) for every optimizer the study runs alone (those
    of the figure's ``optimizers`` option where it names some)."""
    _, settings = _settings(store)
    wanted = options.get("optimizers")
    return {n: (_kind(settings[n], n), run) for n, run in pure_runs(store).items() if not wanted or n in wanted}


def _of_type(labels, kind: str) -> str | None:
    """The label of an optimizer type: the label named as the type if there is one."""
    names = [n for n, k in labels if k == kind]
    return kind if kind in names else (names[0] if names else None)


def _accuracy(run: xr.Dataset) -> np.ndarray:
    return 100.0 - _at_end(run, "test_error")


def _accuracy_gain(better: str, worse: str):
    """Paired final test accuracy of optimizer type ``better`` minus ``worse`` (points)."""

    def measure(store, options):
        if store is None:
            return None
        runs = _alone(store, options)
        a, b = (_of_type([(n, k) for n, (k, _) in runs.items()], kind) for kind in (better, worse))
        if a is None or b is None:
            return None
        return _noted(paired_difference(_accuracy(runs[a][1]), _accuracy(runs[b][1])), f"{a} − {b}")

    return measure


def _eigen_gain_every(setting: str):
    """Eigen-SAM − SAM final test accuracy for every value of ``setting`` ("refresh_every" or
    "alpha") that the study sweeps, the other held at its most common value."""
    read = {"refresh_every": lambda s: int(s.get("refresh_every", 100)), "alpha": _alpha}
    held = "alpha" if setting == "refresh_every" else "refresh_every"

    def measure(store, options):
        if store is None:
            return None
        _, settings = _settings(store)
        runs = _alone(store, options)
        sam = _of_type([(n, k) for n, (k, _) in runs.items()], "sam")
        eigen = [n for n, (k, _) in runs.items() if k == "eigen_sam"]
        if sam is None or not eigen:
            return None
        common = Counter(read[held](settings[n]) for n in eigen).most_common(1)[0][0]
        swept = {read[setting](settings[n]): n for n in eigen if read[held](settings[n]) == common}
        if len(swept) < 2:
            return None
        baseline = _accuracy(runs[sam][1])
        return _for_every({f"{setting} = {v:g} ({n})": paired_difference(_accuracy(runs[n][1]), baseline)
                           for v, n in sorted(swept.items())}, setting)

    return measure


# -- spectra of the pure runs' checkpoints (ES-F3, ES-F5, LS-T2) ---------------------------
def _spectrum_difference(name: str, a: str, b: str | tuple[str, ...], when: str = "last"):
    """Paired ``name`` of optimizer type a minus b (the first of b's types the store measured) at
    the last (or first) measured checkpoint."""

    def measure(store, options):
        if store is None or name not in store or "optimizer" not in store.dims:
            return None
        _, settings = _settings(store)
        labels = [(str(o), _kind(settings[str(o)], str(o))) for o in store.optimizer.values]
        la = _of_type(labels, a)
        lb = next((found for kind in ((b,) if isinstance(b, str) else b) if (found := _of_type(labels, kind))), None)
        if la is None or lb is None:
            return None
        epoch = _pick_epoch(store, options, when)
        values = store[name].sel(checkpoint_epoch=epoch)
        if "spectrum_eig_index" in values.dims:
            values = values.isel(spectrum_eig_index=0)
        pick = lambda label: values.sel(optimizer=label).transpose("seed").values  # noqa: E731
        return _noted(paired_difference(pick(la), pick(lb)), f"{la} − {lb}, checkpoint epoch {epoch}")

    return measure


def _power_aligns(store, options):
    if store is None or "power_alignment" not in store or EIGEN_SAM_POWER_STEPS not in store.hvp_step.values:
        return None
    epoch = _pick_epoch(store, options, "first")
    alignment = store.power_alignment.sel(checkpoint_epoch=epoch, hvp_step=EIGEN_SAM_POWER_STEPS)
    return _noted(every_run(alignment.values, "runs (optimizer × seed)"), f"checkpoint epoch {epoch}")


def _within_bound(store, options):
    """Per seed and optimizer, measured ‖H‖²_F over its own late-sam Table 2 bound, as the
    LS-T2 table computes it (one seed at a time)."""
    if store is None or not {"frobenius_sq", "gamma"} <= set(store.data_vars):
        return None
    cfg = json.loads(store.attrs["config"])
    epoch = _pick_epoch(store, options, "last")
    fractions = [_stability_row(store.isel(seed=[i]), cfg, str(opt), epoch).get("fraction_of_own_bound", np.nan)
                 for opt in store.optimizer.values for i in range(store.sizes["seed"])]
    return _noted(every_run(fractions, "runs (optimizer × seed)"), f"checkpoint epoch {epoch}")


# -- declarations ------------------------------------------------------------------------------
_AT = "sgd->at"  # LS-F6's direction, as its figure reads it (the catalogue names none)
_LATE = "at the latest interior switch epoch t"
_GAP_RULE = "> 0 ⇔ the switch closes more than half of SGD's gap to SAM; assessed only where SAM alone beats SGD alone"

claim("LS-F1", "sam-beats-sgd", paper="late-sam", rule=above(0), units=POINTS,
      statement="Trained with SAM throughout, the network ends with a lower test error than trained with SGD throughout.",
      quantity="final test error, SGD alone − SAM alone, paired over seeds")(_difference("LS-F1", "test_error", "sgd", "sam"))
claim("LS-F1", "late-sam-beats-sgd", paper="late-sam", rule=above(0), units=POINTS,
      statement="SAM for only the last few epochs after SGD already ends with a lower test error than SGD throughout.",
      quantity="final test error, SGD alone − SGD→SAM switched at the figure's t (else the latest interior switch epoch), paired over seeds")(
    _difference("LS-F1", "test_error", "sgd", "switch", "late"))

for _id, _what in (("LS-F3", ""), ("LS-F7", " (further architectures)")):
    claim(_id, "late-sam-closes-gap", paper="late-sam", rule=above(0), units=POINTS,
          statement=f"SGD→SAM switched late ends with nearly the test error of SAM throughout: a few SAM epochs close most of SGD's gap{_what}.",
          quantity=f"final test error, (SGD alone − switch) − (switch − SAM alone) {_LATE}, paired over seeds; {_GAP_RULE}")(
        _closes_gap(_id, "test_error"))
    claim(_id, "late-sam-flatter-than-sgd", paper="late-sam", rule=above(0), units="1",
          statement=f"A few SAM epochs at the end leave a flatter final solution than SGD throughout{_what}.",
          quantity=f"λmax of the final model, SGD alone − SGD→SAM switched {_LATE}, paired over seeds")(
        _difference(_id, "lambda_max", "sgd", "switch", "late"))
    claim(_id, "sam-flatter-than-sgd", paper="late-sam", rule=above(0), units="1",
          statement=f"SAM selects flatter minima than SGD: SAM throughout ends with a smaller λmax than SGD throughout{_what}.",
          quantity="λmax of the final model, SGD alone − SAM alone, paired over seeds")(_difference(_id, "lambda_max", "sgd", "sam"))

for _id, _what in (("LS-F5", ""), ("LS-F9", " (further architectures)")):
    claim(_id, "sgd-end-keeps-gap", paper="late-sam", rule=above(0), units="1",
          statement=f"SAM→SGD: even when SAM ran for most of the epochs, the final SGD phase leaves a generalization gap to SAM throughout{_what}.",
          quantity=f"final test loss (the paper's consistent measure, its footnote 8), SAM→SGD switched {_LATE} − SAM alone, paired over seeds")(
        _difference(_id, "test_loss", "switch", "sam", "late"))
    claim(_id, "sgd-end-sharper-than-sam", paper="late-sam", rule=above(0), units="1",
          statement=f"SAM→SGD ends sharper than SAM throughout even when SAM ran for most of the epochs{_what}.",
          quantity=f"λmax of the final model, SAM→SGD switched {_LATE} − SAM alone, paired over seeds")(
        _difference(_id, "lambda_max", "switch", "sam", "late"))
    claim(_id, "early-sam-limited", paper="late-sam", rule=above(0), units="1",
          statement=f"SAM used only early, then SGD, ends nearer to SGD's generalization than to SAM's: early SAM helps little{_what}.",
          quantity="final test loss, (switch − SAM alone) − (SGD alone − switch) at the earliest interior switch epoch, paired over "
                   "seeds; > 0 ⇔ nearer to SGD; assessed only where SAM alone beats SGD alone")(
        _closes_gap(_id, "test_loss", when="early", toward="sgd"))

for _id, _opt, _name in (("LS-F8", "ASAM", "asam"), ("LS-F13", "USAM", "usam"), ("LS-F12", "SAM", "sam"), ("LS-F11", "SAM", "sam")):
    _base = "AdamW" if _id == "LS-F11" else "SGD"
    _where = {"LS-F12": " with the squared loss", "LS-F11": " on a ViT with AdamW as the base optimizer"}.get(_id, "")
    claim(_id, f"{_name}-beats-{_base.lower()}", paper="late-sam", rule=above(0), units=POINTS,
          statement=f"{_opt} throughout ends with a lower test error than {_base} throughout{_where}.",
          quantity=f"final test error, {_base} alone − {_opt} alone, paired over seeds")(_difference(_id, "test_error", "sgd", "sam"))
    claim(_id, f"late-{_name}-closes-gap", paper="late-sam", rule=above(0), units=POINTS,
          statement=f"{_base}→{_opt} switched late ends with nearly the test error of {_opt} throughout{_where}.",
          quantity=f"final test error, ({_base} alone − switch) − (switch − {_opt} alone) {_LATE}, paired over seeds; "
                   + _GAP_RULE.replace("SGD", _base).replace("SAM", _opt))(_closes_gap(_id, "test_error"))
    if _id != "LS-F11":  # late-sam reports generalization only for the ViTs
        claim(_id, f"late-{_name}-flatter-than-sgd", paper="late-sam", rule=above(0), units="1",
              statement=f"A few {_opt} epochs at the end leave a flatter final solution than SGD throughout{_where}.",
              quantity=f"λmax of the final model, SGD alone − SGD→{_opt} switched {_LATE}, paired over seeds")(
            _difference(_id, "lambda_max", "sgd", "switch", "late"))

claim("LS-F15", "larger-rho-better-with-sam-throughout", paper="late-sam", rule=above(0), units="1",
      statement="Trained with SAM throughout, a larger perturbation radius ρ generalizes better.",
      quantity="final test loss of SAM alone at the smallest ρ − at the largest ρ of the study, paired over seeds")(_larger_rho_better)
claim("LS-F15", "sgd-end-keeps-gap-every-rho", paper="late-sam", rule=above(0), units="1",
      statement="Whatever SAM's ρ, switching to SGD for the last epochs loses part of SAM's advantage: "
                "the final optimizer shapes the solution.",
      quantity=f"final test loss, SAM→SGD switched {_LATE} − SAM alone, paired over seeds, its lowest interval over ρ")(
    _sgd_end_loses_every_rho)

claim("LS-F6", "at-more-robust-than-sgd", paper="late-sam", rule=above(0), units=POINTS,
      statement="Adversarial training throughout ends with a lower robust (PGD) test error than SGD throughout.",
      quantity="final robust test error, SGD alone − AT alone, paired over seeds")(
    _difference("LS-F6", "robust_test_error", "sgd", "sam", default=_AT))
claim("LS-F6", "late-at-closes-robust-gap", paper="late-sam", rule=above(0), units=POINTS,
      statement="Adversarial training for only the last few epochs reaches most of the robustness of adversarial training throughout.",
      quantity="final robust test error, (SGD alone − switch) − (switch − AT alone) at the figure's t (else the latest interior), paired "
               "over seeds; > 0 ⇔ more than half of SGD's robust-error gap to AT closed; assessed only where AT alone beats SGD alone")(
    _closes_gap("LS-F6", "robust_test_error", default=_AT))

for _id, _sgd, _eigen in (("ES-T1", "+0.2 to +2.8 points over Table 1's 12 settings", "+0.2 to +0.9 points over Table 1's 12 settings"),
                          ("ES-T2", "+0.4 (CIFAR-10), +0.9 (CIFAR-100) points", "+0.1 (CIFAR-10), +0.3 (CIFAR-100) points")):
    _tuned = " when fine-tuning a pretrained model" if _id == "ES-T2" else ""
    claim(_id, "sam-beats-sgd", paper="eigen-sam", rule=above(0), units=POINTS, paper_value=_sgd,
          statement=f"SAM reaches a higher test accuracy than SGD{_tuned}.",
          quantity="final test accuracy, SAM alone − SGD alone, paired over seeds")(_accuracy_gain("sam", "sgd"))
    claim(_id, "eigen-sam-beats-sam", paper="eigen-sam", rule=above(0), units=POINTS, paper_value=_eigen,
          statement=f"Eigen-SAM, which aligns the perturbation with the top Hessian eigenvector, reaches a higher test accuracy than SAM{_tuned}.",
          quantity="final test accuracy, Eigen-SAM alone − SAM alone, paired over seeds")(_accuracy_gain("eigen_sam", "sam"))

for _id, _printed in (("ES-T3", "Table 3 (CIFAR-10): +0.2 to +0.4 (ResNet-18), +0.2 to +0.3 (WRN-28-10) points for p ∈ {100, …, 1000}"),
                      ("ES-T4", "Table 4 (CIFAR-100): +0.8 to +0.9 (ResNet-18), +0.6 to +0.8 (WRN-28-10) points for p ∈ {100, …, 1000}")):
    claim(_id, "eigen-sam-beats-sam-every-p", paper="eigen-sam", rule=above(0), units=POINTS, paper_value=_printed,
          statement="Eigen-SAM keeps its gain over SAM even when it re-estimates the top eigenvector rarely (large refresh period p).",
          quantity="final test accuracy, Eigen-SAM alone − SAM alone, paired over seeds, its lowest interval over the study's p")(
        _eigen_gain_every("refresh_every"))

claim("ES-F3", "eigen-sam-flatter", paper="eigen-sam", rule=above(0), units="1",
      statement="Eigen-SAM ends training with a smaller top Hessian eigenvalue than SAM.",
      quantity="λmax (Lanczos) at the last measured checkpoint, SAM alone − Eigen-SAM alone, paired over seeds")(
    _spectrum_difference("spectrum_eigenvalues", "sam", "eigen_sam"))
claim("ES-F3", "eigen-sam-smaller-trace", paper="eigen-sam", rule=above(0), units="1",
      statement="Eigen-SAM ends training with a smaller Hessian trace than SAM, its spectrum more concentrated near zero.",
      quantity="Hessian trace (Hutch++) at the last measured checkpoint, SAM alone − Eigen-SAM alone, paired over seeds")(
    _spectrum_difference("trace", "sam", "eigen_sam"))
claim("ES-F3", "eigen-sam-beats-sam-every-alpha", paper="eigen-sam", rule=above(0), units=POINTS,
      paper_value="+0.9 points at α = 0.2 over α = 0 (SAM), ResNet-18 on CIFAR-100",
      statement="Eigen-SAM's weight α is a robust hyperparameter: every α tried improves on SAM.",
      quantity="final test accuracy, Eigen-SAM alone − SAM alone, paired over seeds, its lowest interval over the study's α")(
    _eigen_gain_every("alpha"))

claim("ES-F5", "power-iteration-aligns", paper="eigen-sam", rule=above(ALIGNED), units="1",
      statement="Power iteration finds the top Hessian eigenvector within a few Hessian-vector products at a mid-training checkpoint.",
      quantity=f"|cos| of the power-iteration iterate with the top eigenvector after q = {EIGEN_SAM_POWER_STEPS} HVPs (Eigen-SAM's q) "
               f"at the first measured checkpoint, every run (optimizer × seed); > {ALIGNED:g} for every run")(_power_aligns)

claim("LS-T2", "within-stability-bound", paper="late-sam", rule=below(1), units="1",
      statement="A minimum that SGD or SAM selects is linearly stable: its ‖H‖²_F lies below late-sam's Table 2 bound.",
      quantity="measured ‖H‖²_F / its own Table 2 bound (B/(η²γ) for SGD, Theorem 4.1's root for SAM) at the last checkpoint, "
               "every run (optimizer × seed)")(_within_bound)
claim("LS-T2", "sam-frobenius-below-sgd", paper="late-sam", rule=above(0), units="1",
      statement="SAM's stricter stability condition selects flatter minima than SGD, measured by ‖H‖²_F (late-sam's P3).",
      quantity="‖H‖²_F at the last measured checkpoint, SGD alone − SAM alone (USAM where the study runs USAM, as "
               "Theorem 4.1 states it), paired over seeds")(
    _spectrum_difference("frobenius_sq", "sgd", ("sam", "usam")))
