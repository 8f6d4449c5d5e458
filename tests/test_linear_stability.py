"""LS-T2: late-sam's Theorem 4.1 evaluated as stated where its assumptions hold (digits-linstab),
and labelled with the assumptions that fail where they do not (digits-switch)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sharpness.report.spectrum import NEAR_ZERO_LOSS, WITHIN_ASSUMPTIONS, stability_table, theorem_assumptions_broken
from sharpness.store import write_atomic

ROOT = Path(__file__).resolve().parents[1]
T = 3  # epochs of the synthetic runs; the checkpoint is the final model


def _store(tmp_path, cfg: dict, *, frob, gamma, loss, lr: float, grad_norm: float = 2.0, name: str = "toy") -> str:
    """A study store of two seeds and the two pure runs of ``cfg``'s optimizers (a->b, t ∈ {0, T}).
    ``frob``, ``gamma``, ``loss``: {optimizer: [seed 0, seed 1]}."""
    first, second = cfg["optimizers"]
    per_seed = {"frob": frob, "gamma": gamma}
    spectra = {key: np.array([[[values[first][s]], [values[second][s]]] for s in (0, 1)]) for key, values in per_seed.items()}
    train_loss = np.zeros((2, 1, 2, T))
    for s in (0, 1):  # switch epoch 0: the second optimizer alone; T: the first alone
        train_loss[s, 0, 0, :], train_loss[s, 0, 1, :] = loss[second][s], loss[first][s]
    spectrum_dims, run_dims = ("seed", "optimizer", "checkpoint_epoch"), ("seed", "direction", "switch_epoch", "epoch")
    ds = xr.Dataset(
        {
            "frobenius_sq": (spectrum_dims, spectra["frob"]),
            "frobenius_sq_ci95": (spectrum_dims, np.zeros_like(spectra["frob"])),
            "trace_frobenius_exact": (spectrum_dims, np.ones_like(spectra["frob"])),
            "gamma": (spectrum_dims, spectra["gamma"]),
            "train_loss": (run_dims, train_loss),
            "lr": (run_dims, np.full((2, 1, 2, T), lr)),
            "grad_norm": (run_dims, np.full((2, 1, 2, T), grad_norm)),
            "train_converged": (run_dims[:3], np.ones((2, 1, 2), dtype=int)),
        },
        coords={"seed": [0, 1], "optimizer": [first, second], "checkpoint_epoch": [T], "direction": [f"{first}->{second}"],
                "switch_epoch": [0, T], "epoch": np.arange(1, T + 1)},
        attrs={"study": name, "config": json.dumps(cfg)},
    )
    for var in ds.data_vars.values():
        var.attrs.update(units="1", long_name=var.name.replace("_", " "))
    path = tmp_path / f"{name}.nc"
    write_atomic(ds, path)
    return str(path)


THEOREM = {"loss": "mse", "batch_size": 8, "optimizers": {"sgd": {"momentum": 0.0, "weight_decay": 0.0},
                                                          "usam": {"rho": 1.0, "momentum": 0.0, "weight_decay": 0.0}}}
SWITCH = {"loss": "cross_entropy", "batch_size": 8, "optimizers": {"sgd": {"momentum": 0.5, "weight_decay": 5e-4},
                                                                   "sam": {"rho": 0.5, "momentum": 0.5, "weight_decay": 5e-4}}}


def test_within_the_assumptions_the_bound_is_the_theorem_as_stated(tmp_path):
    # η = 0.5, γ = 2, B = 8: SGD's bound B/(η²γ) = 8/(0.25 · 2) = 16. USAM (ρ = 1, not divided by
    # ‖g‖ = 2): ‖H‖²_F(1 + ρ²γ‖H‖²_F/B) ≤ 16, i.e. x(1 + x/4) = 16, x = 2(√17 − 1).
    path = _store(tmp_path, THEOREM, frob={"sgd": [4.0, 8.0], "usam": [2.0, 3.0]}, gamma={"sgd": [2.0, 2.0], "usam": [2.0, 2.0]},
                  loss={"sgd": [1e-4, 2e-4], "usam": [1e-5, 1e-5]}, lr=0.5)
    table = stability_table([path], {}).set_index("optimizer")
    usam_bound = 2 * (math.sqrt(17) - 1)
    assert usam_bound * (1 + usam_bound / 4) == pytest.approx(16.0)
    assert table.loc["sgd", "own_bound_mean [1]"] == pytest.approx(16.0)
    assert table.loc["usam", "own_bound_mean [1]"] == pytest.approx(usam_bound)
    assert table.loc["usam", "sgd_bound_mean [1]"] == pytest.approx(16.0)
    assert table.loc["sgd", "fraction_of_own_bound [1]"] == pytest.approx(np.mean([4 / 16, 8 / 16]))
    assert table.loc["sgd", "fraction_of_own_bound_std [1]"] == pytest.approx(np.std([4 / 16, 8 / 16], ddof=1))
    assert table.loc["usam", "fraction_of_own_bound [1]"] == pytest.approx(2.5 / usam_bound)
    for opt in ("sgd", "usam"):
        assert table.loc[opt, "assumptions"] == WITHIN_ASSUMPTIONS
        assert table.loc[opt, "correction"] == "none"
        assert table.loc[opt, "lr_effective [1]"] == 0.5 and table.loc[opt, "n_seeds"] == 2
        assert table.loc[opt, "near_zero_loss"] == 2 and table.loc[opt, "n_converged"] == 2 and table.loc[opt, "n_exact"] == 2
    assert table.loc["usam", "rho_effective [1]"] == 1.0, "USAM's ρ as it is, not ρ/‖g‖"
    assert table.loc["sgd", "final_train_loss_mean [1]"] == pytest.approx(1.5e-4)


def test_outside_the_assumptions_the_row_names_them_and_its_corrections(tmp_path):
    path = _store(tmp_path, SWITCH, frob={"sgd": [0.5, 0.7], "sam": [0.05, 0.07]}, gamma={"sgd": [2.0, 2.0], "sam": [4.0, 4.0]},
                  loss={"sgd": [2e-3, 8e-3], "sam": [1e-3, 1e-3]}, lr=0.1)
    table = stability_table([path], {}).set_index("optimizer")
    assert table.loc["sgd", "assumptions"] == "outside the theorem's assumptions (cross-entropy, momentum, weight decay)"
    assert table.loc["sam", "assumptions"] == "outside the theorem's assumptions (cross-entropy, normalized SAM, momentum, weight decay)"
    assert table.loc["sgd", "correction"] == "eta = lr/(1 - momentum) = 0.2"
    assert table.loc["sam", "correction"] == "eta = lr/(1 - momentum) = 0.2; rho/||g|| for normalized SAM"
    assert table.loc["sam", "rho_effective [1]"] == pytest.approx(0.25)
    # SGD at η = 0.2: B/(η²γ) = 8/(0.04 · 2) = 100.
    assert table.loc["sgd", "own_bound_mean [1]"] == pytest.approx(100.0)
    assert table.loc["sgd", "near_zero_loss"] == 0 and table.loc["sam", "near_zero_loss"] == 2  # 1e-3 is near zero


def test_a_loss_not_near_zero_is_said_even_within_the_assumptions(tmp_path):
    path = _store(tmp_path, THEOREM, frob={"sgd": [4.0, 8.0], "usam": [2.0, 3.0]}, gamma={"sgd": [2.0, 2.0], "usam": [2.0, 2.0]},
                  loss={"sgd": [1e-4, 10 * NEAR_ZERO_LOSS], "usam": [1e-5, 1e-5]}, lr=0.5)
    table = stability_table([path], {}).set_index("optimizer")
    assert table.loc["sgd", "assumptions"] == f"{WITHIN_ASSUMPTIONS}, but the loss is not near zero for 1 of 2 seeds"
    assert table.loc["usam", "assumptions"] == WITHIN_ASSUMPTIONS


def test_rows_follow_the_studies_in_the_order_given(tmp_path):
    kwargs = dict(frob={"sgd": [1.0, 1.0], "usam": [1.0, 1.0], "sam": [1.0, 1.0]}, gamma={"sgd": [1.0, 1.0], "usam": [1.0, 1.0], "sam": [1.0, 1.0]},
                  loss={"sgd": [1e-4, 1e-4], "usam": [1e-4, 1e-4], "sam": [1e-4, 1e-4]}, lr=0.1)
    paths = [_store(tmp_path, THEOREM, name="within", **kwargs), _store(tmp_path, SWITCH, name="outside", **kwargs)]
    table = stability_table(paths, {})
    assert list(zip(table.study, table.optimizer)) == [("within", "sgd"), ("within", "usam"), ("outside", "sgd"), ("outside", "sam")]
    assert "within its assumptions evaluate the bounds as stated" in table.attrs["note"]
    assert "corrections of ours, not the paper's" in table.attrs["note"]


def test_the_shipped_studies_are_on_either_side_of_the_assumptions():
    """digits-linstab keeps every assumption and is small enough for the exact ‖H‖²_F; LS-T2
    reads it first, then digits-switch, which keeps none of the loss and optimizer ones."""
    from sharpness.config import load_config
    from sharpness.models.registry import build_model
    from sharpness.train.hessian import EXACT_MAX_PARAMS

    cfg = load_config(ROOT / "config.yaml")
    assert cfg["figures"]["plots"]["LS-T2"]["studies"] == ["digits-linstab", "digits-switch"]
    linstab, switch = cfg["studies"]["digits-linstab"], cfg["studies"]["digits-switch"]
    assert {opt: theorem_assumptions_broken(linstab, opt) for opt in linstab["optimizers"]} == {"sgd": [], "usam": []}
    assert theorem_assumptions_broken(switch, "sgd") == ["cross-entropy", "momentum", "weight decay"]
    assert linstab["lr_schedule"]["name"] == "constant"
    model = build_model(linstab["model"], (1, 8, 8), 2)  # digits 0 and 1
    assert sum(p.numel() for p in model.parameters()) <= EXACT_MAX_PARAMS
    assert linstab["spectrum"]["n_samples"] >= 288, "H, Σ and L of the whole training set (288 images of 0 and 1)"
