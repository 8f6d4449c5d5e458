"""Claims of the toy figures (far-from-home FH-F2/F7, ravines BR-F1/F3/F4/F5, late-sam LS-F4a),
declared with :func:`..registry.claim`.

Toys are deterministic simulations: a number of one trajectory is ``exact``, and where there are
initialisations (or noise seeds) the rule must hold for every one (``every_run``). A trajectory's
level is the median over the last quarter of its recorded steps, as in the dynamics figures; the
ravine's "late" values are the means over the second half of the steps that its figures print.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import stats

from ..report.dynamics import _last_quarter_median
from ..report.toys import _option, _rho
from ..toys import tanh_valley
from .decision import above, below, between
from .evidence import Estimate, every_run, exact, fraction
from .registry import claim

SAM_EOS_BAND = between(1.9, 2.1)  # η(λ + ρλ²) "at 2": within 5 %, as far-from-home's "very close to 2"


def _per_seed(values: xr.DataArray) -> str:
    return ", ".join(f"{int(s)}: {v:.3g}" for s, v in zip(values.seed.values, values.values))


def _every_initialisation(values: xr.DataArray, note: str = "") -> Estimate:
    est = every_run(values.values, "initialisations")
    text = "; ".join(t for t in (est.note, f"per initialisation {_per_seed(values)}", note) if t)
    return Estimate(est.value, est.low, est.high, est.n, est.method, text)


# -- far-from-home Fig. 2: the quadratic regression model at a small and a large η -------------
def _stable(store: xr.Dataset) -> xr.Dataset:
    """Trajectories of initialisations that did not diverge (the others NaN)."""
    return store.where(store.diverged == 0)


def _sam_over_gd(store, options, lr: str) -> xr.DataArray | None:
    """Per initialisation, last-quarter median λmax(JJᵀ) of SAM at the figure's ρ over GD's, at the
    grid's smallest or largest η."""
    if store is None:
        return None
    rho = _rho(store, options)
    if rho == 0 or rho not in store.rho.values or 0.0 not in store.rho.values:
        return None
    lam = _last_quarter_median(_stable(store).ntk_max.sel(lr=float(getattr(store.lr, lr)())))
    return lam.sel(rho=rho) / lam.sel(rho=0.0)


@claim("FH-F2", "small-lr-sam-does-not-regularize", paper="far-from-home",
       statement="At a small learning rate SAM does not reduce the large NTK eigenvalues (in some cases the final "
       "eigenvalue is larger with SAM).",
       quantity="per initialisation, last-quarter median λmax(JJᵀ) of SAM (figure's ρ) / GD's, at the smallest η",
       units="1", rule=above(0.9), paper_value="η = 3e-3, ρ = 4e-2")
def small_lr_no_regularization(store, options):
    ratio = _sam_over_gd(store, options, "min")
    return None if ratio is None else _every_initialisation(ratio)


@claim("FH-F2", "large-lr-sam-regularizes", paper="far-from-home",
       statement="At a larger learning rate SAM controls the large eigenvalues: λmax ends lower than under GD.",
       quantity="per initialisation, last-quarter median λmax(JJᵀ) of SAM (figure's ρ) / GD's, at the largest η",
       units="1", rule=below(0.9), paper_value="η = 8e-2, ρ = 4e-2")
def large_lr_regularizes(store, options):
    ratio = _sam_over_gd(store, options, "max")
    return None if ratio is None else _every_initialisation(ratio)


@claim("FH-F2", "large-lr-at-sam-eos", paper="far-from-home",
       statement="At the larger learning rate the largest eigenvalue stabilizes at the SAM edge of stability "
       "η(λmax + ρλmax²) = 2.",
       quantity="per initialisation, last-quarter median of η(λmax + ρλmax²) at the largest η and the figure's ρ",
       units="1", rule=SAM_EOS_BAND, paper_value="η = 8e-2, ρ = 4e-2: at 2")
