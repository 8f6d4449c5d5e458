"""Eigen-SAM (eigen-sam eq. 7–8, Alg. 1–2) against hand computations on float64 quadratics."""

import io
import math

import pytest
import torch

from sharpness.optim import SAM
from sharpness.optim.eigen_sam import EigenSAM, power_iteration

F64 = torch.float64


def _quadratic(curvature):
    """L(w) = ½ wᵀ diag(λ) w, its exact HVP diag(λ)·v, and a counter of HVP calls."""
    calls = []

    def loss(w):
        return 0.5 * (curvature * w**2).sum()

    def hvp(direction):
        calls.append([d.clone() for d in direction])
        return [curvature * direction[0]]

    return loss, hvp, calls


def _step(opt, w, loss, hvp):
    opt.zero_grad()
    loss(w).backward()
    opt.step(lambda: loss(w).backward(), hvp=hvp)


def _with_eigenvector(opt, vector):
    """Warm start the next refresh from ``vector`` (through the checkpoint format)."""
    state = opt.state_dict()
    state["eigen"]["eigenvector"] = [vector]
    opt.load_state_dict(state)


def _checkpoint_round_trip(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)  # as train.checkpoint.load reads it


def test_one_step_matches_the_hand_computed_update():
    loss, hvp, _ = _quadratic(torch.tensor([2.0, 1.0], dtype=F64))
    w = torch.tensor([1.0, 1.0], dtype=F64, requires_grad=True)
    opt = EigenSAM([w], torch.optim.SGD, rho=0.1, alpha=0.5, power_steps=3, lr=0.1)
    _with_eigenvector(opt, torch.tensor([1.0, 0.0], dtype=F64))  # e1 is a fixed point: v̂ = e1
    _step(opt, w, loss, hvp)
    # g = (2, 1), ‖g‖ = √5, ⟨g, v̂⟩ = 2 > 0; v̂∥ = (2/5)(2, 1), v̂⊥ = (1, 0) − (0.8, 0.4) = (0.2, −0.4).
    # ε = ρ (g/‖g‖ + α v̂⊥) = 0.1 (2/√5 + 0.1, 1/√5 − 0.2), not renormalised.
    s5 = math.sqrt(5)
    direction = [2 / s5 + 0.1, 1 / s5 - 0.2]
    perturbed = [1 + 0.1 * direction[0], 1 + 0.1 * direction[1]]
    expected = [1 - 0.1 * 2 * perturbed[0], 1 - 0.1 * 1 * perturbed[1]]
    assert w.detach().tolist() == pytest.approx(expected, abs=1e-14)
    assert float(opt.last_alignment) == pytest.approx(direction[0] / math.hypot(*direction), abs=1e-14)
    assert float(opt.last_eigenvalue_estimate) == pytest.approx(2.0, abs=1e-14)


def test_power_iteration_is_normalised_h_to_the_q_times_the_start():
    curvature = torch.tensor([3.0, 2.0, 1.0], dtype=F64)
    _, hvp, _ = _quadratic(curvature)
    v, rayleigh = power_iteration(hvp, [torch.tensor([1.0, 1.0, 1.0], dtype=F64)], steps=3)
    # H³ (1, 1, 1) = (27, 8, 1); the last input is H² v0/‖H² v0‖ = (9, 4, 1)/√98.
    assert v[0].tolist() == pytest.approx([27 / math.sqrt(794), 8 / math.sqrt(794), 1 / math.sqrt(794)], abs=1e-14)
    assert float(rayleigh) == pytest.approx((3 * 81 + 2 * 16 + 1) / 98, abs=1e-14)


def test_the_first_estimate_starts_from_the_seeded_random_unit_vector():
    curvature = torch.tensor([3.0, 2.0, 1.0], dtype=F64)
    loss, hvp, calls = _quadratic(curvature)
    w = torch.tensor([1.0, -1.0, 2.0], dtype=F64, requires_grad=True)
    opt = EigenSAM([w], torch.optim.SGD, power_steps=4, seed=7, lr=0.1)
    _step(opt, w, loss, hvp)
    start = torch.randn(3, generator=torch.Generator().manual_seed(7), dtype=F64)
    torch.testing.assert_close(calls[0][0], start / start.norm(), rtol=0, atol=1e-15)
    expected = curvature**4 * start
    torch.testing.assert_close(opt.eigenvector[0], expected / expected.norm(), rtol=0, atol=1e-15)


def test_refresh_at_steps_0_p_2p_with_q_hvps_each_warm_started():
    loss, hvp, calls = _quadratic(torch.tensor([3.0, 2.0, 1.0], dtype=F64))
    w = torch.tensor([1.0, -1.0, 2.0], dtype=F64, requires_grad=True)
    opt = EigenSAM([w], torch.optim.SGD, refresh_every=3, power_steps=2, lr=0.1)
    calls_per_step, estimates = [], []
    for _ in range(7):
        before = len(calls)
        due = opt.refresh_due
        _step(opt, w, loss, hvp if due else None)  # no hvp needed between refreshes
        calls_per_step.append(len(calls) - before)
        estimates.append(opt.eigenvector[0].clone())
    assert calls_per_step == [2, 0, 0, 2, 0, 0, 2]
    # The refresh at step 3 starts from the estimate of step 0, unchanged in between.
    assert torch.equal(estimates[0], estimates[2])
    assert torch.equal(calls[2][0], estimates[2])
    assert not torch.equal(estimates[3], estimates[2])


