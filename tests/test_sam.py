"""SAM/USAM steps against hand-computed numbers; BatchNorm statistics; switching helpers."""

import math

import pytest
import torch
from torch import nn

from sharpness.optim import SAM, Phase, frozen_bn_statistics, learning_rate, make_optimizer, switch_optimizer

# L(w) = ½(2 w1² + w2²): gradient (2 w1, w2).
CURVATURE = torch.tensor([2.0, 1.0], dtype=torch.float64)


def _loss(w):
    return 0.5 * (CURVATURE * w**2).sum()


def _sam_step(opt, w):
    opt.zero_grad()
    _loss(w).backward()
    opt.step(lambda: _loss(w).backward())


def test_normalized_sam_step_matches_hand_computation():
    w = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    opt = SAM([w], torch.optim.SGD, rho=0.1, lr=0.1)
    _sam_step(opt, w)
    # g = (2, 1), ‖g‖ = √5, ε = 0.1 g/√5, gradient at w + ε is (2(1 + 0.2/√5), 1 + 0.1/√5).
    s5 = math.sqrt(5)
    expected = [1 - 0.1 * 2 * (1 + 0.2 / s5), 1 - 0.1 * (1 + 0.1 / s5)]
    assert w.detach().tolist() == pytest.approx(expected, abs=1e-14)


def test_unnormalized_sam_step_matches_hand_computation():
    w = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    opt = SAM([w], torch.optim.SGD, rho=0.1, normalized=False, lr=0.1)
    _sam_step(opt, w)
    # ε = 0.1 g = (0.2, 0.1): perturbed gradient (2.4, 1.1).
    assert w.detach().tolist() == pytest.approx([1 - 0.24, 1 - 0.11], abs=1e-14)


def test_sam_with_momentum_applies_perturbed_gradient_to_the_buffer():
    w = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    opt = SAM([w], torch.optim.SGD, rho=0.1, normalized=False, lr=0.1, momentum=0.9)
    _sam_step(opt, w)  # buffer b1 = (2.4, 1.1), w1 = (0.76, 0.89)
    _sam_step(opt, w)  # g = (1.52, 0.89), perturbed point w1 + 0.1 g, gradient there (1.824, 0.979)
    b2 = [0.9 * 2.4 + 1.824, 0.9 * 1.1 + 0.979]
    assert w.detach().tolist() == pytest.approx([0.76 - 0.1 * b2[0], 0.89 - 0.1 * b2[1]], abs=1e-13)


def test_sam_uses_one_global_norm_over_all_parameters():
    a = torch.tensor([3.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([4.0], dtype=torch.float64, requires_grad=True)
    opt = SAM([a, b], torch.optim.SGD, rho=1.0, lr=0.0)
    (0.5 * a**2 + 0.5 * b**2).sum().backward()
    norm = opt.first_step()
    assert float(norm) == pytest.approx(5.0)
    # Perturbation ρ g / ‖g‖ with the global norm 5: (3, 4) + (0.6, 0.8).
    assert (a.item(), b.item()) == pytest.approx((3.6, 4.8))
    opt.second_step()
    assert (a.item(), b.item()) == pytest.approx((3.0, 4.0))


def test_sam_state_dict_holds_the_momentum_buffers():
    w = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    opt = SAM([w], torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    _sam_step(opt, w)
    fresh = SAM([w], torch.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    fresh.load_state_dict(opt.state_dict())
    assert torch.equal(fresh.base_optimizer.state[w]["momentum_buffer"], opt.base_optimizer.state[w]["momentum_buffer"])


def test_batchnorm_running_statistics_are_updated_once_per_sam_step():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    x, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
    reference = nn.BatchNorm1d(4)
    reference.load_state_dict(model[1].state_dict())
    reference(model[0](x).detach())  # what one forward pass at θ does to the statistics
    opt = SAM(model.parameters(), torch.optim.SGD, rho=0.5, lr=0.1)
    nn.functional.cross_entropy(model(x), y).backward()
    opt.first_step(zero_grad=True)
    with frozen_bn_statistics(model):
        nn.functional.cross_entropy(model(x), y).backward()
    opt.second_step(zero_grad=True)
    bn = model[1]
    assert int(bn.num_batches_tracked) == 1
    torch.testing.assert_close(bn.running_mean, reference.running_mean)
    torch.testing.assert_close(bn.running_var, reference.running_var)


def test_momentum_carry_and_reset_at_a_switch():
    w = nn.Parameter(torch.ones(2))
    sgd = make_optimizer(Phase("sgd", 1, {"momentum": 0.9}), [w], lr=0.1)
    w.grad = torch.tensor([1.0, 2.0])
    sgd.step()
    sam_phase = Phase("sam", 2, {"rho": 0.05, "momentum": 0.9})
    carried = switch_optimizer(sgd, sam_phase, [w], 0.1, "carry")
    assert torch.equal(carried.base_optimizer.state[w]["momentum_buffer"], torch.tensor([1.0, 2.0]))
    reset = switch_optimizer(sgd, sam_phase, [w], 0.1, "reset")
    assert "momentum_buffer" not in reset.base_optimizer.state[w]
    with pytest.raises(ValueError, match="momentum policy"):
        switch_optimizer(sgd, sam_phase, [w], 0.1, "keep")


@pytest.mark.parametrize(
    "schedule, epoch, expected",
    [
        ({"name": "constant", "lr": 0.1}, 50, 0.1),
        ({"name": "multistep", "lr": 0.1, "milestones": [80], "gamma": 0.1}, 80, 0.1),
        ({"name": "multistep", "lr": 0.1, "milestones": [80], "gamma": 0.1}, 81, 0.01),
        ({"name": "multistep", "lr": 0.1, "milestones": [60, 120], "gamma": 0.2}, 200, 0.1 * 0.04),
        ({"name": "cosine", "lr": 0.1}, 1, 0.1),
        ({"name": "cosine", "lr": 0.1, "min_lr": 0.0}, 51, 0.05),
    ],
)
def test_learning_rate_is_a_function_of_the_global_epoch(schedule, epoch, expected):
    assert learning_rate(schedule, epoch, total_epochs=100) == pytest.approx(expected)


def test_adaptive_sam_step_matches_hand_computation():
    w = torch.tensor([2.0, 1.0], dtype=torch.float64, requires_grad=True)
    opt = SAM([w], torch.optim.SGD, rho=0.1, adaptive=True, lr=0.1)
    _sam_step(opt, w)
    # g = (4, 1), T g = (8, 1) with T = |w|, ε = ρ T² g / ‖T g‖ = 0.1 (16, 1) / √65.
    s65 = math.sqrt(65)
    perturbed = [2 + 1.6 / s65, 1 + 0.1 / s65]
    expected = [2 - 0.1 * 2 * perturbed[0], 1 - 0.1 * perturbed[1]]
    assert w.detach().tolist() == pytest.approx(expected, abs=1e-14)