def large_lr_at_sam_eos(store, options):
    if store is None or _rho(store, options) not in store.rho.values:
        return None
    sub = _stable(store).sam_normalized.sel(lr=float(store.lr.max()), rho=_rho(store, options))
    steps = sub.step.values
    tail = sub.sel(step=steps[steps >= steps[0] + 0.75 * (steps[-1] - steps[0])])
    above_band = float((tail > SAM_EOS_BAND.high).sum() / tail.notnull().sum())
    return _every_initialisation(_last_quarter_median(sub), f"{above_band:.0%} of last-quarter records above {SAM_EOS_BAND.high:g}")


# -- far-from-home Fig. 7: a ρ sweep at one η ------------------------------------------------
def _sweep(store, options) -> xr.Dataset | None:
    if store is None:
        return None
    lr = float(options.get("lr") or store.lr.max())
    return None if lr not in store.lr.values else _stable(store).sel(lr=lr)


@claim("FH-F7", "lambda-falls-with-rho", paper="far-from-home",
       statement="At fixed η, as ρ increases the largest eigenvalue decreases, until training is no longer stable.",
       quantity="per initialisation, Spearman rank correlation of ρ with the last-quarter median λmax(JJᵀ) over its "
       "stable ρ values (−1: falls monotonically)", units="1", rule=below(-0.8))
def lambda_falls_with_rho(store, options):
    sub = _sweep(store, options)
    if sub is None or sub.sizes["rho"] < 3:
        return None
    lam = _last_quarter_median(sub.ntk_max)
    stable = lam.notnull()
    rank = [stats.spearmanr(sub.rho.values[ok], row[ok]).statistic if ok.sum() >= 3 else np.nan
            for row, ok in zip(lam.transpose("seed", "rho").values, stable.transpose("seed", "rho").values)]
    counts = ", ".join(f"ρ={r:g}: {int(n)}/{sub.sizes['seed']}" for r, n in zip(sub.rho.values, stable.sum("seed").values))
    return _every_initialisation(xr.DataArray(rank, dims="seed", coords={"seed": sub.seed}), f"stable initialisations {counts}")


@claim("FH-F7", "stable-runs-at-sam-eos", paper="far-from-home",
       statement="For a range of ρ the SAM-normalized eigenvalue η(λmax + ρλmax²) stabilizes very close to 2 (for "
       "larger ρ near but not exactly at 2).",
       quantity="fraction of the stable runs (initialisation × ρ > 0) whose last-quarter median η(λmax + ρλmax²) "
       "lies in [1.9, 2.1], Clopper-Pearson interval", units="1", rule=above(0.5))
def stable_runs_at_sam_eos(store, options):
    sub = _sweep(store, options)
    if sub is None or not (sub.rho > 0).any():
        return None
    level = _last_quarter_median(sub.sam_normalized.sel(rho=sub.rho.values[sub.rho.values > 0]))
    stable = level.notnull()
    at = ((level >= SAM_EOS_BAND.low) & (level <= SAM_EOS_BAND.high)).sum()
    per_rho = ", ".join(f"ρ={r:g}: {v}" for r, v in zip(level.rho.values, np.round(level.median("seed").values, 2)))
    return fraction(int(at), int(stable.sum()), f"median level per ρ {per_rho}")


# -- ravines Fig. 1: the 2-cycle of normalized SAM on a quadratic -----------------------------
@claim("BR-F1", "iterates-reach-two-cycle", paper="ravines",
       statement="SAM on a convex quadratic converges to a 2-cycle bouncing across the minimum along the top "
       "eigenvector, ±ηρλ₁/(2 − ηλ₁)·e₁.",
       quantity="distance of the last iterate from the closed-form 2-cycle, relative to its amplitude", units="1",
       rule=below(0.1), paper_value="amplitude 1/9 at λ₁ = 1, η = 1/5, ρ = 1")
def iterates_reach_two_cycle(store, options):
    if store is None:
        return None
    amplitude = float(store.cycle_amplitude)
    last = store.isel(step=-1)
    distance = float(np.hypot(abs(float(last.w1)) - amplitude, float(last.w2)))
    return exact(distance / amplitude, note=f"after {int(store.step.values[-1])} iterates; amplitude {amplitude:.4g}")


# -- ravines Figs. 3–5: SAM, GD and noisy GD on the ravine ------------------------------------
def _late(store: xr.Dataset, name: str, start: int, algorithm: str) -> xr.DataArray:
    """Mean over the second half of the steps of ``name``, per seed (as the figures' legends)."""
    values = store[name].isel(start=start).sel(algorithm=algorithm)
    return values.where(values.step >= values.step.max() / 2).mean("step")


