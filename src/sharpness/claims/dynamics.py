"""Claims of the dynamics figures (sam-eos LB-F1…F16, late-sam LS-F10, far-from-home FH-F3…F9,
eigen-sam ES-F1), declared with :func:`..registry.claim`.

A run is one trajectory (seed × lr × ρ × schedule); its number is a median over a stated window of
its recorded steps, the reduction the figures print (:mod:`sharpness.report.dynamics`). With few
seeds the estimate is ``every_run``: the rule must hold for the smallest and the largest run, no
run is dropped. Runs that diverged have NaN medians and are counted out in the note. Claims that
compare sharpness between optimizers leave out runs that did not learn (``LEARNED_ERROR``).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import xarray as xr

from .. import theory
from ..report.dynamics import _default_rho, _first_half_median, _last_quarter_median, _schedule
from .decision import above, below, between
from .evidence import Estimate, every_run, exact, mean_interval
from .registry import claim

EDGE_BAND = between(0.9, 1.1)  # "at the edge": median over the last quarter within 10 % of it
LEARNED_ERROR = 0.5  # a run whose final training error exceeds this did not learn (fixed, not fitted)
SAM_FAMILY = ("sam", "usam", "asam", "eigen_sam")


# -- selection ------------------------------------------------------------------------------
def _select(store: xr.Dataset, options: dict, *, rho=None, schedule=True, one_lr=False) -> xr.Dataset | None:
    """The cells a figure reads: its schedule (``True``; a name; ``False``: all), ``rho`` (a value,
    a list, or None: all), the option's lr list (``one_lr``: its first, else the grid's first) and
    width. None when the store lacks a requested coordinate value."""
    fixed: dict = {}
    if schedule is not False:
        fixed["schedule"] = _schedule(store, options) if schedule is True else schedule
    if rho is not None:
        fixed["rho"] = rho
    if one_lr:
        fixed["lr"] = float((options.get("lr") or [store.lr.values[0]])[0])
    elif options.get("lr"):
        fixed["lr"] = list(options["lr"])
    try:
        sub = store.sel(fixed)
    except KeyError:
        return None
    if "width" in sub.dims:
        sub = sub.sel(width=options.get("width") or sub.width.values[0])
    return sub


def _lambda_max(sub: xr.Dataset) -> xr.DataArray:
    return sub.eigenvalues.isel(eig_index=0, drop=True)


def _with_note(estimate: Estimate, note: str) -> Estimate:
    return dataclasses.replace(estimate, note="; ".join(n for n in (estimate.note, note) if n))


def _per_run(values: xr.DataArray, fmt: str = "{:.3g}", only: xr.DataArray | None = None) -> str:
    """Every run's value (those where ``only`` is True) labelled by its coordinates, for the note."""
    dims = values.dims
    flat = values.stack(run=dims) if dims else values.expand_dims("run")
    keep = np.ones(flat.sizes["run"], bool) if only is None else (only.stack(run=dims) if dims else only.expand_dims("run")).values
    labels = [", ".join(f"{d}={flat[d].values[i]}" for d in dims) for i in range(flat.sizes["run"])]
    return "; ".join(f"{label}: {fmt.format(v)}" for label, v, k in zip(labels, flat.values, keep) if k)


def _runs(values: xr.DataArray, what: str = "runs") -> Estimate:
    return _with_note(every_run(values.values, what), "per run " + _per_run(values))


def _final(values: xr.DataArray) -> xr.DataArray:
    """The value at the last recorded step (NaN after a divergence)."""
    return values.isel(step=-1, drop=True)


def _learned(sub: xr.Dataset) -> xr.DataArray:
    """Runs whose final training error is at most ``LEARNED_ERROR`` (False for diverged runs)."""
    return _final(sub.train_error) <= LEARNED_ERROR


def _learned_note(sub: xr.Dataset) -> str:
    missed = ~_learned(sub)
    if not missed.any():
        return ""
    return (f"left out as not learned (final training error > {LEARNED_ERROR:g} or diverged): "
            + _per_run(_final(sub.train_error), "{:.3f}", only=missed))


def _minibatch(store: xr.Dataset) -> bool:
    return json.loads(store.attrs.get("config", "{}")).get("batch_size", "full") != "full"


