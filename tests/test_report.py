"""Figure and table numbers, checked on a hand-made study store whose answers are known."""

import numpy as np
import pytest
import xarray as xr

from sharpness.report import switching
from sharpness.store.cf import described

T = 4


def _store(tmp_path, name="toy"):
    """test_loss = 1 + t/10 + seed/100 at the final epoch (linear in the switch epoch t),
    test_error = t/100, λmax = 1 + t, and seed 1 of t=2 diverged (NaN)."""
    seeds, directions, switches, epochs = [0, 1], ["sgd->sam", "sam->sgd"], [0, 2, T], np.arange(1, T + 1)
    shape = (2, 2, 3, T)
    s, _, t, e = np.meshgrid(seeds, range(2), switches, epochs, indexing="ij")
    loss = 1 + t / 10 + s / 100 + 0 * e
    error = t / 100 + 0 * e
    lam = (1.0 + np.array(switches))[None, None, :] + np.zeros((2, 2, 1))
    loss[1, :, 1, :], error[1, :, 1, :], lam[1, :, 1] = np.nan, np.nan, np.nan
    dims = ("seed", "direction", "switch_epoch", "epoch")
    ds = xr.Dataset(
        {"test_loss": (dims, loss), "test_error": (dims, error), "lambda_max": (dims[:3], lam)},
        coords={"seed": seeds, "direction": directions, "switch_epoch": switches, "epoch": epochs},
        attrs={"study": name},
    )
    assert loss.shape == shape
    path = tmp_path / f"{name}.nc"
    ds.to_netcdf(path)  # a hand-made input: write_atomic writes only described files
    return str(path)


def test_proportion_data_sgd_to_sam(tmp_path):
    ds = switching.proportion_data([_store(tmp_path)], "sgd->sam").sel(study="toy")
    # Full SAM is t=0: gaps are (t/10 + seed/100) - (seed/100) = t/10 for every seed.
    np.testing.assert_allclose(ds.test_loss_gap_mean.values, [0.0, 0.2, 0.4])
    # Sample sd (ddof = 1): undefined with the one seed left at t=2.
    np.testing.assert_allclose(ds.test_loss_gap_std.values, [0.0, np.nan, 0.0], atol=1e-12)
    np.testing.assert_allclose(ds.test_error_gap_mean.values, [0.0, 2.0, 4.0])  # in points
    np.testing.assert_allclose(ds.sam_proportion.values, [1.0, 0.5, 0.0])  # (T - t) / T
    np.testing.assert_allclose(ds.lambda_max_mean.values, [1.0, 3.0, 5.0])
    assert ds.n_seeds.values.tolist() == [2, 1, 2]  # the diverged seed is left out and counted


def test_proportion_data_sam_to_sgd_uses_t_over_T(tmp_path):
    ds = switching.proportion_data([_store(tmp_path)], "sam->sgd").sel(study="toy")
    # Full SAM is now t=T: gaps are (t - T)/10.
    np.testing.assert_allclose(ds.test_loss_gap_mean.values, [-0.4, -0.2, 0.0])
    np.testing.assert_allclose(ds.sam_proportion.values, [0.0, 0.5, 1.0])


def test_curves_data_picks_the_pure_runs_and_the_switch(tmp_path):
    ds = switching.curves_data(_store(tmp_path), {"switch_epoch": 2, "skip_epochs": 1}, "sgd->sam")
    assert list(ds.schedule.values) == ["SGD", "SAM", "SGD→SAM (t=2)"]
    assert list(ds.epoch.values) == [2, 3, 4]
    np.testing.assert_allclose(ds.test_error_mean.sel(epoch=4).values, [4.0, 0.0, 2.0])  # percent
    assert ds.n_seeds.sel(epoch=4).values.tolist() == [2, 2, 1]


