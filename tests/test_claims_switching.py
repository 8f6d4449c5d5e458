"""The switching claims on small synthetic stores whose verdicts are known by construction."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from sharpness.catalog import entries
from sharpness.claims import CLAIMS, INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, REPRODUCED, VERDICTS, load_all

PER_EPOCH = ("test_error", "test_loss", "robust_test_error", "train_loss", "lr", "grad_norm")
SGD = {"momentum": 0.9}


def switching_store(finals: dict[str, dict[tuple[str, int], list[float]]], T: int = 4, optimizers: dict | None = None) -> xr.Dataset:
    """A store of the switching layout whose variables take, at every epoch of the run
    (direction, switch epoch), the given per-seed values; every other run is NaN."""
    runs = [run for values in finals.values() for run in values]
    directions = sorted({d for d, _ in runs})
    switch_epochs = sorted({s for _, s in runs} | {0, T})
    n_seeds = len(next(iter(finals.values()))[runs[0]])
    ds = xr.Dataset(coords={"seed": np.arange(n_seeds), "direction": directions, "switch_epoch": switch_epochs, "epoch": np.arange(1, T + 1)})
    for name, values in finals.items():
        per_epoch = name in PER_EPOCH
        data = np.full((n_seeds, len(directions), len(switch_epochs)) + ((T,) if per_epoch else ()), np.nan)
        for (d, s), v in values.items():
            v = np.asarray(v, dtype=float)
            data[:, directions.index(d), switch_epochs.index(s)] = v[:, None] if per_epoch else v
        dims = ("seed", "direction", "switch_epoch") + (("epoch",) if per_epoch else ())
        ds[name] = (dims, data, {"units": "1", "long_name": name})
    ds["diverged"] = (("seed", "direction", "switch_epoch"), np.zeros((n_seeds, len(directions), len(switch_epochs)), int))
    labels = {label for d in directions for label in d.split("->")}
    settings = {label: {"rho": 0.1, **SGD} if "sam" in label else dict(SGD) for label in labels} | (optimizers or {})
    return ds.assign_attrs(study="toy", config=json.dumps({"batch_size": 8, "loss": "cross_entropy", "optimizers": settings}))


def verdict(claim_id: str, store, options=None):
    load_all()
    claim = CLAIMS[claim_id]
    estimate = claim.evaluate(store, options or {})
    return claim.rule.verdict(estimate), estimate


def _sgd_sam(sgd, sam, switch=None, name="test_error"):
    """SGD->SAM over T = 4 epochs: SGD alone, SAM alone and (optionally) switched at t = 3."""
    values = {("sgd->sam", 4): sgd, ("sgd->sam", 0): sam}
    if switch is not None:
        values[("sgd->sam", 3)] = switch
    return switching_store({name: values})


def test_sam_beats_sgd_reproduced_not_reproduced_and_inconclusive():
    assert verdict("LS-F1/sam-beats-sgd", _sgd_sam([0.20, 0.22, 0.21], [0.10, 0.11, 0.09]))[0] == REPRODUCED
    assert verdict("LS-F1/sam-beats-sgd", _sgd_sam([0.10, 0.11, 0.09], [0.20, 0.22, 0.21]))[0] == NOT_REPRODUCED
    assert verdict("LS-F1/sam-beats-sgd", _sgd_sam([0.20, 0.10, 0.15], [0.10, 0.20, 0.14]))[0] == INCONCLUSIVE
    verdict_, estimate = verdict("LS-F1/sam-beats-sgd", _sgd_sam([0.20, 0.22, 0.21], [0.10, 0.11, 0.09]))
    assert estimate.value == pytest.approx(11.0)  # percentage points, paired over seeds
    assert estimate.n == 3


def test_not_run_where_the_store_lacks_the_study_or_the_direction():
    assert verdict("LS-F1/sam-beats-sgd", None)[0] == NOT_RUN
    # LS-F5 reads SAM->SGD: a store with SGD->SAM only does not hold it.
    only_sgd_to_sam = _sgd_sam([0.2] * 3, [0.1] * 3, switch=[0.12] * 3, name="lambda_max")
    assert verdict("LS-F5/sgd-end-sharper-than-sam", only_sgd_to_sam) == (NOT_RUN, None)
    # No interior switch epoch: nothing switched late to measure.
    assert verdict("LS-F3/late-sam-flatter-than-sgd", _sgd_sam([3.0] * 3, [1.0] * 3, name="lambda_max")) == (NOT_RUN, None)


def test_a_diverged_seed_is_left_out_and_counted():
    store = _sgd_sam([0.20, 0.22, 0.21, 0.30], [0.10, 0.11, 0.09, np.nan])
    _, estimate = verdict("LS-F1/sam-beats-sgd", store)
    assert estimate.n == 3 and "1 of 4" in estimate.note


def test_late_switch_picks_the_latest_interior_epoch_or_the_figures_own():
    values = {("sgd->sam", 10): [0.20, 0.21, 0.22], ("sgd->sam", 0): [0.10, 0.10, 0.10],
              ("sgd->sam", 8): [0.25, 0.26, 0.27], ("sgd->sam", 2): [0.12, 0.12, 0.12]}
    store = switching_store({"test_error": values}, T=10)
    _, late = verdict("LS-F1/late-sam-beats-sgd", store)
    assert late.value == pytest.approx(-5.0) and "t = 8 of T = 10" in late.note
    _, chosen = verdict("LS-F1/late-sam-beats-sgd", store, {"switch_epoch": 2})
    assert chosen.value == pytest.approx(9.0) and "t = 2" in chosen.note


def test_closing_the_gap_needs_a_gap():
    # SGD ≈ 20 %, SAM ≈ 10 %, the late switch 2 points from SAM: (SGD − switch) − (switch − SAM) = 6.
    closed = _sgd_sam([0.20, 0.21, 0.19], [0.10, 0.11, 0.10], switch=[0.12, 0.13, 0.115])
    v, estimate = verdict("LS-F3/late-sam-closes-gap", closed)
    assert v == REPRODUCED and estimate.value == pytest.approx(6.0)
    # The switch stays near SGD: less than half the way.
    assert verdict("LS-F3/late-sam-closes-gap", _sgd_sam([0.20, 0.21, 0.19], [0.10, 0.11, 0.10], switch=[0.19, 0.20, 0.18]))[0] == NOT_REPRODUCED
    # SAM worse than SGD (squared loss at default scale): the contrast would read positive,
    # but there is no gap to close, so it is inconclusive and says why.
    v, estimate = verdict("LS-F12/late-sam-closes-gap", _sgd_sam([0.14, 0.15, 0.13], [0.21, 0.20, 0.22], switch=[0.15, 0.15, 0.16]))
    assert v == INCONCLUSIVE and "no gap to close" in estimate.note


def test_sam_to_sgd_reads_sam_alone_at_T():
    # SAM->SGD: switch_epoch T (4) is SAM alone, 0 is SGD alone; switched at 3 it ends sharper.
    lambda_max = {("sam->sgd", 4): [1.0, 1.1, 0.9], ("sam->sgd", 0): [3.0, 3.1, 2.9], ("sam->sgd", 3): [2.0, 2.1, 1.9]}
    store = switching_store({"lambda_max": lambda_max})
    v, estimate = verdict("LS-F5/sgd-end-sharper-than-sam", store)
    assert v == REPRODUCED and estimate.value == pytest.approx(1.0)


def test_every_rho_fails_when_one_rho_fails():
    optimizers = {"sam_a": {"type": "sam", "rho": 0.1}, "sam_b": {"type": "sam", "rho": 0.3}}
    ok, bad = [0.50, 0.52, 0.51], [0.30, 0.31, 0.29]
    full_sam = {("sam_a->sgd", 4): [0.40, 0.41, 0.40], ("sam_b->sgd", 4): [0.40, 0.41, 0.40]}
    both = switching_store({"test_loss": full_sam | {("sam_a->sgd", 3): ok, ("sam_b->sgd", 3): ok}}, optimizers=optimizers)
    one_fails = switching_store({"test_loss": full_sam | {("sam_a->sgd", 3): ok, ("sam_b->sgd", 3): bad}}, optimizers=optimizers)
    assert verdict("LS-F15/sgd-end-keeps-gap-every-rho", both)[0] == REPRODUCED
    v, estimate = verdict("LS-F15/sgd-end-keeps-gap-every-rho", one_fails)
    assert v == NOT_REPRODUCED and "ρ = 0.3" in estimate.note


def test_eigen_sam_against_sam_by_optimizer_type():
    optimizers = {"eigen_sam": {"type": "eigen_sam", "rho": 0.1, "refresh_every": 100},
                  "eigen_p400": {"type": "eigen_sam", "rho": 0.1, "refresh_every": 400}}
    sgd = [0.20, 0.21, 0.22]  # SGD alone: the same runs at t = T in every direction
    error = {("sgd->sam", 4): sgd, ("sgd->eigen_sam", 4): sgd, ("sgd->eigen_p400", 4): sgd, ("sgd->sam", 0): [0.10, 0.11, 0.12],
             ("sgd->eigen_sam", 0): [0.08, 0.09, 0.10], ("sgd->eigen_p400", 0): [0.12, 0.13, 0.14]}
    store = switching_store({"test_error": error}, optimizers=optimizers)
    v, estimate = verdict("ES-T1/eigen-sam-beats-sam", store, {"optimizers": ["sgd", "sam", "eigen_sam"]})
    assert v == REPRODUCED and estimate.value == pytest.approx(2.0)
    assert verdict("ES-T1/sam-beats-sgd", store)[0] == REPRODUCED
    # p = 400 loses to SAM on every seed: the claim for every p is not reproduced.
    assert verdict("ES-T3/eigen-sam-beats-sam-every-p", store)[0] == NOT_REPRODUCED


def spectrum_store(frobenius, gamma=2.0, alignment=0.99, lambda_max=(1.0, 0.8)) -> xr.Dataset:
    """SGD->SAM pure runs with checkpoint spectra of optimizers (sgd, sam) over three seeds."""
    store = switching_store({"test_error": {("sgd->sam", 4): [0.2] * 3, ("sgd->sam", 0): [0.1] * 3},
                          "lr": {("sgd->sam", 4): [0.1] * 3, ("sgd->sam", 0): [0.1] * 3},
                          "grad_norm": {("sgd->sam", 4): [2.0] * 3, ("sgd->sam", 0): [2.0] * 3},
                          "train_loss": {("sgd->sam", 4): [1e-3] * 3, ("sgd->sam", 0): [1e-3] * 3}})
    store["train_converged"] = xr.ones_like(store.lr.isel(epoch=0, drop=True), dtype=int)
    dims = ("optimizer", "seed", "checkpoint_epoch")
    spectra = xr.Dataset(
        {
            "frobenius_sq": (dims, np.broadcast_to(np.asarray(frobenius, float)[:, :, None], (2, 3, 1))),
            "gamma": (dims, np.full((2, 3, 1), gamma)),
            "trace": (dims, np.full((2, 3, 1), 1.0)),
            "frobenius_sq_ci95": (dims, np.full((2, 3, 1), 0.0)),
            "trace_frobenius_exact": (dims, np.full((2, 3, 1), 1)),
            "spectrum_eigenvalues": (dims + ("spectrum_eig_index",), np.broadcast_to(np.asarray(lambda_max)[:, None, None, None], (2, 3, 1, 1))),
            "power_alignment": (dims + ("hvp_step",), np.full((2, 3, 1, 6), alignment)),
        },
        coords={"optimizer": ["sgd", "sam"], "checkpoint_epoch": [4], "hvp_step": np.arange(1, 7)},
    )
    return store.merge(spectra)


def test_spectrum_claims():
    # Table 2 bounds here are ≈ 4 (B = 8, η/(1 − β) = 0.1/0.1 = 1, γ = 2), just below for SAM.
    assert verdict("LS-T2/within-stability-bound", spectrum_store([[0.5] * 3, [0.4] * 3]))[0] == REPRODUCED
    v, estimate = verdict("LS-T2/within-stability-bound", spectrum_store([[1e4] * 3, [1e4] * 3]))
    assert v == NOT_REPRODUCED and estimate.n == 6
    # Some runs within, some beyond: the range over runs straddles 1.
    assert verdict("LS-T2/within-stability-bound", spectrum_store([[0.5] * 3, [1e4] * 3]))[0] == INCONCLUSIVE
    assert verdict("LS-T2/sam-frobenius-below-sgd", spectrum_store([[0.5, 0.6, 0.7], [0.4, 0.45, 0.5]]))[0] == REPRODUCED
    assert verdict("ES-F5/power-iteration-aligns", spectrum_store([[1] * 3] * 2, alignment=0.95))[0] == REPRODUCED
    assert verdict("ES-F5/power-iteration-aligns", spectrum_store([[1] * 3] * 2, alignment=0.5))[0] == NOT_REPRODUCED
    # No Eigen-SAM among the measured runs: ES-F3's comparison is not run.
    assert verdict("ES-F3/eigen-sam-flatter", spectrum_store([[1] * 3] * 2)) == (NOT_RUN, None)


def _every_kind_store() -> xr.Dataset:
    """One store with every direction the switching claims read, random finite values."""
    rng = np.random.default_rng(0)
    eigen = {"eigen_sam": {"type": "eigen_sam", "rho": 0.1, "alpha": 0.2, "refresh_every": 100},
             "eigen_p400": {"type": "eigen_sam", "rho": 0.1, "alpha": 0.2, "refresh_every": 400},
             "eigen_a05": {"type": "eigen_sam", "rho": 0.1, "alpha": 0.5, "refresh_every": 100},
             "sam_r2": {"type": "sam", "rho": 0.2}, "asam": {"rho": 1.0}, "usam": {"rho": 0.1}}
    directions = ["sgd->sam", "sam->sgd", "sgd->asam", "sgd->usam", "adamw->sam", "sam_r2->sgd", "sgd->at",
                  "sgd->eigen_sam", "sgd->eigen_p400", "sgd->eigen_a05"]
    runs = [(d, s) for d in directions for s in (0, 2, 3, 4)]
    names = ("test_error", "test_loss", "robust_test_error", "lambda_max", "lr", "grad_norm", "train_loss")
    store = switching_store({name: {run: rng.uniform(0.05, 0.5, 3) for run in runs} for name in names}, optimizers=eigen)
    store["train_converged"] = xr.ones_like(store.lr.isel(epoch=0, drop=True), dtype=int)
    spectra = spectrum_store(rng.uniform(0.1, 1, (2, 3))).drop_vars(list(store.data_vars) + ["direction", "switch_epoch", "epoch"], errors="ignore")
    return store.merge(spectra.assign_coords(optimizer=["sgd", "sam"]))


def test_every_switching_claim_evaluates_on_a_store_of_its_layout():
    switching_ids = {c.exp_id for c in load_all().values() if any(e.kind == "switching" for e in entries(c.exp_id))}
    assert {"LS-F1", "LS-F3", "LS-F5", "LS-F6", "LS-F15", "ES-T1", "ES-T3", "ES-F3", "ES-F5", "LS-T2"} <= switching_ids
    store = _every_kind_store()
    unmeasured = []
    for claim in (c for c in CLAIMS.values() if c.exp_id in switching_ids):
        estimate = claim.evaluate(store, {})
        assert claim.rule.verdict(estimate) in VERDICTS
        assert claim.statement and claim.quantity and claim.units
        if estimate is None:
            unmeasured.append(claim.claim_id)
    # Only ES-F3's Eigen-SAM spectra are missing from this store (its spectra are SGD's and SAM's).
    assert sorted(unmeasured) == ["ES-F3/eigen-sam-flatter", "ES-F3/eigen-sam-smaller-trace"]