# -- reductions shared by several figures ----------------------------------------------------
def _edge_ratio(store, options, rho, edge: str, lr="all") -> xr.DataArray | None:
    """Median over the last quarter of λmax / ``edge`` ("gd_edge" or "sam_edge") per run at ``rho``;
    ``lr``: "all", "max" or "min" of the grid."""
    sub = _select(store, options, rho=rho)
    if sub is None:
        return None
    ratio = _last_quarter_median(_lambda_max(sub) / sub[edge])
    if lr != "all":
        ratio = ratio.sel(lr=float(getattr(ratio.lr, lr)()))
    return ratio


def gd_at_edge(store, options):
    ratio = None if store is None else _edge_ratio(store, options, 0.0, "gd_edge", lr="max")
    if ratio is None:
        return None
    others = _edge_ratio(store, options, 0.0, "gd_edge")
    return _with_note(_runs(ratio), "every lr: " + _per_run(others))


def gd_not_above_edge(store, options):
    ratio = None if store is None else _edge_ratio(store, options, 0.0, "gd_edge")
    return None if ratio is None else _runs(ratio)


def gd_starts_below_edge(store, options):
    sub = None if store is None else _select(store, options, rho=0.0)
    return None if sub is None else _runs((_lambda_max(sub) / sub.gd_edge).sel(step=sub.step.min(), drop=True))


def sam_at_edge(store, options):
    ratio = None if store is None else _edge_ratio(store, options, _default_rho(store, options), "sam_edge")
    return None if ratio is None else _runs(ratio)


def sam_at_edge_smallest_lr(store, options):
    ratio = None if store is None else _edge_ratio(store, options, _default_rho(store, options), "sam_edge", lr="min")
    return None if ratio is None else _runs(ratio)


def sam_at_edge_every_rho(store, options):
    if store is None or not (store.rho > 0).any():
        return None
    return _runs(_edge_ratio(store, options, [r for r in store.rho.values if r > 0], "sam_edge"))


def sam_below_gd_edge(store, options):
    ratio = None if store is None else _edge_ratio(store, options, _default_rho(store, options), "gd_edge")
    return None if ratio is None else _runs(ratio)


def _sam_over_base(store, options, values) -> xr.DataArray | None:
    """``values(sub)`` (a per-run number) at the figure's ρ over the same at ρ = 0, per seed and lr."""
    rho = _default_rho(store, options)
    sam, base = _select(store, options, rho=rho), _select(store, options, rho=0.0)
    if sam is None or base is None or rho == 0:
        return None
    return values(sam) / values(base)


def sam_flatter_than_base(store, options):
    ratio = None if store is None else _sam_over_base(store, options, lambda s: _last_quarter_median(_lambda_max(s)))
    return None if ratio is None else _runs(ratio)


def similar_final_loss(store, options):
    if store is None:
        return None
    name = "batch_loss" if _minibatch(store) else "train_loss"
    ratio = _sam_over_base(store, options, lambda s: _last_quarter_median(s[name]))
    return None if ratio is None else _with_note(_runs(ratio), f"loss: {name}")


def _alignment_gain(store, options, late_largest_lr: bool) -> xr.DataArray | None:
    """Per run, the median over steps of |cos(g_SAM, v1)| − |cos(g, v1)| (paired at each step);
    ``late_largest_lr``: the largest lr only and the second half of the steps."""
    sub = _select(store, options, rho=_default_rho(store, options))
    if sub is None:
        return None
    gain = sub.sam_grad_alignment - sub.grad_alignment
    steps = gain.step.values
    gain = gain.sel(step=steps[steps >= steps.max() / 2] if late_largest_lr else steps[steps > 0])
    if late_largest_lr:
        gain = gain.sel(lr=float(gain.lr.max()))
    return gain.median("step", skipna=True)


def sam_gradient_more_aligned(store, options):
    gain = None if store is None else _alignment_gain(store, options, late_largest_lr=False)
    return None if gain is None else _runs(gain)


def sam_gradient_more_aligned_late(store, options):
    gain = None if store is None else _alignment_gain(store, options, late_largest_lr=True)
    return None if gain is None else _runs(gain)


# -- sam-eos Fig. 1 (analytic) ---------------------------------------------------------------
_ALPHA = np.logspace(-6, 6, 1201)


@claim("LB-F1", "sam-edge-below-gd-edge", paper="sam-eos",
       statement="The SAM-edge lies below GD's edge 2/η for every α = η‖g‖/(2ρ), approaching it only as α → ∞.",
       quantity="largest SAM-edge/(2/η) over α in [1e-6, 1e6] (closed form)", units="1", rule=below(1.0))