def _start(options: dict, default: int) -> int:
    return default if options.get("start") is None else int(options["start"])


def _sam_flatter_than_gd(default_start: int):
    def measure(store, options):
        if store is None:
            return None
        start = _start(options, default_start)
        sam, gd = (float(_late(store, "sharpness", start, a).mean()) for a in ("sam", "gd"))
        return exact(sam / gd, note=f"late sharpness SAM {sam:.4g}, GD {gd:.4g}, from {store.start.values[start]}")

    return measure


_FLATTER = dict(quantity="mean sharpness over the second half of the steps, SAM / GD (deterministic)", units="1", rule=below(1.0))
claim("BR-F3", "sam-flatter-than-gd", paper="ravines", statement="From (0.1, 0.1) GD dives to the minimum while SAM's "
      "oscillation drives it toward less sharp solutions.", **_FLATTER)(_sam_flatter_than_gd(0))
claim("BR-F4", "sam-flatter-than-gd", paper="ravines", statement="From (1, 1) SAM behaves like GD until near the origin, "
      "where its oscillations carry it to a less sharp minimum.", **_FLATTER)(_sam_flatter_than_gd(1))


@claim("BR-F3", "sam-higher-objective", paper="ravines",
       statement="SAM's less sharp solutions have larger objective values than GD's.",
       quantity="mean loss over the second half of the steps, SAM − GD (deterministic)", units="1", rule=above(0.0))
def sam_higher_objective(store, options):
    if store is None:
        return None
    start = _start(options, 0)
    return exact(float(_late(store, "loss", start, "sam").mean() - _late(store, "loss", start, "gd").mean()))


@claim("BR-F5", "sam-flatter-than-noisy-gd", paper="ravines",
       statement="Noisy GD samples a mix of solutions of varying smoothness, while SAM systematically drifts toward "
       "less sharp solutions.",
       quantity="per noise seed, late mean sharpness of SAM − that of GD with Gaussian gradient noise σ = ρ/(2 − η)",
       units="1", rule=below(0.0))
def sam_flatter_than_noisy_gd(store, options):
    if store is None or "sgd" not in store.algorithm.values:
        return None
    start = _start(options, 1)
    sam = float(_late(store, "sharpness", start, "sam").mean())
    return _every_initialisation(sam - _late(store, "sharpness", start, "sgd"), f"SAM {sam:.4g}")


# -- late-sam Fig. 4a: the tanh valley, GD then SAM ------------------------------------------
def _switched(store: xr.Dataset) -> tuple[xr.Dataset, int]:
    name = next(str(s) for s in store.schedule.values if "->" in str(s))
    return store.sel(schedule=name), int(_option(store, "switch_step"))


@claim("LS-F4a", "sam-finds-flatter-minimum", paper="late-sam",
       statement="After switching from GD to SAM, the iterates leave GD's sharp minimum and converge to a flatter "
       "minimum in the same valley (sharpness tanh²u on the minima v = 0).",
       quantity="tanh²u at the end of the GD→SAM run / at the switch (deterministic)", units="1", rule=below(1.0))
def sam_finds_flatter_minimum(store, options):
    if store is None:
        return None
    run, switch = _switched(store)
    start, end = (float(tanh_valley.minimum_sharpness(run.u.sel(step=s))) for s in (switch, int(run.step[-1])))
    return exact(end / start, note=f"tanh²u {start:.3g} at the switch, {end:.3g} at the end; final loss {float(run.loss[-1]):.2g}")


@claim("LS-F4a", "sam-escapes", paper="late-sam",
       statement="SAM first escapes the sharp minimum found by GD within a few iterations (the loss rises).",
       quantity="largest loss after the switch / loss at the switch, GD→SAM run (deterministic)", units="1", rule=above(1.0))
def sam_escapes(store, options):
    if store is None:
        return None
    run, switch = _switched(store)
    at = float(run.loss.sel(step=switch))
    peak = float(run.loss.sel(step=run.step > switch).max())
    return exact(peak / at, note=f"loss {at:.3g} at the switch, {peak:.3g} at most after")
