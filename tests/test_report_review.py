"""What a reviewer flagged on the figures and tables (issue 17 §4), checked on hand-made data:
every note is computed from the numbers, nothing is drawn outside what the data can be."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import xarray as xr  # noqa: E402

from sharpness.report import dynamics, switching, toys  # noqa: E402

STEPS = [0, 10, 20, 30]


def _titles(fig) -> str:
    titles = [ax.get_title(loc=loc) for ax in fig.axes for loc in ("left", "center", "right")]
    return " ".join(titles) + " " + (fig._suptitle.get_text() if fig._suptitle else "")


# -- ES-F1: every seed, inside Align's feasible range -----------------------------------------
def _alignment_figure_data(align: np.ndarray) -> xr.Dataset:
    seeds = np.arange(align.shape[0])
    dims = ("seed", "step")
    ds = xr.Dataset({"align": (dims, align), "lambda_max": (dims, 1 + np.abs(align))}, coords={"seed": seeds, "step": STEPS})
    ds["align_mean"], ds["lambda_max_mean"] = ds.align.mean("seed"), ds.lambda_max.mean("seed")
    ds["n_seeds"] = xr.DataArray(len(seeds))
    return ds.assign_attrs(dataset="toy", rho=0.05, lr=0.1)


def test_es_f1_draws_each_seed_within_the_feasible_range():
    """Three seeds at both ends of [1 − √2, 1]: a t-interval over them would reach far outside
    (the old band went to ±1.5); the drawn lines and the axis stay inside the range."""
    low, high = 1 - np.sqrt(2), 1.0
    align = np.array([[low, high, low, high], [high, low, high, low], [0.0, 0.0, 0.0, 0.0]])
    fig = dynamics.draw_perturbation(_alignment_figure_data(align))
    ax = fig.axes[0]
    drawn = np.concatenate([line.get_ydata() for line in ax.lines if len(line.get_xdata()) == len(STEPS)])
    assert drawn.min() >= low - 1e-12 and drawn.max() <= high + 1e-12
    assert len([line for line in ax.lines if len(line.get_xdata()) == len(STEPS)]) == 1 + 3  # the mean and each seed
    assert not ax.collections  # no band
    bottom, top = ax.get_ylim()
    assert low - 0.1 < bottom <= low and high <= top < high + 0.1
    plt.close(fig)


# -- LB-F7: a run that starts above the edge says so ------------------------------------------
def _edges_data(start_ratio: float) -> xr.Dataset:
    lam = np.array([[[2.0], [1.0], [1.0], [1.0]]])  # lr × step × eig_index
    ds = xr.Dataset(
        {"eigenvalues_mean": (("lr", "step", "eig_index"), lam), "eigenvalues_sd": (("lr", "step", "eig_index"), 0 * lam),
         "gd_edge": (("lr", "step"), np.full((1, 4), 2.0)), "sam_edge_mean": (("lr", "step"), np.full((1, 4), 2.0)),
         "edge_ratio": ("lr", [0.5]), "start_ratio": ("lr", [start_ratio]), "n_seeds": ("lr", [1])},
        coords={"lr": [1.0], "step": STEPS, "eig_index": [0]},
    )
    return ds.assign_attrs(dataset="toy", rho=0.0, optimizer="GD", show_gd_edge=1)


def test_lb_f7_notes_a_start_above_the_edge_from_the_data():
    fig = dynamics.draw_eigen_edges(_edges_data(3.78))
    assert "starts above the edge (λη/2 = 3.78 at step 0)" in _titles(fig)
    plt.close(fig)
    fig = dynamics.draw_eigen_edges(_edges_data(0.75))
    assert "starts above" not in _titles(fig)
    plt.close(fig)


# -- FH-F4: runs that did not learn are named ---------------------------------------------------
def test_fh_f4_marks_a_run_whose_training_error_stays_near_its_start():
    error = xr.DataArray([[[0.96, 0.5, 0.1, 0.0], [0.96, 0.9, 0.7, 0.53]]], dims=("seed", "rho", "step"),
                         coords={"rho": [0.0, 0.3], "step": STEPS})
    ds = xr.Dataset()
    dynamics._with_learning(ds, error)
    assert ds.did_not_learn.values.tolist() == [0, 1]
    assert "did not learn (train error 53.0 %, 96.0 % at step 0)" in dynamics._learning_note(ds.sel(rho=0.3))
    assert dynamics._learning_note(ds.sel(rho=0.0)) == ""
    for var in ds.data_vars.values():
        assert {"units", "long_name"} <= set(var.attrs)


def test_fh_f4_level_two_stays_readable_when_step_zero_is_far_above():
    mean = xr.DataArray([[37.0, 7.5, 3.0, 1.0], [3.3, 1.2, 1.0, 0.5]], dims=("rho", "step"), coords={"step": STEPS})
    fig, ax = plt.subplots()
    ax.plot(STEPS, mean[0])
    dynamics._clip_first_record(ax, mean)
    assert ax.get_ylim()[1] == pytest.approx(1.15 * 7.5) and "off scale (up to 37)" in ax.get_title(loc="left")
    plt.close(fig)


# -- FH-F2: an edge far above the data is named, not drawn ------------------------------------
def test_fh_f2_names_the_edges_off_scale():
    fig, ax = plt.subplots()
    note = toys._draw_edges_on_scale(ax, {"SAM-EOS": (117.0, {}), "2/η": (25.0, {})}, data_max=22.0)
    assert note == "\noff scale: SAM-EOS = 117"
    assert [line.get_ydata()[0] for line in ax.lines] == [25.0]
    plt.close(fig)


# -- LS-F11: the pure-run comparison names the study's own base optimizer ---------------------
def test_ls_f11_summary_names_adamw(tmp_path):
    T, seeds, switches = 4, [0, 1], [0, 2, 4]
    dims = ("seed", "direction", "switch_epoch", "epoch")
    shape = (2, 1, 3, T)
    error = np.broadcast_to(np.array([0.1, 0.2, 0.3])[None, None, :, None], shape).copy() + np.arange(2)[:, None, None, None] / 100
    ds = xr.Dataset({"test_loss": (dims, error), "test_error": (dims, error), "lambda_max": (dims[:3], np.ones(shape[:3]))},
                    coords={"seed": seeds, "direction": ["adamw->sam"], "switch_epoch": switches, "epoch": np.arange(1, T + 1)},
                    attrs={"study": "vit"})
    path = tmp_path / "vit.nc"
    ds.to_netcdf(path)
    fig = switching.draw_proportion(switching.proportion_data([str(path)], "adamw->sam"))
    assert "pure AdamW − pure SAM" in _titles(fig) and "pure SGD" not in _titles(fig)
    plt.close(fig)


# -- tables: blank for missing, 0 for a rounding residue, the paper's own table cited ---------
def test_table_markdown_prints_blank_for_missing(tmp_path, monkeypatch):
    from sharpness.report import sweeps, write_table

    frame = pd.DataFrame({"optimizer": ["sgd", "sam"], "paper_accuracy [%]": [np.nan, 95.5]})
    monkeypatch.setitem(sweeps.TABLES, "ES-T1", lambda stores, options: frame)
    write_table("ES-T1", [], {}, str(tmp_path / "t.csv"), str(tmp_path / "t.md"))
    md = (tmp_path / "t.md").read_text()
    assert "nan" not in md.lower() and "95.5" in md


def test_gap_table_prints_zero_for_a_rounding_residue(tmp_path):
    path = tmp_path / "s.nc"
    T = 2
    dims = ("seed", "direction", "switch_epoch", "epoch")
    error = np.array([0.1, 0.2])[:, None, None, None] + np.zeros((2, 1, 2, T))
    ds = xr.Dataset({"test_loss": (dims, error), "test_error": (dims, error), "lambda_max": (dims[:3], np.ones((2, 1, 2)))},
                    coords={"seed": [0, 1], "direction": ["sam->sgd"], "switch_epoch": [0, T], "epoch": [1, 2]}, attrs={"study": "s"})
    ds.to_netcdf(path)
    data = switching.proportion_data([str(path)], "sam->sgd")
    data["test_error_gap_mean"][0, 0] = 1.1e-16  # what a mean of +x and −x leaves
    data["test_error_gap_mean"][0, 1] = 2.5
    frame = switching.proportion_table(data)
    assert frame["test_error_gap_mean [points]"].tolist() == [0.0, 2.5]


def test_es_t2_note_cites_eigen_sam_table_2(tmp_path):
    from sharpness.report import sweeps

    cfg = {"model": {"name": "vit_b16"}, "dataset": {"name": "cifar10"}, "optimizers": {"sgd": {}, "sam": {"rho": 0.05}}}
    dims = ("seed", "direction", "switch_epoch", "epoch")
    ds = xr.Dataset({"test_error": (dims, np.full((2, 1, 2, 2), 0.02))},
                    coords={"seed": [0, 1], "direction": ["sgd->sam"], "switch_epoch": [0, 2], "epoch": [1, 2]},
                    attrs={"study": "ft", "config": json.dumps(cfg)})
    path = tmp_path / "ft.nc"
    ds.to_netcdf(path)
    t2, t1 = (sweeps.TABLES[i]([str(path)], {}) for i in ("ES-T2", "ES-T1"))
    assert "eigen-sam Table 2 as printed" in t2.attrs["note"] and "eigen-sam Table 1 as printed" in t1.attrs["note"]


# -- the tracking copy of ASAM's perturbation is training's -----------------------------------
def test_tracked_asam_perturbation_is_the_training_step(one_torch_thread):
    """On a model with biases: tracking's ε equals what the training optimizer adds in its first
    step (T = |θ| + η on the weights, T = 1 on the biases), and differs from ε with T = |θ| on
    every parameter (the old tracking definition), so the check can fail."""
    from sharpness.optim import make_optimizer
    from sharpness.runspec import Phase
    from sharpness.train.tracking import perturbation

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3)).double()
    torch.nn.init.normal_(model[0].bias)
    model(torch.randn(8, 5, dtype=torch.float64)).square().mean().backward()
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    rho = 0.5
    tracked = perturbation("asam", rho, grads, params)

    opt = make_optimizer(Phase("asam", 1, {"rho": rho}), model, lr=0.1)
    opt.first_step()
    trained = torch.cat([opt.state[p]["e_w"].reshape(-1) for p in model.parameters()])
    torch.testing.assert_close(tracked, trained, rtol=0, atol=0)

    theta, g = torch.cat([p.reshape(-1) for p in params.values()]), torch.cat([v.reshape(-1) for v in grads.values()])
    old = rho * theta**2 * g / (theta.abs() * g).norm()
    assert not torch.allclose(tracked, old, rtol=1e-3)