def sam_edge_below_gd_edge(store, options):
    return exact(float(np.max(theory.sam_edge_ratio(_ALPHA))), len(_ALPHA), "closed form on a log grid of α")


@claim("LB-F1", "sqrt-alpha-asymptote", paper="sam-eos",
       statement="As α → 0 the SAM-edge/(2/η) approaches zero like √α.",
       quantity="SAM-edge/(2/η) divided by √α at α = 1e-6 (closed form)", units="1", rule=between(0.99, 1.01))
def sqrt_alpha_asymptote(store, options):
    return exact(float(theory.sam_edge_ratio(1e-6) / np.sqrt(1e-6)))


# -- sam-eos Figs. 2–16: MLP (F2–F6), CNN (F7–F11), Transformer (F12–F16) --------------------
_GD_AT_EDGE = dict(quantity="median over the last quarter of λmax/(2/η) of GD (ρ = 0) at the grid's largest η, every run",
                   units="1", rule=EDGE_BAND)
_GD_NOT_ABOVE = dict(quantity="median over the last quarter of λmax/(2/η) of GD (ρ = 0), every run at every η",
                     units="1", rule=below(1.1))
_GD_FROM_BELOW = dict(quantity="λmax/(2/η) of GD (ρ = 0) at initialisation (step 0), every run at every η", units="1",
                      rule=below(1.0))
_SAM_AT_EDGE = dict(quantity="median over the last quarter of λmax/SAM-edge (current ‖g‖) at the figure's ρ, every run at every η",
                    units="1", rule=EDGE_BAND)
_MORE_ALIGNED = dict(quantity="per run, median over steps of |cos(∇L(θ+ε), v1)| − |cos(∇L(θ), v1)| at the figure's ρ, every run",
                     units="1", rule=above(0.0))
_SIMILAR_LOSS = dict(quantity="per run, last-quarter median training loss of SAM (figure's ρ) / that of GD (ρ = 0), every seed and η",
                     units="1", rule=between(0.5, 2.0))

claim("LB-F2", "gd-at-edge", paper="sam-eos", statement="With a large enough learning rate, GD's λmax rises to 2/η and "
      "stabilizes near it (Cohen et al.).", **_GD_AT_EDGE)(gd_at_edge)
claim("LB-F2", "gd-not-above-edge", paper="sam-eos", statement="GD's λmax does not settle above 2/η at any η "
      "(at small η it may stay below: no claim that it reaches it).", **_GD_NOT_ABOVE)(gd_not_above_edge)
claim("LB-F2", "gd-approaches-edge-from-below", paper="sam-eos", statement="GD approaches the edge of stability from "
      "below: λmax rises (progressive sharpening, Cohen et al.) until it settles near 2/η.", **_GD_FROM_BELOW)(gd_starts_below_edge)
claim("LB-F3", "sam-at-edge", paper="sam-eos", statement="SAM's λmax closely tracks the SAM-edge computed from the "
      "current gradient norm (MLP, full batch).", **_SAM_AT_EDGE)(sam_at_edge)
claim("LB-F3", "sam-at-edge-every-rho", paper="sam-eos", statement="For many combinations of η and ρ the operator norm "
      "of the Hessian at SAM's iterates closely matches the SAM-edge.",
      quantity="median over the last quarter of λmax/SAM-edge, every run at every η and every ρ > 0 of the study",
      units="1", rule=EDGE_BAND)(sam_at_edge_every_rho)
claim("LB-F3", "sam-far-below-gd-edge", paper="sam-eos", statement="SAM's edge, and with it λmax, is much smaller "
      "than 2/η, even early in training.", quantity="median over the last quarter of λmax/(2/η) of SAM at the figure's ρ, every run",
      units="1", rule=below(0.5), paper_value="\"often much smaller than 2/η\"")(sam_below_gd_edge)


@claim("LB-F4", "sam-edge-falls", paper="sam-eos", statement="The SAM-edge decreases over training, as the gradients get smaller.",
       quantity="per run, last-quarter median of the SAM-edge / its value at step 0, at the figure's ρ, every run",
       units="1", rule=below(1.0))