def test_proportion_table_has_one_row_per_switch_epoch(tmp_path):
    table = switching.proportion_table(switching.proportion_data([_store(tmp_path)], "sgd->sam"))
    assert table.switch_epoch.tolist() == [0, 2, T]
    assert table["test_loss_gap_mean [nats]"].tolist() == pytest.approx([0.0, 0.2, 0.4])
    assert table["test_error_gap_mean [points]"].tolist() == pytest.approx([0.0, 2.0, 4.0])
    assert "run − full SAM" in table.attrs["note"] and "ddof = 1" in table.attrs["note"]


def test_gap_variables_state_sign_units_and_sd(tmp_path):
    ds = switching.proportion_data([_store(tmp_path)], "sgd->sam")
    assert ds.test_error_gap_mean.attrs["units"] == "percentage points"
    assert "run − full SAM" in ds.test_error_gap_mean.attrs["long_name"]
    assert "ddof = 1" in ds.test_error_gap_std.attrs["long_name"]
    described(ds, "LS-F3")  # what write_figure_data writes: every variable and coordinate described


def test_training_convergence_rule():
    from sharpness.store.switching import training_converged

    flat = [1.0, 0.5, 0.30, 0.29, 0.29, 0.288, 0.287]
    assert training_converged(flat, phase_start=0, window=3, rtol=0.1)
    assert not training_converged(flat, phase_start=0, window=6, rtol=0.01), "fell from 0.5 over the last 6 epochs"
    assert not training_converged(flat, phase_start=5, window=3, rtol=0.1), "switched 2 epochs before T: a transient"
    assert not training_converged(flat[:-1] + [float("nan")], phase_start=0, window=3, rtol=0.1)
    near_zero = [0.5, 0.004, 0.002, 0.003, 0.001]
    assert not training_converged(near_zero, phase_start=0, window=3, rtol=0.1), "halved: relatively unsettled"
    assert training_converged(near_zero, phase_start=0, window=3, rtol=0.1, atol=0.01), "but within 0.01 nats"