def test_alpha_zero_is_plain_sam_bit_for_bit():
    curvature = torch.tensor([3.0, 2.0, 1.0], dtype=F64)
    loss, hvp, _ = _quadratic(curvature)
    w_eigen = torch.tensor([1.0, -1.0, 2.0], dtype=F64, requires_grad=True)
    w_sam = w_eigen.detach().clone().requires_grad_(True)
    eigen = EigenSAM([w_eigen], torch.optim.SGD, rho=0.13, alpha=0.0, refresh_every=1, lr=0.1, momentum=0.9)
    sam = SAM([w_sam], torch.optim.SGD, rho=0.13, lr=0.1, momentum=0.9)
    for _ in range(4):
        _step(eigen, w_eigen, loss, hvp)
        sam.zero_grad()
        loss(w_sam).backward()
        sam.step(lambda: loss(w_sam).backward())
    assert torch.equal(w_eigen, w_sam)


@pytest.mark.parametrize("saved_after", [0, 3])
def test_resume_from_a_state_dict_is_bit_identical(saved_after):
    loss, hvp, _ = _quadratic(torch.tensor([3.0, 2.0, 1.0], dtype=F64))

    def make(seed, w):
        return EigenSAM([w], torch.optim.SGD, rho=0.2, refresh_every=2, power_steps=2, seed=seed, lr=0.1, momentum=0.9)

    w = torch.tensor([1.0, -1.0, 2.0], dtype=F64, requires_grad=True)
    opt = make(0, w)
    for _ in range(saved_after):
        _step(opt, w, loss, hvp)
    saved_w, saved = w.detach().clone(), _checkpoint_round_trip(opt.state_dict())
    for _ in range(4):
        _step(opt, w, loss, hvp)

    resumed_w = saved_w.clone().requires_grad_(True)
    resumed = make(1, resumed_w)  # another seed: the generator state must come from the checkpoint
    resumed.load_state_dict(saved)
    for _ in range(4):
        _step(resumed, resumed_w, loss, hvp)
    assert torch.equal(resumed_w, w)
    assert torch.equal(resumed.eigenvector[0], opt.eigenvector[0])
    assert torch.equal(resumed.base_optimizer.state[resumed_w]["momentum_buffer"], opt.base_optimizer.state[w]["momentum_buffer"])


def test_a_plain_sam_state_loads_and_the_estimate_is_made_at_the_next_step():
    loss, hvp, _ = _quadratic(torch.tensor([2.0, 1.0], dtype=F64))
    w = torch.tensor([1.0, 1.0], dtype=F64, requires_grad=True)
    sam = SAM([w], torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    sam.zero_grad()
    loss(w).backward()
    sam.step(lambda: loss(w).backward())
    eigen = EigenSAM([w], torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    eigen.load_state_dict(sam.state_dict())
    assert torch.equal(eigen.base_optimizer.state[w]["momentum_buffer"], sam.base_optimizer.state[w]["momentum_buffer"])
    assert eigen.refresh_due and eigen.eigenvector is None


def test_a_due_refresh_without_hvp_raises():
    loss, _, _ = _quadratic(torch.tensor([2.0, 1.0], dtype=F64))
    w = torch.tensor([1.0, 1.0], dtype=F64, requires_grad=True)
    opt = EigenSAM([w], torch.optim.SGD, lr=0.1)
    loss(w).backward()
    with pytest.raises(ValueError, match="needs hvp"):
        opt.first_step()
    assert w.detach().tolist() == [1.0, 1.0]  # nothing was perturbed


def test_flipping_the_sign_of_the_estimate_gives_the_same_perturbation():
    curvature = torch.tensor([3.0, 2.0, 1.0], dtype=F64)
    loss, hvp, _ = _quadratic(curvature)
    start = torch.tensor([1.0, 2.0, -1.0], dtype=F64)
    perturbations, estimates, alignments = [], [], []
    for sign in (1.0, -1.0):
        w = torch.tensor([1.0, -1.0, 2.0], dtype=F64, requires_grad=True)
        opt = EigenSAM([w], torch.optim.SGD, rho=0.2, alpha=0.5, power_steps=2, lr=0.1)
        _with_eigenvector(opt, sign * start)
        loss(w).backward()
        opt.first_step(hvp=hvp)
        perturbations.append(opt.state[w]["e_w"].clone())
        estimates.append(opt.eigenvector[0].clone())
        alignments.append(opt.last_alignment)
    assert torch.equal(estimates[1], -estimates[0])
    g = curvature * torch.tensor([1.0, -1.0, 2.0], dtype=F64)
    assert float(g @ estimates[0]) != 0  # the orthogonal part is really added
    assert torch.equal(perturbations[0], perturbations[1])
    assert torch.equal(alignments[0], alignments[1]) and float(alignments[0]) > 0