def sam_edge_falls(store, options):
    sub = None if store is None else _select(store, options, rho=_default_rho(store, options))
    if sub is None:
        return None
    return _runs(_last_quarter_median(sub.sam_edge) / sub.sam_edge.sel(step=sub.step.min()))


@claim("LB-F4", "top-eigenvalues-close", paper="sam-eos", statement="Under SAM the top three Hessian eigenvalues are "
       "very close to one another.", quantity="per run, last-quarter median of λ_k/λ_1 (k: the last tracked, 3 in the paper), every run",
       units="1", rule=above(0.9))
def top_eigenvalues_close(store, options):
    sub = None if store is None else _select(store, options, rho=_default_rho(store, options))
    if sub is None or sub.sizes.get("eig_index", 0) < 2:
        return None
    return _runs(_last_quarter_median(sub.eigenvalues.isel(eig_index=-1) / _lambda_max(sub)))


claim("LB-F5", "similar-loss", paper="sam-eos", statement="SAM achieves flatter minima with similar training loss (MLP).",
      **_SIMILAR_LOSS)(similar_final_loss)
claim("LB-F6", "sam-gradient-more-aligned", paper="sam-eos", statement="The gradient at SAM's uphill point is more closely "
      "aligned with the top Hessian eigenvector than the gradient at the iterate (MLP).", **_MORE_ALIGNED)(sam_gradient_more_aligned)

claim("LB-F7", "gd-at-edge", paper="sam-eos", statement="At the larger learning rates, GD on the CNN reaches the edge of "
      "stability.", **_GD_AT_EDGE)(gd_at_edge)
claim("LB-F7", "gd-not-above-edge", paper="sam-eos", statement="GD's λmax does not settle above 2/η at any η (CNN).",
      **_GD_NOT_ABOVE)(gd_not_above_edge)
claim("LB-F7", "gd-approaches-edge-from-below", paper="sam-eos", statement="GD on the CNN approaches the edge of "
      "stability from below (progressive sharpening).", **_GD_FROM_BELOW)(gd_starts_below_edge)
claim("LB-F8", "sam-at-edge", paper="sam-eos", statement="SAM operates at the SAM-edge on the CNN, even at learning rates "
      "where GD does not reach 2/η.", **_SAM_AT_EDGE)(sam_at_edge)
claim("LB-F8", "sam-far-below-gd-edge", paper="sam-eos", statement="Under SAM the eigenvalues are multiple orders of "
      "magnitude smaller than 2/η (CNN); the rule asks for one order.",
      quantity="median over the last quarter of λmax/(2/η) of SAM at the figure's ρ, every run", units="1", rule=below(0.1),
      paper_value="\"multiple orders of magnitude smaller than 2/η\"")(sam_below_gd_edge)
claim("LB-F9", "sam-at-edge-at-smallest-lr", paper="sam-eos", statement="Zoomed in, SAM operates at the SAM-edge even "
      "at learning rates where GD did not reach its edge (CNN).",
      quantity="median over the last quarter of λmax/SAM-edge at the figure's ρ and the grid's smallest η, every seed",
      units="1", rule=EDGE_BAND)(sam_at_edge_smallest_lr)
claim("LB-F10", "similar-loss", paper="sam-eos", statement="SAM achieves wider minima without sacrificing training error (CNN).",
      **_SIMILAR_LOSS)(similar_final_loss)
claim("LB-F11", "sam-gradient-more-aligned", paper="sam-eos", statement="As on MNIST, the gradient at SAM's uphill point "
      "is more aligned with the top eigenvector than the gradient at the iterate (CNN).", **_MORE_ALIGNED)(sam_gradient_more_aligned)

claim("LB-F13", "sam-at-edge", paper="sam-eos", statement="With minibatches, SAM (ρ = 0.3) shows evidence of operating at "
      "the SAM-edge (Transformer; λmax on a fixed minibatch).", **_SAM_AT_EDGE)(sam_at_edge)
claim("LB-F13", "sam-flatter-than-sgd", paper="sam-eos", statement="With SAM the operator norm of the Hessian is "
      "significantly less than with SGD (Transformer).",
      quantity="per run, last-quarter median λmax of SAM (figure's ρ) / that of SGD (ρ = 0), every seed and η",
      units="1", rule=below(1.0))(sam_flatter_than_base)
claim("LB-F15", "similar-loss", paper="sam-eos", statement="SAM takes longer but ultimately reaches a training loss "
      "similar to SGD's (Transformer; per-minibatch loss).", **_SIMILAR_LOSS)(similar_final_loss)
