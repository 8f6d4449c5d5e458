"""Claims of the landscape figures (late-sam LS-F4b, LS-F16, LS-F4c, LS-F14), declared with
:func:`..registry.claim`.

The escape runs start every trial from the same converged SGD solution, so the loss at the switch
is one number and each trial's rise is its loss over that number; the interval is over trials
(minibatch orders). The interpolation has one line per seed of the source study, the plane one
random direction per draw.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .decision import above, below
from .evidence import Estimate, every_run, mean_interval, paired_difference
from .registry import claim


def _escape(store: xr.Dataset | None, split: str) -> xr.DataArray | None:
    if store is None or "escape_loss" not in store or split not in store.split.values:
        return None
    return store.escape_loss.sel(split=split)


def _peak_step(loss: xr.DataArray) -> int:
    """The step t′ of the largest mean loss over trials (the figure's peak)."""
    return int(loss.mean("trial").idxmax("escape_step"))


def _rise(loss: xr.DataArray) -> Estimate:
    """Per trial, the loss at the mean's peak over the loss at the switch; mean over trials."""
    peak = _peak_step(loss)
    ratio = loss.sel(escape_step=peak) / loss.isel(escape_step=0)
    est = mean_interval(ratio.values, "trials")
    return Estimate(est.value, est.low, est.high, est.n, est.method,
                    "; ".join(n for n in (est.note, f"peak of the mean at t' = {peak}") if n))


_ESCAPE = dict(quantity="per trial, loss at the step t′ where the mean over trials peaks / loss at the switch; mean "
               "over trials, 95 % t-interval", units="1", rule=above(1.0))


@claim("LS-F4b", "sam-escapes-sgd-minimum", paper="late-sam",
       statement="Switched to SAM late in training, SAM escapes the minimum found by SGD exponentially fast: the "
       "training loss rises.", **_ESCAPE)
def escape_train(store, options):
    loss = _escape(store, "train")
    return None if loss is None else _rise(loss)


@claim("LS-F16", "test-loss-rises", paper="late-sam",
       statement="After the switch to SAM the test loss, too, first rises.", **_ESCAPE)
def escape_test(store, options):
    loss = _escape(store, "test")
    return None if loss is None else _rise(loss)


@claim("LS-F16", "train-loss-then-falls", paper="late-sam",
       statement="The training loss initially increases exponentially fast and then gradually decreases.",
       quantity="per trial, train loss at the last recorded step − at the step where the mean peaks; mean paired "
       "difference over trials (the fall of the mean curve), 95 % t-interval", units="1", rule=below(0.0))
def train_loss_then_falls(store, options):
    loss = _escape(store, "train")
    if loss is None:
        return None
    peak = _peak_step(loss)
    if peak == int(loss.escape_step[-1]):
        return mean_interval([np.nan], "trials")  # still rising at the end: nothing to fall from
    return paired_difference(loss.isel(escape_step=-1).values, loss.sel(escape_step=peak).values, "trials")


@claim("LS-F4c", "no-barrier", paper="late-sam",
       statement="There is no barrier in the loss between θ_SGD→SAM and θ_SGD: they stay within the same valley.",
       quantity="per seed, (largest train loss on λ ∈ [0, 1] − the higher end) / the higher end; every seed",
       units="1", rule=below(0.1))
def no_barrier(store, options):
    if store is None or "interpolation_loss" not in store:
        return None
    line = store.interpolation_loss.sel(split="train", lam=slice(0, 1))
    ends = np.maximum(line.isel(lam=0), line.isel(lam=-1))
    return every_run(((line.max("lam") - ends) / ends).values, "seeds")


@claim("LS-F4c", "switched-flatter", paper="late-sam",
       statement="L″(θ_λ) increases with λ: θ_SGD→SAM (λ = 0) is flatter than θ_SGD (λ = 1).",
       quantity="per seed, L″ at λ = 0 − L″ at λ = 1 (second difference as printed, h of the store); mean paired "
       "difference over seeds, 95 % t-interval", units="1", rule=below(0.0))
def switched_flatter(store, options):
    if store is None or "interpolation_curvature" not in store:
        return None
    curvature = store.interpolation_curvature.sel(split="train")
    try:
        ends = [curvature.sel(lam=lam, method="nearest", tolerance=1e-6) for lam in (0.0, 1.0)]
    except KeyError:
        return None
    return paired_difference(ends[0].values, ends[1].values, "seeds")


@claim("LS-F14", "wider-contours-at-switched", paper="late-sam",
       statement="The contours around θ_SGD→SAM are wider than around θ_SGD (a flatter minimum in the same valley).",
       quantity="per random direction, mean rise of the train loss along β at α = 0 (θ_SGD→SAM) / the same at α = 1 "
       "(θ_SGD); every draw", units="1", rule=below(1.0))
def wider_contours(store, options):
    if store is None or "plane_loss" not in store:
        return None
    try:
        at = [store.plane_loss.sel(alpha=a, method="nearest", tolerance=1e-6) for a in (0.0, 1.0)]
    except KeyError:
        return None
    off = store.beta.values != 0
    rise = [(line - line.sel(beta=0.0, method="nearest")).isel(beta=np.flatnonzero(off)).mean("beta") for line in at]
    return every_run((rise[0] / rise[1]).values, "random directions")
