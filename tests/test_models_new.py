"""The sam-eos character Transformer and eigen-sam's SimpleCNN: sizes, shapes, causality, HVPs, options."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sharpness.models import MODEL_NAMES, build_model, count_parameters, model_options
from sharpness.spectrum import HessianOperator

CIFAR = (3, 32, 32)
DIGITS = (1, 8, 8)
TINY_LM = {"name": "transformer_lm", "layers": 2, "heads": 2, "key_size": 3, "width": 8, "mlp_ratio": 2}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def transformer_parameters(vocabulary, context, layers=6, heads=8, key_size=32, width=128, mlp_ratio=4):
    """(V + C)·D embeddings, per layer 2 LayerNorms, fused q/k/v, output map and MLP, final LN, head."""
    d, a, m = width, heads * key_size, mlp_ratio * width
    per_layer = 4 * d + 3 * (d * a + a) + (a * d + d) + (d * m + m) + (m * d + d)
    return (vocabulary + context) * d + layers * per_layer + 2 * d + d * vocabulary + vocabulary


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


# ----------------------------------------------------------------------------- transformer_lm


def test_registered_and_options_listed():
    assert {"transformer_lm", "simple_cnn"} <= set(MODEL_NAMES)
    assert model_options("transformer_lm") == {
        "layers": 6, "heads": 8, "key_size": 32, "width": 128, "mlp_ratio": 4, "init": "haiku",
    }
    assert model_options("simple_cnn") == {
        "channels": 32, "kernel_size": 3, "hidden": 128, "padding": "reference", "init": "glorot_uniform",
    }


def test_default_transformer_parameter_count():
    model = build_model({"name": "transformer_lm"}, (64,), 65)
    assert count_parameters(model) == transformer_parameters(65, 64) == 1_593_600 + 257 * 65 == 1_610_305
    assert model.blocks[0].attention.qkv.weight.shape == (3 * 8 * 32, 128)  # attention inner width 256 ≠ 128
    assert len(model.blocks) == 6 and not any(isinstance(m, nn.Dropout) for m in model.modules())


@pytest.mark.parametrize(
    "options", [dict(layers=1, heads=3, key_size=5, width=12, mlp_ratio=2), dict(heads=1, key_size=64)]
)
def test_transformer_parameter_count_formula(options):
    model = build_model({"name": "transformer_lm", **options}, (10,), 7)
    assert count_parameters(model) == transformer_parameters(7, 10, **options)


def test_transformer_output_shape_and_length_check():
    torch.manual_seed(0)
    model = build_model(TINY_LM, (6,), 5)
    tokens = torch.randint(0, 5, (3, 6))
    assert model(tokens).shape == (3, 6, 5)
    assert model(tokens[:, :4]).shape == (3, 4, 5)  # shorter windows use the first positions
    with pytest.raises(ValueError, match="length <= 6"):
        model(torch.randint(0, 5, (3, 7)))


def test_transformer_is_causal():
    torch.manual_seed(1)
    model = build_model(TINY_LM, (6,), 5).double()
    tokens = torch.randint(0, 5, (2, 6))
    changed = tokens.clone()
    changed[:, 3] = (changed[:, 3] + 1) % 5
    before, after = model(tokens), model(changed)
    assert torch.equal(before[:, :3], after[:, :3])  # exactly: the masked weights are exact zeros
    assert not torch.allclose(before[:, 3:], after[:, 3:])


def test_both_hvp_methods_agree_through_the_transformer():
    torch.manual_seed(2)
    model = build_model(TINY_LM, (6,), 5).double()
    gen = torch.Generator().manual_seed(3)
    stream = torch.randint(0, 5, (5 * 6 + 1,), generator=gen)
    x = stream[:-1].view(5, 6)
    y = stream[1:].view(5, 6)
    batches = [(x[:3], y[:3]), (x[3:], y[3:])]  # unequal batches
    operators = {
        method: HessianOperator(model, lm_loss, batches, method=method, dtype=torch.float64)
        for method in ("double_backward", "forward_over_reverse")
    }
    v = torch.randn(operators["double_backward"].dim, generator=gen, dtype=torch.float64)
    v /= v.norm()  # a unit step keeps the finite-difference truncation error (∝ step²) small
    reverse, forward = (operators[m].matvec(v) for m in ("double_backward", "forward_over_reverse"))
    torch.testing.assert_close(reverse, forward, rtol=1e-10, atol=1e-12)

    # And both equal central differences of the gradient along v.
    theta = operators["double_backward"].parameters_vector()
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]

    def gradient(t: torch.Tensor) -> torch.Tensor:
        t = t.clone().requires_grad_(True)
        params = dict(zip(names, [c.view(s) for c, s in zip(t.split([s.numel() for s in shapes]), shapes)]))
        loss = sum(len(xb) / 5 * lm_loss(torch.func.functional_call(model, params, (xb,)), yb) for xb, yb in batches)
        return torch.autograd.grad(loss, t)[0]

    step = 1e-5
    central = (gradient(theta + step * v) - gradient(theta - step * v)) / (2 * step)
    torch.testing.assert_close(reverse, central, rtol=1e-6, atol=1e-7 * reverse.abs().max().item())


def test_haiku_init_scales():
    torch.manual_seed(0)
    model = build_model({"name": "transformer_lm"}, (64,), 65)
    embed = model.token_embedding.weight
    assert embed.abs().max() <= 0.04 and abs(embed.std().item() - 0.02 * 0.8796) < 0.1 * 0.02
    qkv = model.blocks[0].attention.qkv.weight
    expected = math.sqrt(2 / 6 / 128)  # VarianceScaling(2 / layers), fan_in = width
    assert abs(qkv.std().item() - expected) < 0.02 * expected
    mlp_out = model.blocks[0].mlp[2].weight
    assert abs(mlp_out.std().item() - math.sqrt(2 / 6 / 512)) < 0.02 * math.sqrt(2 / 6 / 512)
    head = model.head.weight
    assert head.abs().max() <= 2 / math.sqrt(128)
    assert all(torch.count_nonzero(m.bias) == 0 for m in model.modules() if isinstance(m, nn.Linear))
    assert torch.equal(model.final_norm.weight, torch.ones(128))


def test_gpt2_init_scales():
    torch.manual_seed(0)
    model = build_model({"name": "transformer_lm", "init": "gpt2"}, (64,), 65)
    assert abs(model.blocks[0].attention.qkv.weight.std().item() - 0.02) < 0.0005
    residual = 0.02 / math.sqrt(12)
    assert abs(model.blocks[0].attention.out.weight.std().item() - residual) < 0.03 * residual
    assert abs(model.blocks[5].mlp[2].weight.std().item() - residual) < 0.03 * residual


# ----------------------------------------------------------------------------- simple_cnn


def test_simple_cnn_is_the_reference_six_layer_network():
    model = build_model({"name": "simple_cnn"}, CIFAR, 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (32, (3, 3), (1, 1)), (32, (3, 3), (0, 0)), (64, (3, 3), (1, 1)), (64, (3, 3), (0, 0)),
    ]
    assert [(l.in_features, l.out_features) for l in linears] == [(64 * 6 * 6, 128), (128, 10)]
    assert model(torch.randn(2, *CIFAR)).shape == (2, 10)


def simple_cnn_parameters(in_channels, classes, final_side, c=32, k=3, h=128):
    """Four convs (c, c, 2c, 2c filters of k×k) with biases, then 2c·f² → h → classes."""
    convs = (in_channels * c + c * c + c * 2 * c + 2 * c * 2 * c) * k * k + 6 * c
    return convs + (2 * c * final_side**2 * h + h) + (h * classes + classes)


@pytest.mark.parametrize(
    ("spec", "shape", "classes", "final_side"),
    [
        ({"name": "simple_cnn"}, CIFAR, 10, 6),  # 32 → 30 → 15 → 13 → 6
        ({"name": "simple_cnn"}, (1, 10, 10), 10, 1),  # the smallest input of the reference layout
        ({"name": "simple_cnn", "padding": "same"}, DIGITS, 10, 2),  # 8 → 4 → 2
    ],
)
def test_simple_cnn_parameter_count(spec, shape, classes, final_side):
    model = build_model(spec, shape, classes)
    assert count_parameters(model) == simple_cnn_parameters(shape[0], classes, final_side)
    assert model(torch.randn(2, *shape)).shape == (2, classes)
    if shape == CIFAR:
        assert count_parameters(model) == 361_898


def test_simple_cnn_options_change_the_layers():
    model = build_model({"name": "simple_cnn", "channels": 100, "kernel_size": 5, "hidden": 64}, CIFAR, 100)
    # The reference's "medium" config: 5×5 kernels, 100 filters; 32 → 28 → 14 → 10 → 5.
    assert count_parameters(model) == simple_cnn_parameters(3, 100, 5, c=100, k=5, h=64)


def test_simple_cnn_glorot_uniform_init():
    torch.manual_seed(0)
    model = build_model({"name": "simple_cnn"}, CIFAR, 10)
    dense = model[2]
    bound = math.sqrt(6 / (dense.in_features + dense.out_features))
    assert dense.weight.abs().max() <= bound and dense.weight.abs().max() > 0.95 * bound
    assert abs(dense.weight.std().item() - bound / math.sqrt(3)) < 0.02 * bound / math.sqrt(3)
    assert all(torch.count_nonzero(m.bias) == 0 for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))


# ----------------------------------------------------------------------------- both


@pytest.mark.parametrize(
    ("spec", "shape", "classes"),
    [(TINY_LM, (6,), 5), ({"name": "simple_cnn", "padding": "same"}, DIGITS, 10)],
    ids=["transformer_lm", "simple_cnn"],
)
def test_seeded_construction_is_reproducible(spec, shape, classes):
    def weights(seed):
        torch.manual_seed(seed)
        return [p.detach().clone() for p in build_model(spec, shape, classes).parameters()]

    first, again, other = weights(7), weights(7), weights(8)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


@pytest.mark.parametrize(
    ("spec", "shape", "mentioned"),
    [
        ({"name": "transformer_lm", "layers": 0}, (64,), "layers"),
        ({"name": "transformer_lm", "heads": 2.5}, (64,), "heads"),
        ({"name": "transformer_lm", "key_size": "32"}, (64,), "key_size"),
        ({"name": "transformer_lm", "width": 0}, (64,), "width"),
        ({"name": "transformer_lm", "mlp_ratio": True}, (64,), "mlp_ratio"),
        ({"name": "transformer_lm", "init": "glorot_normal"}, (64,), "init"),
        ({"name": "transformer_lm", "dropout": 0.1}, (64,), "dropout"),
        ({"name": "transformer_lm"}, CIFAR, "transformer_lm"),
        ({"name": "transformer_lm"}, (0,), "context"),
        ({"name": "simple_cnn", "channels": [16, 32]}, CIFAR, "channels"),
        ({"name": "simple_cnn", "kernel_size": 4}, CIFAR, "kernel_size"),
        ({"name": "simple_cnn", "hidden": 0}, CIFAR, "hidden"),
        ({"name": "simple_cnn", "padding": "valid"}, CIFAR, "padding"),
        ({"name": "simple_cnn", "init": "orthogonal"}, CIFAR, "init"),
        ({"name": "simple_cnn"}, DIGITS, "simple_cnn' needs inputs of at least 10x10"),
        ({"name": "simple_cnn", "padding": "same"}, (1, 3, 3), "at least 4x4"),
        ({"name": "simple_cnn"}, (64,), "input_shape"),
    ],
)
def test_bad_options_raise_value_error_naming_them(spec, shape, mentioned):
    with pytest.raises(ValueError, match=mentioned):
        build_model(spec, shape, 10)