claim("LB-F16", "sam-gradient-more-aligned-late", paper="sam-eos", statement="At the large learning rates, late in "
      "training, SAM's gradients align more closely with the top eigenvector than the gradients at the iterate "
      "(the opposite holds at the smallest η; no claim there).",
      quantity="per run at the largest η, median over the second half of the steps of |cos(∇L(θ+ε), v1)| − |cos(∇L(θ), v1)|",
      units="1", rule=above(0.0))(sam_gradient_more_aligned_late)


# -- late-sam Fig. 10: full-batch GD, SAM and switches ---------------------------------------
def _parts(schedule: str) -> tuple[str, str | None]:
    """(first, second) optimizer of a schedule; second is None for a pure one."""
    if "->" not in schedule:
        return schedule, None
    first, second = schedule.split("@")[0].split("->")
    return first, second


def _schedules(store: xr.Dataset, kind: str) -> list[str]:
    """The store's schedules of a kind: "base" (pure GD/SGD), "sam" (pure SAM family), "to_base"
    (SAM first, then the base: early SAM) or "to_sam" (base first, then SAM: late SAM)."""
    def kind_of(name: str) -> str:
        first, second = _parts(name)
        if second is None:
            return "sam" if first in SAM_FAMILY else "base"
        return "to_sam" if second in SAM_FAMILY else "to_base"

    return [str(s) for s in store.schedule.values if kind_of(str(s)) == kind]


def _schedule_edge_ratio(store, options, kind: str) -> xr.DataArray | None:
    """Median over the last quarter of λmax/(2/η) per seed and schedule of ``kind`` (one lr, the figure's ρ)."""
    names = [] if store is None else _schedules(store, kind)
    sub = _select(store, options, rho=_default_rho(store, options), schedule=names, one_lr=True) if names else None
    return None if sub is None else _last_quarter_median(_lambda_max(sub) / sub.gd_edge)


def _schedule_claim(kind: str):
    def measure(store, options):
        ratio = _schedule_edge_ratio(store, options, kind)
        return None if ratio is None else _runs(ratio)

    return measure


claim("LS-F10", "gd-at-edge", paper="late-sam", statement="Trained entirely with GD, the sharpness rises to 2/η and "
      "oscillates there (edge of stability).", quantity="median over the last quarter of λmax/(2/η) of GD, every seed",
      units="1", rule=EDGE_BAND, paper_value="2/η = 200 at η = 0.01")(_schedule_claim("base"))
claim("LS-F10", "sam-far-below-edge", paper="late-sam", statement="Trained entirely with full-batch SAM, the sharpness "
      "converges to a value much smaller than 2/η.", quantity="median over the last quarter of λmax/(2/η) of SAM, every seed",
      units="1", rule=below(0.5))(_schedule_claim("sam"))
claim("LS-F10", "sam-to-gd-returns-to-edge", paper="late-sam", statement="After switching from SAM to GD the sharpness "
      "rapidly increases and oscillates around 2/η, regardless of how late the switch occurs.",
      quantity="median over the last quarter of λmax/(2/η) of every SAM→GD schedule, every seed and switch step",
      units="1", rule=EDGE_BAND)(_schedule_claim("to_base"))
claim("LS-F10", "gd-to-sam-leaves-edge", paper="late-sam", statement="After switching from GD to SAM the sharpness "
      "falls below GD's edge (the caption's GD→SAM switches; our reading).",
      quantity="median over the last quarter of λmax/(2/η) of every GD→SAM schedule, every seed and switch step",
      units="1", rule=below(0.9))(_schedule_claim("to_sam"))


# -- far-from-home Fig. 3: NTK eigenvalues at the GD-EOS and the SAM-EOS ----------------------
def _ntk_ratio(store, options, rho: float) -> xr.DataArray | None:
    """Median over the last quarter of the top NTK eigenvalue / its EOS (2/η at ρ = 0, the SAM-EOS λ* else)."""
    sub = None if store is None or "ntk_eigenvalues" not in store else _select(store, options, rho=rho)
    if sub is None:
        return None
    edge = xr.DataArray(theory.sam_eos_unnormalized(sub.lr.values, rho), dims="lr", coords={"lr": sub.lr})
    return _last_quarter_median(sub.ntk_eigenvalues.isel(ntk_index=0, drop=True)) / edge