def test_stability_table_evaluates_the_table2_bounds(tmp_path):
    import json

    from sharpness.report.spectrum import stability_table

    dims = ("seed", "optimizer", "checkpoint_epoch")
    frob = np.array([[[0.5], [0.05]], [[0.7], [0.07]]])  # seed × (sgd, sam) × one checkpoint
    gamma = np.array([[[2.0], [4.0]], [[2.0], [4.0]]])
    ds = xr.Dataset(
        {
            "frobenius_sq": (dims, frob),
            "frobenius_sq_ci95": (dims, np.zeros_like(frob)),
            "trace_frobenius_exact": (dims, np.ones_like(frob)),
            "gamma": (dims, gamma),
            "train_loss": (("seed", "direction", "switch_epoch", "epoch"), np.full((2, 1, 2, 3), 1e-3)),
            "train_converged": (("seed", "direction", "switch_epoch"), np.ones((2, 1, 2), dtype=int)),
            "lr": (("direction", "switch_epoch", "epoch"), np.full((1, 2, 3), 0.1)),
            "grad_norm": (("seed", "direction", "switch_epoch", "epoch"), np.full((2, 1, 2, 3), 2.0)),
        },
        coords={"seed": [0, 1], "optimizer": ["sgd", "sam"], "checkpoint_epoch": [3], "direction": ["sgd->sam"], "switch_epoch": [0, 3], "epoch": [1, 2, 3]},
        attrs={"study": "toy", "config": json.dumps({"loss": "cross_entropy", "batch_size": 8, "optimizers": {"sgd": {}, "sam": {"rho": 0.5, "momentum": 0.5}}})},
    )
    path = tmp_path / "toy.nc"
    ds.to_netcdf(path)
    table = stability_table([str(path)], {}).set_index("optimizer")
    # SGD: B/(η²γ) = 8 / (0.01 · 2) = 400. SAM at the effective η = 0.1/(1 − 0.5) = 0.2 and
    # radius ρ/‖g‖ = 0.25: the x solving x(1 + ρ²γx/B) = 8/(0.04·4) = 50, i.e.
    # x²/32 + x − 50 = 0 with ρ²γ/B = 1/32: x = 16(√(1 + 4·50/32) − 1).
    assert table.loc["sgd", "own_bound_mean [1]"] == pytest.approx(400.0)
    assert table.loc["sam", "lr_effective [1]"] == pytest.approx(0.2)
    assert table.loc["sam", "rho_effective [1]"] == pytest.approx(0.25)
    assert table.loc["sam", "own_bound_mean [1]"] == pytest.approx(16 * (np.sqrt(1 + 4 * 50 / 32) - 1))
    assert table.loc["sgd", "frobenius_sq_mean [1]"] == pytest.approx(0.6)
    assert table.loc["sgd", "frobenius_sq_std [1]"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert table.loc["sam", "within_own_bound"] == 1 and table.loc["sgd", "n_seeds"] == 2


def _family_store(tmp_path, name="fam"):
    """Pure runs only (switch epochs 0 and T), final test error per optimizer known exactly:
    sgd 20 %, sam 10 %, eigen_sam 8 %, eigen_p25 9 %, eigen_a05 7 % (+ seed/100 %)."""
    import json

    directions = ["sgd->sam", "sgd->eigen_sam", "sgd->eigen_p25", "sgd->eigen_a05"]
    final = {"sam": 0.10, "eigen_sam": 0.08, "eigen_p25": 0.09, "eigen_a05": 0.07}
    seeds, T = [0, 1, 2], 3
    err = np.zeros((3, len(directions), 2, T))
    for j, d in enumerate(directions):
        err[:, j, 1, :] = 0.20  # t = T: SGD throughout
        err[:, j, 0, :] = final[d.split("->")[1]]
    err += np.array(seeds)[:, None, None, None] / 10000
    cfg = {
        "model": {"name": "cnn"}, "dataset": {"name": "digits"}, "epochs": T, "batch_size": 64,
        "optimizers": {"sgd": {}, "sam": {"rho": 0.3}, "eigen_sam": {"rho": 0.3},
                       "eigen_p25": {"type": "eigen_sam", "rho": 0.3, "refresh_every": 25},
                       "eigen_a05": {"type": "eigen_sam", "rho": 0.3, "alpha": 0.5}},
    }
    dims = ("seed", "direction", "switch_epoch", "epoch")
    ds = xr.Dataset({"test_error": (dims, err), "test_loss": (dims, err)},
                    coords={"seed": seeds, "direction": directions, "switch_epoch": [0, T], "epoch": [1, 2, 3]},
                    attrs={"study": name, "config": json.dumps(cfg)})
    path = tmp_path / f"{name}.nc"
    ds.to_netcdf(path)
    return str(path)


def test_accuracy_table_of_pure_runs_with_ci(tmp_path):
    from scipy import stats

    from sharpness.report.sweeps import accuracy_table

    table = accuracy_table([_family_store(tmp_path)], {"optimizers": ["sgd", "sam", "eigen_sam"]}).set_index("optimizer")
    assert list(table.index) == ["sgd", "sam", "eigen_sam"]
    acc = 100 * (1 - (0.08 + np.array([0, 1, 2]) / 10000))
    assert table.loc["eigen_sam", "test_accuracy_mean [%]"] == pytest.approx(acc.mean())
    half = stats.t.ppf(0.975, 2) * acc.std(ddof=1) / np.sqrt(3)
    assert table.loc["eigen_sam", "test_accuracy_ci95 [%]"] == pytest.approx(half)
    assert table.loc["sgd", "n_seeds"] == 3 and np.isnan(table.loc["sgd", "paper_accuracy [%]"])
    assert "95 %" in table.attrs["note"]


def test_refresh_table_sorts_eigen_sam_by_p_at_one_alpha(tmp_path):
    from sharpness.report.sweeps import refresh_table

    table = refresh_table([_family_store(tmp_path)], {})
    eig = table[table.type == "eigen_sam"]
    assert eig["refresh_every [steps]"].tolist() == [25, 100], "alpha = 0.5 is ES-F3's sweep: left out"
    assert eig["alpha [1]"].tolist() == [0.2, 0.2]
    assert table[table.type == "sam"]["refresh_every [steps]"].isna().all()


def test_alpha_accuracy_lines_up_alpha(tmp_path):
    from sharpness.report.sweeps import alpha_accuracy
    from sharpness.store import read

    ds = alpha_accuracy(read(_family_store(tmp_path)))
    assert ds.alpha.values.tolist() == [0.2, 0.5], "p = 25 is another setting: left out"
    assert ds.alpha_accuracy_mean.values == pytest.approx(100 * (1 - np.array([0.08, 0.07]) - 1 / 10000))


def test_rho_sweep_collects_sam_to_sgd_directions(tmp_path):
    import json

    from sharpness.report.sweeps import draw_rho_sweep, rho_sweep_data

    directions = ["sam_a->sgd", "sam_b->sgd"]
    err = np.zeros((2, 2, 3, 2))
    err[:, 0], err[:, 1] = 0.1, 0.2
    err[1] += 0.02
    dims = ("seed", "direction", "switch_epoch", "epoch")
    cfg = {"optimizers": {"sgd": {}, "sam_a": {"type": "sam", "rho": 0.2}, "sam_b": {"type": "sam", "rho": 0.05}}}
    ds = xr.Dataset({"test_error": (dims, err), "test_loss": (dims, err)},
                    coords={"seed": [0, 1], "direction": directions, "switch_epoch": [0, 1, 2], "epoch": [1, 2]},
                    attrs={"study": "r", "config": json.dumps(cfg)})
    ds.to_netcdf(tmp_path / "r.nc")
    out = rho_sweep_data([str(tmp_path / "r.nc")], {})
    assert out.rho.values.tolist() == [0.05, 0.2]
    assert out.test_error_mean.sel(rho=0.2).values == pytest.approx([11.0, 11.0, 11.0])
    assert out.test_error_sd.sel(rho=0.05).values == pytest.approx([np.std([20, 22], ddof=1)] * 3)
    assert out.sam_proportion.values.tolist() == [0.0, 0.5, 1.0]
    _drawn(draw_rho_sweep(out), "n = 2")


def test_at_switch_data_has_natural_and_robust_curves(tmp_path):
    import json

    from sharpness.report.adversarial import at_switch_data, draw_at_switch

    dims = ("seed", "direction", "switch_epoch", "epoch")
    nat = np.full((2, 1, 3, 4), 0.1)
    rob = np.full((2, 1, 3, 4), 0.5)
    rob[:, 0, 0] = 0.2  # pure AT (t = 0) is robust
    ds = xr.Dataset({"test_error": (dims, nat), "robust_test_error": (dims, rob)},
                    coords={"seed": [0, 1], "direction": ["sgd->at"], "switch_epoch": [0, 2, 4], "epoch": [1, 2, 3, 4]},
                    attrs={"study": "adv", "config": json.dumps({"robust_eval": {"epsilon": 16 / 255, "steps": 5}})})
    ds.to_netcdf(tmp_path / "adv.nc")
    out = at_switch_data([str(tmp_path / "adv.nc")], {})
    assert list(out.schedule.values) == ["SGD", "AT", "SGD→AT (t=2)"]
    assert out.final_robust_test_error_mean.values == pytest.approx([20.0, 50.0, 50.0])
    assert out.at_proportion.values.tolist() == [1.0, 0.5, 0.0]
    described(out, "LS-F6")
    _drawn(draw_at_switch(out), "ε = 16/255")


def _drawn(fig, text: str) -> None:
    """The figure states ``text`` somewhere in its titles (n, the attack, …)."""
    import matplotlib.pyplot as plt

    titles = " ".join(ax.get_title() for ax in fig.axes)
    plt.close(fig)
    assert text in titles, titles
