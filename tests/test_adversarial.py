"""PGD adversarial examples: hand-computed steps on a linear model, projection, the attack's
effect on a fitted model, reproducibility, no side effects, and the pixel→input map."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sharpness.data import load_dataset, load_prepared
from sharpness.train import evaluate
from sharpness.train.adversarial import PGDSettings, input_transform, pgd_attack, robust_error
from sharpness.train.losses import cross_entropy

EPS, STEP = 4 / 255, 2 / 255


def identity(x):
    return x


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", n_train=400, n_test=200)


def _linear_two_class() -> nn.Module:
    """Two logits of a (1, 2, 2) image; W[1] − W[0] has no zero entry, so sign ∇ is defined."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, bias=False)).double()
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[0.5, -1.0, 2.0, 0.3], [-0.2, 0.4, -1.0, 1.1]]))
    return model


def _margin_loss(out, y):
    """Linear in x for a linear model: L = (z_other − z_y), so ∂L/∂x = W[1−y] − W[y]."""
    return (out.gather(1, (1 - y)[:, None]) - out.gather(1, y[:, None])).mean()


def _hand_gradient(model, loss_name, x, y):
    """∂L/∂x per example without autograd: (W[1−y] − W[y]) for the margin loss and
    Wᵀ(softmax(Wx) − onehot(y)) for cross-entropy (both up to the positive 1/N of the mean)."""
    W = model[1].weight.detach()
    flat = x.flatten(1)
    if loss_name == "margin":
        g = W[1 - y] - W[y]
    else:
        g = (torch.softmax(flat @ W.T, 1) - F.one_hot(y, 2).double()) @ W
    return g.view_as(x)


@pytest.mark.parametrize("loss_name", ["margin", "cross_entropy"])
def test_one_step_is_step_size_times_gradient_sign(loss_name):
    model = _linear_two_class()
    loss_fn = _margin_loss if loss_name == "margin" else cross_entropy
    x = torch.tensor([[[[0.3, 0.5], [0.6, 0.4]]], [[[0.45, 0.55], [0.35, 0.7]]]], dtype=torch.float64)
    y = torch.tensor([0, 1])
    settings = PGDSettings(steps=1, random_start=False)
    x_adv = pgd_attack(model, loss_fn, x, y, identity, settings)
    expected = x + STEP * _hand_gradient(model, loss_name, x, y).sign()
    assert torch.equal(x_adv, expected)


@pytest.mark.parametrize("loss_name", ["margin", "cross_entropy"])
def test_many_steps_reach_the_clipped_corner(loss_name):
    # For two classes both gradients point along ±(W[1] − W[0]) for every x, so PGD walks
    # straight to the corner x + ε·sign(∇) of the box, then clipped to [0, 1] at 0.0 and 0.99.
    model = _linear_two_class()
    loss_fn = _margin_loss if loss_name == "margin" else cross_entropy
    x = torch.tensor([[[[0.0, 0.99], [0.5, 0.4]]], [[[1.0, 0.01], [0.35, 0.0]]]], dtype=torch.float64)
    y = torch.tensor([0, 1])
    x_adv = pgd_attack(model, loss_fn, x, y, identity, PGDSettings(steps=5, random_start=False))
    expected = (x + EPS * _hand_gradient(model, loss_name, x, y).sign()).clamp(0, 1)
    assert torch.equal(x_adv, expected)
    assert (x_adv != x + EPS * _hand_gradient(model, loss_name, x, y).sign()).any()  # clipping was exercised


def _mlp(channels_hw, classes, batchnorm=False) -> nn.Module:
    torch.manual_seed(1)
    d = channels_hw[0] * channels_hw[1] * channels_hw[2]
    layers = [nn.Flatten(), nn.Linear(d, 32)]
    layers += [nn.BatchNorm1d(32)] if batchnorm else []
    layers += [nn.ReLU(), nn.Linear(32, classes)]
    return nn.Sequential(*layers)


@pytest.mark.parametrize("steps", [0, 1, 3, 20])
@pytest.mark.parametrize("random_start", [False, True])
def test_projection_onto_box_and_pixel_range(digits, steps, random_start):
    model = _mlp(digits.image_shape, digits.num_classes)
    x01 = digits.x_train[:128].float() / 255
    assert (x01 == 0).any() and (x01 > 0.9).any()  # the [0, 1] clip is exercised
    y = digits.y_train[:128]
    settings = PGDSettings(epsilon=EPS, step_size=3 * STEP, steps=steps, random_start=random_start)
    x_adv = pgd_attack(model, cross_entropy, x01, y, input_transform(digits), settings, torch.Generator().manual_seed(0))
    assert (x_adv - x01).abs().max() <= EPS + 1e-7
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    if steps or random_start:
        assert (x_adv - x01).abs().max() > EPS / 2  # it moved


def test_random_start_is_uniform_on_the_box():
    # Mid-grey images, so no [0, 1] clipping: x_0 − x should be U[−ε, ε] per pixel.
    x01 = torch.full((64, 3, 8, 8), 0.5)
    settings = PGDSettings(steps=0, random_start=True)
    delta = pgd_attack(nn.Identity(), None, x01, None, identity, settings, torch.Generator().manual_seed(0)) - x01
    assert delta.abs().max() <= EPS + 1e-7
    assert delta.min() < -0.99 * EPS and delta.max() > 0.99 * EPS
    assert abs(delta.mean()) < 0.02 * EPS and abs(delta.std() - EPS / 3**0.5) < 0.01 * EPS