@claim("FH-F3", "gd-at-eos", paper="far-from-home", statement="Under full-batch GD the largest NTK eigenvalue stabilizes "
       "at the GD-EOS ηλmax = 2.", quantity="median over the last quarter of the top NTK eigenvalue/(2/η), every run",
       units="1", rule=EDGE_BAND)
def ntk_gd_at_eos(store, options):
    ratio = _ntk_ratio(store, options, 0.0)
    return None if ratio is None else _runs(ratio)


@claim("FH-F3", "usam-at-sam-eos", paper="far-from-home", statement="Under unnormalized SAM the largest NTK eigenvalue "
       "stabilizes lower, well predicted by the SAM-EOS η(λ + ρλ²) = 2.",
       quantity="median over the last quarter of the top NTK eigenvalue/λ*(η, ρ) at the figure's ρ, every run",
       units="1", rule=EDGE_BAND)
def ntk_usam_at_sam_eos(store, options):
    ratio = None if store is None else _ntk_ratio(store, options, _default_rho(store, options))
    return None if ratio is None else _runs(ratio)


# -- far-from-home Figs. 4–6, 8, 9: minibatch SGD and USAM, cosine schedule -------------------
def _compare_learned(ratio: xr.DataArray, learned: xr.DataArray, sub: xr.Dataset) -> Estimate:
    """every_run over the runs that learned (both sides of each ratio), the others named in the note."""
    kept = ratio.where(learned)
    values = kept.values[np.isfinite(kept.values)]
    estimate = every_run(values) if values.size else every_run([np.nan])
    return _with_note(estimate, "; ".join(n for n in (_learned_note(sub), "per run " + _per_run(ratio)) if n))


def _over_sgd(store, options, per_run) -> Estimate | None:
    """``per_run(sub)`` of USAM at every ρ > 0 over SGD's (ρ = 0), per seed, runs that learned only."""
    sub = None if store is None else _select(store, options, one_lr=True)
    if sub is None or 0.0 not in sub.rho.values or not (sub.rho > 0).any():
        return None
    values, learned = per_run(sub), _learned(sub)
    sam = [r for r in sub.rho.values if r > 0]
    ratio = (values / values.sel(rho=0.0)).sel(rho=sam)
    return _compare_learned(ratio, (learned & learned.sel(rho=0.0)).sel(rho=sam), sub)


def usam_flatter_than_sgd(store, options):
    return _over_sgd(store, options, lambda sub: _last_quarter_median(_lambda_max(sub)))


def _variation(sub: xr.Dataset) -> xr.DataArray:
    """sd/mean over the run of the minibatch gradient norm, as the figure's legend."""
    g = sub.batch_grad_norm
    return g.std("step") / g.mean("step")


def usam_gradient_steadier(store, options):
    return _over_sgd(store, options, _variation)


_FLATTER = dict(quantity="per seed and ρ > 0, last-quarter median λmax of USAM / that of SGD; runs with final training "
                f"error > {LEARNED_ERROR:g} left out", units="1", rule=below(1.0))
_STEADIER = dict(quantity="per seed and ρ > 0, sd/mean over the run of USAM's minibatch ‖g‖ / that of SGD; runs with "
                 f"final training error > {LEARNED_ERROR:g} left out", units="1", rule=below(1.0))

claim("FH-F4", "usam-flatter-than-sgd", paper="far-from-home", statement="A larger SAM radius mitigates the increase of "
      "λmax: USAM ends flatter than SGD (MSE).", **_FLATTER)(usam_flatter_than_sgd)
claim("FH-F8", "usam-flatter-than-sgd", paper="far-from-home", statement="As with MSE, USAM controls λmax below SGD's "
      "(cross-entropy).", **_FLATTER)(usam_flatter_than_sgd)
claim("FH-F6", "usam-gradient-steadier", paper="far-from-home", statement="Minibatch gradient magnitudes are very stable "
      "for SAM, more so than for SGD, particularly for larger ρ (MSE).", **_STEADIER)(usam_gradient_steadier)
claim("FH-F9", "usam-gradient-steadier", paper="far-from-home", statement="SAM's gradient norms stay relatively constant "
      "while SGD's fall at the end (cross-entropy).", **_STEADIER)(usam_gradient_steadier)


