"""Tests for sharpness.models: parameter counts, shapes, seeding, initialisation, option errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sharpness.models import MODEL_NAMES, build_model, count_parameters, model_options

CIFAR = (3, 32, 32)
DIGITS = (1, 8, 8)

# Published sizes for 10 classes (He et al. 2016; Zagoruyko & Komodakis 2016; the CIFAR
# ResNet-18/VGG-16-BN used by SAM papers), with the relative tolerance we allow.
PUBLISHED_SIZES = [
    ({"name": "resnet20"}, 0.27e6, 0.02),
    ({"name": "wrn", "depth": 16, "widen_factor": 8}, 11.0e6, 0.02),
    ({"name": "wrn", "depth": 28, "widen_factor": 10}, 36.5e6, 0.02),
    ({"name": "vgg16_bn"}, 15.0e6, 0.04),
    ({"name": "resnet18"}, 11.2e6, 0.02),
    ({"name": "resnet50"}, 23.5e6, 0.02),
]


@pytest.mark.parametrize(("spec", "expected", "tolerance"), PUBLISHED_SIZES, ids=lambda x: str(x))
def test_parameter_count_matches_published(spec, expected, tolerance):
    count = count_parameters(build_model(spec, CIFAR, 10))
    assert abs(count - expected) <= tolerance * expected


def test_resnet20_uses_parameter_free_shortcuts():
    model = build_model({"name": "resnet20"}, CIFAR, 10)
    one_by_one = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert one_by_one == []


def test_tiny_mlp_parameter_count_by_hand():
    model = build_model({"name": "mlp", "width": 10, "depth": 2}, DIGITS, 3)
    # 64 inputs -> 10 -> 10 -> 3, weights plus biases.
    assert count_parameters(model) == (64 * 10 + 10) + (10 * 10 + 10) + (10 * 3 + 3)


def test_mlp_without_bias_and_without_hidden_layers():
    no_bias = build_model({"name": "mlp", "width": 10, "depth": 2, "bias": False}, DIGITS, 3)
    assert count_parameters(no_bias) == 64 * 10 + 10 * 10 + 10 * 3
    linear = build_model({"name": "mlp", "depth": 0}, DIGITS, 3)
    assert count_parameters(linear) == 64 * 3 + 3


def test_tiny_cnn_parameter_count_by_hand():
    model = build_model({"name": "cnn", "channels": [4, 8]}, DIGITS, 3)
    conv1 = 1 * 4 * 3 * 3 + 4
    norm1 = 2 * 4  # per-channel scale and shift
    conv2 = 4 * 8 * 3 * 3 + 8
    norm2 = 2 * 8
    head = 8 * 2 * 2 * 3 + 3  # 8x8 is pooled twice to 2x2
    assert count_parameters(model) == conv1 + norm1 + conv2 + norm2 + head


def test_default_cnn_is_the_sam_eos_architecture():
    model = build_model({"name": "cnn"}, CIFAR, 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (16, (3, 3), (1, 1)),
        (32, (3, 3), (1, 1)),
    ]
    assert model(torch.randn(2, *CIFAR)).shape == (2, 10)


def test_cnn_normalises_each_example_over_channels_and_space():
    torch.manual_seed(0)
    model = build_model({"name": "cnn", "channels": [6]}, DIGITS, 2)
    conv, relu, norm = list(model[0][0])[:3]
    out = norm(relu(conv(3.0 * torch.randn(4, *DIGITS) + 1.0)))
    flat = out.flatten(1)
    assert torch.allclose(flat.mean(1), torch.zeros(4), atol=1e-5)
    assert torch.allclose(flat.var(1, unbiased=False), torch.ones(4), atol=1e-3)


@pytest.mark.parametrize(
    "spec",
    [
        {"name": "mlp"},
        {"name": "cnn"},
        {"name": "resnet20"},
        {"name": "resnet18"},
        {"name": "resnet50"},
        {"name": "vgg16_bn"},
        {"name": "wrn", "depth": 10, "widen_factor": 2},
    ],
    ids=lambda s: s["name"],
)
def test_every_model_runs_on_8x8_digits(spec):
    model = build_model(spec, DIGITS, 10).eval()
    assert model(torch.randn(2, *DIGITS)).shape == (2, 10)


def test_resnet20_forward_on_cifar_batch():
    model = build_model({"name": "resnet20"}, CIFAR, 100)
    assert model(torch.randn(2, *CIFAR)).shape == (2, 100)


def test_same_seed_gives_identical_weights_and_different_seed_does_not():
    def weights(seed):
        torch.manual_seed(seed)
        return [p.detach().clone() for p in build_model({"name": "cnn"}, DIGITS, 10).parameters()]

    first, again, other = weights(7), weights(7), weights(8)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_glorot_normal_std():
    torch.manual_seed(0)
    model = build_model({"name": "mlp", "width": 1000, "depth": 1, "init": "glorot_normal"}, (1000, 1, 1), 10)
    layer = model[1]
    assert layer.weight.shape == (1000, 1000)
    expected = math.sqrt(2.0 / (1000 + 1000))
    assert abs(layer.weight.std().item() - expected) < 0.02 * expected
    assert torch.count_nonzero(layer.bias) == 0


def test_kaiming_normal_std():
    torch.manual_seed(0)
    model = build_model({"name": "mlp", "width": 1000, "depth": 1, "init": "kaiming_normal"}, (500, 1, 1), 10)
    layer = model[1]
    expected = math.sqrt(2.0 / 500)  # He et al. 2015: variance 2 / fan_in
    assert abs(layer.weight.std().item() - expected) < 0.02 * expected


@pytest.mark.parametrize(
    ("spec", "shape", "mentioned"),
    [
        ({"name": "transformer"}, DIGITS, "transformer"),
        ({"name": "mlp", "widht": 10}, DIGITS, "widht"),
        ({"name": "mlp", "activation": "sigmoid"}, DIGITS, "activation"),
        ({"name": "mlp", "init": "orthogonal"}, DIGITS, "init"),
        ({"name": "mlp", "width": 0}, DIGITS, "width"),
        ({"name": "mlp", "depth": 2.5}, DIGITS, "depth"),
        ({"name": "mlp", "bias": "no"}, DIGITS, "bias"),
        ({"name": "cnn", "channels": []}, DIGITS, "channels"),
        ({"name": "cnn", "channels": [16, 32, 64, 128]}, DIGITS, "cnn"),
        ({"name": "wrn", "depth": 17}, CIFAR, "depth"),
        ({"name": "wrn", "dropout": 1.5}, CIFAR, "dropout"),
        ({"name": "resnet20", "shortcut": "B"}, CIFAR, "shortcut"),
        ({"name": "vgg16_bn"}, (3, 4, 4), "vgg16_bn"),
        ({"width": 10}, DIGITS, "name"),
    ],
)
def test_bad_spec_raises_value_error_naming_it(spec, shape, mentioned):
    with pytest.raises(ValueError, match=mentioned):
        build_model(spec, shape, 10)


def test_model_options_lists_defaults():
    assert set(MODEL_NAMES) == {"mlp", "cnn", "resnet20", "resnet18", "resnet50", "vgg16_bn", "wrn", "transformer_lm", "simple_cnn", "vit", "vit_b16"}
    assert model_options("wrn") == {"depth": 16, "widen_factor": 8, "dropout": 0.0}
    assert set(model_options("mlp")) == {"width", "depth", "activation", "init", "bias"}
    assert model_options("resnet20") == {}