def _logistic_regression(data, steps=200, lr=0.5) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, data.num_classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = data.normalized("train"), data.y_train
    for _ in range(steps):
        optimizer.zero_grad()
        cross_entropy(model(x), y).backward()
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return model


def test_attack_raises_loss_and_robust_error_is_at_least_natural(digits):
    model = _logistic_regression(digits)
    clean_loss, clean_error = evaluate(model, digits.normalized("test"), digits.y_test, cross_entropy, 64)
    settings = PGDSettings()
    adv_loss, adv_error = robust_error(
        model, cross_entropy, digits.x_test, digits.y_test, input_transform(digits), settings, 64, torch.Generator().manual_seed(0)
    )
    assert clean_error < 0.2  # the model is fitted, so there is something to attack
    assert adv_loss > clean_loss * 1.1
    assert adv_error >= clean_error
    # Per batch, too: the attacked loss exceeds the clean one (a sign slip would lower it).
    x01, y = digits.x_test[:64].float() / 255, digits.y_test[:64]
    to_input = input_transform(digits)
    x_adv = pgd_attack(model, cross_entropy, x01, y, to_input, PGDSettings(random_start=False))
    with torch.no_grad():
        assert cross_entropy(model(to_input(x_adv)), y) > cross_entropy(model(to_input(x01)), y)


def test_same_seed_same_examples_other_seed_other(digits):
    model = _mlp(digits.image_shape, digits.num_classes)
    x01, y, to_input = digits.x_train[:64].float() / 255, digits.y_train[:64], input_transform(digits)

    def attack(seed, random_start=True):
        settings = PGDSettings(random_start=random_start)
        return pgd_attack(model, cross_entropy, x01, y, to_input, settings, torch.Generator().manual_seed(seed))

    assert torch.equal(attack(3), attack(3))
    assert not torch.equal(attack(3), attack(4))
    assert torch.equal(attack(3, random_start=False), attack(4, random_start=False))


def test_random_start_needs_a_generator(digits):
    model = _mlp(digits.image_shape, digits.num_classes)
    x01, y = digits.x_train[:8].float() / 255, digits.y_train[:8]
    with pytest.raises(ValueError, match="Generator"):
        pgd_attack(model, cross_entropy, x01, y, input_transform(digits), PGDSettings(random_start=True))


@pytest.mark.parametrize("model_mode", ["eval", "train"])
@pytest.mark.parametrize("was_training", [False, True])
def test_no_side_effects_on_grads_mode_and_batchnorm(digits, model_mode, was_training):
    model = _mlp(digits.image_shape, digits.num_classes, batchnorm=True)
    x, y = digits.normalized("train")[:64], digits.y_train[:64]
    model.train()
    model(x)  # running statistics away from their initial values
    first, bn = model[1], model[2]
    first.weight.grad = torch.full_like(first.weight, 0.25)  # a gradient the attack must keep
    model.train(was_training)
    params_before = [p.detach().clone() for p in model.parameters()]
    bn_before = {k: v.clone() for k, v in bn.state_dict().items()}

    x01 = digits.x_train[:64].float() / 255
    pgd_attack(model, cross_entropy, x01, y, input_transform(digits), PGDSettings(), torch.Generator().manual_seed(0), model_mode)

    assert model.training == was_training
    assert torch.equal(first.weight.grad, torch.full_like(first.weight, 0.25))
    assert all(p.grad is None for name, p in model.named_parameters() if name != "1.weight")
    assert all(torch.equal(a, b) for a, b in zip(params_before, model.parameters()))
    for key, value in bn.state_dict().items():
        assert torch.equal(value, bn_before[key]), key


def test_attack_mode_decides_the_batchnorm_statistics(digits):
    # The two modes attack different functions (batch vs running statistics): the same start
    # must give different examples, or model_mode would not reach the model.
    model = _mlp(digits.image_shape, digits.num_classes, batchnorm=True)
    model.train()
    model(digits.normalized("train")[:256] * 3 + 1)  # running statistics far from any one batch's
    x01, y, to_input = digits.x_train[:64].float() / 255, digits.y_train[:64], input_transform(digits)
    settings = PGDSettings(random_start=False)
    by_mode = [pgd_attack(model, cross_entropy, x01, y, to_input, settings, model_mode=m) for m in ("eval", "train")]
    assert not torch.equal(*by_mode)
    with pytest.raises(ValueError, match="model_mode"):
        pgd_attack(model, cross_entropy, x01, y, to_input, settings, model_mode="test")


def test_to_input_agrees_with_normalize(digits, digits_file):
    centred_prepared = load_prepared(digits_file, preprocess="center")
    for data in (digits, digits.centered(), centred_prepared):
        x = data.x_test[:50]
        for dtype in (torch.float32, torch.float64):
            torch.testing.assert_close(input_transform(data)(x.to(dtype) / 255), data.normalize(x, dtype))
    assert digits.pixel_mean is None and centred_prepared.pixel_mean is not None
    # The two preprocessings differ, so agreeing with the right one is a real check.
    x = digits.x_test[:50]
    assert not torch.allclose(input_transform(digits)(x / 255), digits.centered().normalize(x))