@claim("FH-F4", "usam-at-sam-eos", paper="far-from-home", statement="USAM's SAM-normalized eigenvalue η(λmax + ρλmax²) "
       "stays close to (often slightly above) 2.",
       quantity="per USAM run (ρ > 0), median over the first half of the steps of η_t(λmax + ρλmax²)/2; runs that did "
       "not learn left out", units="1", rule=EDGE_BAND)
def usam_at_sam_eos(store, options):
    sub = None if store is None else _select(store, options, one_lr=True)
    if sub is None or not (sub.rho > 0).any():
        return None
    lam = _lambda_max(sub)
    half = _first_half_median(sub.learning_rate * (lam + sub.rho * lam**2) / 2)
    sam = [r for r in sub.rho.values if r > 0]
    return _compare_learned(half.sel(rho=sam), _learned(sub).sel(rho=sam), sub.sel(rho=sam))


@claim("FH-F4", "sgd-at-eos", paper="far-from-home", statement="SGD shows edge-of-stability behaviour: ηλmax stays near "
       "2 early on, while the learning rate is high.",
       quantity="per SGD run (ρ = 0), median over the first half of the steps of η_tλmax/2", units="1", rule=EDGE_BAND)
def sgd_at_eos(store, options):
    sub = None if store is None else _select(store, options, rho=0.0, one_lr=True)
    return None if sub is None else _runs(_first_half_median(sub.learning_rate * _lambda_max(sub) / 2))


@claim("FH-F5", "late-sam-flatter", paper="far-from-home", statement="After the crossover, late SAM (SGD, then SAM) "
       "gives better control of λmax than early SAM (SAM, then SGD).",
       quantity="per seed and switch step, last-quarter median λmax of late SAM / that of early SAM; runs with final "
       f"training error > {LEARNED_ERROR:g} left out", units="1", rule=below(1.0))
def late_sam_flatter(store, options):
    early, late = ([] if store is None else _schedules(store, k) for k in ("to_base", "to_sam"))
    pairs = [(name, _mirror(name)) for name in early if _mirror(name) in late]
    sub = None if not pairs else _select(store, options, rho=_default_rho(store, options), schedule=False, one_lr=True)
    if sub is None:
        return None

    def late_over_early(values: xr.DataArray, op) -> xr.DataArray:
        late_values = values.sel(schedule=xr.DataArray([b for _, b in pairs], dims="switch"))
        early_values = values.sel(schedule=xr.DataArray([a for a, _ in pairs], dims="switch")).drop_vars("schedule")
        return op(late_values, early_values).swap_dims(switch="schedule")

    ratio = late_over_early(_last_quarter_median(_lambda_max(sub)), np.divide)
    both = late_over_early(_learned(sub), np.logical_and)
    return _compare_learned(ratio, both, sub.sel(schedule=[s for p in pairs for s in p]))


def _mirror(schedule: str) -> str:
    """The same switch the other way round: usam->sgd@t gives sgd->usam@t."""
    first, second = _parts(schedule)
    return f"{second}->{first}@{schedule.split('@')[1]}"


@claim("FH-F6", "sgd-gradient-drops", paper="far-from-home", statement="SGD's minibatch gradient magnitudes are steady "
       "during the first half of training and drop at late times.",
       quantity="per SGD run (ρ = 0), last-quarter median of the minibatch ‖g‖ / its first-half median",
       units="1", rule=below(1.0), paper_value="dropped by a factor of 4 (ratio 0.25)")
def sgd_gradient_drops(store, options):
    sub = None if store is None else _select(store, options, rho=0.0, one_lr=True)
    if sub is None:
        return None
    g = sub.batch_grad_norm
    return _runs(_last_quarter_median(g) / _first_half_median(g))


# -- eigen-sam Fig. 1: alignment of the SAM perturbation with the top eigenvector -------------
@claim("ES-F1", "perturbation-not-aligned", paper="eigen-sam", statement="The alignment between SAM's perturbation and "
       "the top Hessian eigenvector is poor during training.",
       quantity="mean over seeds of each seed's mean over training of Align(ε, v1) (1 = aligned), 95 % t-interval",
       units="1", rule=below(0.5))
def perturbation_not_aligned(store, options):
    sub = None if store is None else _select(store, options, rho=_default_rho(store, options), one_lr=True)
    if sub is None:
        return None
    align = sub.perturbation_alignment.sel(step=sub.step.values[sub.step.values > 0])
    return mean_interval(align.mean("step", skipna=True).values, "seeds")
