"""The SAM family as schedule phases: ASAM, AdamW (and SAM on an AdamW base), Eigen-SAM and
adversarial training, each against a hand computation, then through the epoch trainer."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from sharpness.data import load_prepared
from sharpness.optim import Phase, make_optimizer, switch_optimizer
from sharpness.optim.eigen_sam import EigenSAM
from sharpness.runspec import Phase as SpecPhase
from sharpness.store import read
from sharpness.train import Trainer, train_job
from sharpness.train import checkpoint as ckpt

from conftest import make_spec


def _linear(w, b):
    model = nn.Linear(2, 1).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([w], dtype=torch.float64))
        model.bias.copy_(torch.tensor([b], dtype=torch.float64))
    return model


def test_asam_scales_weights_by_abs_plus_eta_and_leaves_biases():
    """f(x) = w·x + b at x = (1, 1), L = f: g_w = (1, 1), g_b = 1. With w = (2, −0.5), η = 0.01:
    T_w = (2.01, 0.51), T_b = 1; ε = ρ T²g/‖Tg‖ with ‖Tg‖ = √(2.01² + 0.51² + 1)."""
    model = _linear([2.0, -0.5], 0.3)
    opt = make_optimizer(Phase("asam", 1, {"rho": 0.1}), model, lr=0.0)
    model(torch.ones(1, 2, dtype=torch.float64)).sum().backward()
    opt.first_step()
    norm = math.sqrt(2.01**2 + 0.51**2 + 1.0)
    assert model.weight.detach().flatten().tolist() == pytest.approx([2 + 0.1 * 2.01**2 / norm, -0.5 + 0.1 * 0.51**2 / norm], abs=1e-12)
    assert model.bias.item() == pytest.approx(0.3 + 0.1 / norm, abs=1e-12)


def test_asam_eta_is_configurable_and_a_parameter_list_scales_everything():
    w = torch.tensor([2.0, -0.5], dtype=torch.float64, requires_grad=True)
    opt = make_optimizer(Phase("asam", 1, {"rho": 0.1, "eta": 0.0}), [w], lr=0.0)
    w.sum().backward()
    opt.first_step()
    norm = math.sqrt(2.0**2 + 0.5**2)  # T = |w|: the form of the widely used implementation
    assert w.detach().tolist() == pytest.approx([2 + 0.1 * 4 / norm, -0.5 + 0.1 * 0.25 / norm], abs=1e-12)  # 1e-12: the guard added to the norm


def test_adamw_phase_first_step_by_hand():
    """AdamW step 1: θ ← θ(1 − η λ) − η ĝ/(√(ĝ²) + ε) with the bias-corrected moments = g, g²."""
    w = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt = make_optimizer(Phase("adamw", 1, {"weight_decay": 0.1}), [w], lr=0.01)
    (3 * w[0] - 0.5 * w[1]).backward()
    opt.step()
    g = np.array([3.0, -0.5])
    expected = np.array([1.0, -2.0]) * (1 - 0.01 * 0.1) - 0.01 * g / (np.abs(g) + 1e-8)
    assert w.detach().numpy() == pytest.approx(expected, abs=1e-15)


def test_sam_on_an_adamw_base_and_moments_carried_from_adamw():
    w = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    adam = make_optimizer(Phase("adamw", 1, {}), [w], lr=0.01)
    w.sum().backward()
    adam.step()
    sam = switch_optimizer(adam, Phase("sam_adam", 2, {"type": "sam", "rho": 0.05, "base": "adamw"}), [w], 0.01, "carry")
    assert isinstance(sam.base_optimizer, torch.optim.AdamW)
    state = sam.base_optimizer.state[w]
    assert torch.equal(state["exp_avg"], adam.state[w]["exp_avg"]) and float(state["step"]) == 1.0
    reset = switch_optimizer(adam, Phase("sam_adam", 2, {"type": "sam", "rho": 0.05, "base": "adamw"}), [w], 0.01, "reset")
    assert len(reset.base_optimizer.state) == 0


def test_a_labelled_optimizer_takes_its_type():
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = make_optimizer(Phase("sam_small", 1, {"type": "usam", "rho": 0.02}), [w], lr=0.1)
    assert opt.param_groups[0]["normalized"] is False and opt.param_groups[0]["rho"] == 0.02
    assert make_optimizer(Phase("eigen_sam", 1, {"rho": 0.05}), [w], lr=0.1).__class__ is EigenSAM
    with pytest.raises(ValueError, match="unknown optimizer type"):
        make_optimizer(Phase("mystery", 1, {}), [w], lr=0.1)


# -- through the trainer ---------------------------------------------------------------------
def _spec(phases, settings, **overrides):
    spec = make_spec((("sgd", phases[-1][1]),), **overrides)
    return replace(spec, phases=tuple(SpecPhase(opt, until, settings[opt]) for opt, until in phases))


SETTINGS = {
    "sgd": {"momentum": 0.9},
    "eigen_sam": {"rho": 0.05, "momentum": 0.9, "refresh_every": 3, "power_steps": 2},
    "at": {"momentum": 0.9, "steps": 2},
    "adamw": {"weight_decay": 5e-4},
    "asam": {"rho": 0.5, "momentum": 0.9},
}


def _train(spec, digits_file, out, **kwargs):
    train_job(spec, digits_file, out / "state", out / "final.pt", out / "run.nc", log=lambda m: None, **kwargs)
    return read(out / "run.nc")


def test_sgd_to_eigen_sam_records_alignment_and_resumes_bit_identically(digits_file, tmp_path):
    spec = _spec([("sgd", 1), ("eigen_sam", 3)], SETTINGS)
    run = _train(spec, digits_file, tmp_path / "full")
    align = run.eigen_alignment.values
    assert "batch statistics" in run.attrs["eigen_sam_hvp"], "the HVPs' BatchNorm mode is recorded"
    assert math.isnan(align[0]) and np.all((align[1:] > 0) & (align[1:] <= 1)), "recorded for Eigen-SAM epochs only"
    # A job killed after epoch 2 resumes from its state to the same weights (v̂, counter restored).
    short = Trainer(replace(spec, epochs=2, phases=(spec.phases[0], replace(spec.phases[1], until_epoch=2))), load_prepared(digits_file), log=lambda m: None)
    short.run(tmp_path / "resumed" / "state")
    resumed = _train(spec, digits_file, tmp_path / "resumed")
    a, b = ckpt.load(tmp_path / "full" / "final.pt")["model"], ckpt.load(tmp_path / "resumed" / "final.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert list(resumed.eigen_alignment.values[1:]) == list(align[1:])


def test_eigen_sam_with_alpha_zero_trains_exactly_like_sam(digits_file, tmp_path):
    eig = _spec([("sgd", 1), ("eigen_sam", 2)], {**SETTINGS, "eigen_sam": {"rho": 0.05, "momentum": 0.9, "alpha": 0.0}})
    sam = _spec([("sgd", 1), ("sam", 2)], {**SETTINGS, "sam": {"rho": 0.05, "momentum": 0.9}})
    a = _train(eig, digits_file, tmp_path / "eig")
    b = _train(sam, digits_file, tmp_path / "sam")
    assert list(a.train_loss.values) == list(b.train_loss.values)


def test_adversarial_training_phase_and_robust_evaluation(digits_file, tmp_path):
    robust = {"epsilon": 8 / 255, "step_size": 4 / 255, "steps": 3}
    at = _train(_spec([("sgd", 1), ("at", 2)], SETTINGS, robust_eval=robust), digits_file, tmp_path / "at")
    sgd = _train(_spec([("sgd", 2)], SETTINGS, robust_eval=robust), digits_file, tmp_path / "sgd")
    assert list(at.optimizer.values) == ["sgd", "at"]
    assert at.train_loss.values[0] == sgd.train_loss.values[0], "identical until the switch"
    assert at.train_loss.values[1] != sgd.train_loss.values[1], "AT trains on other examples"
    for run in (at, sgd):
        assert np.all(run.robust_test_error.values >= run.test_error.values)
        assert run.robust_test_error.attrs["units"] == "1"
    plain = _train(_spec([("sgd", 2)], SETTINGS), digits_file, tmp_path / "plain")
    assert "robust_test_error" not in plain and list(plain.train_loss.values) == list(sgd.train_loss.values), (
        "the robust evaluation measures without changing the trajectory"
    )


def test_adamw_and_asam_phases_train(digits_file, tmp_path):
    for name in ("adamw", "asam"):
        run = _train(_spec([(name, 2)], SETTINGS), digits_file, tmp_path / name)
        assert run.attrs["diverged"] == 0 and run.train_loss.values[1] < run.train_loss.values[0] * 1.5
