"""Claims of the dynamics, toy and landscape figures: measures on tiny synthetic stores with the
real layouts (dims and variable names), each with a verdict known in advance."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from sharpness import catalog
from sharpness.claims import INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, REPRODUCED, VERDICTS, Estimate, load_all
from sharpness.claims import dynamics as dyn
from sharpness.claims import landscape as land
from sharpness.claims import toys
from sharpness.store.landscape import landscape_dataset
from sharpness.store.toy import toy_dataset

MODULES = (dyn.__name__, toys.__name__, land.__name__)
STEPS = np.arange(0, 90, 10)  # 9 records; the last quarter is steps 60–80
SCHEDULES = ["usam", "sgd", "sam", "gd", "sam->gd@40", "gd->sam@40", "usam->sgd@40", "sgd->usam@40"]


def dynamics_store(lam_over_edge: float = 1.0, *, seeds=(0, 1), lrs=(0.1, 0.4), rhos=(0.0, 0.1), schedules=SCHEDULES,
                   ntk: bool = True) -> xr.Dataset:
    """A dynamics study store: λmax = ``lam_over_edge`` × the optimizer's edge at every step, the
    edges of the real store (2/η; at ρ > 0 a SAM-edge of half that), trained runs (error 0.05)."""
    dims = ("seed", "schedule", "lr", "rho", "step")
    coords = {"seed": list(seeds), "schedule": list(schedules), "lr": list(lrs), "rho": list(rhos), "step": STEPS}
    shape = tuple(len(coords[d]) for d in dims)
    lr = xr.DataArray(list(lrs), dims="lr", coords={"lr": list(lrs)})
    rho = xr.DataArray(list(rhos), dims="rho", coords={"rho": list(rhos)})
    ones = xr.DataArray(np.ones(shape), dims=dims, coords=coords)
    wave = xr.DataArray(np.sin(STEPS), dims="step", coords={"step": STEPS})
    gd_edge = ones * 2 / lr
    sam_edge = xr.where(rho > 0, gd_edge / 2, gd_edge)
    lam = sam_edge * lam_over_edge
    ds = xr.Dataset({
        "gd_edge": gd_edge, "sam_edge": sam_edge, "learning_rate": ones * lr,
        "eigenvalues": xr.concat([lam, 0.95 * lam, 0.92 * lam], "eig_index").transpose(*dims, "eig_index"),
        "train_loss": ones * 0.1, "batch_loss": ones * 0.1, "train_error": ones * 0.05,
        "grad_alignment": ones * 0.3, "sam_grad_alignment": ones * 0.4, "perturbation_alignment": ones * 0.2,
        "batch_grad_norm": ones * xr.where(rho > 0, 1 + 0.1 * wave, 1 + 0.5 * wave),
        "diverged": ones.isel(step=0, drop=True) * 0,
    })
    if ntk:
        ds["ntk_eigenvalues"] = (lam / 2).expand_dims(ntk_index=1, axis=-1)
    for name in ds.data_vars:
        ds[name].attrs.update(units="1", long_name=name)
    ds.attrs.update(study="synthetic", config=json.dumps({"batch_size": "full"}))
    return ds


def verdict(claim_id: str, store, options=None) -> str:
    return load_all()[claim_id].rule.verdict(load_all()[claim_id].evaluate(store, options or {}))


# -- dynamics --------------------------------------------------------------------------------
@pytest.mark.parametrize("ratio, expected", [(1.0, REPRODUCED), (1.3, NOT_REPRODUCED)])
def test_sam_at_edge_reads_the_whole_range_of_runs(ratio, expected):
    assert verdict("LB-F3/sam-at-edge", dynamics_store(ratio), {"rho": 0.1}) == expected


def test_sam_at_edge_one_run_off_the_edge_is_inconclusive():
    store = dynamics_store(1.0)
    store["eigenvalues"] = store.eigenvalues.where(store.lr != 0.4, 1.3 * store.eigenvalues)
    assert verdict("LB-F3/sam-at-edge", store, {"rho": 0.1}) == INCONCLUSIVE


def test_gd_at_edge_judges_the_largest_lr_only_and_reports_the_others():
    store = dynamics_store(1.0)
    store["eigenvalues"] = store.eigenvalues.where(store.lr != 0.1, 0.3 * store.eigenvalues)  # small η: below
    estimate = load_all()["LB-F2/gd-at-edge"].evaluate(store, {})
    assert load_all()["LB-F2/gd-at-edge"].rule.verdict(estimate) == REPRODUCED
    assert "lr=0.1: 0.3" in estimate.note
    assert verdict("LB-F2/gd-not-above-edge", store) == REPRODUCED


def test_usam_flatter_leaves_out_runs_that_did_not_learn():
    store = dynamics_store(1.0, rhos=(0.0, 0.1, 0.3))
    store["eigenvalues"] = store.eigenvalues * xr.where(store.rho == 0.1, 0.5, 1.0) * xr.where(store.rho == 0.3, 3.0, 1.0)
    store["train_error"] = store.train_error.where(store.rho != 0.3, 0.6)  # ρ = 0.3 never learns and is sharper
    claim = load_all()["FH-F4/usam-flatter-than-sgd"]
    estimate = claim.evaluate(store, {})
    assert claim.rule.verdict(estimate) == REPRODUCED
    assert estimate.n == 2 and "not learned" in estimate.note and "rho=0.3" in estimate.note
    store["train_error"] = store.train_error.where(store.rho != 0.3, 0.05)  # now it counts: one run sharper
    assert claim.rule.verdict(claim.evaluate(store, {})) == INCONCLUSIVE


def test_claims_without_their_data_are_not_run():
    no_ntk = dynamics_store(ntk=False)
    assert verdict("FH-F3/gd-at-eos", no_ntk) == NOT_RUN
    assert verdict("FH-F3/gd-at-eos", None) == NOT_RUN
    assert verdict("LB-F3/sam-at-edge", dynamics_store(), {"rho": 0.7}) == NOT_RUN  # ρ not in the study
    assert verdict("FH-F5/late-sam-flatter", dynamics_store(schedules=["usam"])) == NOT_RUN


def test_ntk_at_the_gd_eos_and_sam_eos():
    store = dynamics_store()
    lam_star = xr.DataArray([float(dyn.theory.sam_eos_unnormalized(lr, 0.1)) for lr in store.lr.values], dims="lr",
                            coords={"lr": store.lr})
    store["ntk_eigenvalues"] = xr.where(store.rho > 0, lam_star, store.gd_edge).expand_dims(ntk_index=1, axis=-1)
    assert verdict("FH-F3/gd-at-eos", store) == REPRODUCED
    assert verdict("FH-F3/usam-at-sam-eos", store) == REPRODUCED


def test_switch_schedules_are_told_apart():
    store = dynamics_store()
    assert dyn._schedules(store, "to_base") == ["sam->gd@40", "usam->sgd@40"]
    assert dyn._schedules(store, "to_sam") == ["gd->sam@40", "sgd->usam@40"]
    assert dyn._schedules(store, "base") == ["sgd", "gd"]


def test_alignment_gain_sign_decides():
    store = dynamics_store()
    assert verdict("LB-F6/sam-gradient-more-aligned", store, {"rho": 0.1}) == REPRODUCED
    store["sam_grad_alignment"] = store.grad_alignment - 0.05
    assert verdict("LB-F6/sam-gradient-more-aligned", store, {"rho": 0.1}) == NOT_REPRODUCED


def test_perturbation_alignment_mean_over_seeds():
    store = dynamics_store(seeds=(0, 1, 2))
    store["perturbation_alignment"] = store.perturbation_alignment + 0.01 * store.seed
    estimate = load_all()["ES-F1/perturbation-not-aligned"].evaluate(store, {"rho": 0.1})
    assert estimate.n == 3 and estimate.value == pytest.approx(0.21)
    assert load_all()["ES-F1/perturbation-not-aligned"].rule.verdict(estimate) == REPRODUCED


# -- toys --------------------------------------------------------------------------------------
def quadratic_store(sam_level: float) -> xr.Dataset:
    """fh-quadratic's layout: GD at λ = 20; at η = 0.08, SAM (ρ = 0.04) at λ* with η(λ + ρλ²) =
    ``sam_level``, ρ = 0.02 halfway (λ falls with ρ)."""
    seeds, lrs, rhos, steps = [0, 1, 2], [0.003, 0.08], [0.0, 0.02, 0.04], np.arange(0, 50, 5)
    dims = ("seed", "lr", "rho", "step")
    shape = (len(seeds), len(lrs), len(rhos), len(steps))
    lam_sam = (np.sqrt(1 + 4 * 0.04 * sam_level / 0.08) - 1) / (2 * 0.04)
    ntk = np.full(shape, 20.0)
    ntk[:, 1, 1], ntk[:, 1, 2] = (20 + lam_sam) / 2, lam_sam
    lr = np.array(lrs)[None, :, None, None]
    rho = np.array(rhos)[None, None, :, None]
    data = {"ntk_max": (dims, ntk), "loss": (dims, np.ones(shape)), "gd_normalized": (dims, lr * ntk),
            "sam_normalized": (dims, lr * (ntk + rho * ntk**2)), "diverged": (dims[:3], np.zeros(shape[:3], int))}
    coords = {"seed": seeds, "lr": lrs, "rho": rhos, "step": steps}
    return toy_dataset("quadratic_regression", data, coords, {"study": "fh-quadratic"})


@pytest.mark.parametrize("level, expected", [(2.0, REPRODUCED), (2.4, NOT_REPRODUCED)])
def test_quadratic_model_at_the_sam_eos(level, expected):
    assert verdict("FH-F2/large-lr-at-sam-eos", quadratic_store(level), {"rho": 0.04}) == expected


def test_quadratic_model_small_lr_sam_is_gd():
    store = quadratic_store(2.0)
    assert verdict("FH-F2/small-lr-sam-does-not-regularize", store, {"rho": 0.04}) == REPRODUCED
    assert verdict("FH-F2/large-lr-sam-regularizes", store, {"rho": 0.04}) == REPRODUCED
    assert verdict("FH-F7/lambda-falls-with-rho", store, {"lr": 0.08}) == REPRODUCED
    assert verdict("FH-F7/lambda-falls-with-rho", store.assign(ntk_max=-store.ntk_max), {"lr": 0.08}) == NOT_REPRODUCED


def test_two_cycle_distance_is_exact():
    amplitude = 0.2 * 1.0 / (2 - 0.2)
    w1 = np.array([2.0, 1.0, -amplitude, amplitude])
    store = toy_dataset("sam_quadratic", {"w1": (("step",), w1), "w2": (("step",), [2.0, 1.0, 0.0, 0.0]),
                                          "loss": (("step",), w1**2), "cycle_amplitude": ((), amplitude)},
                        {"step": np.arange(4)}, {"study": "br-quadratic"})
    estimate = load_all()["BR-F1/iterates-reach-two-cycle"].evaluate(store, {})
    assert estimate.value == 0.0 and estimate.low == estimate.high
    assert load_all()["BR-F1/iterates-reach-two-cycle"].rule.verdict(estimate) == REPRODUCED


# -- landscape ---------------------------------------------------------------------------------
def landscape_store(rise: float, curvature_slope: float = 1.0) -> xr.Dataset:
    rng = np.random.default_rng(0)
    lambdas = np.round(np.arange(-0.5, 1.55, 0.05), 10)
    line = 0.01 + curvature_slope * 0.1 * (lambdas[None, :] + 0.5) ** 3 + 0.001 * rng.random((3, len(lambdas)))
    steps = np.arange(0, 31, 3)
    shape = np.exp(-((steps - 6) / 6.0) ** 2)  # peaks at t' = 6 then falls
    escape = 0.01 * (1 + (rise - 1) * shape[None, :] * (1 + 0.1 * rng.standard_normal((40, len(steps)))))
    escape[:, 0] = 0.01
    alphas = betas = np.linspace(-1, 1.5, 11)
    plane = (1 + alphas[None, :, None]) * betas[None, None, :] ** 2 + np.zeros((3, 1, 1))
    result = {"interpolation": np.stack([line, line], -1), "lambdas": lambdas, "plane": plane, "alphas": alphas,
              "betas": betas, "escape": np.stack([escape, escape], -1), "escape_steps": steps, "n_parameters": 10}
    return landscape_dataset(result, [0, 1, 2], 0.1, {"study": "digits-landscape"})


@pytest.mark.parametrize("rise, expected", [(50.0, REPRODUCED), (0.5, NOT_REPRODUCED)])
def test_escape_rise_over_trials(rise, expected):
    assert verdict("LS-F4b/sam-escapes-sgd-minimum", landscape_store(rise)) == expected


def test_interpolation_and_plane():
    store = landscape_store(50.0)
    assert verdict("LS-F16/train-loss-then-falls", store) == REPRODUCED
    assert verdict("LS-F4c/no-barrier", store) == REPRODUCED
    assert verdict("LS-F4c/switched-flatter", store) == REPRODUCED  # L'' grows with λ
    assert verdict("LS-F4c/switched-flatter", landscape_store(50.0, curvature_slope=-1.0)) == NOT_REPRODUCED
    assert verdict("LS-F14/wider-contours-at-switched", store) == REPRODUCED  # rise along β grows with α


# -- every claim of the three modules ----------------------------------------------------------
def toy_stores() -> dict[str, xr.Dataset]:
    steps = np.arange(0, 21)
    ravine = {name: (("algorithm", "start", "seed", "step"), np.abs(np.sin(steps + k)) + np.zeros((3, 2, 3, 1)))
              for k, name in enumerate(("w1", "w2", "loss", "sharpness"))}
    tanh = {name: (("schedule", "step"), np.exp(-0.1 * steps) * (1 + np.arange(2)[:, None]) + 0.1 * k)
            for k, name in enumerate(("u", "v", "loss", "sharpness"))}
    cfg = {"options": {"switch_step": 10}}
    two_cycle = toy_dataset("sam_quadratic", {"w1": (("step",), np.ones(21)), "w2": (("step",), np.zeros(21)),
                                              "loss": (("step",), np.ones(21)), "cycle_amplitude": ((), 1.0)},
                            {"step": steps}, {})
    return {
        "quadratic_regression": quadratic_store(2.0),
        "sam_quadratic": two_cycle,
        "ravine": toy_dataset("ravine", ravine, {"algorithm": ["gd", "sam", "sgd"], "start": ["a", "b"], "seed": [0, 1, 2],
                                                 "step": steps}, {}),
        "tanh_valley": toy_dataset("tanh_valley", tanh, {"schedule": ["gd", "gd->sam@10"], "step": steps},
                                   {"config": json.dumps(cfg)}),
    }


def test_every_claim_of_the_three_modules_evaluates():
    claims = [c for c in load_all().values() if c.measure.__module__ in MODULES]
    assert len(claims) >= 30
    ids = {c.exp_id for c in claims}
    for exp_id in ("LB-F1", "LB-F3", "LB-F8", "LB-F13", "LB-F6", "LB-F11", "LB-F16", "LS-F10", "FH-F2", "FH-F3", "FH-F4",
                   "FH-F5", "FH-F6", "FH-F7", "FH-F8", "FH-F9", "ES-F1", "BR-F1", "BR-F3", "BR-F4", "BR-F5", "LS-F4a",
                   "LS-F4b", "LS-F16", "LS-F4c", "LS-F14"):
        assert exp_id in ids, exp_id
    stores = {"dynamics": dynamics_store(1.0, rhos=(0.0, 0.1, 0.3)), "landscape": landscape_store(50.0), **toy_stores()}
    for c in claims:
        entry = catalog.FIGURES[c.exp_id]
        store = None if entry.kind is None else stores[entry.problem or entry.kind]
        estimate = c.evaluate(store, {"rho": 0.1} if entry.kind == "dynamics" else {})
        assert isinstance(estimate, Estimate), c.claim_id  # every layout above holds what each claim needs
        assert c.rule.verdict(estimate) in VERDICTS
        assert c.statement and c.quantity and c.units == "1"


def test_late_sam_is_paired_with_its_own_early_switch():
    store = dynamics_store(schedules=["usam", "usam->sgd@40", "sgd->usam@40", "gd->sam@40"])
    late = store.schedule.isin(["sgd->usam@40"])
    store["eigenvalues"] = store.eigenvalues.where(~late, 0.5 * store.eigenvalues)
    estimate = load_all()["FH-F5/late-sam-flatter"].evaluate(store, {"rho": 0.1})
    assert estimate.value == pytest.approx(0.5) and estimate.n == 2  # two seeds, one pair each; gd->sam@40 not paired
    store["train_error"] = store.train_error.where(~late, 0.9)
    assert verdict("FH-F5/late-sam-flatter", store, {"rho": 0.1}) == INCONCLUSIVE  # nothing left that learned
